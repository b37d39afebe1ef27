/* metrics.c — GET /metrics in Prometheus' text format: requests by route, method and
 * code; a latency histogram per route; faces enrolled; queue depth; worker busy time. */
#ifdef FN_HAVE_SERVE
#include "serve.h"

static const double BUCKETS[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define N_BUCKETS (int)(sizeof BUCKETS / sizeof BUCKETS[0])

typedef struct { const char *route, *method; int code; unsigned long count; } counter;
typedef struct { const char *route; unsigned long bucket[N_BUCKETS], count; double sum; } histogram;

struct serve_metrics {
    pthread_mutex_t mu;
    counter *counters;
    int n_counters, cap_counters;
    histogram *hist;
    int n_hist, cap_hist;
};

fn_status serve_metrics_create(serve_metrics **out) {
    serve_metrics *m = calloc(1, sizeof *m);
    if (!m) return fn_fail(FN_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return FN_OK;
}

void serve_metrics_free(serve_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m->counters); free(m->hist); free(m);
}

/* route and method are static strings (route table names, the method strings of MHD's
 * request constants or "OTHER"), so they are kept by pointer */
void serve_metrics_observe(serve_metrics *m, const char *route, const char *method, int code,
                           double seconds) {
    pthread_mutex_lock(&m->mu);
    counter *c = NULL;
    for (int i = 0; i < m->n_counters && !c; i++)
        if (m->counters[i].code == code && !strcmp(m->counters[i].route, route) &&
            !strcmp(m->counters[i].method, method))
            c = &m->counters[i];
    if (!c && m->n_counters == m->cap_counters) {
        int cap = m->cap_counters ? 2 * m->cap_counters : 32;
        counter *p = realloc(m->counters, sizeof *p * (size_t)cap);
        if (p) { m->counters = p; m->cap_counters = cap; }
    }
    if (!c && m->n_counters < m->cap_counters) {
        c = &m->counters[m->n_counters++];
        *c = (counter){ route, method, code, 0 };
    }
    if (c) c->count++;
    histogram *h = NULL;
    for (int i = 0; i < m->n_hist && !h; i++)
        if (!strcmp(m->hist[i].route, route)) h = &m->hist[i];
    if (!h && m->n_hist == m->cap_hist) {
        int cap = m->cap_hist ? 2 * m->cap_hist : 16;
        histogram *p = realloc(m->hist, sizeof *p * (size_t)cap);
        if (p) { m->hist = p; m->cap_hist = cap; }
    }
    if (!h && m->n_hist < m->cap_hist) {
        h = &m->hist[m->n_hist++];
        memset(h, 0, sizeof *h);
        h->route = route;
    }
    if (h) {
        for (int b = 0; b < N_BUCKETS; b++) if (seconds <= BUCKETS[b]) h->bucket[b]++;
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&m->mu);
}

typedef struct { char *p; size_t n, cap; int failed; } sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) { b->failed = 1; return; }
        if ((size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
        size_t cap = 2 * b->cap + (size_t)k;
        char *p = realloc(b->p, cap);
        if (!p) { b->failed = 1; return; }
        b->p = p; b->cap = cap;
    }
}

char *serve_metrics_render(serve_metrics *m, serve_server *srv, size_t *size) {
    sbuf b = { malloc(4096), 0, 4096, 0 };
    if (!b.p) return NULL;
    b.p[0] = 0;
    pthread_mutex_lock(&m->mu);
    put(&b, "# HELP facenet_http_requests_total Requests answered, by route, method and status code.\n"
            "# TYPE facenet_http_requests_total counter\n");
    for (int i = 0; i < m->n_counters; i++)
        put(&b, "facenet_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %lu\n",
            m->counters[i].route, m->counters[i].method, m->counters[i].code, m->counters[i].count);
    put(&b, "# HELP facenet_http_request_duration_seconds Time from the whole request read to the answer queued.\n"
            "# TYPE facenet_http_request_duration_seconds histogram\n");
    for (int i = 0; i < m->n_hist; i++) {
        const histogram *h = &m->hist[i];
        for (int k = 0; k < N_BUCKETS; k++)
            put(&b, "facenet_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
                h->route, BUCKETS[k], h->bucket[k]);
        put(&b, "facenet_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n", h->route, h->count);
        put(&b, "facenet_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", h->route, h->sum);
        put(&b, "facenet_http_request_duration_seconds_count{route=\"%s\"} %lu\n", h->route, h->count);
    }
    pthread_mutex_unlock(&m->mu);
    put(&b, "# HELP facenet_faces_enrolled Faces in the collections opened since start.\n"
            "# TYPE facenet_faces_enrolled gauge\nfacenet_faces_enrolled %ld\n", serve_faces_enrolled(srv));
    put(&b, "# HELP facenet_queue_depth Inference requests waiting for a worker.\n"
            "# TYPE facenet_queue_depth gauge\nfacenet_queue_depth %d\n", serve_pool_queue_depth(srv->pool));
    put(&b, "# HELP facenet_workers Inference worker threads.\n"
            "# TYPE facenet_workers gauge\nfacenet_workers %d\n", serve_pool_workers(srv->pool));
    put(&b, "# HELP facenet_worker_busy_seconds_total Time the workers spent on inference, summed.\n"
            "# TYPE facenet_worker_busy_seconds_total counter\nfacenet_worker_busy_seconds_total %.6f\n",
        serve_pool_busy_seconds(srv->pool));
    put(&b, "# HELP facenet_uptime_seconds Seconds since the server started.\n"
            "# TYPE facenet_uptime_seconds gauge\nfacenet_uptime_seconds %.3f\n", fn_now() - srv->started);
    if (b.failed) { free(b.p); return NULL; }
    *size = b.n;
    return b.p;
}
#endif
