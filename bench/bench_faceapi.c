/* bench_faceapi.c — facenet-c's side of bench/bench_faceapi.sh: for each image in a list,
 * time detect (MTCNN) + 5-point chip + dlib ResNet embed, and separately the descriptor
 * alone (the network on one 150×150 chip). Writes one row per image: found flag + 128
 * floats (L2-normalised) as little-endian float32, to compare accuracy with face-api.
 *   bench_faceapi LIST.txt OUT.bin [MODEL] [MTCNN_DIR]
 * Prints "per_image_ms <median> <mean>", "descriptor_ms <median> <mean>" (wall clock) and
 * the same as *_cpu_ms (process CPU time: robust on a shared, loaded machine). */
#include "facenet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp);
    return n ? (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : 0;
}
static double mean(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return n ? s / n : 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s LIST.txt OUT.bin [MODEL] [MTCNN_DIR]\n", argv[0]);
        return 2;
    }
    const char *model_path = argc > 3 ? argv[3] : "models/dlib_resnet.safetensors";
    const char *mtcnn = argc > 4 ? argv[4] : "../shared/models/mtcnn";
    fn_detector *det;
    fn_model *m;
    if (fn_detector_open(mtcnn, &det)) { fprintf(stderr, "error: %s\n", fn_last_error()); return 1; }
    if (fn_model_open(model_path, &m)) { fprintf(stderr, "error: %s\n", fn_last_error()); return 1; }
    FILE *list = fopen(argv[1], "r"), *out = fopen(argv[2], "wb");
    if (!list || !out) { fprintf(stderr, "error: cannot open %s or %s\n", argv[1], argv[2]); return 1; }
    int cap = 1024, n = 0, nd = 0, missing = 0;
    double *t_img = malloc(sizeof(double) * cap), *t_desc = malloc(sizeof(double) * cap);
    double *c_img = malloc(sizeof(double) * cap), *c_desc = malloc(sizeof(double) * cap);
    char line[4096];
    while (fgets(line, sizeof line, list)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        if (n == cap) {
            cap *= 2;
            t_img = realloc(t_img, sizeof(double) * cap);
            t_desc = realloc(t_desc, sizeof(double) * cap);
            c_img = realloc(c_img, sizeof(double) * cap);
            c_desc = realloc(c_desc, sizeof(double) * cap);
        }
        fn_image img;
        float e[128] = { 0 };
        int found = 0;
        if (fn_image_load(line, 1, &img) != FN_OK) { fprintf(stderr, "error: %s\n", fn_last_error()); return 1; }
        /* end to end from decoded pixels: detect, pick (facenet's LFW choice), chip, embed */
        double t0 = now(), u0 = cpu();
        fn_face *faces = NULL;
        float *emb = NULL;
        int nf = 0;
        fn_status s = fn_embed_image_faces(det, m, &img, NULL, FN_FACES_LARGEST_CENTERED, 0, &faces, &emb, &nf);
        t_img[n] = now() - t0;
        c_img[n] = cpu() - u0;
        if (s == FN_OK && nf > 0) {
            memcpy(e, emb, sizeof e);
            found = 1;
            fn_image chip;
            if (fn_model_crop(m, &img, &faces[0], &chip) == FN_OK) {
                double t1 = now(), u1 = cpu();
                fn_model_embed(m, &chip, 1, e);
                t_desc[nd] = now() - t1;
                c_desc[nd++] = cpu() - u1;
                fn_image_free(&chip);
            }
        } else missing++;
        free(faces);
        free(emb);
        fn_image_free(&img);
        fwrite(&found, 4, 1, out);
        fwrite(e, 4, 128, out);
        n++;
    }
    fclose(list);
    fclose(out);
    printf("images %d no_face %d\n", n, missing);
    printf("per_image_ms %.2f %.2f\n", 1e3 * median(t_img, n), 1e3 * mean(t_img, n));
    printf("descriptor_ms %.2f %.2f\n", 1e3 * median(t_desc, nd), 1e3 * mean(t_desc, nd));
    printf("per_image_cpu_ms %.2f %.2f\n", 1e3 * median(c_img, n), 1e3 * mean(c_img, n));
    printf("descriptor_cpu_ms %.2f %.2f\n", 1e3 * median(c_desc, nd), 1e3 * mean(c_desc, nd));
    free(t_img); free(t_desc); free(c_img); free(c_desc);
    fn_model_close(m);
    fn_detector_close(det);
    return 0;
}
