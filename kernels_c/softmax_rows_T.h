/* The softmax cross-entropy over rows, for the type T (typed.h; softmax.c includes this for float and
   double); RNNLM_TYPED(rnnlm_exp) is e^y for y <= 0 in T.
   Per row of z + b: its maximum m and s = sum exp(z + b - m); nll = m + log s - (z + b)[y].  The
   gradient g (softmax(z + b) - onehot(y)) recomputes exp(z + b - m) and scales it by g / s, rather than
   storing N*V probabilities: a pass of vectorised exp costs less than writing them out and reading
   them back.  norm holds (m, log s) per row, in double. */
static void RNNLM_TYPED(rnnlm_xent_rows)(const T* z, const T* b, const npy_int64* y, npy_intp N, npy_intp V,
                                         T* nll, double* norm)
{
    for (npy_intp i = 0; i < N; ++i) {
        const T* row = z + i * V;
        T top = -INFINITY;
        int nans = 0;
        #pragma omp simd reduction(max:top) reduction(+:nans)
        for (npy_intp j = 0; j < V; ++j) {
            const T v = row[j] + b[j];
            top = v > top ? v : top;
            nans += v != v;
        }
        double total = 0;
        #pragma omp simd reduction(+:total)
        for (npy_intp j = 0; j < V; ++j)
            total += RNNLM_TYPED(rnnlm_exp)((T)(row[j] + b[j]) - top);
        const double target = (T)(row[y[i]] + b[y[i]]);
        norm[2 * i] = top;
        norm[2 * i + 1] = log(total);
        nll[i] = (nans || !isfinite(top)) ? NAN : (T)(top + norm[2 * i + 1] - target);
    }
}

/* dz = g (softmax(z + b) - onehot(y)) per row, and, if db is not NULL, its rows added to db */
static void RNNLM_TYPED(rnnlm_xent_grad_rows)(const T* z, const T* b, const npy_int64* y, const double* norm,
                                              const T* g, npy_intp N, npy_intp V, T* dz, double* db)
{
    for (npy_intp i = 0; i < N; ++i) {
        const T* row = z + i * V;
        T* out = dz + i * V;
        if (g[i] == 0) {                                 /* a padded position */
            memset(out, 0, V * sizeof(T));
            continue;
        }
        const T top = (T)norm[2 * i], scale = (T)(g[i] * exp(-norm[2 * i + 1]));
        #pragma omp simd
        for (npy_intp j = 0; j < V; ++j)
            out[j] = scale * RNNLM_TYPED(rnnlm_exp)((T)(row[j] + b[j]) - top);
        out[y[i]] -= g[i];
        if (db) {
            #pragma omp simd
            for (npy_intp j = 0; j < V; ++j)
                db[j] += out[j];
        }
    }
}
