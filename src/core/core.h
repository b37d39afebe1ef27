/* core.h — internal helpers shared by every part of libfacenet: errors, checked
 * arithmetic, files (atomic writes), progress, and a reproducible RNG. */
#ifndef FN_CORE_H
#define FN_CORE_H

#include "facenet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

/* Record a detail message for fn_last_error() and return s. */
fn_status fn_fail(fn_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fn_clear_error(void);

/* Internal invariants only (never input errors): abort with file:line. */
#define FN_ASSERT(c) do { if (!(c)) { fprintf(stderr, "%s:%d: assertion failed: %s\n", \
    __FILE__, __LINE__, #c); abort(); } } while (0)

/* Propagate a non-OK status. */
#define FN_TRY(expr) do { fn_status fn__s = (expr); if (fn__s != FN_OK) return fn__s; } while (0)

/* Overflow-checked size arithmetic: return 0 on overflow. */
static inline int fn_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline int fn_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* malloc/calloc that record FN_ERR_NOMEM. 64-byte aligned for SIMD. */
void *fn_malloc(size_t n);
void *fn_calloc(size_t count, size_t size);
void fn_free(void *p);

/* Whole file into memory (NUL-terminated for convenience; *size excludes the NUL). */
fn_status fn_read_file(const char *path, uint8_t **data, size_t *size);

/* Atomic output: open path.tmp.PID, write, then fn_atomic_commit renames over path. */
typedef struct { FILE *f; char *path; char *tmp; } fn_atomic_file;
fn_status fn_atomic_open(const char *path, fn_atomic_file *af);
fn_status fn_atomic_commit(fn_atomic_file *af); /* fclose + fsync + rename */
void fn_atomic_abort(fn_atomic_file *af);       /* fclose + unlink temp */
fn_status fn_write_file_atomic(const char *path, const void *data, size_t size);

/* Progress on a TTY (stderr), silent when piped. */
typedef struct { const char *label; long total, done; double t0, last; int tty; } fn_progress;
void fn_progress_begin(fn_progress *p, const char *label, long total);
void fn_progress_step(fn_progress *p, long n);
void fn_progress_end(fn_progress *p);

double fn_now(void); /* monotonic seconds */

/* Data parallelism over n items (src/core/parallel.c): fn(ctx, i0, i1, worker) runs on
 * [i0, i1) in each of up to one worker per BLAS thread (each with single-threaded BLAS and
 * OpenMP, at least min_items items each); worker numbers are 0..workers-1. Returns the
 * first worker error. */
#define FN_MAX_WORKERS 8
typedef fn_status (*fn_range_fn)(void *ctx, int i0, int i1, int worker);
int fn_parallel_workers(int n, int min_items);
fn_status fn_parallel_split(int n, int min_items, fn_range_fn fn, void *ctx);
/* A team: fn(ctx, team, worker, workers) runs on `workers` threads at the same time (the
 * caller's is worker 0), each with single-threaded BLAS and OpenMP (one worker: the
 * caller's thread as it is); fewer workers run when threads cannot be had, so split the
 * work by the workers argument. Workers may meet at fn_team_barrier (all must call it
 * equally often). Returns the first worker error. */
typedef struct fn_team fn_team;
typedef fn_status (*fn_team_fn)(void *ctx, fn_team *team, int worker, int workers);
fn_status fn_parallel_team(int workers, fn_team_fn fn, void *ctx);
void fn_team_barrier(fn_team *team);

/* splitmix64-based RNG: trivially reproducible from Python/numpy for fixtures. */
typedef struct { uint64_t s; } fn_rng;
static inline uint64_t fn_splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static inline uint64_t fn_rng_next(fn_rng *r) { r->s += 1; return fn_splitmix64(r->s); }
/* uniform in [0,1) with 24 bits of precision (exact in float32) */
static inline float fn_rng_uniform(fn_rng *r) { return (float)(fn_rng_next(r) >> 40) * (1.0f / 16777216.0f); }
double fn_rng_normal(fn_rng *r);

#endif
