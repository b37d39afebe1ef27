/* test_gallery.c — the gallery API on a real SQLite file: enrol, duplicates, search against
 * a brute-force double-precision reference, subjects (add, rename, merge, remove), faces
 * (list pages, get with the stored photo, remove), a second handle following the change
 * log, persistence across reopen, npy export/import, and each error: wrong model, read-only,
 * unknown subject / face, corrupt and foreign files, empty gallery. Also SHA-256 (FIPS 180-4
 * test vectors) and the similarity mapping. */
#include "facenet.h"
#include "test_util.h"
#include <unistd.h>
#include <sys/stat.h>

#define DIM 16
static char dir[256], db[300];

static void rand_unit(unsigned *seed, float *v) {
    double s = 0;
    for (int j = 0; j < DIM; j++) { v[j] = (float)(rand_r(seed) / (double)RAND_MAX - 0.5); s += (double)v[j] * v[j]; }
    for (int j = 0; j < DIM; j++) v[j] = (float)(v[j] / sqrt(s));
}

static fn_gallery *open_db(const char *model, int create, int read_only, fn_status *st) {
    fn_gallery_options o;
    fn_gallery_options_default(&o);
    o.model_id = model;
    o.dim = create ? DIM : 0;
    o.create = create;
    o.read_only = read_only;
    fn_gallery *g = NULL;
    *st = fn_gallery_open(db, &o, &g);
    return g;
}

static void test_sha256(void) {
    char h[65];
    fn_sha256_hex("abc", 3, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    fn_sha256_hex("", 0, h);
    CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: two padding blocks */
    fn_sha256_hex(m, strlen(m), h);
    CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    fn_sha256_hex(a, 1000000, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    free(a);
    printf("  sha256: FIPS 180-4 vectors checked\n");
}

static void test_similarity(void) {
    fn_similarity_calib c = { 0.6f, 12.0f };
    CHECK(fabsf(fn_similarity(&c, 0.6f) - 0.5f) < 1e-6f);
    CHECK(fn_similarity(&c, 0.4f) > 0.5f && fn_similarity(&c, 0.8f) < 0.5f);
    CHECK(fn_similarity(&c, 0.0f) <= 1.0f && fn_similarity(&c, 100.0f) >= 0.0f);
    CHECK(fn_similarity(&c, 0.3f) > fn_similarity(&c, 0.35f));
    CHECK(fabsf(fn_similarity(&c, 0.6f + 0.1f) - 1.0f / (1.0f + expf(1.2f))) < 1e-6f);
}

/* Nearest enrolled face of q by brute force in double. */
static int nearest(const float *emb, int n, const float *q, double *dist) {
    int best = -1;
    double bd = INFINITY;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < DIM; j++) { double d = (double)emb[i * DIM + j] - q[j]; s += d * d; }
        if (s < bd) { bd = s; best = i; }
    }
    *dist = sqrt(bd);
    return best;
}

#ifdef FN_HAVE_FAISS
/* An approximate index (IVF, HNSW): found neighbours are exact after re-ranking, the index
 * follows enrolment and removal, is persisted beside the database, reloaded, and a damaged
 * index file is rebuilt (it is only a cache). */
static void test_index(fn_index_kind kind, const char *ext) {
    char path[320], idx[340];
    snprintf(path, sizeof path, "%s/idx_%s.db", dir, ext);
    enum { NI = 3000 };
    static float e[NI * DIM];
    unsigned seed = 99;
    fn_gallery_options o; fn_gallery_options_default(&o);
    o.model_id = "m"; o.dim = DIM; o.create = 1; o.index = FN_INDEX_EXACT;
    fn_gallery *g = NULL;
    CHECK(fn_gallery_open(path, &o, &g) == FN_OK);
    if (!g) return;
    fn_gallery_face *f = calloc(NI, sizeof *f);
    static char nm[NI][12];
    for (int i = 0; i < NI; i++) {
        rand_unit(&seed, e + i * DIM);
        snprintf(nm[i], sizeof nm[i], "p%d", i);
        f[i] = (fn_gallery_face){ .subject = nm[i], .embedding = e + i * DIM };
    }
    int64_t *ids = malloc(sizeof *ids * NI);
    CHECK(fn_gallery_enroll_many(g, f, NI, ids, NULL) == FN_OK);
    fn_gallery_close(g);
    o.index = kind; o.create = 0;
    CHECK(fn_gallery_open(path, &o, &g) == FN_OK);
    if (!g) { free(f); free(ids); return; }
    fn_gallery_stats st;
    CHECK(fn_gallery_info(g, &st) == FN_OK && st.index == kind);
    snprintf(idx, sizeof idx, "%s.1.%s", path, ext);
    CHECK(access(idx, F_OK) == 0);
    /* queries near enrolled faces: the face itself comes back first, at its exact distance */
    int right = 0;
    for (int t = 0; t < 100; t++) {
        int i = (t * 37) % NI;
        float q[DIM];
        for (int j = 0; j < DIM; j++) q[j] = e[i * DIM + j] + 0.01f * (float)(rand_r(&seed) / (double)RAND_MAX - 0.5);
        fn_gallery_match m[3]; int nf;
        CHECK(fn_gallery_search(g, q, 1, 3, m, &nf) == FN_OK && nf == 3);
        double bd; int b = nearest(e, NI, q, &bd);
        right += m[0].face_id == ids[b] && fabs(m[0].distance - bd) < 1e-5;
    }
    printf("  %s: %d of 100 near-duplicate queries find their face first\n", ext, right);
    CHECK(right >= 99);
    /* removal and enrolment reach the index */
    fn_gallery_match m[3]; int nf;
    CHECK(fn_gallery_remove_face(g, ids[5]) == FN_OK);
    CHECK(fn_gallery_search(g, e + 5 * DIM, 1, 3, m, &nf) == FN_OK && nf == 3 && m[0].face_id != ids[5]);
    float fresh[DIM]; rand_unit(&seed, fresh);
    fn_gallery_face nf1 = { .subject = "fresh", .embedding = fresh };
    int64_t fid;
    CHECK(fn_gallery_enroll(g, &nf1, &fid, NULL) == FN_OK);
    CHECK(fn_gallery_search_subjects(g, fresh, 1, 2, m, &nf) == FN_OK && nf == 2 && !strcmp(m[0].subject, "fresh") && m[0].distance < 1e-5f);
    fn_gallery_close(g); /* saves the index with the change applied */
    /* reopen from the file: the same answers */
    CHECK(fn_gallery_open(path, &o, &g) == FN_OK);
    if (g) {
        CHECK(fn_gallery_info(g, &st) == FN_OK && st.index == kind);
        CHECK(fn_gallery_search_subjects(g, fresh, 1, 1, m, &nf) == FN_OK && nf == 1 && !strcmp(m[0].subject, "fresh"));
        CHECK(fn_gallery_search(g, e + 5 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && m[0].face_id != ids[5]);
        fn_gallery_close(g);
    }
    /* a damaged index file: rebuilt, nothing lost */
    FILE *fp = fopen(idx, "r+b");
    if (fp) { fseek(fp, 40, SEEK_SET); for (int i = 0; i < 64; i++) fputc(0xA5, fp); fclose(fp); }
    if (truncate(idx, 200)) {}
    CHECK(fn_gallery_open(path, &o, &g) == FN_OK);
    if (g) {
        CHECK(fn_gallery_info(g, &st) == FN_OK && st.index == kind && st.n_faces == NI);
        CHECK(fn_gallery_search(g, e + 7 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && m[0].face_id == ids[7]);
        fn_gallery_close(g);
    }
    /* damaged bytes inside FAISS's part, size intact: the checksum catches them before FAISS
     * parses the file; rebuilt, nothing lost */
    struct stat sb;
    CHECK(stat(idx, &sb) == 0 && sb.st_size > 4096);
    fp = fopen(idx, "r+b");
    if (fp) { fseek(fp, sb.st_size / 2, SEEK_SET); for (int i = 0; i < 256; i++) fputc(0x5A, fp); fclose(fp); }
    CHECK(fn_gallery_open(path, &o, &g) == FN_OK);
    if (g) {
        CHECK(fn_gallery_info(g, &st) == FN_OK && st.index == kind && st.n_faces == NI);
        CHECK(fn_gallery_search(g, e + 9 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && m[0].face_id == ids[9]);
        fn_gallery_close(g);
    }
    free(f); free(ids);
}
#endif

int main(void) {
    test_sha256();
    test_similarity();
    snprintf(dir, sizeof dir, "/tmp/fn_test_gallery_%d", (int)getpid());
    mkdir(dir, 0777);
    snprintf(db, sizeof db, "%s/g.db", dir);
    /* The same suite runs against another store when given one (tests/pg: PostgreSQL). */
    const char *uri = getenv("FN_TEST_GALLERY_URI");
    if (uri && *uri && strlen(uri) < sizeof db) snprintf(db, sizeof db, "%s", uri);
    const char *backend = uri && *uri ? "postgresql" : "sqlite";
    printf("  store: %s (%s)\n", backend, db);
    fn_status st;

    /* Opening a missing gallery without create: a clear error. */
    fn_gallery *g = open_db("model-a", 0, 0, &st);
    CHECK(st == FN_ERR_MISSING && !g);
    printf("  missing: %s\n", fn_last_error());

    g = open_db("model-a", 1, 0, &st);
    CHECK(st == FN_OK && g);
    if (!g) return tu_finish("test_gallery");

    /* Empty gallery: search finds nothing, no error. */
    float q[DIM];
    unsigned seed = 7;
    rand_unit(&seed, q);
    fn_gallery_match m[8];
    int nf = -1;
    CHECK(fn_gallery_search(g, q, 1, 3, m, &nf) == FN_OK && nf == 0);

    /* Enrol 200 faces of 20 subjects. */
    enum { N = 200 };
    static float emb[N * DIM];
    static char names[N][16];
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        rand_unit(&seed, emb + i * DIM);
        snprintf(names[i], sizeof names[i], "person_%02d", i % 20);
        char sha[65];
        fn_sha256_hex(&i, sizeof i, sha);
        uint8_t photo[5] = { 'P', 'H', (uint8_t)i, 0, 9 };
        fn_gallery_face f = { .subject = names[i], .embedding = emb + i * DIM, .source = "photo.jpg",
                              .source_sha256 = sha, .box = { 1, 2, 3, (float)i }, .score = 0.99f,
                              .image = i == 5 ? photo : NULL, .image_size = i == 5 ? sizeof photo : 0 };
        f.landmarks[4][1] = (float)i;
        int dup = -1;
        CHECK(fn_gallery_enroll(g, &f, &ids[i], &dup) == FN_OK && dup == 0 && ids[i] > 0);
    }
    /* The same photo again for the same subject is skipped; for another subject it is not. */
    {
        char sha[65];
        int i = 3;
        fn_sha256_hex(&i, sizeof i, sha);
        fn_gallery_face f = { .subject = names[3], .embedding = emb + 3 * DIM, .source_sha256 = sha };
        int64_t id; int dup = 0;
        CHECK(fn_gallery_enroll(g, &f, &id, &dup) == FN_OK && dup == 1 && id == ids[3]);
        f.subject = "someone_else";
        CHECK(fn_gallery_enroll(g, &f, &id, &dup) == FN_OK && dup == 0 && id != ids[3]);
        CHECK(fn_gallery_remove_face(g, id) == FN_OK);
        CHECK(fn_gallery_remove_face(g, id) == FN_ERR_MISSING);
        CHECK(fn_gallery_remove_subject(g, "someone_else", NULL) == FN_OK);
    }
    /* Bad input is refused. */
    {
        float zero[DIM] = { 0 };
        fn_gallery_face f = { .subject = "x", .embedding = zero };
        CHECK(fn_gallery_enroll(g, &f, NULL, NULL) == FN_ERR_ARG);
        f.embedding = emb; f.subject = "";
        CHECK(fn_gallery_enroll(g, &f, NULL, NULL) == FN_ERR_ARG);
        f.subject = "bad\xff";
        CHECK(fn_gallery_enroll(g, &f, NULL, NULL) == FN_ERR_ARG);
        f.subject = "x"; f.source_sha256 = "nothex";
        CHECK(fn_gallery_enroll(g, &f, NULL, NULL) == FN_ERR_ARG);
        float nanq[DIM]; memcpy(nanq, q, sizeof q); nanq[2] = NAN;
        CHECK(fn_gallery_search(g, nanq, 1, 1, m, &nf) == FN_ERR_ARG);
        CHECK(fn_gallery_search(g, q, 1, 0, m, &nf) == FN_ERR_ARG);
    }

    /* Search: the top face is the brute-force nearest, the distance agrees, results sorted;
     * subjects are distinct and each scored by its nearest face. */
    int wrong = 0;
    double max_err = 0;
    for (int t = 0; t < 50; t++) {
        float qq[DIM];
        rand_unit(&seed, qq);
        double bd;
        int b = nearest(emb, N, qq, &bd);
        CHECK(fn_gallery_search(g, qq, 1, 5, m, &nf) == FN_OK && nf == 5);
        wrong += m[0].face_id != ids[b];
        if (fabs(m[0].distance - bd) > max_err) max_err = fabs(m[0].distance - bd);
        for (int j = 1; j < nf; j++) CHECK(m[j].distance >= m[j - 1].distance);
        fn_gallery_match ms[5];
        int ns;
        CHECK(fn_gallery_search_subjects(g, qq, 1, 5, ms, &ns) == FN_OK && ns == 5);
        CHECK(!strcmp(ms[0].subject, names[b]) && ms[0].face_id == ids[b]);
        for (int a = 0; a < ns; a++) for (int c = a + 1; c < ns; c++) CHECK(strcmp(ms[a].subject, ms[c].subject));
        CHECK(fabsf(ms[0].similarity - fn_similarity(&(fn_similarity_calib){ 0, 0 }, 0)) >= 0); /* finite */
    }
    printf("  search: 50 queries, %d top-1 differ from brute force, max |distance error| %.2g (tol 1e-5)\n", wrong, max_err);
    CHECK(wrong == 0 && max_err < 1e-5);
    /* Several queries at once give what one at a time gives. */
    {
        float qs[3 * DIM];
        for (int i = 0; i < 3; i++) rand_unit(&seed, qs + i * DIM);
        fn_gallery_match mb[3 * 4], m1[4];
        int nb[3], n1;
        CHECK(fn_gallery_search(g, qs, 3, 4, mb, nb) == FN_OK);
        for (int i = 0; i < 3; i++) {
            CHECK(fn_gallery_search(g, qs + i * DIM, 1, 4, m1, &n1) == FN_OK && n1 == nb[i]);
            for (int j = 0; j < n1; j++) CHECK(m1[j].face_id == mb[i * 4 + j].face_id);
        }
    }

    /* Lists, pages, one face with its photo. */
    fn_gallery_subject *subs; int ns;
    CHECK(fn_gallery_list_subjects(g, &subs, &ns) == FN_OK && ns == 20);
    if (ns == 20) CHECK(!strcmp(subs[0].name, "person_00") && subs[0].n_faces == 10 && !strcmp(subs[19].name, "person_19"));
    free(subs);
    fn_gallery_face_info *fi; int n, total;
    CHECK(fn_gallery_list_faces(g, "person_05", 3, 4, &fi, &n, &total) == FN_OK && n == 4 && total == 10);
    if (n == 4) CHECK(fi[0].id == ids[5 + 3 * 20] && !strcmp(fi[0].subject, "person_05") && fi[0].box[3] == 65.0f);
    free(fi);
    CHECK(fn_gallery_list_faces(g, NULL, 0, 0, &fi, &n, &total) == FN_OK && n == N && total == N);
    free(fi);
    CHECK(fn_gallery_list_faces(g, "nobody", 0, 0, &fi, &n, &total) == FN_ERR_MISSING);
    {
        fn_gallery_face_info info; float e[DIM]; uint8_t *img; size_t isz;
        CHECK(fn_gallery_get_face(g, ids[5], &info, e, &img, &isz) == FN_OK);
        CHECK(info.has_image && isz == 5 && img && img[2] == 5 && !strcmp(info.source, "photo.jpg"));
        CHECK(info.landmarks[4][1] == 5.0f && fabsf(info.score - 0.99f) < 1e-6f && strlen(info.source_sha256) == 64);
        CHECK(!memcmp(e, emb + 5 * DIM, sizeof e));
        free(img);
        CHECK(fn_gallery_get_face(g, ids[6], &info, NULL, &img, &isz) == FN_OK && !info.has_image && !img && isz == 0);
        CHECK(fn_gallery_get_face(g, 999999, &info, NULL, NULL, NULL) == FN_ERR_MISSING);
    }

    /* A second handle (as another process would) follows the change log. */
    fn_gallery *g2 = open_db(NULL, 0, 0, &st);
    CHECK(st == FN_OK && g2);
    int created = -1;
    CHECK(fn_gallery_add_subject(g, "empty_one", &created) == FN_OK && created == 1);
    CHECK(fn_gallery_add_subject(g, "empty_one", &created) == FN_OK && created == 0);
    CHECK(fn_gallery_rename_subject(g, "person_01", "renamed") == FN_OK);
    CHECK(fn_gallery_rename_subject(g, "nobody", "x") == FN_ERR_MISSING);
    CHECK(fn_gallery_rename_subject(g, "person_02", "person_03") == FN_OK); /* merge */
    int removed = 0;
    CHECK(fn_gallery_remove_subject(g, "person_04", &removed) == FN_OK && removed == 10);
    CHECK(fn_gallery_remove_subject(g, "person_04", &removed) == FN_ERR_MISSING);
    CHECK(fn_gallery_remove_face(g, ids[0]) == FN_OK);
    if (g2) {
        CHECK(fn_gallery_search(g2, emb + 1 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && !strcmp(m[0].subject, "renamed"));
        CHECK(fn_gallery_search(g2, emb + 2 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && !strcmp(m[0].subject, "person_03"));
        CHECK(fn_gallery_search(g2, emb + 4 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && strcmp(m[0].subject, "person_04"));
        CHECK(fn_gallery_search(g2, emb + 0 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && m[0].face_id != ids[0]);
        fn_gallery_stats s2;
        CHECK(fn_gallery_info(g2, &s2) == FN_OK && s2.n_faces == N - 11 && s2.n_subjects == 19 && s2.dim == DIM);
        CHECK(!strcmp(s2.model_id, "model-a") && !strcmp(s2.backend, backend) && !strcmp(s2.collection, "default"));
        printf("  second handle: %d faces, %d subjects, change seq %lld\n", s2.n_faces, s2.n_subjects, (long long)s2.change_seq);
    }
    fn_gallery_close(g2);

    /* Persistence: reopen and find the same; export, import into a new collection. */
    fn_gallery_close(g);
    g = open_db("model-a", 0, 0, &st);
    CHECK(st == FN_OK && g);
    if (!g) return tu_finish("test_gallery");
    CHECK(fn_gallery_search(g, emb + 7 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && m[0].face_id == ids[7] && m[0].distance < 1e-3f);
    char exp[300];
    snprintf(exp, sizeof exp, "%s/export", dir);
    CHECK(fn_gallery_export_npy(g, exp) == FN_OK);
    {
        fn_gallery_options o; fn_gallery_options_default(&o);
        o.model_id = "model-a"; o.dim = DIM; o.create = 1; o.collection = "copy";
        fn_gallery *g3 = NULL;
        CHECK(fn_gallery_open(db, &o, &g3) == FN_OK);
        int ni = 0;
        CHECK(g3 && fn_gallery_import_npy(g3, exp, &ni) == FN_OK && ni == N - 11);
        fn_gallery_subject *a, *b; int na, nb;
        CHECK(fn_gallery_list_subjects(g, &a, &na) == FN_OK && fn_gallery_list_subjects(g3, &b, &nb) == FN_OK);
        CHECK(na == nb + 1); /* the empty subject has no row to export */
        for (int i = 0, j = 0; i < na && j < nb; i++) {
            if (!a[i].n_faces) continue;
            CHECK(!strcmp(a[i].name, b[j].name) && a[i].n_faces == b[j].n_faces);
            j++;
        }
        free(a); free(b);
        CHECK(fn_gallery_search(g3, emb + 9 * DIM, 1, 1, m, &nf) == FN_OK && nf == 1 && !strcmp(m[0].subject, names[9]) && m[0].distance < 1e-3f);
        int nall = 0;
        CHECK(fn_gallery_remove_all(g3, &nall) == FN_OK && nall == N - 11);
        CHECK(fn_gallery_search(g3, emb, 1, 1, m, &nf) == FN_OK && nf == 0);
        fn_gallery_close(g3);
    }
    fn_gallery_close(g);

    /* Another model, read-only writes, a missing collection. */
    g = open_db("model-b", 0, 0, &st);
    CHECK(st == FN_ERR_MISMATCH && !g);
    printf("  wrong model: %s\n", fn_last_error());
    CHECK(strstr(fn_last_error(), "model-a") && strstr(fn_last_error(), "model-b"));
    g = open_db(NULL, 0, 1, &st);
    CHECK(st == FN_OK && g);
    if (g) {
        fn_gallery_face f = { .subject = "x", .embedding = emb };
        CHECK(fn_gallery_enroll(g, &f, NULL, NULL) == FN_ERR_ARG);
        CHECK(fn_gallery_search(g, emb, 1, 1, m, &nf) == FN_OK && nf == 1);
        fn_gallery_close(g);
    }
    {
        fn_gallery_options o; fn_gallery_options_default(&o); o.collection = "nope";
        fn_gallery *gx = NULL;
        CHECK(fn_gallery_open(db, &o, &gx) == FN_ERR_MISSING && !gx);
    }

    /* Files are SQLite's: PostgreSQL's counterparts (foreign tables, a server that goes
     * away) are in tests/pg/test_store_pg.c. */
    if (strcmp(backend, "sqlite")) {
        char rm[300];
        snprintf(rm, sizeof rm, "rm -rf %s", dir);
        if (system(rm)) {}
        return tu_finish("test_gallery");
    }
    /* Not a gallery: garbage, another SQLite database, a truncated gallery. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/garbage.db", dir);
    FILE *f = fopen(bad, "wb");
    for (int i = 0; i < 10000; i++) fputc(i * 7 & 255, f);
    fclose(f);
    fn_gallery_options o; fn_gallery_options_default(&o); o.model_id = "m"; o.dim = DIM; o.create = 1;
    fn_gallery *gx = NULL;
    st = fn_gallery_open(bad, &o, &gx);
    printf("  garbage: %s\n", fn_last_error());
    CHECK(st == FN_ERR_FORMAT && !gx);
    snprintf(bad, sizeof bad, "%s/other.db", dir);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "sqlite3 %s 'CREATE TABLE t(x); INSERT INTO t VALUES(1);'", bad);
    if (system(cmd) == 0) {
        st = fn_gallery_open(bad, &o, &gx);
        printf("  foreign SQLite: %s\n", fn_last_error());
        CHECK(st == FN_ERR_FORMAT && !gx);
    } else CHECK_MSG(0, "sqlite3 CLI missing (apt-get install sqlite3)");
    snprintf(cmd, sizeof cmd, "sqlite3 %s 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null && cp %s %s/trunc.db && truncate -s 6000 %s/trunc.db", db, db, dir, dir);
    if (system(cmd) == 0) {
        snprintf(bad, sizeof bad, "%s/trunc.db", dir);
        fn_gallery_options_default(&o);
        st = fn_gallery_open(bad, &o, &gx);
        printf("  truncated: %s (%s)\n", fn_status_str(st), fn_last_error());
        CHECK(st == FN_ERR_FORMAT && !gx);
        fn_gallery_close(gx);
    } else CHECK_MSG(0, "could not make a truncated copy");

#ifdef FN_HAVE_FAISS
    test_index(FN_INDEX_IVF, "ivf");
    test_index(FN_INDEX_HNSW, "hnsw");
#else
    {
        fn_gallery_options oi; fn_gallery_options_default(&oi); oi.index = FN_INDEX_IVF;
        CHECK(fn_gallery_open(db, &oi, &gx) == FN_ERR_UNSUPPORTED);
        printf("  no FAISS: %s\n", fn_last_error());
    }
#endif
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
    return tu_finish("test_gallery");
}
