/* test_eval.c — facenet's LFW metrics against numpy/scipy/sklearn.
 *
 * tests/fixtures/eval/eval_cases.json (tools/gen_eval_fixtures.py) holds facenet's numbers
 * for seeded embedding and distance sets that this test regenerates with the same
 * splitmix64 stream. Tolerances (the issue's): accuracy, VAL, FAR and the per-fold values
 * 1e-12; AUC and EER 1e-9. Expected NaN (JSON null) must be NaN here. The arithmetic
 * mirrors numpy's order, so the measured differences are normally exactly 0 — except that
 * numpy's arccos on AVX-512 machines is SVML's (within an ulp of libm's), which could only
 * matter if a cosine distance sat within an ulp of a threshold.
 * Also: pairs-file parsing (skips, png/jpg, malformed lines), argument errors, and the
 * numpy/scipy building blocks on hand-checked inputs. */
#include "core.h"
#include "json.h"
#include "eval/metrics.h"
#include "test_util.h"
#include <sys/stat.h>
#include <unistd.h>

static double max_diff_seen_12 = 0, max_diff_seen_9 = 0;

/* |a - b| <= tol, where NaN only matches NaN (expected JSON null) */
static void check_value(const char *cas, const char *what, double got, const fn_json *want, double tol) {
    tu_checks++;
    int want_nan = !want || want->type == FN_JSON_NULL;
    double w = want_nan ? NAN : want->number;
    int ok;
    double d = 0;
    if (want_nan || got != got) ok = want_nan && got != got;
    else {
        d = fabs(got - w);
        ok = d <= tol;
        if (tol <= 1e-12 && d > max_diff_seen_12) max_diff_seen_12 = d;
        if (tol > 1e-12 && d > max_diff_seen_9) max_diff_seen_9 = d;
    }
    if (!ok) {
        tu_failures++;
        fprintf(stderr, "FAIL %s %s: got %.17g want %.17g (diff %.3g, tol %.3g)\n", cas, what, got, w, d, tol);
    }
}

static double rng_uniform(fn_rng *r) { return (double)(fn_rng_next(r) >> 40) * (1.0 / 16777216.0); }
static uint64_t rng_below(fn_rng *r, uint64_t n) { return (fn_rng_next(r) >> 33) % n; }

static double num(const fn_json *o, const char *k) {
    const fn_json *v = fn_json_get(o, k);
    FN_ASSERT(v && v->type == FN_JSON_NUMBER);
    return v->number;
}

/* gen_embeddings / gen_distances of tools/gen_eval_fixtures.py */
static void gen_embeddings(const fn_json *c, int n, int dim, double *emb, uint8_t *issame) {
    fn_rng rng = {(uint64_t)num(c, "seed")};
    double scale = num(c, "scale"), noise = num(c, "noise"), same_frac = num(c, "same_frac");
    for (int i = 0; i < n; i++) {
        int same = rng_uniform(&rng) < same_frac;
        issame[i] = (uint8_t)same;
        double *a = emb + (size_t)2 * i * dim, *b = a + dim;
        for (int d = 0; d < dim; d++) a[d] = (rng_uniform(&rng) - 0.5) * scale;
        for (int d = 0; d < dim; d++)
            b[d] = same ? a[d] + (rng_uniform(&rng) - 0.5) * noise : (rng_uniform(&rng) - 0.5) * scale;
    }
}

static int in_range_rule(const fn_json *rules, int i, int want_cols, double *vals) {
    int hit = 0;
    for (int r = 0; rules && r < rules->n; r++) {
        const fn_json *rule = fn_json_at(rules, r);
        if (i >= rule->items[0].number && i < rule->items[1].number) {
            for (int k = 2; k < want_cols; k++) vals[k - 2] = rule->items[k].number;
            hit = 1;
        }
    }
    return hit;
}

static void gen_distances(const fn_json *c, int n, double *dist, uint8_t *issame) {
    fn_rng rng = {(uint64_t)num(c, "seed")};
    double same_frac = num(c, "same_frac");
    const fn_json *same_k = fn_json_get(c, "same_k"), *diff_k = fn_json_get(c, "diff_k");
    const fn_json *force = fn_json_get(c, "force_same"), *over = fn_json_get(c, "diff_k_override");
    for (int i = 0; i < n; i++) {
        int same = rng_uniform(&rng) < same_frac;
        double v[2];
        if (in_range_rule(force, i, 3, v)) same = v[0] != 0;
        issame[i] = (uint8_t)same;
        const fn_json *k = same ? same_k : diff_k;
        long lo = (long)k->items[0].number, hi = (long)k->items[1].number;
        if (!same && in_range_rule(over, i, 4, v)) { lo = (long)v[0]; hi = (long)v[1]; }
        dist[i] = (double)(lo + (long)rng_below(&rng, (uint64_t)(hi - lo))) * 0.01;
    }
}

static void run_case(const fn_json *c) {
    const char *name = fn_json_get(c, "name")->string;
    const char *kind = fn_json_get(c, "kind")->string;
    const int n = (int)num(c, "n_pairs");
    const fn_json *exp = fn_json_get(c, "expected"), *probe = fn_json_get(c, "probe");
    fn_eval_params p;
    fn_eval_params_default(&p);
    p.n_folds = (int)num(c, "n_folds");
    uint8_t *issame = malloc((size_t)n);
    fn_eval_result r;
    fn_status s;
    double t0 = fn_now();
    if (!strcmp(kind, "emb")) {
        const int dim = (int)num(c, "dim");
        double *emb = malloc(sizeof(double) * 2 * (size_t)n * dim);
        gen_embeddings(c, n, dim, emb, issame);
        CHECK_MSG(emb[0] == probe->items[0].number && emb[dim - 1] == probe->items[1].number &&
                  emb[(size_t)2 * n * dim - 1] == probe->items[2].number, "%s: regenerated inputs differ", name);
        p.metric = (fn_metric)(int)num(c, "metric");
        p.subtract_mean = (int)num(c, "subtract_mean");
        s = fn_evaluate_embeddings(emb, n, dim, issame, &p, &r);
        free(emb);
    } else {
        double *dist = malloc(sizeof(double) * (size_t)n);
        gen_distances(c, n, dist, issame);
        CHECK_MSG(dist[0] == probe->items[0].number && dist[1] == probe->items[1].number &&
                  dist[n - 1] == probe->items[2].number, "%s: regenerated inputs differ", name);
        s = fn_evaluate_distances(dist, n, issame, &p, &r);
        free(dist);
    }
    double ms = (fn_now() - t0) * 1e3;
    int n_same = 0;
    for (int i = 0; i < n; i++) n_same += issame[i];
    CHECK_MSG(n_same == (int)num(c, "n_same"), "%s: %d same pairs, want %d", name, n_same, (int)num(c, "n_same"));
    free(issame);
    CHECK_MSG(s == FN_OK, "%s: evaluate failed: %s", name, fn_last_error());
    if (s != FN_OK) return;
    check_value(name, "accuracy", r.accuracy, fn_json_get(exp, "accuracy"), 1e-12);
    check_value(name, "accuracy_std", r.accuracy_std, fn_json_get(exp, "accuracy_std"), 1e-12);
    check_value(name, "val", r.val, fn_json_get(exp, "val"), 1e-12);
    check_value(name, "val_std", r.val_std, fn_json_get(exp, "val_std"), 1e-12);
    check_value(name, "far", r.far, fn_json_get(exp, "far"), 1e-12);
    check_value(name, "auc", r.auc, fn_json_get(exp, "auc"), 1e-9);
    check_value(name, "eer", r.eer, fn_json_get(exp, "eer"), 1e-9);
    const char *fold_keys[] = {"fold_accuracy", "fold_val", "fold_far", "fold_val_threshold"};
    const double *fold_vals[] = {r.fold_accuracy, r.fold_val, r.fold_far, r.fold_val_threshold};
    for (int k = 0; k < 4; k++) {
        const fn_json *arr = fn_json_get(exp, fold_keys[k]);
        CHECK(arr && arr->n == r.n_folds);
        for (int f = 0; arr && f < arr->n && f < r.n_folds; f++)
            check_value(name, fold_keys[k], fold_vals[k][f], fn_json_at(arr, f), 1e-12);
    }
    const fn_json *best = fn_json_get(exp, "fold_best_index");
    for (int f = 0; f < r.n_folds; f++)
        CHECK_MSG((int)best->items[f].number == r.fold_best_index[f], "%s fold %d best threshold index %d, want %d",
                  name, f, r.fold_best_index[f], (int)best->items[f].number);
    const fn_json *tpr = fn_json_get(exp, "tpr"), *fpr = fn_json_get(exp, "fpr");
    CHECK(tpr->n == FN_EVAL_ROC_THRESHOLDS && fpr->n == FN_EVAL_ROC_THRESHOLDS);
    for (int t = 0; t < FN_EVAL_ROC_THRESHOLDS && t < tpr->n; t++) {
        check_value(name, "tpr", r.tpr[t], fn_json_at(tpr, t), 1e-12);
        check_value(name, "fpr", r.fpr[t], fn_json_at(fpr, t), 1e-12);
    }
    printf("  %-24s acc %.5f+-%.5f val %.5f+-%.5f far %.5f auc %.6f eer %.6f  (%.1f ms)\n", name,
           r.accuracy, r.accuracy_std, r.val, r.val_std, r.far, r.auc, r.eer, ms);
    fn_eval_result_free(&r);
}

static void test_fixture_cases(void) {
    const char *path = FN_SOURCE_DIR "/tests/fixtures/eval/eval_cases.json";
    uint8_t *text;
    size_t size;
    fn_json *doc = NULL;
    fn_status s = fn_read_file(path, &text, &size);
    CHECK_MSG(s == FN_OK, "cannot read %s: %s", path, fn_last_error());
    if (s != FN_OK) return;
    CHECK_MSG(fn_json_parse((const char *)text, size, &doc) == FN_OK, "bad fixture: %s", fn_last_error());
    free(text);
    if (!doc) return;
    const fn_json *cases = fn_json_get(doc, "cases");
    CHECK(cases && cases->n >= 10);
    printf("facenet metrics vs numpy/scipy/sklearn (%d cases):\n", cases ? cases->n : 0);
    for (int i = 0; cases && i < cases->n; i++) run_case(fn_json_at(cases, i));
    printf("  max |diff| of values checked at 1e-12: %.3g; at 1e-9 (AUC, EER): %.3g\n",
           max_diff_seen_12, max_diff_seen_9);
    fn_json_free(doc);
}

/* ---------------------------------------------------------------- building blocks */
static fn_status f_sq2(double x, void *ctx, double *fx) { (void)ctx; *fx = x * x - 2; return FN_OK; }

static void test_building_blocks(void) {
    /* numpy's pairwise sum: identity 0.0, 8-wide blocks. These values make sequential and
     * pairwise orders disagree: 1e16 + 1 + 1 ... */
    double a[9] = {1e16, 1, 1, 1, 1, 1, 1, 1, -1e16};
    /* numpy gives 6.0 here, a sequential sum 0.0 */
    CHECK_MSG(fn_np_sum(a, 9) == 6.0, "pairwise sum %g, want 6", fn_np_sum(a, 9));
    double small[3] = {-0.0, -0.0, -0.0};
    CHECK(fn_np_sum(small, 3) == 0.0 && !signbit(fn_np_sum(small, 3))); /* 0.0 + -0.0 */
    double v[4] = {1, 2, 3, 4};
    CHECK(fn_np_mean(v, 4) == 2.5);
    CHECK(fabs(fn_np_std(v, 4) - sqrt(1.25)) == 0);

    /* KFold(10) on 537: the first 7 folds have 54, the rest 53 */
    int st, sz, total = 0;
    for (int f = 0; f < 10; f++) { fn_kfold_test_range(537, 10, f, &st, &sz); CHECK(st == total); total += sz; CHECK(sz == (f < 7 ? 54 : 53)); }
    CHECK(total == 537);

    /* np.interp with duplicates: the last of the equal run */
    double xp[5] = {0, 0, 0.5, 0.5, 1}, fp[5] = {0, 0.2, 0.4, 0.6, 1};
    CHECK(fn_np_interp(0.0, xp, fp, 5) == 0.2);
    CHECK(fn_np_interp(0.5, xp, fp, 5) == 0.6);
    CHECK(fn_np_interp(0.25, xp, fp, 5) == 0.2 + (0.4 - 0.2) / 0.5 * 0.25);
    CHECK(fn_np_interp(1.0, xp, fp, 5) == 1.0);

    /* slinear B-spline: interior point, duplicated x at the query, end point */
    double xs[6] = {0, 0, 0.001, 0.001, 0.002, 0.002}, ys[6] = {0, 1, 2, 3, 4, 5};
    CHECK(fabs(fn_slinear_eval(xs, ys, 6, 0.0015) - 3.5) < 1e-12); /* scipy: 3.5 */
    CHECK(fn_slinear_eval(xs, ys, 6, 0.001) == 3.0);
    CHECK_MSG(fn_slinear_eval(xs, ys, 6, 0.002) == 0.0, "x == last duplicated knot: scipy's de Boor gives 0");

    /* Brent: sqrt(2) within xtol */
    double root;
    CHECK(fn_brentq(f_sq2, NULL, 0, 2, 2e-12, 4 * 2.220446049250313e-16, 100, &root) == FN_OK);
    CHECK_MSG(fabs(root - sqrt(2.0)) < 4e-12, "brentq root %.17g", root);
    CHECK(fn_brentq(f_sq2, NULL, 2, 3, 2e-12, 4 * 2.220446049250313e-16, 100, &root) == FN_ERR_ARG);

    /* sklearn auc: decreasing x gives a positive area; zig-zag is an error */
    double x1[3] = {1, 0.5, 0}, y1[3] = {1, 1, 1}, auc;
    CHECK(fn_auc_trapz(x1, y1, 3, &auc) == FN_OK && auc == 1.0);
    double x2[3] = {0, 1, 0.5};
    CHECK(fn_auc_trapz(x2, y1, 3, &auc) == FN_ERR_ARG);

    /* distances */
    double e1[3] = {1, 0, 0}, e2[3] = {0, 1, 0};
    CHECK(fn_pair_distance(e1, e2, 3, FN_METRIC_EUCLIDEAN_SQ) == 2.0);
    CHECK(fabs(fn_pair_distance(e1, e2, 3, FN_METRIC_COSINE) - 0.5) < 1e-15);
}

static void test_argument_errors(void) {
    double dist[4] = {0.1, 0.5, 0.1, 0.5};
    uint8_t same[4] = {1, 0, 1, 0};
    fn_eval_params p;
    fn_eval_params_default(&p);
    CHECK(p.n_folds == 10 && p.metric == FN_METRIC_EUCLIDEAN_SQ && !p.subtract_mean && p.far_target == 1e-3);
    fn_eval_result r;
    CHECK(fn_evaluate_distances(dist, 4, same, &p, &r) == FN_ERR_ARG); /* 10 folds > 4 pairs */
    CHECK(strstr(fn_last_error(), "folds") != NULL);
    p.n_folds = 1;
    CHECK(fn_evaluate_distances(dist, 4, same, &p, &r) == FN_ERR_ARG);
    p.n_folds = 2;
    CHECK(fn_evaluate_distances(dist, 0, same, &p, &r) == FN_ERR_ARG);
    CHECK(fn_evaluate_distances(NULL, 4, same, &p, &r) == FN_ERR_ARG);
    p.metric = (fn_metric)7;
    double emb[16] = {0};
    CHECK(fn_evaluate_embeddings(emb, 4, 2, same, &p, &r) == FN_ERR_ARG);
    p.metric = FN_METRIC_EUCLIDEAN_SQ;
    CHECK(fn_evaluate_distances(dist, 4, same, &p, &r) == FN_OK);
    CHECK(r.accuracy == 1.0 && r.n_folds == 2 && r.threshold == 0.11); /* first best: 0.1 < 0.11 */
    fn_eval_result_free(&r);
    fn_eval_result_free(&r); /* idempotent */
}

/* ---------------------------------------------------------------- pairs files */
static void touch(const char *path) { FILE *f = fopen(path, "wb"); if (f) { fputs("x", f); fclose(f); } }

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void test_pairs(void) {
    char dir[] = "/tmp/fn_test_eval_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[512], q[512];
    snprintf(p, sizeof p, "%s/Ann", dir); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/Bob_Lee", dir); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/Ann/Ann_0001.jpg", dir); touch(p);
    snprintf(p, sizeof p, "%s/Ann/Ann_0002.jpg", dir); touch(p);
    snprintf(p, sizeof p, "%s/Ann/Ann_0002.png", dir); touch(p); /* png wins */
    snprintf(p, sizeof p, "%s/Bob_Lee/Bob_Lee_0003.jpg", dir); touch(p);
    snprintf(q, sizeof q, "%s/pairs.txt", dir);
    write_text(q, "10\t300\nAnn\t1\t2\nAnn 1 3\n\nAnn\t1\tBob_Lee\t3\r\nBob_Lee 3 Nobody 1\n");
    fn_lfw_pairs pairs;
    fn_status s = fn_lfw_read_pairs(q, dir, 0, &pairs);
    CHECK_MSG(s == FN_OK, "read pairs: %s", fn_last_error());
    if (s == FN_OK) {
        CHECK(pairs.n_pairs == 2 && pairs.n_skipped == 2);
        snprintf(p, sizeof p, "%s/Ann/Ann_0002.png", dir);
        CHECK(pairs.n_pairs == 2 && !strcmp(pairs.paths[1], p));
        snprintf(p, sizeof p, "%s/Bob_Lee/Bob_Lee_0003.jpg", dir);
        CHECK(pairs.n_pairs == 2 && !strcmp(pairs.paths[3], p));
        CHECK(pairs.n_pairs == 2 && pairs.issame[0] == 1 && pairs.issame[1] == 0);
        printf("pairs file: %d kept, %d skipped (want 2, 2)\n", pairs.n_pairs, pairs.n_skipped);
        fn_lfw_pairs_free(&pairs);
    }
    /* --limit-pairs counts listed pairs, before skipping */
    CHECK(fn_lfw_read_pairs(q, dir, 2, &pairs) == FN_OK && pairs.n_pairs == 1 && pairs.n_skipped == 1);
    fn_lfw_pairs_free(&pairs);
    /* a count header (pairsDevTest.txt style) is skipped just the same */
    write_text(q, "1\nAnn 1 2\n");
    CHECK(fn_lfw_read_pairs(q, dir, 0, &pairs) == FN_OK && pairs.n_pairs == 1);
    fn_lfw_pairs_free(&pairs);
    write_text(q, "10 300\nAnn 1\n");
    CHECK(fn_lfw_read_pairs(q, dir, 0, &pairs) == FN_ERR_FORMAT && strstr(fn_last_error(), ":2:"));
    write_text(q, "10 300\nAnn x 2\n");
    CHECK(fn_lfw_read_pairs(q, dir, 0, &pairs) == FN_ERR_FORMAT);
    write_text(q, "10 300\nAnn 1 ../x 2\n");
    CHECK(fn_lfw_read_pairs(q, dir, 0, &pairs) == FN_ERR_FORMAT);
    write_text(q, "");
    CHECK(fn_lfw_read_pairs(q, dir, 0, &pairs) == FN_ERR_FORMAT);
    snprintf(p, sizeof p, "%s/missing.txt", dir);
    CHECK(fn_lfw_read_pairs(p, dir, 0, &pairs) == FN_ERR_IO);

    /* the real LFW pairs files */
    fn_status s2 = fn_lfw_read_pairs(FN_SHARED_DIR "/data/lfw/pairs.txt", FN_SHARED_DIR "/data/lfw/deepfunneled", 0, &pairs);
    CHECK_MSG(s2 == FN_OK, "LFW pairs.txt: %s", fn_last_error());
    if (s2 == FN_OK) {
        int same = 0;
        for (int i = 0; i < pairs.n_pairs; i++) same += pairs.issame[i];
        printf("LFW pairs.txt: %d pairs (%d same), %d skipped\n", pairs.n_pairs, same, pairs.n_skipped);
        CHECK(pairs.n_pairs + pairs.n_skipped == 6000);
        CHECK(pairs.n_pairs == 6000 && same == 3000);
        fn_lfw_pairs_free(&pairs);
    }
    s2 = fn_lfw_read_pairs(FN_SHARED_DIR "/data/lfw/pairsDevTest.txt", FN_SHARED_DIR "/data/lfw/deepfunneled", 0, &pairs);
    CHECK(s2 == FN_OK && pairs.n_pairs + pairs.n_skipped == 1000);
    fn_lfw_pairs_free(&pairs);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    test_building_blocks();
    test_argument_errors();
    test_pairs();
    test_fixture_cases();
    return tu_finish("test_eval");
}
