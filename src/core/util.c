/* util.c — memory, files, atomic writes, progress, time, rng. */
#define _GNU_SOURCE
#include "core.h"
#include <errno.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

void *fn_malloc(size_t n) {
    if (n == 0) n = 1;
    size_t rounded;
    if (!fn_add_size(n, 63, &rounded)) { fn_fail(FN_ERR_NOMEM, "allocation of %zu bytes overflows", n); return NULL; }
    rounded &= ~(size_t)63;
    void *p = aligned_alloc(64, rounded);
    if (!p) fn_fail(FN_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *fn_calloc(size_t count, size_t size) {
    size_t n;
    if (!fn_mul_size(count, size, &n)) { fn_fail(FN_ERR_NOMEM, "allocation size overflows"); return NULL; }
    void *p = fn_malloc(n);
    if (p) memset(p, 0, n);
    return p;
}

void fn_free(void *p) { free(p); }

fn_status fn_read_file(const char *path, uint8_t **data, size_t *size) {
    *data = NULL; *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return fn_fail(FN_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fn_fail(FN_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) { fclose(f); return fn_fail(FN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n); }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf); fclose(f);
        return fn_fail(FN_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf; *size = n;
    return FN_OK;
}

fn_status fn_atomic_open(const char *path, fn_atomic_file *af) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 64;
    af->path = strdup(path);
    af->tmp = malloc(n);
    if (!af->path || !af->tmp) { free(af->path); free(af->tmp); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        fn_status s = fn_fail(FN_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(af->path); free(af->tmp); memset(af, 0, sizeof *af);
        return s;
    }
    return FN_OK;
}

fn_status fn_atomic_commit(fn_atomic_file *af) {
    fn_status s = FN_OK;
    if (fflush(af->f) != 0 || ferror(af->f)) s = fn_fail(FN_ERR_IO, "%s: write error: %s", af->path, strerror(errno));
    if (s == FN_OK) fsync(fileno(af->f));
    if (fclose(af->f) != 0 && s == FN_OK) s = fn_fail(FN_ERR_IO, "%s: close error", af->path);
    if (s == FN_OK && rename(af->tmp, af->path) != 0) s = fn_fail(FN_ERR_IO, "%s: rename failed: %s", af->path, strerror(errno));
    if (s != FN_OK) unlink(af->tmp);
    free(af->path); free(af->tmp); memset(af, 0, sizeof *af);
    return s;
}

void fn_atomic_abort(fn_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->path); free(af->tmp); memset(af, 0, sizeof *af);
}

fn_status fn_write_file_atomic(const char *path, const void *data, size_t size) {
    fn_atomic_file af;
    FN_TRY(fn_atomic_open(path, &af));
    if (size && fwrite(data, 1, size, af.f) != size) {
        fn_atomic_abort(&af);
        return fn_fail(FN_ERR_IO, "%s: write error", path);
    }
    return fn_atomic_commit(&af);
}

double fn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void fn_progress_begin(fn_progress *p, const char *label, long total) {
    p->label = label; p->total = total; p->done = 0;
    p->t0 = p->last = fn_now();
    p->tty = isatty(2);
}

static void progress_draw(fn_progress *p, int final) {
    double el = fn_now() - p->t0;
    double rate = el > 0 ? p->done / el : 0;
    int width = 30, fill = p->total > 0 ? (int)(width * p->done / p->total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double eta = (rate > 0 && p->total > p->done) ? (p->total - p->done) / rate : 0;
    fprintf(stderr, "\r%s [%s] %ld/%ld %.1f/s eta %.0fs%s", p->label, bar, p->done, p->total,
            rate, eta, final ? "\n" : "");
    fflush(stderr);
}

void fn_progress_step(fn_progress *p, long n) {
    p->done += n;
    if (!p->tty) return;
    double t = fn_now();
    if (t - p->last < 0.1 && p->done < p->total) return;
    p->last = t;
    progress_draw(p, 0);
}

void fn_progress_end(fn_progress *p) {
    if (p->tty) progress_draw(p, 1);
}

double fn_rng_normal(fn_rng *r) {
    double u1 = ((fn_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (fn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

float fn_distance_sq(const float *a, const float *b, int dim) {
    float s = 0;
    for (int i = 0; i < dim; i++) { float d = a[i] - b[i]; s += d * d; }
    return s;
}
