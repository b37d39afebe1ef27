/* bench_python_pipeline.c — the C side of bench/bench_python.sh: face_recognition's
 *   face_encodings(load_image_file(f))
 * done in-process in C (fn_image_load without EXIF rotation, then fn_embed_image_faces:
 * MTCNN, every face's chip, the dlib ResNet), timed per image.
 * usage: bench_python_pipeline MTCNN MODEL RUNS IMAGE...
 * Prints one line per image: path median_ms n_faces (model load and one warm-up excluded). */
#include "core.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: bench_python_pipeline MTCNN MODEL RUNS IMAGE...\n"); return 2; }
    fn_detector *det;
    fn_model *m;
    if (fn_detector_open(argv[1], &det) || fn_model_open(argv[2], &m)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    const int runs = atoi(argv[3]), n_img = argc - 4;
    if (runs < 1) { fprintf(stderr, "RUNS must be >= 1\n"); return 2; }
    double *t = malloc(sizeof(double) * runs * n_img);
    int *faces = calloc((size_t)n_img, sizeof(int));
    if (!t || !faces) return 1;
    for (int r = -1; r < runs; r++) /* r = -1: warm-up */
        for (int i = 0; i < n_img; i++) {
            double t0 = fn_now();
            fn_image img;
            fn_face *f = NULL;
            float *emb = NULL;
            int n = 0;
            if (fn_image_load(argv[4 + i], 0, &img) ||
                fn_embed_image_faces(det, m, &img, NULL, FN_FACES_ALL, 0, &f, &emb, &n)) {
                fprintf(stderr, "%s: %s\n", argv[4 + i], fn_last_error());
                return 1;
            }
            fn_image_free(&img);
            free(f);
            free(emb);
            if (r >= 0) t[(size_t)i * runs + r] = fn_now() - t0;
            faces[i] = n;
        }
    for (int i = 0; i < n_img; i++) {
        qsort(t + (size_t)i * runs, runs, sizeof(double), cmp_double);
        printf("%s %.3f %d\n", argv[4 + i], 1e3 * t[(size_t)i * runs + runs / 2], faces[i]);
    }
    free(t); free(faces);
    fn_model_close(m);
    fn_detector_close(det);
    return 0;
}
