/* The C twin of kernels.check_ids: 0, or -1 with a ValueError naming the first id outside 0..V-1. */
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
