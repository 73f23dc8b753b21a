/* One Adam step over n elements of a table, its gradient and its two moving averages, in place
   (typed.h).  The operations and their order are those of the generic elementwise code the library
   generates for optimizers.py's formula, so the numbers are that code's; only the loop differs: one
   flat pass over arrays that do not overlap.  `omp simd` has gcc vectorise it even where its guessed
   branch probabilities make the op's call look rarely taken (it then optimises for size, and leaves
   plain loops scalar).  The hyperparameters come as Python's doubles and are rounded to T once, as
   they are when they enter a graph of T. */
static void RNNLM_TYPED(rnnlm_adam_step)(npy_intp n, T* p, const T* g, T* m, T* v, const T lr,
                                         const T m_correction, const T v_correction, const T scale,
                                         const double beta1_given, const double beta2_given,
                                         const double epsilon_given)
{
    const T beta1 = (T)beta1_given, beta2 = (T)beta2_given, epsilon = (T)epsilon_given;
    const T one_minus_beta1 = (T)(1.0 - beta1_given), one_minus_beta2 = (T)(1.0 - beta2_given);
    #pragma omp simd
    for (npy_intp i = 0; i < n; ++i) {
        /* Each sum's gradient term first: gcc then fuses that product, not the other, with the sum into
           one multiply-add (where the CPU has it), as it does in the library's code. */
        const T m_term = one_minus_beta1 * g[i] * scale;
        const T m_new = beta1 * m[i] + m_term;
        const T scaled = g[i] * scale;
        const T v_term = one_minus_beta2 * (scaled * scaled);
        const T v_new = beta2 * v[i] + v_term;
        m[i] = m_new;
        v[i] = v_new;
        p[i] = p[i] - (lr * (m_new / m_correction)) / (epsilon + sqrt(v_new / v_correction));
    }
}
