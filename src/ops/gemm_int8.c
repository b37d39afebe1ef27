/* gemm_int8.c — u8 × s8 → int32 matrix products with a fused epilogue, in three paths
 * chosen at run time: AVX-512 VNNI (vpdpbusd: four u8×s8 products summed into each int32
 * lane), AVX2 (bytes widened to 16 bits, vpmaddwd — vpmaddubsw would saturate 2·255·127)
 * and portable C, the reference. See ops_int8.h for the arithmetic all three share.
 * Compiled with -ffp-contract=off (cmake/int8.cmake): a fused multiply-add in one path and
 * not in another would round differently. */
#include "ops_int8.h"
#if defined(__x86_64__) || defined(__i386__)
#define FN_X86 1
#include <immintrin.h>
#endif

/* ---- run-time dispatch */
static int isa_forced = -1;

/* atomics: the service embeds from several threads at once (and runs under TSan) */
fn_int8_isa fn_int8_isa_best(void) {
    static int cached = -1;
    int best = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (best < 0) {
        best = FN_ISA_PORTABLE;
#ifdef FN_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vnni"))
            best = FN_ISA_VNNI;
        else if (__builtin_cpu_supports("avx2"))
            best = FN_ISA_AVX2;
#endif
        __atomic_store_n(&cached, best, __ATOMIC_RELAXED);
    }
    return (fn_int8_isa)best;
}

fn_int8_isa fn_int8_isa_current(void) {
    const fn_int8_isa best = fn_int8_isa_best();
    const int forced = __atomic_load_n(&isa_forced, __ATOMIC_RELAXED);
    return forced >= 0 && forced < (int)best ? (fn_int8_isa)forced : best;
}

void fn_int8_set_isa(fn_int8_isa isa) { __atomic_store_n(&isa_forced, (int)isa, __ATOMIC_RELAXED); }

const char *fn_int8_isa_name(fn_int8_isa isa) {
    return isa == FN_ISA_VNNI ? "avx512-vnni" : isa == FN_ISA_AVX2 ? "avx2" : "portable";
}

/* ---- packed weights */
fn_status fn_qmatrix_init(fn_qmatrix *m, const int8_t *b, int K, int N) {
    memset(m, 0, sizeof *m);
    if (K <= 0 || N <= 0) return fn_fail(FN_ERR_ARG, "int8 matrix: bad shape %dx%d", K, N);
    m->K = K; m->N = N;
    m->Kp = (K + 3) & ~3;
    m->Np = (N + 15) & ~15;
    m->plain = fn_malloc((size_t)K * N);
    m->packed = fn_calloc((size_t)m->Kp * m->Np, 1);
    if (!m->plain || !m->packed) { fn_qmatrix_free(m); return fn_fail(FN_ERR_NOMEM, "int8 matrix: out of memory"); }
    memcpy(m->plain, b, (size_t)K * N);
    const size_t panel = (size_t)m->Kp * 16;
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++)
            m->packed[(n / 16) * panel + (size_t)(k / 4) * 64 + (n % 16) * 4 + k % 4] = b[(size_t)k * N + n];
    return FN_OK;
}

void fn_qmatrix_free(fn_qmatrix *m) {
    fn_free(m->plain);
    fn_free(m->packed);
    m->plain = m->packed = NULL;
}

/* ---- the epilogue, one element (the portable and AVX2 paths; VNNI's vector form below
 * performs the same operations) */
static inline void epilogue_one(const fn_qepilogue *ep, long m, int n, int32_t acc) {
    if (ep->bias) acc += ep->bias[n];
    float y = (float)acc * ep->scale[n];
    if (ep->kind == FN_QOUT_U8) {
        y = y > 0.0f ? y : 0.0f;
        y = y < 255.0f ? y : 255.0f;
        ((uint8_t *)ep->out)[m * ep->ld + n] = (uint8_t)nearbyintf(y);
    } else {
        float *o = (float *)ep->out + m * ep->ld + n;
        if (ep->residual) y = y + *o;
        if (ep->relu) y = y > 0.0f ? y : 0.0f;
        *o = y;
    }
}

static void gemm_portable(const uint8_t *A, long M, int lda, const fn_qmatrix *B, const fn_qepilogue *ep) {
    const int K = B->K, N = B->N;
    int32_t *acc = fn_malloc(sizeof(int32_t) * N);
    FN_ASSERT(acc);
    for (long m = 0; m < M; m++) {
        const uint8_t *a = A + m * lda;
        memset(acc, 0, sizeof(int32_t) * N);
        for (int k = 0; k < K; k++) {
            const int32_t ak = a[k];
            const int8_t *b = B->plain + (size_t)k * N;
            if (ak)
                for (int n = 0; n < N; n++) acc[n] += ak * b[n];
        }
        for (int n = 0; n < N; n++) epilogue_one(ep, m, n, acc[n]);
    }
    fn_free(acc);
}

#ifdef FN_X86
/* ---- AVX2: 2 rows × 16 columns per tile. A panel step holds 16 columns × 4 k as bytes
 * c0k0 c0k1 c0k2 c0k3 c1k0 ...; widened to words, vpmaddwd against the row's 4 activation
 * bytes (widened, repeated) gives, per column, two partial sums (k0+k1, k2+k3) that a
 * final horizontal add joins. */
#define AVX2_MR 2
__attribute__((target("avx2")))
static void gemm_avx2(const uint8_t *A, long M, int lda, const fn_qmatrix *B, const fn_qepilogue *ep) {
    const int kq = B->Kp / 4;
    const size_t panel = (size_t)B->Kp * 16;
    for (int n0 = 0; n0 < B->N; n0 += 16) {
        const int8_t *bp = B->packed + (size_t)(n0 / 16) * panel;
        for (long m0 = 0; m0 < M; m0 += AVX2_MR) {
            const int mr = M - m0 < AVX2_MR ? (int)(M - m0) : AVX2_MR;
            const uint8_t *r0 = A + m0 * lda, *r1 = mr > 1 ? r0 + lda : r0;
            __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00;
            __m256i c10 = c00, c11 = c00, c12 = c00, c13 = c00;
            for (int q = 0; q < kq; q++) {
                const int8_t *w = bp + (size_t)q * 64;
                const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w));
                const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16)));
                const __m256i w2 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 32)));
                const __m256i w3 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 48)));
                int32_t x0, x1;
                memcpy(&x0, r0 + 4 * q, 4);
                memcpy(&x1, r1 + 4 * q, 4);
                const __m256i a0 = _mm256_cvtepu8_epi16(_mm_set1_epi32(x0));
                const __m256i a1 = _mm256_cvtepu8_epi16(_mm_set1_epi32(x1));
                c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(a0, w0));
                c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(a0, w1));
                c02 = _mm256_add_epi32(c02, _mm256_madd_epi16(a0, w2));
                c03 = _mm256_add_epi32(c03, _mm256_madd_epi16(a0, w3));
                c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(a1, w0));
                c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(a1, w1));
                c12 = _mm256_add_epi32(c12, _mm256_madd_epi16(a1, w2));
                c13 = _mm256_add_epi32(c13, _mm256_madd_epi16(a1, w3));
            }
            /* hadd per 128-bit lane gives columns (0 1 4 5 | 2 3 6 7): reorder the qwords */
            int32_t acc[AVX2_MR][16];
            _mm256_storeu_si256((__m256i *)acc[0], _mm256_permute4x64_epi64(_mm256_hadd_epi32(c00, c01), 0xD8));
            _mm256_storeu_si256((__m256i *)(acc[0] + 8), _mm256_permute4x64_epi64(_mm256_hadd_epi32(c02, c03), 0xD8));
            _mm256_storeu_si256((__m256i *)acc[1], _mm256_permute4x64_epi64(_mm256_hadd_epi32(c10, c11), 0xD8));
            _mm256_storeu_si256((__m256i *)(acc[1] + 8), _mm256_permute4x64_epi64(_mm256_hadd_epi32(c12, c13), 0xD8));
            const int nn = B->N - n0 < 16 ? B->N - n0 : 16;
            for (int p = 0; p < mr; p++)
                for (int j = 0; j < nn; j++) epilogue_one(ep, m0 + p, n0 + j, acc[p][j]);
        }
    }
}

/* ---- AVX-512 VNNI: tiles of MR rows × 32 columns (two 16-column panels), 2·MR int32
 * accumulators; each k-step of 4 broadcasts a row's 4 activation bytes and issues one
 * vpdpbusd per panel. Rows are taken in chunks of MC so the A rows of a chunk stay in L2
 * while every column panel passes over them. */
#define VNNI_MR 12
#define VNNI_MC 96
#define VNNI_TARGET "avx512f,avx512bw,avx512vl,avx512vnni"

__attribute__((target(VNNI_TARGET)))
static inline void vnni_epilogue(const fn_qepilogue *ep, long m, int n0, int N, __m512i acc) {
    const int nn = N - n0 < 16 ? N - n0 : 16;
    const __mmask16 mask = (__mmask16)((1u << nn) - 1);
    if (ep->bias) acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(mask, ep->bias + n0));
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_maskz_loadu_ps(mask, ep->scale + n0));
    const __m512 zero = _mm512_setzero_ps();
    if (ep->kind == FN_QOUT_U8) {
        y = _mm512_min_ps(_mm512_max_ps(y, zero), _mm512_set1_ps(255.0f));
        /* cvtps rounds half to even (MXCSR default), as nearbyintf does */
        _mm512_mask_cvtusepi32_storeu_epi8((uint8_t *)ep->out + m * ep->ld + n0, mask, _mm512_cvtps_epi32(y));
    } else {
        float *o = (float *)ep->out + m * ep->ld + n0;
        if (ep->residual) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, o));
        if (ep->relu) y = _mm512_max_ps(y, zero);
        _mm512_mask_storeu_ps(o, mask, y);
    }
}

/* One MR × 32 tile over the whole K: named accumulators (GCC spills an array of them to
 * the stack on every step), written to acc[p][0..1] at the end. */
#define VNNI_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define VNNI_DECL(p) __m512i c##p##a = _mm512_setzero_si512(), c##p##b = c##p##a; \
    const uint8_t *r##p = rows[p];
#define VNNI_STEP(p) { int32_t x; memcpy(&x, r##p + 4 * q, 4); const __m512i a = _mm512_set1_epi32(x); \
    c##p##a = _mm512_dpbusd_epi32(c##p##a, a, w0); c##p##b = _mm512_dpbusd_epi32(c##p##b, a, w1); }
#define VNNI_SAVE(p) acc[p][0] = c##p##a; acc[p][1] = c##p##b;
__attribute__((target(VNNI_TARGET)))
static void vnni_tile(const uint8_t *const *rows, const int8_t *b0, const int8_t *b1, int kq, __m512i acc[VNNI_MR][2]) {
    VNNI_ROWS(VNNI_DECL)
    for (int q = 0; q < kq; q++) {
        const __m512i w0 = _mm512_loadu_si512(b0 + (size_t)q * 64);
        const __m512i w1 = _mm512_loadu_si512(b1 + (size_t)q * 64);
        VNNI_ROWS(VNNI_STEP)
    }
    VNNI_ROWS(VNNI_SAVE)
}

__attribute__((target(VNNI_TARGET)))
static void gemm_vnni(const uint8_t *A, long M, int lda, const fn_qmatrix *B, const fn_qepilogue *ep) {
    const int kq = B->Kp / 4, npanels = B->Np / 16;
    const size_t panel = (size_t)B->Kp * 16;
    for (long c0 = 0; c0 < M; c0 += VNNI_MC) {
        const long c1 = M - c0 < VNNI_MC ? M : c0 + VNNI_MC;
        for (int pn = 0; pn < npanels; pn += 2) {
            const int two = pn + 1 < npanels;
            const int8_t *b0 = B->packed + (size_t)pn * panel, *b1 = two ? b0 + panel : b0;
            for (long m0 = c0; m0 < c1; m0 += VNNI_MR) {
                const int mr = c1 - m0 < VNNI_MR ? (int)(c1 - m0) : VNNI_MR;
                const uint8_t *rows[VNNI_MR]; /* a short tile repeats its first row */
                for (int p = 0; p < VNNI_MR; p++) rows[p] = A + (m0 + (p < mr ? p : 0)) * lda;
                __m512i acc[VNNI_MR][2];
                vnni_tile(rows, b0, b1, kq, acc);
                for (int p = 0; p < mr; p++) {
                    vnni_epilogue(ep, m0 + p, pn * 16, B->N, acc[p][0]);
                    if (two) vnni_epilogue(ep, m0 + p, pn * 16 + 16, B->N, acc[p][1]);
                }
            }
        }
    }
}

#endif /* FN_X86 */

void fn_gemm_u8s8(const uint8_t *A, long M, int lda, const fn_qmatrix *B, const fn_qepilogue *ep) {
    if (M <= 0) return;
    switch (fn_int8_isa_current()) {
#ifdef FN_X86
    case FN_ISA_VNNI: gemm_vnni(A, M, lda, B, ep); break;
    case FN_ISA_AVX2: gemm_avx2(A, M, lda, B, ep); break;
#endif
    default: gemm_portable(A, M, lda, B, ep); break;
    }
}

/* ---- activations into u8 codes */
void fn_quantize_u8(uint8_t *out, int ld_out, const float *x, int ld_in, long rows, int C,
                    float inv_scale, uint8_t zero) {
    for (long r = 0; r < rows; r++) {
        const float *xi = x + r * ld_in;
        uint8_t *o = out + r * ld_out;
        for (int c = 0; c < C; c++) {
            float v = nearbyintf(xi[c] * inv_scale) + (float)zero;
            v = v > 0.0f ? v : 0.0f;
            o[c] = (uint8_t)(v < 255.0f ? v : 255.0f);
        }
    }
}
