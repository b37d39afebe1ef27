/* dlib_resnet.h — the dlib-style 128-d face-descriptor ResNet as face-api ships it
 * (src/faceRecognitionNet/ of @vladmandic/face-api). */
#ifndef FN_DLIB_RESNET_H
#define FN_DLIB_RESNET_H
#include "nets/model.h"

#define FN_DLIB_INPUT 150
#define FN_DLIB_DIM 128

/* The network's raw output, exactly what face-api's computeFaceDescriptor returns (not
 * L2-normalised; dlib's descriptors have norm ≈ 1 but not exactly). crops: n 150×150 RGB.
 * m must come from fn_dlib_resnet_model_create. out: n × 128. */
fn_status fn_dlib_resnet_forward(struct fn_model *m, const fn_image *crops, int n, float *out);

/* ---- for the int8 network (nets/dlib_resnet_int8.c, issue 18) */
/* arch, dim, input size, crop and standardisation of the dlib ResNet (float or int8) */
void fn_dlib_resnet_set_facts(struct fn_model *m);
/* The embedding of crops (chip + mirror descriptors summed, L2-normalised) with the given
 * raw-descriptor forward. */
fn_status fn_dlib_resnet_embed_with(struct fn_model *m, const fn_image *crops, int n, float *out,
                                    fn_status (*forward)(struct fn_model *, const fn_image *, int, float *));
/* The residual_down tail: out (n, H/2, W/2, cout) = relu(avgpool2x2(x) zero-padded to cout
 * channels + branch (n, bh, bw, cout) zero-padded at the bottom/right). */
void fn_dlib_resnet_down_shortcut(float *out, const float *x, const float *branch, int n, int H, int W,
                                  int cin, int cout, int bh, int bw);
/* Calibration: the float forward on one thread, showing each conv's input to observe
 * (conv i as numbered by fn_dlib_resnet_conv; the stem's input, i = 0, is not shown). */
#define FN_DLIB_CONVS 29 /* stem + 2 per block */
typedef struct {
    void (*observe)(void *ctx, int conv, const float *x, long count);
    void *ctx;
} fn_dlib_observer;
fn_status fn_dlib_resnet_forward_observed(struct fn_model *m, const fn_image *crops, int n, float *out,
                                          const fn_dlib_observer *obs);
/* Conv i in forward order (0 the stem, then conv1 and conv2 of each block) with its scale
 * layer folded in: HWIO w, bias b, and the tensor-name prefix name[/part]. */
typedef struct {
    const float *w, *b;
    int k, cin, cout, stride, down;
    const char *name, *part;
} fn_dlib_conv;
void fn_dlib_resnet_conv(const struct fn_model *m, int i, fn_dlib_conv *c);
const float *fn_dlib_resnet_fc(const struct fn_model *m); /* (256, 128) */
#endif
