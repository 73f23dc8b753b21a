"""Operations that Aesara's generic ops do slowly, done fast, with their gradients.

1. Softmax and its cross-entropy over the vocabulary.  The output layer is most of a language model's
   work: T*B words times a vocabulary of V.  From generic ops, softmax, log-softmax and their gradients
   each make their own passes over those T*B*V values.  This op is C:
   it adds the output bias, and goes over each row twice while it sits in the cache (its maximum, then
   its sum of exponentials, vectorised); the gradient recomputes the exponentials rather than storing
   the probabilities, and sums the bias's gradient as it goes (faster than numpy chunked over both
   cores).  Beside MKL, whose threads then come from the same OpenMP runtime
   (backend.kernel_compile_args), large arrays are split by rows over OpenMP's threads
   (results/ptb-profile.md).  (Beside OpenBLAS's own threads, OpenMP's raced them for the two cores and
   were as often slower, so there the loops stay serial.)

2. tanh and the logistic sigmoid in float32.  The C code Aesara generates calls the C library's
   tanhf once per element, which does not vectorise.  Here both are written
   with an exponential computed in double precision from a polynomial, which gcc vectorises; the
   result, rounded to float32, is the correctly rounded value but for rare ties (none among the
   tests' 4.9 million sampled inputs, nor among every 97th float32 in a one-off run).  Their gradients
   reuse the forward value.  float64 keeps the library's code.

3. Looking up input columns M[:, x_t] (U x_t for a one-hot x_t).  Aesara gathers columns of a
   (hidden, vocabulary) matrix about 8x slower than numpy.  The gradient is kept sparse, as the summed
   rows of the columns that occurred (ColumnSums), and only made dense (ScatterColumns) where a dense
   gradient is asked for; plain SGD instead adds the sparse rows to those columns in place
   (AddToColumns, optimizers.sgd), so a step touches T*B columns instead of the whole vocabulary.
   The sums and the adding are C: numpy's sort-and-reduce and Aesara's generic indexed increment
   were several times slower.

4. The sum of squares of all gradients, for clipping their global norm, in one op.  One BLAS dot per
   gradient was as fast, but each dot became a matrix-vector product writing into a one-element
   buffer, and Aesara's merge pass tried to merge those identical buffers pairwise, failing and undoing
   the whole graph change each time: compiling a depth-gated LSTM's clipped step took minutes.

5. Adam's update of a table and its two moving averages, in one vectorised pass.  The library's fused
   elementwise code (three passes on Aesara, one per updated array; one on PyTensor) runs scalar: behind
   a module's many checks gcc guesses the op's code is rarely reached, optimises it for size and
   vectorises no plain loop there (a loop marked `omp simd`, as the softmax's and this op's are, it
   vectorises regardless).  The op does the same operations in the same order as Aesara's code, so the
   numbers are Aesara's.

The C code is in kernels_c/: a .c file per op (the softmax and its gradient share one), the headers
they share, and the loops written once for both float types (*_T.h, see typed.h).

Under the JAX backend (backend.use_jax) every op here has a JAX form instead, the same arithmetic in
jax.numpy, which XLA fuses and runs in place on its own (jax_forms at the end).
"""
import functools
import hashlib
import inspect
import os
import re

import numpy as np

from backend import (Apply, COp, DisconnectedType, Elemwise, Op, WalkingGraphRewriter, at, jax_forms,
                     kernel_compile_args, node_rewriter, optdb, scalar)


# The ops' C code: one file of this folder per op (or pair of ops), with the headers it shares; support
# code, compiled after the Python and numpy headers.  Read here rather than by ExternalCOp, which cannot
# serve the scalar tanh and sigmoid, nor include a template header once per type without a search path.
C_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels_c")
LOCAL_INCLUDE = re.compile(r'^#include "([^"/]+)"$', re.MULTILINE)


def c_source(name):
    """The C file C_FOLDER/name with each header of the folder that it includes (#include "...") put in
    the include's place, as the preprocessor would: the module in the compile cache then holds all
    of its code, and its version (source_version) changes with any byte of any file it uses."""
    return _c_text(C_FOLDER, name)


@functools.lru_cache(maxsize=None)
def _c_text(folder, name):
    with open(os.path.join(folder, name), "rb") as file:
        text = file.read().decode("utf-8")
    return LOCAL_INCLUDE.sub(lambda include: _c_text(folder, include.group(1)), text)


@functools.lru_cache(maxsize=None)
def source_version(*sources):
    """A compiled module's cache version from its C source (c_source's text) and code-writing methods:
    Aesara reuses a cached module whenever the version matches, so a fixed version number would keep
    running old code after an edit."""
    text = "".join(part if isinstance(part, str) else inspect.getsource(part) for part in sources)
    return ("rnnlm", hashlib.sha1(text.encode()).hexdigest()[:16])


def floats(*variables):
    """The variables, if all are float32 or float64 tensors of the same type (the C code's two cases)."""
    if len({v.dtype for v in variables}) != 1 or variables[0].dtype not in ("float32", "float64"):
        raise TypeError(f"expected float32 or float64 tensors of one type, got {[v.dtype for v in variables]}")
    return variables


def reuse(storage, shape, dtype, order="C"):
    """The array this output slot held after the previous call, if it has that shape, type and memory
    order (backend.py keeps them), else a new one: writing into it again avoids the page faults of a
    fresh multi-megabyte allocation at every step."""
    old = storage[0]
    fits = (old is not None and old.shape == shape and old.dtype == dtype
            and old.flags["C_CONTIGUOUS" if order == "C" else "F_CONTIGUOUS"])
    return old if fits else np.empty(shape, dtype, order=order)


def row_bias(logits):
    """(z, b) if logits was built as z + b with b a vector added to every row, else (logits, None): the
    softmax op adds the bias in its own pass over the rows, and sums its gradient in the same way."""
    node = logits.owner
    if node is None or node.op != at.add or len(node.inputs) != 2 or logits.ndim != 2:
        return logits, None
    for z, row in (node.inputs, node.inputs[::-1]):
        if row.owner is not None and getattr(row.owner.op, "new_order", None) == ("x", 0) and z.ndim == 2:
            return z, row.owner.inputs[0]
    return logits, None


def softmax_crossentropy(logits, y):
    """nll (N,) = -log softmax(logits)[y] for logits (N, V) and targets y (N,)."""
    z, b = row_bias(logits)
    return SoftmaxCrossEntropy()(*((z, y) if b is None else (z, y, b)))[0]


def check_ids(ids, V, what):
    """ids, if every one is a word of a vocabulary of V (as the C code checks), else a ValueError."""
    bad = ids[(ids < 0) | (ids >= V)]
    if len(bad):
        raise ValueError(f"{what} {bad[0]} is outside the vocabulary (0..{V - 1})")
    return ids


class KernelCOp(COp):
    """An op whose C code is a file of C_FOLDER (c_file) with the headers it includes, compiled with
    kernel_compile_args; its cache version follows that code and the methods that write the op's call
    (code_writers: its own c_code, unless an op sharing its file writes calls too)."""
    c_file = None

    def c_support_code(self, **kwargs):
        return c_source(self.c_file)

    def c_compile_args(self, **kwargs):
        return kernel_compile_args()

    def c_code_cache_version(self):
        return source_version(c_source(self.c_file), *self.code_writers())

    def code_writers(self):
        return (type(self).c_code,)


class SoftmaxCrossEntropy(KernelCOp):
    """(z (N, V), targets y (N,)[, bias b (V,)]) -> (nll (N,) = -log softmax(z + b)[y], norm (N, 2)):
    norm holds each row's maximum m and log sum exp(z + b - m), from which the gradient recomputes the
    softmax.  A target outside 0..V-1 is a ValueError."""
    __props__ = ()
    c_file = "softmax.c"

    def make_node(self, z, y, *bias):
        inputs = [at.as_tensor_variable(v) for v in (z, y) + bias]
        floats(inputs[0], *inputs[2:])
        return Apply(self, inputs, [at.vector(dtype=inputs[0].dtype), at.matrix(dtype="float64")])

    def perform(self, node, inputs, outputs):           # without a C compiler
        z, y, *bias = inputs
        v = z + bias[0] if bias else z
        top = v.max(axis=1)
        log_total = np.log(np.exp(v - top[:, None]).sum(axis=1, dtype=np.float64))
        target = v[np.arange(len(y)), check_ids(y, z.shape[1], "target word id")]
        outputs[0][0] = (top + log_total - target).astype(z.dtype)
        outputs[1][0] = np.stack([top, log_total], axis=1).astype(np.float64)

    def code_writers(self):
        return SoftmaxCrossEntropy.c_code, SoftmaxCrossEntropyGrad.c_code

    def c_code(self, node, name, inputs, outputs, sub):
        z, y, b = (inputs + ["NULL"])[:3]
        nll, norm = outputs
        return f"if (rnnlm_xent({z}, {y}, {b}, &{nll}, &{norm})) {sub['fail']}"

    def connection_pattern(self, node):
        return [[True, True], [False, False]] + [[True, True]] * (len(node.inputs) - 2)

    def L_op(self, inputs, outputs, grads):
        z, y, *bias = inputs
        norm = outputs[1]
        if not isinstance(grads[1].type, DisconnectedType):
            raise NotImplementedError("the softmax's normalisers are for its own gradient only")
        if isinstance(grads[0].type, DisconnectedType):
            return [at.zeros_like(z), DisconnectedType()()] + [at.zeros_like(b) for b in bias]
        dz, *db = SoftmaxCrossEntropyGrad().make_node(z, y, norm, grads[0], *bias).outputs
        return [dz, DisconnectedType()()] + db

    pullback = L_op        # PyTensor's name for L_op


class SoftmaxCrossEntropyGrad(KernelCOp):
    """(z, y, norm, g (N,)[, b]) -> d(sum g * nll)/dz = g[:, None] (softmax(z + b) - onehot(y))
    [, and its column sums, the bias's gradient, added up in double]."""
    __props__ = ()
    c_file = "softmax.c"

    def make_node(self, z, y, norm, g, *bias):
        inputs = [at.as_tensor_variable(v) for v in (z, y, norm, g) + bias]
        return Apply(self, inputs, [inputs[0].type()] + [b.type() for b in inputs[4:]])

    def perform(self, node, inputs, outputs):           # without a C compiler
        z, y, norm, g, *bias = inputs
        dz = np.exp((z + bias[0] if bias else z) - norm[:, :1]) * (g * np.exp(-norm[:, 1]))[:, None]
        dz[np.arange(len(y)), check_ids(y, z.shape[1], "target word id")] -= g
        outputs[0][0] = dz.astype(z.dtype)
        if bias:
            outputs[1][0] = dz.sum(axis=0, dtype=np.float64).astype(z.dtype)

    code_writers = SoftmaxCrossEntropy.code_writers

    def c_code(self, node, name, inputs, outputs, sub):
        z, y, norm, g, b = (inputs + ["NULL"])[:5]
        dz, db = (outputs + ["NULL"])[:2]
        db = "NULL" if db == "NULL" else f"&{db}"
        return f"if (rnnlm_xent_grad({z}, {y}, {norm}, {g}, {b}, &{dz}, {db})) {sub['fail']}"


class Float32Exp:
    """For a unary scalar op: float32 C code calls the function of fast_exp.h named c_function, other
    types keep the library's code."""
    c_function = None

    def c_support_code(self, **kwargs):
        return c_source("fast_exp.h")

    def c_code(self, node, name, inputs, outputs, sub):
        if node.inputs[0].type.dtype == node.outputs[0].type.dtype == "float32":
            return f"{outputs[0]} = {self.c_function}({inputs[0]});"
        return super().c_code(node, name, inputs, outputs, sub)

    def c_code_cache_version(self):
        return source_version(c_source("fast_exp.h"), Float32Exp.c_code) + tuple(super().c_code_cache_version())


class Tanh(Float32Exp, scalar.basic.Tanh):
    c_function = "rnnlm_tanh_float"

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * (1 - outputs[0] * outputs[0])]       # tanh' = 1 - tanh^2

    pullback = L_op


class Sigmoid(Float32Exp, scalar.math.Sigmoid):
    c_function = "rnnlm_sigmoid_float"

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * outputs[0] * (1 - outputs[0])]     # sigma' = sigma (1 - sigma)

    pullback = L_op


tanh = Elemwise(Tanh(scalar.basic.upgrade_to_float, name="tanh"))
sigmoid = Elemwise(Sigmoid(scalar.basic.upgrade_to_float, name="sigmoid"))


def is_activation(variable):
    """Whether variable is a value of tanh or sigmoid above, whose gradient needs only that value."""
    return variable.owner is not None and isinstance(getattr(variable.owner.op, "scalar_op", None), Float32Exp)


class Columns(Op):
    """(M (H, V), ids (N,)) -> the columns M[:, ids] as rows (N, H)."""
    __props__ = ()

    def make_node(self, M, ids):
        M, ids = at.as_tensor_variable(M), at.as_tensor_variable(ids)
        return Apply(self, [M, ids], [at.matrix(dtype=M.dtype)])

    def perform(self, node, inputs, outputs):
        M, ids = inputs
        outputs[0][0] = np.ascontiguousarray(M.T[ids])

    def connection_pattern(self, node):
        return [[True], [False]]

    def L_op(self, inputs, outputs, grads):
        M, ids = inputs
        used, sums = ColumnSums()(ids, grads[0])
        return [ScatterColumns()(M, used, sums), DisconnectedType()()]

    pullback = L_op


class ColumnSums(KernelCOp):
    """(ids (N,), rows (N, H)) -> (the distinct ids (K,) in order, the rows summed per id (K, H)): a
    sparse gradient.  C: numpy's sort and reduceat were an order of magnitude slower."""
    __props__ = ()
    c_file = "column_sums.c"

    def make_node(self, ids, rows):
        ids, (rows,) = at.as_tensor_variable(ids), floats(at.as_tensor_variable(rows))
        return Apply(self, [ids, rows], [at.lvector(), rows.type()])

    def perform(self, node, inputs, outputs):           # without a C compiler
        ids, rows = inputs
        order = np.argsort(ids, kind="stable")
        ordered = ids[order].astype(np.int64)
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        outputs[0][0] = ordered[starts]
        outputs[1][0] = np.add.reduceat(rows[order], starts, axis=0)

    def c_code(self, node, name, inputs, outputs, sub):
        return f"if (rnnlm_column_sums({inputs[0]}, {inputs[1]}, &{outputs[0]}, &{outputs[1]})) {sub['fail']}"


class ScatterColumns(Op):
    """(M, ids (K,) distinct, rows (K, H)) -> a matrix shaped like M, zero but for columns ids = rows."""
    __props__ = ()

    def make_node(self, M, ids, rows):
        M, ids, rows = (at.as_tensor_variable(v) for v in (M, ids, rows))
        return Apply(self, [M, ids, rows], [M.type()])

    def perform(self, node, inputs, outputs):
        M, ids, rows = inputs
        dense = reuse(outputs[0], M.shape, M.dtype, "F" if M.flags.f_contiguous else "C")   # like the table
        dense.fill(0)
        dense[:, ids] = rows.T
        outputs[0][0] = dense


class AddToColumns(KernelCOp):
    """(M (H, V), ids (K,), rows (K, H)) -> M with rows[k] added to column ids[k].  Built on a copy of
    M; a rewrite makes it work in place where M may be overwritten (a parameter being updated).
    Aesara's in-place advanced increment is slower: it goes element by element through numpy's generic
    indexing machinery."""
    __props__ = ("inplace",)
    c_file = "add_to_columns.c"

    def __init__(self, inplace=False):
        self.inplace = inplace
        self.destroy_map = {0: [0]} if inplace else {}

    def make_node(self, M, ids, rows):
        M, ids, rows = (at.as_tensor_variable(v) for v in (M, ids, rows))
        floats(M, rows)
        return Apply(self, [M, ids, rows], [M.type()])

    def perform(self, node, inputs, outputs):           # without a C compiler
        M, ids, rows = inputs
        M = M if self.inplace else M.copy(order="A")
        np.add.at(M.T, check_ids(ids, M.shape[1], "word id"), rows)
        outputs[0][0] = M

    def c_code(self, node, name, inputs, outputs, sub):
        M, ids, rows = inputs
        return f"if (rnnlm_add_to_columns_op({M}, {ids}, {rows}, {int(self.inplace)}, &{outputs[0]})) {sub['fail']}"


class AdamStep(KernelCOp):
    """(p, g, m, v, lr, m_correction, v_correction, scale) -> (p, m, v) after one Adam step (optimizers.adam):
        m <- beta1 m + (1 - beta1) g scale,   v <- beta2 v + (1 - beta2) (g scale)^2,
        p <- p - lr (m / m_correction) / (epsilon + sqrt(v / v_correction)),
    with the operations in the order of Aesara's fused elementwise code for that formula, so the numbers
    are Aesara's (point 5 above: that code runs scalar; this is one vectorised pass).  Built on copies;
    a rewrite makes it work in place where the table and its averages are being updated."""
    __props__ = ("beta1", "beta2", "epsilon", "inplace")
    c_file = "adam.c"

    def __init__(self, beta1, beta2, epsilon, inplace=False):
        self.beta1, self.beta2, self.epsilon, self.inplace = float(beta1), float(beta2), float(epsilon), inplace
        self.destroy_map = {0: [0], 1: [2], 2: [3]} if inplace else {}

    def make_node(self, p, g, m, v, lr, m_correction, v_correction, scale):
        tables = floats(*[at.as_tensor_variable(x) for x in (p, g, m, v)])
        scalars = [at.cast(x, tables[0].dtype) for x in (lr, m_correction, v_correction, scale)]
        return Apply(self, [*tables, *scalars], [tables[0].type(), tables[2].type(), tables[3].type()])

    def perform(self, node, inputs, outputs):           # without a C compiler
        p, g, m, v, lr, m_correction, v_correction, scale = inputs
        t = p.dtype.type
        m = t(self.beta1) * m + t(1 - self.beta1) * g * scale
        v = t(self.beta2) * v + t(1 - self.beta2) * np.square(g * scale)
        p = p - (lr * (m / m_correction)) / (t(self.epsilon) + np.sqrt(v / v_correction))
        for slot, value in zip(outputs, (p, m, v)):
            slot[0] = value

    def c_code(self, node, name, inputs, outputs, sub):
        hyper = ", ".join(x.hex() for x in (self.beta1, self.beta2, self.epsilon))
        return (f"if (rnnlm_adam_op({', '.join(inputs)}, {hyper}, {int(self.inplace)}, "
                f"{', '.join('&' + out for out in outputs)})) {sub['fail']}")


@node_rewriter([AddToColumns, AdamStep], inplace=True)
def update_in_place(fgraph, node):
    """The in-place form of an update op, where the arrays it overwrites may be (parameters and optimizer
    state being updated: the library's destroy handler checks that nothing else reads them)."""
    if not node.op.inplace:
        props = {name: getattr(node.op, name) for name in node.op.__props__}
        return type(node.op)(**{**props, "inplace": True})(*node.inputs, return_list=True)
    return False


optdb.register("rnnlm_update_in_place",
               WalkingGraphRewriter(update_in_place, failure_callback=WalkingGraphRewriter.warn_inplace),
               "fast_run", "inplace", position=60)


class SumOfSquares(KernelCOp):
    """(arrays...) -> the sum of the squares of all their elements, a scalar of their type."""
    __props__ = ()
    c_file = "sum_of_squares.c"

    def make_node(self, *arrays):
        arrays = floats(*[at.as_tensor_variable(a) for a in arrays])
        return Apply(self, list(arrays), [at.scalar(dtype=arrays[0].dtype)])

    def perform(self, node, inputs, outputs):           # without a C compiler
        total = sum(np.dot(v, v) for v in (a.ravel().astype(np.float64) for a in inputs))
        outputs[0][0] = np.asarray(total, dtype=inputs[0].dtype)

    def c_code(self, node, name, inputs, outputs, sub):
        calls = [f"if (rnnlm_add_squares({a}, &total)) {sub['fail']}" for a in inputs]
        calls.append(f"if (rnnlm_scalar_out(&{outputs[0]}, PyArray_TYPE({inputs[0]}), total)) {sub['fail']}")
        return "{ double total = 0;\n" + "\n".join(calls) + "\n}"


def sparse_columns(gradient):
    """(ids, rows) if gradient is a column lookup's scattered gradient, else None."""
    if gradient.owner is not None and isinstance(gradient.owner.op, ScatterColumns):
        _, ids, rows = gradient.owner.inputs
        return ids, rows
    return None


columns = Columns()


@jax_forms
def register_jax_forms():
    """Each op's JAX form.  Static shapes throughout: ColumnSums returns as many (id, summed rows) pairs as
    it got rows, the distinct ids first and then the smallest id again with zero rows, so ScatterColumns
    and AddToColumns add where the C ops may assign.  Word ids are checked before the call (XLA clamps
    an index that is out of range; it cannot raise)."""
    import jax
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    def shifted(z, bias):
        return z + bias[0] if bias else z

    @jax_funcify.register(SoftmaxCrossEntropy)
    def _(op, **kwargs):
        def softmax_crossentropy(z, y, *bias):
            v = shifted(z, bias)
            top = v.max(axis=1)
            log_total = jnp.log(jnp.exp(v - top[:, None]).sum(axis=1))
            nll = top + log_total - jnp.take_along_axis(v, y[:, None], axis=1)[:, 0]
            return nll, jnp.stack([top, log_total], axis=1)    # float64 where x64 is on
        return softmax_crossentropy

    @jax_funcify.register(SoftmaxCrossEntropyGrad)
    def _(op, **kwargs):
        def softmax_crossentropy_grad(z, y, norm, g, *bias):
            scale = (g * jnp.exp(-norm[:, 1])).astype(z.dtype)
            dz = jnp.exp(shifted(z, bias) - norm[:, :1].astype(z.dtype)) * scale[:, None]
            dz = dz.at[jnp.arange(y.shape[0]), y].add(-g)
            return (dz, dz.sum(axis=0)) if bias else dz
        return softmax_crossentropy_grad

    @jax_funcify.register(Columns)
    def _(op, **kwargs):
        return lambda M, ids: M.T[ids]

    @jax_funcify.register(ColumnSums)
    def _(op, **kwargs):
        def column_sums(ids, rows):
            used, where = jnp.unique(ids, size=ids.shape[0], return_inverse=True)
            return used, jax.ops.segment_sum(rows, where.ravel(), num_segments=ids.shape[0])
        return column_sums

    @jax_funcify.register(ScatterColumns)
    def _(op, **kwargs):
        return lambda M, ids, rows: jnp.zeros_like(M).at[:, ids].add(rows.T)

    @jax_funcify.register(AddToColumns)
    def _(op, **kwargs):
        return lambda M, ids, rows: M.at[:, ids].add(rows.T)

    @jax_funcify.register(AdamStep)
    def _(op, **kwargs):
        def adam_step(p, g, m, v, lr, m_correction, v_correction, scale):
            m = op.beta1 * m + (1 - op.beta1) * g * scale
            v = op.beta2 * v + (1 - op.beta2) * jnp.square(g * scale)
            return p - (lr * (m / m_correction)) / (op.epsilon + jnp.sqrt(v / v_correction)), m, v
        return adam_step

    @jax_funcify.register(SumOfSquares)
    def _(op, **kwargs):
        return lambda *arrays: sum(jnp.sum(jnp.square(a)) for a in arrays)
