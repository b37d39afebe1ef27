/* batchnorm.c — batch normalisation in training mode (batch statistics, moving averages)
 * and inference mode, optionally fused with ReLU, over (rows, C) contiguous tensors. */
#include "ops_backward.h"

#define BN_BLOCK 64

void fn_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in, long rows,
                                int C, const float *gamma, const float *beta, float eps,
                                float *running_mean, float *running_var, float decay, fn_act act) {
    double *sum = calloc((size_t)C * 2, sizeof(double));
    float *part = calloc((size_t)C, sizeof(float));
    FN_ASSERT(sum && part);
    double *sq = sum + C;
    /* float partial sums over blocks of rows (vectorised over channels), double across
     * blocks: fast for the narrow channel counts of reduced-width networks, yet exact enough */
    for (long r0 = 0; r0 < rows; r0 += BN_BLOCK) {
        long r1 = r0 + BN_BLOCK < rows ? r0 + BN_BLOCK : rows;
        memset(part, 0, sizeof(float) * C);
        for (long r = r0; r < r1; r++) {
            const float *x = in + r * C;
            for (int c = 0; c < C; c++) part[c] += x[c];
        }
        for (int c = 0; c < C; c++) sum[c] += part[c];
    }
    for (int c = 0; c < C; c++) mean[c] = (float)(sum[c] / rows);
    /* two-pass variance: the one-pass formula loses precision when |mean| >> std */
    for (long r0 = 0; r0 < rows; r0 += BN_BLOCK) {
        long r1 = r0 + BN_BLOCK < rows ? r0 + BN_BLOCK : rows;
        memset(part, 0, sizeof(float) * C);
        for (long r = r0; r < r1; r++) {
            const float *x = in + r * C;
            for (int c = 0; c < C; c++) { float d = x[c] - mean[c]; part[c] += d * d; }
        }
        for (int c = 0; c < C; c++) sq[c] += part[c];
    }
    free(part);
    for (int c = 0; c < C; c++) {
        double var = sq[c] / rows;
        rstd[c] = (float)(1.0 / sqrt(var + eps));
        if (running_mean) running_mean[c] = decay * running_mean[c] + (1 - decay) * mean[c];
        if (running_var) {
            double unbiased = rows > 1 ? sq[c] / (rows - 1) : var;
            running_var[c] = (float)(decay * running_var[c] + (1 - decay) * unbiased);
        }
    }
    free(sum);
    #pragma omp parallel for schedule(static) if (rows * C > 65536)
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * C;
        float *o = out + r * C;
        for (int c = 0; c < C; c++) {
            float v = (x[c] - mean[c]) * rstd[c] * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
            o[c] = act == FN_ACT_RELU && v < 0 ? 0 : v;
        }
    }
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

void fn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *out, const float *mean,
                           const float *rstd, const float *gamma, long rows, int C, fn_act act) {
    /* sum_g = sum(dy), sum_gx = sum(dy * xhat) per channel, dy masked by the ReLU */
    double *sum_g = calloc((size_t)C * 2, sizeof(double));
    float *pg = calloc((size_t)C * 2, sizeof(float));
    FN_ASSERT(sum_g && pg);
    double *sum_gx = sum_g + C;
    float *pgx = pg + C;
    for (long r0 = 0; r0 < rows; r0 += BN_BLOCK) {
        long r1 = r0 + BN_BLOCK < rows ? r0 + BN_BLOCK : rows;
        memset(pg, 0, sizeof(float) * C * 2);
        for (long r = r0; r < r1; r++) {
            const float *g = dout + r * C, *x = in + r * C, *o = out ? out + r * C : NULL;
            for (int c = 0; c < C; c++) {
                float gy = act == FN_ACT_RELU && o[c] <= 0 ? 0 : g[c];
                pg[c] += gy;
                pgx[c] += gy * (x[c] - mean[c]) * rstd[c];
            }
        }
        for (int c = 0; c < C; c++) { sum_g[c] += pg[c]; sum_gx[c] += pgx[c]; }
    }
    free(pg);
    for (int c = 0; c < C; c++) {
        if (dbeta) dbeta[c] += (float)sum_g[c];
        if (dgamma) dgamma[c] += (float)sum_gx[c];
    }
    if (din) {
        float *mg = malloc(sizeof(float) * C * 2);
        FN_ASSERT(mg);
        float *mgx = mg + C;
        for (int c = 0; c < C; c++) { mg[c] = (float)(sum_g[c] / rows); mgx[c] = (float)(sum_gx[c] / rows); }
        #pragma omp parallel for schedule(static) if (rows * C > 65536)
        for (long r = 0; r < rows; r++) {
            const float *g = dout + r * C, *x = in + r * C, *o = out ? out + r * C : NULL;
            float *d = din + r * C;
            for (int c = 0; c < C; c++) {
                float gy = act == FN_ACT_RELU && o[c] <= 0 ? 0 : g[c];
                float xhat = (x[c] - mean[c]) * rstd[c];
                d[c] += (gamma ? gamma[c] : 1.0f) * rstd[c] * (gy - mg[c] - xhat * mgx[c]);
            }
        }
        free(mg);
    }
    free(sum_g);
}
