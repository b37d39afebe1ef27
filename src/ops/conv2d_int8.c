/* conv2d_int8.c — int8 convolution as u8 im2col + fn_gemm_u8s8, over blocks of output
 * pixels so the column buffer stays in cache and bounded. Taps outside the image read the
 * input zero point: in the quantised domain that is a real 0, so SAME padding is exact. */
#include "ops_int8.h"

#define QCOL_ROWS 2048 /* output pixels per im2col block */

fn_status fn_qconv_init(fn_qconv *c, const int8_t *w_hwio, int kh, int kw, int Cin, int Cout, int sh,
                        int sw, fn_padding pad, uint8_t zero) {
    c->kh = kh; c->kw = kw; c->sh = sh; c->sw = sw; c->pad = pad; c->zero = zero;
    return fn_qmatrix_init(&c->w, w_hwio, kh * kw * Cin, Cout);
}

void fn_qconv_free(fn_qconv *c) { fn_qmatrix_free(&c->w); }

void fn_qconv_fold_zero(const fn_qconv *c, int32_t *bias) {
    for (int n = 0; n < c->w.N; n++) {
        int32_t colsum = 0;
        for (int k = 0; k < c->w.K; k++) colsum += c->w.plain[(size_t)k * c->w.N + n];
        bias[n] -= (int32_t)c->zero * colsum;
    }
}

static int direct_gemm(const fn_conv_shape *s, const fn_qconv *c, int ld_in) {
    return fn_conv_is_pointwise(s) && c->w.K == c->w.Kp && ld_in >= c->w.Kp;
}

size_t fn_conv2d_u8_workspace(const fn_conv_shape *s, const fn_qconv *c) {
    if (direct_gemm(s, c, s->Cin)) return 0;
    long rows = (long)s->N * s->OH * s->OW;
    return (size_t)(rows < QCOL_ROWS ? rows : QCOL_ROWS) * c->w.Kp;
}

/* col (rows, Kp) for output pixels [p0, p0 + rows) */
static void im2col_u8(uint8_t *col, const uint8_t *in, int ld, const fn_conv_shape *s, const fn_qconv *c,
                      long p0, long rows) {
    const int Kp = c->w.Kp, K = c->w.K, C = s->Cin, rowlen = s->kw * C;
    for (long r = 0; r < rows; r++) {
        const long p = p0 + r;
        const int n = (int)(p / ((long)s->OH * s->OW)), rem = (int)(p % ((long)s->OH * s->OW));
        const int iy0 = (rem / s->OW) * s->sh - s->pad_top, ix0 = (rem % s->OW) * s->sw - s->pad_left;
        uint8_t *d = col + r * Kp;
        for (int ky = 0; ky < s->kh; ky++, d += rowlen) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= s->H) { memset(d, c->zero, rowlen); continue; }
            const uint8_t *src = in + ((size_t)n * s->H + iy) * s->W * ld;
            if (ld == C && ix0 >= 0 && ix0 + s->kw <= s->W) { /* the whole kernel row is in the image */
                memcpy(d, src + (size_t)ix0 * C, rowlen);
                continue;
            }
            for (int kx = 0; kx < s->kw; kx++) {
                const int ix = ix0 + kx;
                if (ix < 0 || ix >= s->W) memset(d + kx * C, c->zero, C);
                else memcpy(d + kx * C, src + (size_t)ix * ld, C);
            }
        }
        if (Kp > K) memset(col + r * Kp + K, 0, Kp - K);
    }
}

void fn_conv2d_u8_forward(const uint8_t *in, int ld_in, const fn_qconv *c, const fn_conv_shape *s,
                          const fn_qepilogue *ep, uint8_t *workspace) {
    const long rows = (long)s->N * s->OH * s->OW;
    if (direct_gemm(s, c, ld_in)) {
        fn_gemm_u8s8(in, rows, ld_in, &c->w, ep);
        return;
    }
    const size_t esize = ep->kind == FN_QOUT_U8 ? 1 : sizeof(float);
    for (long p0 = 0; p0 < rows; p0 += QCOL_ROWS) {
        const long nr = rows - p0 < QCOL_ROWS ? rows - p0 : QCOL_ROWS;
        im2col_u8(workspace, in, ld_in, s, c, p0, nr);
        fn_qepilogue e = *ep;
        e.out = (char *)ep->out + (size_t)p0 * ep->ld * esize;
        fn_gemm_u8s8(workspace, nr, c->w.Kp, &c->w, &e);
    }
}
