/* depthwise_conv2d.c — depthwise convolution (one kh×kw filter per channel, channel
 * multiplier 1; TF's depthwise_conv2d / the first half of separable_conv2d), forward only:
 * it serves the 68-point landmark net, which is never trained here. */
#include "ops.h"

void fn_depthwise_conv2d_forward(float *out, const float *in, const float *w, const float *bias,
                                 const fn_conv_shape *s) {
    const int C = s->Cin;
    for (int n = 0; n < s->N; n++)
        for (int oy = 0; oy < s->OH; oy++)
            for (int ox = 0; ox < s->OW; ox++) {
                float *o = out + (((size_t)n * s->OH + oy) * s->OW + ox) * C;
                for (int c = 0; c < C; c++) o[c] = bias ? bias[c] : 0.0f;
                for (int ky = 0; ky < s->kh; ky++) {
                    const int iy = oy * s->sh - s->pad_top + ky;
                    if (iy < 0 || iy >= s->H) continue;
                    for (int kx = 0; kx < s->kw; kx++) {
                        const int ix = ox * s->sw - s->pad_left + kx;
                        if (ix < 0 || ix >= s->W) continue;
                        const float *x = in + (((size_t)n * s->H + iy) * s->W + ix) * C;
                        const float *k = w + ((size_t)ky * s->kw + kx) * C;
                        for (int c = 0; c < C; c++) o[c] += x[c] * k[c];
                    }
                }
            }
}
