/* routes.c — the route table (one row and one handler per route, as redis' command
 * table), dispatch (route -> key -> pool), the request/reply helpers, and the handlers
 * that need no gallery: detection, verification, /health, /metrics, the page. */
#ifdef FN_HAVE_SERVE
#include "serve.h"
#include <ctype.h>
#include <errno.h>

/* handlers (recognition.c holds the gallery ones) */
static void handle_page(serve_request *rq, serve_response *rs);
static void handle_health(serve_request *rq, serve_response *rs);
static void handle_metrics(serve_request *rq, serve_response *rs);
static void handle_detect(serve_request *rq, serve_response *rs);
static void handle_verify(serve_request *rq, serve_response *rs);
void serve_subject_add(serve_request *rq, serve_response *rs);
void serve_subject_list(serve_request *rq, serve_response *rs);
void serve_subject_delete_all(serve_request *rq, serve_response *rs);
void serve_subject_rename(serve_request *rq, serve_response *rs);
void serve_subject_delete(serve_request *rq, serve_response *rs);
void serve_face_add(serve_request *rq, serve_response *rs);
void serve_face_list(serve_request *rq, serve_response *rs);
void serve_face_delete_by_subject(serve_request *rq, serve_response *rs);
void serve_face_delete_many(serve_request *rq, serve_response *rs);
void serve_face_delete(serve_request *rq, serve_response *rs);
void serve_face_image(serve_request *rq, serve_response *rs);
void serve_face_image_static(serve_request *rq, serve_response *rs);
void serve_face_verify(serve_request *rq, serve_response *rs);
void serve_recognize(serve_request *rq, serve_response *rs);
void serve_embeddings_recognize(serve_request *rq, serve_response *rs);
void serve_embeddings_verify(serve_request *rq, serve_response *rs);

#define R "/api/v1/recognition"
static const serve_route ROUTES[] = {
    /* method   pattern                              handler                       key           pool name */
    { "GET",    "/",                                 handle_page,                  ROUTE_NO_KEY, 0, "page" },
    { "GET",    "/health",                           handle_health,                ROUTE_NO_KEY, 0, "health" },
    { "GET",    "/metrics",                          handle_metrics,               ROUTE_NO_KEY, 0, "metrics" },
    { "POST",   "/api/v1/detection/detect",          handle_detect,                ROUTE_KEY,    1, "detect" },
    { "POST",   "/api/v1/verification/verify",       handle_verify,                ROUTE_KEY,    1, "verify" },
    { "POST",   R "/subjects",                       serve_subject_add,            ROUTE_KEY,    0, "subjects_add" },
    { "GET",    R "/subjects",                       serve_subject_list,           ROUTE_KEY,    0, "subjects_list" },
    { "DELETE", R "/subjects",                       serve_subject_delete_all,     ROUTE_KEY,    0, "subjects_delete_all" },
    { "PUT",    R "/subjects/{}",                    serve_subject_rename,         ROUTE_KEY,    0, "subjects_rename" },
    { "DELETE", R "/subjects/{}",                    serve_subject_delete,         ROUTE_KEY,    0, "subjects_delete" },
    { "POST",   R "/faces",                          serve_face_add,               ROUTE_KEY,    1, "faces_add" },
    { "GET",    R "/faces",                          serve_face_list,              ROUTE_KEY,    0, "faces_list" },
    { "DELETE", R "/faces",                          serve_face_delete_by_subject, ROUTE_KEY,    0, "faces_delete_subject" },
    { "POST",   R "/faces/delete",                   serve_face_delete_many,       ROUTE_KEY,    0, "faces_delete_many" },
    { "DELETE", R "/faces/{}",                       serve_face_delete,            ROUTE_KEY,    0, "faces_delete" },
    { "GET",    R "/faces/{}/img",                   serve_face_image,             ROUTE_KEY,    0, "faces_image" },
    { "POST",   R "/faces/{}/verify",                serve_face_verify,            ROUTE_KEY,    1, "faces_verify" },
    { "POST",   R "/recognize",                      serve_recognize,              ROUTE_KEY,    1, "recognize" },
    { "POST",   R "/embeddings/recognize",           serve_embeddings_recognize,   ROUTE_KEY,    0, "embeddings_recognize" },
    { "POST",   R "/embeddings/faces/{}/verify",     serve_embeddings_verify,      ROUTE_KEY,    0, "embeddings_verify" },
    /* the key is in the path: checked by the handler */
    { "GET",    "/api/v1/static/{}/images/{}",       serve_face_image_static,      ROUTE_NO_KEY, 0, "static_image" },
};
#undef R
#define N_ROUTES (int)(sizeof ROUTES / sizeof ROUTES[0])

int serve_route_count(void) { return N_ROUTES; }
const serve_route *serve_route_at(int i) { return i >= 0 && i < N_ROUTES ? &ROUTES[i] : NULL; }

/* path against pattern, segment by segment; {} takes one non-empty segment (copied into
 * buf, which must hold the path) */
static int match(const char *pattern, const char *path, const char **params, char *buf, size_t cap) {
    int np = 0;
    size_t used = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *e = strchr(s, '/');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n == 0 || np == 2 || used + n + 1 > cap) return 0;
            memcpy(buf + used, s, n);
            buf[used + n] = 0;
            params[np++] = buf + used;
            used += n + 1;
            s += n; p += 2;
        } else if (*p == *s) {
            p++; s++;
        } else {
            return 0;
        }
    }
    return !*p && !*s;
}

const serve_route *serve_route_find(const char *method, const char *path, const char **params,
                                    char *param_buf, size_t param_cap, int *status) {
    /* "/subjects/" is "/subjects" (the docs list subjects with a trailing slash) */
    size_t n = strlen(path);
    char trimmed[1024];
    if (n > 1 && path[n - 1] == '/' && n < sizeof trimmed) {
        memcpy(trimmed, path, n - 1);
        trimmed[n - 1] = 0;
        path = trimmed;
    }
    int path_known = 0;
    for (int i = 0; i < N_ROUTES; i++) {
        const char *pr[2] = { NULL, NULL };
        if (!match(ROUTES[i].pattern, path, pr, param_buf, param_cap)) continue;
        path_known = 1;
        if (strcmp(ROUTES[i].method, method) != 0) continue;
        params[0] = pr[0]; params[1] = pr[1];
        *status = 200;
        return &ROUTES[i];
    }
    *status = path_known ? 405 : 404;
    return NULL;
}

/* ---------------------------------------------------------------- replies */

void serve_reply_json(serve_response *rs, int status, json_t *body) {
    if (!rs->body_static) free(rs->body);
    rs->body = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(body);
    rs->status = status;
    rs->content_type = "application/json";
    rs->body_static = 0;
    if (!rs->body) { /* out of memory while formatting: a fixed body */
        rs->status = 500;
        rs->body = (char *)"{\"message\":\"out of memory\",\"code\":99}";
        rs->body_static = 1;
    }
    rs->body_size = strlen(rs->body);
}

void serve_reply_error(serve_response *rs, int status, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    serve_reply_json(rs, status, json_pack("{s:s, s:i}", "message", msg, "code", code));
}

void serve_reply_bytes(serve_response *rs, int status, const char *type, const void *data,
                       size_t size, int is_static) {
    if (!rs->body_static) free(rs->body);
    rs->status = status;
    rs->content_type = type;
    rs->body = (char *)data;
    rs->body_size = size;
    rs->body_static = is_static;
}

/* ---------------------------------------------------------------- request helpers */

const char *serve_query(const serve_request *rq, const char *name) {
    for (int i = 0; i < rq->n_query; i++)
        if (!strcmp(rq->query[i].name, name)) return rq->query[i].value;
    return NULL;
}

int serve_query_int(serve_request *rq, serve_response *rs, const char *name, int def, int lo,
                    int hi, int *out) {
    const char *v = serve_query(rq, name);
    *out = def;
    if (!v || !*v) return 1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "%s must be an integer in [%d, %d]", name, lo, hi);
        return 0;
    }
    *out = (int)x;
    return 1;
}

int serve_query_float(serve_request *rq, serve_response *rs, const char *name, float def,
                      float lo, float hi, float *out) {
    const char *v = serve_query(rq, name);
    *out = def;
    if (!v || !*v) return 1;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !(x >= lo && x <= hi)) {
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "%s must be a number in [%g, %g]", name, lo, hi);
        return 0;
    }
    *out = (float)x;
    return 1;
}

int serve_query_bool(serve_request *rq, serve_response *rs, const char *name, int *out) {
    const char *v = serve_query(rq, name);
    *out = 0;
    if (!v || !*v || !strcasecmp(v, "false") || !strcmp(v, "0")) return 1;
    if (!strcasecmp(v, "true") || !strcmp(v, "1")) { *out = 1; return 1; }
    serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "%s must be true or false", name);
    return 0;
}

json_t *serve_request_json(serve_request *rq, serve_response *rs) {
    if (!rq->body || !rq->body_size) {
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "a JSON body is required");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb((const char *)rq->body, rq->body_size, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "malformed JSON body: %s (at byte %d)", err.text, err.position);
        return NULL;
    }
    return j;
}

static int b64_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int serve_base64_decode(const char *in, size_t len, uint8_t **out, size_t *out_size) {
    *out = NULL; *out_size = 0;
    /* browsers' FileReader gives "data:image/jpeg;base64,...": skip the prefix */
    if (len > 5 && !strncmp(in, "data:", 5)) {
        const char *comma = memchr(in, ',', len);
        if (!comma) return 0;
        len -= (size_t)(comma + 1 - in);
        in = comma + 1;
    }
    uint8_t *buf = malloc(len / 4 * 3 + 3);
    if (!buf) return 0;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') { pad++; continue; }
        int v = b64_value(c);
        if (v < 0 || pad) { free(buf); return 0; } /* bad character, or data after padding */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) { bits -= 8; buf[n++] = (uint8_t)(acc >> bits); }
    }
    if (bits >= 6 || pad > 2) { free(buf); return 0; } /* a lone trailing sextet */
    *out = buf; *out_size = n;
    return 1;
}

int serve_request_image(serve_request *rq, serve_response *rs, const char *field,
                        const uint8_t **data, size_t *size, uint8_t **owned) {
    *data = NULL; *size = 0; *owned = NULL;
    for (int i = 0; i < rq->n_parts; i++)
        if (!strcmp(rq->parts[i].name, field)) {
            if (!rq->parts[i].size) break;
            *data = rq->parts[i].data; *size = rq->parts[i].size;
            return 1;
        }
    if (rq->n_parts || !rq->body_size) {
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "Required request part '%s' is not present", field);
        return 0;
    }
    json_t *j = serve_request_json(rq, rs);
    if (!j) return 0;
    json_t *v = json_is_object(j) ? json_object_get(j, field) : NULL;
    if (!json_is_string(v)) {
        json_decref(j);
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "the JSON body needs \"%s\": a base64 string", field);
        return 0;
    }
    int ok = serve_base64_decode(json_string_value(v), json_string_length(v), owned, size);
    json_decref(j);
    if (!ok || !*size) {
        free(*owned); *owned = NULL;
        serve_reply_error(rs, 400, CF_CODE_BAD_IMAGE, "'%s' is not valid base64", field);
        return 0;
    }
    *data = *owned;
    return 1;
}

/* ---------------------------------------------------------------- the face pipeline */

void serve_faces_free(serve_faces *f) {
    free(f->faces); free(f->emb);
    memset(f, 0, sizeof *f);
}

static float box_area(const fn_face *f) { return (f->box[2] - f->box[0]) * (f->box[3] - f->box[1]); }

static int by_area_desc(const void *a, const void *b) {
    float x = box_area(a), y = box_area(b);
    return (x < y) - (x > y);
}

int serve_find_faces(serve_request *rq, serve_response *rs, const uint8_t *data, size_t size,
                     const serve_face_options *opt, serve_faces *out) {
    serve_server *srv = rq->server;
    memset(out, 0, sizeof *out);
    fn_image img;
    fn_status s = fn_image_decode(data, size, 1, &img);
    if (s == FN_ERR_LIMIT) {
        serve_reply_error(rs, 400, CF_CODE_BAD_IMAGE, "image too large: %s", fn_last_error());
        return 0;
    }
    if (s != FN_OK) {
        serve_reply_error(rs, 400, CF_CODE_BAD_IMAGE, "the file is not a readable image (%s)", fn_last_error());
        return 0;
    }
    out->width = img.w; out->height = img.h;
    double t0 = fn_now();
    fn_face *faces = NULL;
    int n = 0;
    if (opt->whole_image) { /* the photo is the face: no detection, the crop is the photo resized */
        faces = calloc(1, sizeof *faces);
        if (!faces) s = fn_fail(FN_ERR_NOMEM, "out of memory");
        else {
            *faces = (fn_face){ { 0, 0, (float)img.w, (float)img.h }, 1.0f, { { 0 } } };
            n = 1;
        }
    } else {
        s = fn_detect(srv->det, &img, NULL, &faces, &n);
    }
    out->detect_ms = (fn_now() - t0) * 1e3;
    if (s != FN_OK) {
        fn_image_free(&img);
        serve_reply_error(rs, 500, CF_CODE_INTERNAL, "detection failed: %s", fn_last_error());
        return 0;
    }
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (faces[i].score >= opt->det_prob_threshold) faces[kept++] = faces[i];
    /* CompreFace's limit keeps the biggest faces */
    qsort(faces, (size_t)kept, sizeof *faces, by_area_desc);
    if (opt->limit > 0 && kept > opt->limit) kept = opt->limit;
    if (kept == 0) {
        free(faces); fn_image_free(&img);
        serve_reply_error(rs, 400, CF_CODE_NO_FACE, "No face is found in the given image");
        return 0;
    }
    out->n = kept;
    out->dim = fn_model_dim(srv->model);
    out->faces = calloc((size_t)kept, sizeof *out->faces);
    if (!out->faces) s = fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; s == FN_OK && i < kept; i++) out->faces[i].face = faces[i];
    free(faces);
    if (s == FN_OK && opt->embed) {
        t0 = fn_now();
        fn_image *crops = calloc((size_t)kept, sizeof *crops);
        out->emb = malloc(sizeof(float) * (size_t)kept * out->dim);
        if (!crops || !out->emb) s = fn_fail(FN_ERR_NOMEM, "out of memory");
        int S = fn_model_input_size(srv->model);
        for (int i = 0; s == FN_OK && i < kept; i++)
            s = opt->whole_image ? fn_image_resize(&img, S, S, &crops[i])
                                 : fn_model_crop(srv->model, &img, &out->faces[i].face, &crops[i]);
        if (s == FN_OK) s = fn_model_embed(srv->model, crops, kept, out->emb);
        for (int i = 0; crops && i < kept; i++) fn_image_free(&crops[i]);
        free(crops);
        for (int i = 0; s == FN_OK && i < kept; i++) out->faces[i].embedding = out->emb + (size_t)i * out->dim;
        out->embed_ms = (fn_now() - t0) * 1e3;
    }
    fn_image_free(&img);
    if (s != FN_OK) {
        serve_faces_free(out);
        serve_reply_error(rs, 500, CF_CODE_INTERNAL, "embedding failed: %s", fn_last_error());
        return 0;
    }
    return 1;
}

int serve_face_params_parse(serve_request *rq, serve_response *rs, int want_prediction_count,
                            serve_face_params *p) {
    memset(p, 0, sizeof *p);
    p->prediction_count = 1;
    if (!serve_query_float(rq, rs, "det_prob_threshold", 0.0f, 0.0f, 1.0f, &p->find.det_prob_threshold)) return 0;
    if (!serve_query_int(rq, rs, "limit", 0, 0, 1 << 20, &p->find.limit)) return 0;
    if (!serve_query_bool(rq, rs, "status", &p->status)) return 0;
    if (want_prediction_count &&
        !serve_query_int(rq, rs, "prediction_count", 1, 1, 1 << 20, &p->prediction_count)) return 0;
    /* comma-separated plugin names; unknown ones (Double Take's literal "undefined") ignored */
    const char *plugins = serve_query(rq, "face_plugins");
    for (const char *s = plugins; s && *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n && isspace((unsigned char)*s)) { s++; n--; }
        while (n && isspace((unsigned char)s[n - 1])) n--;
        if (n == 9 && !strncmp(s, "landmarks", 9)) p->plugin_landmarks = 1;
        if (n == 10 && !strncmp(s, "calculator", 10)) p->plugin_calculator = 1;
        s = e ? e + 1 : s + strlen(s);
    }
    return 1;
}

double serve_round5(double x) { return floor(x * 1e5 + 0.5) / 1e5; }

json_t *serve_face_json(const serve_face_params *p, const serve_faces *f, int i) {
    const fn_face *face = &f->faces[i].face;
    /* integer pixels, clipped to the image like CompreFace's boxes */
    int x0 = (int)lrintf(face->box[0]), y0 = (int)lrintf(face->box[1]);
    int x1 = (int)lrintf(face->box[2]), y1 = (int)lrintf(face->box[3]);
    x0 = x0 < 0 ? 0 : x0; y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > f->width ? f->width : x1; y1 = y1 > f->height ? f->height : y1;
    json_t *o = json_object();
    json_object_set_new(o, "box", json_pack("{s:f, s:i, s:i, s:i, s:i}", "probability", serve_round5(face->score),
                                            "x_max", x1, "y_max", y1, "x_min", x0, "y_min", y0));
    if (p->plugin_landmarks) {
        json_t *l = json_array();
        for (int k = 0; k < 5; k++)
            json_array_append_new(l, json_pack("[i, i]", (int)lrintf(face->landmarks[k][0]),
                                               (int)lrintf(face->landmarks[k][1])));
        json_object_set_new(o, "landmarks", l);
    }
    if (p->plugin_calculator && f->faces[i].embedding) {
        json_t *e = json_array();
        for (int k = 0; k < f->dim; k++) json_array_append_new(e, json_real(f->faces[i].embedding[k]));
        json_object_set_new(o, "embedding", e);
    }
    if (p->status) {
        json_t *t = json_pack("{s:f}", "detector", round(f->detect_ms));
        if (f->emb) json_object_set_new(t, "calculator", json_real(round(f->embed_ms)));
        json_object_set_new(o, "execution_time", t);
    }
    return o;
}

json_t *serve_plugins_versions(const serve_face_params *p) {
    json_t *v = json_pack("{s:s, s:s}", "detector", "facenet-c.MTCNN", "calculator", "facenet-c.Calculator");
    if (p->plugin_landmarks) json_object_set_new(v, "landmarks", json_string("facenet-c.MTCNN5"));
    return v;
}

/* ---------------------------------------------------------------- handlers */

static void handle_page(serve_request *rq, serve_response *rs) {
    size_t size;
    const char *type;
    const char *page = serve_web_file("/", &size, &type);
    if (!page) { serve_reply_error(rs, 404, CF_CODE_NOT_FOUND, "no page"); return; }
    serve_reply_bytes(rs, 200, type, page, size, 1);
}

static void handle_health(serve_request *rq, serve_response *rs) {
    serve_server *srv = rq->server;
    pthread_mutex_lock(&srv->active_mu);
    int active = srv->active; /* this request included */
    pthread_mutex_unlock(&srv->active_mu);
    serve_reply_json(rs, 200, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "status", "ok", "version", FN_VERSION,
                                        "model", fn_model_arch(srv->model),
                                        "workers", serve_pool_workers(srv->pool),
                                        "queue_depth", serve_pool_queue_depth(srv->pool),
                                        "in_flight", active));
}

static void handle_metrics(serve_request *rq, serve_response *rs) {
    size_t size = 0;
    char *text = serve_metrics_render(rq->server->metrics, rq->server, &size);
    if (!text) { serve_reply_error(rs, 500, CF_CODE_INTERNAL, "out of memory"); return; }
    serve_reply_bytes(rs, 200, "text/plain; version=0.0.4", text, size, 0);
}

static void handle_detect(serve_request *rq, serve_response *rs) {
    serve_face_params p;
    if (!serve_face_params_parse(rq, rs, 0, &p)) return;
    const uint8_t *data; size_t size; uint8_t *owned;
    if (!serve_request_image(rq, rs, "file", &data, &size, &owned)) return;
    p.find.embed = p.plugin_calculator;
    serve_faces f;
    int ok = serve_find_faces(rq, rs, data, size, &p.find, &f);
    free(owned);
    if (!ok) return;
    json_t *result = json_array();
    for (int i = 0; i < f.n; i++) json_array_append_new(result, serve_face_json(&p, &f, i));
    json_t *body = json_pack("{s:o}", "result", result);
    if (p.status) json_object_set_new(body, "plugins_versions", serve_plugins_versions(&p));
    serve_faces_free(&f);
    serve_reply_json(rs, 200, body);
}

float serve_similarity(serve_server *srv, const float *a, const float *b) {
    int dim = fn_model_dim(srv->model);
    return fn_similarity(&srv->calib, sqrtf(fn_distance_sq(a, b, dim)));
}

int serve_by_similarity_desc(const void *a, const void *b) {
    double x = json_real_value(json_object_get(*(json_t *const *)a, "similarity"));
    double y = json_real_value(json_object_get(*(json_t *const *)b, "similarity"));
    return (x < y) - (x > y);
}

/* CompreFace's verification: the biggest face of source_image against every face of
 * target_image, most similar first */
static void handle_verify(serve_request *rq, serve_response *rs) {
    serve_face_params p;
    if (!serve_face_params_parse(rq, rs, 0, &p)) return;
    const uint8_t *src, *tgt; size_t src_size, tgt_size; uint8_t *src_owned, *tgt_owned;
    if (!serve_request_image(rq, rs, "source_image", &src, &src_size, &src_owned)) return;
    if (!serve_request_image(rq, rs, "target_image", &tgt, &tgt_size, &tgt_owned)) { free(src_owned); return; }
    serve_face_params sp = p;
    sp.find.limit = 1;
    sp.find.embed = p.find.embed = 1;
    serve_faces fs, ft;
    int ok = serve_find_faces(rq, rs, src, src_size, &sp.find, &fs);
    if (ok && !serve_find_faces(rq, rs, tgt, tgt_size, &p.find, &ft)) { serve_faces_free(&fs); ok = 0; }
    free(src_owned); free(tgt_owned);
    if (!ok) return;
    json_t *matches = json_array();
    for (int i = 0; i < ft.n; i++) {
        json_t *m = serve_face_json(&p, &ft, i);
        json_object_set_new(m, "similarity", json_real(serve_round5(serve_similarity(rq->server, fs.faces[0].embedding, ft.faces[i].embedding))));
        json_array_append_new(matches, m);
    }
    size_t n = json_array_size(matches);
    json_t **items = malloc(sizeof *items * (n ? n : 1));
    if (items) {
        for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(matches, i));
        qsort(items, n, sizeof *items, serve_by_similarity_desc);
        json_array_clear(matches);
        for (size_t i = 0; i < n; i++) json_array_append_new(matches, items[i]);
        free(items);
    }
    json_t *entry = json_pack("{s:o, s:o}", "source_image_face", serve_face_json(&p, &fs, 0), "face_matches", matches);
    if (p.status) json_object_set_new(entry, "plugins_versions", serve_plugins_versions(&p));
    serve_faces_free(&fs); serve_faces_free(&ft);
    serve_reply_json(rs, 200, json_pack("{s:[o]}", "result", entry));
}

/* ---------------------------------------------------------------- dispatch */

typedef struct { const serve_route *route; serve_request *rq; serve_response *rs; } pool_job;

static void run_pool_job(void *ctx) {
    pool_job *j = ctx;
    j->route->handler(j->rq, j->rs);
}

void serve_dispatch(serve_server *srv, serve_request *rq, serve_response *rs, const char **route_name) {
    char params[1024];
    int status;
    *route_name = "unmatched";
    rq->server = srv;
    rq->key_index = -1;
    const serve_route *r = serve_route_find(rq->method, rq->path, rq->params, params, sizeof params, &status);
    if (!r) {
        if (status == 405) serve_reply_error(rs, 405, CF_CODE_NOT_FOUND, "method %s is not allowed here", rq->method);
        else serve_reply_error(rs, 404, CF_CODE_NOT_FOUND, "no such endpoint");
        return;
    }
    *route_name = r->name;
    if (r->key == ROUTE_KEY) {
        if (!rq->api_key || !*rq->api_key) {
            serve_reply_error(rs, 401, CF_CODE_MISSING_KEY, "Missing header: x-api-key");
            return;
        }
        rq->key_index = serve_keys_find(&srv->keys, rq->api_key);
        if (rq->key_index < 0) {
            serve_reply_error(rs, 401, serve_key_wellformed(rq->api_key) ? CF_CODE_NOT_FOUND : CF_CODE_BAD_ARGUMENT,
                              "API key is not valid");
            return;
        }
    }
    if (!r->inference) { r->handler(rq, rs); return; }
    pool_job j = { r, rq, rs };
    int q = serve_pool_run(srv->pool, run_pool_job, &j);
    if (q == -1) {
        rs->retry_after = 1;
        serve_reply_error(rs, 429, CF_CODE_BUSY, "too many requests: every worker is busy and the queue is full");
    } else if (q == -2) {
        serve_reply_error(rs, 503, CF_CODE_BUSY, "the server is shutting down");
    }
}
#endif
