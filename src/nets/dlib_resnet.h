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
#endif
