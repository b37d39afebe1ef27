/* bench_detect.c — times fn_detect (median of several runs, model load excluded) on each
 * image and prints one line per image: path, WxH, median wall ms, median CPU ms (all
 * threads), number of faces, boxes.
 * usage: bench_detect MTCNN_PATH RUNS IMAGE... (used by bench/bench_detect.sh) */
#include "facenet.h"
#include "core.h"
#include <time.h>

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MTCNN_PATH RUNS IMAGE...\n", argv[0]); return 2; }
    fn_detector *det;
    if (fn_detector_open(argv[1], &det) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    int runs = atoi(argv[2]);
    if (runs < 1) runs = 1;
    double *t = malloc(sizeof(double) * runs), *c = malloc(sizeof(double) * runs);
    for (int k = 3; k < argc; k++) {
        fn_image img;
        if (fn_image_load(argv[k], 0, &img) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        fn_face *faces = NULL;
        int n = 0;
        if (fn_detect(det, &img, NULL, &faces, &n) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        free(faces); /* warm-up run */
        for (int r = 0; r < runs; r++) {
            double t0 = fn_now(), c0 = cpu_now();
            fn_detect(det, &img, NULL, &faces, &n);
            t[r] = (fn_now() - t0) * 1000;
            c[r] = (cpu_now() - c0) * 1000;
            if (r + 1 < runs) free(faces);
        }
        qsort(t, runs, sizeof *t, cmp_double);
        qsort(c, runs, sizeof *c, cmp_double);
        printf("%s %dx%d %.1f %.1f %d", argv[k], img.w, img.h, t[runs / 2], c[runs / 2], n);
        for (int i = 0; i < n; i++)
            printf(" %.1f,%.1f,%.1f,%.1f", faces[i].box[0], faces[i].box[1], faces[i].box[2], faces[i].box[3]);
        printf("\n");
        free(faces);
        fn_image_free(&img);
    }
    free(t);
    free(c);
    fn_detector_close(det);
    return 0;
}
