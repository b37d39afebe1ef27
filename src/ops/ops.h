/* ops.h — the forward (and, for training, backward) ops of the networks.
 *
 * Layout: activations are NHWC float32. A tensor "view" may be a channel slice of a wider
 * tensor: `ld` is the number of floats between consecutive pixels (>= C). That is how
 * concatenation costs nothing: each branch writes its channels at an offset of the
 * concat output with ld = total channels.
 * Conv weights are HWIO: [kh][kw][Cin][Cout] (GEMM-ready: K = kh*kw*Cin rows, Cout columns).
 * Backward functions ADD into their gradient outputs (llm.c style). */
#ifndef FN_OPS_H
#define FN_OPS_H
#include "core.h"

typedef enum { FN_ACT_NONE = 0, FN_ACT_RELU = 1 } fn_act;
typedef enum { FN_PAD_VALID = 0, FN_PAD_SAME = 1 } fn_padding;

/* Output size and leading pad for TF padding: SAME puts the odd extra pixel at the
 * bottom/right (pad_before = total/2). */
void fn_conv_out_size(int in, int k, int stride, fn_padding pad, int *out, int *pad_before);

typedef struct {
    int N, H, W, Cin;   /* input */
    int kh, kw, sh, sw; /* kernel, stride */
    int pad_top, pad_left;
    int OH, OW, Cout;   /* output */
} fn_conv_shape;

/* Winograd tile t of a conv's output, tiles of m x m outputs numbered in (N, ceil(OH/m),
 * ceil(OW/m)) order: its image n and the output row and column where it starts. */
static inline void fn_winograd_tile(const fn_conv_shape *s, int m, long t, int *n, int *oy0, int *ox0) {
    const long tw = (s->OW + m - 1) / m, per_image = tw * ((s->OH + m - 1) / m), rem = t % per_image;
    *n = (int)(t / per_image);
    *oy0 = (int)(rem / tw) * m;
    *ox0 = (int)(rem % tw) * m;
}

/* Fills OH, OW, pad_top, pad_left from the padding mode. */
void fn_conv_shape_init(fn_conv_shape *s, int N, int H, int W, int Cin, int Cout,
                        int kh, int kw, int sh, int sw, fn_padding pad);
/* Floats of workspace the forward needs (im2col buffer, or the Winograd tiles and weights;
 * 0 for 1x1/stride-1 convs). */
size_t fn_conv2d_workspace(const fn_conv_shape *s);

/* out (N,OH,OW,[ld_out]) = act(conv(in (N,H,W,[ld_in]), w (kh,kw,Cin,Cout)) + bias (Cout))
 * bias may be NULL. in and out must not overlap. */
void fn_conv2d_forward(float *out, int ld_out, const float *in, int ld_in, const float *w,
                       const float *bias, const fn_conv_shape *s, fn_act act, float *workspace);

/* out = act(beta * out + alpha * (conv(in, w) + bias)): the residual "up" conv of a block
 * adds scale * up into the trunk in one GEMM (alpha = scale, beta = 1).
 * 3x3 stride-1 convs with enough output tiles run as Winograd F(2x2,3x3); w_winograd, when
 * not NULL, holds fn_conv2d_winograd_weights(w) so the per-call weight transform is skipped. */
void fn_conv2d_forward_ex(float *out, int ld_out, const float *in, int ld_in, const float *w,
                          const float *w_winograd, const float *bias, const fn_conv_shape *s,
                          float alpha, float beta, fn_act act, float *workspace);
/* Whether a conv of this kernel/stride/channels may take the Winograd path; its transformed
 * weights are 16 * Cin * Cout floats: U (16, Cin, Cout) from HWIO w (3, 3, Cin, Cout). */
int fn_conv2d_winograd_eligible(int kh, int kw, int sh, int sw, int Cin, int Cout);
void fn_conv2d_winograd_weights(float *U, const float *w, int Cin, int Cout);
/* 1x7 and 7x1 stride-1 convs (Block17) with 32..4096 channels, >= 32 two-output tiles and
 * tiles * Cin * Cout >= 2^17 run as the 1-D Winograd F(2,7) of conv2d_winograd1d.c, which
 * fn_conv2d_forward_ex calls with its own semantics (bias, alpha, beta, act, ld_in, ld_out;
 * w_winograd is not used). Tiles: N * OH * ceil(OW/2) for 1x7, N * ceil(OH/2) * OW for 7x1.
 * The workspace also covers the im2col of a smaller batch of the same shape. */
int fn_conv2d_uses_winograd1d(const fn_conv_shape *s);
long fn_winograd1d_tiles(const fn_conv_shape *s);
size_t fn_conv2d_winograd1d_workspace(const fn_conv_shape *s);
void fn_conv2d_winograd1d_forward(float *out, int ld_out, const float *in, int ld_in, const float *w,
                                  const float *bias, const fn_conv_shape *s, float alpha, float beta,
                                  fn_act act, float *workspace);

/* Shared by conv2d.c and conv2d_backward.c: a 1x1 stride-1 unpadded conv is a plain GEMM;
 * im2col fills col (n_img*OH*OW, kh*kw*Cin) from in (n_img,H,W,[ld]) (taps outside the
 * image are 0), for groups of fn_im2col_images(s) images so the buffer stays bounded. */
int fn_conv_is_pointwise(const fn_conv_shape *s);
int fn_im2col_images(const fn_conv_shape *s);
void fn_im2col(float *col, const float *in, int ld, const fn_conv_shape *s, int n_img);
/* Winograd F(2x2,3x3) pieces, shared with the weight gradient: whether the forward takes
 * Winograd for a shape, its number of 2x2 output tiles (N * ceil(OH/2) * ceil(OW/2)), and
 * the input transform V (16, nt, Cin) = B^T d B of tiles t0 .. t0+nt (taps outside are 0). */
int fn_conv2d_uses_winograd(const fn_conv_shape *s);
long fn_winograd_tiles(const fn_conv_shape *s);
void fn_winograd_input(float *V, const float *in, int ld, const fn_conv_shape *s, long t0, int nt);
/* Pointers to the size x size pixels of image n of t (N, H, W, [ld]) from row y0, column x0;
 * pixels outside the image point at zeros (at most 4096 channels, the Winograd cap). Serves
 * the input tiles (y0, x0 may be negative: padding) and the dY tiles (past the last output). */
void fn_winograd_window(const float **d, const float *t, int ld, int n, int H, int W, int y0, int x0, int size);
/* The per-plane GEMMs of the Winograd-family paths over a chunk of nt tiles: forward
 * M_k (nt, Cout) = V_k (nt, Cin) U_k (Cin, Cout); weight gradient dU_k (Cin, Cout) = V_k^T Mg_k
 * (added to dU when accumulate). */
void fn_winograd_gemms(float *M, const float *V, const float *U, int planes, int nt, int Cin, int Cout);
void fn_winograd_wgrad_gemms(float *dU, const float *V, const float *Mg, int planes, int nt, int Cin, int Cout,
                             int accumulate);
/* F(4x4,3x3) for larger maps (both output sides >= 16): whether a Winograd shape takes it, its 4x4
 * output tiles, and V (36, nt, Cin) = B^T d B of 6x6 input tiles (scratch: 36 * Cin floats). */
int fn_winograd_f4(const fn_conv_shape *s);
long fn_winograd4_tiles(const fn_conv_shape *s);
void fn_winograd4_input(float *V, const float *in, int ld, const fn_conv_shape *s, long t0, int nt, float *scratch);

/* The in-image taps [lo, hi) of output position o along one axis of a k-wide window
 * (pool.c and pool_backward.c skip the taps outside the image). */
static inline void fn_pool_window(int o, int k, int stride, int pad, int size, int *lo, int *hi) {
    int a = o * stride - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > size ? size : b;
}

/* out (N,OH,OW,C) = depthwise conv of in (N,H,W,C) with w (kh,kw,C) (+ bias (C), may be
 * NULL); s->Cout must equal s->Cin. Forward only (src/ops/depthwise_conv2d.c). */
void fn_depthwise_conv2d_forward(float *out, const float *in, const float *w, const float *bias,
                                 const fn_conv_shape *s);

/* Pools over (N,H,W,C) with ld. Out-of-image taps are ignored (TF semantics: SAME average
 * pooling divides by the number of in-image taps). */
void fn_maxpool_forward(float *out, int ld_out, const float *in, int ld_in, int N, int H, int W,
                        int C, int k, int stride, int pad_top, int pad_left, int OH, int OW);
void fn_avgpool_forward(float *out, int ld_out, const float *in, int ld_in, int N, int H, int W,
                        int C, int k, int stride, int pad_top, int pad_left, int OH, int OW);
/* (N,H,W,C) -> (N,C) mean over H*W */
void fn_global_avgpool_forward(float *out, const float *in, int N, int HW, int C);

/* x (rows, C, ld) = act(x + scale * up (rows, C, ld_up)) in place; residual of the blocks. */
void fn_residual_forward(float *x, int ld_x, const float *up, int ld_up, long rows, int C,
                         float scale, fn_act act);
/* In-place ReLU / PReLU (per-channel alpha) over (rows, C, ld). */
void fn_relu_forward(float *x, long rows, int C, int ld);
void fn_prelu_forward(float *x, long rows, int C, int ld, const float *alpha);

/* out (N, Cout) = in (N, Cin) @ w (Cin, Cout) + bias (Cout, may be NULL) */
void fn_dense_forward(float *out, const float *in, const float *w, const float *bias, int N,
                      int Cin, int Cout);

/* Per-row L2 normalisation, x / sqrt(max(sum x^2, eps)) (TF's l2_normalize, eps 1e-10). */
void fn_l2norm_forward(float *out, const float *in, int N, int D, float eps);

/* Fold inference batch norm into a conv's HWIO weights and bias:
 * w *= gamma/sqrt(var+eps) per output channel; bias = beta - mean*gamma/sqrt(var+eps).
 * gamma may be NULL (TF slim fixes the scale at 1). bias_out gets Cout values. */
void fn_fold_batchnorm(float *w, float *bias_out, long k_rows, int Cout, const float *gamma,
                       const float *beta, const float *mean, const float *var, float eps);

/* Channel-wise softmax over (rows, C). */
void fn_softmax_forward(float *out, const float *in, long rows, int C);

/* ---------------------------------------------------------------- backward / training
 * (owner: engineer "train") The _backward ops (conv, pools, residual, dense, dropout,
 * L2 normalisation), training-mode batch norm and the losses (triplet, softmax
 * cross-entropy, center loss) are declared in ops_backward.h, included here. */
#include "ops_backward.h"

#endif
