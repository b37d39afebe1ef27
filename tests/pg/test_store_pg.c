/* test_store_pg.c — the PostgreSQL gallery store (src/gallery/store_pg.c) against a real
 * server (tests/pg/with_cluster.sh starts a throwaway cluster and passes its URI in
 * FN_TEST_PG_URI). Two handles on one collection stand for two nodes: what one writes the
 * other sees through NOTIFY + the change log; writers racing on one collection never let a
 * follower skip a change; a killed connection and a restarted server are survived with
 * nothing committed lost; bad databases, other models and read-only handles give clear errors. */
#define _GNU_SOURCE
#include "gallery/store.h"
#include "test_util.h"
#include <libpq-fe.h>
#include <pthread.h>
#include <unistd.h>

#define DIM 8
static const char *URI;

static fn_store_open_args args(const char *coll, const char *model, int dim, int create) {
    fn_store_open_args a = { .collection = coll, .model_id = model, .dim = dim, .create = create,
                             .calib = { 1.1f, 10.f } };
    return a;
}

static fn_store *open_ok(const char *coll, int create) {
    fn_store_open_args a = args(coll, "test-model", DIM, create);
    fn_store *s = NULL;
    fn_store_collection c;
    fn_status st = fn_store_pg_ops.open(URI, &a, &s, &c);
    CHECK_MSG(st == FN_OK, "open %s: %s", coll, fn_last_error());
    if (st != FN_OK) { printf("cannot go on\n"); exit(1); }
    return s;
}

/* A deterministic unit-ish embedding for face number k. */
static void emb(int k, float *e) {
    for (int j = 0; j < DIM; j++) e[j] = (float)((k * 31 + j * 7) % 13) / 13.f - 0.5f;
}

static fn_gallery_face face(const char *subject, int k, float *e, const char *sha) {
    emb(k, e);
    fn_gallery_face f = { .subject = subject, .embedding = e, .source = "photo.jpg", .source_sha256 = sha,
                          .box = { 1, 2, 3, 4 }, .score = 0.99f };
    f.landmarks[4][1] = (float)k;
    return f;
}

/* A follower: the face ids and subject names a node would hold in memory. */
#define MAXF 4096
typedef struct {
    int64_t seq;
    int64_t ids[MAXF];
    int64_t subj[MAXF];
    float emb0[MAXF];
    int n;
    int resets, bad_rows;
} follower;

static int find(follower *f, int64_t id) {
    for (int i = 0; i < f->n; i++) if (f->ids[i] == id) return i;
    return -1;
}

static fn_status apply(void *ctx, const fn_store_change *c) {
    follower *f = ctx;
    int i = find(f, c->face_id);
    switch (c->op) {
    case FN_CHANGE_FACE_ADDED:
        if (!c->embedding) break; /* gone since: a later row removes it */
        if (i >= 0) { f->bad_rows++; break; }
        if (f->n == MAXF) return fn_fail(FN_ERR_LIMIT, "test follower full");
        f->ids[f->n] = c->face_id; f->subj[f->n] = c->subject_id; f->emb0[f->n] = c->embedding[0]; f->n++;
        break;
    case FN_CHANGE_FACE_REMOVED:
        if (i >= 0) { f->ids[i] = f->ids[f->n - 1]; f->subj[i] = f->subj[f->n - 1]; f->emb0[i] = f->emb0[f->n - 1]; f->n--; }
        break;
    case FN_CHANGE_FACE_MOVED:
        if (i >= 0) f->subj[i] = c->subject_id;
        break;
    case FN_CHANGE_SUBJECT_RENAMED: break;
    case FN_CHANGE_RESET: f->n = 0; f->resets++; break;
    }
    return FN_OK;
}

/* last_seq, then changes when it moved: what a node does before each search. */
static fn_status follow(fn_store *s, follower *f) {
    int64_t last;
    FN_TRY(fn_store_pg_ops.last_seq(s, &last));
    if (last <= f->seq) return FN_OK;
    return fn_store_pg_ops.changes(s, f->seq, apply, f, &f->seq);
}

/* The follower equals a fresh load of the collection. */
static int same_as_load(fn_store *s, follower *f) {
    static follower fresh;
    memset(&fresh, 0, sizeof fresh);
    if (fn_store_pg_ops.load(s, apply, &fresh, &fresh.seq) != FN_OK) return 0;
    if (fresh.n != f->n) { printf("  follower holds %d faces, the database %d\n", f->n, fresh.n); return 0; }
    for (int i = 0; i < fresh.n; i++) {
        int j = find(f, fresh.ids[i]);
        if (j < 0 || f->subj[j] != fresh.subj[i] || f->emb0[j] != fresh.emb0[i]) {
            printf("  face %lld differs\n", (long long)fresh.ids[i]);
            return 0;
        }
    }
    return 1;
}

/* Waits (up to 2 s) until follow() brings f to n faces; returns the seconds it took or -1. */
static double wait_for(fn_store *s, follower *f, int n) {
    double t0 = fn_now();
    while (fn_now() - t0 < 2.0) {
        if (follow(s, f) != FN_OK) fn_clear_error();
        if (f->n == n) return fn_now() - t0;
        usleep(1000);
    }
    return -1;
}

static void sql(const char *q) {
    PGconn *c = PQconnectdb(URI);
    PGresult *r = PQexec(c, q);
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", q,
              PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static void test_open_errors(void) {
    printf("open: fresh database, wrong model / dimension, missing collection, other tables\n");
    fn_store *s = NULL;
    fn_store_collection c;
    fn_store_open_args a = args("default", "test-model", DIM, 0);
    fn_status st = fn_store_pg_ops.open(URI, &a, &s, &c);
    CHECK_MSG(st == FN_ERR_MISSING, "no gallery yet and !create: %d %s", st, fn_last_error());
    s = open_ok("default", 1);
    fn_store_pg_ops.close(s);
    a = args("default", "other-model", DIM, 1);
    st = fn_store_pg_ops.open(URI, &a, &s, &c);
    printf("  %s\n", fn_last_error());
    CHECK(st == FN_ERR_MISMATCH && strstr(fn_last_error(), "test-model") && strstr(fn_last_error(), "other-model"));
    a = args("default", NULL, DIM + 1, 0);
    CHECK(fn_store_pg_ops.open(URI, &a, &s, &c) == FN_ERR_MISMATCH);
    a = args("nosuch", "test-model", DIM, 0);
    CHECK(fn_store_pg_ops.open(URI, &a, &s, &c) == FN_ERR_MISSING);
    a = args("default", NULL, 0, 0);
    st = fn_store_pg_ops.open(URI, &a, &s, &c);
    CHECK(st == FN_OK && c.dim == DIM && !strcmp(c.model_id, "test-model") && c.calib.threshold == 1.1f);
    if (st == FN_OK) fn_store_pg_ops.close(s);

    /* A schema holding someone else's "faces" table is not a gallery. */
    sql("CREATE SCHEMA other; CREATE TABLE other.faces(x int)");
    char uri[1024];
    snprintf(uri, sizeof uri, "%s&options=-csearch_path%%3Dother", URI);
    a = args("default", "test-model", DIM, 1);
    st = fn_store_pg_ops.open(uri, &a, &s, &c);
    printf("  %s\n", fn_last_error());
    CHECK(st == FN_ERR_FORMAT);
    /* A schema that does not exist yet is created: two galleries in one database. */
    snprintf(uri, sizeof uri, "%s&options=-csearch_path%%3Dsecond", URI);
    st = fn_store_pg_ops.open(uri, &a, &s, &c);
    CHECK_MSG(st == FN_OK, "new schema: %s", fn_last_error());
    if (st == FN_OK) fn_store_pg_ops.close(s);

    a = args("default", "test-model", DIM, 1);
    st = fn_store_pg_ops.open("postgresql://nobody@/nodb?host=/nonexistent", &a, &s, &c);
    printf("  %s\n", fn_last_error());
    CHECK(st == FN_ERR_IO && strstr(fn_last_error(), "cannot connect"));
}

static void test_two_nodes(void) {
    printf("two handles (nodes) on one collection: enrol, duplicates, rename, merge, remove\n");
    fn_store *a = open_ok("default", 0), *b = open_ok("default", 0);
    follower *fb = calloc(1, sizeof *fb);
    CHECK(fn_store_pg_ops.load(b, apply, fb, &fb->seq) == FN_OK && fb->n == 0);

    float e[4][DIM];
    fn_gallery_face f[4] = { face("alice", 1, e[0], "aa"), face("alice", 2, e[1], "aa"), face("bob", 3, e[2], "bb"),
                             face("bob", 4, e[3], NULL) };
    int64_t ids[4];
    uint8_t dup[4];
    fn_status st = fn_store_pg_ops.enroll(a, f, 4, 1000.0, ids, dup);
    CHECK_MSG(st == FN_OK, "enroll: %s", fn_last_error());
    CHECK(!dup[0] && dup[1] && ids[1] == ids[0] && !dup[2] && !dup[3] && ids[2] > ids[0] && ids[3] > ids[2]);
    /* The same photo again, alone: skipped; for another subject: enrolled. */
    fn_gallery_face again[2] = { face("bob", 5, e[0], "bb"), face("carol", 6, e[1], "bb") };
    int64_t ids2[2];
    uint8_t dup2[2];
    CHECK(fn_store_pg_ops.enroll(a, again, 2, 1001.0, ids2, dup2) == FN_OK && dup2[0] && ids2[0] == ids[2] && !dup2[1]);

    double dt = wait_for(b, fb, 4);
    printf("  node B holds A's 4 faces after %.1f ms\n", dt * 1e3);
    CHECK(dt >= 0 && dt < 1.0);
    CHECK(same_as_load(b, fb));

    int ns, nf;
    CHECK(fn_store_pg_ops.count(b, &ns, &nf) == FN_OK && ns == 3 && nf == 4);
    fn_gallery_face_info info;
    float got[DIM];
    uint8_t *img = NULL;
    size_t img_size = 0;
    CHECK(fn_store_pg_ops.get_face(b, ids[3], &info, got, &img, &img_size) == FN_OK);
    CHECK(!strcmp(info.subject, "bob") && info.box[3] == 4 && info.landmarks[4][1] == 4 && info.score == 0.99f &&
          info.created == 1000.0 && !info.has_image && !img && !memcmp(got, e[3], sizeof got));
    CHECK(fn_store_pg_ops.get_face(b, 999999, &info, NULL, NULL, NULL) == FN_ERR_MISSING);

    /* A photo kept with the face comes back byte for byte. */
    uint8_t photo[300];
    for (int i = 0; i < 300; i++) photo[i] = (uint8_t)(i * 7);
    fn_gallery_face withimg = face("dave", 7, e[0], "dd");
    withimg.image = photo;
    withimg.image_size = sizeof photo;
    int64_t id_img;
    uint8_t d_img;
    CHECK(fn_store_pg_ops.enroll(b, &withimg, 1, 1002.0, &id_img, &d_img) == FN_OK);
    CHECK(fn_store_pg_ops.get_face(a, id_img, &info, NULL, &img, &img_size) == FN_OK && info.has_image &&
          img_size == sizeof photo && img && !memcmp(img, photo, sizeof photo));
    free(img);

    fn_gallery_subject *subs = NULL;
    int n = 0;
    CHECK(fn_store_pg_ops.list_subjects(a, &subs, &n) == FN_OK && n == 4 && !strcmp(subs[0].name, "alice") &&
          subs[1].n_faces == 2 && !strcmp(subs[3].name, "dave"));
    free(subs);
    fn_gallery_face_info *fl = NULL;
    int total = 0;
    CHECK(fn_store_pg_ops.list_faces(a, NULL, 1, 2, &fl, &n, &total) == FN_OK && n == 2 && total == 5 && fl[0].id == ids[2]);
    free(fl);
    CHECK(fn_store_pg_ops.list_faces(a, "bob", 0, 0, &fl, &n, &total) == FN_OK && n == 2 && total == 2);
    free(fl);
    CHECK(fn_store_pg_ops.list_faces(a, "nobody", 0, 0, &fl, &n, &total) == FN_ERR_MISSING);

    int created = -1;
    CHECK(fn_store_pg_ops.add_subject(a, "erin", 1003.0, &created) == FN_OK && created == 1);
    CHECK(fn_store_pg_ops.add_subject(a, "erin", 1003.0, &created) == FN_OK && created == 0);

    /* Rename onto a new name, merge onto an existing one, remove: B follows each. */
    CHECK(fn_store_pg_ops.rename_subject(b, "carol", "carla") == FN_OK);
    CHECK(fn_store_pg_ops.rename_subject(b, "nobody", "x") == FN_ERR_MISSING);
    CHECK(fn_store_pg_ops.rename_subject(a, "bob", "alice") == FN_OK);
    CHECK(wait_for(b, fb, 5) >= 0 && same_as_load(b, fb));
    CHECK(fn_store_pg_ops.list_faces(a, "alice", 0, 0, &fl, &n, &total) == FN_OK && n == 3);
    free(fl);
    int removed = 0;
    CHECK(fn_store_pg_ops.remove_subject(a, "alice", &removed) == FN_OK && removed == 3);
    CHECK(fn_store_pg_ops.remove_subject(a, "alice", &removed) == FN_ERR_MISSING);
    CHECK(wait_for(b, fb, 2) >= 0 && same_as_load(b, fb));
    CHECK(fn_store_pg_ops.remove_face(b, id_img) == FN_OK);
    CHECK(fn_store_pg_ops.remove_face(b, id_img) == FN_ERR_MISSING);
    CHECK(wait_for(a, fb, 1) >= 0 && same_as_load(a, fb));
    CHECK(fn_store_pg_ops.remove_all(a, &removed) == FN_OK && removed == 1);
    CHECK(wait_for(b, fb, 0) >= 0 && fb->resets == 1 && same_as_load(b, fb));
    CHECK(fb->bad_rows == 0);

    /* Collections are separate: another key's faces never show. */
    fn_store *other = open_ok("other-key", 1);
    fn_gallery_face g = face("zed", 9, e[0], NULL);
    CHECK(fn_store_pg_ops.enroll(other, &g, 1, 1.0, ids, dup) == FN_OK);
    CHECK(fn_store_pg_ops.count(a, &ns, &nf) == FN_OK && nf == 0);
    CHECK(fn_store_pg_ops.get_face(a, ids[0], &info, NULL, NULL, NULL) == FN_ERR_MISSING);
    CHECK(fn_store_pg_ops.remove_face(a, ids[0]) == FN_ERR_MISSING);

    /* Read-only handle: reads work, writes are refused. */
    fn_store_open_args ra = args("default", NULL, 0, 0);
    ra.read_only = 1;
    fn_store *ro = NULL;
    fn_store_collection rc;
    CHECK(fn_store_pg_ops.open(URI, &ra, &ro, &rc) == FN_OK);
    if (ro) {
        CHECK(fn_store_pg_ops.count(ro, &ns, &nf) == FN_OK);
        CHECK(fn_store_pg_ops.add_subject(ro, "x", 1.0, &created) == FN_ERR_ARG);
        fn_store_pg_ops.close(ro);
    }
    fn_store_pg_ops.close(other);
    fn_store_pg_ops.close(a);
    fn_store_pg_ops.close(b);
    free(fb);
}

/* Writers racing on one collection while a follower keeps up: sequences are handed out at
 * INSERT, so without the collection lock a follower could see seq 11 commit before 10 and
 * skip 10 for ever. */
#define WRITERS 3
#define PER_WRITER 150
static void *writer(void *arg) {
    int w = (int)(intptr_t)arg;
    fn_store *s = open_ok("race", 0);
    for (int i = 0; i < PER_WRITER; i++) {
        float e[DIM];
        char subj[16];
        snprintf(subj, sizeof subj, "w%d", w);
        fn_gallery_face f = face(subj, w * 1000 + i, e, NULL);
        int64_t id;
        uint8_t dup;
        if (fn_store_pg_ops.enroll(s, &f, 1, 1.0, &id, &dup) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); break; }
        if (i % 10 == 3) fn_store_pg_ops.remove_face(s, id);
    }
    fn_store_pg_ops.close(s);
    return NULL;
}

static void test_race(void) {
    printf("%d writers x %d faces on one collection, one follower\n", WRITERS, PER_WRITER);
    fn_store *r = open_ok("race", 1);
    follower *f = calloc(1, sizeof *f);
    CHECK(fn_store_pg_ops.load(r, apply, f, &f->seq) == FN_OK);
    pthread_t t[WRITERS];
    for (int w = 0; w < WRITERS; w++) pthread_create(&t[w], NULL, writer, (void *)(intptr_t)w);
    int rounds = 0;
    for (double t0 = fn_now(); fn_now() - t0 < 0.5 || rounds < 50; rounds++) {
        /* changes() straight away, without waiting for a notification: the worst case */
        if (fn_store_pg_ops.changes(r, f->seq, apply, f, &f->seq) != FN_OK) { printf("  %s\n", fn_last_error()); break; }
    }
    for (int w = 0; w < WRITERS; w++) pthread_join(t[w], NULL);
    CHECK(follow(r, f) == FN_OK);
    int expect = WRITERS * (PER_WRITER - PER_WRITER / 10);
    printf("  follower: %d faces after %d catch-ups (expected %d), %d bad rows\n", f->n, rounds, expect, f->bad_rows);
    CHECK(f->n == expect && f->bad_rows == 0 && same_as_load(r, f));
    fn_store_pg_ops.close(r);
    free(f);
}

static void test_reconnect(void) {
    printf("connections killed (pg_terminate_backend) and the server restarted mid-run\n");
    fn_store *a = open_ok("default", 0), *b = open_ok("default", 0);
    follower *fb = calloc(1, sizeof *fb);
    CHECK(fn_store_pg_ops.load(b, apply, fb, &fb->seq) == FN_OK);
    int base = fb->n;
    /* Every facenet connection is killed: A writes anyway (retried on a new connection) and
     * B, whose LISTEN died with its connection, catches up from the change log. */
    sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name='facenet'");
    float e[DIM];
    fn_gallery_face f = face("after-kill", 100, e, NULL);
    int64_t id;
    uint8_t dup;
    fn_status st = fn_store_pg_ops.enroll(a, &f, 1, 1.0, &id, &dup);
    CHECK_MSG(st == FN_OK, "write after the connection was killed: %s", fn_last_error());
    double dt = wait_for(b, fb, base + 1);
    printf("  B caught up %.1f ms after its connection was killed\n", dt * 1e3);
    CHECK(dt >= 0 && dt < 1.5);

    /* The server itself goes down hard (immediate shutdown = crash + WAL recovery). */
    const char *ctl = getenv("FN_TEST_PG_CTL"), *dir = getenv("FN_TEST_PG_CLUSTER");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s kill %s", ctl, dir);
    CHECK(system(cmd) == 0);
    int64_t seq;
    CHECK(fn_store_pg_ops.last_seq(b, &seq) == FN_OK); /* searches go on from memory */
    f = face("during-outage", 101, e, NULL);
    st = fn_store_pg_ops.enroll(a, &f, 1, 1.0, &id, &dup);
    printf("  write while the server is down: %s\n", fn_last_error());
    CHECK(st == FN_ERR_IO);
    snprintf(cmd, sizeof cmd, "%s restart %s", ctl, dir);
    CHECK(system(cmd) == 0);
    f = face("after-restart", 102, e, NULL);
    st = fn_store_pg_ops.enroll(a, &f, 1, 1.0, &id, &dup);
    CHECK_MSG(st == FN_OK, "write after restart: %s", fn_last_error());
    dt = wait_for(b, fb, base + 2);
    printf("  B caught up %.1f ms after the restart's first write\n", dt * 1e3);
    CHECK(dt >= 0 && same_as_load(b, fb));
    /* Every acknowledged write survived the crash. */
    fn_gallery_face_info info;
    CHECK(fn_store_pg_ops.get_face(b, id, &info, NULL, NULL, NULL) == FN_OK && !strcmp(info.subject, "after-restart"));
    fn_store_pg_ops.close(a);
    fn_store_pg_ops.close(b);
    free(fb);
}

static int64_t sql_i64(const char *q) {
    PGconn *c = PQconnectdb(URI);
    PGresult *r = PQexec(c, q);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    CHECK_MSG(ok, "%s: %s", q, PQerrorMessage(c));
    int64_t v = ok ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

/* The change log stays bounded (changes_keep rows per collection): a follower that keeps up
 * sees every row and never reloads; one that idled past the pruned rows gets RESET, and a
 * gallery handle (fn_gallery_refresh) then reloads fully and holds what the database holds. */
static void test_prune(void) {
    printf("change log pruned to changes_keep = 5: a current follower goes on, an idle one reloads\n");
    sql("INSERT INTO fn_gallery VALUES('changes_keep', '5') ON CONFLICT (key) DO UPDATE SET value=excluded.value");
    fn_store *w = open_ok("prune", 1), *live = open_ok("prune", 0), *idle = open_ok("prune", 0);
    follower *fl = calloc(1, sizeof *fl), *fi = calloc(1, sizeof *fi);
    CHECK(fn_store_pg_ops.load(live, apply, fl, &fl->seq) == FN_OK && fn_store_pg_ops.load(idle, apply, fi, &fi->seq) == FN_OK);
    fn_gallery_options go;
    fn_gallery_options_default(&go);
    go.collection = "prune";
    fn_gallery *g = NULL;
    CHECK_MSG(fn_gallery_open(URI, &go, &g) == FN_OK, "gallery open: %s", fn_last_error());
    fn_gallery_stats st0;
    CHECK(g && fn_gallery_info(g, &st0) == FN_OK && st0.n_faces == 0);

    int64_t id0 = 0, id;
    uint8_t dup;
    float e[DIM];
    char name[16];
    for (int k = 0; k < 20; k++) {
        snprintf(name, sizeof name, "p%d", k % 3);
        fn_gallery_face f = face(name, 100 + k, e, NULL);
        CHECK(fn_store_pg_ops.enroll(w, &f, 1, 1000.0, &id, &dup) == FN_OK && !dup);
        if (k == 0) id0 = id;
        CHECK(wait_for(live, fl, k + 1) >= 0); /* the notification comes a moment after the commit */
    }
    /* a removal goes through the other write path (write_txn): it prunes too */
    CHECK(fn_store_pg_ops.remove_face(w, id0) == FN_OK);
    CHECK(wait_for(live, fl, 19) >= 0);
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM changes c JOIN collections k ON k.id=c.collection_id WHERE k.name='prune'");
    int64_t rows = sql_i64(q);
    int64_t pruned = sql_i64("SELECT pruned_seq FROM collections WHERE name='prune'");
    printf("  21 writes: %lld change rows kept, pruned up to seq %lld\n", (long long)rows, (long long)pruned);
    CHECK(rows >= 1 && rows <= 5 && pruned > fi->seq);
    CHECK_MSG(fl->resets == 0 && fl->n == 19 && same_as_load(live, fl), "live follower: %d resets, %d faces", fl->resets,
              fl->n);
    CHECK(follow(idle, fi) == FN_OK);
    CHECK_MSG(fi->resets == 1, "idle follower: %d resets (want 1)", fi->resets);
    fn_gallery_stats st;
    CHECK_MSG(fn_gallery_refresh(g) == FN_OK && fn_gallery_info(g, &st) == FN_OK && st.n_faces == 19,
              "idle gallery after refresh: %s, %d faces (want 19)", fn_last_error(), st.n_faces);
    /* a bad setting is refused at open, clearly */
    sql("UPDATE fn_gallery SET value='-3' WHERE key='changes_keep'");
    fn_store_open_args a = args("prune", "test-model", DIM, 0);
    fn_store *bad = NULL;
    fn_store_collection c;
    fn_status r = fn_store_pg_ops.open(URI, &a, &bad, &c);
    printf("  %s\n", fn_last_error());
    CHECK(r == FN_ERR_FORMAT && strstr(fn_last_error(), "changes_keep"));
    sql("DELETE FROM fn_gallery WHERE key='changes_keep'");
    /* a gallery made before pruning (no pruned_seq): read-only says so, writable upgrades it */
    sql("ALTER TABLE collections DROP COLUMN pruned_seq");
    a.read_only = 1;
    r = fn_store_pg_ops.open(URI, &a, &bad, &c);
    CHECK_MSG(r == FN_ERR_UNSUPPORTED && strstr(fn_last_error(), "older"), "old schema, read-only: %d %s", r, fn_last_error());
    a.read_only = 0;
    r = fn_store_pg_ops.open(URI, &a, &bad, &c);
    CHECK_MSG(r == FN_OK, "old schema, writable: %s", fn_last_error());
    if (r == FN_OK) fn_store_pg_ops.close(bad);
    CHECK(sql_i64("SELECT count(*) FROM collections WHERE pruned_seq=0") >= 1);
    fn_gallery_close(g);
    fn_store_pg_ops.close(w); fn_store_pg_ops.close(live); fn_store_pg_ops.close(idle);
    free(fl); free(fi);
}

int main(void) {
    URI = getenv("FN_TEST_PG_URI");
    if (!URI || !getenv("FN_TEST_PG_CTL")) {
        printf("FAIL: run under tests/pg/with_cluster.sh (FN_TEST_PG_URI is not set)\n");
        return 1;
    }
    printf("PostgreSQL at %s\n", URI);
    test_open_errors();
    test_two_nodes();
    test_race();
    test_reconnect();
    test_prune();
    return tu_finish("test_store_pg");
}
