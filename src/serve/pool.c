/* pool.c — the bounded inference pool: a fixed set of worker threads and a bounded FIFO.
 * A request thread hands in a job and waits for it; when `queue` jobs already wait, the
 * job is refused at once (the caller answers 429) instead of piling up memory and latency. */
#ifdef FN_HAVE_SERVE
#include "serve.h"

typedef struct job {
    serve_job_fn fn;
    void *ctx;
    int done;
    struct job *next;
} job;

struct serve_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    job *head, *tail;
    int waiting, running, queue_max, workers, stopping;
    pthread_t *threads;
    double busy;                     /* seconds, summed over workers */
    void (*init)(void *);
    void *init_ctx;
};

static void *worker_main(void *arg) {
    serve_pool *p = arg;
    if (p->init) p->init(p->init_ctx);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) pthread_cond_wait(&p->work_cv, &p->mu);
        if (!p->head) break; /* stopping and drained */
        job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->waiting--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        double t0 = fn_now();
        j->fn(j->ctx);
        double dt = fn_now() - t0;
        pthread_mutex_lock(&p->mu);
        p->busy += dt;
        p->running--;
        j->done = 1;
        pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

fn_status serve_pool_create(int workers, int queue, void (*init)(void *), void *init_ctx,
                            serve_pool **out) {
    *out = NULL;
    if (workers < 1 || queue < 0) return fn_fail(FN_ERR_ARG, "pool: workers >= 1, queue >= 0");
    serve_pool *p = calloc(1, sizeof *p);
    if (!p) return fn_fail(FN_ERR_NOMEM, "out of memory");
    p->threads = calloc((size_t)workers, sizeof *p->threads);
    if (!p->threads) { free(p); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->queue_max = queue;
    p->init = init; p->init_ctx = init_ctx;
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) break;
        p->workers++;
    }
    if (p->workers == 0) {
        free(p->threads); free(p);
        return fn_fail(FN_ERR_NOMEM, "pool: cannot start a worker thread");
    }
    *out = p;
    return FN_OK;
}

int serve_pool_run(serve_pool *p, serve_job_fn fn, void *ctx) {
    job j = { fn, ctx, 0, NULL };
    pthread_mutex_lock(&p->mu);
    if (p->stopping) { pthread_mutex_unlock(&p->mu); return -2; }
    /* idle workers take jobs at once; beyond them, at most queue_max may wait */
    if (p->waiting >= p->queue_max + (p->workers - p->running)) { pthread_mutex_unlock(&p->mu); return -1; }
    if (p->tail) p->tail->next = &j; else p->head = &j;
    p->tail = &j;
    p->waiting++;
    pthread_cond_signal(&p->work_cv);
    while (!j.done) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void serve_pool_destroy(serve_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->workers; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int serve_pool_queue_depth(serve_pool *p) {
    pthread_mutex_lock(&p->mu);
    int n = p->waiting;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int serve_pool_workers(serve_pool *p) { return p->workers; }

double serve_pool_busy_seconds(serve_pool *p) {
    pthread_mutex_lock(&p->mu);
    double b = p->busy;
    pthread_mutex_unlock(&p->mu);
    return b;
}
#endif
