/* bench_conv1d.c — one 1x7 (or 7x1) SAME stride-1 conv, Block17's shape in training
 * (N=45, 8x8, 128->128) by default: forward, data gradient and weight gradient through the
 * library (1-D Winograd F(2,7) where it applies) against the im2col + GEMM path it replaced,
 * written out here as it was (best of --reps in thread CPU time, the two alternating: the
 * machine is shared).
 * Also the forward's error against a direct double-precision conv. Run single-threaded:
 *
 *     OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 bench_conv1d [--n 45] [--hw 8] [--c 128]
 *                                                           [--k 1x7|7x1] [--reps 15] [--wall]
 * Not a test. */
#include "ops/ops_backward.h"
#include <cblas.h>
#include <time.h>

/* this thread's CPU time: with one OpenBLAS thread all the work is on it, and a shared
 * machine's preemptions do not count (--wall: wall time, for more threads) */
static clockid_t clock_id = CLOCK_THREAD_CPUTIME_ID;
static double now(void) {
    struct timespec t;
    clock_gettime(clock_id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* the im2col path: out = beta * out + conv(in, w) */
static void old_forward(float *out, const float *in, const float *w, const fn_conv_shape *s, float beta, float *col) {
    const int K = s->kh * s->kw * s->Cin, g = fn_im2col_images(s);
    const long pix = (long)s->OH * s->OW;
    for (int n0 = 0; n0 < s->N; n0 += g) {
        int nb = s->N - n0 < g ? s->N - n0 : g;
        fn_im2col(col, in + (long)n0 * s->H * s->W * s->Cin, s->Cin, s, nb);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nb * pix), s->Cout, K, 1.0f, col, K, w,
                    s->Cout, beta, out + n0 * pix * s->Cout, s->Cout);
    }
}

/* the data gradient as conv2d_backward.c runs it: din += conv of dout with the kernel flipped
 * (channels swapped), padded k-1-pad; the flip is timed with either path */
static void dgrad(float *din, const float *dout, const float *w, const fn_conv_shape *s, float *wt, int wino,
                  float *ws) {
    fn_conv2d_flip_kernel(wt, w, s);
    fn_conv_shape t = *s;
    t.H = s->OH; t.W = s->OW; t.Cin = s->Cout; t.OH = s->H; t.OW = s->W; t.Cout = s->Cin;
    t.pad_top = s->kh - 1 - s->pad_top; t.pad_left = s->kw - 1 - s->pad_left;
    if (wino) fn_conv2d_winograd1d_forward(din, t.Cout, dout, t.Cin, wt, NULL, &t, 1.0f, 1.0f, FN_ACT_NONE, ws);
    else old_forward(din, dout, wt, &t, 1.0f, ws);
}

/* the old weight gradient: dw += im2col(in)^T @ dout */
static void old_wgrad(float *dw, const float *dout, const float *in, const fn_conv_shape *s, float *col) {
    const int K = s->kh * s->kw * s->Cin, g = fn_im2col_images(s);
    const long pix = (long)s->OH * s->OW;
    for (int n0 = 0; n0 < s->N; n0 += g) {
        int nb = s->N - n0 < g ? s->N - n0 : g;
        fn_im2col(col, in + (long)n0 * s->H * s->W * s->Cin, s->Cin, s, nb);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, s->Cout, (int)(nb * pix), 1.0f, col, K,
                    dout + n0 * pix * s->Cout, s->Cout, 1.0f, dw, s->Cout);
    }
}

static float *rnd(size_t n, fn_rng *r, float scale) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = scale * (2 * fn_rng_uniform(r) - 1);
    return p;
}

int main(int argc, char **argv) {
    int N = 45, HW = 8, C = 128, kh = 1, kw = 7, reps = 15;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hw") && i + 1 < argc) HW = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--c") && i + 1 < argc) C = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) { ++i; if (sscanf(argv[i], "%dx%d", &kh, &kw) != 2) kh = 0; }
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--wall")) clock_id = CLOCK_MONOTONIC;
        else kh = 0;
    }
    if (!((kh == 1 && kw == 7) || (kh == 7 && kw == 1)) || N < 1 || HW < 1 || C < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_conv1d [--n 45] [--hw 8] [--c 128] [--k 1x7|7x1] [--reps 15] [--wall]\n");
        return 2;
    }
    fn_conv_shape s;
    fn_conv_shape_init(&s, N, HW, HW, C, C, kh, kw, 1, 1, FN_PAD_SAME);
    const size_t nin = (size_t)N * HW * HW * C, nw = (size_t)7 * C * C;
    fn_rng r = {7};
    float *in = rnd(nin, &r, 1), *w = rnd(nw, &r, 0.5f), *dout = rnd(nin, &r, 1);
    float *out = calloc(nin, 4), *din = calloc(nin, 4), *dw = calloc(nw, 4), *wt = malloc(4 * nw);
    size_t wsn = fn_conv2d_winograd1d_workspace(&s);
    size_t coln = (size_t)fn_im2col_images(&s) * HW * HW * 7 * C;
    float *ws = malloc(4 * wsn), *col = malloc(4 * coln);
    printf("%dx%d SAME conv, N=%d, %dx%d, %d->%d, %ld two-output tiles (library takes F(2,7): %s)\n", kh, kw, N, HW,
           HW, C, C, fn_winograd1d_tiles(&s), fn_conv2d_uses_winograd1d(&s) ? "yes" : "no");

    /* error of the forward against a direct conv in double */
    fn_conv2d_winograd1d_forward(out, C, in, C, w, NULL, &s, 1.0f, 0.0f, FN_ACT_NONE, ws);
    float *out_old = calloc(nin, 4);
    old_forward(out_old, in, w, &s, 0.0f, col);
    double e_new = 0, e_old = 0, scale = 0;
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < HW; oy++)
            for (int ox = 0; ox < HW; ox++)
                for (int co = 0; co < C; co++) {
                    double acc = 0;
                    for (int k = 0; k < 7; k++) {
                        int iy = oy - s.pad_top + (kh == 7 ? k : 0), ix = ox - s.pad_left + (kw == 7 ? k : 0);
                        if (iy < 0 || iy >= HW || ix < 0 || ix >= HW) continue;
                        const float *x = in + (((size_t)n * HW + iy) * HW + ix) * C, *g = w + (size_t)k * C * C + co;
                        for (int ci = 0; ci < C; ci++) acc += (double)x[ci] * g[(size_t)ci * C];
                    }
                    size_t i = (((size_t)n * HW + oy) * HW + ox) * C + co;
                    e_new = fmax(e_new, fabs(out[i] - acc));
                    e_old = fmax(e_old, fabs(out_old[i] - acc));
                    scale = fmax(scale, fabs(acc));
                }
    printf("forward vs double: F(2,7) max-abs %.3g (rel %.3g), im2col max-abs %.3g (rel %.3g); max |out| %.3g\n",
           e_new, e_new / scale, e_old, e_old / scale, scale);

    double best[3][2];
    for (int p = 0; p < 3; p++) best[p][0] = best[p][1] = 1e30;
    for (int rep = 0; rep < reps; rep++)
        for (int v = 0; v < 2; v++) { /* v = 0: im2col, 1: F(2,7); alternating */
            double t0 = now();
            if (v) fn_conv2d_winograd1d_forward(out, C, in, C, w, NULL, &s, 1.0f, 0.0f, FN_ACT_NONE, ws);
            else old_forward(out, in, w, &s, 0.0f, col);
            double t1 = now();
            dgrad(din, dout, w, &s, wt, v, v ? ws : col);
            double t2 = now();
            if (v) fn_conv2d_winograd1d_wgrad(dw, dout, in, &s, ws);
            else old_wgrad(dw, dout, in, &s, col);
            double t3 = now();
            best[0][v] = fmin(best[0][v], t1 - t0);
            best[1][v] = fmin(best[1][v], t2 - t1);
            best[2][v] = fmin(best[2][v], t3 - t2);
        }
    const char *name[3] = {"forward", "data grad", "weight grad"};
    const double flops = 2.0 * N * HW * HW * 7 * C * C; /* direct products, incl. zero taps */
    for (int p = 0; p < 3; p++)
        printf("  %-12s im2col %7.3f ms   F(2,7) %7.3f ms   %.2fx   (%.1f / %.1f GFLOP/s of direct work)\n", name[p],
               best[p][0] * 1e3, best[p][1] * 1e3, best[p][0] / best[p][1], flops / best[p][0] * 1e-9,
               flops / best[p][1] * 1e-9);
    free(in); free(w); free(dout); free(out); free(out_old); free(din); free(dw); free(wt); free(ws); free(col);
    return 0;
}
