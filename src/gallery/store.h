/* store.h — the gallery's storage interface: what a backend (SQLite, PostgreSQL) must do
 * so that src/gallery/gallery.c can offer fn_gallery_* on top of it.
 *
 * A backend is one const fn_store_ops table (store_sqlite.c: fn_store_sqlite_ops). A store
 * handle (fn_store *) is ONE COLLECTION of one database, opened by ops->open. The gallery
 * layer above it
 *   - serialises every call on one handle with its own mutex: a backend needs no locking of
 *     its own (one connection per handle is enough), but other PROCESSES (and other handles
 *     in this one) write the same database at the same time, so every write is one
 *     transaction and reads of several statements that must agree run in one snapshot;
 *   - keeps the embeddings in memory and follows the change log (below); a backend never
 *     searches.
 *
 * Data model (the same in every backend; see store_sqlite.c's SCHEMA for the SQL):
 *   collections(id, name UNIQUE, model_id, dim, calib_threshold, calib_slope, created)
 *   subjects(id, collection_id, name, created; UNIQUE(collection_id, name))
 *   faces(id, collection_id, subject_id, embedding (dim float32, little-endian), model_id,
 *         source, source_sha256, box (4 float32), landmarks (10 float32), score, created)
 *   face_images(face_id, data)             -- optional stored photo, kept apart so that
 *                                             loading embeddings never reads photos
 *   changes(seq, collection_id, op, face_id, subject_id)
 * Ids are positive int64, never reused within a database (SQLite: AUTOINCREMENT-like
 * rowids; PostgreSQL: sequences). Names are UTF-8, 1..FN_GALLERY_NAME_MAX bytes (the gallery
 * layer checks them before calling).
 *
 * The change log. Every write appends, IN THE SAME TRANSACTION as the data it describes,
 * one row per affected face / subject with a sequence number that grows monotonically
 * across the whole database (commit order: a reader that has seen seq S and later reads
 * "seq > S" must not miss a row that commits afterwards with a smaller seq — SQLite gets
 * this for free from its single writer; PostgreSQL must take a lock or assign seq at commit,
 * e.g. an advisory transaction lock around the insert). Ops:
 *   FN_CHANGE_FACE_ADDED    face_id (its current subject and embedding are joined in)
 *   FN_CHANGE_FACE_REMOVED  face_id
 *   FN_CHANGE_FACE_MOVED    face_id now belongs to subject_id (rename onto an existing
 *                           subject merges: one MOVED per face, then the old subject is gone)
 *   FN_CHANGE_SUBJECT_RENAMED subject_id has a new name (joined in)
 *   FN_CHANGE_RESET         forget everything and load again (remove_all; also what a
 *                           backend reports when it pruned the rows a reader asks for)
 * A reader applies rows in seq order; rows whose face / subject is gone by the time they
 * are read come with embedding / subject NULL and are skipped (a later row removes it).
 *
 * Errors: return fn_fail(...) statuses as everywhere (FN_ERR_IO: cannot open / disk full /
 * busy beyond the timeout; FN_ERR_FORMAT: not a gallery, corrupt; FN_ERR_MISSING: no such
 * collection / subject / face; FN_ERR_MISMATCH: collection built with another model or
 * dimension; FN_ERR_ARG: read-only handle written). A failed write changes nothing. */
#ifndef FN_GALLERY_STORE_H
#define FN_GALLERY_STORE_H
#include "core.h"

typedef struct fn_store fn_store; /* a backend's handle; the table below is its interface */

typedef struct {
    const char *collection;    /* never NULL ("default" when the caller gave none) */
    const char *model_id;      /* NULL: accept the stored one; else must equal it */
    int dim;                   /* 0: accept the stored one; else must equal it */
    fn_similarity_calib calib; /* used when creating the collection */
    int create;                /* create the database / schema / collection when missing */
    int read_only;
} fn_store_open_args;

/* What the store holds about the opened collection. */
typedef struct {
    int64_t id;
    char model_id[80];
    int dim;
    fn_similarity_calib calib;
} fn_store_collection;

typedef enum {
    FN_CHANGE_FACE_ADDED = 1,
    FN_CHANGE_FACE_REMOVED = 2,
    FN_CHANGE_FACE_MOVED = 3,
    FN_CHANGE_SUBJECT_RENAMED = 4,
    FN_CHANGE_RESET = 5,
} fn_change_op;

/* One change (or, from load, one face). Pointers are valid during the callback only. */
typedef struct {
    int64_t seq;
    fn_change_op op;
    int64_t face_id;          /* FACE_*: the face */
    int64_t subject_id;       /* FACE_ADDED / FACE_MOVED: the face's current subject;
                                 SUBJECT_RENAMED: the subject */
    const char *subject;      /* that subject's current name; NULL when it is gone */
    const float *embedding;   /* FACE_ADDED: dim floats; NULL when the face is gone */
} fn_store_change;
/* A non-OK return stops the iteration and is returned by the backend call. */
typedef fn_status (*fn_store_change_fn)(void *ctx, const fn_store_change *c);

typedef struct {
    const char *name; /* "sqlite", "postgresql": fn_gallery_stats.backend */
    /* Opens (creating when args->create) the database at uri and the collection
     * args->collection; checks model_id and dim (FN_ERR_MISMATCH naming both values). */
    fn_status (*open)(const char *uri, const fn_store_open_args *args, fn_store **out,
                      fn_store_collection *coll);
    void (*close)(fn_store *s);

    /* n faces in ONE transaction (all or nothing), each with its subject created when new.
     * A face with source_sha256 equal to one of the same subject's faces (stored, or earlier
     * in this call) is not inserted: dup[i] = 1 and ids[i] = the existing face. Each new
     * face appends FACE_ADDED. created: seconds since the epoch for every new row. */
    fn_status (*enroll)(fn_store *s, const fn_gallery_face *faces, int n, double created,
                        int64_t *ids, uint8_t *dup);
    fn_status (*add_subject)(fn_store *s, const char *name, double created, int *was_created);
    /* Onto an existing name: merge (FACE_MOVED per face, old subject deleted); else
     * SUBJECT_RENAMED. old == new: FN_OK, nothing logged. */
    fn_status (*rename_subject)(fn_store *s, const char *old_name, const char *new_name);
    /* The subject and its faces (FACE_REMOVED each). */
    fn_status (*remove_subject)(fn_store *s, const char *name, int *n_faces);
    fn_status (*remove_face)(fn_store *s, int64_t face_id);
    /* Every subject and face of the collection; logs one RESET. */
    fn_status (*remove_all)(fn_store *s, int *n_faces);

    /* As fn_gallery_list_subjects / fn_gallery_list_faces / fn_gallery_get_face. */
    fn_status (*list_subjects)(fn_store *s, fn_gallery_subject **out, int *n);
    fn_status (*list_faces)(fn_store *s, const char *subject, int offset, int limit,
                            fn_gallery_face_info **out, int *n, int *total);
    fn_status (*get_face)(fn_store *s, int64_t face_id, fn_gallery_face_info *info,
                          float *embedding, uint8_t **image, size_t *image_size);
    fn_status (*count)(fn_store *s, int *n_subjects, int *n_faces);

    /* Every face of the collection as FACE_ADDED rows (seq = *seq), in one snapshot, and
     * *seq = the last change seq of the database visible in that snapshot. */
    fn_status (*load)(fn_store *s, fn_store_change_fn fn, void *ctx, int64_t *seq);
    /* The collection's changes with seq > after, in seq order, in one snapshot; *last = the
     * last seq of the database in that snapshot (>= after). */
    fn_status (*changes)(fn_store *s, int64_t after, fn_store_change_fn fn, void *ctx,
                         int64_t *last);
    /* The last seq of the database, cheaply (called before every search). */
    fn_status (*last_seq)(fn_store *s, int64_t *seq);
    /* Every collection's name in the database at uri, by name (migration); *names malloc'd.
     * FN_ERR_MISSING when uri holds no gallery. */
    fn_status (*list_collections)(const char *uri, char (**names)[FN_GALLERY_NAME_MAX + 1], int *n);
} fn_store_ops;

/* The backend for a uri: "postgresql://..." / "postgres://..." -> PostgreSQL (when built
 * with libpq, FN_HAVE_PG), anything else is a SQLite file path. FN_ERR_UNSUPPORTED naming
 * the package to install when that backend is not built in. */
fn_status fn_store_for_uri(const char *uri, const fn_store_ops **out);

extern const fn_store_ops fn_store_sqlite_ops;
#ifdef FN_HAVE_PG
extern const fn_store_ops fn_store_pg_ops;
/* Every face of g's collection (by id, in one snapshot) as FACE_ADDED rows; *dim = its
 * dimension (gallery.c; export uses it). */
fn_status fn_gallery_load_rows(fn_gallery *g, fn_store_change_fn fn, void *ctx, int *dim);

#endif

/* Helpers every backend shares (store.c). */
double fn_store_now(void); /* wall-clock seconds since the epoch */
/* Name checks: 1..FN_GALLERY_NAME_MAX bytes, no NUL (a C string), valid UTF-8. */
fn_status fn_store_check_name(const char *what, const char *name);

/* Every face of g's collection (by id, in one snapshot) as FACE_ADDED rows; *dim = its
 * dimension (gallery.c; export uses it). */
fn_status fn_gallery_load_rows(fn_gallery *g, fn_store_change_fn fn, void *ctx, int *dim);

#endif
