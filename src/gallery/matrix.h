/* matrix.h — a collection's embeddings in memory: a dense row-major matrix (one row per
 * face, rows in no particular order: removal moves the last row into the hole), the face
 * id and subject of each row, and the subjects' names. Exact search is one GEMM over it.
 * Not thread-safe: gallery.c guards it with a rwlock (searches share, changes exclude). */
#ifndef FN_GALLERY_MATRIX_H
#define FN_GALLERY_MATRIX_H
#include "core.h"

/* int64 -> int32 open-addressing hash map (face id -> row, subject id -> slot). */
typedef struct {
    int64_t *keys; /* 0 = empty, -1 = deleted (ids are positive) */
    int32_t *vals;
    size_t cap, used; /* used counts live + deleted */
} fn_idmap;

typedef struct {
    int64_t id;   /* 0: a free slot */
    char *name;
    int n_faces;
} fn_matrix_subject;

typedef struct {
    int dim, n, cap;
    float *emb;        /* cap x dim */
    float *sqnorm;     /* cap: |row|^2 */
    int64_t *face_id;  /* cap */
    int32_t *subject;  /* cap: slot in subjects */
    fn_idmap rows;     /* face id -> row */
    fn_matrix_subject *subjects;
    int n_slots, slot_cap;
    fn_idmap slots;    /* subject id -> slot */
    int32_t *free_slots; int n_free;
} fn_matrix;

void fn_matrix_init(fn_matrix *m, int dim);
void fn_matrix_free(fn_matrix *m);
void fn_matrix_clear(fn_matrix *m);
/* Adds (or, when the face is present, replaces) a face. */
fn_status fn_matrix_add(fn_matrix *m, int64_t face_id, int64_t subject_id, const char *subject, const float *emb);
void fn_matrix_remove(fn_matrix *m, int64_t face_id);
fn_status fn_matrix_move(fn_matrix *m, int64_t face_id, int64_t subject_id, const char *subject);
fn_status fn_matrix_rename(fn_matrix *m, int64_t subject_id, const char *subject);
int fn_matrix_row(const fn_matrix *m, int64_t face_id); /* -1 when absent */
int fn_idmap_get(const fn_idmap *h, int64_t key);        /* -1 when absent */

/* One candidate: a row and its squared distance. */
typedef struct { float d2; int32_t row; } fn_match_row;

/* Exact top-k rows per query (q: nq x dim), nearest first: out nq x k, n_found[q]. */
fn_status fn_matrix_search(const fn_matrix *m, const float *q, int nq, int k, fn_match_row *out, int *n_found);
/* Exact top-k subjects per query, each by its nearest row (out: that row). */
fn_status fn_matrix_search_subjects(const fn_matrix *m, const float *q, int nq, int k, fn_match_row *out,
                                    int *n_found);
/* Exact squared distances of query q to the given rows (re-ranking an index's candidates). */
void fn_matrix_distances(const fn_matrix *m, const float *q, const int32_t *rows, int n, float *d2);

/* A bounded max-heap that keeps the k smallest d2 (top-k selection). */
typedef struct { fn_match_row *v; int n, k; } fn_topk;
void fn_topk_push(fn_topk *t, float d2, int32_t row);
void fn_topk_sort(fn_topk *t); /* ascending d2 (ties: smaller row) */
#endif
