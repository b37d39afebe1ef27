/* conv2d.c — 2-D convolution as im2col + SGEMM (OpenBLAS) over NHWC tensors.
 * Threads: only OpenBLAS's. The copies and transforms around the GEMMs run on the calling
 * thread on purpose: a second (OpenMP) pool next to OpenBLAS's pthreads pool makes both
 * spin against each other on a 2-core machine (OpenBLAS workers busy-wait after a GEMM).
 * A 1x1 stride-1 convolution is a plain GEMM on the input (no im2col). The im2col
 * buffer is filled for a group of images at a time so memory stays bounded. */
#include "ops.h"
#include <cblas.h>

#define IM2COL_MAX_FLOATS ((size_t)16 << 20) /* 64 MiB of workspace at most */

void fn_conv_out_size(int in, int k, int stride, fn_padding pad, int *out, int *pad_before) {
    if (pad == FN_PAD_SAME) {
        int o = (in + stride - 1) / stride;
        int total = (o - 1) * stride + k - in;
        if (total < 0) total = 0;
        *out = o;
        *pad_before = total / 2;
    } else {
        *out = in >= k ? (in - k) / stride + 1 : 0;
        *pad_before = 0;
    }
}

void fn_conv_shape_init(fn_conv_shape *s, int N, int H, int W, int Cin, int Cout,
                        int kh, int kw, int sh, int sw, fn_padding pad) {
    s->N = N; s->H = H; s->W = W; s->Cin = Cin; s->Cout = Cout;
    s->kh = kh; s->kw = kw; s->sh = sh; s->sw = sw;
    fn_conv_out_size(H, kh, sh, pad, &s->OH, &s->pad_top);
    fn_conv_out_size(W, kw, sw, pad, &s->OW, &s->pad_left);
}

int fn_conv_is_pointwise(const fn_conv_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 && s->pad_left == 0;
}

int fn_im2col_images(const fn_conv_shape *s) {
    size_t per = (size_t)s->OH * s->OW * s->kh * s->kw * s->Cin;
    if (per == 0) return 1;
    size_t g = IM2COL_MAX_FLOATS / per;
    if (g < 1) g = 1;
    if (g > (size_t)s->N) g = s->N;
    return (int)g;
}

/* ---- Winograd F(2x2, 3x3) (Lavin & Gray, 2016) for 3x3 stride-1 convolutions: each 2x2
 * output tile costs 16 multiplies per (Cin, Cout) pair instead of 36, as 16 GEMMs
 * (tiles x Cin) @ (Cin x Cout) between an input and an output transform.
 *   V = B^T d B (4x4 input tile), U = G g G^T (3x3 kernel), Y = A^T (V . U) A (2x2 output)
 * Tiles are processed in chunks so the transformed tiles stay small. */
#define WINO_CHUNK 128 /* tiles per pass */
#define WINO_MAX_C 4096 /* channel cap: zero taps and edge scratch are static/stack arrays */

#define WINO_MIN_TILES 64 /* fewer tiles: the 16/9 larger weights cost more than the GEMM saves */

int fn_conv2d_winograd_eligible(int kh, int kw, int sh, int sw, int Cin, int Cout) {
    return kh == 3 && kw == 3 && sh == 1 && sw == 1 && Cin >= 16 && Cout >= 16 &&
           Cin <= WINO_MAX_C && Cout <= WINO_MAX_C;
}

long fn_winograd_tiles(const fn_conv_shape *s) {
    return (long)s->N * ((s->OH + 1) / 2) * ((s->OW + 1) / 2);
}

int fn_conv2d_uses_winograd(const fn_conv_shape *s) {
    return fn_conv2d_winograd_eligible(s->kh, s->kw, s->sh, s->sw, s->Cin, s->Cout) &&
           s->OH >= 2 && s->OW >= 2 && fn_winograd_tiles(s) >= WINO_MIN_TILES;
}

/* Maps of 16+ pixels use F(4x4, 3x3) (36 products per 16 outputs; more rounding, still
 * ~1e-6 relative here); smaller ones F(2x2, 3x3), whose 2x2 tiles waste less at the edges
 * (at 17x17, F(4x4) ran block35's 32->32 and mixed_6a's 192->192 convs 15-25% faster).
 * F(4x4)'s tiles per pass: 36 planes of transformed input and product must stay in the
 * core's L2 between the transform, the GEMMs and the output transform (768 tiles ran the
 * stem's 32-channel convs 1.6-1.9x slower) */
#define WINO4_MIN_SIDE 16
#define WINO4_CHUNK 64
int fn_winograd_f4(const fn_conv_shape *s) { return s->OH >= WINO4_MIN_SIDE && s->OW >= WINO4_MIN_SIDE; }

long fn_winograd4_tiles(const fn_conv_shape *s) {
    return (long)s->N * ((s->OH + 3) / 4) * ((s->OW + 3) / 4);
}

static size_t wino_workspace(const fn_conv_shape *s) {
    int f4 = fn_winograd_f4(s);
    long t = f4 ? fn_winograd4_tiles(s) : fn_winograd_tiles(s), chunk = f4 ? WINO4_CHUNK : WINO_CHUNK;
    size_t tc = (size_t)(t < chunk ? t : chunk), planes = f4 ? 36 : 16;
    size_t scratch = f4 ? 40 * ((size_t)s->Cin + s->Cout) : 0; /* one tile's stages */
    return planes * ((size_t)s->Cin * s->Cout + tc * ((size_t)s->Cin + s->Cout)) + scratch;
}

size_t fn_conv2d_workspace(const fn_conv_shape *s) {
    if (fn_conv_is_pointwise(s)) return 0;
    if (fn_conv2d_uses_winograd(s)) return wino_workspace(s);
    if (fn_conv2d_uses_winograd1d(s)) return fn_conv2d_winograd1d_workspace(s);
    return (size_t)fn_im2col_images(s) * s->OH * s->OW * s->kh * s->kw * s->Cin;
}

/* U (16, Cin, Cout) = G g G^T from HWIO w (3, 3, Cin, Cout) */
void fn_conv2d_winograd_weights(float *U, const float *w, int Cin, int Cout) {
    const size_t plane = (size_t)Cin * Cout;
    for (int ci = 0; ci < Cin; ci++) {
        const float *g = w + (size_t)ci * Cout;
        float *u = U + (size_t)ci * Cout;
        for (int co = 0; co < Cout; co++) {
            float k[3][3], t[4][3];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) k[y][x] = g[(y * 3 + x) * plane + co];
            for (int x = 0; x < 3; x++) { /* G k: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 */
                t[0][x] = k[0][x];
                t[1][x] = 0.5f * (k[0][x] + k[1][x] + k[2][x]);
                t[2][x] = 0.5f * (k[0][x] - k[1][x] + k[2][x]);
                t[3][x] = k[2][x];
            }
            for (int i = 0; i < 4; i++) { /* (G k) G^T */
                u[(i * 4 + 0) * plane + co] = t[i][0];
                u[(i * 4 + 1) * plane + co] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                u[(i * 4 + 2) * plane + co] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                u[(i * 4 + 3) * plane + co] = t[i][2];
            }
        }
    }
}

/* The GEMM stage shared by every Winograd-family path (F(2x2), F(4x4), F(2,7)): one GEMM per
 * transform plane over a chunk of nt tiles. Forward: M_k (nt, Cout) = V_k (nt, Cin) U_k. */
void fn_winograd_gemms(float *M, const float *V, const float *U, int planes, int nt, int Cin, int Cout) {
    for (int k = 0; k < planes; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nt, Cout, Cin, 1.0f, V + (size_t)k * nt * Cin, Cin,
                    U + (size_t)k * Cin * Cout, Cout, 0.0f, M + (size_t)k * nt * Cout, Cout);
}

/* Weight gradient: dU_k (Cin, Cout) (+)= V_k^T Mg_k, summed over the tiles of the chunk. */
void fn_winograd_wgrad_gemms(float *dU, const float *V, const float *Mg, int planes, int nt, int Cin, int Cout,
                             int accumulate) {
    for (int k = 0; k < planes; k++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Cin, Cout, nt, 1.0f, V + (size_t)k * nt * Cin, Cin,
                    Mg + (size_t)k * nt * Cout, Cout, accumulate ? 1.0f : 0.0f, dU + (size_t)k * Cin * Cout, Cout);
}

static const float wino_zeros[WINO_MAX_C]; /* the taps outside the image read these */

void fn_winograd_window(const float **d, const float *t, int ld, int n, int H, int W, int y0, int x0, int size) {
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int iy = y0 + y, ix = x0 + x;
            d[y * size + x] = (iy < 0 || iy >= H || ix < 0 || ix >= W) ? wino_zeros
                            : t + (((long)n * H + iy) * W + ix) * ld;
        }
}

/* V (16, nt, Cin) = B^T d B for tiles t0 .. t0+nt of in (N, H, W, [ld]) */
void fn_winograd_input(float *V, const float *in, int ld, const fn_conv_shape *s, long t0, int nt) {
    const int C = s->Cin;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        long t = t0 + j;
        int n, y0, x0;
        fn_winograd_tile(s, 2, t, &n, &y0, &x0);
        y0 -= s->pad_top; x0 -= s->pad_left;
        const float *d[16];
        fn_winograd_window(d, in, ld, n, s->H, s->W, y0, x0, 4);
        float *v = V + (size_t)j * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) {
            float m[4][4], r[4][4];
            for (int k = 0; k < 16; k++) m[k / 4][k % 4] = d[k][c];
            for (int x = 0; x < 4; x++) { /* B^T m: rows m0-m2, m1+m2, m2-m1, m1-m3 */
                r[0][x] = m[0][x] - m[2][x];
                r[1][x] = m[1][x] + m[2][x];
                r[2][x] = m[2][x] - m[1][x];
                r[3][x] = m[1][x] - m[3][x];
            }
            for (int y = 0; y < 4; y++) { /* (B^T m) B */
                v[(y * 4 + 0) * plane + c] = r[y][0] - r[y][2];
                v[(y * 4 + 1) * plane + c] = r[y][1] + r[y][2];
                v[(y * 4 + 2) * plane + c] = r[y][2] - r[y][1];
                v[(y * 4 + 3) * plane + c] = r[y][1] - r[y][3];
            }
        }
    }
}

/* out tiles t0 .. t0+nt = act(beta * out + alpha * (A^T M A + bias)) from M (16, nt, Cout) */
static void wino_output(float *out, int ld, const float *M, const fn_conv_shape *s, long t0, int nt,
                        const float *bias, float alpha, float beta, fn_act act) {
    const int C = s->Cout;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        long t = t0 + j;
        int n, oy0, ox0;
        fn_winograd_tile(s, 2, t, &n, &oy0, &ox0);
        float *o[4], junk[WINO_MAX_C]; /* outputs past the edge of a partial tile go to junk */
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                int oy = oy0 + a, ox = ox0 + b;
                o[a * 2 + b] = (oy < s->OH && ox < s->OW) ? out + (((long)n * s->OH + oy) * s->OW + ox) * ld : junk;
            }
        const float *m = M + (size_t)j * C;
        float *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
        if (beta != 0.0f) /* accumulate: read the old values first (junk is write-only below) */
            for (int k = 0; k < 4; k++) if (o[k] == junk) memset(junk, 0, sizeof(float) * C);
        #pragma omp simd
        for (int c = 0; c < C; c++) {
            float q[2][4], y[4];
            for (int x = 0; x < 4; x++) { /* A^T m: rows m0+m1+m2, m1-m2-m3 */
                q[0][x] = m[(0 * 4 + x) * plane + c] + m[(1 * 4 + x) * plane + c] + m[(2 * 4 + x) * plane + c];
                q[1][x] = m[(1 * 4 + x) * plane + c] - m[(2 * 4 + x) * plane + c] - m[(3 * 4 + x) * plane + c];
            }
            for (int a = 0; a < 2; a++) {
                y[a * 2 + 0] = q[a][0] + q[a][1] + q[a][2];
                y[a * 2 + 1] = q[a][1] - q[a][2] - q[a][3];
            }
            float b = bias ? bias[c] : 0.0f;
            float v0 = alpha * (y[0] + b), v1 = alpha * (y[1] + b), v2 = alpha * (y[2] + b), v3 = alpha * (y[3] + b);
            if (beta != 0.0f) { v0 += beta * o0[c]; v1 += beta * o1[c]; v2 += beta * o2[c]; v3 += beta * o3[c]; }
            if (act == FN_ACT_RELU) { v0 = v0 > 0 ? v0 : 0; v1 = v1 > 0 ? v1 : 0; v2 = v2 > 0 ? v2 : 0; v3 = v3 > 0 ? v3 : 0; }
            o0[c] = v0; o1[c] = v1; o2[c] = v2; o3[c] = v3;
        }
    }
}

static void conv_winograd(float *out, int ld_out, const float *in, int ld_in, const float *w,
                          const float *w_wino, const float *bias, const fn_conv_shape *s, float alpha,
                          float beta, fn_act act, float *ws) {
    const int Cin = s->Cin, Cout = s->Cout;
    const long T = fn_winograd_tiles(s);
    const int tc = (int)(T < WINO_CHUNK ? T : WINO_CHUNK);
    float *V = ws + 16 * (size_t)Cin * Cout, *M = V + 16 * (size_t)tc * Cin;
    const float *U = w_wino;
    if (!U) { fn_conv2d_winograd_weights(ws, w, Cin, Cout); U = ws; }
    for (long t0 = 0; t0 < T; t0 += tc) {
        int nt = (int)(T - t0 < tc ? T - t0 : tc);
        fn_winograd_input(V, in, ld_in, s, t0, nt);
        fn_winograd_gemms(M, V, U, 16, nt, Cin, Cout);
        wino_output(out, ld_out, M, s, t0, nt, bias, alpha, beta, act);
    }
}

/* ---- F(4x4, 3x3): V = B^T d B (6x6), U = G g G^T, Y = A^T M A (4x4), Lavin & Gray's
 * matrices with interpolation points 0, +-1, +-2, inf. */
static inline void f4_g(const float g[3], float r[6]) {
    r[0] = g[0] * 0.25f;
    r[1] = -(g[0] + g[1] + g[2]) * (1.0f / 6);
    r[2] = -(g[0] - g[1] + g[2]) * (1.0f / 6);
    r[3] = g[0] * (1.0f / 24) + g[1] * (1.0f / 12) + g[2] * (1.0f / 6);
    r[4] = g[0] * (1.0f / 24) - g[1] * (1.0f / 12) + g[2] * (1.0f / 6);
    r[5] = g[2];
}
/* U (36, Cin, Cout) from HWIO w (3, 3, Cin, Cout) */
static void wino4_weights(float *U, const float *w, int Cin, int Cout) {
    const size_t plane = (size_t)Cin * Cout;
    for (int ci = 0; ci < Cin; ci++)
        for (int co = 0; co < Cout; co++) {
            float k[3][3], t[6][3], col[3], r[6];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) k[y][x] = w[(y * 3 + x) * plane + (size_t)ci * Cout + co];
            for (int x = 0; x < 3; x++) {
                for (int y = 0; y < 3; y++) col[y] = k[y][x];
                f4_g(col, r);
                for (int i = 0; i < 6; i++) t[i][x] = r[i];
            }
            for (int i = 0; i < 6; i++) {
                f4_g(t[i], r);
                for (int j = 0; j < 6; j++) U[(i * 6 + j) * plane + (size_t)ci * Cout + co] = r[j];
            }
        }
}

/* r_y = (B^T d)_y for six channel vectors d0..d5 (one column or row of a 6x6 tile) */
static void f4_bt_vec(float *restrict r0, float *restrict r1, float *restrict r2, float *restrict r3,
                      float *restrict r4, float *restrict r5, const float *d0, const float *d1,
                      const float *d2, const float *d3, const float *d4, const float *d5, int C) {
    for (int c = 0; c < C; c++) {
        float a0 = d0[c], a1 = d1[c], a2 = d2[c], a3 = d3[c], a4 = d4[c], a5 = d5[c];
        r0[c] = 4 * a0 - 5 * a2 + a4;
        r1[c] = -4 * a1 - 4 * a2 + a3 + a4;
        r2[c] = 4 * a1 - 4 * a2 - a3 + a4;
        r3[c] = -2 * a1 - a2 + 2 * a3 + a4;
        r4[c] = 2 * a1 - a2 - 2 * a3 + a4;
        r5[c] = 4 * a1 - 5 * a3 + a5;
    }
}

/* y_a = (A^T m)_a for six channel vectors */
static void f4_at_vec(float *restrict y0, float *restrict y1, float *restrict y2, float *restrict y3,
                      const float *m0, const float *m1, const float *m2, const float *m3,
                      const float *m4, const float *m5, int C) {
    for (int c = 0; c < C; c++) {
        float a0 = m0[c], a1 = m1[c], a2 = m2[c], a3 = m3[c], a4 = m4[c], a5 = m5[c];
        y0[c] = a0 + a1 + a2 + a3 + a4;
        y1[c] = a1 - a2 + 2 * (a3 - a4);
        y2[c] = a1 + a2 + 4 * (a3 + a4);
        y3[c] = a1 - a2 + 8 * (a3 - a4) + a5;
    }
}

/* V (36, nt, Cin) for tiles t0 .. t0+nt; scratch: 36 * Cin floats */
void fn_winograd4_input(float *V, const float *in, int ld, const fn_conv_shape *s, long t0, int nt,
                        float *scratch) {
    const int C = s->Cin;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        long t = t0 + j;
        int n, y0, x0;
        fn_winograd_tile(s, 4, t, &n, &y0, &x0);
        y0 -= s->pad_top; x0 -= s->pad_left;
        const float *d[36];
        fn_winograd_window(d, in, ld, n, s->H, s->W, y0, x0, 6);
        float *r = scratch; /* r[(y*6+x)*C] = (B^T d)[y][x] */
        for (int x = 0; x < 6; x++)
            f4_bt_vec(r + (0 * 6 + x) * C, r + (1 * 6 + x) * C, r + (2 * 6 + x) * C, r + (3 * 6 + x) * C,
                      r + (4 * 6 + x) * C, r + (5 * 6 + x) * C, d[0 * 6 + x], d[1 * 6 + x], d[2 * 6 + x],
                      d[3 * 6 + x], d[4 * 6 + x], d[5 * 6 + x], C);
        float *v = V + (size_t)j * C;
        for (int y = 0; y < 6; y++) {
            const float *ry = r + (size_t)y * 6 * C;
            f4_bt_vec(v + (y * 6 + 0) * plane, v + (y * 6 + 1) * plane, v + (y * 6 + 2) * plane,
                      v + (y * 6 + 3) * plane, v + (y * 6 + 4) * plane, v + (y * 6 + 5) * plane,
                      ry, ry + C, ry + 2 * C, ry + 3 * C, ry + 4 * C, ry + 5 * C, C);
        }
    }
}

/* out tiles t0 .. t0+nt = act(beta * out + alpha * (A^T M A + bias)) from M (36, nt, Cout);
 * scratch: 40 * Cout floats */
static void wino4_output(float *out, int ld, const float *M, const fn_conv_shape *s, long t0, int nt,
                         const float *bias, float alpha, float beta, fn_act act, float *scratch) {
    const int C = s->Cout;
    const size_t plane = (size_t)nt * C;
    float *q = scratch, *y = scratch + 24 * (size_t)C; /* q[(a*6+x)*C], y[(a*4+b)*C] */
    for (int j = 0; j < nt; j++) {
        long t = t0 + j;
        int n, oy0, ox0;
        fn_winograd_tile(s, 4, t, &n, &oy0, &ox0);
        const float *m = M + (size_t)j * C;
        for (int x = 0; x < 6; x++)
            f4_at_vec(q + (0 * 6 + x) * C, q + (1 * 6 + x) * C, q + (2 * 6 + x) * C, q + (3 * 6 + x) * C,
                      m + (0 * 6 + x) * plane, m + (1 * 6 + x) * plane, m + (2 * 6 + x) * plane,
                      m + (3 * 6 + x) * plane, m + (4 * 6 + x) * plane, m + (5 * 6 + x) * plane, C);
        for (int a = 0; a < 4; a++) {
            const float *qa = q + (size_t)a * 6 * C;
            f4_at_vec(y + (a * 4 + 0) * C, y + (a * 4 + 1) * C, y + (a * 4 + 2) * C, y + (a * 4 + 3) * C,
                      qa, qa + C, qa + 2 * C, qa + 3 * C, qa + 4 * C, qa + 5 * C, C);
        }
        for (int k = 0; k < 16; k++) {
            int oy = oy0 + k / 4, ox = ox0 + k % 4;
            if (oy >= s->OH || ox >= s->OW) continue;
            float *restrict o = out + (((long)n * s->OH + oy) * s->OW + ox) * ld;
            const float *yk = y + (size_t)k * C;
            for (int c = 0; c < C; c++) {
                float v = alpha * (yk[c] + (bias ? bias[c] : 0.0f));
                if (beta != 0.0f) v += beta * o[c];
                o[c] = act == FN_ACT_RELU && v < 0 ? 0.0f : v;
            }
        }
    }
}

static void conv_winograd4(float *out, int ld_out, const float *in, int ld_in, const float *w,
                           const float *bias, const fn_conv_shape *s, float alpha, float beta,
                           fn_act act, float *ws) {
    const int Cin = s->Cin, Cout = s->Cout;
    const long T = fn_winograd4_tiles(s);
    const int tc = (int)(T < WINO4_CHUNK ? T : WINO4_CHUNK);
    float *U = ws, *V = U + 36 * (size_t)Cin * Cout, *M = V + 36 * (size_t)tc * Cin;
    float *scratch = M + 36 * (size_t)tc * Cout;
    wino4_weights(U, w, Cin, Cout); /* per call: only large maps come here, the cost is small */
    for (long t0 = 0; t0 < T; t0 += tc) {
        int nt = (int)(T - t0 < tc ? T - t0 : tc);
        fn_winograd4_input(V, in, ld_in, s, t0, nt, scratch);
        fn_winograd_gemms(M, V, U, 36, nt, Cin, Cout);
        wino4_output(out, ld_out, M, s, t0, nt, bias, alpha, beta, act, scratch);
    }
}

void fn_im2col(float *col, const float *in, int ld, const fn_conv_shape *s, int n_img) {
    const int K = s->kh * s->kw * s->Cin;
    const long rows = (long)n_img * s->OH * s->OW;
    for (long r = 0; r < rows; r++) {
        int n = (int)(r / (s->OH * s->OW)), rem = (int)(r % (s->OH * s->OW));
        int oy = rem / s->OW, ox = rem % s->OW;
        float *dst = col + r * K;
        for (int ky = 0; ky < s->kh; ky++) {
            int iy = oy * s->sh - s->pad_top + ky;
            for (int kx = 0; kx < s->kw; kx++) {
                int ix = ox * s->sw - s->pad_left + kx;
                float *d = dst + (ky * s->kw + kx) * s->Cin;
                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) memset(d, 0, sizeof(float) * s->Cin);
                else memcpy(d, in + (((long)n * s->H + iy) * s->W + ix) * ld, sizeof(float) * s->Cin);
            }
        }
    }
}

/* out = act(out + alpha * bias) over (rows, C, ld) */
static void bias_act(float *out, int ld, long rows, int C, const float *bias, float alpha, fn_act act) {
    if (!bias && act == FN_ACT_NONE) return;
    for (long r = 0; r < rows; r++) {
        float *o = out + r * ld;
        if (bias) for (int c = 0; c < C; c++) o[c] += alpha * bias[c];
        if (act == FN_ACT_RELU) for (int c = 0; c < C; c++) o[c] = o[c] > 0 ? o[c] : 0;
    }
}

void fn_conv2d_forward_ex(float *out, int ld_out, const float *in, int ld_in, const float *w,
                          const float *w_winograd, const float *bias, const fn_conv_shape *s,
                          float alpha, float beta, fn_act act, float *workspace) {
    const int K = s->kh * s->kw * s->Cin;
    const long pix = (long)s->OH * s->OW;
    if (s->N <= 0 || pix <= 0 || s->Cout <= 0) return;
    if (fn_conv2d_uses_winograd(s)) {
        if (fn_winograd_f4(s)) conv_winograd4(out, ld_out, in, ld_in, w, bias, s, alpha, beta, act, workspace);
        else conv_winograd(out, ld_out, in, ld_in, w, w_winograd, bias, s, alpha, beta, act, workspace);
        return;
    }
    if (fn_conv2d_uses_winograd1d(s)) { /* 1x7 / 7x1: F(2,7), conv2d_winograd1d.c */
        fn_conv2d_winograd1d_forward(out, ld_out, in, ld_in, w, bias, s, alpha, beta, act, workspace);
        return;
    }
    if (fn_conv_is_pointwise(s)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(s->N * pix), s->Cout, K,
                    alpha, in, ld_in, w, s->Cout, beta, out, ld_out);
    } else {
        int g = fn_im2col_images(s);
        for (int n0 = 0; n0 < s->N; n0 += g) {
            int nb = s->N - n0 < g ? s->N - n0 : g;
            fn_im2col(workspace, in + (long)n0 * s->H * s->W * ld_in, ld_in, s, nb);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nb * pix), s->Cout, K,
                        alpha, workspace, K, w, s->Cout, beta, out + n0 * pix * ld_out, ld_out);
        }
    }
    bias_act(out, ld_out, s->N * pix, s->Cout, bias, alpha, act);
}

void fn_conv2d_forward(float *out, int ld_out, const float *in, int ld_in, const float *w,
                       const float *bias, const fn_conv_shape *s, fn_act act, float *workspace) {
    fn_conv2d_forward_ex(out, ld_out, in, ld_in, w, NULL, bias, s, 1.0f, 0.0f, act, workspace);
}

void fn_fold_batchnorm(float *w, float *bias_out, long k_rows, int Cout, const float *gamma,
                       const float *beta, const float *mean, const float *var, float eps) {
    for (int c = 0; c < Cout; c++) {
        float g = (gamma ? gamma[c] : 1.0f) / sqrtf(var[c] + eps);
        bias_out[c] = (beta ? beta[c] : 0.0f) - mean[c] * g;
        for (long k = 0; k < k_rows; k++) w[k * Cout + c] *= g;
    }
}
