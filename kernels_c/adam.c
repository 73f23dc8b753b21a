/* One Adam step on a table (kernels.AdamStep). */
#include "typed.h"
#define T float
#include "adam_T.h"
#undef T
#define T double
#include "adam_T.h"
#undef T

/* *out: x itself when allowed and x lies in memory in the given order, else a copy of x in that order;
   0, or -1 with an exception. */
static int rnnlm_adam_array(PyArrayObject* x, int itself, NPY_ORDER order, PyArrayObject** out)
{
    const int fits = order == NPY_FORTRANORDER ? PyArray_IS_F_CONTIGUOUS(x) : PyArray_IS_C_CONTIGUOUS(x);
    Py_XDECREF(*out);
    if (itself && fits) {
        Py_INCREF(x);
        *out = x;
    } else {
        *out = (PyArrayObject*)PyArray_NewCopy(x, order);
    }
    return *out ? 0 : -1;
}

/* The op: the table p, its gradient g and its averages m and v, all of one shape; the step's scalars
   as 0-d arrays of their type.  Outputs the new p, m and v, in place of the inputs when inplace and
   they lie in the table's memory order; 0, or -1 with an exception. */
static int rnnlm_adam_op(PyArrayObject* p, PyArrayObject* g, PyArrayObject* m, PyArrayObject* v,
                         PyArrayObject* lr, PyArrayObject* m_correction, PyArrayObject* v_correction,
                         PyArrayObject* scale, double beta1, double beta2, double epsilon, int inplace,
                         PyArrayObject** p_out, PyArrayObject** m_out, PyArrayObject** v_out)
{
    const NPY_ORDER order = PyArray_IS_F_CONTIGUOUS(p) && !PyArray_IS_C_CONTIGUOUS(p) ? NPY_FORTRANORDER : NPY_CORDER;
    PyArrayObject* gradient = NULL;
    if (!PyArray_SAMESHAPE(p, g) || !PyArray_SAMESHAPE(p, m) || !PyArray_SAMESHAPE(p, v)) {
        PyErr_SetString(PyExc_ValueError, "Adam step: the table, its gradient and its averages differ in shape");
        return -1;
    }
    if (rnnlm_adam_array(p, inplace, order, p_out) || rnnlm_adam_array(m, inplace, order, m_out)
        || rnnlm_adam_array(v, inplace, order, v_out) || rnnlm_adam_array(g, 1, order, &gradient)) return -1;
    if (PyArray_TYPE(p) == NPY_FLOAT32) {
        rnnlm_adam_step_float(PyArray_SIZE(p), (float*)PyArray_DATA(*p_out), (const float*)PyArray_DATA(gradient),
                              (float*)PyArray_DATA(*m_out), (float*)PyArray_DATA(*v_out), *(float*)PyArray_DATA(lr),
                              *(float*)PyArray_DATA(m_correction), *(float*)PyArray_DATA(v_correction),
                              *(float*)PyArray_DATA(scale), beta1, beta2, epsilon);
    } else {
        rnnlm_adam_step_double(PyArray_SIZE(p), (double*)PyArray_DATA(*p_out), (const double*)PyArray_DATA(gradient),
                               (double*)PyArray_DATA(*m_out), (double*)PyArray_DATA(*v_out), *(double*)PyArray_DATA(lr),
                               *(double*)PyArray_DATA(m_correction), *(double*)PyArray_DATA(v_correction),
                               *(double*)PyArray_DATA(scale), beta1, beta2, epsilon);
    }
    Py_DECREF(gradient);
    return 0;
}
