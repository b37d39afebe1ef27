// ann_faiss.cpp — the approximate index (ann.h) on FAISS. Debian's libfaiss-dev ships only
// the C++ API, so this is the one C++ file of libfacenet: every entry point is extern "C",
// catches FAISS's exceptions and turns them into fn_status.
#include "facenet.h"
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/impl/io.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

extern "C" fn_status fn_fail(fn_status s, const char *fmt, ...);

struct fn_ann {
    fn_index_kind kind;
    std::unique_ptr<faiss::Index> index; // IVF: the IVF index itself; HNSW: an IndexIDMap2 over it
};

namespace {
// nprobe / efSearch: chosen with bench/bench_gallery (docs/BENCHMARKS.md); the
// environment (FACENET_IVF_NPROBE, FACENET_HNSW_EF) overrides them for tuning.
const int IVF_NPROBE_DIV = 8; // probe nlist / 8 lists
const int HNSW_EF_SEARCH = 128;

int env_int(const char *name, int def) {
    const char *v = getenv(name);
    int x = v ? atoi(v) : 0;
    return x > 0 ? x : def;
}

template <class F> fn_status guarded(const char *what, F f) {
    try {
        return f();
    } catch (const faiss::FaissException &e) {
        return fn_fail(FN_ERR_IO, "gallery: FAISS %s: %s", what, e.what());
    } catch (const std::bad_alloc &) {
        return fn_fail(FN_ERR_NOMEM, "gallery: out of memory in FAISS %s", what);
    } catch (const std::exception &e) {
        return fn_fail(FN_ERR_IO, "gallery: FAISS %s: %s", what, e.what());
    }
}

// ~4 sqrt(n) lists (4096 at 1M), a power of two, with >= 39 rows each for k-means.
int ivf_nlist(int64_t n) {
    int nlist = 1;
    while (nlist < 4096 && (double)nlist * nlist < 16.0 * (double)n && 2 * nlist * 39 <= n) nlist *= 2;
    return nlist;
}

void tune(fn_ann *a) {
    if (a->kind == FN_INDEX_IVF) {
        auto *ivf = dynamic_cast<faiss::IndexIVF *>(a->index.get());
        if (ivf) {
            ivf->nprobe = std::min<size_t>(ivf->nlist, env_int("FACENET_IVF_NPROBE", std::max<size_t>(1, ivf->nlist / IVF_NPROBE_DIV)));
        }
    } else {
        auto *map = dynamic_cast<faiss::IndexIDMap2 *>(a->index.get());
        auto *h = map ? dynamic_cast<faiss::IndexHNSW *>(map->index) : nullptr;
        if (h) h->hnsw.efSearch = env_int("FACENET_HNSW_EF", HNSW_EF_SEARCH);
    }
}
} // namespace

extern "C" {

fn_status fn_ann_build(fn_index_kind kind, int dim, const float *emb, const int64_t *ids, int64_t n, fn_ann **out) {
    *out = nullptr;
    if (kind != FN_INDEX_IVF && kind != FN_INDEX_HNSW) return fn_fail(FN_ERR_ARG, "gallery: index kind %d", (int)kind);
    return guarded("build", [&]() -> fn_status {
        std::unique_ptr<fn_ann> a(new fn_ann);
        a->kind = kind;
        if (kind == FN_INDEX_IVF) {
            int nlist = ivf_nlist(n);
            auto *q = new faiss::IndexFlatL2(dim);
            auto *ivf = new faiss::IndexIVFScalarQuantizer(q, dim, nlist, faiss::ScalarQuantizer::QT_8bit,
                                                           faiss::METRIC_L2, true);
            ivf->own_fields = true;
            a->index.reset(ivf);
            ivf->cp.max_points_per_centroid = 64; // k-means on <= 64 x nlist rows: minutes, not hours
            ivf->cp.seed = 1234;
            ivf->train(n, emb);
            ivf->add_with_ids(n, emb, ids);
        } else {
            auto *h = new faiss::IndexHNSWSQ(dim, faiss::ScalarQuantizer::QT_8bit, 32);
            h->hnsw.efConstruction = 40;
            h->train(n, emb);
            auto *map = new faiss::IndexIDMap2(h);
            map->own_fields = true;
            a->index.reset(map);
            map->add_with_ids(n, emb, ids);
        }
        tune(a.get());
        *out = a.release();
        return FN_OK;
    });
}

fn_status fn_ann_add(fn_ann *a, const float *emb, const int64_t *ids, int64_t n) {
    return guarded("add", [&]() -> fn_status { a->index->add_with_ids(n, emb, ids); return FN_OK; });
}

fn_status fn_ann_remove(fn_ann *a, const int64_t *ids, int64_t n) {
    if (a->kind != FN_INDEX_IVF) return FN_OK; // HNSW cannot: the caller drops stale ids
    return guarded("remove", [&]() -> fn_status {
        faiss::IDSelectorArray sel(n, ids);
        a->index->remove_ids(sel);
        return FN_OK;
    });
}

fn_status fn_ann_search(const fn_ann *a, const float *q, int nq, int kc, int64_t *ids) {
    return guarded("search", [&]() -> fn_status {
        std::unique_ptr<float[]> d(new float[(size_t)nq * kc]);
        a->index->search(nq, q, kc, d.get(), ids);
        return FN_OK;
    });
}

int64_t fn_ann_size(const fn_ann *a) { return a ? a->index->ntotal : 0; }
fn_index_kind fn_ann_kind(const fn_ann *a) { return a ? a->kind : FN_INDEX_EXACT; }

fn_status fn_ann_serialize(const fn_ann *a, void **buf, size_t *size) {
    *buf = nullptr;
    *size = 0;
    return guarded("write", [&]() -> fn_status {
        faiss::VectorIOWriter w;
        faiss::write_index(a->index.get(), &w);
        void *p = malloc(w.data.size() ? w.data.size() : 1);
        if (!p) return fn_fail(FN_ERR_NOMEM, "gallery: out of memory for a %zu-byte index", w.data.size());
        memcpy(p, w.data.data(), w.data.size());
        *buf = p;
        *size = w.data.size();
        return FN_OK;
    });
}

namespace {
// Reads FAISS's serialisation straight from the caller's buffer (VectorIOReader would copy it).
struct BufferReader : faiss::IOReader {
    const uint8_t *p;
    size_t n, at = 0;
    BufferReader(const void *buf, size_t size) : p((const uint8_t *)buf), n(size) {}
    size_t operator()(void *ptr, size_t size, size_t nitems) override {
        if (size == 0 || at >= n) return 0;
        size_t items = std::min(nitems, (n - at) / size);
        if (items == 0) return 0; // FAISS reads empty vectors with a null destination
        memcpy(ptr, p + at, items * size);
        at += items * size;
        return items;
    }
};
} // namespace

fn_status fn_ann_deserialize(const void *buf, size_t size, fn_index_kind kind, int dim, fn_ann **out) {
    *out = nullptr;
    fn_status s = guarded("read", [&]() -> fn_status {
        std::unique_ptr<fn_ann> a(new fn_ann);
        a->kind = kind;
        BufferReader r(buf, size);
        a->index.reset(faiss::read_index(&r));
        if (a->index->d != dim) return fn_fail(FN_ERR_MISMATCH, "gallery: index of %d-d vectors, not %d-d", (int)a->index->d, dim);
        bool ok = kind == FN_INDEX_IVF ? dynamic_cast<faiss::IndexIVF *>(a->index.get()) != nullptr
                                       : dynamic_cast<faiss::IndexIDMap2 *>(a->index.get()) != nullptr;
        if (!ok) return fn_fail(FN_ERR_FORMAT, "gallery: the index file holds another index type");
        tune(a.get());
        *out = a.release();
        return FN_OK;
    });
    if (s != FN_OK && s != FN_ERR_MISMATCH) {
        std::string why = fn_last_error(); // fn_fail rewrites the buffer it points into
        return fn_fail(FN_ERR_FORMAT, "%s", why.c_str());
    }
    return s;
}

void fn_ann_free(fn_ann *a) { delete a; }

} // extern "C"
