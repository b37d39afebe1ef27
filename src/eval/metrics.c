/* metrics.c — facenet's LFW validation metrics, reproducing numpy/scipy/sklearn exactly.
 *
 * References (read for the arithmetic, not copied):
 *   facenet src/facenet.py  distance, calculate_roc, calculate_accuracy, calculate_val,
 *                           calculate_val_far;  src/lfw.py evaluate;
 *                           src/validate_on_lfw.py (AUC = sklearn.metrics.auc, EER = brentq)
 *   numpy    pairwise summation of add.reduce (identity 0.0 + pairwise_sum), axis-0 means
 *            summed row by row, np.interp's binary search, np.trapz
 *   scipy    interp1d(kind='slinear') = k=1 B-spline on knots [x0, x, x_last] (de Boor),
 *            Zeros/brentq.c (xtol 2e-12, rtol 4*eps, maxiter 100)
 *   sklearn  KFold(shuffle=False): the first n % k folds get one extra sample
 *
 * Every product-then-sum below must round twice, as numpy does: fused multiply-add would
 * change the last bits, so contraction is off for this file. */
#ifdef __clang__
#pragma clang fp contract(off)
#else
#pragma GCC optimize("fp-contract=off")
#endif
#include "metrics.h"

/* ---------------------------------------------------------------- numpy reductions */
static double pairwise_sum(const double *a, long n) {
    if (n < 8) {
        double res = -0.0; /* numpy starts at -0.0 to keep -0.0 sums */
        for (long i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        long i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    long n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double fn_np_sum(const double *a, long n) { return 0.0 + pairwise_sum(a, n); }

double fn_np_mean(const double *a, long n) { return fn_np_sum(a, n) / (double)n; }

double fn_np_std(const double *a, long n) {
    double mean = fn_np_mean(a, n);
    double *sq = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!sq) return NAN;
    for (long i = 0; i < n; i++) { double d = a[i] - mean; sq[i] = d * d; }
    double var = fn_np_sum(sq, n) / (double)n;
    free(sq);
    return sqrt(var);
}

/* ---------------------------------------------------------------- KFold */
void fn_kfold_test_range(int n, int n_folds, int fold, int *start, int *size) {
    int base = n / n_folds, extra = n % n_folds;
    *size = base + (fold < extra);
    *start = fold * base + (fold < extra ? fold : extra);
}

/* ---------------------------------------------------------------- interpolation */
/* The index j with xp[j] <= x < xp[j+1] (the last of equal xp), n when x > xp[n-1]. */
static int upper_index(double x, const double *xp, int n) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (x >= xp[mid]) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
}

double fn_np_interp(double x, const double *xp, const double *fp, int n) {
    if (x != x) return x;
    if (x > xp[n - 1]) return fp[n - 1];
    if (x < xp[0]) return fp[0];
    int j = upper_index(x, xp, n);
    if (j >= n - 1) return fp[n - 1];
    if (xp[j] == x) return fp[j];
    double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    double r = slope * (x - xp[j]) + fp[j];
    if (r != r) { /* numpy retries from the right end, then takes a flat segment's value */
        r = slope * (x - xp[j + 1]) + fp[j + 1];
        if (r != r && fp[j] == fp[j + 1]) r = fp[j];
    }
    return r;
}

double fn_slinear_eval(const double *x, const double *y, int n, double x0) {
    /* knots t[0] = x[0], t[i+1] = x[i], t[n+1] = x[n-1]; coefficients c = y; k = 1.
     * scipy's find_interval: the last l in [1, n-1] with t[l] <= x0 (t[n] caps it). */
#define KNOT(i) ((i) == 0 ? x[0] : (i) == n + 1 ? x[n - 1] : x[(i) - 1])
    int l = 2;
    while (l != n && x0 >= KNOT(l)) l++;
    l -= 1;
    double xa = KNOT(l), xb = KNOT(l + 1), h0 = 0.0, h1;
    if (xa == xb) h1 = 0.0;
    else {
        double w = 1.0 / (xb - xa);
        h0 += w * (xb - x0);
        h1 = w * (x0 - xa);
    }
#undef KNOT
    double out = 0.0;
    out = out + y[l - 1] * h0;
    out = out + y[l] * h1;
    return out;
}

/* ---------------------------------------------------------------- Brent's method */
fn_status fn_brentq(fn_scalar_fn f, void *ctx, double xa, double xb, double xtol, double rtol,
                    int maxiter, double *root) {
    double xpre = xa, xcur = xb, xblk = 0., fpre = 0., fcur = 0., fblk = 0., spre = 0., scur = 0.;
    FN_TRY(f(xpre, ctx, &fpre));
    FN_TRY(f(xcur, ctx, &fcur));
    if (fpre * fcur > 0) return fn_fail(FN_ERR_ARG, "brentq: f(a) and f(b) must have different signs");
    if (fpre == 0) { *root = xpre; return FN_OK; }
    if (fcur == 0) { *root = xcur; return FN_OK; }
    for (int i = 0; i < maxiter; i++) {
        if (fpre * fcur < 0) {
            xblk = xpre; fblk = fpre;
            spre = scur = xcur - xpre;
        }
        if (fabs(fblk) < fabs(fcur)) {
            xpre = xcur; xcur = xblk; xblk = xpre;
            fpre = fcur; fcur = fblk; fblk = fpre;
        }
        double delta = (xtol + rtol * fabs(xcur)) / 2;
        double sbis = (xblk - xcur) / 2;
        if (fcur == 0 || fabs(sbis) < delta) { *root = xcur; return FN_OK; }
        if (fabs(spre) > delta && fabs(fcur) < fabs(fpre)) {
            double stry;
            if (xpre == xblk) {
                stry = -fcur * (xcur - xpre) / (fcur - fpre); /* secant */
            } else {                                           /* inverse quadratic */
                double dpre = (fpre - fcur) / (xpre - xcur);
                double dblk = (fblk - fcur) / (xblk - xcur);
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre));
            }
            double lim = 3 * fabs(sbis) - delta;
            if (2 * fabs(stry) < (fabs(spre) < lim ? fabs(spre) : lim)) { spre = scur; scur = stry; }
            else { spre = sbis; scur = sbis; }
        } else {
            spre = sbis; scur = sbis;
        }
        xpre = xcur; fpre = fcur;
        if (fabs(scur) > delta) xcur += scur;
        else xcur += (sbis > 0 ? delta : -delta);
        FN_TRY(f(xcur, ctx, &fcur));
    }
    *root = xcur;
    return fn_fail(FN_ERR_LIMIT, "brentq: no convergence in %d iterations", maxiter);
}

/* ---------------------------------------------------------------- AUC */
fn_status fn_auc_trapz(const double *x, const double *y, int n, double *auc) {
    if (n < 2) return fn_fail(FN_ERR_ARG, "auc: at least 2 points are needed, got %d", n);
    int any_neg = 0, all_nonpos = 1;
    for (int i = 0; i + 1 < n; i++) {
        double dx = x[i + 1] - x[i];
        if (dx < 0) any_neg = 1;
        if (!(dx <= 0)) all_nonpos = 0;
    }
    double direction = 1;
    if (any_neg) {
        if (!all_nonpos) return fn_fail(FN_ERR_ARG, "auc: x is neither increasing nor decreasing");
        direction = -1;
    }
    double *terms = malloc(sizeof(double) * (size_t)(n - 1));
    if (!terms) return fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; i + 1 < n; i++) terms[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
    *auc = direction * fn_np_sum(terms, n - 1);
    free(terms);
    return FN_OK;
}

/* ---------------------------------------------------------------- distances */
double fn_pair_distance(const double *a, const double *b, int dim, fn_metric metric) {
    if (dim <= 0) return metric == FN_METRIC_COSINE ? NAN : 0.0;
    double buf[256], *t = dim <= 256 ? buf : malloc(sizeof(double) * (size_t)dim);
    if (!t) return NAN;
    double dist;
    if (metric == FN_METRIC_COSINE) {
        for (int d = 0; d < dim; d++) t[d] = a[d] * b[d];
        double dot = fn_np_sum(t, dim);
        for (int d = 0; d < dim; d++) t[d] = a[d] * a[d];
        double na = sqrt(fn_np_sum(t, dim));
        for (int d = 0; d < dim; d++) t[d] = b[d] * b[d];
        double nb = sqrt(fn_np_sum(t, dim));
        double norm = na * nb;
        dist = acos(dot / norm) / M_PI;
    } else {
        for (int d = 0; d < dim; d++) { double diff = a[d] - b[d]; t[d] = diff * diff; }
        dist = fn_np_sum(t, dim);
    }
    if (t != buf) free(t);
    return dist;
}

/* ---------------------------------------------------------------- the protocol */
void fn_eval_params_default(fn_eval_params *p) {
    p->n_folds = 10;
    p->metric = FN_METRIC_EUCLIDEAN_SQ;
    p->subtract_mean = 0;
    p->far_target = 1e-3;
}

void fn_eval_result_free(fn_eval_result *r) {
    if (!r) return;
    free(r->fold_accuracy);
    free(r->fold_best_index);
    r->fold_accuracy = r->fold_threshold = r->fold_val = r->fold_far = r->fold_val_threshold = NULL;
    r->fold_best_index = NULL;
}

typedef struct { int tp, fp, tn, fn; } confusion;

/* The distances of one subset (training or test folds) split by label and sorted, so the
 * confusion counts of np.less(dist, threshold) at any threshold are two binary searches.
 * NaN sorts last: NaN < t is false, as in numpy. */
typedef struct { double *same, *diff; int n_same, n_diff; } sorted_split;

static int cmp_dist(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    if (x != x) return y != y ? 0 : 1;
    if (y != y) return -1;
    return (x > y) - (x < y);
}

/* pairs [lo, hi) except [skip_lo, skip_hi); buf holds hi - lo doubles */
static void split_sort(const double *dist, const uint8_t *issame, int lo, int hi, int skip_lo, int skip_hi,
                       double *buf, sorted_split *out) {
    int ns = 0, nd = 0;
    for (int i = lo; i < hi; i++) if (!(i >= skip_lo && i < skip_hi)) ns += issame[i] != 0;
    out->same = buf; out->diff = buf + ns;
    ns = 0;
    for (int i = lo; i < hi; i++) {
        if (i >= skip_lo && i < skip_hi) continue;
        if (issame[i]) out->same[ns++] = dist[i]; else out->diff[nd++] = dist[i];
    }
    out->n_same = ns; out->n_diff = nd;
    qsort(out->same, (size_t)ns, sizeof(double), cmp_dist);
    qsort(out->diff, (size_t)nd, sizeof(double), cmp_dist);
}

/* how many of a[0..n) are < t (a sorted, NaN last) */
static int count_below(const double *a, int n, double t) {
    int lo = 0, hi = n;
    while (lo < hi) { int mid = lo + (hi - lo) / 2; if (a[mid] < t) lo = mid + 1; else hi = mid; }
    return lo;
}

static confusion count(const sorted_split *sp, double threshold) {
    confusion c;
    c.tp = count_below(sp->same, sp->n_same, threshold);
    c.fn = sp->n_same - c.tp;
    c.fp = count_below(sp->diff, sp->n_diff, threshold);
    c.tn = sp->n_diff - c.fp;
    return c;
}

/* calculate_accuracy: tpr/fpr are 0 when their denominator is. */
static void accuracy_of(confusion c, double *tpr, double *fpr, double *acc) {
    *tpr = (c.tp + c.fn == 0) ? 0.0 : (double)c.tp / (double)(c.tp + c.fn);
    *fpr = (c.fp + c.tn == 0) ? 0.0 : (double)c.fp / (double)(c.fp + c.tn);
    *acc = (double)(c.tp + c.tn) / (double)(c.tp + c.fp + c.tn + c.fn);
}

/* calculate_val_far: IEEE division (0/0 = NaN) where facenet's Python float would raise. */
static void val_far_of(confusion c, double *val, double *far) {
    *val = (double)c.tp / (double)(c.tp + c.fn);
    *far = (double)c.fp / (double)(c.fp + c.tn);
}

typedef struct { const double *fpr, *tpr; int n; } eer_ctx;

/* validate_on_lfw: 1 - x - interp1d(fpr, tpr)(x); interp1d raises outside [fpr0, fpr_last]. */
static fn_status eer_fn(double x, void *vctx, double *fx) {
    const eer_ctx *c = vctx;
    if (x < c->fpr[0] || x > c->fpr[c->n - 1])
        return fn_fail(FN_ERR_ARG, "EER: the ROC's FPR range [%g, %g] does not cover %g",
                       c->fpr[0], c->fpr[c->n - 1], x);
    *fx = 1. - x - fn_np_interp(x, c->fpr, c->tpr, c->n);
    return FN_OK;
}

/* The shared core. dist_all: n_pairs distances, recomputed per fold when emb != NULL and
 * subtract_mean (the mean depends on the fold). */
static fn_status evaluate(const double *emb, int dim, const double *given_dist, int n_pairs,
                          const uint8_t *issame, const fn_eval_params *params_in,
                          fn_eval_result *out) {
    fn_eval_params params;
    if (params_in) params = *params_in; else fn_eval_params_default(&params);
    memset(out, 0, sizeof *out);
    const int nf = params.n_folds;
    if (n_pairs < 1) return fn_fail(FN_ERR_ARG, "evaluate: no pairs");
    if (nf < 2 || nf > n_pairs)
        return fn_fail(FN_ERR_ARG, "evaluate: %d folds need 2 <= folds <= pairs (%d)", nf, n_pairs);
    if (emb && dim < 1) return fn_fail(FN_ERR_ARG, "evaluate: embedding dimension %d", dim);
    if (emb && params.metric != FN_METRIC_EUCLIDEAN_SQ && params.metric != FN_METRIC_COSINE)
        return fn_fail(FN_ERR_ARG, "evaluate: unknown distance metric %d", (int)params.metric);
    if (!(params.far_target >= 0 && params.far_target <= 1))
        return fn_fail(FN_ERR_ARG, "evaluate: FAR target %g outside [0, 1]", params.far_target);

    out->n_pairs = n_pairs;
    out->n_folds = nf;
    out->fold_accuracy = calloc((size_t)nf * 5, sizeof(double));
    out->fold_best_index = calloc((size_t)nf, sizeof(int));
    double *dist = emb ? malloc(sizeof(double) * (size_t)n_pairs) : NULL;
    double *shifted = emb ? malloc(sizeof(double) * 2 * (size_t)dim) : NULL;
    double *mean = emb ? malloc(sizeof(double) * (size_t)dim) : NULL;
    double *far_train = malloc(sizeof(double) * FN_EVAL_VAL_THRESHOLDS);
    double *val_thresholds = malloc(sizeof(double) * FN_EVAL_VAL_THRESHOLDS);
    double *tprs = malloc(sizeof(double) * (size_t)nf * FN_EVAL_ROC_THRESHOLDS);
    double *sort_buf = malloc(sizeof(double) * 2 * (size_t)n_pairs);
    double *fprs = malloc(sizeof(double) * (size_t)nf * FN_EVAL_ROC_THRESHOLDS);
    fn_status s = FN_OK;
    if (!out->fold_accuracy || !out->fold_best_index || (emb && (!dist || !shifted || !mean)) ||
        !far_train || !val_thresholds || !tprs || !fprs || !sort_buf) {
        s = fn_fail(FN_ERR_NOMEM, "out of memory");
        goto done;
    }
    out->fold_threshold = out->fold_accuracy + nf;
    out->fold_val = out->fold_accuracy + 2 * nf;
    out->fold_far = out->fold_accuracy + 3 * nf;
    out->fold_val_threshold = out->fold_accuracy + 4 * nf;
    for (int t = 0; t < FN_EVAL_VAL_THRESHOLDS; t++) val_thresholds[t] = t * 0.001; /* = np.arange */

    for (int f = 0; f < nf; f++) {
        int ts, tn;
        fn_kfold_test_range(n_pairs, nf, f, &ts, &tn);
        const int te = ts + tn;
        /* distances for this fold */
        if (emb) {
            if (params.subtract_mean) {
                /* np.mean(np.concatenate([e1[train], e2[train]]), axis=0): rows summed in
                 * order, all first images, then all second images */
                for (int d = 0; d < dim; d++) mean[d] = 0.0;
                for (int side = 0; side < 2; side++)
                    for (int i = 0; i < n_pairs; i++) {
                        if (i >= ts && i < te) continue;
                        const double *row = emb + ((size_t)2 * i + side) * dim;
                        for (int d = 0; d < dim; d++) mean[d] = mean[d] + row[d];
                    }
                const double count_rows = 2.0 * (n_pairs - tn);
                for (int d = 0; d < dim; d++) mean[d] = mean[d] / count_rows;
            }
            for (int i = 0; i < n_pairs; i++) {
                const double *a = emb + (size_t)2 * i * dim, *b = a + dim;
                if (params.subtract_mean) {
                    for (int d = 0; d < dim; d++) { shifted[d] = a[d] - mean[d]; shifted[dim + d] = b[d] - mean[d]; }
                    a = shifted; b = shifted + dim;
                }
                dist[i] = fn_pair_distance(a, b, dim, params.metric);
            }
        }
        const double *d_all = emb ? dist : given_dist;
        sorted_split train, test;
        split_sort(d_all, issame, 0, n_pairs, ts, te, sort_buf, &train);
        split_sort(d_all, issame, ts, te, -1, -1, sort_buf + n_pairs, &test);
        /* calculate_roc: best threshold on the training folds (first maximum, np.argmax) */
        int best = 0;
        double best_acc = -1;
        for (int t = 0; t < FN_EVAL_ROC_THRESHOLDS; t++) {
            double tpr, fpr, acc;
            accuracy_of(count(&train, t * 0.01), &tpr, &fpr, &acc);
            if (acc > best_acc) { best_acc = acc; best = t; }
        }
        for (int t = 0; t < FN_EVAL_ROC_THRESHOLDS; t++) {
            double acc;
            accuracy_of(count(&test, t * 0.01),
                        &tprs[(size_t)f * FN_EVAL_ROC_THRESHOLDS + t],
                        &fprs[(size_t)f * FN_EVAL_ROC_THRESHOLDS + t], &acc);
        }
        double tpr_unused, fpr_unused;
        accuracy_of(count(&test, best * 0.01), &tpr_unused, &fpr_unused,
                    &out->fold_accuracy[f]);
        out->fold_best_index[f] = best;
        out->fold_threshold[f] = best * 0.01;

        /* calculate_val: FAR on the training folds over the 0.001 grid */
        double max_far = -INFINITY;
        int has_nan = 0;
        for (int t = 0; t < FN_EVAL_VAL_THRESHOLDS; t++) {
            double val_unused;
            val_far_of(count(&train, val_thresholds[t]), &val_unused,
                       &far_train[t]);
            if (far_train[t] != far_train[t]) has_nan = 1;
            else if (far_train[t] > max_far) max_far = far_train[t];
        }
        double threshold = 0.0;
        /* np.max propagates NaN, and NaN >= target is false. FAR grows with the threshold,
         * so interp1d's stable argsort leaves far_train in place. */
        if (!has_nan && max_far >= params.far_target)
            threshold = fn_slinear_eval(far_train, val_thresholds, FN_EVAL_VAL_THRESHOLDS,
                                        params.far_target);
        out->fold_val_threshold[f] = threshold;
        val_far_of(count(&test, threshold), &out->fold_val[f], &out->fold_far[f]);
    }

    /* np.mean(tprs, 0): rows added in order, then divided */
    for (int t = 0; t < FN_EVAL_ROC_THRESHOLDS; t++) {
        double st = 0.0, sf = 0.0;
        for (int f = 0; f < nf; f++) {
            st = st + tprs[(size_t)f * FN_EVAL_ROC_THRESHOLDS + t];
            sf = sf + fprs[(size_t)f * FN_EVAL_ROC_THRESHOLDS + t];
        }
        out->tpr[t] = st / nf;
        out->fpr[t] = sf / nf;
    }
    out->accuracy = fn_np_mean(out->fold_accuracy, nf);
    out->accuracy_std = fn_np_std(out->fold_accuracy, nf);
    out->threshold = fn_np_mean(out->fold_threshold, nf);
    out->val = fn_np_mean(out->fold_val, nf);
    out->val_std = fn_np_std(out->fold_val, nf);
    out->far = fn_np_mean(out->fold_far, nf);
    s = fn_auc_trapz(out->fpr, out->tpr, FN_EVAL_ROC_THRESHOLDS, &out->auc);
    if (s != FN_OK) goto done;
    eer_ctx ec = {out->fpr, out->tpr, FN_EVAL_ROC_THRESHOLDS};
    if (fn_brentq(eer_fn, &ec, 0., 1., 2e-12, 4 * 2.220446049250313e-16, 100, &out->eer) != FN_OK) {
        out->eer = NAN; /* scipy raises: undefined EER is reported as NaN */
        fn_clear_error();
    }
done:
    free(dist); free(shifted); free(mean); free(far_train); free(val_thresholds);
    free(tprs); free(fprs); free(sort_buf);
    if (s != FN_OK) fn_eval_result_free(out);
    return s;
}

fn_status fn_evaluate_embeddings(const double *emb, int n_pairs, int dim, const uint8_t *issame,
                                 const fn_eval_params *params, fn_eval_result *out) {
    if (!emb || !issame || !out) return fn_fail(FN_ERR_ARG, "evaluate: NULL argument");
    return evaluate(emb, dim, NULL, n_pairs, issame, params, out);
}

fn_status fn_evaluate_distances(const double *dist, int n_pairs, const uint8_t *issame,
                                const fn_eval_params *params, fn_eval_result *out) {
    if (!dist || !issame || !out) return fn_fail(FN_ERR_ARG, "evaluate: NULL argument");
    return evaluate(NULL, 0, dist, n_pairs, issame, params, out);
}
