/* bench_gallery_lfw.c — open-set identification on LFW (issue 13's acceptance): enrol the
 * first photo of every person with two or more, probe with their other photos (known) and
 * with every photo of people with one (strangers, who must come back unknown).
 * Reports, for the gallery (nearest subject, similarity) and for `classify`'s SVM (libsvm
 * one-vs-one vote, rejected by the distance to the nearest enrolled face as `classify
 * predict` does):
 *   rank-1: known probes whose best subject is right (closed set);
 *   DIR@FAR: the threshold that accepts FAR of the strangers, and the share of known probes
 *            named right and accepted at it (detection-and-identification rate);
 *   at the default threshold (similarity 0.5): DIR and FAR.
 * Scores are minus the distance (the similarity is monotone in it; its floats saturate at 1).
 * usage: bench_gallery_lfw EMB_DIR [--model PATH] [--no-svm]
 *   EMB_DIR: `facenet validate LFW --cache C.npy`, then tools/lfw_cache_to_export.py C.npy EMB_DIR
 *   (the faces validate embeds); --model: whose similarity calibration (default
 *   models/dlib_resnet.safetensors) */
#define _GNU_SOURCE
#include "facenet.h"
#include "core.h"
#include "tensors.h"
#include "lfw_open_set.h"
#include "classify/svm.h"
#include <unistd.h>

static int cmp_float_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

/* Figures from per-probe (right name?, score): strangers' scores give the thresholds. */
static void report(const char *name, const int *right, const float *score, const int *known, int n, float default_t) {
    int nk = 0, ns = 0, r1 = 0;
    float *strangers = malloc(sizeof *strangers * n);
    for (int i = 0; i < n; i++) {
        if (known[i]) { nk++; r1 += right[i]; }
        else strangers[ns++] = score[i];
    }
    qsort(strangers, (size_t)ns, sizeof *strangers, cmp_float_desc);
    printf("%s: %d known probes, %d stranger probes; rank-1 %.4f\n", name, nk, ns, r1 / (double)nk);
    const double fars[2] = { 0.01, 0.001 };
    for (int f = 0; f < 2; f++) {
        int m = (int)floor(fars[f] * ns);   /* strangers allowed above the threshold */
        float t = m < ns ? strangers[m] : -INFINITY; /* accept score > t */
        int dir = 0, fa = 0;
        for (int i = 0; i < n; i++) {
            if (known[i]) dir += right[i] && score[i] > t;
            else fa += score[i] > t;
        }
        printf("  DIR@FAR=%g: %.4f (threshold score > %.4f, FAR %.4f)\n", fars[f], dir / (double)nk, (double)t, fa / (double)ns);
    }
    int dir = 0, fa = 0;
    for (int i = 0; i < n; i++) {
        if (known[i]) dir += right[i] && score[i] >= default_t;
        else fa += score[i] >= default_t;
    }
    printf("  at the default threshold (score >= %.4f): DIR %.4f, FAR %.4f\n", (double)default_t, dir / (double)nk, fa / (double)ns);
    free(strangers);
}

int main(int argc, char **argv) {
    const char *emb_dir = NULL, *model_path = "models/dlib_resnet.safetensors";
    const char *usage = "usage: bench_gallery_lfw EMB_DIR [--model PATH] [--no-svm]\n";
    int svm = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-svm")) svm = 0;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (argv[i][0] != '-') emb_dir = argv[i];
        else { fputs(usage, stderr); return 2; }
    }
    if (!emb_dir) { fputs(usage, stderr); return 2; }
    fn_model *model;
    if (fn_model_open(model_path, &model)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    char path[1200];
    lfw_open_set ls;
    if (lfw_open_set_load(emb_dir, &ls)) return 1;
    const int dim = (int)ls.dim;
    printf("LFW (%s): %lld embeddings, %d people enrolled (first photo), %d probes\n", emb_dir, (long long)ls.rows, ls.n_enrol, ls.n_probe);

    /* --- the gallery */
    char db[64];
    snprintf(db, sizeof db, "/tmp/fn_bench_gallery_lfw_%d.db", (int)getpid());
    fn_gallery_options o;
    fn_gallery_options_default(&o);
    o.model_id = "lfw-bench"; o.dim = dim; o.create = 1; o.index = FN_INDEX_EXACT;
    fn_model_similarity_calib(model, &o.calib);
    fn_model_close(model);
    fn_gallery *g;
    if (fn_gallery_open(db, &o, &g)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    fn_gallery_face *faces = calloc(ls.n_enrol, sizeof *faces);
    for (int i = 0; i < ls.n_enrol; i++) faces[i] = (fn_gallery_face){ .subject = ls.names[ls.enrol[i]], .embedding = ls.emb + (size_t)ls.enrol[i] * dim };
    if (fn_gallery_enroll_many(g, faces, ls.n_enrol, NULL, NULL)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    float *q = malloc(sizeof(float) * ls.n_probe * dim), *score = malloc(sizeof *score * ls.n_probe);
    for (int i = 0; i < ls.n_probe; i++) memcpy(q + (size_t)i * dim, ls.emb + (size_t)ls.probe[i] * dim, sizeof(float) * dim);
    fn_gallery_match *m = malloc(sizeof *m * ls.n_probe);
    int *nf = malloc(sizeof *nf * ls.n_probe), *right = malloc(sizeof *right * ls.n_probe);
    double t0 = fn_now();
    if (fn_gallery_search_subjects(g, q, ls.n_probe, 1, m, nf)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    double t_search = fn_now() - t0;
    for (int i = 0; i < ls.n_probe; i++) {
        right[i] = ls.known[i] && nf[i] && !strcmp(m[i].subject, ls.names[ls.probe[i]]);
        score[i] = nf[i] ? -m[i].distance : -INFINITY; /* the similarity's order; floats of a steep similarity tie near 1 */
    }
    printf("similarity 1/(1+exp(%.2f(d-%.3f))); %d searches in %.2f s\n", (double)o.calib.slope, (double)o.calib.threshold, ls.n_probe, t_search);
    report("gallery (nearest subject; score -distance, similarity 0.5 at -threshold)", right, score, ls.known, ls.n_probe, -o.calib.threshold);
    fn_gallery_close(g);
    snprintf(path, sizeof path, "rm -f %s %s-wal %s-shm", db, db, db);
    if (system(path)) {}

    /* --- classify's SVM on the same split */
    if (svm) {
        int *y = malloc(sizeof *y * ls.n_enrol);
        float *x = malloc(sizeof(float) * ls.n_enrol * dim);
        for (int i = 0; i < ls.n_enrol; i++) { y[i] = i; memcpy(x + (size_t)i * dim, ls.emb + (size_t)ls.enrol[i] * dim, sizeof(float) * dim); }
        struct svm_model *sm;
        t0 = fn_now();
        if (fn_svm_train(x, y, ls.n_enrol, dim, FN_CLASSIFIER_DEFAULT_C, 666, &sm)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        printf("SVM: %d classes trained in %.1f s\n", ls.n_enrol, fn_now() - t0);
        t0 = fn_now();
        for (int i = 0; i < ls.n_probe; i++) {
            int vote;
            const float *xi = q + (size_t)i * dim;
            fn_svm_predict(sm, xi, dim, ls.n_enrol, &vote, NULL);
            float nearest = INFINITY;
            for (int e = 0; e < ls.n_enrol; e++) {
                float d = sqrtf(fn_distance_sq(xi, x + (size_t)e * dim, dim));
                if (d < nearest) nearest = d;
            }
            right[i] = ls.known[i] && vote >= 0 && vote < ls.n_enrol && !strcmp(ls.names[ls.enrol[vote]], ls.names[ls.probe[i]]);
            score[i] = -nearest; /* classify predict: unknown when the nearest enrolled face is farther */
        }
        printf("SVM: %d predictions in %.1f s\n", ls.n_probe, fn_now() - t0);
        report("classify SVM (one-vs-one vote; score -nearest enrolled distance)", right, score, ls.known, ls.n_probe, -0.42f);
        fn_svm_free(sm);
    }
    return 0;
}
