/* ann.h — an approximate nearest-neighbour index over a collection's embeddings (FAISS,
 * src/gallery/ann_faiss.cpp; without FAISS, ann_none.c answers FN_ERR_UNSUPPORTED). Ids are
 * face ids. Candidates it returns are re-ranked exactly by the caller (gallery.c), so the
 * index only has to put the true neighbours among them.
 *   IVF:  IVF-SQ8 (nlist ~ 4 sqrt(n), at most 4096; 8-bit codes), nprobe probed per query.
 *   HNSW: HNSW32 over SQ8 codes; no removal (removed ids come back and the caller drops
 *         them; it rebuilds when too many are stale).
 * Concurrency: searches may run at the same time; add / remove need exclusive access. */
#ifndef FN_GALLERY_ANN_H
#define FN_GALLERY_ANN_H
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fn_ann fn_ann;

/* Builds an index of kind FN_INDEX_IVF or FN_INDEX_HNSW over n rows (emb n x dim). */
fn_status fn_ann_build(fn_index_kind kind, int dim, const float *emb, const int64_t *ids, int64_t n, fn_ann **out);
fn_status fn_ann_add(fn_ann *a, const float *emb, const int64_t *ids, int64_t n);
fn_status fn_ann_remove(fn_ann *a, const int64_t *ids, int64_t n);
/* Up to kc candidate ids per query (nq x kc, -1 where there are fewer). */
fn_status fn_ann_search(const fn_ann *a, const float *q, int nq, int kc, int64_t *ids);
int64_t fn_ann_size(const fn_ann *a);      /* vectors held (stale ones included) */
fn_index_kind fn_ann_kind(const fn_ann *a);
/* Persisted beside the database: a header (magic, version, kind, the change seq the index
 * reflects, the payload's size and sha256) then FAISS's own serialisation; written
 * atomically. Load refuses a file of another kind or dimension (FN_ERR_MISMATCH) or a
 * damaged one (FN_ERR_FORMAT): the hash is checked before FAISS parses a byte, since FAISS
 * leaks, and can abort, on damaged input. */
fn_status fn_ann_save(const fn_ann *a, const char *path, int64_t seq);
fn_status fn_ann_load(const char *path, fn_index_kind kind, int dim, fn_ann **out, int64_t *seq);
void fn_ann_free(fn_ann *a);
/* FAISS's serialisation alone (ann_faiss.cpp), in memory (*buf: free()), under the header
 * fn_ann_save writes. */
fn_status fn_ann_serialize(const fn_ann *a, void **buf, size_t *size);
fn_status fn_ann_deserialize(const void *buf, size_t size, fn_index_kind kind, int dim, fn_ann **out);

#ifdef __cplusplus
}
#endif
#endif
