/* ops_backward.h — backward / training ops (engineer "train").
 *
 * Kept in its own header so the forward section of ops.h stays with its owner; it
 * includes ops.h. All tensors here are contiguous NHWC (ld == C). Every _backward ADDS
 * into its gradient outputs (llm.c style): clear them once per step. */
#ifndef FN_OPS_BACKWARD_H
#define FN_OPS_BACKWARD_H
#include "ops.h"

/* ---------------------------------------------------------------- convolution */
/* din (N,H,W,Cin) += conv_transpose(dout (N,OH,OW,Cout), w (kh,kw,Cin,Cout)); din may be NULL.
 * dw (kh,kw,Cin,Cout) += im2col(in)^T @ dout; dbias (Cout) += sum(dout), may be NULL.
 * workspace: fn_conv2d_backward_workspace(s) floats. */
size_t fn_conv2d_backward_workspace(const fn_conv_shape *s);
void fn_conv2d_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                        const float *w, const fn_conv_shape *s, float *workspace);
/* wt (kh,kw,Cout,Cin) = w (kh,kw,Cin,Cout) rotated by 180 degrees, channels swapped: the
 * kernel of the data gradient run as a forward conv */
void fn_conv2d_flip_kernel(float *wt, const float *w, const fn_conv_shape *s);
/* The weight gradient of a conv that takes fn_conv2d_uses_winograd1d (1x7 / 7x1, F(2,7)):
 * dw (7,Cin,Cout) += G^T sum over tiles (B^T d)^T (A dy); in is contiguous (ld = Cin).
 * fn_conv2d_backward calls it; workspace: fn_conv2d_winograd1d_workspace(s) floats. */
void fn_conv2d_winograd1d_wgrad(float *dw, const float *dout, const float *in, const fn_conv_shape *s,
                                float *workspace);

/* ---------------------------------------------------------------- batch norm */
/* Training-mode batch norm over rows (= N*H*W) x C, optionally fused with ReLU:
 * out = act((in - mean) * rstd * gamma + beta), gamma NULL = fixed 1 (TF slim scale=False).
 * Saves mean/rstd (C each) for backward. running_mean/var (may be NULL) move towards the
 * batch statistics: r = decay * r + (1 - decay) * batch, variance unbiased (as PyTorch). */
void fn_batchnorm_forward_train(float *out, float *mean, float *rstd, const float *in, long rows,
                                int C, const float *gamma, const float *beta, float eps,
                                float *running_mean, float *running_var, float decay, fn_act act);
/* Inference: out = act((in - running_mean) / sqrt(running_var + eps) * gamma + beta). */
void fn_batchnorm_forward_infer(float *out, const float *in, long rows, int C, const float *gamma,
                                const float *beta, const float *running_mean,
                                const float *running_var, float eps, fn_act act);
/* din (rows,C) +=, dgamma/dbeta (C) += (each may be NULL). The ReLU mask is recomputed from
 * in, mean, rstd, gamma and beta (the forward's arguments), so the output is not needed. */
void fn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *rstd,
                           const float *gamma, const float *beta, long rows, int C, fn_act act);
/* The same in pieces, for a batch split between workers (every worker normalises its rows
 * with the statistics of the whole batch):
 *   fn_batchnorm_moments gives the mean and m2 (sum of squared deviations from it) of
 *   the worker's rows per channel; fn_batchnorm_merge adds part b (n_b rows) into a
 *   (n rows); fn_batchnorm_stats turns the whole batch's moments into mean and rstd and
 *   moves running_*; fn_batchnorm_apply normalises the worker's rows (row stride ld_out).
 * Backward: fn_batchnorm_backward_sums (sum_g += sum(dy), sum_gx += sum(dy * xhat)), add
 * the workers' sums (sum_g is dbeta, sum_gx dgamma), then fn_batchnorm_backward_input,
 * which adds into din (accumulate) or overwrites it (din has no other contributor).
 * out and dout share the row stride ld_out (a channel slice of a concat); in/din are
 * contiguous; rows_total counts the whole batch's rows. */
void fn_batchnorm_moments(double *mean, double *m2, const float *in, long rows, int C);
void fn_batchnorm_merge(double *mean, double *m2, long n, const double *mean_b, const double *m2_b,
                        long n_b, int C);
void fn_batchnorm_stats(float *mean, float *rstd, const double *mu, const double *m2, long rows,
                        int C, float eps, float *running_mean, float *running_var, float decay);
void fn_batchnorm_apply(float *out, int ld_out, const float *in, long rows, int C,
                        const float *mean, const float *rstd, const float *gamma,
                        const float *beta, fn_act act);
void fn_batchnorm_backward_sums(double *sum_g, double *sum_gx, const float *dout, int ld_out,
                                const float *in, const float *mean, const float *rstd,
                                const float *gamma, const float *beta, long rows, int C, fn_act act);
void fn_batchnorm_backward_input(float *din, int accumulate, const float *dout, int ld_out,
                                 const float *in, const float *mean, const float *rstd,
                                 const float *gamma, const float *beta, const double *sum_g,
                                 const double *sum_gx, long rows_total, long rows, int C, fn_act act);

/* ---------------------------------------------------------------- elementwise */
/* din += dout * (out > 0) over n values. */
void fn_relu_backward(float *din, const float *dout, const float *out, long n);
/* out = act(trunk + scale * up) (rows,C). Backward: dtrunk += g, dup += scale * g where
 * g = dout * (out > 0 if relu). */
void fn_residual_backward(float *dtrunk, float *dup, const float *dout, const float *out, long n,
                          float scale, fn_act act);
/* Inverted dropout over rows x cols: mask = 0 or 1/keep, out = in * mask. Row r's mask is
 * drawn from its own stream, a function of (seed, row0 + r) alone, so a batch split into
 * pieces (ranks, workers) draws what the whole batch would. keep >= 1 copies. */
void fn_dropout_forward(float *out, float *mask, const float *in, long rows, long cols, float keep,
                        uint64_t seed, long row0);
void fn_dropout_backward(float *din, const float *dout, const float *mask, long n);
/* din (N,Cin) += dout @ w^T; dw (Cin,Cout) += in^T @ dout; dbias += sum(dout) (may be NULL). */
void fn_dense_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                       const float *w, int N, int Cin, int Cout);
/* y = x / sqrt(max(|x|^2, eps)); din += (dy - y (y.dy)) / norm (dy / norm below eps). */
void fn_l2norm_backward(float *din, const float *dout, const float *in, const float *out, int N,
                        int D, float eps);

/* ---------------------------------------------------------------- pooling */
/* Max pooling: each output's gradient goes to the first maximal in-image tap. */
void fn_maxpool_backward(float *din, const float *dout, const float *in, int N, int H, int W,
                         int C, int k, int stride, int pad_top, int pad_left, int OH, int OW);
/* Average pooling (TF: divides by the in-image tap count). */
void fn_avgpool_backward(float *din, const float *dout, int N, int H, int W, int C, int k,
                         int stride, int pad_top, int pad_left, int OH, int OW);
/* din (N,HW,C) += dout (N,C) / HW */
void fn_global_avgpool_backward(float *din, const float *dout, int N, int HW, int C);

/* ---------------------------------------------------------------- losses */
/* facenet's triplet_loss: emb rows are (anchor, positive, negative) per triplet (T
 * triplets, 3T rows of D). Returns mean(max(|a-p|^2 - |a-n|^2 + alpha, 0)); when demb is
 * non-NULL adds dloss * d(loss)/d(emb). */
float fn_triplet_loss(float *demb, const float *emb, int T, int D, float alpha, float dloss);
/* Mean softmax cross-entropy over N rows of K logits; dlogits += dloss * (p - onehot)/N.
 * correct (may be NULL) gets the number of rows whose argmax equals the label. */
float fn_softmax_xent(float *dlogits, const float *logits, const int *labels, int N, int K,
                      float dloss, int *correct);
/* facenet's center_loss: mean((f - c_label)^2) over N x D; dfeat += dloss * 2 (f - c)/(N D).
 * When update, centers move afterwards: c_label -= (1 - alfa) (c_label - f) per row, using
 * the pre-update centres for the loss (TF scatter_sub semantics). */
float fn_center_loss(float *dfeat, float *centers, const float *feat, const int *labels, int N,
                     int D, float alfa, float dloss, int update);
#endif
