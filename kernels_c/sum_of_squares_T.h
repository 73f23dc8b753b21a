/* The sum of x[i]^2 in double, from partial sums in T over blocks that gcc vectorises (typed.h). */
static double RNNLM_TYPED(rnnlm_sum_of_squares)(const T* x, npy_intp n)
{
    double total = 0;
    for (npy_intp start = 0; start < n; start += 4096) {
        const npy_intp end = n - start < 4096 ? n : start + 4096;
        T block = 0;
        #pragma omp simd reduction(+:block)
        for (npy_intp i = start; i < end; ++i) block += x[i] * x[i];
        total += block;
    }
    return total;
}
