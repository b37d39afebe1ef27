/* test_util.h — tiny helpers for test programs: each test prints what it compared and
 * by how much, counts failures, and main() returns non-zero when any check failed. */
#ifndef FN_TEST_UTIL_H
#define FN_TEST_UTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_failures = 0, tu_checks = 0;

#define CHECK(cond) do { tu_checks++; if (!(cond)) { tu_failures++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { tu_checks++; if (!(cond)) { tu_failures++; \
    fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); \
    fputc('\n', stderr); } } while (0)

/* max |a-b| over n values; prints and checks it against tol */
static inline double tu_max_abs(const float *a, const float *b, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) { double d = fabs((double)a[i] - b[i]); if (d > m || d != d) m = d != d ? INFINITY : d; }
    return m;
}
/* relative error: max|a-b| / max(max|b|, 1e-12) */
static inline double tu_rel_err(const float *a, const float *b, long n) {
    double m = 0, s = 0;
    for (long i = 0; i < n; i++) { double d = fabs((double)a[i] - b[i]); if (d > m || d != d) m = d != d ? INFINITY : d; if (fabs(b[i]) > s) s = fabs(b[i]); }
    return m / (s > 1e-12 ? s : 1e-12);
}
#define CHECK_CLOSE(what, a, b, n, tol) do { double e_ = tu_max_abs((a), (b), (n)); \
    printf("  %-40s max-abs %.3g (tol %.3g)\n", what, e_, (double)(tol)); CHECK_MSG(e_ <= (tol), "%s: max-abs %g > %g", what, e_, (double)(tol)); } while (0)
#define CHECK_REL(what, a, b, n, tol) do { double e_ = tu_rel_err((a), (b), (n)); \
    printf("  %-40s rel-err %.3g (tol %.3g)\n", what, e_, (double)(tol)); CHECK_MSG(e_ <= (tol), "%s: rel-err %g > %g", what, e_, (double)(tol)); } while (0)

#ifdef FN_SHARED_DIR
#include <sys/stat.h>
#include <unistd.h>
/* A training folder from ORL people: dst/s<i> -> shared/data/orl/s<i> for i in
 * [first, last] (dst created; existing links replaced). Exits on failure. */
static inline void tu_link_orl(const char *dst, int first, int last) {
    mkdir(dst, 0777);
    for (int i = first; i <= last; i++) {
        char src[1024], link[1024];
        snprintf(src, sizeof src, "%s/data/orl/s%d", FN_SHARED_DIR, i);
        snprintf(link, sizeof link, "%.1000s/s%d", dst, i);
        unlink(link);
        if (symlink(src, link)) { perror(link); exit(1); }
    }
}
#endif

static inline int tu_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, tu_checks, tu_failures);
    return tu_failures ? 1 : 0;
}
#endif
