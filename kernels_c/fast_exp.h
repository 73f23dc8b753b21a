/* e^y for y in [-230, 0], and from it float32 tanh and the logistic sigmoid, all vectorisable by gcc.
   y = n ln2 + r with |r| <= ln2/2; e^r by its Taylor series to r^13/13! (relative error below 2e-16);
   2^n put straight into the exponent bits. */
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
