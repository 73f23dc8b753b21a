"""Operations that Aesara's generic ops do slowly, done fast, with their gradients.

1. Softmax and its cross-entropy over the vocabulary.  The output layer is most of a language model's
   work: T*B words times a vocabulary of V.  From generic ops, softmax, log-softmax and their gradients
   each make their own passes (about 35 ms apiece for 736 words x 10k vocabulary here).  This op is C:
   it adds the output bias, and goes over each row twice while it sits in the cache (its maximum, then
   its sum of exponentials, vectorised); the gradient recomputes the exponentials rather than storing
   the probabilities, and sums the bias's gradient as it goes.  PTB small: 3.5 + 4 ms per step where
   numpy, chunked over both cores, took 9.4 + 5.5.  Beside MKL, whose threads then come from the same
   OpenMP runtime (backend.kernel_compile_args), large arrays are split by rows over OpenMP's threads:
   1.7 + 2.0 ms on 2 cores (results/ptb-profile.md).  (Beside OpenBLAS's own threads, OpenMP's raced
   them for the two cores and were as often slower, so there the loops stay serial.)

2. tanh and the logistic sigmoid in float32.  The C code Aesara generates calls the C library's
   tanhf, about 9 ns per element, once per element (PTB small: 6 ms per step).  Here both are written
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
   cost 0.9 ms per table for PTB's 400 words, 0.2 ms here.

4. The sum of squares of all gradients, for clipping their global norm, in one op.  One BLAS dot per
   gradient was as fast, but each dot became a matrix-vector product writing into a one-element
   buffer, and Aesara's merge pass tried to merge those identical buffers pairwise, failing and undoing
   the whole graph change each time: compiling a depth-gated LSTM's clipped step took 7 minutes.

Under the JAX backend (backend.use_jax) every op here has a JAX form instead, the same arithmetic in
jax.numpy, which XLA fuses and runs in place on its own (jax_forms at the end).
"""
import functools
import hashlib
import inspect

import numpy as np

from backend import (Apply, COp, DisconnectedType, Elemwise, Op, WalkingGraphRewriter, at, jax_forms,
                     kernel_compile_args, node_rewriter, optdb, scalar)


@functools.lru_cache(maxsize=None)
def source_version(*sources):
    """A compiled module's cache version from its C source (strings) and code-writing methods: Aesara
    reuses a cached module whenever the version matches, so a fixed version number would keep running
    old code after an edit."""
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


# Per row of z + b: its maximum m and s = sum exp(z + b - m); nll = m + log s - (z + b)[y].  The
# gradient g (softmax(z + b) - onehot(y)) recomputes exp(z + b - m) and scales it by g / s, rather
# than storing N*V probabilities: a pass of vectorised exp costs less than writing them out and
# reading them back.  One body for float and double: T is the type, exp_T is e^y for y <= 0.
# The C twin of check_ids: 0, or -1 with a ValueError naming the first id outside 0..V-1.
CHECK_IDS_C = r"""
static int rnnlm_check_ids(const npy_int64* ids, npy_intp n, npy_intp V, const char* what)
{
    for (npy_intp i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= V) {
            PyErr_Format(PyExc_ValueError, "%s %lld is outside the vocabulary (0..%lld)", what,
                         (long long)ids[i], (long long)V - 1);
            return -1;
        }
    return 0;
}
"""

SOFTMAX_C = FAST_EXP_C + CHECK_IDS_C + r"""
#include <math.h>
#include <stdlib.h>
static inline float rnnlm_exp_float(float y)
{
    /* e^y, within about an ulp, for y in [-87, 0] (e^-87 is near float32's smallest normal); 0 below */
    const float shifter = 12582912.0f;                                   /* 1.5 * 2^23 */
    const float c = y > -87.0f ? y : -87.0f;
    const float n = (c * 1.44269504f + shifter) - shifter;
    const float r = (c - n * 0.693145751953125f) - n * 1.428606765330187e-06f;   /* ln 2 in two parts */
    const float p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120
        + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    const int32_t bits = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return y > -87.0f ? p * two_n : 0.0f;
}
static inline double rnnlm_exp_double(double y)
{
    return y > -700.0 ? rnnlm_exp_nonpositive(y) : 0.0;
}
#define RNNLM_SOFTMAX_XENT(T)                                                                          \
static void rnnlm_xent_rows_##T(const T* z, const T* b, const npy_int64* y, npy_intp N, npy_intp V,  \
                                T* nll, double* norm)                                                 \
{                                                                                                     \
    for (npy_intp i = 0; i < N; ++i) {                                                                \
        const T* row = z + i * V;                                                                     \
        T top = -INFINITY;                                                                            \
        int nans = 0;                                                                                 \
        _Pragma("omp simd reduction(max:top) reduction(+:nans)")                                      \
        for (npy_intp j = 0; j < V; ++j) {                                                            \
            const T v = row[j] + b[j];                                                                \
            top = v > top ? v : top;                                                                  \
            nans += v != v;                                                                           \
        }                                                                                             \
        double total = 0;                                                                             \
        _Pragma("omp simd reduction(+:total)")                                                        \
        for (npy_intp j = 0; j < V; ++j)                                                              \
            total += rnnlm_exp_##T((T)(row[j] + b[j]) - top);                                          \
        const double target = (T)(row[y[i]] + b[y[i]]);                                               \
        norm[2 * i] = top;                                                                            \
        norm[2 * i + 1] = log(total);                                                                 \
        nll[i] = (nans || !isfinite(top)) ? NAN : (T)(top + norm[2 * i + 1] - target);                \
    }                                                                                                 \
}                                                                                                     \
static void rnnlm_xent_grad_rows_##T(const T* z, const T* b, const npy_int64* y, const double* norm, \
                                     const T* g, npy_intp N, npy_intp V, T* dz, double* db)          \
{                                                                                                     \
    for (npy_intp i = 0; i < N; ++i) {                                                                \
        const T* row = z + i * V;                                                                     \
        T* out = dz + i * V;                                                                          \
        if (g[i] == 0) {                                 /* a padded position */                      \
            memset(out, 0, V * sizeof(T));                                                           \
            continue;                                                                                 \
        }                                                                                             \
        const T top = (T)norm[2 * i], scale = (T)(g[i] * exp(-norm[2 * i + 1]));                       \
        _Pragma("omp simd")                                                                           \
        for (npy_intp j = 0; j < V; ++j)                                                              \
            out[j] = scale * rnnlm_exp_##T((T)(row[j] + b[j]) - top);                                  \
        out[y[i]] -= g[i];                                                                            \
        if (db) {                                                                                     \
            _Pragma("omp simd")                                                                       \
            for (npy_intp j = 0; j < V; ++j)                                                          \
                db[j] += out[j];                                                                      \
        }                                                                                             \
    }                                                                                                 \
}
RNNLM_SOFTMAX_XENT(float)
RNNLM_SOFTMAX_XENT(double)

/* Threads for work elements: OpenMP's, when compiled with it (backend.kernel_compile_args) and the
   work is large (PTB: 400 x 10k); small arrays stay serial, and so keep the serial rounding. */
#ifdef _OPENMP
#include <omp.h>
static int rnnlm_threads(npy_intp work) { return work >= (1 << 20) ? omp_get_max_threads() : 1; }
#else
static int rnnlm_threads(npy_intp work) { return 1; }
#endif
/* the rows thread t of n takes: consecutive, in order */
#define RNNLM_FIRST_ROW(N, t, n) ((N) * (t) / (n))

/* out holds a C-contiguous array of this shape and type: the previous call's if it fits, else a new one */
static int rnnlm_fit(PyArrayObject** out, int nd, const npy_intp* dims, int type)
{
    if (*out && PyArray_NDIM(*out) == nd && PyArray_TYPE(*out) == type && PyArray_IS_C_CONTIGUOUS(*out)
        && PyArray_DIMS(*out)[0] == dims[0] && (nd == 1 || PyArray_DIMS(*out)[1] == dims[1]))
        return 0;
    Py_XDECREF(*out);
    *out = (PyArrayObject*)PyArray_EMPTY(nd, (npy_intp*)dims, type, 0);
    return *out ? 0 : -1;
}

/* The inputs as C-contiguous arrays of the right type (new references), checked; 0 or -1 with an
   exception.  z (N, V); y (N,) ids < V; b (V,) or NULL (out[2] is then zeros); norm (N, 2) or NULL;
   g (N,) or NULL. */
static int rnnlm_xent_inputs(PyArrayObject* in[5], PyArrayObject* out[5])
{
    const int type = PyArray_TYPE(in[0]);
    const int types[5] = {type, NPY_INT64, type, NPY_FLOAT64, type};
    for (int k = 0; k < 5; ++k)
        out[k] = in[k] ? (PyArrayObject*)PyArray_FROM_OTF((PyObject*)in[k], types[k], NPY_ARRAY_IN_ARRAY) : NULL;
    for (int k = 0; k < 5; ++k)
        if (in[k] && !out[k]) return -1;
    npy_intp N = PyArray_DIM(out[0], 0), V = PyArray_DIM(out[0], 1);
    /* no bias: a zero one (a test inside the loops would keep gcc from vectorising them) */
    if (!in[2] && !(out[2] = (PyArrayObject*)PyArray_ZEROS(1, &V, type, 0))) return -1;
    if (PyArray_DIM(out[1], 0) != N || PyArray_DIM(out[2], 0) != V
        || (out[3] && PyArray_DIM(out[3], 0) != N) || (out[4] && PyArray_DIM(out[4], 0) != N)) {
        PyErr_SetString(PyExc_ValueError, "softmax cross-entropy: logits, targets and bias do not match in size");
        return -1;
    }
    return rnnlm_check_ids((const npy_int64*)PyArray_DATA(out[1]), N, V, "target word id");
}

static void rnnlm_release(PyArrayObject* arrays[5])
{
    for (int k = 0; k < 5; ++k) Py_XDECREF(arrays[k]);
}

static int rnnlm_xent(PyArrayObject* z, PyArrayObject* y, PyArrayObject* b, PyArrayObject** nll,
                      PyArrayObject** norm)
{
    PyArrayObject* in[5] = {z, y, b, NULL, NULL};
    PyArrayObject* a[5];
    if (rnnlm_xent_inputs(in, a)) { rnnlm_release(a); return -1; }
    const npy_intp N = PyArray_DIM(a[0], 0), V = PyArray_DIM(a[0], 1), dims[2] = {N, 2};
    if (rnnlm_fit(nll, 1, dims, PyArray_TYPE(a[0])) || rnnlm_fit(norm, 2, dims, NPY_FLOAT64)) {
        rnnlm_release(a);
        return -1;
    }
    const int threads = rnnlm_threads(N * V);
    #define RNNLM_CALL(T)                                                                                 \
        _Pragma("omp parallel for num_threads(threads) schedule(static)")                                 \
        for (int t = 0; t < threads; ++t) {                                                               \
            const npy_intp i = RNNLM_FIRST_ROW(N, t, threads);                                            \
            rnnlm_xent_rows_##T((const T*)PyArray_DATA(a[0]) + i * V, (const T*)PyArray_DATA(a[2]),       \
                (const npy_int64*)PyArray_DATA(a[1]) + i, RNNLM_FIRST_ROW(N, t + 1, threads) - i, V,      \
                (T*)PyArray_DATA(*nll) + i, (double*)PyArray_DATA(*norm) + 2 * i);                        \
        }
    if (PyArray_TYPE(a[0]) == NPY_FLOAT32) { RNNLM_CALL(float) } else { RNNLM_CALL(double) }
    #undef RNNLM_CALL
    rnnlm_release(a);
    return 0;
}

static int rnnlm_xent_grad(PyArrayObject* z, PyArrayObject* y, PyArrayObject* norm, PyArrayObject* g,
                           PyArrayObject* b, PyArrayObject** dz, PyArrayObject** db)
{
    PyArrayObject* in[5] = {z, y, b, norm, g};
    PyArrayObject* a[5];
    if (rnnlm_xent_inputs(in, a)) { rnnlm_release(a); return -1; }
    const int type = PyArray_TYPE(a[0]);
    const npy_intp N = PyArray_DIM(a[0], 0), V = PyArray_DIM(a[0], 1);
    const int threads = rnnlm_threads(N * V);
    /* the bias's gradient, in double: each thread sums its rows, then the threads' sums are added */
    double* sums = b ? (double*)calloc(V ? threads * V : 1, sizeof(double)) : NULL;
    if (rnnlm_fit(dz, 2, PyArray_DIMS(a[0]), type) || (b && (!sums || rnnlm_fit(db, 1, &V, type)))) {
        if (b && !sums) PyErr_NoMemory();
        free(sums);
        rnnlm_release(a);
        return -1;
    }
    #define RNNLM_CALL(T)                                                                                   \
        _Pragma("omp parallel for num_threads(threads) schedule(static)")                                   \
        for (int t = 0; t < threads; ++t) {                                                                 \
            const npy_intp i = RNNLM_FIRST_ROW(N, t, threads);                                              \
            rnnlm_xent_grad_rows_##T((const T*)PyArray_DATA(a[0]) + i * V, (const T*)PyArray_DATA(a[2]),    \
                (const npy_int64*)PyArray_DATA(a[1]) + i, (const double*)PyArray_DATA(a[3]) + 2 * i,        \
                (const T*)PyArray_DATA(a[4]) + i, RNNLM_FIRST_ROW(N, t + 1, threads) - i, V,                \
                (T*)PyArray_DATA(*dz) + i * V, sums ? sums + t * V : NULL);                                 \
        }                                                                                                   \
        for (int t = 1; b && t < threads; ++t)                                                              \
            for (npy_intp j = 0; j < V; ++j) sums[j] += sums[t * V + j];                                    \
        if (b) for (npy_intp j = 0; j < V; ++j) ((T*)PyArray_DATA(*db))[j] = (T)sums[j];
    if (type == NPY_FLOAT32) { RNNLM_CALL(float) } else { RNNLM_CALL(double) }
    #undef RNNLM_CALL
    free(sums);
    rnnlm_release(a);
    return 0;
}
"""


def check_ids(ids, V, what):
    """ids, if every one is a word of a vocabulary of V (as the C code checks), else a ValueError."""
    bad = ids[(ids < 0) | (ids >= V)]
    if len(bad):
        raise ValueError(f"{what} {bad[0]} is outside the vocabulary (0..{V - 1})")
    return ids


class SoftmaxCrossEntropy(COp):
    """(z (N, V), targets y (N,)[, bias b (V,)]) -> (nll (N,) = -log softmax(z + b)[y], norm (N, 2)):
    norm holds each row's maximum m and log sum exp(z + b - m), from which the gradient recomputes the
    softmax.  A target outside 0..V-1 is a ValueError."""
    __props__ = ()

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

    def c_support_code(self, **kwargs):
        return SOFTMAX_C

    def c_compile_args(self, **kwargs):
        return kernel_compile_args()

    def c_code_cache_version(self):
        return source_version(SOFTMAX_C, SoftmaxCrossEntropy.c_code, SoftmaxCrossEntropyGrad.c_code)

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


class SoftmaxCrossEntropyGrad(COp):
    """(z, y, norm, g (N,)[, b]) -> d(sum g * nll)/dz = g[:, None] (softmax(z + b) - onehot(y))
    [, and its column sums, the bias's gradient, added up in double]."""
    __props__ = ()

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

    c_support_code = SoftmaxCrossEntropy.c_support_code
    c_compile_args = SoftmaxCrossEntropy.c_compile_args
    c_code_cache_version = SoftmaxCrossEntropy.c_code_cache_version

    def c_code(self, node, name, inputs, outputs, sub):
        z, y, norm, g, b = (inputs + ["NULL"])[:5]
        dz, db = (outputs + ["NULL"])[:2]
        db = "NULL" if db == "NULL" else f"&{db}"
        return f"if (rnnlm_xent_grad({z}, {y}, {norm}, {g}, {b}, &{dz}, {db})) {sub['fail']}"


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
        return source_version(FAST_EXP_C, Float32Exp.c_code) + tuple(super().c_code_cache_version())


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


COLUMN_SUMS_C = r"""
#include <stdlib.h>
typedef struct { npy_int64 id; npy_intp at; } rnnlm_occurrence;

static int rnnlm_by_id_then_position(const void* a, const void* b)
{
    const rnnlm_occurrence *x = (const rnnlm_occurrence*)a, *y = (const rnnlm_occurrence*)b;
    return x->id != y->id ? (x->id < y->id ? -1 : 1) : (x->at < y->at ? -1 : x->at > y->at);
}

/* Sorts the occurrences of ids, then adds up each id's rows in the order they came (as numpy's reduceat
   does); 0, or -1 with an exception. */
static int rnnlm_column_sums(PyArrayObject* ids_in, PyArrayObject* rows_in, PyArrayObject** ids_out,
                             PyArrayObject** sums_out)
{
    PyArrayObject* ids = (PyArrayObject*)PyArray_FROM_OTF((PyObject*)ids_in, NPY_INT64, NPY_ARRAY_IN_ARRAY);
    PyArrayObject* rows = (PyArrayObject*)PyArray_FROM_OTF((PyObject*)rows_in, PyArray_TYPE(rows_in), NPY_ARRAY_IN_ARRAY);
    const npy_intp N = ids ? PyArray_DIM(ids, 0) : 0, H = rows ? PyArray_DIM(rows, 1) : 0;
    rnnlm_occurrence* order = (rnnlm_occurrence*)malloc((N ? N : 1) * sizeof(rnnlm_occurrence));
    int status = -1;
    if (!ids || !rows || !order) {
        if (!order) PyErr_NoMemory();
        goto done;
    }
    if (PyArray_DIM(rows, 0) != N) {
        PyErr_SetString(PyExc_ValueError, "column sums: as many rows as ids are needed");
        goto done;
    }
    {
        const npy_int64* id = (const npy_int64*)PyArray_DATA(ids);
        for (npy_intp i = 0; i < N; ++i) { order[i].id = id[i]; order[i].at = i; }
        qsort(order, N, sizeof *order, rnnlm_by_id_then_position);
        npy_intp K = 0;
        for (npy_intp i = 0; i < N; ++i) K += i == 0 || order[i].id != order[i - 1].id;
        Py_XDECREF(*ids_out);
        Py_XDECREF(*sums_out);
        npy_intp dims[2] = {K, H};
        *ids_out = (PyArrayObject*)PyArray_EMPTY(1, dims, NPY_INT64, 0);
        *sums_out = (PyArrayObject*)PyArray_EMPTY(2, dims, PyArray_TYPE(rows), 0);
        if (!*ids_out || !*sums_out) goto done;
        npy_int64* distinct = (npy_int64*)PyArray_DATA(*ids_out);
        const npy_intp size = PyArray_ITEMSIZE(rows);
        char *src = (char*)PyArray_DATA(rows), *dst = (char*)PyArray_DATA(*sums_out) - H * size;
        for (npy_intp i = 0, k = -1; i < N; ++i) {
            const char* row = src + order[i].at * H * size;
            if (i == 0 || order[i].id != order[i - 1].id) {
                distinct[++k] = order[i].id;
                dst += H * size;
                memcpy(dst, row, H * size);
            } else if (size == 4) {
                for (npy_intp j = 0; j < H; ++j) ((float*)dst)[j] += ((const float*)row)[j];
            } else {
                for (npy_intp j = 0; j < H; ++j) ((double*)dst)[j] += ((const double*)row)[j];
            }
        }
    }
    status = 0;
done:
    Py_XDECREF(ids);
    Py_XDECREF(rows);
    free(order);
    return status;
}
"""


class ColumnSums(COp):
    """(ids (N,), rows (N, H)) -> (the distinct ids (K,) in order, the rows summed per id (K, H)): a
    sparse gradient.  C (numpy's sort and reduceat took 0.3-0.5 ms for PTB's 400 ids, 25 us here)."""
    __props__ = ()

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

    def c_support_code(self, **kwargs):
        return COLUMN_SUMS_C

    def c_code_cache_version(self):
        return source_version(COLUMN_SUMS_C, ColumnSums.c_code)

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


ADD_TO_COLUMNS_C = CHECK_IDS_C + r"""
/* M[:, ids[k]] += rows[k] in place, in either memory order of M; 0, or -1 with an exception. */
static int rnnlm_add_to_columns(PyArrayObject* M, PyArrayObject* ids_in, PyArrayObject* rows_in)
{
    PyArrayObject* ids = (PyArrayObject*)PyArray_FROM_OTF((PyObject*)ids_in, NPY_INT64, NPY_ARRAY_IN_ARRAY);
    PyArrayObject* rows = (PyArrayObject*)PyArray_FROM_OTF((PyObject*)rows_in, PyArray_TYPE(M), NPY_ARRAY_IN_ARRAY);
    int status = -1;
    if (!ids || !rows) goto done;
    {
        const npy_intp H = PyArray_DIM(M, 0), V = PyArray_DIM(M, 1), K = PyArray_DIM(ids, 0);
        const npy_intp down = PyArray_STRIDE(M, 0), across = PyArray_STRIDE(M, 1);
        const npy_int64* id = (const npy_int64*)PyArray_DATA(ids);
        if (PyArray_DIM(rows, 0) != K || PyArray_DIM(rows, 1) != H) {
            PyErr_SetString(PyExc_ValueError, "add to columns: one row of the table's height per id is needed");
            goto done;
        }
        if (rnnlm_check_ids(id, K, V, "word id")) goto done;
        for (npy_intp k = 0; k < K; ++k) {
            char* column = (char*)PyArray_DATA(M) + id[k] * across;
            if (PyArray_TYPE(M) == NPY_FLOAT32) {
                const float* row = (const float*)PyArray_DATA(rows) + k * H;
                for (npy_intp h = 0; h < H; ++h) *(float*)(column + h * down) += row[h];
            } else {
                const double* row = (const double*)PyArray_DATA(rows) + k * H;
                for (npy_intp h = 0; h < H; ++h) *(double*)(column + h * down) += row[h];
            }
        }
    }
    status = 0;
done:
    Py_XDECREF(ids);
    Py_XDECREF(rows);
    return status;
}
"""


class AddToColumns(COp):
    """(M (H, V), ids (K,), rows (K, H)) -> M with rows[k] added to column ids[k].  Built on a copy of
    M; a rewrite makes it work in place where M may be overwritten (a parameter being updated).
    Aesara's in-place advanced increment took 0.4 ms a table for PTB's 400 words: it goes element by
    element through numpy's generic indexing machinery."""
    __props__ = ("inplace",)

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

    def c_support_code(self, **kwargs):
        return ADD_TO_COLUMNS_C

    def c_code_cache_version(self):
        return source_version(ADD_TO_COLUMNS_C, AddToColumns.c_code)

    def c_code(self, node, name, inputs, outputs, sub):
        M, ids, rows = inputs
        out = outputs[0]
        target = f"Py_INCREF({M}); {out} = {M};" if self.inplace else \
            f"{out} = (PyArrayObject*)PyArray_NewCopy({M}, NPY_ANYORDER); if (!{out}) {sub['fail']}"
        return f"Py_XDECREF({out}); {target}\nif (rnnlm_add_to_columns({out}, {ids}, {rows})) {sub['fail']}"


@node_rewriter([AddToColumns], inplace=True)
def add_to_columns_in_place(fgraph, node):
    if not node.op.inplace:
        return [AddToColumns(inplace=True)(*node.inputs)]
    return False


optdb.register("rnnlm_add_to_columns_in_place",
               WalkingGraphRewriter(add_to_columns_in_place, failure_callback=WalkingGraphRewriter.warn_inplace),
               "fast_run", "inplace", position=60)


SUM_OF_SQUARES_C = r"""
/* The sum of x[i]^2 in double, from float (or double) partial sums over blocks that gcc vectorises. */
#define RNNLM_SUM_OF_SQUARES(T)                                                           \
static double rnnlm_sum_of_squares_##T(const T* x, npy_intp n)                            \
{                                                                                         \
    double total = 0;                                                                     \
    for (npy_intp start = 0; start < n; start += 4096) {                                  \
        const npy_intp end = n - start < 4096 ? n : start + 4096;                         \
        T block = 0;                                                                      \
        _Pragma("omp simd reduction(+:block)")                                            \
        for (npy_intp i = start; i < end; ++i) block += x[i] * x[i];                      \
        total += block;                                                                   \
    }                                                                                     \
    return total;                                                                         \
}
RNNLM_SUM_OF_SQUARES(float)
RNNLM_SUM_OF_SQUARES(double)

/* Adds the squares of the array's elements to *total; 0, or -1 with an exception. */
static int rnnlm_add_squares(PyArrayObject* in, double* total)
{
    PyArrayObject* a = PyArray_GETCONTIGUOUS(in);
    if (!a) return -1;
    if (PyArray_TYPE(a) == NPY_FLOAT32) *total += rnnlm_sum_of_squares_float((const float*)PyArray_DATA(a), PyArray_SIZE(a));
    else *total += rnnlm_sum_of_squares_double((const double*)PyArray_DATA(a), PyArray_SIZE(a));
    Py_DECREF(a);
    return 0;
}
"""


class SumOfSquares(COp):
    """(arrays...) -> the sum of the squares of all their elements, a scalar of their type."""
    __props__ = ()

    def make_node(self, *arrays):
        arrays = floats(*[at.as_tensor_variable(a) for a in arrays])
        return Apply(self, list(arrays), [at.scalar(dtype=arrays[0].dtype)])

    def perform(self, node, inputs, outputs):           # without a C compiler
        total = sum(np.dot(v, v) for v in (a.ravel().astype(np.float64) for a in inputs))
        outputs[0][0] = np.asarray(total, dtype=inputs[0].dtype)

    def c_support_code(self, **kwargs):
        return SUM_OF_SQUARES_C

    def c_compile_args(self, **kwargs):
        return kernel_compile_args()

    def c_code_cache_version(self):
        return source_version(SUM_OF_SQUARES_C, SumOfSquares.c_code)

    def c_code(self, node, name, inputs, outputs, sub):
        out, typenum = outputs[0], f"PyArray_TYPE({inputs[0]})"
        add = "\n".join(f"if (rnnlm_add_squares({a}, &total)) {sub['fail']}" for a in inputs)
        return f"""{{
            double total = 0;
            {add}
            if (!{out} || PyArray_TYPE({out}) != {typenum}) {{
                Py_XDECREF({out});
                {out} = (PyArrayObject*)PyArray_EMPTY(0, NULL, {typenum}, 0);
                if (!{out}) {sub['fail']}
            }}
            if ({typenum} == NPY_FLOAT32) *(float*)PyArray_DATA({out}) = (float)total;
            else *(double*)PyArray_DATA({out}) = total;
        }}"""


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

    @jax_funcify.register(SumOfSquares)
    def _(op, **kwargs):
        return lambda *arrays: sum(jnp.sum(jnp.square(a)) for a in arrays)
