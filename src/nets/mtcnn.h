/* mtcnn.h — the three MTCNN networks (Zhang et al. 2016) as facenet-pytorch defines them:
 * P-Net (12x12, fully convolutional), R-Net (24x24), O-Net (48x48 + 5 landmarks).
 *
 * Weights come from the canonical tensor set (facenet-pytorch's pnet/rnet/onet.pt names and
 * PyTorch layouts, prefixed "pnet.", "rnet.", "onet."): conv OIHW is converted to HWIO, and
 * the dense layers' input rows are reordered so they read our NHWC activations directly
 * (facenet-pytorch flattens with permute(0,3,2,1), i.e. in W,H,C order).
 * Inputs are already normalised: (pixel - 127.5) * 0.0078125. */
#ifndef FN_MTCNN_NETS_H
#define FN_MTCNN_NETS_H
#include "core.h"
#include "tensors.h"

typedef struct {
    float *w, *b, *alpha;  /* HWIO (kh,kw,cin,cout), bias (cout), PReLU slopes (cout) */
    int kh, kw, cin, cout; /* cout padded to a SIMD-friendly count; padding channels are 0 */
} mtcnn_conv;

typedef struct {
    float *w, *b;          /* (cin, cout), bias (cout) */
    int cin, cout;         /* cout a multiple of 8 (heads padded with zero columns) */
} mtcnn_dense;

typedef struct {
    /* P-Net: conv3x3 10 (padded to 16), pool2/2, conv3x3 16, conv3x3 32, heads 2+4 fused */
    mtcnn_conv p1, p2, p3;
    mtcnn_dense p_head;
    /* R-Net: conv3x3 28 (padded to 32), pool3/2, conv3x3 48, pool3/2, conv2x2 64,
     * dense 128 + PReLU, heads 2+4 */
    mtcnn_conv r1, r2, r3;
    mtcnn_dense r4, r_head;
    float *r_a4;
    /* O-Net: conv3x3 32, pool3/2, conv3x3 64, pool3/2, conv3x3 64, pool2/2, conv2x2 128,
     * dense 256 + PReLU, heads 2+4+10 */
    mtcnn_conv o1, o2, o3, o4;
    mtcnn_dense o5, o_head;
    float *o_a5;
    float *mem; /* one block holding every array above */
} mtcnn_nets;

/* Reads and converts the canonical tensors (clear FN_ERR_MISSING / FN_ERR_SHAPE errors). */
fn_status mtcnn_nets_init(mtcnn_nets *n, const fn_tensor_set *canonical);
void mtcnn_nets_free(mtcnn_nets *n);

/* P-Net output size for an H x W input (0 when the input is smaller than 12). */
void mtcnn_pnet_out_size(int H, int W, int *OH, int *OW);

/* The forward passes run on the calling thread (src/detect parallelises over pyramid
 * strips and crop chunks); each allocates its own scratch. */

/* P-Net over an image (H,W,3) -> out (OH,OW,5): face probability, then the 4 box offsets
 * (dx1,dy1,dx2,dy2). Output cell (y,x) sees input rows 2y..2y+11, columns 2x..2x+11. */
fn_status mtcnn_pnet_forward(const mtcnn_nets *n, const float *in, int H, int W, float *out);

/* R-Net over N crops (N,24,24,3) -> out (N,5): face probability, 4 box offsets. */
fn_status mtcnn_rnet_forward(const mtcnn_nets *n, const float *in, int N, float *out);

/* O-Net over N crops (N,48,48,3) -> out (N,15): face probability, 4 box offsets, then
 * 10 landmark values (x1..x5, y1..y5) relative to the crop (0..1). */
fn_status mtcnn_onet_forward(const mtcnn_nets *n, const float *in, int N, float *out);

#endif
