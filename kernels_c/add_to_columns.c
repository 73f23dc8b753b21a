/* Sparse rows added to a table's columns in place (kernels.AddToColumns). */
#include "check_ids.h"

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

/* The op's output: M itself when in place, else a copy in M's memory order; with the rows added to its
   columns.  0, or -1 with an exception. */
static int rnnlm_add_to_columns_op(PyArrayObject* M, PyArrayObject* ids, PyArrayObject* rows, int inplace,
                                   PyArrayObject** out)
{
    Py_XDECREF(*out);
    if (inplace) {
        Py_INCREF(M);
        *out = M;
    } else if (!(*out = (PyArrayObject*)PyArray_NewCopy(M, NPY_ANYORDER))) {
        return -1;
    }
    return rnnlm_add_to_columns(*out, ids, rows);
}
