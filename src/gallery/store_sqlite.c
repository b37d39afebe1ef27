/* store_sqlite.c — the gallery's embedded store: one SQLite file (WAL mode), every write one
 * transaction (BEGIN IMMEDIATE, so a second writer waits for the busy timeout instead of
 * failing half-way), the change log in the same transaction. synchronous=NORMAL: a kill -9
 * loses nothing committed; a power cut may lose the last commits but never corrupts. */
#define _GNU_SOURCE
#include "store.h"

#ifndef FN_HAVE_SQLITE
static fn_status sqlite_missing(const char *uri, const fn_store_open_args *a, fn_store **out,
                                fn_store_collection *c) {
    *out = NULL;
    return fn_fail(FN_ERR_UNSUPPORTED, "gallery: built without SQLite (install libsqlite3-dev and rebuild)");
}
const fn_store_ops fn_store_sqlite_ops = { .name = "sqlite", .open = sqlite_missing };
#else
#include <sqlite3.h>

#define SCHEMA_VERSION "1"
#define BUSY_TIMEOUT_MS 30000

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS fn_gallery(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS collections(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE, model_id TEXT NOT NULL, dim INTEGER NOT NULL,"
    " calib_threshold REAL NOT NULL, calib_slope REAL NOT NULL, created REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS subjects(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " collection_id INTEGER NOT NULL REFERENCES collections(id), name TEXT NOT NULL,"
    " created REAL NOT NULL, UNIQUE(collection_id, name));"
    "CREATE TABLE IF NOT EXISTS faces(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " collection_id INTEGER NOT NULL REFERENCES collections(id),"
    " subject_id INTEGER NOT NULL REFERENCES subjects(id), embedding BLOB NOT NULL,"
    " model_id TEXT NOT NULL, source TEXT, source_sha256 TEXT, box BLOB NOT NULL,"
    " landmarks BLOB NOT NULL, score REAL NOT NULL, created REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS faces_by_subject ON faces(subject_id, source_sha256);"
    "CREATE INDEX IF NOT EXISTS faces_by_collection ON faces(collection_id);"
    "CREATE TABLE IF NOT EXISTS face_images(face_id INTEGER PRIMARY KEY REFERENCES faces(id),"
    " data BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS changes(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " collection_id INTEGER NOT NULL, op INTEGER NOT NULL, face_id INTEGER, subject_id INTEGER);";

/* Prepared statements, one per use (reset after each). */
enum {
    Q_SUBJECT_ID, Q_SUBJECT_INSERT, Q_FACE_DUP, Q_FACE_INSERT, Q_IMAGE_INSERT, Q_CHANGE,
    Q_LAST_SEQ, Q_COUNT_SUBJECTS, Q_COUNT_FACES, Q_N
};
static const char *QUERIES[Q_N] = {
    [Q_SUBJECT_ID] = "SELECT id FROM subjects WHERE collection_id=?1 AND name=?2",
    [Q_SUBJECT_INSERT] = "INSERT INTO subjects(collection_id, name, created) VALUES(?1, ?2, ?3)",
    [Q_FACE_DUP] = "SELECT id FROM faces WHERE subject_id=?1 AND source_sha256=?2 LIMIT 1",
    [Q_FACE_INSERT] = "INSERT INTO faces(collection_id, subject_id, embedding, model_id, source,"
                      " source_sha256, box, landmarks, score, created)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_IMAGE_INSERT] = "INSERT INTO face_images(face_id, data) VALUES(?1, ?2)",
    [Q_CHANGE] = "INSERT INTO changes(collection_id, op, face_id, subject_id) VALUES(?1, ?2, ?3, ?4)",
    [Q_LAST_SEQ] = "SELECT COALESCE(MAX(seq), 0) FROM changes",
    [Q_COUNT_SUBJECTS] = "SELECT COUNT(*) FROM subjects WHERE collection_id=?1",
    [Q_COUNT_FACES] = "SELECT COUNT(*) FROM faces WHERE collection_id=?1",
};

struct fn_store {
    sqlite3 *db;
    char *path;
    fn_store_collection coll;
    sqlite3_stmt *q[Q_N];
};

/* SQLite's result code -> fn_status with the file name and SQLite's message. */
static fn_status db_fail(fn_store *s, int rc, const char *what) {
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    int prim = rc & 0xff;
    fn_status st = prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT || prim == SQLITE_FORMAT ? FN_ERR_FORMAT
                 : prim == SQLITE_NOMEM ? FN_ERR_NOMEM
                 : prim == SQLITE_READONLY ? FN_ERR_ARG
                 : prim == SQLITE_TOOBIG ? FN_ERR_LIMIT : FN_ERR_IO;
    if (st == FN_ERR_FORMAT)
        return fn_fail(st, "%s: %s: %s (not a gallery, or the file is corrupt or truncated)", s->path, what, msg);
    return fn_fail(st, "%s: %s: %s", s->path, what, msg);
}

static fn_status exec(fn_store *s, const char *sql, const char *what) {
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FN_OK : db_fail(s, rc, what);
}

static fn_status prepare(fn_store *s, const char *sql, sqlite3_stmt **st) {
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? FN_OK : db_fail(s, rc, "prepare");
}

/* The cached statement k, reset and unbound. */
static sqlite3_stmt *Q(fn_store *s, int k) {
    sqlite3_reset(s->q[k]);
    sqlite3_clear_bindings(s->q[k]);
    return s->q[k];
}

/* Runs a statement that returns nothing (or whose rows are ignored). */
static fn_status step_done(fn_store *s, sqlite3_stmt *st, const char *what) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
    fn_status r = rc == SQLITE_DONE ? FN_OK : db_fail(s, rc, what);
    sqlite3_reset(st);
    return r;
}

/* One int64 from a statement's first row; *found = 0 when there is none. */
static fn_status step_int64(fn_store *s, sqlite3_stmt *st, int64_t *v, int *found, const char *what) {
    int rc = sqlite3_step(st);
    *found = 0;
    fn_status r = FN_OK;
    if (rc == SQLITE_ROW) { *v = sqlite3_column_int64(st, 0); *found = 1; }
    else if (rc != SQLITE_DONE) r = db_fail(s, rc, what);
    sqlite3_reset(st);
    return r;
}

static fn_status begin_write(fn_store *s) { return exec(s, "BEGIN IMMEDIATE", "begin transaction"); }
static fn_status begin_read(fn_store *s) { return exec(s, "BEGIN", "begin transaction"); }
static fn_status commit(fn_store *s) { return exec(s, "COMMIT", "commit"); }
static void rollback(fn_store *s) {
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}
/* Ends a transaction: COMMIT when st is FN_OK, else ROLLBACK; returns the outcome. */
static fn_status finish(fn_store *s, fn_status st) {
    if (st == FN_OK) st = commit(s);
    if (st != FN_OK) rollback(s);
    return st;
}

static fn_status log_change(fn_store *s, fn_change_op op, int64_t face_id, int64_t subject_id) {
    sqlite3_stmt *st = Q(s, Q_CHANGE);
    sqlite3_bind_int64(st, 1, s->coll.id);
    sqlite3_bind_int(st, 2, op);
    if (face_id) sqlite3_bind_int64(st, 3, face_id);
    if (subject_id) sqlite3_bind_int64(st, 4, subject_id);
    return step_done(s, st, "log change");
}

static fn_status subject_id(fn_store *s, const char *name, int64_t *id, int *found) {
    sqlite3_stmt *st = Q(s, Q_SUBJECT_ID);
    sqlite3_bind_int64(st, 1, s->coll.id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    return step_int64(s, st, id, found, "find subject");
}

static fn_status subject_id_or_missing(fn_store *s, const char *name, int64_t *id) {
    int found;
    FN_TRY(subject_id(s, name, id, &found));
    return found ? FN_OK : fn_fail(FN_ERR_MISSING, "gallery: no subject '%s'", name);
}

static fn_status subject_ensure(fn_store *s, const char *name, double created, int64_t *id, int *was_created) {
    int found;
    FN_TRY(subject_id(s, name, id, &found));
    if (was_created) *was_created = !found;
    if (found) return FN_OK;
    sqlite3_stmt *st = Q(s, Q_SUBJECT_INSERT);
    sqlite3_bind_int64(st, 1, s->coll.id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, created);
    FN_TRY(step_done(s, st, "add subject"));
    *id = sqlite3_last_insert_rowid(s->db);
    return FN_OK;
}

/* ---------------------------------------------------------------- open / close */
static void sq_close(fn_store *s) {
    if (!s) return;
    for (int k = 0; k < Q_N; k++) sqlite3_finalize(s->q[k]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* Reads (or, creating, writes) the collection row; checks model and dimension. */
static fn_status open_collection(fn_store *s, const fn_store_open_args *a) {
    sqlite3_stmt *st = NULL;
    FN_TRY(prepare(s, "SELECT id, model_id, dim, calib_threshold, calib_slope FROM collections WHERE name=?1", &st));
    sqlite3_bind_text(st, 1, a->collection, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    fn_status r = FN_OK;
    if (rc == SQLITE_ROW) {
        s->coll.id = sqlite3_column_int64(st, 0);
        const char *mid = (const char *)sqlite3_column_text(st, 1);
        snprintf(s->coll.model_id, sizeof s->coll.model_id, "%s", mid ? mid : "");
        s->coll.dim = sqlite3_column_int(st, 2);
        s->coll.calib.threshold = (float)sqlite3_column_double(st, 3);
        s->coll.calib.slope = (float)sqlite3_column_double(st, 4);
    } else if (rc != SQLITE_DONE) r = db_fail(s, rc, "read collections");
    else if (!a->create || a->read_only) r = fn_fail(FN_ERR_MISSING, "%s: no collection '%s'", s->path, a->collection);
    else {
        if (!a->model_id || !*a->model_id || a->dim <= 0)
            r = fn_fail(FN_ERR_ARG, "%s: creating collection '%s' needs a model id and dimension", s->path, a->collection);
        sqlite3_stmt *ins = NULL;
        if (r == FN_OK) r = prepare(s, "INSERT INTO collections(name, model_id, dim, calib_threshold, calib_slope, created)"
                                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &ins);
        if (r == FN_OK) {
            sqlite3_bind_text(ins, 1, a->collection, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 2, a->model_id, -1, SQLITE_STATIC);
            sqlite3_bind_int(ins, 3, a->dim);
            sqlite3_bind_double(ins, 4, a->calib.threshold);
            sqlite3_bind_double(ins, 5, a->calib.slope);
            sqlite3_bind_double(ins, 6, fn_store_now());
            r = step_done(s, ins, "create collection");
            s->coll.id = sqlite3_last_insert_rowid(s->db);
            snprintf(s->coll.model_id, sizeof s->coll.model_id, "%s", a->model_id);
            s->coll.dim = a->dim;
            s->coll.calib = a->calib;
        }
        sqlite3_finalize(ins);
    }
    sqlite3_finalize(st);
    if (r != FN_OK) return r;
    if (a->model_id && *a->model_id && strcmp(a->model_id, s->coll.model_id))
        return fn_fail(FN_ERR_MISMATCH, "%s: collection '%s' was built with model %s, not %s "
                       "(embeddings of different models cannot be compared)",
                       s->path, a->collection, s->coll.model_id, a->model_id);
    if (a->dim > 0 && a->dim != s->coll.dim)
        return fn_fail(FN_ERR_MISMATCH, "%s: collection '%s' holds %d-d embeddings, not %d-d",
                       s->path, a->collection, s->coll.dim, a->dim);
    if (s->coll.dim <= 0 || s->coll.dim > 65536)
        return fn_fail(FN_ERR_FORMAT, "%s: collection '%s' has a bad dimension %d", s->path, a->collection, s->coll.dim);
    return FN_OK;
}

static fn_status sq_open(const char *uri, const fn_store_open_args *a, fn_store **out, fn_store_collection *coll) {
    *out = NULL;
    fn_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(uri))) { free(s); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    int flags = (a->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (a->create ? SQLITE_OPEN_CREATE : 0))
              | SQLITE_OPEN_NOMUTEX; /* the gallery layer serialises calls on a handle */
    int rc = sqlite3_open_v2(uri, &s->db, flags, NULL);
    fn_status r = FN_OK;
    if (rc != SQLITE_OK) {
        r = (rc & 0xff) == SQLITE_CANTOPEN
            ? fn_fail(a->create ? FN_ERR_IO : FN_ERR_MISSING, "%s: cannot open%s", uri,
                      a->create ? "" : " (no such gallery; enrol to create one)")
            : db_fail(s, rc, "open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    /* The first read tells a gallery from a non-database (SQLITE_NOTADB). */
    sqlite3_stmt *st = NULL;
    if ((r = prepare(s, "SELECT value FROM fn_gallery WHERE key='format'", &st)) != FN_OK) {
        /* no such table: an empty new file, or another SQLite database */
        sqlite3_stmt *cnt = NULL;
        fn_status r2 = prepare(s, "SELECT COUNT(*) FROM sqlite_master", &cnt);
        int64_t n = 0; int found = 0;
        if (r2 == FN_OK) r2 = step_int64(s, cnt, &n, &found, "read schema");
        sqlite3_finalize(cnt);
        if (r2 != FN_OK) { r = r2; goto fail; }
        if (n > 0) { r = fn_fail(FN_ERR_FORMAT, "%s: a SQLite database but not a facenet gallery", uri); goto fail; }
        if (!a->create || a->read_only) { r = fn_fail(FN_ERR_MISSING, "%s: empty file, not a gallery yet", uri); goto fail; }
        fn_clear_error();
    } else {
        rc = sqlite3_step(st);
        const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) r = db_fail(s, rc, "read format");
        else if (!v || strcmp(v, "facenet-gallery")) r = fn_fail(FN_ERR_FORMAT, "%s: not a facenet gallery", uri);
        sqlite3_finalize(st);
        if (r != FN_OK) goto fail;
    }
    if (!a->read_only) {
        /* WAL: readers never block the writer nor the writer them. */
        if ((r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                                 " PRAGMA cache_size=-65536", "configure")) != FN_OK) goto fail;
        if ((r = begin_write(s)) != FN_OK) goto fail;
        r = exec(s, SCHEMA, "create schema");
        if (r == FN_OK) r = exec(s, "INSERT OR IGNORE INTO fn_gallery VALUES('format', 'facenet-gallery');"
                                    "INSERT OR IGNORE INTO fn_gallery VALUES('version', '" SCHEMA_VERSION "')", "create schema");
        if (r == FN_OK) r = open_collection(s, a);
        if ((r = finish(s, r)) != FN_OK) goto fail;
    } else if ((r = open_collection(s, a)) != FN_OK) goto fail;
    {
        sqlite3_stmt *vst = NULL; int64_t ver = 0; int found = 0;
        fn_status rv = prepare(s, "SELECT CAST(value AS INTEGER) FROM fn_gallery WHERE key='version'", &vst);
        if (rv == FN_OK) rv = step_int64(s, vst, &ver, &found, "read version");
        sqlite3_finalize(vst);
        if (rv == FN_OK && (!found || ver != 1))
            rv = fn_fail(FN_ERR_UNSUPPORTED, "%s: gallery format version %lld (this build reads 1)", uri, (long long)ver);
        if ((r = rv) != FN_OK) goto fail;
    }
    for (int k = 0; k < Q_N; k++)
        if ((r = prepare(s, QUERIES[k], &s->q[k])) != FN_OK) goto fail;
    *coll = s->coll;
    *out = s;
    return FN_OK;
fail:
    sq_close(s);
    return r;
}

/* ---------------------------------------------------------------- writes */
static fn_status enroll_one(fn_store *s, const fn_gallery_face *f, double created, int64_t *id, uint8_t *dup) {
    int64_t sid = 0;
    FN_TRY(subject_ensure(s, f->subject, created, &sid, NULL));
    *dup = 0;
    if (f->source_sha256 && *f->source_sha256) {
        sqlite3_stmt *st = Q(s, Q_FACE_DUP);
        sqlite3_bind_int64(st, 1, sid);
        sqlite3_bind_text(st, 2, f->source_sha256, -1, SQLITE_STATIC);
        int found;
        FN_TRY(step_int64(s, st, id, &found, "find duplicate"));
        if (found) { *dup = 1; return FN_OK; }
    }
    sqlite3_stmt *st = Q(s, Q_FACE_INSERT);
    sqlite3_bind_int64(st, 1, s->coll.id);
    sqlite3_bind_int64(st, 2, sid);
    sqlite3_bind_blob(st, 3, f->embedding, (int)(sizeof(float) * s->coll.dim), SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->coll.model_id, -1, SQLITE_STATIC);
    if (f->source) sqlite3_bind_text(st, 5, f->source, -1, SQLITE_STATIC);
    if (f->source_sha256 && *f->source_sha256) sqlite3_bind_text(st, 6, f->source_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, f->box, sizeof f->box, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, f->landmarks, sizeof f->landmarks, SQLITE_STATIC);
    sqlite3_bind_double(st, 9, f->score);
    sqlite3_bind_double(st, 10, created);
    FN_TRY(step_done(s, st, "add face"));
    *id = sqlite3_last_insert_rowid(s->db);
    if (f->image && f->image_size) {
        if (f->image_size > (size_t)INT32_MAX) return fn_fail(FN_ERR_LIMIT, "gallery: photo of %zu bytes", f->image_size);
        sqlite3_stmt *im = Q(s, Q_IMAGE_INSERT);
        sqlite3_bind_int64(im, 1, *id);
        sqlite3_bind_blob(im, 2, f->image, (int)f->image_size, SQLITE_STATIC);
        FN_TRY(step_done(s, im, "store photo"));
    }
    return log_change(s, FN_CHANGE_FACE_ADDED, *id, sid);
}

static fn_status sq_enroll(fn_store *s, const fn_gallery_face *faces, int n, double created, int64_t *ids, uint8_t *dup) {
    FN_TRY(begin_write(s));
    fn_status r = FN_OK;
    for (int i = 0; i < n && r == FN_OK; i++) r = enroll_one(s, &faces[i], created, &ids[i], &dup[i]);
    return finish(s, r);
}

static fn_status sq_add_subject(fn_store *s, const char *name, double created, int *was_created) {
    FN_TRY(begin_write(s));
    int64_t id;
    return finish(s, subject_ensure(s, name, created, &id, was_created));
}

/* Runs sql, binding its parameters ?1, ?2, ?3 (as many as it has) to a, b, c, as part of
 * the current transaction. */
static fn_status run(fn_store *s, const char *sql, int64_t a, int64_t b, int64_t c, const char *what) {
    sqlite3_stmt *st = NULL;
    FN_TRY(prepare(s, sql, &st));
    const int64_t v[3] = { a, b, c };
    for (int k = 0; k < 3 && k < sqlite3_bind_parameter_count(st); k++) sqlite3_bind_int64(st, k + 1, v[k]);
    fn_status r = step_done(s, st, what);
    sqlite3_finalize(st);
    return r;
}

/* Logs op for every face of subject sid (before they move or go); *n = how many. */
static fn_status log_subject_faces(fn_store *s, int64_t sid, fn_change_op op, int64_t new_sid, int *n) {
    FN_TRY(run(s, "INSERT INTO changes(collection_id, op, face_id, subject_id)"
                  " SELECT collection_id, ?2, id, NULLIF(?3, 0) FROM faces WHERE subject_id=?1 ORDER BY id",
               sid, op, new_sid, "log changes"));
    if (n) *n = sqlite3_changes(s->db);
    return FN_OK;
}

static fn_status sq_rename_subject(fn_store *s, const char *old_name, const char *new_name) {
    FN_TRY(begin_write(s));
    int64_t old_id = 0, new_id = 0;
    int found;
    fn_status r = subject_id_or_missing(s, old_name, &old_id);
    if (r == FN_OK && strcmp(old_name, new_name)) r = subject_id(s, new_name, &new_id, &found);
    if (r == FN_OK && strcmp(old_name, new_name)) {
        if (found) { /* merge into the existing subject */
            r = log_subject_faces(s, old_id, FN_CHANGE_FACE_MOVED, new_id, NULL);
            if (r == FN_OK) r = run(s, "UPDATE faces SET subject_id=?2 WHERE subject_id=?1", old_id, new_id, 0, "move faces");
            if (r == FN_OK) r = run(s, "DELETE FROM subjects WHERE id=?1", old_id, 0, 0, "remove subject");
        } else {
            sqlite3_stmt *st = NULL;
            r = prepare(s, "UPDATE subjects SET name=?2 WHERE id=?1", &st);
            if (r == FN_OK) {
                sqlite3_bind_int64(st, 1, old_id);
                sqlite3_bind_text(st, 2, new_name, -1, SQLITE_STATIC);
                r = step_done(s, st, "rename subject");
            }
            sqlite3_finalize(st);
            if (r == FN_OK) r = log_change(s, FN_CHANGE_SUBJECT_RENAMED, 0, old_id);
        }
    }
    return finish(s, r);
}

static fn_status delete_subject_faces(fn_store *s, int64_t sid) {
    FN_TRY(run(s, "DELETE FROM face_images WHERE face_id IN (SELECT id FROM faces WHERE subject_id=?1)",
                sid, 0, 0, "remove photos"));
    return run(s, "DELETE FROM faces WHERE subject_id=?1", sid, 0, 0, "remove faces");
}

static fn_status sq_remove_subject(fn_store *s, const char *name, int *n_faces) {
    FN_TRY(begin_write(s));
    int64_t sid = 0;
    int n = 0;
    fn_status r = subject_id_or_missing(s, name, &sid);
    if (r == FN_OK) r = log_subject_faces(s, sid, FN_CHANGE_FACE_REMOVED, 0, &n);
    if (r == FN_OK) r = delete_subject_faces(s, sid);
    if (r == FN_OK) r = run(s, "DELETE FROM subjects WHERE id=?1", sid, 0, 0, "remove subject");
    r = finish(s, r);
    if (r == FN_OK && n_faces) *n_faces = n;
    return r;
}

static fn_status sq_remove_face(fn_store *s, int64_t face_id) {
    FN_TRY(begin_write(s));
    fn_status r = run(s, "DELETE FROM face_images WHERE face_id=?1", face_id, 0, 0, "remove photo");
    if (r == FN_OK) r = run(s, "DELETE FROM faces WHERE id=?1 AND collection_id=?2", face_id, s->coll.id, 0, "remove face");
    if (r == FN_OK && sqlite3_changes(s->db) == 0) r = fn_fail(FN_ERR_MISSING, "gallery: no face %lld", (long long)face_id);
    if (r == FN_OK) r = log_change(s, FN_CHANGE_FACE_REMOVED, face_id, 0);
    return finish(s, r);
}

static fn_status sq_remove_all(fn_store *s, int *n_faces) {
    FN_TRY(begin_write(s));
    int n = 0;
    fn_status r = run(s, "DELETE FROM face_images WHERE face_id IN (SELECT id FROM faces WHERE collection_id=?1)",
                       s->coll.id, 0, 0, "remove photos");
    if (r == FN_OK) r = run(s, "DELETE FROM faces WHERE collection_id=?1", s->coll.id, 0, 0, "remove faces");
    if (r == FN_OK) n = sqlite3_changes(s->db);
    if (r == FN_OK) r = run(s, "DELETE FROM subjects WHERE collection_id=?1", s->coll.id, 0, 0, "remove subjects");
    if (r == FN_OK) r = log_change(s, FN_CHANGE_RESET, 0, 0);
    r = finish(s, r);
    if (r == FN_OK && n_faces) *n_faces = n;
    return r;
}

/* ---------------------------------------------------------------- reads */
static fn_status sq_list_subjects(fn_store *s, fn_gallery_subject **out, int *n_out) {
    *out = NULL; *n_out = 0;
    sqlite3_stmt *st = NULL;
    FN_TRY(prepare(s, "SELECT s.name, (SELECT COUNT(*) FROM faces f WHERE f.subject_id=s.id)"
                      " FROM subjects s WHERE s.collection_id=?1 ORDER BY CAST(s.name AS BLOB)", &st));
    sqlite3_bind_int64(st, 1, s->coll.id);
    fn_gallery_subject *v = NULL;
    int n = 0, cap = 0, rc;
    fn_status r = FN_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            fn_gallery_subject *nv = realloc(v, sizeof *v * cap);
            if (!nv) { r = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
            v = nv;
        }
        const char *name = (const char *)sqlite3_column_text(st, 0);
        snprintf(v[n].name, sizeof v[n].name, "%s", name ? name : "");
        v[n].n_faces = sqlite3_column_int(st, 1);
        n++;
    }
    if (r == FN_OK && rc != SQLITE_DONE) r = db_fail(s, rc, "list subjects");
    sqlite3_finalize(st);
    if (r != FN_OK) { free(v); return r; }
    *out = v; *n_out = n;
    return FN_OK;
}

#define FACE_COLUMNS "f.id, s.name, f.source, f.source_sha256, f.box, f.landmarks, f.score, f.created," \
                     " EXISTS(SELECT 1 FROM face_images i WHERE i.face_id=f.id), f.embedding"

static fn_status face_row(fn_store *s, sqlite3_stmt *st, fn_gallery_face_info *fi) {
    memset(fi, 0, sizeof *fi);
    fi->id = sqlite3_column_int64(st, 0);
    const char *t;
    if ((t = (const char *)sqlite3_column_text(st, 1))) snprintf(fi->subject, sizeof fi->subject, "%s", t);
    if ((t = (const char *)sqlite3_column_text(st, 2))) snprintf(fi->source, sizeof fi->source, "%s", t);
    if ((t = (const char *)sqlite3_column_text(st, 3))) snprintf(fi->source_sha256, sizeof fi->source_sha256, "%s", t);
    if (sqlite3_column_bytes(st, 4) != (int)sizeof fi->box || sqlite3_column_bytes(st, 5) != (int)sizeof fi->landmarks)
        return fn_fail(FN_ERR_FORMAT, "%s: face %lld: bad box / landmarks (corrupt)", s->path, (long long)fi->id);
    memcpy(fi->box, sqlite3_column_blob(st, 4), sizeof fi->box);
    memcpy(fi->landmarks, sqlite3_column_blob(st, 5), sizeof fi->landmarks);
    fi->score = (float)sqlite3_column_double(st, 6);
    fi->created = sqlite3_column_double(st, 7);
    fi->has_image = sqlite3_column_int(st, 8);
    return FN_OK;
}

static fn_status sq_list_faces(fn_store *s, const char *subject, int offset, int limit,
                               fn_gallery_face_info **out, int *n_out, int *total) {
    *out = NULL; *n_out = 0;
    int64_t sid = 0;
    FN_TRY(begin_read(s));
    fn_status r = subject ? subject_id_or_missing(s, subject, &sid) : FN_OK;
    sqlite3_stmt *st = NULL;
    if (r == FN_OK && total) {
        r = prepare(s, subject ? "SELECT COUNT(*) FROM faces WHERE subject_id=?1"
                               : "SELECT COUNT(*) FROM faces WHERE collection_id=?1", &st);
        int64_t v = 0; int found;
        if (r == FN_OK) { sqlite3_bind_int64(st, 1, subject ? sid : s->coll.id); r = step_int64(s, st, &v, &found, "count faces"); }
        *total = (int)v;
        sqlite3_finalize(st); st = NULL;
    }
    if (r == FN_OK)
        r = prepare(s, subject ? "SELECT " FACE_COLUMNS " FROM faces f JOIN subjects s ON s.id=f.subject_id"
                                 " WHERE f.subject_id=?1 ORDER BY f.id LIMIT ?2 OFFSET ?3"
                               : "SELECT " FACE_COLUMNS " FROM faces f JOIN subjects s ON s.id=f.subject_id"
                                 " WHERE f.collection_id=?1 ORDER BY f.id LIMIT ?2 OFFSET ?3", &st);
    fn_gallery_face_info *v = NULL;
    int n = 0, cap = 0, rc = SQLITE_DONE;
    if (r == FN_OK) {
        sqlite3_bind_int64(st, 1, subject ? sid : s->coll.id);
        sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
        sqlite3_bind_int64(st, 3, offset > 0 ? offset : 0);
        while (r == FN_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                fn_gallery_face_info *nv = realloc(v, sizeof *v * cap);
                if (!nv) { r = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
                v = nv;
            }
            r = face_row(s, st, &v[n++]);
        }
        if (r == FN_OK && rc != SQLITE_DONE) r = db_fail(s, rc, "list faces");
    }
    sqlite3_finalize(st);
    r = finish(s, r);
    if (r != FN_OK) { free(v); return r; }
    *out = v; *n_out = n;
    return FN_OK;
}

static fn_status sq_get_face(fn_store *s, int64_t face_id, fn_gallery_face_info *info, float *embedding,
                             uint8_t **image, size_t *image_size) {
    if (image) *image = NULL;
    if (image_size) *image_size = 0;
    FN_TRY(begin_read(s));
    sqlite3_stmt *st = NULL;
    fn_status r = prepare(s, "SELECT " FACE_COLUMNS " FROM faces f JOIN subjects s ON s.id=f.subject_id"
                             " WHERE f.id=?1 AND f.collection_id=?2", &st);
    int rc = SQLITE_DONE;
    fn_gallery_face_info fi;
    if (r == FN_OK) {
        sqlite3_bind_int64(st, 1, face_id);
        sqlite3_bind_int64(st, 2, s->coll.id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) r = fn_fail(FN_ERR_MISSING, "gallery: no face %lld", (long long)face_id);
        else if (rc != SQLITE_ROW) r = db_fail(s, rc, "read face");
        else r = face_row(s, st, &fi);
    }
    if (r == FN_OK && embedding) {
        if (sqlite3_column_bytes(st, 9) != (int)sizeof(float) * s->coll.dim)
            r = fn_fail(FN_ERR_FORMAT, "%s: face %lld: embedding of %d bytes (corrupt)", s->path, (long long)face_id, sqlite3_column_bytes(st, 9));
        else memcpy(embedding, sqlite3_column_blob(st, 9), sizeof(float) * s->coll.dim);
    }
    sqlite3_finalize(st); st = NULL;
    if (r == FN_OK && image && fi.has_image) {
        r = prepare(s, "SELECT data FROM face_images WHERE face_id=?1", &st);
        if (r == FN_OK) {
            sqlite3_bind_int64(st, 1, face_id);
            if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                size_t sz = (size_t)sqlite3_column_bytes(st, 0);
                uint8_t *p = malloc(sz ? sz : 1);
                if (!p) r = fn_fail(FN_ERR_NOMEM, "out of memory");
                else { memcpy(p, sqlite3_column_blob(st, 0), sz); *image = p; if (image_size) *image_size = sz; }
            } else if (rc != SQLITE_DONE) r = db_fail(s, rc, "read photo");
        }
        sqlite3_finalize(st);
    }
    r = finish(s, r);
    if (r != FN_OK && image) { free(*image); *image = NULL; if (image_size) *image_size = 0; }
    if (r == FN_OK && info) *info = fi;
    return r;
}

static fn_status sq_count(fn_store *s, int *n_subjects, int *n_faces) {
    int64_t a = 0, b = 0; int found;
    FN_TRY(begin_read(s));
    sqlite3_stmt *st = Q(s, Q_COUNT_SUBJECTS);
    sqlite3_bind_int64(st, 1, s->coll.id);
    fn_status r = step_int64(s, st, &a, &found, "count subjects");
    if (r == FN_OK) { st = Q(s, Q_COUNT_FACES); sqlite3_bind_int64(st, 1, s->coll.id); r = step_int64(s, st, &b, &found, "count faces"); }
    r = finish(s, r);
    *n_subjects = (int)a; *n_faces = (int)b;
    return r;
}

static fn_status sq_last_seq(fn_store *s, int64_t *seq) {
    int found;
    return step_int64(s, Q(s, Q_LAST_SEQ), seq, &found, "read change log");
}

/* Feeds rows of (seq, op, face_id, subject_id, subject name, embedding) to fn. */
static fn_status feed(fn_store *s, sqlite3_stmt *st, fn_store_change_fn fn, void *ctx, const char *what) {
    int rc;
    fn_status r = FN_OK;
    const int bytes = (int)sizeof(float) * s->coll.dim;
    while (r == FN_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn_store_change c = {
            .seq = sqlite3_column_int64(st, 0), .op = (fn_change_op)sqlite3_column_int(st, 1),
            .face_id = sqlite3_column_int64(st, 2), .subject_id = sqlite3_column_int64(st, 3),
            .subject = (const char *)sqlite3_column_text(st, 4),
        };
        if (sqlite3_column_type(st, 5) == SQLITE_BLOB) {
            if (sqlite3_column_bytes(st, 5) != bytes) {
                r = fn_fail(FN_ERR_FORMAT, "%s: face %lld: embedding of %d bytes, not %d (corrupt)",
                            s->path, (long long)c.face_id, sqlite3_column_bytes(st, 5), bytes);
                break;
            }
            c.embedding = sqlite3_column_blob(st, 5); /* SQLite blobs are 8-byte aligned */
        }
        r = fn(ctx, &c);
    }
    if (r == FN_OK && rc != SQLITE_DONE) r = db_fail(s, rc, what);
    return r;
}

static fn_status sq_load(fn_store *s, fn_store_change_fn fn, void *ctx, int64_t *seq) {
    FN_TRY(begin_read(s));
    fn_status r = sq_last_seq(s, seq);
    sqlite3_stmt *st = NULL;
    if (r == FN_OK) r = prepare(s, "SELECT ?2, 1, f.id, f.subject_id, s.name, f.embedding FROM faces f"
                                   " JOIN subjects s ON s.id=f.subject_id WHERE f.collection_id=?1 ORDER BY f.id", &st);
    if (r == FN_OK) {
        sqlite3_bind_int64(st, 1, s->coll.id);
        sqlite3_bind_int64(st, 2, *seq);
        r = feed(s, st, fn, ctx, "load faces");
    }
    sqlite3_finalize(st);
    return finish(s, r);
}

static fn_status sq_changes(fn_store *s, int64_t after, fn_store_change_fn fn, void *ctx, int64_t *last) {
    FN_TRY(begin_read(s));
    fn_status r = sq_last_seq(s, last);
    sqlite3_stmt *st = NULL;
    /* The face's subject / embedding as they are now (NULL when gone): FACE_ADDED joins
     * the face, SUBJECT_RENAMED the subject. */
    if (r == FN_OK && *last > after)
        r = prepare(s, "SELECT c.seq, c.op, c.face_id, COALESCE(f.subject_id, c.subject_id), s.name,"
                       " CASE WHEN c.op=1 THEN f.embedding END FROM changes c"
                       " LEFT JOIN faces f ON f.id=c.face_id"
                       " LEFT JOIN subjects s ON s.id=COALESCE(f.subject_id, c.subject_id)"
                       " WHERE c.seq>?1 AND c.seq<=?3 AND c.collection_id=?2 ORDER BY c.seq", &st);
    if (st) {
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, s->coll.id);
        sqlite3_bind_int64(st, 3, *last);
        r = feed(s, st, fn, ctx, "read changes");
    }
    sqlite3_finalize(st);
    return finish(s, r);
}

static fn_status sq_list_collections(const char *uri, char (**names)[FN_GALLERY_NAME_MAX + 1], int *n) {
    *names = NULL; *n = 0;
    fn_store s = { .path = (char *)uri };
    int rc = sqlite3_open_v2(uri, &s.db, SQLITE_OPEN_READONLY, NULL);
    fn_status r = rc == SQLITE_OK ? FN_OK : fn_fail(FN_ERR_MISSING, "%s: cannot open (no such gallery)", uri);
    sqlite3_stmt *st = NULL;
    if (r == FN_OK) {
        sqlite3_busy_timeout(s.db, BUSY_TIMEOUT_MS);
        const char *v = NULL;
        if (sqlite3_prepare_v2(s.db, "SELECT value FROM fn_gallery WHERE key='format'", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = (const char *)sqlite3_column_text(st, 0);
        if (!v || strcmp(v, "facenet-gallery")) r = fn_fail(FN_ERR_FORMAT, "%s: not a facenet gallery", uri);
        sqlite3_finalize(st);
        st = NULL;
    }
    if (r == FN_OK) r = prepare(&s, "SELECT name FROM collections ORDER BY CAST(name AS BLOB)", &st);
    int cap = 0;
    while (r == FN_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            void *p = realloc(*names, sizeof **names * (size_t)cap);
            if (!p) { r = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
            *names = p;
        }
        const char *name = (const char *)sqlite3_column_text(st, 0);
        snprintf((*names)[(*n)++], sizeof **names, "%s", name ? name : "");
    }
    if (r == FN_OK && rc != SQLITE_DONE) r = db_fail(&s, rc, "list collections");
    sqlite3_finalize(st);
    sqlite3_close(s.db);
    if (r != FN_OK) { free(*names); *names = NULL; *n = 0; }
    return r;
}

const fn_store_ops fn_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open, .close = sq_close,
    .enroll = sq_enroll, .add_subject = sq_add_subject, .rename_subject = sq_rename_subject,
    .remove_subject = sq_remove_subject, .remove_face = sq_remove_face, .remove_all = sq_remove_all,
    .list_subjects = sq_list_subjects, .list_faces = sq_list_faces, .get_face = sq_get_face,
    .count = sq_count, .load = sq_load, .changes = sq_changes, .last_seq = sq_last_seq,
    .list_collections = sq_list_collections,
};
#endif
