/* test_ops.c — the forward ops of src/ops against hand-computed values and a naive
 * double-precision direct convolution written here (independent of im2col + GEMM).
 * Tolerances: float GEMM vs double reference max-abs 1e-4 (values O(1), K <= 288; Winograd
 * F(4x4,3x3) measures ~3e-5 here, F(2x2,3x3) and im2col ~1e-6; the 1-D F(2,7) of the 1x7 /
 * 7x1 convs ~3.5e-5 at 128 input channels, where K = 896 and |out| reaches ~20, i.e. ~2e-6
 * of the largest output, ~1e-5 at 32-48 channels);
 * hand-computed small cases exact or 1e-6. */
#include "test_util.h"
#include "ops/ops.h"

static fn_rng rng = {12345};
static void fill(float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * fn_rng_uniform(&rng);
}

/* direct conv, TF padding from pad_top/pad_left, double accumulation, views with ld */
static void conv_ref(double *out, const float *in, int ld_in, const float *w, const float *bias,
                     const fn_conv_shape *s) {
    for (int n = 0; n < s->N; n++)
        for (int oy = 0; oy < s->OH; oy++)
            for (int ox = 0; ox < s->OW; ox++)
                for (int co = 0; co < s->Cout; co++) {
                    double acc = bias ? bias[co] : 0;
                    for (int ky = 0; ky < s->kh; ky++)
                        for (int kx = 0; kx < s->kw; kx++) {
                            int iy = oy * s->sh - s->pad_top + ky, ix = ox * s->sw - s->pad_left + kx;
                            if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) continue;
                            for (int ci = 0; ci < s->Cin; ci++)
                                acc += (double)in[(((size_t)n * s->H + iy) * s->W + ix) * ld_in + ci] *
                                       w[(((size_t)ky * s->kw + kx) * s->Cin + ci) * s->Cout + co];
                        }
                    out[(((size_t)n * s->OH + oy) * s->OW + ox) * s->Cout + co] = acc;
                }
}

/* One conv case: input and output are channel slices (offset 2, ld = C + 5) of wider
 * tensors; the columns outside the slice must stay untouched. */
static void check_conv(const char *what, int N, int H, int W, int Cin, int Cout, int kh, int kw,
                       int stride, fn_padding pad, int use_bias, fn_act act, float alpha, float beta,
                       int pretransform) {
    fn_conv_shape s;
    fn_conv_shape_init(&s, N, H, W, Cin, Cout, kh, kw, stride, stride, pad);
    int ld_in = Cin + 5, ld_out = Cout + 5, off = 2;
    size_t n_in = (size_t)N * H * W * ld_in, n_out = (size_t)N * s.OH * s.OW * ld_out;
    size_t n_w = (size_t)kh * kw * Cin * Cout;
    float *in = malloc(4 * n_in), *w = malloc(4 * n_w), *bias = malloc(4 * Cout);
    float *out = malloc(4 * n_out), *old = malloc(4 * n_out);
    double *ref = malloc(8 * (size_t)N * s.OH * s.OW * Cout);
    fill(in, n_in, -1, 1); fill(w, n_w, -0.5f, 0.5f); fill(bias, Cout, -1, 1);
    fill(out, n_out, -1, 1); memcpy(old, out, 4 * n_out);
    size_t ws_n = fn_conv2d_workspace(&s);
    float *ws = ws_n ? malloc(4 * ws_n) : NULL;
    const float *wino = NULL;
    float *U = NULL;
    if (pretransform && fn_conv2d_winograd_eligible(kh, kw, stride, stride, Cin, Cout)) {
        U = malloc(sizeof(float) * 16 * Cin * Cout);
        fn_conv2d_winograd_weights(U, w, Cin, Cout);
        wino = U;
    }
    fn_conv2d_forward_ex(out + off, ld_out, in + off, ld_in, w, wino, use_bias ? bias : NULL, &s, alpha, beta, act, ws);
    free(U);
    conv_ref(ref, in + off, ld_in, w, use_bias ? bias : NULL, &s);
    double err = 0; int untouched = 1;
    for (size_t p = 0; p < (size_t)N * s.OH * s.OW; p++)
        for (int c = 0; c < ld_out; c++) {
            size_t i = p * ld_out + c;
            if (c < off || c >= off + Cout) { untouched &= out[i] == old[i]; continue; }
            double e = beta * old[i] + alpha * ref[p * Cout + c - off];
            if (act == FN_ACT_RELU && e < 0) e = 0;
            double d = fabs(e - out[i]);
            if (d > err || d != d) err = d != d ? INFINITY : d;
        }
    printf("  %-52s out %dx%d max-abs %.3g (tol 1e-4)\n", what, s.OH, s.OW, err);
    CHECK_MSG(err <= 1e-4, "%s: max-abs %g", what, err);
    CHECK_MSG(untouched, "%s: wrote outside its channel slice", what);
    free(in); free(w); free(bias); free(out); free(old); free(ref); free(ws);
}

static void test_padding(void) {
    printf("TF padding arithmetic:\n");
    int o, p;
    fn_conv_out_size(7, 3, 2, FN_PAD_SAME, &o, &p); CHECK(o == 4 && p == 1);   /* total 2: 1 + 1 */
    fn_conv_out_size(8, 3, 2, FN_PAD_SAME, &o, &p); CHECK(o == 4 && p == 0);   /* total 1: extra at bottom/right */
    fn_conv_out_size(17, 7, 1, FN_PAD_SAME, &o, &p); CHECK(o == 17 && p == 3);
    fn_conv_out_size(160, 3, 2, FN_PAD_VALID, &o, &p); CHECK(o == 79 && p == 0);
    fn_conv_out_size(2, 3, 2, FN_PAD_VALID, &o, &p); CHECK(o == 0);
    fn_conv_shape s;
    fn_conv_shape_init(&s, 1, 8, 7, 4, 4, 3, 3, 2, 2, FN_PAD_SAME);
    CHECK(s.OH == 4 && s.OW == 4 && s.pad_top == 0 && s.pad_left == 1);
    fn_conv_shape_init(&s, 2, 17, 17, 8, 8, 1, 1, 1, 1, FN_PAD_SAME);
    CHECK(fn_conv2d_workspace(&s) == 0); /* pointwise: a plain GEMM, no im2col */
}

/* A 4x4 input 1..16, 3x3 all-ones kernel, SAME stride 2: TF pads only bottom/right here,
 * so out(0,0) sums rows/cols 0-2 and out(1,1) sums rows/cols 2-3 (PyTorch's symmetric
 * padding would give other numbers). */
static void test_conv_hand(void) {
    printf("conv2d hand-computed (SAME, stride 2, even input):\n");
    float in[16], w[9], out[4];
    for (int i = 0; i < 16; i++) in[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++) w[i] = 1;
    fn_conv_shape s;
    fn_conv_shape_init(&s, 1, 4, 4, 1, 1, 3, 3, 2, 2, FN_PAD_SAME);
    float ws[128];
    fn_conv2d_forward(out, 1, in, 1, w, NULL, &s, FN_ACT_NONE, ws);
    float want[4] = {1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12,
                     9 + 10 + 11 + 13 + 14 + 15, 11 + 12 + 15 + 16};
    CHECK_CLOSE("4x4 -> 2x2 sums", out, want, 4, 1e-6);
    /* 3x3 SAME stride 1 on 3x3: corner = 1+2+4+5, centre = 45; bias -40 + ReLU */
    float in9[9], out9[9], b = -40;
    for (int i = 0; i < 9; i++) in9[i] = (float)(i + 1);
    fn_conv_shape_init(&s, 1, 3, 3, 1, 1, 3, 3, 1, 1, FN_PAD_SAME);
    fn_conv2d_forward(out9, 1, in9, 1, w, &b, &s, FN_ACT_RELU, ws);
    float want9[9] = {0, 0, 0, 0, 5, 0, 0, 0, 0}; /* 12,21,16,27,45,33,24,39,28 minus 40, ReLU */
    CHECK_CLOSE("3x3 SAME + bias + ReLU", out9, want9, 9, 1e-6);
}

static void test_conv_cases(void) {
    printf("conv2d vs direct double-precision reference (channel-slice views):\n");
    check_conv("3x3 s1 SAME 9x9 8->16 bias ReLU", 2, 9, 9, 8, 16, 3, 3, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("3x3 s2 SAME odd 9x7 5->6", 2, 9, 7, 5, 6, 3, 3, 2, FN_PAD_SAME, 1, FN_ACT_NONE, 1, 0, 0);
    check_conv("3x3 s2 SAME even 8x8 4->3", 1, 8, 8, 4, 3, 3, 3, 2, FN_PAD_SAME, 0, FN_ACT_NONE, 1, 0, 0);
    check_conv("3x3 s2 VALID 17x17 6->10", 2, 17, 17, 6, 10, 3, 3, 2, FN_PAD_VALID, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("1x7 SAME 8x8 12->7", 2, 8, 8, 12, 7, 1, 7, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("7x1 SAME 8x8 7->12", 2, 8, 8, 7, 12, 7, 1, 1, FN_PAD_SAME, 1, FN_ACT_NONE, 1, 0, 0);
    check_conv("1x3 SAME 3x3 16->9", 3, 3, 3, 16, 9, 1, 3, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("3x1 SAME 3x3 9->16", 3, 3, 3, 9, 16, 3, 1, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("1x1 pointwise 5x5 32->24 bias ReLU", 2, 5, 5, 32, 24, 1, 1, 1, FN_PAD_VALID, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("1x1 stride 2 (im2col path) 7x7 6->5", 1, 7, 7, 6, 5, 1, 1, 2, FN_PAD_SAME, 1, FN_ACT_NONE, 1, 0, 0);
    check_conv("5x5 s3 SAME 11x10 3->4", 1, 11, 10, 3, 4, 5, 5, 3, FN_PAD_SAME, 1, FN_ACT_NONE, 1, 0, 0);
    check_conv("residual: out = relu(out + 0.17*(conv+b))", 2, 6, 6, 20, 12, 1, 1, 1, FN_PAD_VALID, 1, FN_ACT_RELU, 0.17f, 1, 0);
    check_conv("residual no ReLU, 3x3 SAME", 1, 5, 5, 4, 8, 3, 3, 1, FN_PAD_SAME, 1, FN_ACT_NONE, 1.0f, 1, 0);
    /* 3x3 stride 1 with Cin, Cout >= 16 takes the Winograd F(2x2,3x3) path: odd and even
     * outputs (partial edge tiles), SAME and VALID, the residual epilogue, > 1 tile chunk,
     * weights transformed per call or beforehand (>= 64 tiles, else im2col) */
    check_conv("Winograd 3x3 SAME 9x9 16->24 bias ReLU", 3, 9, 9, 16, 24, 3, 3, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0, 1);
    check_conv("Winograd 3x3 VALID 12x11 20->32", 3, 12, 11, 20, 32, 3, 3, 1, FN_PAD_VALID, 1, FN_ACT_NONE, 1, 0, 0);
    check_conv("Winograd 3x3 SAME 8x8 32->16 residual 0.17", 4, 8, 8, 32, 16, 3, 3, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 0.17f, 1, 1);
    check_conv("Winograd F4 3x3 SAME 41x39 16->16", 2, 41, 39, 16, 16, 3, 3, 1, FN_PAD_SAME, 0, FN_ACT_NONE, 1, 0, 0);
    /* maps of >= 24 px take F(4x4,3x3): partial tiles, two tile chunks, residual epilogue */
    check_conv("Winograd F4 3x3 VALID 66x62 16->24 (chunks)", 4, 66, 62, 16, 24, 3, 3, 1, FN_PAD_VALID, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("Winograd F4 3x3 SAME 27x25 32->16 residual", 1, 27, 25, 32, 16, 3, 3, 1, FN_PAD_SAME, 1, FN_ACT_NONE, 0.5f, 1, 1);
    /* 3x3 stride 2 at the channel counts of the reductions: odd and even outputs, SAME and
     * VALID, the residual epilogue */
    check_conv("stride-2 3x3 VALID 36x35 16->24 bias ReLU (chunks)", 3, 36, 35, 16, 24, 3, 3, 2, FN_PAD_VALID, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("stride-2 3x3 SAME 16x15 20->16 residual 0.3", 2, 16, 15, 20, 16, 3, 3, 2, FN_PAD_SAME, 1, FN_ACT_NONE, 0.3f, 1, 0);
    check_conv("stride-2 3x3 VALID 17x17 32->16", 2, 17, 17, 32, 16, 3, 3, 2, FN_PAD_VALID, 0, FN_ACT_NONE, 1, 0, 0);
    /* few output rows (batch 1 at 3x3 / 4x4 pixels): GEMMs with M = 9 and 16 */
    check_conv("small M: 1x1 3x3 1792->200 residual", 1, 3, 3, 1792, 200, 1, 1, 1, FN_PAD_VALID, 1, FN_ACT_RELU, 0.2f, 1, 0);
    check_conv("small M: 3x3 s2 VALID 9x9 64->70", 1, 9, 9, 64, 70, 3, 3, 2, FN_PAD_VALID, 1, FN_ACT_RELU, 1, 0, 0);
    check_conv("small M: 1x3 SAME 3x3 192->64 (N=1)", 1, 3, 3, 192, 64, 1, 3, 1, FN_PAD_SAME, 0, FN_ACT_NONE, 1, 0, 0);
    check_conv("3x3 VALID 160->79-like stem 15x15 3->8", 1, 15, 15, 3, 8, 3, 3, 2, FN_PAD_VALID, 1, FN_ACT_RELU, 1, 0, 0);
}

/* 1x7 / 7x1 stride 1 with >= 32 channels, >= 32 two-output tiles and tiles * Cin * Cout
 * >= 2^17 take the 1-D Winograd F(2,7) path (conv2d_winograd1d.c); each case first checks
 * that it does. */
static void check_conv1d(const char *what, int N, int H, int W, int Cin, int Cout, int kh, int kw,
                         fn_padding pad, int use_bias, fn_act act, float alpha, float beta) {
    fn_conv_shape s;
    fn_conv_shape_init(&s, N, H, W, Cin, Cout, kh, kw, 1, 1, pad);
    CHECK_MSG(fn_conv2d_uses_winograd1d(&s), "%s: does not take the F(2,7) path", what);
    check_conv(what, N, H, W, Cin, Cout, kh, kw, 1, pad, use_bias, act, alpha, beta, 0);
}

static void test_conv_winograd1d(void) {
    printf("1x7 / 7x1 as Winograd F(2,7) vs direct double-precision reference:\n");
    /* Block17's shapes (8x8, 128 channels); odd sides (a half-used edge tile); VALID;
     * the residual epilogue (beta = 1) on channel-slice views; > 1 tile chunk; batch 1 */
    check_conv1d("F(2,7) 1x7 SAME 8x8 128->128 bias ReLU", 2, 8, 8, 128, 128, 1, 7, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0);
    check_conv1d("F(2,7) 7x1 SAME 8x8 128->96 bias", 3, 8, 8, 128, 96, 7, 1, FN_PAD_SAME, 1, FN_ACT_NONE, 1, 0);
    check_conv1d("F(2,7) 1x7 SAME 8x8 128->128 N=1", 1, 8, 8, 128, 128, 1, 7, FN_PAD_SAME, 0, FN_ACT_NONE, 1, 0);
    check_conv1d("F(2,7) 1x7 SAME odd 9x7 32->40 bias ReLU", 3, 9, 7, 32, 40, 1, 7, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0);
    check_conv1d("F(2,7) 7x1 SAME odd 9x7 40->32", 3, 9, 7, 40, 32, 7, 1, FN_PAD_SAME, 0, FN_ACT_NONE, 1, 0);
    check_conv1d("F(2,7) 1x7 SAME odd 5x11 32->48 bias", 3, 5, 11, 32, 48, 1, 7, FN_PAD_SAME, 1, FN_ACT_NONE, 1, 0);
    check_conv1d("F(2,7) 7x1 SAME odd 5x11 48->32 bias ReLU", 4, 5, 11, 48, 32, 7, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0);
    check_conv1d("F(2,7) 1x7 VALID 6x13 32->32", 6, 6, 13, 32, 32, 1, 7, FN_PAD_VALID, 1, FN_ACT_NONE, 1, 0);
    check_conv1d("F(2,7) 1x7 residual 0.17, beta 1, ReLU", 2, 8, 8, 64, 48, 1, 7, FN_PAD_SAME, 1, FN_ACT_RELU, 0.17f, 1);
    check_conv1d("F(2,7) 7x1 residual 0.5, beta 1, odd 7x6", 3, 7, 6, 48, 64, 7, 1, FN_PAD_SAME, 1, FN_ACT_NONE, 0.5f, 1);
    check_conv1d("F(2,7) 7x1 SAME 16x16 32->32 (two chunks)", 3, 16, 16, 32, 32, 7, 1, FN_PAD_SAME, 1, FN_ACT_RELU, 1, 0);
    /* below the thresholds im2col stays: 16 tiles (batch 1 at 4x4); 32 tiles of 32 channels */
    fn_conv_shape s;
    fn_conv_shape_init(&s, 1, 4, 4, 128, 128, 1, 7, 1, 1, FN_PAD_SAME);
    CHECK(!fn_conv2d_uses_winograd1d(&s));
    fn_conv_shape_init(&s, 1, 8, 8, 32, 32, 7, 1, 1, 1, FN_PAD_SAME);
    CHECK(!fn_conv2d_uses_winograd1d(&s));
    fn_conv_shape_init(&s, 45, 8, 8, 16, 16, 1, 7, 1, 1, FN_PAD_SAME);
    CHECK(!fn_conv2d_uses_winograd1d(&s));
}

/* Folding batch norm into the weights equals conv followed by explicit batch norm. */
static void test_fold_bn(void) {
    printf("batch-norm folding:\n");
    const int Cin = 5, Cout = 7, H = 6, W = 6;
    float in[6 * 6 * 5], w[3 * 3 * 5 * 7], wf[3 * 3 * 5 * 7], bias[7], out[6 * 6 * 7], ws[6 * 6 * 45];
    float gamma[7], beta[7], mean[7], var[7];
    fill(in, sizeof in / 4, -1, 1); fill(w, sizeof w / 4, -0.5f, 0.5f);
    fill(gamma, 7, 0.5f, 1.5f); fill(beta, 7, -0.5f, 0.5f); fill(mean, 7, -0.5f, 0.5f); fill(var, 7, 0.1f, 2);
    memcpy(wf, w, sizeof w);
    fn_fold_batchnorm(wf, bias, 3 * 3 * Cin, Cout, gamma, beta, mean, var, 0.001f);
    fn_conv_shape s;
    fn_conv_shape_init(&s, 1, H, W, Cin, Cout, 3, 3, 1, 1, FN_PAD_SAME);
    fn_conv2d_forward(out, Cout, in, Cin, wf, bias, &s, FN_ACT_NONE, ws);
    double ref[6 * 6 * 7];
    conv_ref(ref, in, Cin, w, NULL, &s);
    float want[6 * 6 * 7];
    for (int p = 0; p < H * W; p++)
        for (int c = 0; c < Cout; c++)
            want[p * Cout + c] = (float)((ref[p * Cout + c] - mean[c]) / sqrt(var[c] + 0.001) * gamma[c] + beta[c]);
    CHECK_CLOSE("folded conv vs conv -> BN(eps 0.001)", out, want, H * W * Cout, 1e-5);
    /* gamma NULL = TF slim's fixed scale 1 */
    memcpy(wf, w, sizeof w);
    fn_fold_batchnorm(wf, bias, 3 * 3 * Cin, Cout, NULL, beta, mean, var, 0.001f);
    float wb[7];
    for (int c = 0; c < 7; c++) wb[c] = (float)(beta[c] - mean[c] / sqrt(var[c] + 0.001));
    CHECK_CLOSE("fold with gamma = NULL: bias", bias, wb, 7, 1e-6);
}

static void test_pools(void) {
    printf("pooling:\n");
    /* 4x4 single channel 1..16 with a second channel = -value, ld 3 (third column is junk) */
    float in[16 * 3], out[4 * 3];
    for (int i = 0; i < 16; i++) { in[i * 3] = (float)(i + 1); in[i * 3 + 1] = -(float)(i + 1); in[i * 3 + 2] = 99; }
    int OH, OW, pt, pl;
    /* 3x3/2 VALID: one output = max of rows/cols 0-2 */
    fn_conv_out_size(4, 3, 2, FN_PAD_VALID, &OH, &pt);
    CHECK(OH == 1);
    fn_maxpool_forward(out, 2, in, 3, 1, 4, 4, 2, 3, 2, 0, 0, 1, 1);
    float want_v[2] = {11, -1};
    CHECK_CLOSE("maxpool 3x3/2 VALID (two channels, ld 3)", out, want_v, 2, 0);
    /* 3x3/2 SAME on 4x4: 2x2 output, pad bottom/right; avg divides by in-image taps */
    fn_conv_out_size(4, 3, 2, FN_PAD_SAME, &OH, &pt);
    fn_conv_out_size(4, 3, 2, FN_PAD_SAME, &OW, &pl);
    CHECK(OH == 2 && pt == 0);
    fn_maxpool_forward(out, 2, in, 3, 1, 4, 4, 2, 3, 2, pt, pl, OH, OW);
    float want_max[8] = {11, -1, 12, -3, 15, -9, 16, -11};
    CHECK_CLOSE("maxpool 3x3/2 SAME", out, want_max, 8, 0);
    fn_avgpool_forward(out, 2, in, 3, 1, 4, 4, 2, 3, 2, pt, pl, OH, OW);
    float a00 = (1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11) / 9.0f, a01 = (3 + 4 + 7 + 8 + 11 + 12) / 6.0f;
    float a10 = (9 + 10 + 11 + 13 + 14 + 15) / 6.0f, a11 = (11 + 12 + 15 + 16) / 4.0f;
    float want_avg[8] = {a00, -a00, a01, -a01, a10, -a10, a11, -a11};
    CHECK_CLOSE("avgpool 3x3/2 SAME (in-image count)", out, want_avg, 8, 1e-6);
    /* SAME with a leading pad (odd 5x5, 3x3/2: pad 1 each side) */
    float in5[25], out5[9];
    for (int i = 0; i < 25; i++) in5[i] = (float)i;
    fn_conv_out_size(5, 3, 2, FN_PAD_SAME, &OH, &pt);
    CHECK(OH == 3 && pt == 1);
    fn_maxpool_forward(out5, 1, in5, 1, 1, 5, 5, 1, 3, 2, 1, 1, 3, 3);
    float want5[9] = {6, 8, 9, 16, 18, 19, 21, 23, 24};
    CHECK_CLOSE("maxpool 3x3/2 SAME odd 5x5", out5, want5, 9, 0);
    /* global average over HW per channel */
    float g_in[2 * 3 * 2] = {1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60}, g_out[4];
    fn_global_avgpool_forward(g_out, g_in, 2, 3, 2);
    float g_want[4] = {2, 20, 5, 50};
    CHECK_CLOSE("global average pool", g_out, g_want, 4, 1e-6);
}

static void test_elementwise(void) {
    printf("elementwise, dense, l2norm, softmax:\n");
    /* residual on a view: x (2 rows, C 3, ld 4) += 0.5 * up (ld 3), ReLU */
    float x[8] = {1, -2, 3, 7, -1, 0.5f, 2, 7}, up[6] = {2, 2, -8, 4, -4, 0};
    fn_residual_forward(x, 4, up, 3, 2, 3, 0.5f, FN_ACT_RELU);
    float want_x[8] = {2, 0, 0, 7, 1, 0, 2, 7};
    CHECK_CLOSE("residual x + 0.5*up, ReLU, ld 4", x, want_x, 8, 1e-6);
    float y[3] = {1, -2, 3}, u2[3] = {1, 1, 1};
    fn_residual_forward(y, 3, u2, 3, 1, 3, 1.0f, FN_ACT_NONE);
    float want_y[3] = {2, -1, 4};
    CHECK_CLOSE("residual scale 1, no ReLU", y, want_y, 3, 0);
    float r[6] = {-1, 2, -3, 4, -5, 6}, alpha[2] = {0.1f, 0.5f};
    fn_relu_forward(r, 1, 2, 3);                 /* only the first 2 of a row of 3 */
    float want_r[6] = {0, 2, -3, 4, -5, 6};
    CHECK_CLOSE("ReLU on a view", r, want_r, 6, 0);
    float pr[4] = {-1, -2, 3, -4};
    fn_prelu_forward(pr, 2, 2, 2, alpha);
    float want_pr[4] = {-0.1f, -1, 3, -2};
    CHECK_CLOSE("PReLU per channel", pr, want_pr, 4, 1e-7);

    enum { N = 3, CI = 37, CO = 11 };
    float in[N * CI], w[CI * CO], b[CO], out[N * CO], want[N * CO];
    fill(in, N * CI, -1, 1); fill(w, CI * CO, -1, 1); fill(b, CO, -1, 1);
    fn_dense_forward(out, in, w, b, N, CI, CO);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < CO; o++) {
            double a = b[o];
            for (int i = 0; i < CI; i++) a += (double)in[n * CI + i] * w[i * CO + o];
            want[n * CO + o] = (float)a;
        }
    CHECK_CLOSE("dense 3x37 @ 37x11 + bias", out, want, N * CO, 1e-5);

    float v[6] = {3, 4, 0, 0, 0, 0}, vn[6];
    fn_l2norm_forward(vn, v, 2, 3, 1e-10f);
    float want_n[6] = {0.6f, 0.8f, 0, 0, 0, 0};
    CHECK_CLOSE("l2norm [3,4,0] and zero row (eps 1e-10)", vn, want_n, 6, 1e-7);
    float tiny[2] = {1e-6f, 0}, tn[2];
    fn_l2norm_forward(tn, tiny, 1, 2, 1e-10f); /* sum 1e-12 < eps: divide by sqrt(eps) = 1e-5 */
    float want_t[2] = {0.1f, 0};
    CHECK_CLOSE("l2norm below eps divides by sqrt(eps)", tn, want_t, 2, 1e-6);

    float logits[4] = {1, 2, 1000, 1000}, sm[4];
    fn_softmax_forward(sm, logits, 2, 2);
    float e = (float)(1 / (1 + exp(1.0)));
    float want_sm[4] = {e, 1 - e, 0.5f, 0.5f};
    CHECK_CLOSE("softmax (incl. large logits)", sm, want_sm, 4, 1e-6);
}

int main(void) {
    test_padding();
    test_conv_hand();
    test_conv_cases();
    test_conv_winograd1d();
    test_fold_bn();
    test_pools();
    test_elementwise();
    return tu_finish("test_ops");
}
