/* bench_child.h — what bench_embed.c and bench_int8.c share: clocks, and the child process
 * that times one model at one batch size ("images_per_s X maxrss_kb Y cpu_ms_per_image Z",
 * each measurement in its own process so peak memory is its own) and its reader. */
#ifndef FN_BENCH_CHILD_H
#define FN_BENCH_CHILD_H
#include "facenet.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* user + system CPU seconds of this process: a load-robust measure on a shared machine */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static int bench_child(const char *model_path, int batch, double seconds) {
    fn_model *m;
    if (fn_model_open(model_path, &m)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    int size = fn_model_input_size(m), dim = fn_model_dim(m);
    fn_image *crops = calloc(batch, sizeof *crops);
    float *emb = malloc(sizeof(float) * batch * dim);
    uint64_t s = 42;
    for (int i = 0; i < batch; i++) {
        fn_image_alloc(size, size, &crops[i]);
        for (int k = 0; k < size * size * 3; k++) { s = s * 6364136223846793005ull + 1442695040888963407ull; crops[i].rgb[k] = (uint8_t)(s >> 56); }
    }
    if (fn_model_embed(m, crops, batch, emb)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; } /* warm-up */
    long n = 0;
    double t0 = now(), c0 = cpu_seconds(), dt;
    do {
        fn_model_embed(m, crops, batch, emb);
        n += batch;
        dt = now() - t0;
    } while (dt < seconds);
    printf("images_per_s %.3f maxrss_kb %ld cpu_ms_per_image %.2f\n", n / dt, maxrss_kb(),
           1e3 * (cpu_seconds() - c0) / n);
    for (int i = 0; i < batch; i++) fn_image_free(&crops[i]);
    free(crops); free(emb);
    fn_model_close(m);
    return 0;
}

/* Runs a command that prints "images_per_s X maxrss_kb Y"; returns 0 on success. */
static int bench_run(const char *cmd, double *ips, long *rss, double *cpu_ms) {
    FILE *p = popen(cmd, "r");
    if (!p) return 1;
    char line[256];
    int ok = 0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "images_per_s %lf maxrss_kb %ld cpu_ms_per_image %lf", ips, rss, cpu_ms) == 3) ok = 1;
    int rc = pclose(p);
    return ok && rc == 0 ? 0 : 1;
}

#endif
