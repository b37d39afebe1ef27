/* inception_resnet_v1.h — internal entry points of the Inception-ResNet-v1 backbone that
 * tests and benchmarks use beyond fn_model_embed (another image size, intermediate taps). */
#ifndef FN_INCEPTION_RESNET_V1_H
#define FN_INCEPTION_RESNET_V1_H
#include "model.h"

/* Intermediate activations, copied out when a pointer is non-NULL (NHWC, n images):
 * stem: after conv2d_4b (17x17x256 at 160 px), mixed_6a: its output (8x8x896),
 * mixed_7a: its output (3x3x1792), pooled: the global average pool before the
 * bottleneck (1792 per image). */
typedef struct {
    float *stem, *mixed_6a, *mixed_7a, *pooled;
} fn_irv1_taps;

/* Spatial sizes of the taps for an input of size x size (0 when the input is too small). */
typedef struct { int stem, mixed_6a, mixed_7a; } fn_irv1_sizes;
fn_irv1_sizes fn_irv1_tap_sizes(int size);

/* x: n standardised images (n, size, size, 3) NHWC float. out: n x dim, L2-normalised.
 * size may differ from m->input_size (the network is fully convolutional up to the
 * global pool); at least 75 px. m must be an Inception-ResNet-v1 model. */
fn_status fn_irv1_forward(struct fn_model *m, const float *x, int n, int size, float *out,
                          const fn_irv1_taps *taps);

/* One crop (w x h RGB) -> float NHWC standardised as facenet does: fixed (x - 127.5) / 128,
 * or prewhiten (x - mean) / max(std, 1/sqrt(count)) over all pixels and channels. */
void fn_irv1_standardize(const fn_image *img, fn_standardize std, float *out);
#endif
