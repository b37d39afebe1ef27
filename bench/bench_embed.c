/* bench_embed.c — Inception-ResNet-v1 embedding throughput of facenet-c vs PyTorch, side by
 * side on this machine: images/s at batch 1 and 32, the ratios, the fraction of the
 * measured OpenBLAS SGEMM peak, and each run's peak memory (getrusage maxrss; every
 * measurement runs in its own process).
 *
 * usage (from the repository root):
 *   build/bench_embed [--model M.safetensors] [--seconds T] [--no-torch]
 *                     [--torch-script bench/bench_embed_torch.py]
 * Without --model, the PyTorch script writes the seeded 512-d test network to a temporary
 * .safetensors so both sides run identical weights. Internal: bench_embed --child M B T. */
#define _GNU_SOURCE
#include "facenet.h"
#include "nets/model.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include "bench_child.h"

/* model.c's weak reference does not pull the backbone out of libfacenet.a; this one does. */
fn_status (*const bench_irv1_constructor)(const fn_tensor_set *, struct fn_model *) = fn_irv1_model_create;

#define GMACS_PER_IMAGE 1.418 /* Inception-ResNet-v1 at 160x160 (DESIGN.md §2) */

static double sgemm_peak_gflops(void) {
    const int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double g = 2.0 * n * n * n / (now() - t0) * 1e-9;
        if (g > best) best = g;
    }
    free(a); free(b); free(c);
    return best;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--child")) return bench_child(argv[2], atoi(argv[3]), atof(argv[4]));
    const char *model = NULL, *script = "bench/bench_embed_torch.py";
    double seconds = 8;
    int torch = 1, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--torch-script") && i + 1 < argc) script = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else { fprintf(stderr, "usage: bench_embed [--model M.safetensors] [--seconds T] [--threads N] [--no-torch] [--torch-script PATH]\n"); return 2; }
    }
    char exe[4096], cmd[8192], tmp_model[64] = "";
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) { fprintf(stderr, "cannot find my own executable\n"); return 1; }
    exe[k] = 0;
    if (!model) {
        snprintf(tmp_model, sizeof tmp_model, "/tmp/bench_irv1_%d.safetensors", (int)getpid());
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --write-model %s", script, tmp_model);
        if (system(cmd) != 0) { fprintf(stderr, "could not write a model with %s (pass --model)\n", script); return 1; }
        model = tmp_model;
    }

    char nt[16];
    snprintf(nt, sizeof nt, "%d", threads);
    setenv("OPENBLAS_NUM_THREADS", nt, 1); /* children inherit these */
    setenv("OMP_NUM_THREADS", nt, 1);
    openblas_set_num_threads(threads);
    double peak = sgemm_peak_gflops();
    printf("threads %d; OpenBLAS SGEMM peak (2048^3, best of 5): %.1f GFLOP/s\n", threads, peak);
    int batches[2] = {1, 32};
    double c_ips[2] = {0}, t_ips[2] = {0}, c_cpu[2] = {0}, t_cpu[2] = {0};
    long c_rss[2] = {0}, t_rss[2] = {0};
    int fails = 0;
    for (int b = 0; b < 2; b++) {
        snprintf(cmd, sizeof cmd, "'%s' --child '%s' %d %g", exe, model, batches[b], seconds);
        if (bench_run(cmd, &c_ips[b], &c_rss[b], &c_cpu[b])) { fprintf(stderr, "facenet-c run failed: %s\n", cmd); fails++; }
        if (torch) {
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --batch %d --seconds %g --threads %d", script, batches[b], seconds, threads);
            if (bench_run(cmd, &t_ips[b], &t_rss[b], &t_cpu[b])) { fprintf(stderr, "PyTorch run failed: %s\n", cmd); fails++; }
        }
    }
    printf("\n| batch | facenet-c img/s | PyTorch img/s | ratio | facenet-c GFLOP/s (%% of SGEMM peak) | CPU ms/img facenet-c | CPU ms/img PyTorch | CPU ratio | peak RSS facenet-c | peak RSS PyTorch |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int b = 0; b < 2; b++) {
        double gf = c_ips[b] * 2 * GMACS_PER_IMAGE;
        printf("| %d | %.1f | %.1f | %.2fx | %.0f (%.0f%%) | %.1f | %.1f | %.2fx | %.0f MiB | %.0f MiB |\n", batches[b],
               c_ips[b], t_ips[b], t_ips[b] > 0 ? c_ips[b] / t_ips[b] : 0, gf, 100 * gf / peak, c_cpu[b], t_cpu[b],
               c_cpu[b] > 0 ? t_cpu[b] / c_cpu[b] : 0, c_rss[b] / 1024.0, t_rss[b] / 1024.0);
    }
    if (tmp_model[0]) remove(tmp_model);
    return fails ? 1 : 0;
}
