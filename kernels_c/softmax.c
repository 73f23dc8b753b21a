/* The softmax cross-entropy op and its gradient (kernels.SoftmaxCrossEntropy, SoftmaxCrossEntropyGrad):
   rnnlm_xent and rnnlm_xent_grad, for float32 and float64 arrays. */
#include "fast_exp.h"
#include "check_ids.h"
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

#include "typed.h"
#define T float
#include "softmax_rows_T.h"
#undef T
#define T double
#include "softmax_rows_T.h"
#undef T

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
