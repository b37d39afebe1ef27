/* metrics.h — internal building blocks of facenet's LFW protocol, each mirroring the
 * numpy/scipy/sklearn operation facenet calls, operation for operation, so results agree
 * bit for bit with tools/gen_eval_fixtures.py (see metrics.c for the references). */
#ifndef FN_EVAL_METRICS_H
#define FN_EVAL_METRICS_H
#include "core.h"

/* np.add.reduce of a contiguous float64 vector: 0.0 + numpy's pairwise_sum (8-way unrolled
 * blocks of <= 128, halves rounded to multiples of 8 above that). */
double fn_np_sum(const double *a, long n);
/* np.mean / np.std (ddof 0) of a vector, with numpy's summation. */
double fn_np_mean(const double *a, long n);
double fn_np_std(const double *a, long n);

/* sklearn KFold(n_splits, shuffle=False): fold f tests [*start, *start + *size). */
void fn_kfold_test_range(int n, int n_folds, int fold, int *start, int *size);

/* np.interp(x, xp, fp) for a scalar x inside [xp[0], xp[n-1]] (xp sorted, duplicates
 * allowed: the last of a run of equal xp <= x is used). */
double fn_np_interp(double x, const double *xp, const double *fp, int n);

/* interp1d(x, y, kind='slinear')(x0) as the k=1 B-spline on knots [x0, x..., x_last]
 * (scipy's de Boor evaluation; duplicates in x allowed). x sorted, x[0] <= x0 <= x[n-1]. */
double fn_slinear_eval(const double *x, const double *y, int n, double x0);

/* scipy.optimize.brentq (Zeros/brentq.c). Returns FN_OK and *root, or FN_ERR_ARG when
 * f(a), f(b) have the same sign, FN_ERR_LIMIT after maxiter, or f's own status. */
typedef fn_status (*fn_scalar_fn)(double x, void *ctx, double *fx);
fn_status fn_brentq(fn_scalar_fn f, void *ctx, double a, double b, double xtol, double rtol,
                    int maxiter, double *root);

/* sklearn.metrics.auc (np.trapz over x, direction from monotonicity). FN_ERR_ARG if x is
 * neither non-decreasing nor non-increasing. */
fn_status fn_auc_trapz(const double *x, const double *y, int n, double *auc);

#endif
