/* ann_none.c — the approximate index when libfacenet is built without FAISS: every call
 * says what to install. Exact search (one GEMM) still works at any size. */
#include "ann.h"

#ifndef FN_HAVE_FAISS
static fn_status no_faiss(void) {
    return fn_fail(FN_ERR_UNSUPPORTED, "gallery: built without FAISS, no hnsw / ivf index (install libfaiss-dev and rebuild)");
}
fn_status fn_ann_build(fn_index_kind kind, int dim, const float *emb, const int64_t *ids, int64_t n, fn_ann **out) {
    *out = NULL;
    return no_faiss();
}
fn_status fn_ann_add(fn_ann *a, const float *emb, const int64_t *ids, int64_t n) { return no_faiss(); }
fn_status fn_ann_remove(fn_ann *a, const int64_t *ids, int64_t n) { return no_faiss(); }
fn_status fn_ann_search(const fn_ann *a, const float *q, int nq, int kc, int64_t *ids) { return no_faiss(); }
int64_t fn_ann_size(const fn_ann *a) { return 0; }
fn_index_kind fn_ann_kind(const fn_ann *a) { return FN_INDEX_EXACT; }
fn_status fn_ann_serialize(const fn_ann *a, void **buf, size_t *size) {
    *buf = NULL;
    *size = 0;
    return no_faiss();
}
fn_status fn_ann_deserialize(const void *buf, size_t size, fn_index_kind kind, int dim, fn_ann **out) {
    *out = NULL;
    return no_faiss();
}
void fn_ann_free(fn_ann *a) {}
#endif
