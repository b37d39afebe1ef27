/* server.c — libmicrohttpd glue: one thread per connection (MHD's), the whole body read
 * before any answer (clients that are still sending see a reset otherwise), bodies capped
 * at max_body, multipart parsed by MHD's post processor, inference on the bounded pool,
 * a graceful stop (quiesce, let in-flight requests finish, close). */
#ifdef FN_HAVE_SERVE
#define _GNU_SOURCE
#include "serve.h"
#include "image/image_internal.h"
#include <arpa/inet.h>
#include <cblas.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <omp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    char *method, *path, *api_key, *content_type;
    serve_kv *query;
    int n_query, cap_query;
    struct MHD_PostProcessor *pp;
    int multipart;
    uint8_t *body;
    size_t body_size, body_cap, received;
    serve_part *parts;
    int n_parts, cap_parts;
    int too_big, malformed;
    int active;      /* counted in srv->active until MHD reports the answer sent */
} conn_state;

void serve_log(serve_server *srv, const char *fmt, ...) {
    if (!srv->opt.log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    srv->opt.log(srv->opt.log_ctx, line);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    serve_server *srv = cls;
    if (!srv->opt.log) return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = 0;
    srv->opt.log(srv->opt.log_ctx, line);
}

static void state_free(conn_state *st) {
    if (!st) return;
    if (st->pp) MHD_destroy_post_processor(st->pp);
    free(st->method); free(st->path); free(st->api_key); free(st->content_type);
    for (int i = 0; i < st->n_query; i++) { free(st->query[i].name); free(st->query[i].value); }
    free(st->query);
    for (int i = 0; i < st->n_parts; i++) { free(st->parts[i].name); free(st->parts[i].data); }
    free(st->parts);
    free(st->body);
    free(st);
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    conn_state *st = cls;
    if (st->n_query >= 64) return MHD_YES; /* more arguments than any route reads */
    if (st->n_query == st->cap_query) {
        int cap = st->cap_query ? 2 * st->cap_query : 8;
        serve_kv *p = realloc(st->query, sizeof *p * (size_t)cap);
        if (!p) return MHD_NO;
        st->query = p; st->cap_query = cap;
    }
    st->query[st->n_query].name = strdup(key ? key : "");
    st->query[st->n_query].value = strdup(value ? value : "");
    st->n_query++;
    return MHD_YES;
}

/* MHD's post processor calls this with each field's data in pieces (off = offset) */
static enum MHD_Result collect_part(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size) {
    conn_state *st = cls;
    serve_part *p = NULL;
    if (off > 0 && st->n_parts && !strcmp(st->parts[st->n_parts - 1].name, key ? key : ""))
        p = &st->parts[st->n_parts - 1];
    if (!p) {
        if (st->n_parts >= 16) { st->malformed = 1; return MHD_NO; }
        if (st->n_parts == st->cap_parts) {
            int cap = st->cap_parts ? 2 * st->cap_parts : 4;
            serve_part *q = realloc(st->parts, sizeof *q * (size_t)cap);
            if (!q) return MHD_NO;
            st->parts = q; st->cap_parts = cap;
        }
        p = &st->parts[st->n_parts++];
        memset(p, 0, sizeof *p);
        p->name = strdup(key ? key : "");
        if (!p->name) return MHD_NO;
    }
    if (size) {
        uint8_t *d = realloc(p->data, p->size + size + 1);
        if (!d) return MHD_NO;
        memcpy(d + p->size, data, size);
        p->data = d;
        p->size += size;
        d[p->size] = 0;
    }
    return MHD_YES;
}

static const char *method_label(const char *m) {
    static const char *const known[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(m, known[i])) return known[i];
    return "OTHER";
}

static enum MHD_Result send_response(struct MHD_Connection *c, serve_response *rs) {
    struct MHD_Response *r;
    if (rs->body_static)
        r = MHD_create_response_from_buffer(rs->body_size, rs->body, MHD_RESPMEM_PERSISTENT);
    else {
        r = MHD_create_response_from_buffer(rs->body_size, rs->body, MHD_RESPMEM_MUST_FREE);
        if (r) rs->body = NULL; /* MHD frees it */
    }
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type ? rs->content_type : "application/json");
    if (rs->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", rs->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void answer(serve_server *srv, conn_state *st, serve_response *rs, const char **route) {
    if (st->too_big) {
        serve_reply_error(rs, 413, CF_CODE_TOO_BIG, "request body above the %zu byte limit", srv->opt.max_body);
        return;
    }
    /* the post processor says here whether the body ended where multipart says it must */
    if (st->pp) {
        if (MHD_destroy_post_processor(st->pp) != MHD_YES) st->malformed = 1;
        st->pp = NULL;
    }
    if (st->malformed) {
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "malformed multipart/form-data body");
        return;
    }
    serve_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = st->method;
    rq.path = st->path;
    rq.query = st->query; rq.n_query = st->n_query;
    rq.api_key = st->api_key;
    rq.content_type = st->content_type;
    rq.body = st->body; rq.body_size = st->body_size;
    rq.parts = st->parts; rq.n_parts = st->n_parts;
    serve_dispatch(srv, &rq, rs, route);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    serve_server *srv = cls;
    conn_state *st = *con_cls;
    if (!st) { /* headers are in: set up, read the body in the next calls */
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        st->method = strdup(method);
        st->path = strdup(url);
        const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (key) st->api_key = strdup(key);
        st->content_type = strdup(type ? type : "");
        if (!st->method || !st->path || !st->content_type || (key && !st->api_key)) return MHD_NO;
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, st);
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (len && strtoull(len, NULL, 10) > srv->opt.max_body) st->too_big = 1;
        if (!strncasecmp(st->content_type, "multipart/form-data", 19) ||
            !strncasecmp(st->content_type, "application/x-www-form-urlencoded", 33)) {
            st->multipart = 1;
            st->pp = MHD_create_post_processor(c, 64 * 1024, collect_part, st);
            if (!st->pp) st->malformed = 1; /* e.g. no boundary */
        }
        return MHD_YES;
    }
    if (*upload_data_size) { /* a piece of the body: keep it (or count and drop it) */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        st->received += n;
        if (st->received > srv->opt.max_body) st->too_big = 1;
        if (st->too_big || st->malformed) return MHD_YES;
        if (st->multipart) {
            if (MHD_post_process(st->pp, upload_data, n) != MHD_YES) st->malformed = 1;
            return MHD_YES;
        }
        if (st->body_size + n + 1 > st->body_cap) {
            size_t cap = st->body_cap ? st->body_cap : 16 * 1024;
            while (cap < st->body_size + n + 1) cap *= 2;
            uint8_t *b = realloc(st->body, cap);
            if (!b) return MHD_NO;
            st->body = b; st->body_cap = cap;
        }
        memcpy(st->body + st->body_size, upload_data, n);
        st->body_size += n;
        st->body[st->body_size] = 0;
        return MHD_YES;
    }
    /* the whole request is in: it counts as in flight until its answer has been sent */
    pthread_mutex_lock(&srv->active_mu);
    srv->active++;
    st->active = 1;
    pthread_mutex_unlock(&srv->active_mu);
    double t0 = fn_now();
    serve_response rs;
    memset(&rs, 0, sizeof rs);
    const char *route = "unmatched";
    answer(srv, st, &rs, &route);
    if (rs.status >= 500) serve_log(srv, "%s %s: %d", method_label(st->method), route, rs.status);
    enum MHD_Result ret = send_response(c, &rs);
    if (!rs.body_static) free(rs.body);
    serve_metrics_observe(srv->metrics, route, method_label(st->method), rs.status, fn_now() - t0);
    return ret;
}

/* MHD calls this once the answer is sent (or the connection failed) */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    serve_server *srv = cls;
    conn_state *st = *con_cls;
    if (st && st->active) {
        pthread_mutex_lock(&srv->active_mu);
        srv->active--;
        pthread_cond_broadcast(&srv->active_cv);
        pthread_mutex_unlock(&srv->active_mu);
    }
    state_free(st);
    *con_cls = NULL;
}

/* ---------------------------------------------------------------- start / stop */

void fn_serve_options_default(fn_serve_options *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8000;
    o->queue = -1;
}

static void worker_init(void *ctx) {
    serve_server *srv = ctx;
    /* each worker runs one request at a time on one core: requests in parallel scale
     * better than one request's threads (OpenMP's setting is per thread) */
    if (srv->opt.workers > 1) omp_set_num_threads(1);
    fn_image_set_pixel_limit(srv->opt.max_pixels);
}

fn_status serve_server_create(const fn_serve_options *o, int no_listen, serve_server **out) {
    *out = NULL;
    if (!o) return fn_fail(FN_ERR_ARG, "fn_server_start: options needed");
    if (!o->keys_file) return fn_fail(FN_ERR_ARG, "a keys file is required (make one with `facenet serve --new-key --keys FILE`)");
    serve_server *srv = calloc(1, sizeof *srv);
    if (!srv) return fn_fail(FN_ERR_NOMEM, "out of memory");
    srv->opt = *o;
    if (!srv->opt.host) srv->opt.host = "127.0.0.1";
    if (srv->opt.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        srv->opt.workers = n > 0 ? (int)n : 1;
    }
    if (srv->opt.queue < 0) srv->opt.queue = 4 * srv->opt.workers;
    if (!srv->opt.max_body) srv->opt.max_body = 5u * 1024 * 1024;
    if (!srv->opt.max_pixels) srv->opt.max_pixels = 40u * 1000 * 1000;
    if (srv->opt.timeout_s <= 0) srv->opt.timeout_s = 30;
    if (srv->opt.max_connections <= 0) srv->opt.max_connections = 256;
    pthread_mutex_init(&srv->gallery_mu, NULL);
    pthread_mutex_init(&srv->active_mu, NULL);
    pthread_cond_init(&srv->active_cv, NULL);
    srv->started = fn_now();
    fn_status s = serve_keys_load(o->keys_file, &srv->keys);
    if (s == FN_ERR_IO)
        s = fn_fail(FN_ERR_IO, "cannot read the keys file %s (make one with `facenet serve --new-key --keys %s`)",
                    o->keys_file, o->keys_file);
    if (s == FN_OK && srv->keys.n == 0)
        s = fn_fail(FN_ERR_ARG, "the keys file %s holds no key (add one with `facenet serve --new-key --keys %s`)",
                    o->keys_file, o->keys_file);
    if (s == FN_OK && !(srv->galleries = calloc((size_t)srv->keys.n, sizeof *srv->galleries)))
        s = fn_fail(FN_ERR_NOMEM, "out of memory");
    if (s == FN_OK && o->mtcnn) s = fn_detector_open(o->mtcnn, &srv->det);
    if (s == FN_OK && o->model) s = fn_model_open(o->model, &srv->model);
    if (s == FN_OK && (!srv->det || !srv->model)) s = fn_fail(FN_ERR_ARG, "the server needs an MTCNN detector and an embedding model");
    if (s == FN_OK) fn_model_similarity_calib(srv->model, &srv->calib);
    if (s == FN_OK) s = serve_metrics_create(&srv->metrics);
    if (s == FN_OK && srv->opt.workers > 1) openblas_set_num_threads(1);
    if (s == FN_OK) s = serve_pool_create(srv->opt.workers, srv->opt.queue, worker_init, srv, &srv->pool);
    if (s != FN_OK) { fn_server_stop(srv); return s; }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    if (no_listen) {
        flags |= MHD_USE_NO_LISTEN_SOCKET;
    } else {
        const char *host = !strcmp(srv->opt.host, "localhost") ? "127.0.0.1" : srv->opt.host;
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)srv->opt.port);
        } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)srv->opt.port);
            flags |= MHD_USE_IPv6;
        } else {
            fn_server_stop(srv);
            return fn_fail(FN_ERR_ARG, "--host wants a numeric IPv4 or IPv6 address (got '%s')", srv->opt.host);
        }
        if (srv->opt.port < 0 || srv->opt.port > 65535) {
            fn_server_stop(srv);
            return fn_fail(FN_ERR_ARG, "--port must be in 0..65535");
        }
    }
    srv->daemon = MHD_start_daemon(flags, (uint16_t)srv->opt.port, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->opt.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->opt.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
        no_listen ? MHD_OPTION_END : MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_END);
    if (!srv->daemon) {
        fn_server_stop(srv);
        return fn_fail(FN_ERR_IO, "cannot listen on %s port %d (in use, or not an address of this machine)",
                       o->host ? o->host : "127.0.0.1", o->port);
    }
    serve_log(srv, "facenet serve: listening on %s port %d, %d workers, queue %d, %d keys",
              srv->opt.host, fn_server_port(srv), srv->opt.workers, srv->opt.queue, srv->keys.n);
    *out = srv;
    return FN_OK;
}

fn_status fn_server_start(const fn_serve_options *o, fn_server **out) {
    return serve_server_create(o, 0, out);
}

/* fuzzing: hand the server one end of a socketpair */
int serve_server_add_socket(serve_server *srv, int fd) {
    return MHD_add_connection(srv->daemon, fd, NULL, 0) == MHD_YES ? 0 : -1;
}

int fn_server_port(const fn_server *s) {
    if (!s || !s->daemon) return 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void fn_server_stop(fn_server *srv) {
    if (!srv) return;
    if (srv->daemon) {
        MHD_quiesce_daemon(srv->daemon); /* no new connections */
        pthread_mutex_lock(&srv->active_mu);
        srv->stopping = 1;
        double deadline = fn_now() + 30;
        while (srv->active > 0 && fn_now() < deadline) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&srv->active_cv, &srv->active_mu, &ts);
        }
        pthread_mutex_unlock(&srv->active_mu);
        MHD_stop_daemon(srv->daemon);
        serve_log(srv, "facenet serve: stopped");
    }
    serve_pool_destroy(srv->pool);
    serve_galleries_close(srv);
    free(srv->galleries);
    serve_metrics_free(srv->metrics);
    serve_keys_free(&srv->keys);
    fn_model_close(srv->model);
    fn_detector_close(srv->det);
    pthread_mutex_destroy(&srv->gallery_mu);
    pthread_mutex_destroy(&srv->active_mu);
    pthread_cond_destroy(&srv->active_cv);
    free(srv);
}
#else
#include "core.h"
/* Built without libmicrohttpd / Jansson: say what to install. */
#define SERVE_MISSING "facenet was built without libmicrohttpd and Jansson: install libmicrohttpd-dev " \
                      "and libjansson-dev (Debian) and rebuild"
void fn_serve_options_default(fn_serve_options *o) { memset(o, 0, sizeof *o); o->host = "127.0.0.1"; o->port = 8000; o->queue = -1; }
fn_status fn_server_start(const fn_serve_options *o, fn_server **out) {
    *out = NULL;
    return fn_fail(FN_ERR_UNSUPPORTED, SERVE_MISSING);
}
int fn_server_port(const fn_server *s) { return 0; }
void fn_server_stop(fn_server *s) {}
fn_status fn_serve_new_key(const char *keys_file, char *key_out, size_t cap) {
    return fn_fail(FN_ERR_UNSUPPORTED, SERVE_MISSING);
}
#endif
