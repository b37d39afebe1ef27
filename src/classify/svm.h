/* svm.h — libsvm (Debian's, the library sklearn's SVC wraps) behind facenet-c's
 * conventions: dense float rows in, models we own and (de)serialise ourselves. Internal. */
#ifndef FN_CLASSIFY_SVM_H
#define FN_CLASSIFY_SVM_H
#include "core.h"
#include <svm.h>

/* C-SVC, linear kernel, C, with Platt probabilities (facenet: SVC(kernel='linear',
 * probability=True)). y in [0, n_classes). libsvm's probability cross-validation shuffles
 * with rand(): it is srand(seed)'d first. The model owns all its memory (nothing points into
 * x). */
fn_status fn_svm_train(const float *x, const int *y, int n, int dim, double C, uint64_t seed,
                       struct svm_model **out);
void fn_svm_free(struct svm_model *m);
/* One row: *vote = libsvm's one-vs-one vote winner (sklearn's predict()); probs[k] for class
 * k = 0..n_classes-1 (sklearn's predict_proba column order), may be NULL. */
fn_status fn_svm_predict(const struct svm_model *m, const float *x, int dim, int n_classes,
                         int *vote, double *probs);

/* Serialisation into a growing byte buffer / out of a bounds-checked cursor. */
typedef struct { uint8_t *data; size_t size, cap; int failed; } fn_buf;
void fn_buf_put(fn_buf *b, const void *p, size_t n);
void fn_buf_u32(fn_buf *b, uint32_t v);
typedef struct { const uint8_t *p; size_t left; } fn_cursor;
int fn_cursor_get(fn_cursor *c, void *dst, size_t n); /* 0 when truncated */
int fn_cursor_u32(fn_cursor *c, uint32_t *v);

void fn_svm_write(fn_buf *b, const struct svm_model *m, int dim);
/* Reads what fn_svm_write wrote; checks it against dim and n_classes. */
fn_status fn_svm_read(fn_cursor *c, int dim, int n_classes, struct svm_model **out);
#endif
