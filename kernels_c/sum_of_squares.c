/* The sum of the squares of all elements of several arrays (kernels.SumOfSquares). */
#include "typed.h"
#define T float
#include "sum_of_squares_T.h"
#undef T
#define T double
#include "sum_of_squares_T.h"
#undef T

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

/* *out: a 0-d array of the type (the previous call's if it has that type) holding total; 0, or -1 with
   an exception. */
static int rnnlm_scalar_out(PyArrayObject** out, int type, double total)
{
    if (!*out || PyArray_TYPE(*out) != type) {
        Py_XDECREF(*out);
        *out = (PyArrayObject*)PyArray_EMPTY(0, NULL, type, 0);
        if (!*out) return -1;
    }
    if (type == NPY_FLOAT32) *(float*)PyArray_DATA(*out) = (float)total;
    else *(double*)PyArray_DATA(*out) = total;
    return 0;
}
