/* recognition.c — CompreFace's recognition service on the gallery: subjects, examples
 * (faces), recognize, verify against a stored example, and the embedding variants. Each
 * API key owns one collection, named from a hash of the key (never the key itself). */
#ifdef FN_HAVE_SERVE
#include "serve.h"
#include <errno.h>

/* ---------------------------------------------------------------- collections */

struct fn_gallery *serve_gallery(serve_request *rq, serve_response *rs) {
    serve_server *srv = rq->server;
    if (!srv->opt.gallery) {
        serve_reply_error(rs, 501, CF_CODE_INTERNAL, "the server runs without a gallery (--gallery)");
        return NULL;
    }
    pthread_mutex_lock(&srv->gallery_mu);
    fn_gallery *g = srv->galleries[rq->key_index];
    if (!g) {
        char hash[65], name[32];
        const char *key = srv->keys.keys[rq->key_index];
        fn_sha256_hex(key, strlen(key), hash);
        snprintf(name, sizeof name, "key-%.24s", hash);
        fn_gallery_options o;
        fn_gallery_options_default(&o);
        o.model_id = fn_model_id(srv->model);
        o.dim = fn_model_dim(srv->model);
        o.calib = srv->calib;
        o.collection = name;
        o.create = 1;
        fn_status s = fn_gallery_open(srv->opt.gallery, &o, &g);
        if (s != FN_OK) {
            g = NULL;
            serve_log(srv, "gallery: cannot open collection %s: %s", name, fn_last_error());
            serve_reply_error(rs, 500, CF_CODE_INTERNAL, "cannot open the face collection: %s", fn_last_error());
        }
        srv->galleries[rq->key_index] = g;
    }
    pthread_mutex_unlock(&srv->gallery_mu);
    return g;
}

void serve_galleries_close(serve_server *srv) {
    if (!srv->galleries) return;
    for (int i = 0; i < srv->keys.n; i++) { fn_gallery_close(srv->galleries[i]); srv->galleries[i] = NULL; }
}

long serve_faces_enrolled(serve_server *srv) {
    long n = 0;
    pthread_mutex_lock(&srv->gallery_mu);
    /* the count from a one-row page: fn_gallery_info reads the handle's change sequence
     * outside its lock (a race TSan reports against concurrent enrolments) */
    for (int i = 0; i < srv->keys.n; i++) {
        fn_gallery_face_info *f;
        int got, total;
        if (srv->galleries[i] && fn_gallery_list_faces(srv->galleries[i], NULL, 0, 1, &f, &got, &total) == FN_OK) {
            free(f);
            n += total;
        }
    }
    pthread_mutex_unlock(&srv->gallery_mu);
    return n;
}

/* a gallery failure as an HTTP reply */
static void reply_status(serve_response *rs, fn_status s, const char *what) {
    if (s == FN_ERR_MISSING) serve_reply_error(rs, 404, CF_CODE_NOT_FOUND, "%s not found", what);
    else if (s == FN_ERR_ARG || s == FN_ERR_LIMIT)
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "%s", fn_last_error());
    else serve_reply_error(rs, 500, CF_CODE_INTERNAL, "%s: %s", fn_status_str(s), fn_last_error());
}

/* image ids look like CompreFace's UUIDs; the face id is the last 12 hex digits */
static void image_id_format(int64_t id, char out[40]) {
    snprintf(out, 40, "00000000-0000-4000-8000-%012llx", (unsigned long long)id);
}

static int image_id_parse(const char *s, int64_t *id) {
    static const char prefix[] = "00000000-0000-4000-8000-";
    if (!s || strncmp(s, prefix, sizeof prefix - 1) != 0) return 0;
    const char *h = s + sizeof prefix - 1;
    uint64_t v = 0;
    int n = 0;
    for (; h[n]; n++) {
        int c = h[n], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 || n >= 12) return 0;
        v = v * 16 + (uint64_t)d;
    }
    if (n != 12 || v == 0) return 0;
    *id = (int64_t)v;
    return 1;
}

static int subject_ok(serve_response *rs, const char *subject) {
    size_t n = subject ? strlen(subject) : 0;
    if (n == 0 || n > FN_GALLERY_NAME_MAX) {
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "subject must be 1..%d bytes", FN_GALLERY_NAME_MAX);
        return 0;
    }
    return 1;
}

/* {"subject": "..."} of a JSON body; NULL after a 400 */
static json_t *body_subject(serve_request *rq, serve_response *rs, const char **subject) {
    json_t *j = serve_request_json(rq, rs);
    if (!j) return NULL;
    json_t *v = json_is_object(j) ? json_object_get(j, "subject") : NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        json_decref(j);
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "the JSON body needs \"subject\": a string");
        return NULL;
    }
    *subject = json_string_value(v);
    if (!subject_ok(rs, *subject)) { json_decref(j); return NULL; }
    return j;
}

/* ---------------------------------------------------------------- subjects */

void serve_subject_add(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    const char *subject;
    json_t *j = g ? body_subject(rq, rs, &subject) : NULL;
    if (!j) return;
    int created;
    fn_status s = fn_gallery_add_subject(g, subject, &created);
    if (s != FN_OK) reply_status(rs, s, "subject");
    else serve_reply_json(rs, 201, json_pack("{s:s}", "subject", subject));
    json_decref(j);
}

void serve_subject_list(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    fn_gallery_subject *subs;
    int n;
    fn_status s = fn_gallery_list_subjects(g, &subs, &n);
    if (s != FN_OK) { reply_status(rs, s, "subjects"); return; }
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_string(subs[i].name));
    free(subs);
    serve_reply_json(rs, 200, json_pack("{s:o}", "subjects", a));
}

void serve_subject_delete_all(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    fn_gallery_subject *subs = NULL;
    int n = 0;
    fn_status s = fn_gallery_list_subjects(g, &subs, &n);
    free(subs);
    if (s == FN_OK) s = fn_gallery_remove_all(g, NULL);
    if (s != FN_OK) reply_status(rs, s, "subjects");
    else serve_reply_json(rs, 200, json_pack("{s:i}", "deleted", n));
}

void serve_subject_rename(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    const char *subject;
    json_t *j = g && subject_ok(rs, rq->params[0]) ? body_subject(rq, rs, &subject) : NULL;
    if (!j) return;
    fn_status s = fn_gallery_rename_subject(g, rq->params[0], subject);
    if (s != FN_OK) reply_status(rs, s, "subject");
    else serve_reply_json(rs, 200, json_pack("{s:b}", "updated", 1));
    json_decref(j);
}

void serve_subject_delete(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g || !subject_ok(rs, rq->params[0])) return;
    fn_status s = fn_gallery_remove_subject(g, rq->params[0], NULL);
    if (s != FN_OK) reply_status(rs, s, "subject");
    else serve_reply_json(rs, 200, json_pack("{s:s}", "subject", rq->params[0]));
}

/* ---------------------------------------------------------------- examples (faces) */

void serve_face_add(serve_request *rq, serve_response *rs) {
    const char *subject = serve_query(rq, "subject");
    if (!subject_ok(rs, subject)) return;
    serve_face_params p;
    if (!serve_face_params_parse(rq, rs, 0, &p)) return;
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    const uint8_t *data; size_t size; uint8_t *owned;
    if (!serve_request_image(rq, rs, "file", &data, &size, &owned)) return;
    /* an example is one face: the biggest; detect_faces=false: the photo is a face crop */
    const char *df = serve_query(rq, "detect_faces");
    int detect = 1;
    if (df && *df && !serve_query_bool(rq, rs, "detect_faces", &detect)) { free(owned); return; }
    p.find.whole_image = !detect;
    p.find.limit = 1;
    p.find.embed = 1;
    serve_faces f;
    if (!serve_find_faces(rq, rs, data, size, &p.find, &f)) { free(owned); return; }
    char sha[65];
    fn_sha256_hex(data, size, sha);
    fn_gallery_face face;
    memset(&face, 0, sizeof face);
    face.subject = subject;
    face.embedding = f.faces[0].embedding;
    face.source_sha256 = sha;
    memcpy(face.box, f.faces[0].face.box, sizeof face.box);
    memcpy(face.landmarks, f.faces[0].face.landmarks, sizeof face.landmarks);
    face.score = f.faces[0].face.score;
    face.image = data;
    face.image_size = size;
    int64_t id = 0;
    fn_status s = fn_gallery_enroll(g, &face, &id, NULL);
    serve_faces_free(&f);
    free(owned);
    if (s != FN_OK) { reply_status(rs, s, "subject"); return; }
    char uuid[40];
    image_id_format(id, uuid);
    serve_reply_json(rs, 201, json_pack("{s:s, s:s}", "image_id", uuid, "subject", subject));
}

void serve_face_list(serve_request *rq, serve_response *rs) {
    int page, size;
    if (!serve_query_int(rq, rs, "page", 0, 0, 1 << 30, &page)) return;
    if (!serve_query_int(rq, rs, "size", 20, 1, 10000, &size)) return;
    const char *subject = serve_query(rq, "subject");
    if (subject && !*subject) subject = NULL;
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    fn_gallery_face_info *faces;
    int n, total;
    long offset = (long)page * size;
    fn_status s = fn_gallery_list_faces(g, subject, offset > (1 << 30) ? (1 << 30) : (int)offset, size, &faces, &n, &total);
    if (s != FN_OK) { reply_status(rs, s, "faces"); return; }
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        char uuid[40];
        image_id_format(faces[i].id, uuid);
        json_array_append_new(a, json_pack("{s:s, s:s}", "image_id", uuid, "subject", faces[i].subject));
    }
    free(faces);
    serve_reply_json(rs, 200, json_pack("{s:o, s:i, s:i, s:i, s:i}", "faces", a, "page_number", page,
                                        "page_size", size, "total_pages", (total + size - 1) / size,
                                        "total_elements", total));
}

/* removes the faces of subject (NULL: of everyone), one page at a time; subjects stay */
void serve_face_delete_by_subject(serve_request *rq, serve_response *rs) {
    const char *subject = serve_query(rq, "subject");
    if (subject && !*subject) subject = NULL;
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    int deleted = 0;
    fn_status s = FN_OK;
    for (;;) {
        fn_gallery_face_info *faces;
        int n, total;
        s = fn_gallery_list_faces(g, subject, 0, 256, &faces, &n, &total);
        if (s != FN_OK || n == 0) { if (s == FN_OK) free(faces); break; }
        for (int i = 0; i < n && s == FN_OK; i++) {
            s = fn_gallery_remove_face(g, faces[i].id);
            if (s == FN_ERR_MISSING) s = FN_OK; /* another request took it */
            else if (s == FN_OK) deleted++;
        }
        free(faces);
        if (s != FN_OK) break;
    }
    if (s != FN_OK) reply_status(rs, s, "faces");
    else serve_reply_json(rs, 200, json_pack("{s:i}", "deleted", deleted));
}

void serve_face_delete(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    int64_t id;
    fn_gallery_face_info info;
    if (!image_id_parse(rq->params[0], &id)) {
        serve_reply_error(rs, 404, CF_CODE_IMAGE_NOT_FOUND, "image not found");
        return;
    }
    fn_status s = fn_gallery_get_face(g, id, &info, NULL, NULL, NULL);
    if (s == FN_OK) s = fn_gallery_remove_face(g, id);
    if (s != FN_OK) { reply_status(rs, s, "image"); return; }
    serve_reply_json(rs, 200, json_pack("{s:s, s:s}", "image_id", rq->params[0], "subject", info.subject));
}

void serve_face_delete_many(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    json_t *j = g ? serve_request_json(rq, rs) : NULL;
    if (!j) return;
    if (!json_is_array(j)) {
        json_decref(j);
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "the body must be a JSON array of image ids");
        return;
    }
    json_t *out = json_array();
    size_t i;
    json_t *v;
    fn_status s = FN_OK;
    json_array_foreach(j, i, v) {
        int64_t id;
        fn_gallery_face_info info;
        if (!json_is_string(v) || !image_id_parse(json_string_value(v), &id)) continue;
        s = fn_gallery_get_face(g, id, &info, NULL, NULL, NULL);
        if (s == FN_OK) s = fn_gallery_remove_face(g, id);
        if (s == FN_ERR_MISSING) { s = FN_OK; continue; }
        if (s != FN_OK) break;
        json_array_append_new(out, json_pack("{s:s, s:s}", "image_id", json_string_value(v), "subject", info.subject));
    }
    json_decref(j);
    if (s != FN_OK) { json_decref(out); reply_status(rs, s, "image"); return; }
    serve_reply_json(rs, 200, json_pack("{s:o}", "deleted", out));
}

static const char *image_type(const uint8_t *d, size_t n) {
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8) return "image/jpeg";
    if (n >= 8 && !memcmp(d, "\x89PNG", 4)) return "image/png";
    if (n >= 6 && !memcmp(d, "GIF8", 4)) return "image/gif";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "image/bmp";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return "image/webp";
    return "application/octet-stream";
}

static void reply_image(serve_request *rq, serve_response *rs, fn_gallery *g, const char *image_id) {
    int64_t id;
    fn_gallery_face_info info;
    uint8_t *img = NULL;
    size_t size = 0;
    if (!image_id_parse(image_id, &id)) {
        serve_reply_error(rs, 404, CF_CODE_IMAGE_NOT_FOUND, "image not found");
        return;
    }
    fn_status s = fn_gallery_get_face(g, id, &info, NULL, &img, &size);
    if (s != FN_OK) { reply_status(rs, s, "image"); return; }
    if (!img || !size) { free(img); serve_reply_error(rs, 404, CF_CODE_IMAGE_NOT_FOUND, "no image stored for this example"); return; }
    serve_reply_bytes(rs, 200, image_type(img, size), img, size, 0);
}

void serve_face_image(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    if (g) reply_image(rq, rs, g, rq->params[0]);
}

/* /api/v1/static/{key}/images/{image_id}: for <img src>, the key is in the path */
void serve_face_image_static(serve_request *rq, serve_response *rs) {
    rq->key_index = serve_keys_find(&rq->server->keys, rq->params[0]);
    if (rq->key_index < 0) { serve_reply_error(rs, 401, CF_CODE_NOT_FOUND, "API key is not valid"); return; }
    fn_gallery *g = serve_gallery(rq, rs);
    if (g) reply_image(rq, rs, g, rq->params[1]);
}

/* ---------------------------------------------------------------- recognize / verify */

static json_t *subjects_json(const fn_gallery_match *m, int n) {
    json_t *a = json_array();
    for (int k = 0; k < n; k++)
        json_array_append_new(a, json_pack("{s:s, s:f}", "subject", m[k].subject, "similarity", serve_round5(m[k].similarity)));
    return a;
}

void serve_recognize(serve_request *rq, serve_response *rs) {
    serve_face_params p;
    if (!serve_face_params_parse(rq, rs, 1, &p)) return;
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    const uint8_t *data; size_t size; uint8_t *owned;
    if (!serve_request_image(rq, rs, "file", &data, &size, &owned)) return;
    p.find.embed = 1;
    serve_faces f;
    int ok = serve_find_faces(rq, rs, data, size, &p.find, &f);
    free(owned);
    if (!ok) return;
    int k = p.prediction_count > 64 ? 64 : p.prediction_count;
    fn_gallery_match *m = malloc(sizeof *m * (size_t)f.n * k);
    int *found = malloc(sizeof *found * (size_t)f.n);
    fn_status s = m && found ? fn_gallery_search_subjects(g, f.emb, f.n, k, m, found) : FN_ERR_NOMEM;
    if (s != FN_OK) {
        free(m); free(found); serve_faces_free(&f);
        reply_status(rs, s, "collection");
        return;
    }
    json_t *result = json_array();
    for (int i = 0; i < f.n; i++) {
        json_t *o = serve_face_json(&p, &f, i);
        json_object_set_new(o, "subjects", subjects_json(m + (size_t)i * k, found[i]));
        json_array_append_new(result, o);
    }
    json_t *body = json_pack("{s:o}", "result", result);
    if (p.status) json_object_set_new(body, "plugins_versions", serve_plugins_versions(&p));
    free(m); free(found); serve_faces_free(&f);
    serve_reply_json(rs, 200, body);
}

/* the stored example's embedding; 0 after a reply */
static int stored_embedding(serve_request *rq, serve_response *rs, fn_gallery *g, float *emb) {
    int64_t id;
    fn_gallery_face_info info;
    if (!image_id_parse(rq->params[0], &id)) {
        serve_reply_error(rs, 404, CF_CODE_IMAGE_NOT_FOUND, "image not found");
        return 0;
    }
    fn_status s = fn_gallery_get_face(g, id, &info, emb, NULL, NULL);
    if (s != FN_OK) { reply_status(rs, s, "image"); return 0; }
    return 1;
}

void serve_face_verify(serve_request *rq, serve_response *rs) {
    serve_face_params p;
    if (!serve_face_params_parse(rq, rs, 0, &p)) return;
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    int dim = fn_model_dim(rq->server->model);
    float *ref = malloc(sizeof(float) * (size_t)dim);
    if (!ref) { serve_reply_error(rs, 500, CF_CODE_INTERNAL, "out of memory"); return; }
    if (!stored_embedding(rq, rs, g, ref)) { free(ref); return; }
    const uint8_t *data; size_t size; uint8_t *owned;
    if (!serve_request_image(rq, rs, "file", &data, &size, &owned)) { free(ref); return; }
    p.find.embed = 1;
    serve_faces f;
    int ok = serve_find_faces(rq, rs, data, size, &p.find, &f);
    free(owned);
    if (!ok) { free(ref); return; }
    json_t **items = malloc(sizeof *items * (size_t)f.n);
    if (!items) { free(ref); serve_faces_free(&f); serve_reply_error(rs, 500, CF_CODE_INTERNAL, "out of memory"); return; }
    for (int i = 0; i < f.n; i++) {
        items[i] = serve_face_json(&p, &f, i);
        json_object_set_new(items[i], "similarity", json_real(serve_round5(serve_similarity(rq->server, ref, f.faces[i].embedding))));
    }
    qsort(items, (size_t)f.n, sizeof *items, serve_by_similarity_desc);
    json_t *result = json_array();
    for (int i = 0; i < f.n; i++) json_array_append_new(result, items[i]);
    free(items); free(ref);
    json_t *body = json_pack("{s:o}", "result", result);
    if (p.status) json_object_set_new(body, "plugins_versions", serve_plugins_versions(&p));
    serve_faces_free(&f);
    serve_reply_json(rs, 200, body);
}

/* {"embeddings": [[dim numbers], ...]} into rows (malloc'd); 0 after a 400 */
static int body_embeddings(serve_request *rq, serve_response *rs, int dim, json_t **doc, float **rows, int *n) {
    json_t *j = serve_request_json(rq, rs);
    if (!j) return 0;
    json_t *a = json_is_object(j) ? json_object_get(j, "embeddings") : NULL;
    size_t count = json_is_array(a) ? json_array_size(a) : 0;
    if (!count || count > 1024) {
        json_decref(j);
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "the JSON body needs \"embeddings\": 1..1024 arrays of %d numbers", dim);
        return 0;
    }
    float *e = malloc(sizeof(float) * count * (size_t)dim);
    for (size_t i = 0; e && i < count; i++) {
        json_t *row = json_array_get(a, i);
        if (!json_is_array(row) || json_array_size(row) != (size_t)dim) { free(e); e = NULL; break; }
        double norm = 0;
        for (int k = 0; k < dim; k++) {
            json_t *x = json_array_get(row, (size_t)k);
            if (!json_is_number(x)) { free(e); e = NULL; break; }
            e[i * dim + k] = (float)json_number_value(x);
            norm += (double)e[i * dim + k] * e[i * dim + k];
        }
        if (!e) break;
        if (!(norm > 0) || !isfinite(norm)) { free(e); e = NULL; break; }
        for (int k = 0; k < dim; k++) e[i * dim + k] = (float)(e[i * dim + k] / sqrt(norm));
    }
    if (!e) {
        json_decref(j);
        serve_reply_error(rs, 400, CF_CODE_BAD_ARGUMENT, "each embedding must be %d finite numbers, not all zero", dim);
        return 0;
    }
    *doc = j; *rows = e; *n = (int)count;
    return 1;
}

void serve_embeddings_recognize(serve_request *rq, serve_response *rs) {
    int pc;
    if (!serve_query_int(rq, rs, "prediction_count", 1, 1, 64, &pc)) return;
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    int dim = fn_model_dim(rq->server->model), n;
    json_t *doc; float *e;
    if (!body_embeddings(rq, rs, dim, &doc, &e, &n)) return;
    fn_gallery_match *m = malloc(sizeof *m * (size_t)n * pc);
    int *found = malloc(sizeof *found * (size_t)n);
    fn_status s = m && found ? fn_gallery_search_subjects(g, e, n, pc, m, found) : FN_ERR_NOMEM;
    json_t *result = json_array();
    for (int i = 0; s == FN_OK && i < n; i++)
        json_array_append_new(result, json_pack("{s:O, s:o}", "embedding",
            json_array_get(json_object_get(doc, "embeddings"), (size_t)i), "similarities",
            subjects_json(m + (size_t)i * pc, found[i])));
    free(m); free(found); free(e); json_decref(doc);
    if (s != FN_OK) { json_decref(result); reply_status(rs, s, "collection"); return; }
    serve_reply_json(rs, 200, json_pack("{s:o}", "result", result));
}

void serve_embeddings_verify(serve_request *rq, serve_response *rs) {
    fn_gallery *g = serve_gallery(rq, rs);
    if (!g) return;
    int dim = fn_model_dim(rq->server->model), n;
    float *ref = malloc(sizeof(float) * (size_t)dim);
    if (!ref) { serve_reply_error(rs, 500, CF_CODE_INTERNAL, "out of memory"); return; }
    if (!stored_embedding(rq, rs, g, ref)) { free(ref); return; }
    json_t *doc; float *e;
    if (!body_embeddings(rq, rs, dim, &doc, &e, &n)) { free(ref); return; }
    json_t *result = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(result, json_pack("{s:O, s:f}", "embedding",
            json_array_get(json_object_get(doc, "embeddings"), (size_t)i), "similarity",
            serve_round5(serve_similarity(rq->server, ref, e + (size_t)i * dim))));
    free(ref); free(e); json_decref(doc);
    serve_reply_json(rs, 200, json_pack("{s:o}", "result", result));
}
#endif
