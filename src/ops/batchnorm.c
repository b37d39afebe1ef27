/* batchnorm.c — batch normalisation in training mode (batch statistics, moving averages)
 * and inference mode, optionally fused with ReLU, over (rows, C) tensors.
 * The training pieces (sums, statistics, normalisation, backward sums and input gradient)
 * are separate functions so a batch split between workers can add its per-worker sums
 * before normalising; fn_batchnorm_forward_train / _backward compose them for one worker. */
#include "ops_backward.h"

#define BN_BLOCK 64

/* Mean and squared deviations in one pass over memory: each block of rows is summed, then
 * its deviations from its own (float) mean are summed while it is in cache — two-pass
 * accuracy within the block, vectorised over channels — and blocks are merged in double
 * (Chan et al.'s pairwise update), which also merges the workers' parts. */
void fn_batchnorm_merge(double *mean, double *m2, long n, const double *mean_b, const double *m2_b,
                        long n_b, int C) {
    if (n_b <= 0) return;
    const double tot = (double)n + n_b;
    for (int c = 0; c < C; c++) {
        double delta = mean_b[c] - mean[c];
        mean[c] += delta * n_b / tot;
        m2[c] += m2_b[c] + delta * delta * ((double)n * n_b / tot);
    }
}

void fn_batchnorm_moments(double *mean, double *m2, const float *in, long rows, int C) {
    float *bm = malloc(sizeof(float) * (size_t)C * 2);
    double *dm = malloc(sizeof(double) * (size_t)C * 2);
    FN_ASSERT(bm && dm);
    float *bq = bm + C;
    double *dq = dm + C;
    for (int c = 0; c < C; c++) mean[c] = m2[c] = 0;
    for (long r0 = 0; r0 < rows; r0 += BN_BLOCK) {
        long r1 = r0 + BN_BLOCK < rows ? r0 + BN_BLOCK : rows;
        float inv = 1.0f / (float)(r1 - r0);
        memset(bm, 0, sizeof(float) * C * 2);
        for (long r = r0; r < r1; r++) {
            const float *x = in + r * C;
            for (int c = 0; c < C; c++) bm[c] += x[c];
        }
        for (int c = 0; c < C; c++) bm[c] *= inv;
        for (long r = r0; r < r1; r++) {
            const float *x = in + r * C;
            for (int c = 0; c < C; c++) { float d = x[c] - bm[c]; bq[c] += d * d; }
        }
        for (int c = 0; c < C; c++) { dm[c] = bm[c]; dq[c] = bq[c]; }
        fn_batchnorm_merge(mean, m2, r0, dm, dq, r1 - r0, C);
    }
    free(bm); free(dm);
}

void fn_batchnorm_stats(float *mean, float *rstd, const double *mu, const double *m2, long rows,
                        int C, float eps, float *running_mean, float *running_var, float decay) {
    for (int c = 0; c < C; c++) {
        double var = m2[c] / rows;
        mean[c] = (float)mu[c];
        rstd[c] = (float)(1.0 / sqrt(var + eps));
        if (running_mean) running_mean[c] = decay * running_mean[c] + (1 - decay) * mean[c];
        if (running_var) {
            double unbiased = rows > 1 ? m2[c] / (rows - 1) : var;
            running_var[c] = (float)(decay * running_var[c] + (1 - decay) * unbiased);
        }
    }
}

/* the normalised value before the ReLU; backward recomputes it for the ReLU mask with the
 * same expression, so the mask is the forward's exactly and the output need not be read */
static inline float bn_value(float x, float mean, float rstd, const float *gamma, const float *beta, int c) {
    return (x - mean) * rstd * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
}

void fn_batchnorm_apply(float *out, int ld_out, const float *in, long rows, int C,
                        const float *mean, const float *rstd, const float *gamma,
                        const float *beta, fn_act act) {
    #pragma omp parallel for schedule(static) if (rows * C > 65536)
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C;
        float *o = out + r * ld_out;
        for (int c = 0; c < C; c++) {
            float v = bn_value(x[c], mean[c], rstd[c], gamma, beta, c);
            o[c] = act == FN_ACT_RELU && v < 0 ? 0 : v;
        }
    }
}

void fn_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in, long rows,
                                int C, const float *gamma, const float *beta, float eps,
                                float *running_mean, float *running_var, float decay, fn_act act) {
    double *mu = malloc(sizeof(double) * (size_t)C * 2);
    FN_ASSERT(mu);
    fn_batchnorm_moments(mu, mu + C, in, rows, C);
    fn_batchnorm_stats(mean, rstd, mu, mu + C, rows, C, eps, running_mean, running_var, decay);
    free(mu);
    fn_batchnorm_apply(out, C, in, rows, C, mean, rstd, gamma, beta, act);
}

void fn_batchnorm_forward_infer(float *out, const float *in, long rows, int C, const float *gamma,
                                const float *beta, const float *running_mean,
                                const float *running_var, float eps, fn_act act) {
    #pragma omp parallel for schedule(static) if (rows * C > 65536)
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C;
        float *o = out + r * C;
        for (int c = 0; c < C; c++) {
            float v = (x[c] - running_mean[c]) / sqrtf(running_var[c] + eps) * (gamma ? gamma[c] : 1.0f) +
                      (beta ? beta[c] : 0.0f);
            o[c] = act == FN_ACT_RELU && v < 0 ? 0 : v;
        }
    }
}

void fn_batchnorm_backward_sums(double *sum_g, double *sum_gx, const float *dout, int ld_out,
                                const float *in, const float *mean, const float *rstd,
                                const float *gamma, const float *beta, long rows, int C, fn_act act) {
    float *pg = malloc(sizeof(float) * (size_t)C * 2);
    FN_ASSERT(pg);
    float *pgx = pg + C;
    for (long r0 = 0; r0 < rows; r0 += BN_BLOCK) {
        long r1 = r0 + BN_BLOCK < rows ? r0 + BN_BLOCK : rows;
        memset(pg, 0, sizeof(float) * C * 2);
        for (long r = r0; r < r1; r++) {
            const float *g = dout + r * ld_out, *x = in + r * C;
            for (int c = 0; c < C; c++) {
                float gy = act == FN_ACT_RELU && bn_value(x[c], mean[c], rstd[c], gamma, beta, c) <= 0 ? 0 : g[c];
                pg[c] += gy;
                pgx[c] += gy * (x[c] - mean[c]) * rstd[c];
            }
        }
        for (int c = 0; c < C; c++) { sum_g[c] += pg[c]; sum_gx[c] += pgx[c]; }
    }
    free(pg);
}

void fn_batchnorm_backward_input(float *din, int accumulate, const float *dout, int ld_out,
                                 const float *in, const float *mean, const float *rstd,
                                 const float *gamma, const float *beta, const double *sum_g,
                                 const double *sum_gx, long rows_total, long rows, int C, fn_act act) {
    float *mg = malloc(sizeof(float) * (size_t)C * 2);
    FN_ASSERT(mg);
    float *mgx = mg + C;
    for (int c = 0; c < C; c++) { mg[c] = (float)(sum_g[c] / rows_total); mgx[c] = (float)(sum_gx[c] / rows_total); }
    #pragma omp parallel for schedule(static) if (rows * C > 65536)
    for (long r = 0; r < rows; r++) {
        const float *g = dout + r * ld_out, *x = in + r * C;
        float *d = din + r * C;
        for (int c = 0; c < C; c++) {
            float gy = act == FN_ACT_RELU && bn_value(x[c], mean[c], rstd[c], gamma, beta, c) <= 0 ? 0 : g[c];
            float xhat = (x[c] - mean[c]) * rstd[c];
            float v = (gamma ? gamma[c] : 1.0f) * rstd[c] * (gy - mg[c] - xhat * mgx[c]);
            d[c] = accumulate ? d[c] + v : v;
        }
    }
    free(mg);
}

void fn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *rstd,
                           const float *gamma, const float *beta, long rows, int C, fn_act act) {
    /* sum_g = sum(dy), sum_gx = sum(dy * xhat) per channel, dy masked by the ReLU */
    double *sum_g = calloc((size_t)C * 2, sizeof(double));
    FN_ASSERT(sum_g);
    double *sum_gx = sum_g + C;
    fn_batchnorm_backward_sums(sum_g, sum_gx, dout, C, in, mean, rstd, gamma, beta, rows, C, act);
    for (int c = 0; c < C; c++) {
        if (dbeta) dbeta[c] += (float)sum_g[c];
        if (dgamma) dgamma[c] += (float)sum_gx[c];
    }
    if (din) fn_batchnorm_backward_input(din, 1, dout, C, in, mean, rstd, gamma, beta, sum_g, sum_gx, rows, rows, C, act);
    free(sum_g);
}
