/* ops_int8.h — int8 inference kernels (issue 18): u8 activations × s8 weights with int32
 * accumulation and a fused epilogue (int32 bias, requantise or dequantise, residual add,
 * ReLU).
 *
 * Quantisation: an activation a ≈ scale_a * (q - zero), q in 0..255 (zero = 0 for the
 * ReLU outputs that feed nearly every conv, so the u8 code space is used in full); a weight
 * w ≈ scale_w[n] * q, q in -127..127, symmetric per output channel.
 * The product of a row of u8 activations and a column of s8 weights is exact in int32
 * (|sum| < 2^31 for K < 66,000), so every code path gives the same integers; the epilogue
 * is the same float32 operations in the same order on every path (the file is compiled
 * without FP contraction), so outputs are bit-identical across AVX-512 VNNI, AVX2 and the
 * portable C path, which is the reference the tests hold the others to.
 * Paths are chosen at run time by CPU features (fn_int8_isa_best). */
#ifndef FN_OPS_INT8_H
#define FN_OPS_INT8_H
#include "ops.h"

typedef enum { FN_ISA_PORTABLE = 0, FN_ISA_AVX2 = 1, FN_ISA_VNNI = 2 } fn_int8_isa;
/* The best path this CPU runs (AVX-512 F/BW/VNNI, AVX2, else portable C). */
fn_int8_isa fn_int8_isa_best(void);
/* The path in use: the best one unless fn_int8_set_isa chose a lower one (tests, bench);
 * a path the CPU lacks is clamped to the best it has. Process-wide. */
fn_int8_isa fn_int8_isa_current(void);
void fn_int8_set_isa(fn_int8_isa isa);
const char *fn_int8_isa_name(fn_int8_isa isa);

/* A weight matrix B (K, N) of int8 (from HWIO conv weights: K = kh*kw*Cin, N = Cout),
 * kept plain for the portable path and packed for the SIMD ones: [N/16][Kp/4][16][4]
 * (K padded to Kp, a multiple of 4, and N to a multiple of 16, with zeros). */
typedef struct {
    int K, N, Kp, Np;
    int8_t *plain;   /* (K, N) */
    int8_t *packed;  /* (Np/16, Kp/4, 16, 4) */
} fn_qmatrix;
fn_status fn_qmatrix_init(fn_qmatrix *m, const int8_t *b, int K, int N);
void fn_qmatrix_free(fn_qmatrix *m);

/* What the epilogue does with acc[m][n] = sum_k A[m][k] B[k][n] + bias[n] (int32):
 *   y = (float)acc * scale[n]
 *   FN_QOUT_U8:  out_u8[m*ld + n] = round-half-even(clamp(y, 0, 255))  (requantised; ReLU is
 *                the clamp at 0 — zero point 0)
 *   FN_QOUT_F32: v = y; if residual v = v + out[m*ld + n]; if relu v = max(v, 0); store v */
typedef enum { FN_QOUT_U8 = 0, FN_QOUT_F32 = 1 } fn_qout;
typedef struct {
    fn_qout kind;
    const int32_t *bias; /* N, may be NULL */
    const float *scale;  /* N */
    int residual, relu;  /* FN_QOUT_F32 only */
    void *out;           /* uint8_t* or float* */
    int ld;              /* elements between output rows */
} fn_qepilogue;

/* out (M, N) = epilogue(A (M, K) B): A is u8 with lda bytes between rows (lda >= Kp; the
 * bytes K..Kp of every row must be 0). Single-threaded (callers split images over
 * workers). */
void fn_gemm_u8s8(const uint8_t *A, long M, int lda, const fn_qmatrix *B, const fn_qepilogue *ep);

/* The int8 convolution: HWIO weights as a fn_qmatrix, input zero point zero (the im2col
 * pads with it, so SAME padding reads a real 0), bias already holding -zero * colsum(B). */
typedef struct {
    fn_qmatrix w;
    int kh, kw, sh, sw;
    fn_padding pad;
    uint8_t zero;
} fn_qconv;
fn_status fn_qconv_init(fn_qconv *c, const int8_t *w_hwio, int kh, int kw, int Cin, int Cout, int sh,
                        int sw, fn_padding pad, uint8_t zero);
void fn_qconv_free(fn_qconv *c);
/* bias[n] -= zero * sum_k w[k][n]: what makes the zero point's offset vanish from acc. */
void fn_qconv_fold_zero(const fn_qconv *c, int32_t *bias);
/* Bytes of workspace fn_conv2d_u8_forward needs for this shape (0 for 1x1/stride-1 convs
 * whose input rows are already padded to Kp). */
size_t fn_conv2d_u8_workspace(const fn_conv_shape *s, const fn_qconv *c);
/* out = epilogue(conv(in (N, H, W, [ld_in]) u8, c)) over the N*OH*OW output pixels. */
void fn_conv2d_u8_forward(const uint8_t *in, int ld_in, const fn_qconv *c, const fn_conv_shape *s,
                          const fn_qepilogue *ep, uint8_t *workspace);

/* out_u8 (rows, C, ld_out) = clamp(round-half-even(x * inv_scale) + zero, 0, 255) from
 * float x (rows, C, ld_in): an activation into the u8 code space. */
void fn_quantize_u8(uint8_t *out, int ld_out, const float *x, int ld_in, long rows, int C,
                    float inv_scale, uint8_t zero);
#endif
