/* test_backward.c — every backward op against central finite differences.
 * Loss L = sum(out * R) with a fixed random R, so dout = R. Each input element (all of
 * them: the tensors are small) is perturbed by ±h = 1e-2 in float32 and L accumulated in
 * double; the check is max|analytic - numeric| / max|numeric| <= 1e-2 (float rounding in
 * L is ~1e-6 relative, divided by h gives ~1e-4; kinks of ReLU/max are rarely crossed).
 * Convs too big for that (the Winograd shapes: 3x3 F(2x2)/F(4x4), 1x7/7x1 F(2,7)) are checked
 * against direct sums instead, relative error <= 1e-4 (measured ~1e-6 to 5e-6). */
#include "test_util.h"
#include "ops/ops_backward.h"

static fn_rng rng = {12345};
static float *rnd(long n, float scale) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (long i = 0; i < n; i++) p[i] = (float)fn_rng_normal(&rng) * scale;
    return p;
}
static float *zeros(long n) { return calloc(n ? n : 1, sizeof(float)); }
static double dot(const float *a, const float *b, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);
/* numeric gradient of f wrt every element of x, compared with analytic */
static void fd_check(const char *what, loss_fn f, void *ctx, float *x, long n, const float *analytic) {
    const float h = 1e-2f;
    float *num = zeros(n);
    for (long i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + h; double lp = f(ctx);
        x[i] = keep - h; double lm = f(ctx);
        x[i] = keep;
        num[i] = (float)((lp - lm) / (2.0 * h));
    }
    CHECK_REL(what, analytic, num, n, 1e-2);
    free(num);
}

/* ---------------------------------------------------------------- conv */
typedef struct { fn_conv_shape s; float *in, *w, *b, *R, *out, *ws; } conv_ctx;
static double conv_loss(void *p) {
    conv_ctx *c = p;
    fn_conv2d_forward(c->out, c->s.Cout, c->in, c->s.Cin, c->w, c->b, &c->s, FN_ACT_NONE, c->ws);
    return dot(c->out, c->R, (long)c->s.N * c->s.OH * c->s.OW * c->s.Cout);
}
static void test_conv(int N, int H, int W, int Cin, int Cout, int kh, int kw, int st, fn_padding pad) {
    conv_ctx c;
    fn_conv_shape_init(&c.s, N, H, W, Cin, Cout, kh, kw, st, st, pad);
    long nin = (long)N * H * W * Cin, nw = (long)kh * kw * Cin * Cout, nout = (long)N * c.s.OH * c.s.OW * Cout;
    c.in = rnd(nin, 1); c.w = rnd(nw, 0.5f); c.b = rnd(Cout, 1); c.R = rnd(nout, 1); c.out = zeros(nout);
    size_t wsf = fn_conv2d_workspace(&c.s), wsb = fn_conv2d_backward_workspace(&c.s);
    c.ws = zeros((long)(wsf > wsb ? wsf : wsb));
    float *din = zeros(nin), *dw = zeros(nw), *db = zeros(Cout);
    fn_conv2d_backward(din, dw, db, c.R, c.in, c.w, &c.s, c.ws);
    char what[96];
    printf("conv %dx%d stride %d %s, %dx%dx%dx%d -> %d\n", kh, kw, st, pad ? "SAME" : "VALID", N, H, W, Cin, Cout);
    snprintf(what, sizeof what, "conv dinput"); fd_check(what, conv_loss, &c, c.in, nin, din);
    snprintf(what, sizeof what, "conv dweight"); fd_check(what, conv_loss, &c, c.w, nw, dw);
    snprintf(what, sizeof what, "conv dbias"); fd_check(what, conv_loss, &c, c.b, Cout, db);
    /* backward ADDS: a second call doubles the gradient */
    float *dw2 = zeros(nw);
    memcpy(dw2, dw, sizeof(float) * nw);
    fn_conv2d_backward(NULL, dw2, NULL, c.R, c.in, c.w, &c.s, c.ws);
    for (long i = 0; i < nw; i++) dw[i] *= 2;
    CHECK_CLOSE("conv dweight accumulates (2x)", dw2, dw, nw, 1e-4);
    free(c.in); free(c.w); free(c.b); free(c.R); free(c.out); free(c.ws); free(din); free(dw); free(db); free(dw2);
}

/* Shapes large enough for the Winograd paths (F(2x2) and F(4x4), used by the data
 * gradient of stride-1 3x3 convs): against direct sums in double, too big for finite
 * differences. */
static void test_conv_ref(int N, int H, int W, int Cin, int Cout, int kh, int kw, int st, fn_padding pad) {
    fn_conv_shape s;
    fn_conv_shape_init(&s, N, H, W, Cin, Cout, kh, kw, st, st, pad);
    long nin = (long)N * H * W * Cin, nw = (long)kh * kw * Cin * Cout, nout = (long)N * s.OH * s.OW * Cout;
    float *in = rnd(nin, 1), *w = rnd(nw, 0.5f), *R = rnd(nout, 1), *ws = zeros((long)fn_conv2d_backward_workspace(&s));
    float *din = rnd(nin, 1), *din0 = zeros(nin), *dw = zeros(nw), *rin = zeros(nin), *rw = zeros(nw);
    memcpy(din0, din, sizeof(float) * nin); /* backward adds to what is there */
    fn_conv2d_backward(din, dw, NULL, R, in, w, &s, ws);
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < s.OH; oy++)
            for (int ox = 0; ox < s.OW; ox++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int iy = oy * st - s.pad_top + ky, ix = ox * st - s.pad_left + kx;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        const float *g = R + (((long)n * s.OH + oy) * s.OW + ox) * Cout;
                        for (int ci = 0; ci < Cin; ci++) {
                            long xi = (((long)n * H + iy) * W + ix) * Cin + ci;
                            const float *wr = w + ((long)(ky * kw + kx) * Cin + ci) * Cout;
                            float *dwr = rw + ((long)(ky * kw + kx) * Cin + ci) * Cout;
                            double a = 0;
                            for (int co = 0; co < Cout; co++) { a += (double)g[co] * wr[co]; dwr[co] += in[xi] * g[co]; }
                            rin[xi] += (float)a;
                        }
                    }
    for (long i = 0; i < nin; i++) rin[i] += din0[i];
    printf("conv %dx%d stride %d %s, %dx%dx%dx%d -> %d (direct reference)\n", kh, kw, st, pad ? "SAME" : "VALID", N, H, W, Cin, Cout);
    CHECK_REL("conv dinput (added to existing)", din, rin, nin, 1e-4);
    CHECK_REL("conv dweight", dw, rw, nw, 1e-4);
    free(in); free(w); free(R); free(ws); free(din); free(din0); free(dw); free(rin); free(rw);
}

/* 1x7 / 7x1 shapes that take the 1-D Winograd F(2,7) (forward, so the data gradient, and the
 * weight gradient): checks that they do, then the direct reference */
static void test_conv_ref_w1d(int N, int H, int W, int Cin, int Cout, int kh, int kw) {
    fn_conv_shape s;
    fn_conv_shape_init(&s, N, H, W, Cin, Cout, kh, kw, 1, 1, FN_PAD_SAME);
    CHECK_MSG(fn_conv2d_uses_winograd1d(&s), "%dx%d %dx%dx%dx%d -> %d: not F(2,7)", kh, kw, N, H, W, Cin, Cout);
    test_conv_ref(N, H, W, Cin, Cout, kh, kw, 1, FN_PAD_SAME);
}

/* ---------------------------------------------------------------- batch norm */
typedef struct { long rows; int C; float *in, *gamma, *beta, *R, *out, *mean, *rstd; fn_act act; } bn_ctx;
static double bn_loss(void *p) {
    bn_ctx *c = p;
    fn_batchnorm_forward_train(c->out, c->mean, c->rstd, c->in, c->rows, c->C, c->gamma, c->beta,
                               1e-3f, NULL, NULL, 0.995f, c->act);
    return dot(c->out, c->R, c->rows * c->C);
}
static void test_batchnorm(fn_act act) {
    bn_ctx c = {.rows = 12, .C = 5, .act = act};
    long n = c.rows * c.C;
    c.in = rnd(n, 2); c.gamma = rnd(c.C, 1); c.beta = rnd(c.C, 1); c.R = rnd(n, 1); c.out = zeros(n);
    c.mean = zeros(c.C); c.rstd = zeros(c.C);
    for (long i = 0; i < n; i++) c.in[i] += 3.0f; /* a mean offset */
    float rm[5] = {0}, rv[5] = {1, 1, 1, 1, 1};
    fn_batchnorm_forward_train(c.out, c.mean, c.rstd, c.in, c.rows, c.C, c.gamma, c.beta, 1e-3f, rm, rv, 0.995f, act);
    /* moving statistics: r = 0.995 r + 0.005 batch (unbiased variance) */
    float want_m[5], want_v[5];
    for (int ch = 0; ch < c.C; ch++) {
        double s = 0, q = 0;
        for (long r = 0; r < c.rows; r++) s += c.in[r * c.C + ch];
        s /= c.rows;
        for (long r = 0; r < c.rows; r++) { double d = c.in[r * c.C + ch] - s; q += d * d; }
        want_m[ch] = (float)(0.005 * s);
        want_v[ch] = (float)(0.995 + 0.005 * q / (c.rows - 1));
    }
    printf("batch norm (train mode%s), 12 x 5\n", act ? ", fused ReLU" : "");
    CHECK_CLOSE("running mean", rm, want_m, c.C, 1e-6);
    CHECK_CLOSE("running var", rv, want_v, c.C, 1e-6);
    float *din = zeros(n), *dg = zeros(c.C), *db = zeros(c.C);
    fn_batchnorm_backward(din, dg, db, c.R, c.in, c.mean, c.rstd, c.gamma, c.beta, c.rows, c.C, act);
    fd_check("bn dinput", bn_loss, &c, c.in, n, din);
    fd_check("bn dgamma", bn_loss, &c, c.gamma, c.C, dg);
    fd_check("bn dbeta", bn_loss, &c, c.beta, c.C, db);
    /* inference with the batch statistics as running stats (biased var) equals training */
    bn_loss(&c); /* out, mean, rstd at the unperturbed point */
    float *o2 = zeros(n), bv[5];
    for (int ch = 0; ch < c.C; ch++) bv[ch] = 1.0f / (c.rstd[ch] * c.rstd[ch]) - 1e-3f;
    fn_batchnorm_forward_infer(o2, c.in, c.rows, c.C, c.gamma, c.beta, c.mean, bv, 1e-3f, act);
    CHECK_CLOSE("bn inference == train with batch stats", o2, c.out, n, 1e-4);
    free(c.in); free(c.gamma); free(c.beta); free(c.R); free(c.out); free(c.mean); free(c.rstd);
    free(din); free(dg); free(db); free(o2);
}

/* ---------------------------------------------------------------- pools */
typedef struct { int N, H, W, C, k, st, pt, pl, OH, OW, is_max; float *in, *R, *out; } pool_ctx;
static double pool_loss(void *p) {
    pool_ctx *c = p;
    if (c->is_max) fn_maxpool_forward(c->out, c->C, c->in, c->C, c->N, c->H, c->W, c->C, c->k, c->st, c->pt, c->pl, c->OH, c->OW);
    else fn_avgpool_forward(c->out, c->C, c->in, c->C, c->N, c->H, c->W, c->C, c->k, c->st, c->pt, c->pl, c->OH, c->OW);
    return dot(c->out, c->R, (long)c->N * c->OH * c->OW * c->C);
}
static void test_pool(int is_max, fn_padding pad) {
    pool_ctx c = {.N = 2, .H = 7, .W = 6, .C = 3, .k = 3, .st = 2, .is_max = is_max};
    fn_conv_out_size(c.H, c.k, c.st, pad, &c.OH, &c.pt);
    fn_conv_out_size(c.W, c.k, c.st, pad, &c.OW, &c.pl);
    long nin = (long)c.N * c.H * c.W * c.C, nout = (long)c.N * c.OH * c.OW * c.C;
    c.in = rnd(nin, 1); c.R = rnd(nout, 1); c.out = zeros(nout);
    /* distinct values 0.05 apart (shuffled) so ±h never swaps a window's maximum */
    for (long i = 0; i < nin; i++) c.in[i] = 0.05f * i;
    for (long i = nin - 1; i > 0; i--) {
        long j = (long)(fn_rng_next(&rng) % (uint64_t)(i + 1));
        float t = c.in[i]; c.in[i] = c.in[j]; c.in[j] = t;
    }
    float *din = zeros(nin);
    if (is_max) fn_maxpool_backward(din, c.R, c.in, c.N, c.H, c.W, c.C, c.k, c.st, c.pt, c.pl, c.OH, c.OW);
    else fn_avgpool_backward(din, c.R, c.N, c.H, c.W, c.C, c.k, c.st, c.pt, c.pl, c.OH, c.OW);
    printf("%s pool 3x3/2 %s\n", is_max ? "max" : "avg", pad ? "SAME" : "VALID");
    fd_check("pool dinput", pool_loss, &c, c.in, nin, din);
    free(c.in); free(c.R); free(c.out); free(din);
}

typedef struct { int N, HW, C; float *in, *R, *out; } gap_ctx;
static double gap_loss(void *p) {
    gap_ctx *c = p;
    fn_global_avgpool_forward(c->out, c->in, c->N, c->HW, c->C);
    return dot(c->out, c->R, (long)c->N * c->C);
}

/* ---------------------------------------------------------------- elementwise */
typedef struct { long n; float scale; float *trunk, *up, *R, *out; } res_ctx;
static double res_loss(void *p) {
    res_ctx *c = p;
    memcpy(c->out, c->trunk, sizeof(float) * c->n);
    fn_residual_forward(c->out, 4, c->up, 4, c->n / 4, 4, c->scale, FN_ACT_RELU);
    return dot(c->out, c->R, c->n);
}

typedef struct { int N, Cin, Cout; float *in, *w, *b, *R, *out; } dense_ctx;
static double dense_loss(void *p) {
    dense_ctx *c = p;
    fn_dense_forward(c->out, c->in, c->w, c->b, c->N, c->Cin, c->Cout);
    return dot(c->out, c->R, (long)c->N * c->Cout);
}

typedef struct { int N, D; float *in, *R, *out; } l2_ctx;
static double l2_loss(void *p) {
    l2_ctx *c = p;
    fn_l2norm_forward(c->out, c->in, c->N, c->D, 1e-10f);
    return dot(c->out, c->R, (long)c->N * c->D);
}

/* ---------------------------------------------------------------- losses */
typedef struct { int T, D; float alpha; float *emb; } trip_ctx;
static double trip_loss(void *p) { trip_ctx *c = p; return fn_triplet_loss(NULL, c->emb, c->T, c->D, c->alpha, 1); }
typedef struct { int N, K; float *z; int *lab; } xent_ctx;
static double xent_loss(void *p) { xent_ctx *c = p; return fn_softmax_xent(NULL, c->z, c->lab, c->N, c->K, 1, NULL); }
typedef struct { int N, D; float *f, *centers; int *lab; } center_ctx;
static double center_loss(void *p) { center_ctx *c = p; return fn_center_loss(NULL, c->centers, c->f, c->lab, c->N, c->D, 0.95f, 1, 0); }

int main(void) {
    test_conv(2, 5, 6, 3, 4, 3, 3, 1, FN_PAD_SAME);
    test_conv(2, 7, 7, 3, 4, 3, 3, 2, FN_PAD_VALID);
    test_conv(1, 6, 6, 2, 3, 3, 3, 2, FN_PAD_SAME);  /* odd extra pad at bottom/right */
    test_conv(2, 4, 9, 3, 2, 1, 7, 1, FN_PAD_SAME);  /* asymmetric kernels of block17 */
    test_conv(2, 9, 4, 3, 2, 7, 1, 1, FN_PAD_SAME);
    test_conv(2, 3, 4, 5, 6, 1, 1, 1, FN_PAD_VALID); /* pointwise: plain GEMM path */
    test_batchnorm(FN_ACT_NONE);
    test_batchnorm(FN_ACT_RELU);
    test_pool(1, FN_PAD_VALID);
    test_pool(1, FN_PAD_SAME);
    test_pool(0, FN_PAD_SAME);
    {
        gap_ctx c = {.N = 2, .HW = 6, .C = 3};
        c.in = rnd(36, 1); c.R = rnd(6, 1); c.out = zeros(6);
        float *din = zeros(36);
        fn_global_avgpool_backward(din, c.R, c.N, c.HW, c.C);
        printf("global average pool\n");
        fd_check("gap dinput", gap_loss, &c, c.in, 36, din);
        free(c.in); free(c.R); free(c.out); free(din);
    }
    {
        res_ctx c = {.n = 24, .scale = 0.17f};
        c.trunk = rnd(24, 1); c.up = rnd(24, 1); c.R = rnd(24, 1); c.out = zeros(24);
        /* keep the pre-activation 0.1 away from the ReLU kink so ±h stays on one side */
        for (int i = 0; i < 24; i++) {
            float z = c.trunk[i] + c.scale * c.up[i];
            if (fabsf(z) < 0.1f) c.trunk[i] += z < 0 ? -0.1f : 0.1f;
        }
        res_loss(&c);
        float *dt = zeros(24), *du = zeros(24);
        fn_residual_backward(dt, du, c.R, c.out, 24, c.scale, FN_ACT_RELU);
        printf("residual relu(x + 0.17 up)\n");
        fd_check("residual dtrunk", res_loss, &c, c.trunk, 24, dt);
        fd_check("residual dup", res_loss, &c, c.up, 24, du);
        free(c.trunk); free(c.up); free(c.R); free(c.out); free(dt); free(du);
    }
    {
        float in[8] = {1, -1, 2, -2, 3, -3, 4, -4}, mask[8], out[8], g[8] = {1, 1, 1, 1, 1, 1, 1, 1}, din[8] = {0};
        fn_dropout_forward(out, mask, in, 2, 4, 0.5f, 7, 0);
        fn_dropout_backward(din, g, mask, 8);
        int ok = 1;
        for (int i = 0; i < 8; i++) ok &= (mask[i] == 0.0f || mask[i] == 2.0f) && out[i] == in[i] * mask[i] && din[i] == mask[i];
        printf("dropout keep 0.5: masks in {0, 2}, out = in*mask, din = dout*mask\n");
        CHECK(ok);
        /* row 1 drawn alone (as another rank would, row0 = 1) gets the same mask */
        float mask1[4], out1[4];
        fn_dropout_forward(out1, mask1, in + 4, 1, 4, 0.5f, 7, 1);
        printf("dropout: a row's mask depends on (seed, global row) only\n");
        CHECK(memcmp(mask1, mask + 4, sizeof mask1) == 0);
    }
    {
        dense_ctx c = {.N = 3, .Cin = 5, .Cout = 4};
        c.in = rnd(15, 1); c.w = rnd(20, 1); c.b = rnd(4, 1); c.R = rnd(12, 1); c.out = zeros(12);
        float *din = zeros(15), *dw = zeros(20), *db = zeros(4);
        fn_dense_backward(din, dw, db, c.R, c.in, c.w, 3, 5, 4);
        printf("dense 3x5 -> 4\n");
        fd_check("dense dinput", dense_loss, &c, c.in, 15, din);
        fd_check("dense dweight", dense_loss, &c, c.w, 20, dw);
        fd_check("dense dbias", dense_loss, &c, c.b, 4, db);
        free(c.in); free(c.w); free(c.b); free(c.R); free(c.out); free(din); free(dw); free(db);
    }
    {
        l2_ctx c = {.N = 3, .D = 6};
        c.in = rnd(18, 1); c.R = rnd(18, 1); c.out = zeros(18);
        l2_loss(&c);
        float *din = zeros(18);
        fn_l2norm_backward(din, c.R, c.in, c.out, 3, 6, 1e-10f);
        printf("l2 normalisation\n");
        fd_check("l2norm dinput", l2_loss, &c, c.in, 18, din);
        free(c.in); free(c.R); free(c.out); free(din);
    }
    {
        trip_ctx c = {.T = 4, .D = 5, .alpha = 0.2f};
        c.emb = rnd(60, 0.4f);
        float *d = zeros(60);
        float L = fn_triplet_loss(d, c.emb, c.T, c.D, c.alpha, 1);
        /* independent reference for the value */
        double want = 0;
        for (int t = 0; t < 4; t++) {
            double dp = 0, dn = 0;
            for (int i = 0; i < 5; i++) {
                dp += pow(c.emb[15 * t + i] - c.emb[15 * t + 5 + i], 2);
                dn += pow(c.emb[15 * t + i] - c.emb[15 * t + 10 + i], 2);
            }
            want += fmax(dp - dn + 0.2, 0) / 4;
        }
        printf("triplet loss (4 triplets, D 5): %.6f (numpy-style reference %.6f)\n", L, want);
        CHECK(fabs(L - want) < 1e-5);
        fd_check("triplet demb", trip_loss, &c, c.emb, 60, d);
        free(c.emb); free(d);
    }
    {
        int lab[3] = {2, 0, 3};
        xent_ctx c = {3, 4, NULL, lab};
        c.z = rnd(12, 2);
        float *d = zeros(12);
        int correct;
        fn_softmax_xent(d, c.z, lab, 3, 4, 1, &correct);
        printf("softmax cross-entropy (3 x 4)\n");
        fd_check("xent dlogits", xent_loss, &c, c.z, 12, d);
        free(c.z); free(d);
    }
    {
        int lab[4] = {1, 0, 1, 2};
        center_ctx c = {4, 3, NULL, NULL, lab};
        c.f = rnd(12, 1); c.centers = rnd(9, 1);
        float *d = zeros(12), before[9];
        memcpy(before, c.centers, sizeof before);
        fn_center_loss(d, c.centers, c.f, lab, 4, 3, 0.95f, 1, 0);
        printf("center loss (4 x 3, 3 classes)\n");
        fd_check("center dfeat", center_loss, &c, c.f, 12, d);
        fn_center_loss(NULL, c.centers, c.f, lab, 4, 3, 0.95f, 1, 1);
        /* class 1 has rows 0 and 2: c -= 0.05 (c0 - f0) + 0.05 (c0 - f2) */
        float want[3];
        for (int i = 0; i < 3; i++) want[i] = before[3 + i] - 0.05f * (before[3 + i] - c.f[i]) - 0.05f * (before[3 + i] - c.f[6 + i]);
        CHECK_CLOSE("center update (scatter_sub, duplicates)", c.centers + 3, want, 3, 1e-6);
        free(c.f); free(c.centers); free(d);
    }
    /* last, so the random inputs of the tests above stay as they were */
    test_conv_ref(2, 16, 16, 16, 24, 3, 3, 1, FN_PAD_SAME);  /* Winograd F(2x2) data gradient */
    test_conv_ref(1, 26, 25, 16, 20, 3, 3, 1, FN_PAD_VALID); /* F(4x4), pad 2, odd edge */
    test_conv_ref(1, 24, 24, 20, 16, 3, 3, 1, FN_PAD_SAME);  /* F(4x4), pad 1 */
    test_conv_ref(2, 8, 8, 32, 24, 7, 1, 1, FN_PAD_SAME);    /* block17's 7x1 as im2col conv */
    test_conv_ref(2, 48, 47, 16, 16, 3, 3, 1, FN_PAD_SAME);  /* more tiles than one pass takes */
    test_conv_ref(5, 64, 63, 16, 16, 3, 3, 1, FN_PAD_SAME);  /* F(4x4) weight gradient over two passes */
    test_conv_ref(2, 36, 35, 16, 24, 3, 3, 2, FN_PAD_VALID); /* stride 2: dW by im2col, din by col2im */
    test_conv_ref(1, 16, 15, 20, 16, 3, 3, 2, FN_PAD_SAME);  /* stride 2, pad, odd width */
    test_conv_ref(3, 17, 17, 16, 16, 3, 3, 2, FN_PAD_VALID); /* 17 -> 8 as in mixed_6a */
    test_conv_ref_w1d(45, 8, 8, 128, 128, 1, 7);             /* 1x7 / 7x1 as F(2,7): Block17 in training */
    test_conv_ref_w1d(8, 8, 8, 64, 96, 7, 1);
    test_conv_ref_w1d(3, 9, 7, 32, 40, 1, 7);                /* odd sides: half-used edge tiles */
    test_conv_ref_w1d(4, 7, 11, 40, 32, 7, 1);
    test_conv(2, 8, 8, 32, 64, 1, 7, 1, FN_PAD_SAME);        /* F(2,7) against finite differences */
    return tu_finish("test_backward");
}
