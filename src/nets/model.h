/* model.h — the internal side of fn_model: one embedding network behind a small vtable,
 * so every command works with any backbone (Inception-ResNet-v1, dlib-style ResNet). */
#ifndef FN_MODEL_H
#define FN_MODEL_H
#include "core.h"
#include "tensors.h"

typedef enum { FN_CROP_MARGIN = 0, FN_CROP_CHIP5 = 1 } fn_crop_kind;

struct fn_model {
    const char *arch;      /* "inception_resnet_v1", "dlib_resnet" */
    int dim, input_size;
    fn_crop_kind crop;     /* margin crop (facenet) or 5-point chip (dlib) */
    int crop_margin;       /* for FN_CROP_MARGIN: 44 at 160 px */
    float chip_padding;    /* for FN_CROP_CHIP5: 0.25 */
    fn_standardize standardize;
    int stretch_aligned;   /* trained with --image-fit stretch: aligned crops of another size
                              are resized whole, never centre-cropped */
    int int8;              /* an int8 model file (issue 18: nets/dlib_resnet_int8.c) */
    char id[65];           /* hex digest of the weights */
    void *impl;
    /* out: n x dim, L2-normalised. crops: n images of input_size^2 */
    fn_status (*embed)(struct fn_model *m, const fn_image *crops, int n, float *out);
    void (*destroy)(struct fn_model *m);
};

/* Architecture constructors: read weights from a tensor set (the set may be freed after). */
fn_status fn_irv1_model_create(const fn_tensor_set *ts, struct fn_model *m);
fn_status fn_dlib_resnet_model_create(const fn_tensor_set *ts, struct fn_model *m);
fn_status fn_dlib_resnet_int8_model_create(const fn_tensor_set *ts, struct fn_model *m);
/* int8 quantisation of a float dlib ResNet (nets/dlib_resnet_int8.c): calibrates on crops
 * (n 150×150 chips) at the given percentile of each conv's input values; out gets the
 * int8 model's tensors; act_max (FN_DLIB_CONVS, may be NULL) each conv input's range seen. */
fn_status fn_dlib_resnet_quantize(struct fn_model *m, const fn_image *crops, int n, double percentile,
                                  fn_tensor_set *out, double *act_max);

#define FN_EMBEDDING_CODE_VERSION "embed-v2" /* v2: dlib ResNet sums chip + mirror */
/* 64-bit FNV-1a over the embedding code version, every tensor's name and bytes and the
 * metadata that changes embeddings without changing a tensor (image_size, standardize,
 * image_fit),
 * as 16 hex chars (the model id). Depth and width are in the names and shapes. */
void fn_tensor_set_digest(const fn_tensor_set *ts, char out[65]);
/* The string value of `key` in the safetensors metadata, copied into buf (truncated to
 * n - 1 bytes); NULL when absent or not a string. */
const char *fn_tensor_set_meta(const fn_tensor_set *ts, const char *key, char *buf, size_t n);
#endif
