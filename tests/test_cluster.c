/* test_cluster.c — DBSCAN against sklearn's labels (tests/fixtures/cluster, made by
 * tools/gen_cluster_fixtures.py), Chinese whispers determinism and sanity on
 * well-separated identities, and the small helpers around them. */
#include "test_util.h"
#include "core.h"
#include "json.h"
#include "tensors.h"

#define FIX FN_SOURCE_DIR "/tests/fixtures/cluster/"

static void test_dbscan_vs_sklearn(void) {
    uint8_t *text; size_t size;
    fn_json *doc = NULL;
    CHECK(fn_read_file(FIX "dbscan.json", &text, &size) == FN_OK);
    if (tu_failures) return;
    CHECK(fn_json_parse((const char *)text, size, &doc) == FN_OK);
    free(text);
    if (!doc) return;
    const fn_json *cases = fn_json_get(doc, "cases");
    CHECK(cases && cases->n >= 10);
    for (int c = 0; cases && c < cases->n; c++) {
        const fn_json *cs = fn_json_at(cases, c);
        const char *file = fn_json_get(cs, "matrix")->string;
        float eps = (float)fn_json_get(cs, "eps")->number;
        int ms = (int)fn_json_get(cs, "min_samples")->number;
        const fn_json *want = fn_json_get(cs, "labels");
        char path[512];
        snprintf(path, sizeof path, FIX "%s", file);
        float *dist; int64_t rows, cols;
        fn_status s = fn_npy_load_f32(path, &dist, &rows, &cols);
        CHECK_MSG(s == FN_OK && rows == cols && rows == want->n, "%s: %s", path, fn_last_error());
        if (s != FN_OK) continue;
        int n = (int)rows, *labels = malloc(sizeof(int) * n), k = -1, wrong = 0, max_want = -1;
        CHECK(fn_dbscan(dist, n, eps, ms, labels, &k) == FN_OK);
        for (int i = 0; i < n; i++) {
            int w = (int)fn_json_at(want, i)->number;
            wrong += labels[i] != w;
            if (w > max_want) max_want = w;
        }
        printf("  dbscan %-10s eps %.3f min_samples %2d: %d clusters (sklearn %d), %d/%d labels differ\n",
               file, (double)eps, ms, k, max_want + 1, wrong, n);
        CHECK_MSG(wrong == 0, "%s eps %g min_samples %d: %d labels differ from sklearn", file, (double)eps, ms, wrong);
        CHECK(k == max_want + 1);
        free(labels);
        fn_free(dist);
    }
    fn_json_free(doc);
    int l[2];
    float d[4] = { 0, 1, 1, 0 };
    CHECK(fn_dbscan(d, 2, -1.0f, 1, l, NULL) == FN_ERR_ARG);
    CHECK(fn_dbscan(d, 2, 0.5f, 0, l, NULL) == FN_ERR_ARG);
    CHECK(fn_dbscan(NULL, 0, 0.5f, 1, NULL, NULL) == FN_OK);
}

/* k identities of m unit-length 64-d embeddings each, noise small next to the separation */
static float *make_identities(int k, int m, int dim, float spread, uint64_t seed, int *truth) {
    fn_rng r = { seed };
    float *centres = malloc(sizeof(float) * k * dim), *emb = malloc(sizeof(float) * k * m * dim);
    for (int i = 0; i < k * dim; i++) centres[i] = (float)fn_rng_normal(&r);
    /* interleave identities so that index order says nothing about clusters */
    for (int i = 0; i < k * m; i++) {
        int id = (i * 7 + 3) % k;
        truth[i] = id;
        double norm = 0;
        float *e = emb + (size_t)i * dim;
        for (int j = 0; j < dim; j++) {
            e[j] = centres[id * dim + j] / sqrtf((float)dim) * 1.0f + spread * (float)fn_rng_normal(&r) / sqrtf((float)dim);
            norm += (double)e[j] * e[j];
        }
        for (int j = 0; j < dim; j++) e[j] /= (float)sqrt(norm);
    }
    free(centres);
    return emb;
}

/* same partition: i and j together in a iff together in b */
static int same_partition(const int *a, const int *b, int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if ((a[i] == a[j]) != (b[i] == b[j])) return 0;
    return 1;
}

static void test_chinese_whispers(void) {
    enum { K = 6, M = 7, N = K * M, D = 64 };
    int truth[N], l1[N], l2[N], l3[N], k1, k2, k3;
    float *emb = make_identities(K, M, D, 0.3f, 42, truth);
    float *dist = malloc(sizeof(float) * N * N);
    CHECK(fn_distance_matrix(emb, N, D, dist) == FN_OK);
    float within = 0, between = 10;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            if (i == j) continue;
            if (truth[i] == truth[j] && dist[i * N + j] > within) within = dist[i * N + j];
            if (truth[i] != truth[j] && dist[i * N + j] < between) between = dist[i * N + j];
        }
    printf("  blobs: max within-identity distance %.3f, min between %.3f (threshold 0.8)\n", (double)within, (double)between);
    CHECK(within < 0.8f && between > 0.8f);
    CHECK(fn_chinese_whispers(dist, N, 0.8f, 20, 7, l1, &k1) == FN_OK);
    CHECK(fn_chinese_whispers(dist, N, 0.8f, 20, 7, l2, &k2) == FN_OK);
    CHECK(fn_chinese_whispers(dist, N, 0.8f, 20, 12345, l3, &k3) == FN_OK);
    printf("  chinese whispers on %d identities: %d / %d / %d clusters\n", K, k1, k2, k3);
    CHECK(k1 == K && k3 == K);
    CHECK(same_partition(l1, truth, N));
    CHECK(same_partition(l3, truth, N));
    CHECK(memcmp(l1, l2, sizeof l1) == 0); /* same seed: same labels */
    /* labels are numbered by size descending: all equal size here, so by first member */
    CHECK(l1[0] == 0);
    int seen = 0;
    for (int i = 0; i < N; i++) { CHECK(l1[i] <= seen); if (l1[i] == seen) seen++; }

    /* an ambiguous graph (threshold near the between-identity distances): the result depends
     * on the visiting order, so it must still be identical for one seed */
    float mid = 0.5f * (within + between) + 0.45f;
    int a[N], b[N], diff_seed_differs = 0;
    for (int seed = 1; seed <= 5; seed++) {
        CHECK(fn_chinese_whispers(dist, N, mid, 20, (uint64_t)seed, a, NULL) == FN_OK);
        CHECK(fn_chinese_whispers(dist, N, mid, 20, (uint64_t)seed, b, NULL) == FN_OK);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "seed %d: two runs differ", seed);
        if (seed > 1 && memcmp(a, l2, sizeof a)) diff_seed_differs = 1;
        memcpy(l2, a, sizeof a);
    }
    printf("  threshold %.2f: deterministic per seed (different seeds %s)\n", (double)mid,
           diff_seed_differs ? "gave different labels" : "agreed");

    /* an isolated face keeps its own cluster; zero iterations = every face alone */
    float d3[9] = { 0, 0.1f, 2, 0.1f, 0, 2, 2, 2, 0 };
    int l[3], k;
    CHECK(fn_chinese_whispers(d3, 3, 0.5f, 10, 1, l, &k) == FN_OK);
    CHECK(k == 2 && l[0] == 0 && l[1] == 0 && l[2] == 1);
    CHECK(fn_chinese_whispers(d3, 3, 0.5f, 0, 1, l, &k) == FN_OK);
    CHECK(k == 3 && l[0] == 0 && l[1] == 1 && l[2] == 2);
    CHECK(fn_chinese_whispers(d3, 3, 0.5f, -1, 1, l, &k) == FN_ERR_ARG);
    free(emb); free(dist);
}

static void test_helpers(void) {
    int labels[8] = { 0, 1, 1, 2, 2, 2, -1, 0 };
    int k = fn_clusters_drop_small(labels, 8, 2);
    int want[8] = { 0, 1, 1, 2, 2, 2, -1, 0 };
    CHECK(k == 3 && memcmp(labels, want, sizeof want) == 0);
    k = fn_clusters_drop_small(labels, 8, 3);
    int want3[8] = { -1, -1, -1, 0, 0, 0, -1, -1 };
    CHECK(k == 1 && memcmp(labels, want3, sizeof want3) == 0);
    float e[6] = { 0, 0, 3, 4, 0, 1 }, d[9];
    CHECK(fn_distance_matrix(e, 3, 2, d) == FN_OK);
    CHECK(d[1] == 5.0f && d[3] == 5.0f && d[2] == 1.0f && d[0] == 0 && fabsf(d[5] - sqrtf(18)) < 1e-6f);
}

int main(void) {
    test_dbscan_vs_sklearn();
    test_chinese_whispers();
    test_helpers();
    return tu_finish("test_cluster");
}
