/* serve.h — the inside of `facenet serve`: CompreFace's v1 REST API on libmicrohttpd.
 *
 *   server.c    libmicrohttpd glue: accepts, reads the whole body (capped), multipart via
 *               MHD's post processor, hands a parsed serve_request to the router, sends
 *   routes.c    the route table (one row + one handler per route, redis-style) and the
 *               detection / verification handlers; recognition.c the gallery handlers
 *   pool.c      the bounded inference pool: N workers, a bounded queue, 429 when full
 *   keys.c      API keys file, constant-time lookup, --new-key
 *   metrics.c   Prometheus counters and histograms
 *   web.c       the page at / (static files compiled in)
 *
 * Handlers see only serve_request / serve_response, never libmicrohttpd, so the same code
 * runs under the fuzzer and the tests. Replies are JSON via Jansson. */
#ifndef FN_SERVE_H
#define FN_SERVE_H
#include "core.h"
#include <pthread.h>
#include <stdarg.h>
#include <jansson.h>

typedef struct fn_server serve_server;

/* ---------------------------------------------------------------- requests */
typedef struct {
    char *name, *value;
} serve_kv;

typedef struct {
    char *name;          /* form field name ("file", "source_image", ...) */
    uint8_t *data;
    size_t size;
} serve_part;

typedef struct serve_request {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* percent-decoded path, no query */
    serve_kv *query;     /* decoded query arguments */
    int n_query;
    const char *api_key; /* x-api-key header, NULL when absent */
    const char *content_type;
    uint8_t *body;       /* raw body (non-multipart), NUL-terminated; NULL when empty */
    size_t body_size;
    serve_part *parts;   /* multipart / urlencoded fields */
    int n_parts;
    /* filled by the router */
    const char *params[2];   /* path parameters ({subject}, {image_id}) */
    int key_index;           /* index of the API key in the keys table, -1 when none */
    struct fn_server *server;
} serve_request;

typedef struct {
    int status;          /* HTTP code */
    char *body;          /* malloc'd */
    size_t body_size;
    const char *content_type;
    int retry_after;     /* > 0: a Retry-After header (seconds) */
    int body_static;     /* body points at static memory: not freed */
} serve_response;

/* ---------------------------------------------------------------- routes */
typedef enum { ROUTE_NO_KEY = 0, ROUTE_KEY = 1 } serve_key_rule;

typedef void (*serve_handler)(serve_request *rq, serve_response *rs);

typedef struct {
    const char *method;
    const char *pattern;     /* "/api/v1/recognition/faces/{}/verify": {} matches one segment */
    serve_handler handler;
    serve_key_rule key;
    int inference;           /* runs on the worker pool (429 when its queue is full) */
    const char *name;        /* the route label in /metrics */
} serve_route;

/* The route for (method, path) and its path parameters; NULL with *status 404 (no such
 * path) or 405 (path known, method not). */
const serve_route *serve_route_find(const char *method, const char *path, const char **params,
                                    char *param_buf, size_t param_cap, int *status);
int serve_route_count(void);
const serve_route *serve_route_at(int i);

/* Runs a request through routing, the key check and (for inference routes) the pool. */
void serve_dispatch(struct fn_server *srv, serve_request *rq, serve_response *rs,
                    const char **route_name);

/* Replies. CompreFace's error body is {"message": ..., "code": ...}. */
void serve_reply_json(serve_response *rs, int status, json_t *body); /* steals body */
void serve_reply_error(serve_response *rs, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void serve_reply_bytes(serve_response *rs, int status, const char *type, const void *data,
                       size_t size, int is_static);
/* Error codes (CompreFace's ApiException codes where one exists). */
enum {
    CF_CODE_UNKNOWN = 0, CF_CODE_NOT_FOUND = 10, CF_CODE_MISSING_KEY = 20,
    CF_CODE_BAD_ARGUMENT = 26, CF_CODE_BAD_IMAGE = 27, CF_CODE_NO_FACE = 28,
    CF_CODE_TOO_BIG = 5, CF_CODE_SUBJECT_NOT_FOUND = 42, CF_CODE_IMAGE_NOT_FOUND = 43,
    CF_CODE_BUSY = 44, CF_CODE_INTERNAL = 99,
};

/* Request helpers */
const char *serve_query(const serve_request *rq, const char *name); /* NULL when absent */
/* The image named `field` (multipart part, or base64 in a JSON body) into *data (borrowed
 * for multipart, malloc'd into *owned for base64). Replies 400 and returns 0 when missing. */
int serve_request_image(serve_request *rq, serve_response *rs, const char *field,
                        const uint8_t **data, size_t *size, uint8_t **owned);
/* Strict decimal / float query parameters; reply 400 and return 0 when malformed. */
int serve_query_int(serve_request *rq, serve_response *rs, const char *name, int def, int lo,
                    int hi, int *out);
int serve_query_float(serve_request *rq, serve_response *rs, const char *name, float def,
                      float lo, float hi, float *out);
int serve_query_bool(serve_request *rq, serve_response *rs, const char *name, int *out);
/* The request's JSON body (object), parsed once; NULL (and a 400 reply) when it is not. */
json_t *serve_request_json(serve_request *rq, serve_response *rs);

/* Base64 (standard or URL alphabet, padding optional, whitespace and a data: URL prefix
 * skipped). Returns 0 on malformed input. *out malloc'd. */
int serve_base64_decode(const char *in, size_t len, uint8_t **out, size_t *out_size);

/* ---------------------------------------------------------------- the face pipeline as the API sees it */
typedef struct {
    fn_face face;
    float *embedding;        /* dim floats, points into serve_faces.emb */
} serve_face;

typedef struct {
    serve_face *faces;
    float *emb;
    int n, dim;
    int width, height;
    double detect_ms, embed_ms;
} serve_faces;

typedef struct {
    float det_prob_threshold; /* keep faces whose score >= this */
    int limit;                /* keep the largest `limit` faces (0: all) */
    int embed;                /* compute embeddings */
    int whole_image;          /* CompreFace's detect_faces=false: the photo is a face crop */
} serve_face_options;

/* Decode, detect, filter (threshold, limit: largest first), crop and embed. Replies the
 * CompreFace error (400 code 28 "No face is found in the given image" when none) and
 * returns 0 on failure. */
int serve_find_faces(serve_request *rq, serve_response *rs, const uint8_t *data, size_t size,
                     const serve_face_options *opt, serve_faces *out);
void serve_faces_free(serve_faces *f);
/* The parameters every face endpoint shares (det_prob_threshold, limit, face_plugins,
 * status); reply 400 and return 0 when malformed. */
typedef struct {
    serve_face_options find;
    int plugin_landmarks, plugin_calculator, status;
    int prediction_count;
} serve_face_params;
int serve_face_params_parse(serve_request *rq, serve_response *rs, int want_prediction_count,
                            serve_face_params *p);
/* A face as CompreFace writes it: box, and landmarks / embedding / execution_time as the
 * plugins and status ask. */
json_t *serve_face_json(const serve_face_params *p, const serve_faces *f, int i);
/* {"detector": ..., "calculator": ...} for status=true */
json_t *serve_plugins_versions(const serve_face_params *p);
float serve_similarity(struct fn_server *srv, const float *a, const float *b);
/* similarities and probabilities are reported to 5 decimals, as CompreFace does */
double serve_round5(double x);
/* qsort order for json_t * faces: "similarity" descending */
int serve_by_similarity_desc(const void *a, const void *b);

/* ---------------------------------------------------------------- keys (keys.c) */
#define SERVE_KEY_MAX 128
typedef struct {
    char (*keys)[SERVE_KEY_MAX + 1];
    int n;
} serve_keys;
/* Reads KEYS_FILE: one key a line ('#' comments, blank lines skipped). A missing file is
 * FN_ERR_IO. Keys are 8..128 printable ASCII characters without spaces. */
fn_status serve_keys_load(const char *path, serve_keys *out);
void serve_keys_free(serve_keys *k);
/* Index of key in the table, or -1: every entry is compared, each in constant time. */
int serve_keys_find(const serve_keys *k, const char *key);
/* A new random key (UUID v4 from /dev/urandom, CompreFace's key format) appended to path
 * (created 0600 when missing), the whole file rewritten atomically. */
fn_status serve_keys_new(const char *path, char out[SERVE_KEY_MAX + 1]);
/* Is the string shaped like a key at all (CompreFace answers a malformed key apart)? */
int serve_key_wellformed(const char *key);

/* ---------------------------------------------------------------- pool (pool.c) */
typedef struct serve_pool serve_pool;
typedef void (*serve_job_fn)(void *ctx);
/* workers threads, at most queue jobs waiting. Each worker calls init(init_ctx) first. */
fn_status serve_pool_create(int workers, int queue, void (*init)(void *), void *init_ctx,
                            serve_pool **out);
/* Runs fn(ctx) on a worker and waits for it. Returns 0 when done, -1 when the queue was
 * full (fn not run), -2 when the pool is shutting down. */
int serve_pool_run(serve_pool *p, serve_job_fn fn, void *ctx);
void serve_pool_destroy(serve_pool *p); /* finishes queued jobs, joins */
int serve_pool_queue_depth(serve_pool *p);
int serve_pool_workers(serve_pool *p);
double serve_pool_busy_seconds(serve_pool *p); /* summed over workers */

/* ---------------------------------------------------------------- metrics (metrics.c) */
typedef struct serve_metrics serve_metrics;
fn_status serve_metrics_create(serve_metrics **out);
void serve_metrics_free(serve_metrics *m);
void serve_metrics_observe(serve_metrics *m, const char *route, const char *method, int code,
                           double seconds);
/* Prometheus text exposition; *out malloc'd. */
char *serve_metrics_render(serve_metrics *m, struct fn_server *srv, size_t *size);

/* ---------------------------------------------------------------- the server */
struct fn_server {
    fn_serve_options opt;
    fn_detector *det;
    fn_model *model;
    fn_similarity_calib calib;
    serve_keys keys;
    serve_pool *pool;
    serve_metrics *metrics;
    /* per-key galleries, opened on first use (recognition.c) */
    pthread_mutex_t gallery_mu;
    struct fn_gallery **galleries; /* keys.n slots */
    void *daemon;                  /* struct MHD_Daemon * */
    pthread_mutex_t active_mu;
    pthread_cond_t active_cv;
    int active;                    /* requests being answered */
    int stopping;
    double started;
};

/* server.c: fn_server_start with no_listen = 1 starts without a listening socket; the
 * fuzzer then hands it connections with serve_server_add_socket. */
fn_status serve_server_create(const fn_serve_options *o, int no_listen, serve_server **out);
int serve_server_add_socket(serve_server *srv, int fd);

/* recognition.c: the collection of the request's key (opened on first use); replies 500
 * and returns NULL on failure. */
struct fn_gallery *serve_gallery(serve_request *rq, serve_response *rs);
void serve_galleries_close(serve_server *srv);
long serve_faces_enrolled(serve_server *srv);

/* web.c: the page's files (path "/", "/app.js", ...); NULL when unknown. */
const char *serve_web_file(const char *path, size_t *size, const char **type);

/* Log through the options' callback (never a key). */
void serve_log(serve_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
