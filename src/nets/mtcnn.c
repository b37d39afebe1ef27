/* mtcnn.c — P-Net, R-Net and O-Net forward passes over NHWC float tensors. Layers follow
 * facenet-pytorch's models/mtcnn.py exactly: VALID convolutions, MaxPool2d(ceil_mode=True),
 * softmax over the two class channels, dense layers reading the (W,H,C)-flattened map.
 *
 * The kernels are MTCNN's own rather than src/ops' im2col + SGEMM: with 10..128 channels
 * the GEMM path spent most of its time copying (im2col, packing), while a direct
 * convolution with bias + PReLU fused and the output channels in vector registers runs
 * several times faster here (measured: bench/bench_detect.sh, docs/BENCHMARKS.md). */
#include "mtcnn.h"

/* ------------------------------------------------------------------ weights */

/* Bump allocation in two passes: the first (base NULL) only counts floats. */
typedef struct { float *base; size_t used; } bump;

static float *take(bump *b, size_t n) {
    float *p = b->base ? b->base + b->used : NULL;
    b->used += n;
    return p;
}

/* OIHW conv weights -> HWIO columns [co_off, co_off+cout) of a (kh*kw*cin, ld) matrix. */
static fn_status read_conv(const fn_tensor_set *ts, const char *name, int cout, int cin, int k,
                           float *w_hwio, int ld, int co_off, float *bias) {
    char key[64];
    const float *w, *b;
    snprintf(key, sizeof key, "%s.weight", name);
    FN_TRY(fn_tensor_set_get_f32(ts, key, 4, (const int64_t[]){ cout, cin, k, k }, &w));
    snprintf(key, sizeof key, "%s.bias", name);
    FN_TRY(fn_tensor_set_get_f32(ts, key, 1, (const int64_t[]){ cout }, &b));
    for (int co = 0; co < cout; co++) {
        bias[co_off + co] = b[co];
        for (int ci = 0; ci < cin; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    w_hwio[((size_t)(ky * k + kx) * cin + ci) * ld + co_off + co] =
                        w[(((size_t)co * cin + ci) * k + ky) * k + kx];
    }
    return FN_OK;
}

/* PyTorch Linear weight (cout, cin) -> (cin, ld) columns [co_off, co_off+cout). When the
 * input is a flattened (H,W,C) map, facenet-pytorch flattened it as (W,H,C): reorder the
 * rows so the layer reads our NHWC activations as they are. */
static fn_status read_dense(const fn_tensor_set *ts, const char *name, int cout, int cin,
                            int map_h, int map_w, float *w_out, int ld, int co_off, float *bias) {
    char key[64];
    const float *w, *b;
    snprintf(key, sizeof key, "%s.weight", name);
    FN_TRY(fn_tensor_set_get_f32(ts, key, 2, (const int64_t[]){ cout, cin }, &w));
    snprintf(key, sizeof key, "%s.bias", name);
    FN_TRY(fn_tensor_set_get_f32(ts, key, 1, (const int64_t[]){ cout }, &b));
    int C = map_h ? cin / (map_h * map_w) : 0;
    for (int co = 0; co < cout; co++) {
        bias[co_off + co] = b[co];
        for (int g = 0; g < cin; g++) {
            int f = g; /* torch's input index for our NHWC index g */
            if (map_h) {
                int c = g % C, hw = g / C, y = hw / map_w, x = hw % map_w;
                f = (x * map_h + y) * C + c;
            }
            w_out[(size_t)g * ld + co_off + co] = w[(size_t)co * cin + f];
        }
    }
    return FN_OK;
}

static fn_status read_prelu(const fn_tensor_set *ts, const char *name, int c, float *out) {
    char key[64];
    const float *a;
    snprintf(key, sizeof key, "%s.weight", name);
    FN_TRY(fn_tensor_set_get_f32(ts, key, 1, (const int64_t[]){ c }, &a));
    memcpy(out, a, sizeof(float) * c);
    return FN_OK;
}

/* A conv whose outputs are padded to cpad channels (zero weights, bias and PReLU slope, so
 * the padding stays exactly 0) for the direct kernels below. */
static void conv_alloc(bump *b, mtcnn_conv *c, int k, int cin, int cout, int cpad) {
    FN_ASSERT(cout <= cpad);
    c->kh = c->kw = k; c->cin = cin; c->cout = cpad;
    c->w = take(b, (size_t)k * k * cin * cpad);
    c->b = take(b, cpad);
    c->alpha = take(b, cpad);
}

static void dense_alloc(bump *b, mtcnn_dense *d, int cin, int cout) {
    FN_ASSERT(cout % 8 == 0);
    d->cin = cin; d->cout = cout;
    d->w = take(b, (size_t)cin * cout);
    d->b = take(b, cout);
}

static void layout(mtcnn_nets *n, bump *b) {
    conv_alloc(b, &n->p1, 3, 3, 10, 16);
    conv_alloc(b, &n->p2, 3, 10, 16, 16);
    conv_alloc(b, &n->p3, 3, 16, 32, 32);
    dense_alloc(b, &n->p_head, 32, 8); /* 2 + 4 outputs, padded */
    conv_alloc(b, &n->r1, 3, 3, 28, 32);
    conv_alloc(b, &n->r2, 3, 28, 48, 48);
    conv_alloc(b, &n->r3, 2, 48, 64, 64);
    dense_alloc(b, &n->r4, 576, 128);
    n->r_a4 = take(b, 128);
    dense_alloc(b, &n->r_head, 128, 8);
    conv_alloc(b, &n->o1, 3, 3, 32, 32);
    conv_alloc(b, &n->o2, 3, 32, 64, 64);
    conv_alloc(b, &n->o3, 3, 64, 64, 64);
    conv_alloc(b, &n->o4, 2, 64, 128, 128);
    dense_alloc(b, &n->o5, 1152, 256);
    n->o_a5 = take(b, 256);
    dense_alloc(b, &n->o_head, 256, 16);
}

static fn_status conv_read(const fn_tensor_set *ts, const char *name, const char *prelu,
                           int cout, mtcnn_conv *c) {
    FN_TRY(read_conv(ts, name, cout, c->cin, c->kh, c->w, c->cout, 0, c->b));
    return read_prelu(ts, prelu, cout, c->alpha);
}

fn_status mtcnn_nets_init(mtcnn_nets *n, const fn_tensor_set *ts) {
    memset(n, 0, sizeof *n);
    bump count = { NULL, 0 };
    layout(n, &count);
    n->mem = fn_calloc(count.used, sizeof(float)); /* zero: the channel padding */
    if (!n->mem) return FN_ERR_NOMEM;
    bump b = { n->mem, 0 };
    layout(n, &b);

    fn_status s = FN_OK;
#define R(x) do { if (s == FN_OK) s = (x); } while (0)
    R(conv_read(ts, "pnet.conv1", "pnet.prelu1", 10, &n->p1));
    R(conv_read(ts, "pnet.conv2", "pnet.prelu2", 16, &n->p2));
    R(conv_read(ts, "pnet.conv3", "pnet.prelu3", 32, &n->p3));
    R(read_conv(ts, "pnet.conv4_1", 2, 32, 1, n->p_head.w, 8, 0, n->p_head.b));
    R(read_conv(ts, "pnet.conv4_2", 4, 32, 1, n->p_head.w, 8, 2, n->p_head.b));

    R(conv_read(ts, "rnet.conv1", "rnet.prelu1", 28, &n->r1));
    R(conv_read(ts, "rnet.conv2", "rnet.prelu2", 48, &n->r2));
    R(conv_read(ts, "rnet.conv3", "rnet.prelu3", 64, &n->r3));
    R(read_dense(ts, "rnet.dense4", 128, 576, 3, 3, n->r4.w, 128, 0, n->r4.b));
    R(read_prelu(ts, "rnet.prelu4", 128, n->r_a4));
    R(read_dense(ts, "rnet.dense5_1", 2, 128, 0, 0, n->r_head.w, 8, 0, n->r_head.b));
    R(read_dense(ts, "rnet.dense5_2", 4, 128, 0, 0, n->r_head.w, 8, 2, n->r_head.b));

    R(conv_read(ts, "onet.conv1", "onet.prelu1", 32, &n->o1));
    R(conv_read(ts, "onet.conv2", "onet.prelu2", 64, &n->o2));
    R(conv_read(ts, "onet.conv3", "onet.prelu3", 64, &n->o3));
    R(conv_read(ts, "onet.conv4", "onet.prelu4", 128, &n->o4));
    R(read_dense(ts, "onet.dense5", 256, 1152, 3, 3, n->o5.w, 256, 0, n->o5.b));
    R(read_prelu(ts, "onet.prelu5", 256, n->o_a5));
    R(read_dense(ts, "onet.dense6_1", 2, 256, 0, 0, n->o_head.w, 16, 0, n->o_head.b));
    R(read_dense(ts, "onet.dense6_2", 4, 256, 0, 0, n->o_head.w, 16, 2, n->o_head.b));
    R(read_dense(ts, "onet.dense6_3", 10, 256, 0, 0, n->o_head.w, 16, 6, n->o_head.b));
#undef R
    if (s != FN_OK) mtcnn_nets_free(n);
    return s;
}

void mtcnn_nets_free(mtcnn_nets *n) {
    if (!n) return;
    fn_free(n->mem);
    memset(n, 0, sizeof *n);
}

/* ------------------------------------------------------------------ layers */

/* Direct VALID convolution, stride 1, with bias and PReLU fused:
 * out (N,H-k+1,W-k+1,COUT) = prelu(conv(in (N,H,W,[ldi]), w (k,k,cin,COUT)) + b).
 * Each block keeps PB output pixels x COUT channels in vector registers (8-float GCC
 * vectors) and reuses every weight load PB times: MTCNN's small channel counts (10..128)
 * make im2col + GEMM spend most of its time copying. */
typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32), aligned(4)));

#define DEFINE_CONV_DIRECT(COUT, PB)                                                          \
static inline __attribute__((always_inline)) void conv_block_##COUT(                           \
        float *o, const float *img, int ldi, int W, int oy, int ox, int cin, int k,             \
        const float *w, const float *b, const float *alpha, const int np) {                     \
    enum { NV = COUT / 8 };                                                                     \
    v8f acc[PB][NV];                                                                            \
    for (int p = 0; p < np; p++)                                                                \
        for (int j = 0; j < NV; j++) acc[p][j] = *(const v8f *)(b + 8 * j);                    \
    for (int ky = 0; ky < k; ky++)                                                              \
        for (int kx = 0; kx < k; kx++) {                                                        \
            const float *wk = w + (size_t)(ky * k + kx) * cin * COUT;                           \
            const float *ip = img + ((size_t)(oy + ky) * W + ox + kx) * ldi;                    \
            for (int ci = 0; ci < cin; ci++) {                                                  \
                v8f wv[NV];                                                                     \
                for (int j = 0; j < NV; j++) wv[j] = *(const v8f *)(wk + (size_t)ci * COUT + 8 * j); \
                for (int p = 0; p < np; p++) {                                                  \
                    const v8f a = (v8f){ 0 } + ip[(size_t)p * ldi + ci];                        \
                    for (int j = 0; j < NV; j++) acc[p][j] += a * wv[j];                        \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    for (int j = 0; j < NV; j++) {                                                              \
        const v8f al = *(const v8f *)(alpha + 8 * j), zero = { 0 };                             \
        for (int p = 0; p < np; p++) {                                                          \
            v8f v = acc[p][j];                                                                  \
            const v8i pos = v > zero; /* PReLU: v where v > 0, else alpha * v */                \
            *(v8f *)(o + p * COUT + 8 * j) = (v8f)(((v8i)v & pos) | ((v8i)(v * al) & ~pos));    \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
static void conv_direct_##COUT(float *out, const float *in, int ldi, int N, int H, int W,       \
                               int cin, int k, const float *w, const float *b,                  \
                               const float *alpha) {                                            \
    const int OH = H - k + 1, OW = W - k + 1;                                                   \
    const long rows = (long)N * OH;                                                             \
    for (long r = 0; r < rows; r++) {                                                           \
        const int n = (int)(r / OH), oy = (int)(r % OH);                                        \
        const float *img = in + (size_t)n * H * W * ldi;                                        \
        float *orow = out + (size_t)r * OW * COUT;                                              \
        int ox = 0;                                                                             \
        for (; ox + PB <= OW; ox += PB)                                                         \
            conv_block_##COUT(orow + (size_t)ox * COUT, img, ldi, W, oy, ox, cin, k, w, b,      \
                              alpha, PB);                                                       \
        for (; ox < OW; ox++)                                                                   \
            conv_block_##COUT(orow + (size_t)ox * COUT, img, ldi, W, oy, ox, cin, k, w, b,      \
                              alpha, 1);                                                        \
    }                                                                                           \
}

DEFINE_CONV_DIRECT(16, 8)
DEFINE_CONV_DIRECT(32, 4)
DEFINE_CONV_DIRECT(48, 3)
DEFINE_CONV_DIRECT(64, 2)
DEFINE_CONV_DIRECT(128, 1)

/* out (N,H-k+1,W-k+1,c->cout) = prelu(conv_valid(in (N,H,W,[ldi]))) */
static void conv_prelu_forward(float *out, const float *in, int ldi, int N, int H, int W,
                               const mtcnn_conv *c, int *OH, int *OW) {
    switch (c->cout) {
    case 16: conv_direct_16(out, in, ldi, N, H, W, c->cin, c->kh, c->w, c->b, c->alpha); break;
    case 32: conv_direct_32(out, in, ldi, N, H, W, c->cin, c->kh, c->w, c->b, c->alpha); break;
    case 48: conv_direct_48(out, in, ldi, N, H, W, c->cin, c->kh, c->w, c->b, c->alpha); break;
    case 64: conv_direct_64(out, in, ldi, N, H, W, c->cin, c->kh, c->w, c->b, c->alpha); break;
    case 128: conv_direct_128(out, in, ldi, N, H, W, c->cin, c->kh, c->w, c->b, c->alpha); break;
    default: FN_ASSERT(!"unsupported padded channel count");
    }
    *OH = H - c->kh + 1;
    *OW = W - c->kw + 1;
}

/* PyTorch MaxPool2d(k, stride, ceil_mode=True), no padding. */
static int pool_out(int in, int k, int stride) {
    if (in < k) return in > 0 ? 1 : 0;
    return (in - k + stride - 1) / stride + 1;
}

/* MaxPool2d(k, stride, ceil_mode=True) over (N,H,W,C), C a multiple of 8; windows that
 * run past the bottom/right edge use their in-image taps only. */
static void maxpool_ceil_forward(float *out, const float *in, int N, int H, int W, int C, int k,
                                 int stride, int *OH_out, int *OW_out) {
    const int OH = pool_out(H, k, stride), OW = pool_out(W, k, stride), NV = C / 8;
    FN_ASSERT(C % 8 == 0);
    *OH_out = OH;
    *OW_out = OW;
    const long rows = (long)N * OH;
    for (long r = 0; r < rows; r++) {
        const int n = (int)(r / OH), oy = (int)(r % OH);
        const int y0 = oy * stride, y1 = y0 + k < H ? y0 + k : H;
        for (int ox = 0; ox < OW; ox++) {
            const int x0 = ox * stride, x1 = x0 + k < W ? x0 + k : W;
            float *o = out + ((size_t)r * OW + ox) * C;
            for (int j = 0; j < NV; j++) {
                v8f m = *(const v8f *)(in + (((size_t)n * H + y0) * W + x0) * C + 8 * j);
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        const v8f v = *(const v8f *)(in + (((size_t)n * H + y) * W + x) * C + 8 * j);
                        const v8i gt = v > m;
                        m = (v8f)(((v8i)v & gt) | ((v8i)m & ~gt));
                    }
                *(v8f *)(o + 8 * j) = m;
            }
        }
    }
}

/* out (N, cout) = in (N, cin) @ w (cin, cout) + b, then PReLU when alpha is given. Blocks
 * of 4 rows x 32 outputs stay in registers; cout is a multiple of 8. (Small enough that a
 * BLAS call, with its own threads, would cost more than it saves inside our OpenMP loops.) */
static inline __attribute__((always_inline)) void dense_block(
        float *out, const float *in, int cin, int cout, const float *w, const float *b,
        const float *alpha, int n0, int j0, const int nr, const int nj) {
    v8f acc[4][4];
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < nj; j++) acc[r][j] = *(const v8f *)(b + 8 * (j0 + j));
    for (int ci = 0; ci < cin; ci++) {
        v8f wv[4];
        for (int j = 0; j < nj; j++) wv[j] = *(const v8f *)(w + (size_t)ci * cout + 8 * (j0 + j));
        for (int r = 0; r < nr; r++) {
            const v8f a = (v8f){ 0 } + in[(size_t)(n0 + r) * cin + ci];
            for (int j = 0; j < nj; j++) acc[r][j] += a * wv[j];
        }
    }
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < nj; j++) {
            v8f v = acc[r][j];
            if (alpha) {
                const v8f al = *(const v8f *)(alpha + 8 * (j0 + j)), zero = { 0 };
                const v8i pos = v > zero;
                v = (v8f)(((v8i)v & pos) | ((v8i)(v * al) & ~pos));
            }
            *(v8f *)(out + (size_t)(n0 + r) * cout + 8 * (j0 + j)) = v;
        }
}

static void dense_forward(float *out, const float *in, int N, const mtcnn_dense *d,
                          const float *alpha) {
    const int NV = d->cout / 8;
    for (int n0 = 0; n0 < N; n0 += 4)
        for (int j0 = 0; j0 < NV; j0 += 4) {
            const int nr = N - n0 < 4 ? N - n0 : 4, nj = NV - j0 < 4 ? NV - j0 : 4;
            if (nr == 4 && nj == 4) dense_block(out, in, d->cin, d->cout, d->w, d->b, alpha, n0, j0, 4, 4);
            else dense_block(out, in, d->cin, d->cout, d->w, d->b, alpha, n0, j0, nr, nj);
        }
}

/* the face probability of two class logits: softmax(l)[1] */
static inline float face_prob(float l0, float l1) { return 1.0f / (1.0f + expf(l0 - l1)); }

/* ------------------------------------------------------------------ P-Net */

void mtcnn_pnet_out_size(int H, int W, int *OH, int *OW) {
    if (H < 12 || W < 12) { *OH = *OW = 0; return; }
    *OH = pool_out(H - 2, 2, 2) - 4;
    *OW = pool_out(W - 2, 2, 2) - 4;
}

/* Output rows per strip: bounds the activations on large photos (conv1's output, the
 * largest, is about 2 * rows * W * 16 floats); the 10-row halo costs a few percent. */
static int pnet_strip_rows(int OW) {
    long r = (4L << 20) / ((long)OW * 64);
    return r < 8 ? 8 : (int)r;
}

fn_status mtcnn_pnet_forward(const mtcnn_nets *n, const float *in, int H, int W, float *out) {
    int OH, OW;
    mtcnn_pnet_out_size(H, W, &OH, &OW);
    if (OH <= 0 || OW <= 0) return FN_OK;
    const int strip = pnet_strip_rows(OW) < OH ? pnet_strip_rows(OW) : OH;
    /* buffers for one strip: conv1 (2r+8 rows), pool (r+4), conv2 (r+2), conv3 (r), head */
    const size_t c1 = (size_t)(2 * strip + 9) * (W - 2) * 16;
    const size_t p1 = (size_t)(strip + 5) * (OW + 4) * 16;
    const size_t c2 = (size_t)(strip + 3) * (OW + 2) * 16;
    const size_t c3 = (size_t)(strip + 1) * OW * 32;
    const size_t hd = (size_t)(strip + 1) * OW * 8;
    float *buf = fn_malloc(sizeof(float) * (c1 + p1 + c2 + c3 + hd));
    if (!buf) return FN_ERR_NOMEM;
    float *b_c1 = buf, *b_p1 = b_c1 + c1, *b_c2 = b_p1 + p1, *b_c3 = b_c2 + c2, *b_hd = b_c3 + c3;
    for (int oy0 = 0; oy0 < OH; oy0 += strip) {
        const int rows = OH - oy0 < strip ? OH - oy0 : strip;
        /* input rows [2*oy0, 2*(oy0+rows)+10), or to the bottom for the last strip (the
         * ceil-mode pool then sees the same bottom edge as on the whole image) */
        const int iy0 = 2 * oy0;
        const int ih = oy0 + rows == OH ? H - iy0 : 2 * rows + 10;
        int h1, w1, h2, w2, h3, w3, h4, w4;
        conv_prelu_forward(b_c1, in + (size_t)iy0 * W * 3, 3, 1, ih, W, &n->p1, &h1, &w1);
        maxpool_ceil_forward(b_p1, b_c1, 1, h1, w1, 16, 2, 2, &h2, &w2);
        conv_prelu_forward(b_c2, b_p1, 16, 1, h2, w2, &n->p2, &h3, &w3);
        conv_prelu_forward(b_c3, b_c2, 16, 1, h3, w3, &n->p3, &h4, &w4);
        FN_ASSERT(h4 == rows && w4 == OW);
        dense_forward(b_hd, b_c3, rows * OW, &n->p_head, NULL); /* the 1x1 heads */
        float *o = out + (size_t)oy0 * OW * 5;
        for (size_t i = 0; i < (size_t)rows * OW; i++) {
            const float *h = b_hd + i * 8;
            o[i * 5] = face_prob(h[0], h[1]);
            for (int j = 0; j < 4; j++) o[i * 5 + 1 + j] = h[2 + j];
        }
    }
    fn_free(buf);
    return FN_OK;
}

/* ------------------------------------------------------------------ R-Net / O-Net */

#define RNET_CHUNK 64
#define ONET_CHUNK 32

fn_status mtcnn_rnet_forward(const mtcnn_nets *n, const float *in, int N, float *out) {
    const int B = N < RNET_CHUNK ? N : RNET_CHUNK;
    if (B <= 0) return FN_OK;
    /* per crop: conv1 22x22x32 (28 + padding), pool 11x11x32, conv2 9x9x48, pool 4x4x48,
     * conv3 3x3x64, dense 128, heads 8 (6 + padding) */
    const size_t per = (size_t)22 * 22 * 32 + 11 * 11 * 32 + 9 * 9 * 48 + 4 * 4 * 48 + 576 + 128 + 8;
    float *buf = fn_malloc(sizeof(float) * B * per);
    if (!buf) return FN_ERR_NOMEM;
    float *x1 = buf, *x2 = x1 + (size_t)B * 22 * 22 * 32, *x3 = x2 + (size_t)B * 11 * 11 * 32;
    float *x4 = x3 + (size_t)B * 9 * 9 * 48, *x5 = x4 + (size_t)B * 4 * 4 * 48;
    float *x6 = x5 + (size_t)B * 576, *x7 = x6 + (size_t)B * 128;
    for (int n0 = 0; n0 < N; n0 += B) {
        const int nb = N - n0 < B ? N - n0 : B;
        int h, w;
        conv_prelu_forward(x1, in + (size_t)n0 * 24 * 24 * 3, 3, nb, 24, 24, &n->r1, &h, &w);
        maxpool_ceil_forward(x2, x1, nb, h, w, 32, 3, 2, &h, &w);                  /* 11x11 */
        conv_prelu_forward(x3, x2, 32, nb, h, w, &n->r2, &h, &w);                  /* 9x9 */
        maxpool_ceil_forward(x4, x3, nb, h, w, 48, 3, 2, &h, &w);                  /* 4x4 */
        conv_prelu_forward(x5, x4, 48, nb, h, w, &n->r3, &h, &w);                  /* 3x3 */
        FN_ASSERT(h == 3 && w == 3);
        dense_forward(x6, x5, nb, &n->r4, n->r_a4);
        dense_forward(x7, x6, nb, &n->r_head, NULL);
        for (int i = 0; i < nb; i++) {
            const float *hd = x7 + (size_t)i * 8;
            float *o = out + (size_t)(n0 + i) * 5;
            o[0] = face_prob(hd[0], hd[1]);
            for (int j = 0; j < 4; j++) o[1 + j] = hd[2 + j];
        }
    }
    fn_free(buf);
    return FN_OK;
}

fn_status mtcnn_onet_forward(const mtcnn_nets *n, const float *in, int N, float *out) {
    const int B = N < ONET_CHUNK ? N : ONET_CHUNK;
    if (B <= 0) return FN_OK;
    /* per crop: conv1 46x46x32, pool 23x23x32, conv2 21x21x64, pool 10x10x64, conv3 8x8x64,
     * pool 4x4x64, conv4 3x3x128, dense 256, heads 16 */
    const size_t per = (size_t)46 * 46 * 32 + 23 * 23 * 32 + 21 * 21 * 64 + 10 * 10 * 64 +
                       8 * 8 * 64 + 4 * 4 * 64 + 1152 + 256 + 16;
    float *buf = fn_malloc(sizeof(float) * B * per);
    if (!buf) return FN_ERR_NOMEM;
    float *x1 = buf, *x2 = x1 + (size_t)B * 46 * 46 * 32, *x3 = x2 + (size_t)B * 23 * 23 * 32;
    float *x4 = x3 + (size_t)B * 21 * 21 * 64, *x5 = x4 + (size_t)B * 10 * 10 * 64;
    float *x6 = x5 + (size_t)B * 8 * 8 * 64, *x7 = x6 + (size_t)B * 4 * 4 * 64;
    float *x8 = x7 + (size_t)B * 1152, *x9 = x8 + (size_t)B * 256;
    for (int n0 = 0; n0 < N; n0 += B) {
        const int nb = N - n0 < B ? N - n0 : B;
        int h, w;
        conv_prelu_forward(x1, in + (size_t)n0 * 48 * 48 * 3, 3, nb, 48, 48, &n->o1, &h, &w);
        maxpool_ceil_forward(x2, x1, nb, h, w, 32, 3, 2, &h, &w);                  /* 23x23 */
        conv_prelu_forward(x3, x2, 32, nb, h, w, &n->o2, &h, &w);                  /* 21x21 */
        maxpool_ceil_forward(x4, x3, nb, h, w, 64, 3, 2, &h, &w);                  /* 10x10 */
        conv_prelu_forward(x5, x4, 64, nb, h, w, &n->o3, &h, &w);                  /* 8x8 */
        maxpool_ceil_forward(x6, x5, nb, h, w, 64, 2, 2, &h, &w);                  /* 4x4 */
        conv_prelu_forward(x7, x6, 64, nb, h, w, &n->o4, &h, &w);                  /* 3x3 */
        FN_ASSERT(h == 3 && w == 3);
        dense_forward(x8, x7, nb, &n->o5, n->o_a5);
        dense_forward(x9, x8, nb, &n->o_head, NULL);
        for (int i = 0; i < nb; i++) {
            const float *hd = x9 + (size_t)i * 16;
            float *o = out + (size_t)(n0 + i) * 15;
            o[0] = face_prob(hd[0], hd[1]);
            for (int j = 0; j < 14; j++) o[1 + j] = hd[2 + j];
        }
    }
    fn_free(buf);
    return FN_OK;
}
