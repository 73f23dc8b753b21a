/* The column lookup's sparse gradient (kernels.ColumnSums). */
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
