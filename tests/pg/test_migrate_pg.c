/* test_migrate_pg.c — fn_gallery_migrate between a SQLite file and a real PostgreSQL
 * (tests/pg/with_cluster.sh): two collections with photos, an empty subject, faces enrolled
 * at different times and a merge that left two faces with one photo; SQLite -> PostgreSQL ->
 * a second SQLite file gives the same counts and checksums and the same search answers; a
 * non-empty destination and a missing source are refused; a changed gallery changes the
 * checksum. */
#define _GNU_SOURCE
#include "facenet.h"
#include "test_util.h"
#include <unistd.h>
#include <sys/stat.h>

#define DIM 32

static void rand_unit(unsigned *seed, float *v) {
    double s = 0;
    for (int j = 0; j < DIM; j++) { v[j] = (float)(rand_r(seed) / (double)RAND_MAX - 0.5); s += (double)v[j] * v[j]; }
    for (int j = 0; j < DIM; j++) v[j] = (float)(v[j] / sqrt(s));
}

static fn_gallery *open_g(const char *uri, const char *coll, int create) {
    fn_gallery_options o;
    fn_gallery_options_default(&o);
    o.model_id = "migrate-model";
    o.dim = DIM;
    o.collection = coll;
    o.create = create;
    fn_gallery *g = NULL;
    fn_status st = fn_gallery_open(uri, &o, &g);
    CHECK_MSG(st == FN_OK, "open %s %s: %s", uri, coll, fn_last_error());
    return g;
}

enum { N = 120 };
static float emb[N][DIM];

/* The source: collection "default" (60 faces of 6 people, one batch and one by one, photos
 * on some, a merge that leaves a repeated photo, an empty subject) and "key-2" (60 faces). */
static void build_source(const char *uri) {
    unsigned seed = 3;
    for (int i = 0; i < N; i++) rand_unit(&seed, emb[i]);
    fn_gallery *g = open_g(uri, "default", 1);
    fn_gallery *g2 = open_g(uri, "key-2", 1);
    if (!g || !g2) exit(1);
    static fn_gallery_face faces[N];
    static char names[N][32], shas[N][65];
    static uint8_t photos[N][40];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], i % 6 == 5 ? "Zoë %d" : "person %d", i % 6);
        fn_sha256_hex(emb[i], sizeof emb[i], shas[i]);
        for (int k = 0; k < 40; k++) photos[i][k] = (uint8_t)(i + k);
        fn_gallery_face f = { .subject = names[i], .embedding = emb[i], .source = "p.jpg", .source_sha256 = shas[i],
                              .box = { (float)i, 2, 30, 40 }, .score = 0.9f + i * 1e-4f,
                              .image = i % 3 == 0 ? photos[i] : NULL, .image_size = i % 3 == 0 ? 40 : 0 };
        f.landmarks[2][0] = (float)i;
        faces[i] = f;
    }
    int dups = -1;
    CHECK(fn_gallery_enroll_many(g, faces, 30, NULL, &dups) == FN_OK && dups == 0);
    for (int i = 30; i < 60; i++) {
        CHECK(fn_gallery_enroll(g, &faces[i], NULL, NULL) == FN_OK);
        if (i == 40) usleep(20000); /* a later enrolment time for the rest */
    }
    CHECK(fn_gallery_enroll_many(g2, faces + 60, 60, NULL, &dups) == FN_OK);
    CHECK(fn_gallery_add_subject(g, "nobody yet", NULL) == FN_OK);
    /* person 1 gets a copy of person 0's first photo, then merges into person 0. */
    fn_gallery_face again = faces[0];
    again.subject = "person 1";
    CHECK(fn_gallery_enroll(g, &again, NULL, NULL) == FN_OK);
    CHECK(fn_gallery_rename_subject(g, "person 1", "person 0") == FN_OK);
    fn_gallery_close(g);
    fn_gallery_close(g2);
}

/* Each face's best match in a gallery (subject and distance) equals the other's. */
static void same_answers(const char *a_uri, const char *b_uri, const char *coll, int a_extra_faces) {
    fn_gallery *a = open_g(a_uri, coll, 0), *b = open_g(b_uri, coll, 0);
    if (!a || !b) { fn_gallery_close(a); fn_gallery_close(b); return; }
    int differ = 0;
    for (int i = 0; i < N; i += 7) {
        fn_gallery_match ma[3], mb[3];
        int na, nb;
        CHECK(fn_gallery_search_subjects(a, emb[i], 1, 3, ma, &na) == FN_OK);
        CHECK(fn_gallery_search_subjects(b, emb[i], 1, 3, mb, &nb) == FN_OK);
        differ += na != nb;
        for (int k = 0; k < na && k < nb && k < 3; k++)
            differ += strcmp(ma[k].subject, mb[k].subject) || fabsf(ma[k].distance - mb[k].distance) > 1e-6f;
    }
    printf("  %s: searches on both sides, %d answers differ\n", coll, differ);
    CHECK(differ == 0);
    fn_gallery_stats sa, sb;
    CHECK(fn_gallery_info(a, &sa) == FN_OK && fn_gallery_info(b, &sb) == FN_OK);
    CHECK(sa.n_faces == sb.n_faces + a_extra_faces && sa.n_subjects == sb.n_subjects && sa.calib.threshold == sb.calib.threshold);
    fn_gallery_close(a);
    fn_gallery_close(b);
}

static void print_report(const char *what, const fn_gallery_migration *r) {
    printf("  %s: %d collections, %d subjects, %d faces, %d photos, %d repeats kept once\n", what, r->n_collections,
           r->n_subjects, r->n_faces, r->n_images, r->n_duplicates);
    for (int i = 0; i < r->n_collections && i < FN_MIGRATE_REPORTED; i++)
        printf("    %-10s %3d subjects %4d faces %s\n", r->collections[i].name, r->collections[i].n_subjects,
               r->collections[i].n_faces, r->collections[i].checksum);
}

int main(void) {
    const char *pg = getenv("FN_TEST_PG_URI");
    if (!pg) { printf("FAIL: run under tests/pg/with_cluster.sh (FN_TEST_PG_URI is not set)\n"); return 1; }
    char dir[64], a[128], c[128];
    snprintf(dir, sizeof dir, "/tmp/fn_test_migrate_%d", (int)getpid());
    mkdir(dir, 0777);
    snprintf(a, sizeof a, "%s/a.db", dir);
    snprintf(c, sizeof c, "%s/c.db", dir);
    build_source(a);

    printf("SQLite -> PostgreSQL\n");
    fn_gallery_migration r1, r2, r3;
    fn_status st = fn_gallery_migrate(a, pg, &r1);
    CHECK_MSG(st == FN_OK, "%s", fn_last_error());
    print_report("copied", &r1);
    /* 121 faces enrolled, the merge's repeat kept once; 7 subjects + the empty one; key-2: 6. */
    CHECK(r1.n_collections == 2 && r1.n_faces == 120 && r1.n_duplicates == 1 && r1.n_subjects == 12);
    CHECK(r1.n_images == 40); /* the repeat's photo went with it */
    CHECK(!strcmp(r1.collections[0].name, "default") && !strcmp(r1.collections[1].name, "key-2"));
    same_answers(a, pg, "default", 1); /* the merge's repeat */
    same_answers(a, pg, "key-2", 0);

    printf("PostgreSQL -> SQLite\n");
    st = fn_gallery_migrate(pg, c, &r2);
    CHECK_MSG(st == FN_OK, "%s", fn_last_error());
    print_report("copied", &r2);
    CHECK(r2.n_faces == 120 && r2.n_duplicates == 0 && r2.n_images == 40);
    for (int i = 0; i < 2; i++) CHECK(!strcmp(r1.collections[i].checksum, r2.collections[i].checksum));
    same_answers(pg, c, "default", 0);
    /* Enrolment times came along: a face's `created` on the far side equals the source's. */
    {
        fn_gallery *ga = open_g(a, "default", 0), *gc = open_g(c, "default", 0);
        fn_gallery_face_info *fa = NULL, *fc = NULL;
        int na = 0, nc = 0;
        if (ga && gc) {
            CHECK(fn_gallery_list_faces(ga, "person 2", 0, 0, &fa, &na, NULL) == FN_OK);
            CHECK(fn_gallery_list_faces(gc, "person 2", 0, 0, &fc, &nc, NULL) == FN_OK);
            CHECK(na == nc && na == 10);
            int same = 0, distinct_times = 0;
            for (int i = 0; i < na && i < nc; i++) {
                same += fa[i].created == fc[i].created && !strcmp(fa[i].source_sha256, fc[i].source_sha256);
                distinct_times += i > 0 && fa[i].created != fa[i - 1].created;
            }
            printf("  enrolment times: %d of %d equal (%d changes of time along the source)\n", same, na, distinct_times);
            CHECK(same == na && distinct_times >= 2);
        }
        free(fa); free(fc);
        fn_gallery_close(ga);
        fn_gallery_close(gc);
    }

    printf("refusals\n");
    st = fn_gallery_migrate(a, pg, &r3);
    printf("  into a non-empty destination: %s\n", fn_last_error());
    CHECK(st == FN_ERR_ARG);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.db", dir);
    st = fn_gallery_migrate(missing, c, &r3);
    printf("  from a missing gallery: %s\n", fn_last_error());
    CHECK(st != FN_OK);
    CHECK(fn_gallery_migrate(a, a, &r3) == FN_ERR_ARG);

    printf("a changed gallery has another checksum\n");
    {
        fn_gallery *g = open_g(c, "key-2", 0);
        if (g) {
            CHECK(fn_gallery_rename_subject(g, "person 3", "person 3b") == FN_OK);
            fn_gallery_close(g);
        }
        char d[160];
        snprintf(d, sizeof d, "%s&options=-csearch_path%%3Dcopy2", pg);
        st = fn_gallery_migrate(c, d, &r3);
        CHECK_MSG(st == FN_OK, "%s", fn_last_error());
        CHECK(!strcmp(r3.collections[0].checksum, r1.collections[0].checksum));
        CHECK(strcmp(r3.collections[1].checksum, r1.collections[1].checksum));
        printf("  key-2 after a rename: %.16s... vs %.16s...\n", r3.collections[1].checksum, r1.collections[1].checksum);
    }
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm)) {}
    return tu_finish("test_migrate_pg");
}
