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

static int is_pointwise(const fn_conv_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 && s->pad_left == 0;
}

/* images per im2col group */
static int im2col_group(const fn_conv_shape *s) {
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
#define WINO_CHUNK 768 /* tiles per pass */
#define WINO_MAX_C 4096 /* channel cap: zero taps and edge scratch are static/stack arrays */

#define WINO_MIN_TILES 64 /* fewer tiles: the 16/9 larger weights cost more than the GEMM saves */

int fn_conv2d_winograd_eligible(int kh, int kw, int sh, int sw, int Cin, int Cout) {
    return kh == 3 && kw == 3 && sh == 1 && sw == 1 && Cin >= 16 && Cout >= 16 &&
           Cin <= WINO_MAX_C && Cout <= WINO_MAX_C;
}

static long wino_tiles(const fn_conv_shape *s) {
    return (long)s->N * ((s->OH + 1) / 2) * ((s->OW + 1) / 2);
}

static int use_winograd(const fn_conv_shape *s) {
    return fn_conv2d_winograd_eligible(s->kh, s->kw, s->sh, s->sw, s->Cin, s->Cout) &&
           s->OH >= 2 && s->OW >= 2 && wino_tiles(s) >= WINO_MIN_TILES;
}

static size_t wino_workspace(const fn_conv_shape *s) {
    long t = wino_tiles(s);
    size_t tc = (size_t)(t < WINO_CHUNK ? t : WINO_CHUNK);
    return 16 * ((size_t)s->Cin * s->Cout + tc * ((size_t)s->Cin + s->Cout));
}

size_t fn_conv2d_workspace(const fn_conv_shape *s) {
    if (is_pointwise(s)) return 0;
    if (use_winograd(s)) return wino_workspace(s);
    return (size_t)im2col_group(s) * s->OH * s->OW * s->kh * s->kw * s->Cin;
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

static const float wino_zeros[WINO_MAX_C]; /* the taps outside the image read these */

/* V (16, nt, Cin) = B^T d B for tiles t0 .. t0+nt of in (N, H, W, [ld]) */
static void wino_input(float *V, const float *in, int ld, const fn_conv_shape *s, long t0, int nt) {
    const int tw = (s->OW + 1) / 2, th = (s->OH + 1) / 2, C = s->Cin;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        long t = t0 + j;
        int n = (int)(t / ((long)th * tw)), rem = (int)(t % ((long)th * tw));
        int y0 = (rem / tw) * 2 - s->pad_top, x0 = (rem % tw) * 2 - s->pad_left;
        const float *d[16];
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                int iy = y0 + y, ix = x0 + x;
                d[y * 4 + x] = (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) ? wino_zeros
                             : in + (((long)n * s->H + iy) * s->W + ix) * ld;
            }
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
    const int tw = (s->OW + 1) / 2, th = (s->OH + 1) / 2, C = s->Cout;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        long t = t0 + j;
        int n = (int)(t / ((long)th * tw)), rem = (int)(t % ((long)th * tw));
        int oy0 = (rem / tw) * 2, ox0 = (rem % tw) * 2;
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
    const long T = wino_tiles(s);
    const int tc = (int)(T < WINO_CHUNK ? T : WINO_CHUNK);
    float *V = ws + 16 * (size_t)Cin * Cout, *M = V + 16 * (size_t)tc * Cin;
    const float *U = w_wino;
    if (!U) { fn_conv2d_winograd_weights(ws, w, Cin, Cout); U = ws; }
    for (long t0 = 0; t0 < T; t0 += tc) {
        int nt = (int)(T - t0 < tc ? T - t0 : tc);
        wino_input(V, in, ld_in, s, t0, nt);
        for (int k = 0; k < 16; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nt, Cout, Cin, 1.0f,
                        V + (size_t)k * nt * Cin, Cin, U + (size_t)k * Cin * Cout, Cout, 0.0f,
                        M + (size_t)k * nt * Cout, Cout);
        wino_output(out, ld_out, M, s, t0, nt, bias, alpha, beta, act);
    }
}

/* col (n_img*OH*OW, kh*kw*Cin) from in (n_img,H,W,[ld]) */
static void im2col(float *col, const float *in, int ld, const fn_conv_shape *s, int n_img) {
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
    if (use_winograd(s)) {
        conv_winograd(out, ld_out, in, ld_in, w, w_winograd, bias, s, alpha, beta, act, workspace);
        return;
    }
    if (is_pointwise(s)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(s->N * pix), s->Cout, K,
                    alpha, in, ld_in, w, s->Cout, beta, out, ld_out);
    } else {
        int g = im2col_group(s);
        for (int n0 = 0; n0 < s->N; n0 += g) {
            int nb = s->N - n0 < g ? s->N - n0 : g;
            im2col(workspace, in + (long)n0 * s->H * s->W * ld_in, ld_in, s, nb);
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
