/* loss.c — the training losses of facenet: triplet loss, softmax cross-entropy and
 * center loss, each returning the loss and adding its gradient. */
#include "ops_backward.h"

float fn_triplet_loss(float *demb, const float *emb, int T, int D, float alpha, float dloss) {
    double total = 0;
    for (int t = 0; t < T; t++) {
        const float *a = emb + (long)3 * t * D, *p = a + D, *n = p + D;
        double dp = 0, dn = 0;
        for (int i = 0; i < D; i++) {
            double u = a[i] - p[i], v = a[i] - n[i];
            dp += u * u; dn += v * v;
        }
        double basic = dp - dn + alpha;
        if (basic <= 0) continue; /* max(., 0) has zero gradient here */
        total += basic;
        if (demb) {
            float s = 2.0f * dloss / T;
            float *da = demb + (long)3 * t * D, *dpos = da + D, *dneg = dpos + D;
            for (int i = 0; i < D; i++) {
                da[i] += s * (n[i] - p[i]);
                dpos[i] -= s * (a[i] - p[i]);
                dneg[i] += s * (a[i] - n[i]);
            }
        }
    }
    return T > 0 ? (float)(total / T) : 0.0f;
}

float fn_softmax_xent(float *dlogits, const float *logits, const int *labels, int N, int K,
                      float dloss, int *correct) {
    double total = 0;
    int ok = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (long)n * K;
        int arg = 0;
        for (int k = 1; k < K; k++) if (z[k] > z[arg]) arg = k;
        ok += arg == labels[n];
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)z[k] - z[arg]);
        double lse = z[arg] + log(s);
        total += lse - z[labels[n]];
        if (dlogits) {
            float *g = dlogits + (long)n * K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)z[k] - lse);
                g[k] += (float)(dloss * (p - (k == labels[n])) / N);
            }
        }
    }
    if (correct) *correct = ok;
    return N > 0 ? (float)(total / N) : 0.0f;
}

float fn_center_loss(float *dfeat, float *centers, const float *feat, const int *labels, int N,
                     int D, float alfa, float dloss, int update) {
    double total = 0;
    float s = 2.0f * dloss / ((float)N * D);
    for (int n = 0; n < N; n++) {
        const float *f = feat + (long)n * D, *c = centers + (long)labels[n] * D;
        for (int i = 0; i < D; i++) {
            double d = f[i] - c[i];
            total += d * d;
            if (dfeat) dfeat[(long)n * D + i] += s * (float)d;
        }
    }
    if (update) {
        /* TF gathers the centres before scatter_sub: every row's step uses the old value */
        float *delta = calloc((size_t)N * D, sizeof(float));
        FN_ASSERT(delta);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < D; i++)
                delta[(long)n * D + i] = (1 - alfa) * (centers[(long)labels[n] * D + i] - feat[(long)n * D + i]);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < D; i++) centers[(long)labels[n] * D + i] -= delta[(long)n * D + i];
        free(delta);
    }
    return N > 0 ? (float)(total / ((double)N * D)) : 0.0f;
}
