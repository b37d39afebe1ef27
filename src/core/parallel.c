/* parallel.c — data parallelism over a batch: the items are split between workers, one
 * per BLAS thread, and each worker runs with single-threaded BLAS and OpenMP. Small-image
 * networks spend their time in GEMMs too small to scale over cores, while whole images
 * scale almost perfectly (Inception-ResNet-v1 at batch 32: 52 -> 31 CPU ms per image).
 * A team's workers run at the same time, so they may meet at a barrier (training sums
 * batch-norm statistics over all workers' images). */
#include "core.h"
#include <cblas.h>
#include <omp.h>
#include <pthread.h>

struct fn_team {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open, workers;
    pthread_barrier_t bar;
};

typedef struct {
    fn_team_fn fn;
    void *ctx;
    fn_team *team;
    int worker;
    fn_status status;
    char error[512];
} team_job;

static void run_job(team_job *j) {
    omp_set_num_threads(1); /* per-thread setting: this worker's OpenMP loops stay serial */
    j->status = j->fn(j->ctx, j->team, j->worker, j->team->workers);
    if (j->status != FN_OK) snprintf(j->error, sizeof j->error, "%s", fn_last_error());
}

/* waits until the team's size is known (every thread that could be had is started) */
static void *team_thread(void *arg) {
    team_job *j = arg;
    fn_team *t = j->team;
    pthread_mutex_lock(&t->mu);
    while (!t->open) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    run_job(j);
    return NULL;
}

void fn_team_barrier(fn_team *t) {
    if (t && t->workers > 1) pthread_barrier_wait(&t->bar);
}

int fn_parallel_workers(int n, int min_items) {
    int threads = openblas_get_num_threads();
    int w = threads < FN_MAX_WORKERS ? threads : FN_MAX_WORKERS;
    if (min_items < 1) min_items = 1;
    if (w > n / min_items) w = n / min_items;
    return w < 1 ? 1 : w;
}

fn_status fn_parallel_team(int workers, fn_team_fn fn, void *ctx) {
    if (workers > FN_MAX_WORKERS) workers = FN_MAX_WORKERS;
    fn_team t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    t.workers = 1;
    if (workers <= 1) { /* the caller's thread, BLAS and OpenMP as they are */
        fn_status s = fn(ctx, &t, 0, 1);
        pthread_cond_destroy(&t.cv);
        pthread_mutex_destroy(&t.mu);
        return s;
    }
    team_job jobs[FN_MAX_WORKERS];
    pthread_t tid[FN_MAX_WORKERS];
    const int threads = openblas_get_num_threads(), omp_threads = omp_get_max_threads();
    openblas_set_num_threads(1);
    int n = 1; /* workers numbered in the order their threads start; a failed start shrinks the team */
    for (int k = 1; k < workers; k++) {
        jobs[n] = (team_job){ fn, ctx, &t, n, FN_OK, "" };
        if (pthread_create(&tid[n], NULL, team_thread, &jobs[n]) == 0) n++;
    }
    jobs[0] = (team_job){ fn, ctx, &t, 0, FN_OK, "" };
    pthread_mutex_lock(&t.mu);
    t.workers = n;
    if (n > 1) FN_ASSERT(pthread_barrier_init(&t.bar, NULL, (unsigned)n) == 0);
    t.open = 1;
    pthread_cond_broadcast(&t.cv);
    pthread_mutex_unlock(&t.mu);
    run_job(&jobs[0]);
    omp_set_num_threads(omp_threads);
    for (int k = 1; k < n; k++) pthread_join(tid[k], NULL);
    if (n > 1) pthread_barrier_destroy(&t.bar);
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);
    openblas_set_num_threads(threads);
    for (int k = 0; k < n; k++)
        if (jobs[k].status != FN_OK) return fn_fail(jobs[k].status, "%s", jobs[k].error);
    return FN_OK;
}

typedef struct { fn_range_fn fn; void *ctx; int n; } split_job;

static fn_status split_share(void *ctx, fn_team *team, int worker, int workers) {
    const split_job *s = ctx;
    int i0 = (int)((long)s->n * worker / workers), i1 = (int)((long)s->n * (worker + 1) / workers);
    return s->fn(s->ctx, i0, i1, worker);
}

fn_status fn_parallel_split(int n, int min_items, fn_range_fn fn, void *ctx) {
    split_job s = { fn, ctx, n };
    return fn_parallel_team(fn_parallel_workers(n, min_items), split_share, &s);
}
