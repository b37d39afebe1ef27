/* store_pg.c — the gallery's shared store: PostgreSQL through libpq, for several processes or
 * machines (N `facenet serve` nodes behind a load balancer) on one database.
 *
 * Same tables as store_sqlite.c (in the first schema of the connection's search_path, so one
 * database can hold several galleries: `?options=-csearch_path%3Dname`), every write one
 * transaction. What PostgreSQL needs beyond SQLite:
 *   - Commit order = seq order. changes.seq comes from a sequence, and sequences hand out
 *     numbers at INSERT, not at COMMIT: two writers could commit 11 before 10, and a reader
 *     that saw 11 would skip 10 forever. So every write first locks its collection's row
 *     (SELECT ... FOR UPDATE): writers of one collection take turns, and within a collection
 *     seq grows in commit order. Hence the seqs this backend reports (load, changes,
 *     last_seq) are the COLLECTION's last seq, not the database's (another collection's
 *     writer may hold a smaller, still uncommitted number).
 *   - Other nodes hear of a write at once: the writing transaction NOTIFYs channel
 *     fn_gallery_<collection id> with its last seq (delivered at commit, never for a rolled
 *     back write). Every handle LISTENs on its collection's channel; last_seq (called before
 *     each search) reads pending notifications without blocking — no query while nothing
 *     changed — and still asks the database once a second and after every reconnect, which
 *     catches whatever a dropped connection missed.
 *   - The change log is pruned as it goes: every write also deletes its collection's rows
 *     older than the last `changes_keep` seqs (a row of table fn_gallery, 100000 unless set)
 *     and raises collections.pruned_seq to the newest row deleted. A reader whose position
 *     is older than pruned_seq may have lost rows: changes then hands it a RESET (a full
 *     reload). Its check runs after the rows are read: pruned_seq only grows, so a value
 *     not above the reader's position then means none of the rows it read had gone.
 *   - Connections break (server restart, failover, pg_terminate_backend). A dead connection
 *     is reopened on next use; a write whose connection died before COMMIT was sent is
 *     retried once on a new connection (nothing of it was committed); one that died during
 *     COMMIT reports FN_ERR_IO (its outcome is unknown, so it was never acknowledged).
 *     While the server is unreachable, last_seq answers from what this node knows, so
 *     searches keep serving the in-memory gallery; writes fail with FN_ERR_IO.
 * Parameters and results travel in libpq's binary format (embeddings as raw bytes). */
#define _GNU_SOURCE
#include "store.h"

#ifdef FN_HAVE_PG
#include <libpq-fe.h>
#include <endian.h>
#include <stdint.h>

#define SCHEMA_VERSION "1"
#define POLL_SECONDS 1.0        /* ask the database at least this often when searching */
#define RECONNECT_MIN 0.25      /* searches retry a lost server after this, doubling ... */
#define RECONNECT_MAX 5.0       /* ... up to this (a blocking connect stalls that search) */
#define PAGE_ROWS "4096"        /* rows per page when loading or catching up */
#define SCHEMA_LOCK "7401500150" /* advisory lock key: one creator of the tables at a time */
#define CHANGES_KEEP 100000     /* change rows kept per collection unless fn_gallery says */

/* The tables of store_sqlite.c's SCHEMA in PostgreSQL's types. Ids come from sequences
 * (bigserial); embedding, box and landmarks are little-endian float32 bytes as there. */
static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS fn_gallery(key text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS collections(id bigserial PRIMARY KEY, name text NOT NULL UNIQUE,"
    " model_id text NOT NULL, dim integer NOT NULL, calib_threshold double precision NOT NULL,"
    " calib_slope double precision NOT NULL, created double precision NOT NULL,"
    " pruned_seq bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS subjects(id bigserial PRIMARY KEY,"
    " collection_id bigint NOT NULL REFERENCES collections(id), name text NOT NULL,"
    " created double precision NOT NULL, UNIQUE(collection_id, name));"
    "CREATE TABLE IF NOT EXISTS faces(id bigserial PRIMARY KEY,"
    " collection_id bigint NOT NULL REFERENCES collections(id),"
    " subject_id bigint NOT NULL REFERENCES subjects(id), embedding bytea NOT NULL,"
    " model_id text NOT NULL, source text, source_sha256 text, box bytea NOT NULL,"
    " landmarks bytea NOT NULL, score real NOT NULL, created double precision NOT NULL);"
    "CREATE INDEX IF NOT EXISTS faces_by_subject ON faces(subject_id, source_sha256);"
    "CREATE INDEX IF NOT EXISTS faces_by_collection ON faces(collection_id, id);"
    "CREATE TABLE IF NOT EXISTS face_images(face_id bigint PRIMARY KEY REFERENCES faces(id),"
    " data bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS changes(seq bigserial PRIMARY KEY,"
    " collection_id bigint NOT NULL, op smallint NOT NULL, face_id bigint, subject_id bigint);"
    "CREATE INDEX IF NOT EXISTS changes_by_collection ON changes(collection_id, seq);";

/* Built-in type oids (pg_type.h is server-side only). */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT4 = 23, OID_TEXT = 25,
       OID_FLOAT4 = 700, OID_FLOAT8 = 701 };

struct fn_store {
    PGconn *conn;
    char *uri;
    char where[160];          /* user@host:port/db for messages: never the password */
    fn_store_collection coll;
    int read_only;
    char channel[48];         /* fn_gallery_<collection id> */
    int listening;
    int64_t known_seq;        /* the collection's last seq as far as this handle knows */
    int64_t txn_seq;          /* last seq logged by the write in progress */
    int need_poll;            /* ask the database on next last_seq (reconnected) */
    int enroll_prepared;      /* ENROLL_SQL is prepared on this connection */
    double last_poll, next_reconnect, reconnect_wait;
    int64_t keep;             /* change rows kept per collection (fn_gallery 'changes_keep') */
};

/* ---------------------------------------------------------------- parameters and results */
/* Up to 12 parameters in binary format; values point into the caller's data or into buf. */
typedef struct {
    int n;
    Oid types[12];
    const char *values[12];
    int lengths[12];
    int formats[12];
    char buf[12][8];
} pg_params;

static void p_raw(pg_params *p, Oid type, const void *v, int len) {
    FN_ASSERT(p->n < 12);
    p->types[p->n] = type;
    p->values[p->n] = v;
    p->lengths[p->n] = len;
    p->formats[p->n] = 1;
    p->n++;
}
static void p_i64(pg_params *p, int64_t v) {
    uint64_t be = htobe64((uint64_t)v);
    memcpy(p->buf[p->n], &be, 8);
    p_raw(p, OID_INT8, p->buf[p->n], 8);
}
static void p_i32(pg_params *p, int32_t v) {
    uint32_t be = htobe32((uint32_t)v);
    memcpy(p->buf[p->n], &be, 4);
    p_raw(p, OID_INT4, p->buf[p->n], 4);
}
static void p_f32(pg_params *p, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    u = htobe32(u);
    memcpy(p->buf[p->n], &u, 4);
    p_raw(p, OID_FLOAT4, p->buf[p->n], 4);
}
static void p_f64(pg_params *p, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    u = htobe64(u);
    memcpy(p->buf[p->n], &u, 8);
    p_raw(p, OID_FLOAT8, p->buf[p->n], 8);
}
/* NULL stays NULL (SQL NULL). */
static void p_text(pg_params *p, const char *v) { p_raw(p, OID_TEXT, v, v ? (int)strlen(v) : 0); }
static void p_bytea(pg_params *p, const void *v, size_t len) { p_raw(p, OID_BYTEA, v, (int)len); }

static int r_null(const PGresult *r, int row, int col) { return PQgetisnull(r, row, col); }
static int64_t r_i64(const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col)) return 0;
    uint64_t v;
    memcpy(&v, PQgetvalue(r, row, col), 8);
    return (int64_t)be64toh(v);
}
static int32_t r_i32(const PGresult *r, int row, int col) {
    uint32_t v;
    memcpy(&v, PQgetvalue(r, row, col), 4);
    return (int32_t)be32toh(v);
}
static float r_f32(const PGresult *r, int row, int col) {
    uint32_t u;
    memcpy(&u, PQgetvalue(r, row, col), 4);
    u = be32toh(u);
    float v;
    memcpy(&v, &u, 4);
    return v;
}
static double r_f64(const PGresult *r, int row, int col) {
    uint64_t u;
    memcpy(&u, PQgetvalue(r, row, col), 8);
    u = be64toh(u);
    double v;
    memcpy(&v, &u, 8);
    return v;
}
/* Text (binary format = the bytes; libpq NUL-terminates every value); NULL for SQL NULL. */
static const char *r_text(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* ---------------------------------------------------------------- connection and errors */
static int conn_lost(fn_store *s) { return !s->conn || PQstatus(s->conn) != CONNECTION_OK; }

/* libpq's message without its trailing newline(s). */
static const char *trimmed(const char *msg, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", msg && *msg ? msg : "unknown error");
    for (size_t n = strlen(buf); n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '); n--) buf[n - 1] = 0;
    for (char *c = buf; *c; c++) if (*c == '\n' || *c == '\t') *c = ' ';
    return buf;
}

/* A failed statement -> fn_status with the server's message (SQLSTATE picks the status). */
static fn_status pg_fail(fn_store *s, const PGresult *res, const char *what) {
    char buf[400];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                    : s->conn ? PQerrorMessage(s->conn) : "not connected";
    fn_status st = FN_ERR_IO;
    if (state) {
        if (!strcmp(state, "25006")) st = FN_ERR_ARG;                  /* read-only transaction */
        else if (!strcmp(state, "53200")) st = FN_ERR_NOMEM;           /* out of memory */
        else if (!strncmp(state, "54", 2)) st = FN_ERR_LIMIT;          /* program limit exceeded */
        else if (!strcmp(state, "22021")) st = FN_ERR_ARG;             /* bad UTF-8 */
    }
    if (conn_lost(s))
        return fn_fail(FN_ERR_IO, "postgresql %s: %s: connection lost: %s", s->where, what,
                       trimmed(msg, buf, sizeof buf));
    return fn_fail(st, "postgresql %s: %s: %s", s->where, what, trimmed(msg, buf, sizeof buf));
}

/* Runs one statement (binary parameters and results). *out (may be NULL) gets the result to
 * PQclear; without out it is cleared here. */
static fn_status q(fn_store *s, const char *sql, const pg_params *p, PGresult **out, const char *what) {
    if (out) *out = NULL;
    if (conn_lost(s)) return pg_fail(s, NULL, what);
    PGresult *res = PQexecParams(s->conn, sql, p ? p->n : 0, p ? p->types : NULL, p ? p->values : NULL,
                                 p ? p->lengths : NULL, p ? p->formats : NULL, 1);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fn_status r = pg_fail(s, res, what);
        PQclear(res);
        return r;
    }
    if (out) *out = res;
    else PQclear(res);
    return FN_OK;
}

/* Several statements in one string (no parameters: PQexec's simple protocol). */
static fn_status q_script(fn_store *s, const char *sql, const char *what) {
    if (conn_lost(s)) return pg_fail(s, NULL, what);
    PGresult *res = PQexec(s->conn, sql);
    fn_status r = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK
                ? FN_OK : pg_fail(s, res, what);
    PQclear(res);
    return r;
}

/* One int64 from a one-row result (0 when NULL). */
static fn_status q_i64(fn_store *s, const char *sql, const pg_params *p, int64_t *v, int *found, const char *what) {
    PGresult *res;
    FN_TRY(q(s, sql, p, &res, what));
    if (found) *found = PQntuples(res) > 0;
    *v = PQntuples(res) > 0 ? r_i64(res, 0, 0) : 0;
    PQclear(res);
    return FN_OK;
}

static void set_where(fn_store *s) {
    const char *host = PQhost(s->conn), *port = PQport(s->conn), *db = PQdb(s->conn), *user = PQuser(s->conn);
    snprintf(s->where, sizeof s->where, "%s@%s%s%s/%s", user ? user : "", host && *host != '/' ? host : "",
             port && host && *host != '/' ? ":" : "", port && host && *host != '/' ? port : "", db ? db : "");
}

static void ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }

/* (Re)connects and LISTENs on the collection's channel. Our defaults come before the uri, so
 * the uri's own settings win (libpq: later keywords override earlier ones). */
static fn_status pg_connect(fn_store *s) {
    if (s->conn) PQfinish(s->conn);
    s->listening = 0;
    s->enroll_prepared = 0;
    static const char *const keys[] = { "application_name", "connect_timeout", "client_encoding",
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "dbname", NULL };
    const char *vals[] = { "facenet", "10", "UTF8", "1", "10", "5", "3", s->uri, NULL };
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (!s->conn) return fn_fail(FN_ERR_NOMEM, "postgresql: out of memory");
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char buf[400];
        /* The message names host and user, never the password. */
        return fn_fail(FN_ERR_IO, "postgresql: cannot connect: %s", trimmed(PQerrorMessage(s->conn), buf, sizeof buf));
    }
    set_where(s);
    /* The library never prints: libpq's default notice processor writes to stderr. */
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
    FN_TRY(q(s, "SET client_min_messages = warning", NULL, NULL, "configure"));
    if (s->coll.id > 0) {
        char sql[80];
        snprintf(sql, sizeof sql, "LISTEN %s", s->channel);
        FN_TRY(q(s, sql, NULL, NULL, "listen"));
        s->listening = 1;
    }
    s->need_poll = 1; /* notifications sent while we were away are lost: ask */
    return FN_OK;
}

static fn_status ensure_connected(fn_store *s) {
    return conn_lost(s) ? pg_connect(s) : FN_OK;
}

/* Reads pending notifications without blocking; our channel's payload is a seq. */
static void drain_notifications(fn_store *s) {
    if (conn_lost(s) || !PQconsumeInput(s->conn)) return;
    PGnotify *n;
    while ((n = PQnotifies(s->conn))) {
        if (!strcmp(n->relname, s->channel) && n->extra) {
            long long v = strtoll(n->extra, NULL, 10);
            if (v > s->known_seq) s->known_seq = v;
        }
        PQfreemem(n);
    }
}

/* ---------------------------------------------------------------- transactions */
/* Ends a failed transaction without touching the error already recorded. */
static void rollback_quiet(fn_store *s) {
    if (!conn_lost(s)) PQclear(PQexec(s->conn, "ROLLBACK"));
}

typedef fn_status (*txn_body)(fn_store *s, void *ctx);

/* The statement that prunes the collection's log inside a write (our own integers only):
 * rows older than the last s->keep seqs go, pruned_seq records the newest of them. */
static void prune_sql(const fn_store *s, char *sql, size_t cap) {
    long long id = (long long)s->coll.id;
    snprintf(sql, cap, "WITH d AS (DELETE FROM changes WHERE collection_id=%lld AND seq<=(SELECT max(seq) FROM changes"
             " WHERE collection_id=%lld)-%lld RETURNING seq) UPDATE collections SET pruned_seq=GREATEST(pruned_seq,"
             " (SELECT max(seq) FROM d)) WHERE id=%lld AND EXISTS(SELECT 1 FROM d)", id, id, (long long)s->keep, id);
}

/* Runs body in one write transaction that holds the collection's row lock (writers of one
 * collection take turns, so seq grows in commit order) and NOTIFYs the collection's channel
 * when body logged changes. Retried once on a new connection when the old one died before
 * COMMIT was sent. */
static fn_status write_txn(fn_store *s, txn_body body, void *ctx, const char *what) {
    if (s->read_only) return fn_fail(FN_ERR_ARG, "postgresql %s: %s: the gallery is open read-only", s->where, what);
    drain_notifications(s); /* notices a connection the server closed since */
    for (int attempt = 0;; attempt++) {
        FN_TRY(ensure_connected(s));
        s->txn_seq = 0;
        /* Our own integers only in these strings: BEGIN + lock in one round trip. */
        char sql[640];
        snprintf(sql, sizeof sql, "BEGIN; SELECT id FROM collections WHERE id=%lld FOR UPDATE", (long long)s->coll.id);
        PGresult *res = PQexec(s->conn, sql);
        fn_status r = PQresultStatus(res) == PGRES_TUPLES_OK ? FN_OK : pg_fail(s, res, "begin transaction");
        if (r == FN_OK && PQntuples(res) == 0)
            r = fn_fail(FN_ERR_MISSING, "postgresql %s: collection %lld no longer exists", s->where, (long long)s->coll.id);
        PQclear(res);
        if (r == FN_OK) r = body(s, ctx);
        if (r == FN_OK) {
            /* prune + NOTIFY + COMMIT in one round trip: the notification leaves at commit, or never. */
            if (s->txn_seq > 0) {
                char prune[400];
                prune_sql(s, prune, sizeof prune);
                snprintf(sql, sizeof sql, "%s; SELECT pg_notify('%s', '%lld'); COMMIT", prune, s->channel,
                         (long long)s->txn_seq);
            } else {
                snprintf(sql, sizeof sql, "COMMIT");
            }
            r = q_script(s, sql, "commit");
            if (r != FN_OK && conn_lost(s))
                return fn_fail(FN_ERR_IO, "postgresql %s: %s: connection lost during COMMIT (the write may or may "
                               "not have been applied)", s->where, what);
            if (r == FN_OK && s->txn_seq > s->known_seq) s->known_seq = s->txn_seq;
            if (r != FN_OK) rollback_quiet(s);
            return r;
        }
        rollback_quiet(s);
        if (!conn_lost(s) || attempt > 0) return r;
        /* The connection died before COMMIT: nothing of this write exists; once more. */
    }
}

/* Runs body — in one read-only snapshot when it reads with several statements that must
 * agree (snapshot), else as it is (one statement is its own snapshot) — retried once on a
 * fresh connection when the old one turns out dead. */
static fn_status read_txn(fn_store *s, txn_body body, void *ctx, int snapshot) {
    drain_notifications(s);
    for (int attempt = 0;; attempt++) {
        FN_TRY(ensure_connected(s));
        fn_status r = snapshot ? q(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, NULL, "begin transaction")
                               : FN_OK;
        if (r == FN_OK) r = body(s, ctx);
        if (r == FN_OK && snapshot) r = q(s, "COMMIT", NULL, NULL, "commit");
        if (r == FN_OK) return FN_OK;
        if (snapshot) rollback_quiet(s);
        if (!conn_lost(s) || attempt > 0) return r;
    }
}

/* Notes the largest seq of a "SELECT count, max(seq)"-shaped result row. */
static void note_seq(fn_store *s, int64_t seq) {
    if (seq > s->txn_seq) s->txn_seq = seq;
}

/* ---------------------------------------------------------------- open / close */
static void pg_close(fn_store *s) {
    if (!s) return;
    if (s->conn) PQfinish(s->conn);
    free(s->uri);
    free(s);
}

/* Creates the tables (in the search_path's first schema, created when missing) unless they
 * exist; tells a gallery from a database that holds something else. */
static fn_status open_schema(fn_store *s, const fn_store_open_args *a) {
    PGresult *res;
    FN_TRY(q(s, "SELECT to_regclass('fn_gallery') IS NOT NULL, to_regclass('faces') IS NOT NULL"
                " OR to_regclass('collections') IS NOT NULL, current_schema() IS NOT NULL,"
                " btrim(split_part(current_setting('search_path'), ',', 1), ' \"')", NULL, &res, "read schema"));
    int have = PQgetvalue(res, 0, 0)[0], other = PQgetvalue(res, 0, 1)[0], have_schema = PQgetvalue(res, 0, 2)[0];
    char first[128];
    snprintf(first, sizeof first, "%s", r_text(res, 0, 3) ? r_text(res, 0, 3) : "");
    PQclear(res);
    if (!have) {
        if (other) return fn_fail(FN_ERR_FORMAT, "postgresql %s: holds tables named like a gallery's but is not a "
                                  "facenet gallery (use another database or schema)", s->where);
        if (!a->create || a->read_only)
            return fn_fail(FN_ERR_MISSING, "postgresql %s: no gallery in this database (enrol to create one)", s->where);
        fn_status r = q(s, "BEGIN", NULL, NULL, "begin transaction");
        /* Two nodes starting together must not both run CREATE TABLE IF NOT EXISTS (it races). */
        if (r == FN_OK) r = q(s, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", NULL, NULL, "lock schema");
        if (r == FN_OK && !have_schema && *first && strcmp(first, "$user")) {
            char *id = PQescapeIdentifier(s->conn, first, strlen(first));
            char sql[300];
            snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", id ? id : "\"\"");
            PQfreemem(id);
            r = q(s, sql, NULL, NULL, "create schema");
        }
        if (r == FN_OK) r = q_script(s, SCHEMA, "create tables");
        if (r == FN_OK) r = q(s, "INSERT INTO fn_gallery VALUES('format', 'facenet-gallery'), ('version', '"
                                 SCHEMA_VERSION "') ON CONFLICT DO NOTHING", NULL, NULL, "create tables");
        if (r == FN_OK) r = q(s, "COMMIT", NULL, NULL, "commit");
        if (r != FN_OK) { rollback_quiet(s); return r; }
    }
    FN_TRY(q(s, "SELECT (SELECT value FROM fn_gallery WHERE key='format'),"
                " (SELECT value FROM fn_gallery WHERE key='version'),"
                " (SELECT value FROM fn_gallery WHERE key='changes_keep'),"
                " EXISTS(SELECT 1 FROM pg_attribute WHERE attrelid='collections'::regclass AND attname='pruned_seq'"
                " AND NOT attisdropped)", NULL, &res, "read format"));
    const char *fmt = r_text(res, 0, 0), *ver = r_text(res, 0, 1), *keep = r_text(res, 0, 2);
    int has_pruned = PQgetvalue(res, 0, 3)[0];
    char *end = NULL;
    s->keep = keep ? strtoll(keep, &end, 10) : CHANGES_KEEP;
    fn_status r = FN_OK;
    if (!fmt || strcmp(fmt, "facenet-gallery")) r = fn_fail(FN_ERR_FORMAT, "postgresql %s: not a facenet gallery", s->where);
    else if (!ver || strcmp(ver, SCHEMA_VERSION))
        r = fn_fail(FN_ERR_UNSUPPORTED, "postgresql %s: gallery format version %s (this build reads " SCHEMA_VERSION ")",
                    s->where, ver ? ver : "?");
    else if (keep && (end == keep || *end || s->keep < 1))
        r = fn_fail(FN_ERR_FORMAT, "postgresql %s: fn_gallery changes_keep is '%.40s', not a whole number >= 1",
                    s->where, keep);
    PQclear(res);
    if (r != FN_OK || has_pruned) return r;
    /* Made before the log was pruned: add the column once (under the schema lock). */
    if (a->read_only)
        return fn_fail(FN_ERR_UNSUPPORTED, "postgresql %s: the gallery was made by an older facenet: open it once "
                       "writable (e.g. enrol) to upgrade it", s->where);
    r = q(s, "BEGIN", NULL, NULL, "begin transaction");
    if (r == FN_OK) r = q(s, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", NULL, NULL, "lock schema");
    if (r == FN_OK) r = q(s, "ALTER TABLE collections ADD COLUMN IF NOT EXISTS pruned_seq bigint NOT NULL DEFAULT 0",
                          NULL, NULL, "upgrade tables");
    if (r == FN_OK) r = q(s, "COMMIT", NULL, NULL, "commit");
    if (r != FN_OK) rollback_quiet(s);
    return r;
}

static fn_status read_collection(fn_store *s, const char *name, int *found) {
    pg_params p = { 0 };
    p_text(&p, name);
    PGresult *res;
    FN_TRY(q(s, "SELECT id, model_id, dim, calib_threshold, calib_slope FROM collections WHERE name=$1", &p, &res,
             "read collections"));
    *found = PQntuples(res) > 0;
    if (*found) {
        s->coll.id = r_i64(res, 0, 0);
        snprintf(s->coll.model_id, sizeof s->coll.model_id, "%s", r_text(res, 0, 1) ? r_text(res, 0, 1) : "");
        s->coll.dim = r_i32(res, 0, 2);
        s->coll.calib.threshold = (float)r_f64(res, 0, 3);
        s->coll.calib.slope = (float)r_f64(res, 0, 4);
    }
    PQclear(res);
    return FN_OK;
}

/* Reads (or, creating, inserts) the collection row; checks model and dimension. */
static fn_status open_collection(fn_store *s, const fn_store_open_args *a) {
    int found;
    FN_TRY(read_collection(s, a->collection, &found));
    if (!found) {
        if (!a->create || a->read_only)
            return fn_fail(FN_ERR_MISSING, "postgresql %s: no collection '%s'", s->where, a->collection);
        if (!a->model_id || !*a->model_id || a->dim <= 0)
            return fn_fail(FN_ERR_ARG, "postgresql %s: creating collection '%s' needs a model id and dimension",
                           s->where, a->collection);
        pg_params p = { 0 };
        p_text(&p, a->collection);
        p_text(&p, a->model_id);
        p_i32(&p, a->dim);
        p_f64(&p, a->calib.threshold);
        p_f64(&p, a->calib.slope);
        p_f64(&p, fn_store_now());
        /* Another node may create it at the same moment: then theirs is the one. */
        FN_TRY(q(s, "INSERT INTO collections(name, model_id, dim, calib_threshold, calib_slope, created)"
                    " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING", &p, NULL, "create collection"));
        FN_TRY(read_collection(s, a->collection, &found));
        if (!found) return fn_fail(FN_ERR_IO, "postgresql %s: collection '%s' vanished while created", s->where, a->collection);
    }
    if (a->model_id && *a->model_id && strcmp(a->model_id, s->coll.model_id))
        return fn_fail(FN_ERR_MISMATCH, "postgresql %s: collection '%s' was built with model %s, not %s "
                       "(embeddings of different models cannot be compared)",
                       s->where, a->collection, s->coll.model_id, a->model_id);
    if (a->dim > 0 && a->dim != s->coll.dim)
        return fn_fail(FN_ERR_MISMATCH, "postgresql %s: collection '%s' holds %d-d embeddings, not %d-d",
                       s->where, a->collection, s->coll.dim, a->dim);
    if (s->coll.dim <= 0 || s->coll.dim > 65536)
        return fn_fail(FN_ERR_FORMAT, "postgresql %s: collection '%s' has a bad dimension %d", s->where, a->collection,
                       s->coll.dim);
    return FN_OK;
}

static fn_status pg_open(const char *uri, const fn_store_open_args *a, fn_store **out, fn_store_collection *coll) {
    *out = NULL;
    fn_store *s = calloc(1, sizeof *s);
    if (!s || !(s->uri = strdup(uri))) { free(s); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    s->read_only = a->read_only;
    fn_status r = pg_connect(s);
    if (r == FN_OK) r = open_schema(s, a);
    if (r == FN_OK) r = open_collection(s, a);
    if (r == FN_OK) {
        snprintf(s->channel, sizeof s->channel, "fn_gallery_%lld", (long long)s->coll.id);
        char sql[80];
        snprintf(sql, sizeof sql, "LISTEN %s", s->channel);
        r = q(s, sql, NULL, NULL, "listen");
        s->listening = r == FN_OK;
    }
    if (r == FN_OK && s->read_only) r = q(s, "SET default_transaction_read_only = on", NULL, NULL, "configure");
    if (r != FN_OK) { pg_close(s); return r; }
    *coll = s->coll;
    *out = s;
    return FN_OK;
}

/* ---------------------------------------------------------------- writes */
/* One face per statement: the subject (created when new), the duplicate check against the
 * subject's faces (earlier statements of this transaction included), the face, its photo and
 * its change row. Returns (new face id | NULL, duplicate's id | NULL, seq | NULL). */
static const char *ENROLL_SQL =
    "WITH ns AS (INSERT INTO subjects(collection_id, name, created) VALUES($1, $2, $3)"
    "   ON CONFLICT (collection_id, name) DO NOTHING RETURNING id),"
    " s AS (SELECT id FROM ns UNION ALL SELECT id FROM subjects WHERE collection_id=$1 AND name=$2),"
    " d AS (SELECT f.id FROM faces f WHERE f.subject_id=(SELECT id FROM s LIMIT 1) AND f.source_sha256=$4"
    "   ORDER BY f.id LIMIT 1),"
    " ins AS (INSERT INTO faces(collection_id, subject_id, embedding, model_id, source, source_sha256, box,"
    "   landmarks, score, created) SELECT $1, (SELECT id FROM s LIMIT 1), $5, $6, $7, $4, $8, $9, $10, $3"
    "   WHERE NOT EXISTS (SELECT 1 FROM d) RETURNING id),"
    " im AS (INSERT INTO face_images(face_id, data) SELECT id, $11 FROM ins WHERE $11 IS NOT NULL),"
    " ch AS (INSERT INTO changes(collection_id, op, face_id, subject_id)"
    "   SELECT $1, 1, id, (SELECT id FROM s LIMIT 1) FROM ins RETURNING seq)"
    " SELECT (SELECT id FROM ins), (SELECT id FROM d), (SELECT seq FROM ch)";

/* Sends one face's ENROLL statement (inside the pipeline). */
static int send_face(fn_store *s, const fn_gallery_face *f, double created) {
    pg_params p = { 0 };
    p_i64(&p, s->coll.id);
    p_text(&p, f->subject);
    p_f64(&p, created);
    p_text(&p, f->source_sha256 && *f->source_sha256 ? f->source_sha256 : NULL);
    p_bytea(&p, f->embedding, sizeof(float) * (size_t)s->coll.dim);
    p_text(&p, s->coll.model_id);
    p_text(&p, f->source);
    p_bytea(&p, f->box, sizeof f->box);
    p_bytea(&p, f->landmarks, sizeof f->landmarks);
    p_f32(&p, f->score);
    p_bytea(&p, f->image && f->image_size ? f->image : NULL, f->image ? f->image_size : 0);
    return PQsendQueryPrepared(s->conn, "fn_enroll", p.n, p.values, p.lengths, p.formats, 1);
}

/* Two round trips however many faces: BEGIN + lock (retried on a fresh connection when the
 * old one turns out dead), then every face, NOTIFY and COMMIT as one pipeline. */
static fn_status pg_enroll(fn_store *s, const fn_gallery_face *faces, int n, double created, int64_t *ids, uint8_t *dup) {
    if (s->read_only) return fn_fail(FN_ERR_ARG, "postgresql %s: add faces: the gallery is open read-only", s->where);
    for (int i = 0; i < n; i++)
        if (faces[i].image && faces[i].image_size > (size_t)INT32_MAX)
            return fn_fail(FN_ERR_LIMIT, "gallery: photo of %zu bytes", faces[i].image_size);
    drain_notifications(s); /* notices a connection the server closed since */
    /* First round trip: prepare (once per connection), BEGIN and the collection lock. A
     * connection found dead here has committed nothing: reconnect and go again, once. */
    fn_status r = FN_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((r = ensure_connected(s)) != FN_OK) return r;
        if (!s->enroll_prepared) {
            /* The server parses and plans it once per connection, not per face. */
            static const Oid types[11] = { OID_INT8, OID_TEXT, OID_FLOAT8, OID_TEXT, OID_BYTEA, OID_TEXT, OID_TEXT,
                                           OID_BYTEA, OID_BYTEA, OID_FLOAT4, OID_BYTEA };
            PGresult *res = PQprepare(s->conn, "fn_enroll", ENROLL_SQL, 11, types);
            r = PQresultStatus(res) == PGRES_COMMAND_OK ? FN_OK : pg_fail(s, res, "prepare");
            PQclear(res);
            s->enroll_prepared = r == FN_OK;
        }
        if (r == FN_OK) {
            char sql[160];
            snprintf(sql, sizeof sql, "BEGIN; SELECT id FROM collections WHERE id=%lld FOR UPDATE", (long long)s->coll.id);
            PGresult *res = PQexec(s->conn, sql);
            r = PQresultStatus(res) == PGRES_TUPLES_OK ? FN_OK : pg_fail(s, res, "begin transaction");
            if (r == FN_OK && PQntuples(res) == 0)
                r = fn_fail(FN_ERR_MISSING, "postgresql %s: collection %lld no longer exists", s->where, (long long)s->coll.id);
            PQclear(res);
        }
        if (r == FN_OK) break;
        rollback_quiet(s);
        if (!conn_lost(s)) return r;
    }
    if (r != FN_OK) return r;
    /* Second round trip: one prepared statement per face, pruning, NOTIFY and COMMIT as one pipeline
     * (the server runs them in order and skips the rest after an error). */
    if (!PQenterPipelineMode(s->conn)) { r = pg_fail(s, NULL, "enter pipeline mode"); rollback_quiet(s); return r; }
    pg_params notify = { 0 };
    p_text(&notify, s->channel);
    p_i64(&notify, s->coll.id);
    char prune[400];
    prune_sql(s, prune, sizeof prune);
    int sent = 1;
    for (int i = 0; i < n && sent; i++) sent = send_face(s, &faces[i], created);
    sent = sent && PQsendQueryParams(s->conn, prune, 0, NULL, NULL, NULL, NULL, 1);
    sent = sent && PQsendQueryParams(s->conn, "SELECT pg_notify($1, max(seq)::text) FROM changes WHERE collection_id=$2",
                                     notify.n, notify.types, notify.values, notify.lengths, notify.formats, 1);
    sent = sent && PQsendQueryParams(s->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 1);
    sent = PQpipelineSync(s->conn) && sent;
    if (!sent) r = pg_fail(s, NULL, "add faces");
    int committed = 0, failed_before_commit = 0;
    int64_t txn_seq = 0;
    /* Answers in order: n faces, prune, notify, COMMIT; then the sync. */
    for (int k = 0; sent && k < n + 3 && !conn_lost(s); k++) {
        PGresult *res = PQgetResult(s->conn);
        if (!res) break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_FATAL_ERROR) {
            if (r == FN_OK) r = pg_fail(s, res, k < n ? "add face" : k == n ? "prune change log" : k == n + 1 ? "notify" : "commit");
            failed_before_commit = k <= n + 1;
        } else if (k < n && st == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            dup[k] = r_null(res, 0, 0);
            ids[k] = dup[k] ? r_i64(res, 0, 1) : r_i64(res, 0, 0);
            if (!r_null(res, 0, 2) && r_i64(res, 0, 2) > txn_seq) txn_seq = r_i64(res, 0, 2);
        } else if (k == n + 2 && st == PGRES_COMMAND_OK) {
            committed = r == FN_OK;
        }
        PQclear(res);
        while ((res = PQgetResult(s->conn))) PQclear(res); /* the NULL that ends each answer */
    }
    for (PGresult *res; !conn_lost(s) && (res = PQgetResult(s->conn));) {
        int sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (sync) break;
    }
    if (!conn_lost(s)) PQexitPipelineMode(s->conn);
    if (committed) {
        if (txn_seq > s->known_seq) s->known_seq = txn_seq;
        return FN_OK;
    }
    if (conn_lost(s) && !failed_before_commit)
        return fn_fail(FN_ERR_IO, "postgresql %s: add faces: connection lost before COMMIT was answered (the faces may "
                       "or may not have been added)", s->where);
    rollback_quiet(s); /* an error aborted the transaction: end it */
    return r != FN_OK ? r : fn_fail(FN_ERR_IO, "postgresql %s: add faces: no answer to COMMIT", s->where);
}

typedef struct {
    const char *name, *name2;
    double created;
    int64_t face_id;
    int n;
} names_ctx;

static fn_status add_subject_body(fn_store *s, void *vctx) {
    names_ctx *c = vctx;
    pg_params p = { 0 };
    p_i64(&p, s->coll.id);
    p_text(&p, c->name);
    p_f64(&p, c->created);
    PGresult *res;
    FN_TRY(q(s, "INSERT INTO subjects(collection_id, name, created) VALUES($1, $2, $3)"
                " ON CONFLICT (collection_id, name) DO NOTHING RETURNING id", &p, &res, "add subject"));
    c->n = PQntuples(res);
    PQclear(res);
    return FN_OK;
}

static fn_status pg_add_subject(fn_store *s, const char *name, double created, int *was_created) {
    names_ctx c = { .name = name, .created = created };
    FN_TRY(write_txn(s, add_subject_body, &c, "add subject"));
    if (was_created) *was_created = c.n;
    return FN_OK;
}

static fn_status subject_id(fn_store *s, const char *name, int64_t *id, int *found) {
    pg_params p = { 0 };
    p_i64(&p, s->coll.id);
    p_text(&p, name);
    return q_i64(s, "SELECT id FROM subjects WHERE collection_id=$1 AND name=$2", &p, id, found, "find subject");
}

static fn_status subject_id_or_missing(fn_store *s, const char *name, int64_t *id) {
    int found;
    FN_TRY(subject_id(s, name, id, &found));
    return found ? FN_OK : fn_fail(FN_ERR_MISSING, "gallery: no subject '%s'", name);
}

/* Runs sql with int8 parameters $1..$n_args; a result row (count, max seq) notes the seq and
 * adds to *n (may be NULL). */
static fn_status run(fn_store *s, const char *sql, int n_args, int64_t a, int64_t b, int64_t c, int *n,
                     const char *what) {
    pg_params p = { 0 };
    const int64_t v[3] = { a, b, c };
    for (int k = 0; k < n_args; k++) p_i64(&p, v[k]);
    PGresult *res;
    FN_TRY(q(s, sql, &p, &res, what));
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 2) {
        if (n) *n += (int)r_i64(res, 0, 0);
        note_seq(s, r_i64(res, 0, 1));
    } else if (n && PQresultStatus(res) == PGRES_COMMAND_OK) {
        *n += atoi(PQcmdTuples(res));
    }
    PQclear(res);
    return FN_OK;
}

/* Logs op for every face of subject $1 (before they move or go): (count, max seq). */
#define LOG_SUBJECT_FACES \
    "WITH c AS (INSERT INTO changes(collection_id, op, face_id, subject_id)" \
    " SELECT collection_id, $2, id, NULLIF($3, 0) FROM faces WHERE subject_id=$1 ORDER BY id RETURNING seq)" \
    " SELECT count(*), max(seq) FROM c"
#define LOG_ONE \
    "WITH c AS (INSERT INTO changes(collection_id, op, face_id, subject_id)" \
    " VALUES($1, $2, NULLIF($3, 0), NULLIF($4, 0)) RETURNING seq) SELECT count(*), max(seq) FROM c"

static fn_status log_one(fn_store *s, fn_change_op op, int64_t face_id, int64_t subject_id) {
    pg_params p = { 0 };
    p_i64(&p, s->coll.id);
    p_i64(&p, op);
    p_i64(&p, face_id);
    p_i64(&p, subject_id);
    PGresult *res;
    FN_TRY(q(s, LOG_ONE, &p, &res, "log change"));
    note_seq(s, r_i64(res, 0, 1));
    PQclear(res);
    return FN_OK;
}

static fn_status rename_body(fn_store *s, void *vctx) {
    names_ctx *c = vctx;
    int64_t old_id, new_id;
    int found;
    FN_TRY(subject_id_or_missing(s, c->name, &old_id));
    if (!strcmp(c->name, c->name2)) return FN_OK;
    FN_TRY(subject_id(s, c->name2, &new_id, &found));
    if (found) { /* merge into the existing subject */
        FN_TRY(run(s, LOG_SUBJECT_FACES, 3, old_id, FN_CHANGE_FACE_MOVED, new_id, NULL, "log changes"));
        FN_TRY(run(s, "UPDATE faces SET subject_id=$2 WHERE subject_id=$1", 2, old_id, new_id, 0, NULL, "move faces"));
        return run(s, "DELETE FROM subjects WHERE id=$1", 1, old_id, 0, 0, NULL, "remove subject");
    }
    pg_params p = { 0 };
    p_i64(&p, old_id);
    p_text(&p, c->name2);
    FN_TRY(q(s, "UPDATE subjects SET name=$2 WHERE id=$1", &p, NULL, "rename subject"));
    return log_one(s, FN_CHANGE_SUBJECT_RENAMED, 0, old_id);
}

static fn_status pg_rename_subject(fn_store *s, const char *old_name, const char *new_name) {
    names_ctx c = { .name = old_name, .name2 = new_name };
    return write_txn(s, rename_body, &c, "rename subject");
}

static fn_status remove_subject_body(fn_store *s, void *vctx) {
    names_ctx *c = vctx;
    int64_t sid;
    c->n = 0;
    FN_TRY(subject_id_or_missing(s, c->name, &sid));
    FN_TRY(run(s, LOG_SUBJECT_FACES, 3, sid, FN_CHANGE_FACE_REMOVED, 0, &c->n, "log changes"));
    FN_TRY(run(s, "DELETE FROM face_images WHERE face_id IN (SELECT id FROM faces WHERE subject_id=$1)", 1, sid, 0, 0,
               NULL, "remove photos"));
    FN_TRY(run(s, "DELETE FROM faces WHERE subject_id=$1", 1, sid, 0, 0, NULL, "remove faces"));
    return run(s, "DELETE FROM subjects WHERE id=$1", 1, sid, 0, 0, NULL, "remove subject");
}

static fn_status pg_remove_subject(fn_store *s, const char *name, int *n_faces) {
    names_ctx c = { .name = name };
    FN_TRY(write_txn(s, remove_subject_body, &c, "remove subject"));
    if (n_faces) *n_faces = c.n;
    return FN_OK;
}

static fn_status remove_face_body(fn_store *s, void *vctx) {
    names_ctx *c = vctx;
    int n = 0;
    FN_TRY(run(s, "DELETE FROM face_images WHERE face_id=$1", 1, c->face_id, 0, 0, NULL, "remove photo"));
    FN_TRY(run(s, "DELETE FROM faces WHERE id=$1 AND collection_id=$2", 2, c->face_id, s->coll.id, 0, &n, "remove face"));
    if (n == 0) return fn_fail(FN_ERR_MISSING, "gallery: no face %lld", (long long)c->face_id);
    return log_one(s, FN_CHANGE_FACE_REMOVED, c->face_id, 0);
}

static fn_status pg_remove_face(fn_store *s, int64_t face_id) {
    names_ctx c = { .face_id = face_id };
    return write_txn(s, remove_face_body, &c, "remove face");
}

static fn_status remove_all_body(fn_store *s, void *vctx) {
    names_ctx *c = vctx;
    c->n = 0;
    FN_TRY(run(s, "DELETE FROM face_images WHERE face_id IN (SELECT id FROM faces WHERE collection_id=$1)", 1,
               s->coll.id, 0, 0, NULL, "remove photos"));
    FN_TRY(run(s, "DELETE FROM faces WHERE collection_id=$1", 1, s->coll.id, 0, 0, &c->n, "remove faces"));
    FN_TRY(run(s, "DELETE FROM subjects WHERE collection_id=$1", 1, s->coll.id, 0, 0, NULL, "remove subjects"));
    return log_one(s, FN_CHANGE_RESET, 0, 0);
}

static fn_status pg_remove_all(fn_store *s, int *n_faces) {
    names_ctx c = { 0 };
    FN_TRY(write_txn(s, remove_all_body, &c, "remove all"));
    if (n_faces) *n_faces = c.n;
    return FN_OK;
}

/* ---------------------------------------------------------------- reads */
typedef struct {
    fn_gallery_subject *v;
    int n;
} subjects_ctx;

static fn_status list_subjects_body(fn_store *s, void *vctx) {
    subjects_ctx *c = vctx;
    pg_params p = { 0 };
    p_i64(&p, s->coll.id);
    PGresult *res;
    /* COLLATE "C": byte order, whatever the database's locale. */
    FN_TRY(q(s, "SELECT s.name, (SELECT count(*) FROM faces f WHERE f.subject_id=s.id)"
                " FROM subjects s WHERE s.collection_id=$1 ORDER BY s.name COLLATE \"C\"", &p, &res, "list subjects"));
    int n = PQntuples(res);
    free(c->v);
    c->v = malloc(sizeof *c->v * (size_t)(n ? n : 1));
    if (!c->v) { PQclear(res); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < n; i++) {
        snprintf(c->v[i].name, sizeof c->v[i].name, "%s", r_text(res, i, 0));
        c->v[i].n_faces = (int)r_i64(res, i, 1);
    }
    c->n = n;
    PQclear(res);
    return FN_OK;
}

static fn_status pg_list_subjects(fn_store *s, fn_gallery_subject **out, int *n) {
    *out = NULL; *n = 0;
    subjects_ctx c = { 0 };
    fn_status r = read_txn(s, list_subjects_body, &c, 0);
    if (r != FN_OK) { free(c.v); return r; }
    *out = c.v; *n = c.n;
    return FN_OK;
}

#define FACE_COLUMNS "f.id, s.name, f.source, f.source_sha256, f.box, f.landmarks, f.score, f.created," \
                     " EXISTS(SELECT 1 FROM face_images i WHERE i.face_id=f.id), f.embedding"

static fn_status face_row(fn_store *s, const PGresult *res, int row, fn_gallery_face_info *fi) {
    memset(fi, 0, sizeof *fi);
    fi->id = r_i64(res, row, 0);
    const char *t;
    if ((t = r_text(res, row, 1))) snprintf(fi->subject, sizeof fi->subject, "%s", t);
    if ((t = r_text(res, row, 2))) snprintf(fi->source, sizeof fi->source, "%s", t);
    if ((t = r_text(res, row, 3))) snprintf(fi->source_sha256, sizeof fi->source_sha256, "%s", t);
    if (PQgetlength(res, row, 4) != (int)sizeof fi->box || PQgetlength(res, row, 5) != (int)sizeof fi->landmarks)
        return fn_fail(FN_ERR_FORMAT, "postgresql %s: face %lld: bad box / landmarks (corrupt)", s->where, (long long)fi->id);
    memcpy(fi->box, PQgetvalue(res, row, 4), sizeof fi->box);
    memcpy(fi->landmarks, PQgetvalue(res, row, 5), sizeof fi->landmarks);
    fi->score = r_f32(res, row, 6);
    fi->created = r_f64(res, row, 7);
    fi->has_image = PQgetvalue(res, row, 8)[0] != 0;
    return FN_OK;
}

typedef struct {
    const char *subject;
    int offset, limit;
    fn_gallery_face_info *v;
    int n, total;
} faces_ctx;

static fn_status list_faces_body(fn_store *s, void *vctx) {
    faces_ctx *c = vctx;
    int64_t sid = 0;
    if (c->subject) FN_TRY(subject_id_or_missing(s, c->subject, &sid));
    pg_params p = { 0 };
    p_i64(&p, c->subject ? sid : s->coll.id);
    int64_t total;
    FN_TRY(q_i64(s, c->subject ? "SELECT count(*) FROM faces WHERE subject_id=$1"
                               : "SELECT count(*) FROM faces WHERE collection_id=$1", &p, &total, NULL, "count faces"));
    c->total = (int)total;
    p_i64(&p, c->offset > 0 ? c->offset : 0);
    if (c->limit > 0) p_i64(&p, c->limit);
    else p_raw(&p, OID_INT8, NULL, 0); /* LIMIT NULL: all */
    PGresult *res;
    FN_TRY(q(s, c->subject ? "SELECT " FACE_COLUMNS " FROM faces f JOIN subjects s ON s.id=f.subject_id"
                             " WHERE f.subject_id=$1 ORDER BY f.id OFFSET $2 LIMIT $3"
                           : "SELECT " FACE_COLUMNS " FROM faces f JOIN subjects s ON s.id=f.subject_id"
                             " WHERE f.collection_id=$1 ORDER BY f.id OFFSET $2 LIMIT $3", &p, &res, "list faces"));
    int n = PQntuples(res);
    free(c->v);
    c->v = malloc(sizeof *c->v * (size_t)(n ? n : 1));
    fn_status r = c->v ? FN_OK : fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && r == FN_OK; i++) r = face_row(s, res, i, &c->v[i]);
    c->n = n;
    PQclear(res);
    return r;
}

static fn_status pg_list_faces(fn_store *s, const char *subject, int offset, int limit, fn_gallery_face_info **out,
                               int *n, int *total) {
    *out = NULL; *n = 0;
    faces_ctx c = { .subject = subject, .offset = offset, .limit = limit };
    fn_status r = read_txn(s, list_faces_body, &c, 1);
    if (r != FN_OK) { free(c.v); return r; }
    *out = c.v; *n = c.n;
    if (total) *total = c.total;
    return FN_OK;
}

typedef struct {
    int64_t face_id;
    fn_gallery_face_info info;
    float *embedding;
    int want_image;
    uint8_t *image;
    size_t image_size;
} face_ctx;

static fn_status get_face_read(fn_store *s, void *vctx) {
    face_ctx *c = vctx;
    pg_params p = { 0 };
    p_i64(&p, c->face_id);
    p_i64(&p, s->coll.id);
    PGresult *res;
    FN_TRY(q(s, c->want_image
                ? "SELECT " FACE_COLUMNS ", i.data FROM faces f JOIN subjects s ON s.id=f.subject_id"
                  " LEFT JOIN face_images i ON i.face_id=f.id WHERE f.id=$1 AND f.collection_id=$2"
                : "SELECT " FACE_COLUMNS ", NULL::bytea FROM faces f JOIN subjects s ON s.id=f.subject_id"
                  " WHERE f.id=$1 AND f.collection_id=$2", &p, &res, "read face"));
    fn_status r = FN_OK;
    if (PQntuples(res) == 0) r = fn_fail(FN_ERR_MISSING, "gallery: no face %lld", (long long)c->face_id);
    if (r == FN_OK) r = face_row(s, res, 0, &c->info);
    if (r == FN_OK && c->embedding) {
        if (PQgetlength(res, 0, 9) != (int)sizeof(float) * s->coll.dim)
            r = fn_fail(FN_ERR_FORMAT, "postgresql %s: face %lld: embedding of %d bytes (corrupt)", s->where,
                        (long long)c->face_id, PQgetlength(res, 0, 9));
        else memcpy(c->embedding, PQgetvalue(res, 0, 9), sizeof(float) * s->coll.dim);
    }
    if (r == FN_OK && c->want_image && !r_null(res, 0, 10)) {
        size_t sz = (size_t)PQgetlength(res, 0, 10);
        free(c->image);
        c->image = malloc(sz ? sz : 1);
        if (!c->image) r = fn_fail(FN_ERR_NOMEM, "out of memory");
        else { memcpy(c->image, PQgetvalue(res, 0, 10), sz); c->image_size = sz; }
    }
    PQclear(res);
    return r;
}

static fn_status pg_get_face(fn_store *s, int64_t face_id, fn_gallery_face_info *info, float *embedding,
                             uint8_t **image, size_t *image_size) {
    if (image) *image = NULL;
    if (image_size) *image_size = 0;
    face_ctx c = { .face_id = face_id, .embedding = embedding, .want_image = image != NULL };
    fn_status r = read_txn(s, get_face_read, &c, 0);
    if (r != FN_OK) { free(c.image); return r; }
    if (info) *info = c.info;
    if (image) *image = c.image;
    else free(c.image);
    if (image_size) *image_size = c.image_size;
    return FN_OK;
}

static fn_status pg_count(fn_store *s, int *n_subjects, int *n_faces) {
    *n_subjects = *n_faces = 0;
    for (int attempt = 0;; attempt++) {
        FN_TRY(ensure_connected(s));
        pg_params p = { 0 };
        p_i64(&p, s->coll.id);
        PGresult *res;
        /* One statement: one snapshot. */
        fn_status r = q(s, "SELECT (SELECT count(*) FROM subjects WHERE collection_id=$1),"
                           " (SELECT count(*) FROM faces WHERE collection_id=$1)", &p, &res, "count");
        if (r == FN_OK) {
            *n_subjects = (int)r_i64(res, 0, 0);
            *n_faces = (int)r_i64(res, 0, 1);
            PQclear(res);
            return FN_OK;
        }
        if (!conn_lost(s) || attempt > 0) return r;
    }
}

/* The collection's last seq in the current snapshot (0 when it has no change yet). */
static fn_status collection_seq(fn_store *s, int64_t *seq) {
    pg_params p = { 0 };
    p_i64(&p, s->coll.id);
    return q_i64(s, "SELECT COALESCE(max(seq), 0) FROM changes WHERE collection_id=$1", &p, seq, NULL,
                 "read change log");
}

typedef struct {
    fn_store_change_fn fn;
    void *ctx;
    int64_t after, seq;
    float *emb;              /* aligned copy of the row's embedding */
    long fed;                /* rows handed to fn so far */
} feed_ctx;

/* Feeds result rows (seq, op, face_id, subject_id, subject name, embedding) to fn; *last_key
 * = the last row's key column (for the next page). */
static fn_status feed(fn_store *s, PGresult *res, feed_ctx *c, int key_col, int64_t *last_key) {
    const int bytes = (int)sizeof(float) * s->coll.dim;
    for (int i = 0; i < PQntuples(res); i++) {
        fn_store_change ch = {
            .seq = r_i64(res, i, 0), .op = (fn_change_op)r_i32(res, i, 1),
            .face_id = r_i64(res, i, 2), .subject_id = r_i64(res, i, 3), .subject = r_text(res, i, 4),
        };
        if (!r_null(res, i, 5)) {
            if (PQgetlength(res, i, 5) != bytes)
                return fn_fail(FN_ERR_FORMAT, "postgresql %s: face %lld: embedding of %d bytes, not %d (corrupt)",
                               s->where, (long long)ch.face_id, PQgetlength(res, i, 5), bytes);
            memcpy(c->emb, PQgetvalue(res, i, 5), (size_t)bytes);
            ch.embedding = c->emb;
        }
        *last_key = r_i64(res, i, key_col);
        c->fed++;
        FN_TRY(c->fn(c->ctx, &ch));
    }
    return FN_OK;
}

static fn_status load_body(fn_store *s, void *vctx) {
    feed_ctx *c = vctx;
    /* A retry after a lost connection must not hand the caller the first rows twice. */
    if (c->fed) return fn_fail(FN_ERR_IO, "postgresql %s: connection lost while loading the collection", s->where);
    FN_TRY(collection_seq(s, &c->seq));
    int64_t after = 0;
    for (;;) {
        pg_params p = { 0 };
        p_i64(&p, s->coll.id);
        p_i64(&p, c->seq);
        p_i64(&p, after);
        PGresult *res;
        /* Keyset pages: a million faces never sit in one result. */
        FN_TRY(q(s, "SELECT $2::int8, 1::int4, f.id, f.subject_id, s.name, f.embedding FROM faces f"
                    " JOIN subjects s ON s.id=f.subject_id WHERE f.collection_id=$1 AND f.id>$3"
                    " ORDER BY f.id LIMIT " PAGE_ROWS, &p, &res, "load faces"));
        int n = PQntuples(res);
        fn_status r = feed(s, res, c, 2, &after);
        PQclear(res);
        if (r != FN_OK || n == 0) return r;
    }
}

/* Runs load_body or changes_body from seq `after`; *seq = where the handle now stands. */
static fn_status follow_log(fn_store *s, txn_body body, int snapshot, fn_store_change_fn fn, void *ctx, int64_t after,
                            int64_t *seq) {
    feed_ctx c = { .fn = fn, .ctx = ctx, .after = after, .seq = after, .emb = malloc(sizeof(float) * (size_t)s->coll.dim) };
    if (!c.emb) return fn_fail(FN_ERR_NOMEM, "out of memory");
    fn_status r = read_txn(s, body, &c, snapshot);
    free(c.emb);
    if (r != FN_OK) return r;
    *seq = c.seq;
    if (c.seq > s->known_seq) s->known_seq = c.seq;
    return FN_OK;
}

/* Every face in one snapshot, with the collection's seq of that snapshot. */
static fn_status pg_load(fn_store *s, fn_store_change_fn fn, void *ctx, int64_t *seq) {
    return follow_log(s, load_body, 1, fn, ctx, 0, seq);
}

/* Pages of changes after c->after, each page one statement (its own snapshot). Pages may see
 * different moments, which is sound: rows come in seq order, seq grows in commit order
 * within a collection, and a row's joined face or subject is its latest state (a later row
 * changes it again when it changed). c->seq = the last row's seq (c->after when none). */
static fn_status changes_body(fn_store *s, void *vctx) {
    feed_ctx *c = vctx;
    int64_t after = c->seq; /* a retry after a lost connection goes on from the last page fed */
    for (;;) {
        pg_params p = { 0 };
        p_i64(&p, after);
        p_i64(&p, s->coll.id);
        PGresult *res;
        /* As store_sqlite.c: the face's subject / embedding as they are now (NULL when gone). */
        FN_TRY(q(s, "SELECT c.seq, c.op::int4, c.face_id, COALESCE(f.subject_id, c.subject_id), s.name,"
                    " CASE WHEN c.op=1 THEN f.embedding END FROM changes c"
                    " LEFT JOIN faces f ON f.id=c.face_id"
                    " LEFT JOIN subjects s ON s.id=COALESCE(f.subject_id, c.subject_id)"
                    " WHERE c.collection_id=$2 AND c.seq>$1 ORDER BY c.seq LIMIT " PAGE_ROWS,
                 &p, &res, "read changes"));
        int n = PQntuples(res);
        fn_status r = feed(s, res, c, 0, &after);
        PQclear(res);
        c->seq = after;
        if (r != FN_OK) return r;
        if (n < atoi(PAGE_ROWS)) break;
    }
    /* Rows older than pruned_seq are gone: a reader from before it reloads (see the top). */
    pg_params p = { 0 };
    p_i64(&p, s->coll.id);
    int64_t pruned;
    FN_TRY(q_i64(s, "SELECT pruned_seq FROM collections WHERE id=$1", &p, &pruned, NULL, "read change log"));
    if (pruned <= c->after) return FN_OK;
    fn_store_change reset = { .seq = c->seq, .op = FN_CHANGE_RESET };
    return c->fn(c->ctx, &reset);
}

static fn_status pg_changes(fn_store *s, int64_t after, fn_store_change_fn fn, void *ctx, int64_t *last) {
    return follow_log(s, changes_body, 0, fn, ctx, after, last);
}

/* Called before every search: answers from notifications when it can (no round trip), asks
 * the database after a reconnect and once per POLL_SECONDS. With the server unreachable it
 * answers what it knows, so searches keep serving the gallery in memory, and tries again
 * after a growing pause (a server that does not answer at all — no refusal — stalls the
 * search that tries for up to connect_timeout, 10 s unless the uri says otherwise). */
static fn_status pg_last_seq(fn_store *s, int64_t *seq) {
    double now = fn_now();
    drain_notifications(s);
    if (conn_lost(s) && now >= s->next_reconnect) {
        if (pg_connect(s) == FN_OK) s->reconnect_wait = 0;
        else {
            fn_clear_error();
            s->reconnect_wait = s->reconnect_wait > 0 ? fmin(2 * s->reconnect_wait, RECONNECT_MAX) : RECONNECT_MIN;
            s->next_reconnect = fn_now() + s->reconnect_wait;
        }
    }
    if (!conn_lost(s) && (s->need_poll || now - s->last_poll >= POLL_SECONDS)) {
        int64_t v;
        if (collection_seq(s, &v) == FN_OK) {
            if (v > s->known_seq) s->known_seq = v;
            s->need_poll = 0;
            s->last_poll = now;
        } else {
            fn_clear_error();
        }
    }
    *seq = s->known_seq;
    return FN_OK;
}

static fn_status pg_list_collections(const char *uri, char (**names)[FN_GALLERY_NAME_MAX + 1], int *n) {
    *names = NULL; *n = 0;
    fn_store *s = calloc(1, sizeof *s);
    if (!s || !(s->uri = strdup(uri))) { free(s); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    fn_store_open_args a = { .read_only = 1 };
    PGresult *res = NULL;
    fn_status r = pg_connect(s);
    if (r == FN_OK) r = open_schema(s, &a);
    if (r == FN_OK) r = q(s, "SELECT name FROM collections ORDER BY name COLLATE \"C\"", NULL, &res, "list collections");
    if (r == FN_OK) {
        int k = PQntuples(res);
        if (!(*names = malloc(sizeof **names * (size_t)(k ? k : 1)))) r = fn_fail(FN_ERR_NOMEM, "out of memory");
        for (int i = 0; r == FN_OK && i < k; i++) snprintf((*names)[i], sizeof **names, "%s", PQgetvalue(res, i, 0));
        if (r == FN_OK) *n = k;
    }
    PQclear(res);
    pg_close(s);
    return r;
}

const fn_store_ops fn_store_pg_ops = {
    .name = "postgresql",
    .open = pg_open, .close = pg_close,
    .enroll = pg_enroll, .add_subject = pg_add_subject, .rename_subject = pg_rename_subject,
    .remove_subject = pg_remove_subject, .remove_face = pg_remove_face, .remove_all = pg_remove_all,
    .list_subjects = pg_list_subjects, .list_faces = pg_list_faces, .get_face = pg_get_face,
    .count = pg_count, .load = pg_load, .changes = pg_changes, .last_seq = pg_last_seq,
    .list_collections = pg_list_collections,
};
#else
typedef int fn_store_pg_absent; /* ISO C wants a declaration in every translation unit */
#endif
