/* bench_int8.c — int8 against float32 in the same run (issue 18), for the dlib ResNet (the
 * default model) and, when given, an Inception-ResNet-v1 pair:
 *   - faces/s at batch 1 and 32 (a dlib face = two network passes: chip and mirror), int8
 *     vs float32 vs PyTorch 1.13 float32 (bench/bench_dlib_torch.py, same layers), each in
 *     its own process, with CPU ms per face (robust to a loaded machine);
 *   - the int8 kernels' multiply-accumulate rate as a fraction of the measured VNNI peak
 *     (a register-only vpdpbusd loop on every thread);
 *   - end to end per LFW image (decode, MTCNN, chip, embed), float32 vs int8;
 *   - the model files' sizes.
 *
 * usage (from the repository root, after `facenet quantize models/dlib_resnet.safetensors
 * models/dlib_resnet_int8.safetensors`):
 *   build/bench_int8 [--float M] [--int8 Q] [--seconds T] [--threads N] [--no-torch]
 *                    [--lfw-images N] [--lfw DIR]
 * Internal: bench_int8 --child MODEL BATCH SECONDS. */
#define _GNU_SOURCE
#include "facenet.h"
#include "nets/model.h"
#include "ops/ops_int8.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "bench_child.h"

/* multiply-accumulates of one dlib ResNet pass (150x150): the convs' k*k*cin*cout per output */
static double dlib_macs(void) {
    double macs = 72.0 * 72 * 7 * 7 * 3 * 32;
    static const int cout[14] = { 32, 32, 32, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256, 256 };
    int H = 35, cin = 32;
    for (int b = 0; b < 14; b++) {
        const int down = b == 3 || b == 7 || b == 10 || b == 13, oh = down ? (H - 3) / 2 + 1 : H;
        macs += (double)oh * oh * 9 * cin * cout[b] + (double)oh * oh * 9 * cout[b] * cout[b];
        if (down) H /= 2;
        cin = cout[b];
    }
    return macs + 256.0 * 128;
}

/* ---- VNNI peak: 12 independent vpdpbusd chains per thread, nothing but registers */
#define PEAK_ITERS 20000000L
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void *peak_thread(void *arg) {
    __m512i a0 = _mm512_set1_epi32(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512i x = _mm512_set1_epi32(0x01010101), y = _mm512_set1_epi32(0x02020202);
    for (long i = 0; i < PEAK_ITERS; i++) {
        a0 = _mm512_dpbusd_epi32(a0, x, y); a1 = _mm512_dpbusd_epi32(a1, x, y); a2 = _mm512_dpbusd_epi32(a2, x, y);
        a3 = _mm512_dpbusd_epi32(a3, x, y); a4 = _mm512_dpbusd_epi32(a4, x, y); a5 = _mm512_dpbusd_epi32(a5, x, y);
        a6 = _mm512_dpbusd_epi32(a6, x, y); a7 = _mm512_dpbusd_epi32(a7, x, y); a8 = _mm512_dpbusd_epi32(a8, x, y);
        a9 = _mm512_dpbusd_epi32(a9, x, y); a10 = _mm512_dpbusd_epi32(a10, x, y); a11 = _mm512_dpbusd_epi32(a11, x, y);
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                 _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    ((double *)arg)[0] = t.tv_sec + t.tv_nsec * 1e-9; /* this thread's CPU seconds */
    ((double *)arg)[1] = _mm512_reduce_add_epi32(s);
    return NULL;
}

/* GMAC per CPU-second of one core running peak_thread (12 x 64 MACs per iteration), the
 * best of threads running at once: CPU time, not wall time, so a loaded machine does not
 * lower it */
static double vnni_peak_gmacs(int threads) {
    pthread_t t[16];
    double res[16][2], best = 0;
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, peak_thread, res[i]);
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        const double g = PEAK_ITERS * 12.0 * 64 / res[i][0] * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

/* ---- end to end: decode, MTCNN, crop, embed over the first n distinct LFW pair images */
static int end_to_end(const char *model_path, const char *lfw, int n_images, double *ms_per_image) {
    fn_model *m;
    fn_detector *det;
    if (fn_model_open(model_path, &m) || fn_detector_open("models/mtcnn.safetensors", &det)) {
        fprintf(stderr, "%s\n", fn_last_error());
        return 1;
    }
    char pairs_path[4096];
    snprintf(pairs_path, sizeof pairs_path, "%s/../pairs.txt", lfw);
    fn_lfw_pairs pairs;
    char **images;
    int n, *row;
    if (fn_lfw_read_pairs(pairs_path, lfw, 0, &pairs) || fn_lfw_distinct_images(&pairs, &images, &n, &row)) {
        fprintf(stderr, "%s\n", fn_last_error());
        return 1;
    }
    if (n_images > n) n_images = n;
    double t0 = now();
    for (int i = 0; i < n_images; i++) {
        fn_image img;
        if (fn_image_load(images[(long)i * n / n_images], 1, &img)) continue;
        fn_face *faces;
        float *emb;
        int nf;
        fn_embed_image_faces(det, m, &img, NULL, FN_FACES_LARGEST_CENTERED, 0, &faces, &emb, &nf);
        free(faces); free(emb);
        fn_image_free(&img);
    }
    *ms_per_image = (now() - t0) * 1e3 / n_images;
    free(images); free(row);
    fn_lfw_pairs_free(&pairs);
    fn_detector_close(det);
    fn_model_close(m);
    return 0;
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--child")) return bench_child(argv[2], atoi(argv[3]), atof(argv[4]));
    const char *fmodel = "models/dlib_resnet.safetensors", *qmodel = "models/dlib_resnet_int8.safetensors";
    const char *lfw = "../shared/data/lfw/deepfunneled";
    double seconds = 8;
    int torch = 1, threads = 2, lfw_images = 100;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--float") && i + 1 < argc) fmodel = argv[++i];
        else if (!strcmp(argv[i], "--int8") && i + 1 < argc) qmodel = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lfw-images") && i + 1 < argc) lfw_images = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lfw") && i + 1 < argc) lfw = argv[++i];
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else {
            fprintf(stderr, "usage: bench_int8 [--float M] [--int8 Q] [--seconds T] [--threads N] [--no-torch] [--lfw-images N] [--lfw DIR]\n");
            return 2;
        }
    }
    if (file_size(qmodel) < 0) {
        fprintf(stderr, "%s is missing: build/facenet quantize %s %s\n", qmodel, fmodel, qmodel);
        return 1;
    }
    char exe[4096], cmd[8192], nt[16];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return 1;
    exe[k] = 0;
    snprintf(nt, sizeof nt, "%d", threads);
    setenv("OPENBLAS_NUM_THREADS", nt, 1);
    setenv("OMP_NUM_THREADS", nt, 1);
    FILE *cpu = popen("lscpu | grep 'Model name' | sed 's/.*: *//'", "r");
    char cpu_name[256] = "?";
    if (cpu && fgets(cpu_name, sizeof cpu_name, cpu)) cpu_name[strcspn(cpu_name, "\n")] = 0;
    if (cpu) pclose(cpu);
    double load[3] = { 0 };
    getloadavg(load, 3);
    printf("CPU %s; %d threads; int8 kernels: %s; load average %.1f at the start\n", cpu_name, threads,
           fn_int8_isa_name(fn_int8_isa_current()), load[0]);
    const double peak = fn_int8_isa_best() == FN_ISA_VNNI ? vnni_peak_gmacs(threads) : 0;
    printf("VNNI peak (register-only vpdpbusd): %.0f GMAC per CPU-second of one core\n", peak);

    const int batches[2] = { 1, 32 };
    double ips[3][2] = { { 0 } }, cms[3][2] = { { 0 } };
    const char *names[3] = { "float32", "int8", "PyTorch float32" };
    int fails = 0;
    for (int b = 0; b < 2; b++)
        for (int w = 0; w < 3; w++) {
            if (w == 2 && !torch) continue;
            if (w < 2) snprintf(cmd, sizeof cmd, "'%s' --child '%s' %d %g", exe, w ? qmodel : fmodel, batches[b], seconds);
            else snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/bench_dlib_torch.py --batch %d --seconds %g --threads %d",
                          batches[b], seconds, threads);
            long rss;
            if (bench_run(cmd, &ips[w][b], &rss, &cms[w][b])) { fprintf(stderr, "%s run failed: %s\n", names[w], cmd); fails++; }
        }
    const double macs = 2 * dlib_macs(); /* two passes per face */
    printf("\ndlib ResNet, faces/s (each face: chip + mirror, 2 x %.0f M MACs)\n", dlib_macs() * 1e-6);
    printf("| batch | float32 | int8 | int8 / float32 | PyTorch float32 | int8 / PyTorch | CPU ms/face float32 | int8 | CPU ratio | int8 GMAC per CPU-s (%% of VNNI peak) |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int b = 0; b < 2; b++) {
        const double g = cms[1][b] > 0 ? macs / (cms[1][b] * 1e-3) * 1e-9 : 0;
        printf("| %d | %.1f | %.1f | %.2fx | %.1f | %.2fx | %.1f | %.1f | %.2fx | %.0f (%.0f%%) |\n", batches[b], ips[0][b], ips[1][b],
               ips[0][b] > 0 ? ips[1][b] / ips[0][b] : 0, ips[2][b], ips[2][b] > 0 ? ips[1][b] / ips[2][b] : 0, cms[0][b],
               cms[1][b], cms[1][b] > 0 ? cms[0][b] / cms[1][b] : 0, g, peak > 0 ? 100 * g / peak : 0);
    }
    if (lfw_images > 0) {
        double ef = 0, eq = 0;
        if (end_to_end(fmodel, lfw, lfw_images, &ef) || end_to_end(qmodel, lfw, lfw_images, &eq)) fails++;
        else printf("\nend to end per LFW image (decode, MTCNN, chip, embed; %d images): float32 %.1f ms, int8 %.1f ms (%.2fx)\n",
                    lfw_images, ef, eq, eq > 0 ? ef / eq : 0);
    }
    printf("model files: float32 %ld bytes, int8 %ld bytes (%.2fx smaller)\n", file_size(fmodel), file_size(qmodel),
           (double)file_size(fmodel) / file_size(qmodel));
    getloadavg(load, 3);
    printf("load average %.1f at the end\n", load[0]);
    return fails ? 1 : 0;
}
