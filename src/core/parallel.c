/* parallel.c — data parallelism over a batch: the items are split between workers, one
 * per BLAS thread, and each worker runs with single-threaded BLAS and OpenMP. Small-image
 * networks spend their time in GEMMs too small to scale over cores, while whole images
 * scale almost perfectly (Inception-ResNet-v1 at batch 32: 52 -> 31 CPU ms per image). */
#include "core.h"
#include <cblas.h>
#include <omp.h>
#include <pthread.h>



typedef struct {
    fn_range_fn fn;
    void *ctx;
    int i0, i1, worker;
    fn_status status;
    char error[512];
} worker_job;

static void *run_job(void *arg) {
    worker_job *j = arg;
    omp_set_num_threads(1); /* per-thread setting: this worker's OpenMP loops stay serial */
    j->status = j->fn(j->ctx, j->i0, j->i1, j->worker);
    if (j->status != FN_OK) snprintf(j->error, sizeof j->error, "%s", fn_last_error());
    return NULL;
}

int fn_parallel_workers(int n, int min_items) {
    int threads = openblas_get_num_threads();
    int w = threads < FN_MAX_WORKERS ? threads : FN_MAX_WORKERS;
    if (min_items < 1) min_items = 1;
    if (w > n / min_items) w = n / min_items;
    return w < 1 ? 1 : w;
}

fn_status fn_parallel_split(int n, int min_items, fn_range_fn fn, void *ctx) {
    int workers = fn_parallel_workers(n, min_items);
    if (workers == 1) return fn(ctx, 0, n, 0);
    worker_job jobs[FN_MAX_WORKERS];
    pthread_t tid[FN_MAX_WORKERS];
    int started[FN_MAX_WORKERS] = {0};
    const int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    for (int k = 0; k < workers; k++)
        jobs[k] = (worker_job){ fn, ctx, (int)((long)n * k / workers), (int)((long)n * (k + 1) / workers), k, FN_OK, "" };
    for (int k = 1; k < workers; k++) started[k] = pthread_create(&tid[k], NULL, run_job, &jobs[k]) == 0;
    const int omp_threads = omp_get_max_threads();
    run_job(&jobs[0]);
    omp_set_num_threads(omp_threads);
    for (int k = 1; k < workers; k++) {
        if (started[k]) pthread_join(tid[k], NULL);
        else run_job(&jobs[k]); /* no thread to be had: run the share here */
    }
    omp_set_num_threads(omp_threads);
    openblas_set_num_threads(threads);
    for (int k = 0; k < workers; k++)
        if (jobs[k].status != FN_OK) return fn_fail(jobs[k].status, "%s", jobs[k].error);
    return FN_OK;
}
