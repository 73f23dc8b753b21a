"""Operations that Aesara's generic ops do slowly, done fast, with their gradients.

1. Softmax and its cross-entropy over the vocabulary.  The output layer is most of a language model's
   work: T*B words times a vocabulary of V.  From generic ops, softmax, log-softmax and their gradients
   each make their own passes (about 35 ms apiece for 736 words x 10k vocabulary here); this op adds
   the output bias and takes the softmax chunk by chunk of rows with numpy's vectorised exp, and keeps
   the probabilities, so that the gradient is simply probs - onehot(y), with the bias's beside it.

2. tanh and the logistic sigmoid in float32.  The C code Aesara generates calls the C library's
   tanhf, about 9 ns per element, once per element (PTB small: 6 ms per step).  Here both are written
   with an exponential computed in double precision from a polynomial, which gcc vectorises; the
   result, rounded to float32, is the correctly rounded value but for rare ties.  Their gradients
   reuse the forward value.  float64 keeps the library's code.

3. Looking up input columns M[:, x_t] (U x_t for a one-hot x_t).  Aesara gathers columns of a
   (hidden, vocabulary) matrix about 8x slower than numpy.  The gradient is kept sparse, as the summed
   rows of the columns that occurred (ColumnSums), and only made dense (ScatterColumns) where a dense
   gradient is asked for; plain SGD instead adds the sparse rows to those columns (optimizers.sgd), so
   a step touches T*B columns instead of the whole vocabulary.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from backend import Apply, DisconnectedType, Elemwise, Op, at, scalar

# numpy's ufuncs release the GIL, so row blocks of a large array run in parallel on the machine's cores
_pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
CHUNK_BYTES = 1 << 19       # rows are worked on in chunks this large, which stay in the core's cache


def in_row_blocks(work, rows, row_bytes):
    """work(lo, hi) over chunks of rows, split between the cores when the array is large: numpy then
    makes its several passes over a chunk in cache instead of over the whole array in memory (1.5x
    faster for the 400 x 10000 output layer of PTB).  Returns the chunks' results, in order."""
    step = max(1, CHUNK_BYTES // max(1, row_bytes))
    chunks = [(lo, min(rows, lo + step)) for lo in range(0, rows, step)]
    workers = _pool._max_workers if rows * row_bytes >= 1 << 22 else 1
    groups = [chunks[w::workers] for w in range(workers)]
    done = list(_pool.map(lambda group: [work(lo, hi) for lo, hi in group], groups)) if workers > 1 \
        else [[work(lo, hi) for lo, hi in chunks]]
    return [r for group in done for r in group]


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
    """(nll (N,) = -log softmax(logits)[y], probs (N, V)) for logits (N, V) and targets y (N,)."""
    z, b = row_bias(logits)
    return SoftmaxCrossEntropy()(z, y) if b is None else SoftmaxCrossEntropy()(z, y, b)


class SoftmaxCrossEntropy(Op):
    """(z (N, V), targets y (N,)[, bias b (V,)]) -> (nll (N,) = -log p[y], probs p (N, V) = softmax(z + b))."""
    __props__ = ()

    def make_node(self, z, y, *bias):
        inputs = [at.as_tensor_variable(v) for v in (z, y) + bias]
        return Apply(self, inputs, [at.vector(dtype=inputs[0].dtype), at.matrix(dtype=inputs[0].dtype)])

    def perform(self, node, inputs, outputs):
        z, y, *bias = inputs
        probs = reuse(outputs[1], z.shape, z.dtype)
        nll = np.empty(len(y), z.dtype)

        def rows(lo, hi):
            p = probs[lo:hi]
            np.add(z[lo:hi], bias[0], out=p) if bias else np.copyto(p, z[lo:hi])
            top = p.max(axis=1, keepdims=True)          # subtract the row maximum: exp never overflows
            target = p[np.arange(hi - lo), y[lo:hi]]
            np.exp(np.subtract(p, top, out=p), out=p)
            total = p.sum(axis=1, keepdims=True)
            nll[lo:hi] = np.log(total[:, 0]) + top[:, 0] - target
            p /= total

        in_row_blocks(rows, z.shape[0], z.shape[1] * z.itemsize)
        outputs[0][0], outputs[1][0] = nll, probs

    def connection_pattern(self, node):
        return [[True, True], [False, False]] + [[True, True]] * (len(node.inputs) - 2)

    def L_op(self, inputs, outputs, grads):
        z, y, *bias = inputs
        _, probs = outputs
        g_nll, g_probs = grads
        if isinstance(g_nll.type, DisconnectedType):
            dz, db = at.zeros_like(z), at.zeros_like(z[0])
        else:
            dz, db = SoftmaxCrossEntropyGrad()(probs, y, g_nll)
        if not isinstance(g_probs.type, DisconnectedType):   # d softmax: probs * (g - <g, probs>)
            more = probs * (g_probs - (g_probs * probs).sum(axis=1, keepdims=True))
            dz, db = dz + more, db + more.sum(axis=0)
        return [dz, DisconnectedType()()] + ([db] if bias else [])

    pullback = L_op        # PyTensor's name for L_op


class SoftmaxCrossEntropyGrad(Op):
    """d nll / d z with each row weighted, (probs - onehot(y)) * g[:, None], and its column sums (the
    bias's gradient: each chunk's sum, added up in float64)."""
    __props__ = ()

    def make_node(self, probs, y, g):
        probs, y, g = (at.as_tensor_variable(v) for v in (probs, y, g))
        return Apply(self, [probs, y, g], [probs.type(), at.vector(dtype=probs.dtype)])

    def perform(self, node, inputs, outputs):
        probs, y, g = inputs
        dz = reuse(outputs[0], probs.shape, probs.dtype)

        def rows(lo, hi):
            d = dz[lo:hi]
            np.multiply(probs[lo:hi], g[lo:hi, None], out=d)
            d[np.arange(hi - lo), y[lo:hi]] -= g[lo:hi]
            return d.sum(axis=0)

        sums = in_row_blocks(rows, probs.shape[0], probs.shape[1] * probs.itemsize)
        outputs[0][0] = dz
        db = np.zeros(probs.shape[1])
        for chunk_sum in sums:
            db += chunk_sum
        outputs[1][0] = db.astype(probs.dtype)


# e^y for y in [-230, 0], vectorisable: y = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to
# r^13/13! (relative error below 2e-16), 2^n put straight into the exponent bits.
FAST_EXP_C = """
#include <stdint.h>
#include <string.h>
static inline double rnnlm_exp_nonpositive(double y)
{
    const double shifter = 6755399441055744.0;   /* 1.5 * 2^52: adding it rounds to an integer (floor() would
                                                    keep gcc from vectorising) */
    const double n = (y * 1.4426950408889634 + shifter) - shifter;
    const double r = (y - n * 0.693147180369123816490) - n * 1.90821492927058770002e-10;
    const double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120
        + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800
        + r * (1.0 / 39916800 + r * (1.0 / 479001600 + r * (1.0 / 6227020800.0)))))))))))));
    const int64_t bits = ((int64_t)n + 1023) << 52;
    double two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}
static inline float rnnlm_tanh_float(float x)
{
    /* every value is computed, then selected: gcc vectorises selects (given -fno-trapping-math,
       which backend.py sets), not branches */
    const double a = x < 0 ? -(double)x : (double)x;
    const double m = a < 10.0 ? a : 10.0;                      /* tanh(10) is 1 in float32 */
    const double u = rnnlm_exp_nonpositive(-2.0 * m);
    const double ratio = (1.0 - u) / (1.0 + u);
    const double t = ratio + (m < 1e-4) * (m - ratio);        /* below 1e-4, tanh(m) rounds to m */
    const float result = (float)(x < 0 ? -t : t);
    return x != x || x == 0 ? x : result;                      /* NaN, and the sign of a zero */
}
static inline float rnnlm_sigmoid_float(float x)
{
    const double a = x < 0 ? -(double)x : (double)x;
    const double u = rnnlm_exp_nonpositive(-(a < 110.0 ? a : 110.0));   /* e^-110 is 0 in float32 */
    const double high = 1.0 / (1.0 + u);                       /* sigma(|x|); sigma(-|x|) = u sigma(|x|) */
    const float result = (float)(x < 0 ? u * high : high);
    return x != x ? x : result;
}
"""


class Float32Exp:
    """For a unary scalar op: float32 C code calls the FAST_EXP_C function named c_function, other
    types keep the library's code."""
    c_function = None

    def c_support_code(self, **kwargs):
        return FAST_EXP_C

    def c_code(self, node, name, inputs, outputs, sub):
        if node.inputs[0].type.dtype == node.outputs[0].type.dtype == "float32":
            return f"{outputs[0]} = {self.c_function}({inputs[0]});"
        return super().c_code(node, name, inputs, outputs, sub)

    def c_code_cache_version(self):
        return ("rnnlm", 3) + tuple(super().c_code_cache_version())


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


class ColumnSums(Op):
    """(ids (N,), rows (N, H)) -> (the distinct ids (K,), the rows summed per id (K, H)): a sparse gradient."""
    __props__ = ()

    def make_node(self, ids, rows):
        ids, rows = at.as_tensor_variable(ids), at.as_tensor_variable(rows)
        return Apply(self, [ids, rows], [ids.type(), rows.type()])

    def perform(self, node, inputs, outputs):
        ids, rows = inputs
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        outputs[0][0] = ordered[starts]
        outputs[1][0] = np.add.reduceat(rows[order], starts, axis=0)


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


def sparse_columns(gradient):
    """(ids, rows) if gradient is a column lookup's scattered gradient, else None."""
    if gradient.owner is not None and isinstance(gradient.owner.op, ScatterColumns):
        _, ids, rows = gradient.owner.inputs
        return ids, rows
    return None


columns = Columns()
