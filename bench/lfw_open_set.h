/* lfw_open_set.h — the LFW open-set split the gallery benchmarks share, from
 * export-embeddings' layout (EMB_DIR/embeddings.npy, labels.npy, label_strings.npy): the
 * first photo of each person with two or more is enrolled; every other photo is a probe,
 * known (its person is enrolled) or a stranger (a person with one photo). */
#ifndef FN_BENCH_LFW_OPEN_SET_H
#define FN_BENCH_LFW_OPEN_SET_H
#include "core.h"
#include "tensors.h"

typedef struct {
    float *emb;              /* rows x dim */
    int64_t rows, dim;
    char **names;            /* the person of each row */
    int *enrol, n_enrol;     /* rows enrolled */
    int *probe, *known, n_probe;
} lfw_open_set;

/* Returns 0, or 1 after printing why. */
static int lfw_open_set_load(const char *emb_dir, lfw_open_set *s) {
    char path[1200];
    int64_t *labels, nl, ns;
    snprintf(path, sizeof path, "%s/embeddings.npy", emb_dir);
    if (fn_npy_load_f32(path, &s->emb, &s->rows, &s->dim)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    snprintf(path, sizeof path, "%s/labels.npy", emb_dir);
    if (fn_npy_load_i64(path, &labels, &nl) || nl != s->rows) { fprintf(stderr, "%s: %s\n", path, fn_last_error()); return 1; }
    snprintf(path, sizeof path, "%s/label_strings.npy", emb_dir);
    if (fn_npy_load_unicode(path, &s->names, &ns) || ns != s->rows) { fprintf(stderr, "%s: %s\n", path, fn_last_error()); return 1; }
    int64_t n_labels = 0;
    for (int64_t i = 0; i < s->rows; i++) if (labels[i] + 1 > n_labels) n_labels = labels[i] + 1;
    int *count = calloc(n_labels, sizeof *count), *first = malloc(sizeof *first * n_labels);
    for (int64_t i = s->rows - 1; i >= 0; i--) { count[labels[i]]++; first[labels[i]] = (int)i; }
    s->n_enrol = s->n_probe = 0;
    s->enrol = malloc(sizeof *s->enrol * s->rows);
    s->probe = malloc(sizeof *s->probe * s->rows);
    s->known = malloc(sizeof *s->known * s->rows);
    for (int64_t i = 0; i < s->rows; i++) {
        if (count[labels[i]] >= 2 && first[labels[i]] == i) s->enrol[s->n_enrol++] = (int)i;
        else { s->known[s->n_probe] = count[labels[i]] >= 2; s->probe[s->n_probe++] = (int)i; }
    }
    free(count); free(first); fn_free(labels);
    return 0;
}
#endif
