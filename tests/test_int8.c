/* test_int8.c — the int8 kernels (issue 18):
 *  - every code path (AVX-512 VNNI, AVX2, portable C) against NumPy / PyTorch on committed
 *    fixtures (tools/gen_int8_fixtures.py), bit for bit;
 *  - every path against the portable one bit for bit on random shapes (tails in M, K, N);
 *  - the dequantised result against the float product within the quantisation bound. */
#include "ops/ops_int8.h"
#include "tensors.h"
#include "test_util.h"

static const fn_tensor *get(const fn_tensor_set *ts, const char *name) {
    const fn_tensor *t = fn_tensor_set_find(ts, name);
    if (!t) { fprintf(stderr, "fixture lacks %s\n", name); exit(1); }
    return t;
}

static int n_isas(void) { return (int)fn_int8_isa_best() + 1; }

static void fixture_gemm(void) {
    fn_tensor_set ts;
    CHECK(fn_safetensors_load(FN_SOURCE_DIR "/tests/fixtures/int8/gemm.safetensors", &ts) == FN_OK);
    const fn_tensor *A = get(&ts, "A"), *B = get(&ts, "B");
    const int M = (int)A->shape[0], K = (int)A->shape[1], N = (int)B->shape[1];
    fn_qmatrix q;
    CHECK(fn_qmatrix_init(&q, B->data, K, N) == FN_OK);
    uint8_t *a = calloc((size_t)M * q.Kp, 1), *u8 = malloc((size_t)M * N);
    float *f = malloc(sizeof(float) * M * N);
    for (int m = 0; m < M; m++) memcpy(a + (size_t)m * q.Kp, (uint8_t *)A->data + (size_t)m * K, K);
    for (int isa = 0; isa < n_isas(); isa++) {
        fn_int8_set_isa(isa);
        fn_qepilogue e1 = { FN_QOUT_U8, get(&ts, "bias")->data, get(&ts, "scale")->data, 0, 0, u8, N };
        fn_gemm_u8s8(a, M, q.Kp, &q, &e1);
        memcpy(f, get(&ts, "residual")->data, sizeof(float) * M * N);
        fn_qepilogue e2 = { FN_QOUT_F32, e1.bias, e1.scale, 1, 1, f, N };
        fn_gemm_u8s8(a, M, q.Kp, &q, &e2);
        int bad_u8 = memcmp(u8, get(&ts, "out_u8")->data, (size_t)M * N) != 0;
        int bad_f = memcmp(f, get(&ts, "out_f32_residual_relu")->data, sizeof(float) * M * N) != 0;
        printf("  gemm %dx%dx%d vs NumPy, %-12s u8 %s, f32+residual+relu %s\n", M, K, N,
               fn_int8_isa_name(isa), bad_u8 ? "DIFFERS" : "equal", bad_f ? "DIFFERS" : "equal");
        CHECK(!bad_u8 && !bad_f);
    }
    fn_int8_set_isa(FN_ISA_VNNI);
    fn_qmatrix_free(&q);
    free(a); free(u8); free(f);
    fn_tensor_set_free(&ts);
}

static void fixture_conv(void) {
    fn_tensor_set ts;
    CHECK(fn_safetensors_load(FN_SOURCE_DIR "/tests/fixtures/int8/conv.safetensors", &ts) == FN_OK);
    const fn_tensor *x = get(&ts, "x"), *w = get(&ts, "w");
    const int n = (int)x->shape[0], H = (int)x->shape[1], W = (int)x->shape[2], C = (int)x->shape[3];
    const int O = (int)w->shape[3];
    const uint8_t z = 7;
    for (int stride = 1; stride <= 2; stride++) {
        fn_qconv c;
        CHECK(fn_qconv_init(&c, w->data, 3, 3, C, O, stride, stride, FN_PAD_SAME, z) == FN_OK);
        int32_t bias[64];
        memcpy(bias, get(&ts, "bias")->data, sizeof(int32_t) * O);
        fn_qconv_fold_zero(&c, bias);
        fn_conv_shape s;
        fn_conv_shape_init(&s, n, H, W, C, O, 3, 3, stride, stride, FN_PAD_SAME);
        char name[16];
        snprintf(name, sizeof name, "out_s%d", stride);
        const fn_tensor *want = get(&ts, name);
        const size_t nout = (size_t)n * s.OH * s.OW * O;
        CHECK((size_t)fn_tensor_numel(want) == nout);
        float *out = malloc(sizeof(float) * nout);
        uint8_t *ws = malloc(fn_conv2d_u8_workspace(&s, &c) + 1);
        for (int isa = 0; isa < n_isas(); isa++) {
            fn_int8_set_isa(isa);
            fn_qepilogue e = { FN_QOUT_F32, bias, get(&ts, "scale")->data, 0, 0, out, O };
            fn_conv2d_u8_forward(x->data, C, &c, &s, &e, ws);
            int bad = memcmp(out, want->data, sizeof(float) * nout) != 0;
            printf("  conv 3x3/%d SAME, zero point %d vs PyTorch, %-12s %s\n", stride, z, fn_int8_isa_name(isa),
                   bad ? "DIFFERS" : "equal");
            CHECK(!bad);
        }
        fn_int8_set_isa(FN_ISA_VNNI);
        free(out); free(ws);
        fn_qconv_free(&c);
    }
    fn_tensor_set_free(&ts);
}

/* random shapes: each path equals the portable one bit for bit */
static void cross_paths(void) {
    static const int shapes[][3] = { { 1, 4, 16 }, { 5, 3, 7 }, { 13, 147, 32 }, { 100, 576, 64 },
                                     { 29, 33, 130 }, { 97, 1152, 48 }, { 12, 8, 256 } };
    fn_rng r = { 42 };
    int all_equal = 1;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const int M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        int8_t *b = malloc((size_t)K * N);
        for (long i = 0; i < (long)K * N; i++) b[i] = (int8_t)((int)(fn_rng_next(&r) % 255) - 127);
        fn_qmatrix q;
        CHECK(fn_qmatrix_init(&q, b, K, N) == FN_OK);
        uint8_t *a = calloc((size_t)M * q.Kp, 1);
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) a[(size_t)m * q.Kp + k] = (uint8_t)(fn_rng_next(&r) % 256);
        int32_t *bias = malloc(sizeof(int32_t) * N);
        float *scale = malloc(sizeof(float) * N), *res = malloc(sizeof(float) * M * N);
        for (int n = 0; n < N; n++) {
            bias[n] = (int32_t)(fn_rng_next(&r) % 100001) - 50000;
            scale[n] = (float)(1 + fn_rng_next(&r) % 1000) / (300.0f * K);
        }
        for (long i = 0; i < (long)M * N; i++) res[i] = (float)((int)(fn_rng_next(&r) % 2001) - 1000) / 37.0f;
        uint8_t *u8[3];
        float *f[3];
        for (int isa = 0; isa < n_isas(); isa++) {
            fn_int8_set_isa(isa);
            u8[isa] = malloc((size_t)M * N);
            f[isa] = malloc(sizeof(float) * M * N);
            memcpy(f[isa], res, sizeof(float) * M * N);
            fn_qepilogue e1 = { FN_QOUT_U8, bias, scale, 0, 0, u8[isa], N };
            fn_gemm_u8s8(a, M, q.Kp, &q, &e1);
            fn_qepilogue e2 = { FN_QOUT_F32, (si & 1) ? NULL : bias, scale, (int)(si % 3 == 0), (int)(si % 2 == 0), f[isa], N };
            fn_gemm_u8s8(a, M, q.Kp, &q, &e2);
            if (isa > 0) {
                int eq = !memcmp(u8[isa], u8[0], (size_t)M * N) && !memcmp(f[isa], f[0], sizeof(float) * M * N);
                if (!eq) printf("  %dx%dx%d: %s differs from portable\n", M, K, N, fn_int8_isa_name(isa));
                all_equal &= eq;
                CHECK(eq);
            }
        }
        for (int isa = 0; isa < n_isas(); isa++) { free(u8[isa]); free(f[isa]); }
        free(a); free(b); free(bias); free(scale); free(res);
        fn_qmatrix_free(&q);
    }
    fn_int8_set_isa(FN_ISA_VNNI);
    printf("  %d paths on 7 random shapes (u8 and f32 epilogues): %s\n", n_isas(), all_equal ? "bit-identical" : "DIFFER");
}

/* Quantise float a >= 0 (per tensor) and w (per column, symmetric) and compare the
 * dequantised product with the float one: |a·w - sa qa · sw qw| <= sum_k (|a_k| sw/2 +
 * |w_k| sa/2 + sa sw / 4), plus the bias's rounding (sa sw / 2) and float rounding. */
static void float_bound(void) {
    const int M = 50, K = 300, N = 40;
    fn_rng r = { 7 };
    float *a = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * K * N), bf[40];
    for (long i = 0; i < (long)M * K; i++) a[i] = (float)(fn_rng_next(&r) % 100000) / 100000.0f * 3.0f;
    for (long i = 0; i < (long)K * N; i++) w[i] = ((float)(fn_rng_next(&r) % 200001) / 100000.0f - 1.0f) * 0.2f;
    for (int n = 0; n < N; n++) bf[n] = ((float)(fn_rng_next(&r) % 2001) / 1000.0f - 1.0f);
    const float sa = 3.0f / 255.0f;
    float sw[40], scale[40];
    int32_t bias[40];
    int8_t *qw = malloc((size_t)K * N);
    for (int n = 0; n < N; n++) {
        float mx = 0;
        for (int k = 0; k < K; k++) mx = fmaxf(mx, fabsf(w[(size_t)k * N + n]));
        sw[n] = mx / 127.0f;
        for (int k = 0; k < K; k++) qw[(size_t)k * N + n] = (int8_t)nearbyintf(w[(size_t)k * N + n] / sw[n]);
        bias[n] = (int32_t)nearbyintf(bf[n] / (sa * sw[n]));
        scale[n] = sa * sw[n];
    }
    fn_qmatrix q;
    CHECK(fn_qmatrix_init(&q, qw, K, N) == FN_OK);
    uint8_t *qa = calloc((size_t)M * q.Kp, 1);
    fn_quantize_u8(qa, q.Kp, a, K, M, K, 1.0f / sa, 0);
    float *out = malloc(sizeof(float) * M * N);
    fn_qepilogue e = { FN_QOUT_F32, bias, scale, 0, 0, out, N };
    fn_gemm_u8s8(qa, M, q.Kp, &q, &e);
    double worst = 0; /* error / bound */
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double ref = bf[n], bound = 0.5 * sa * sw[n];
            for (int k = 0; k < K; k++) {
                double av = a[(size_t)m * K + k], wv = w[(size_t)k * N + n];
                ref += av * wv;
                bound += fabs(av) * sw[n] / 2 + fabs(wv) * sa / 2 + sa * sw[n] / 4;
            }
            bound += 1e-6 * (1 + fabs(ref));
            double ratio = fabs(out[(size_t)m * N + n] - ref) / bound;
            if (ratio > worst) worst = ratio;
        }
    printf("  int8 vs float product (%dx%dx%d): worst error %.3f of the quantisation bound\n", M, K, N, worst);
    CHECK(worst <= 1.0);
    fn_qmatrix_free(&q);
    free(a); free(w); free(qw); free(qa); free(out);
}

int main(void) {
    printf("int8 paths on this CPU: best %s\n", fn_int8_isa_name(fn_int8_isa_best()));
    fixture_gemm();
    fixture_conv();
    cross_paths();
    float_bound();
    return tu_finish("test_int8");
}
