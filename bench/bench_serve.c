/* bench_serve.c — recognize through HTTP against the same pipeline called in-process, in
 * the same run on the same one-face photos: `facenet serve`'s overhead (HTTP parsing,
 * multipart, JSON, the pool hand-off) as a throughput ratio and a p50 latency difference.
 *
 *   bench_serve [--photos DIR] [--n PHOTOS] [--requests R] [--workers W] [--rounds K]
 *
 * Both sides run W requests at a time (the server: W workers and W keep-alive client
 * connections; in-process: W threads, one-threaded BLAS/OpenMP when W > 1 as the workers are),
 * over a gallery holding the photos' faces. Phases alternate (in-process, HTTP, ...) K
 * times so that load drift on a shared machine hits both alike; the median round counts. */
#define _GNU_SOURCE
#include "facenet.h"
#include "core.h"
#include <arpa/inet.h>
#include <cblas.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <omp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct { uint8_t *data; size_t size; } blob;

static blob *photos;
static int n_photos;

/* ---------------------------------------------------------------- in-process */
typedef struct {
    fn_detector *det; fn_model *model; fn_gallery *g;
    int first, count, stride, one_thread;
    double *lat;
    int failures;
} inproc_job;

static void *inproc_thread(void *arg) {
    inproc_job *j = arg;
    if (j->one_thread) omp_set_num_threads(1); /* as the server's workers: one-threaded only when there are several */
    int dim = fn_model_dim(j->model);
    for (int r = 0; r < j->count; r++) {
        int i = j->first + r * j->stride;
        double t0 = fn_now();
        fn_image img;
        fn_face *faces = NULL;
        int n = 0, ok = 0;
        if (fn_image_decode(photos[i % n_photos].data, photos[i % n_photos].size, 1, &img) == FN_OK) {
            if (fn_detect(j->det, &img, NULL, &faces, &n) == FN_OK && n > 0) {
                fn_image *crops = calloc((size_t)n, sizeof *crops);
                float *emb = malloc(sizeof(float) * (size_t)n * dim);
                int good = crops && emb;
                for (int k = 0; good && k < n; k++) good = fn_model_crop(j->model, &img, &faces[k], &crops[k]) == FN_OK;
                if (good && fn_model_embed(j->model, crops, n, emb) == FN_OK) {
                    fn_gallery_match *m = malloc(sizeof *m * (size_t)n);
                    int *found = malloc(sizeof *found * (size_t)n);
                    ok = m && found && fn_gallery_search_subjects(j->g, emb, n, 1, m, found) == FN_OK;
                    free(m); free(found);
                }
                for (int k = 0; crops && k < n; k++) fn_image_free(&crops[k]);
                free(crops); free(emb);
            }
            fn_image_free(&img);
        }
        free(faces);
        if (!ok) j->failures++;
        j->lat[r] = fn_now() - t0;
    }
    return NULL;
}

/* ---------------------------------------------------------------- HTTP client */
typedef struct {
    int port; const char *key;
    int first, count, stride;
    double *lat;
    int failures;
} http_job;

static int read_response(int fd, char *buf, size_t cap, int *status) {
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        ssize_t k = recv(fd, buf + got, cap - 1 - got, 0);
        if (k <= 0) return -1;
        got += (size_t)k;
        buf[got] = 0;
        end = strstr(buf, "\r\n\r\n");
        if (got >= cap - 1 && !end) return -1;
    }
    *status = atoi(buf + 9);
    const char *cl = strcasestr(buf, "content-length:");
    size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0, have = got - (size_t)(end + 4 - buf);
    while (have < body) { /* the body is not kept */
        ssize_t k = recv(fd, buf, cap - 1 < body - have ? cap - 1 : body - have, 0);
        if (k <= 0) return -1;
        have += (size_t)k;
    }
    return 0;
}

static void *http_thread(void *arg) {
    http_job *j = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)j->port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { j->failures = j->count; close(fd); return NULL; }
    char *buf = malloc(1 << 20), head[1024];
    for (int r = 0; r < j->count; r++) {
        int i = j->first + r * j->stride;
        const blob *p = &photos[i % n_photos];
        static const char pre[] = "--bench\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
                                  "Content-Type: image/jpeg\r\n\r\n", post[] = "\r\n--bench--\r\n";
        size_t len = sizeof pre - 1 + p->size + sizeof post - 1;
        int hl = snprintf(head, sizeof head,
                          "POST /api/v1/recognition/recognize?limit=0&prediction_count=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "x-api-key: %s\r\nContent-Type: multipart/form-data; boundary=bench\r\nContent-Length: %zu\r\n\r\n%s",
                          j->key, len, pre);
        double t0 = fn_now();
        int status = 0;
        if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) != hl ||
            send(fd, p->data, p->size, MSG_NOSIGNAL) != (ssize_t)p->size ||
            send(fd, post, sizeof post - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof post - 1) ||
            read_response(fd, buf, 1 << 20, &status) != 0 || status != 200)
            j->failures++;
        j->lat[r] = fn_now() - t0;
    }
    free(buf);
    close(fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { double rate, p50; int failures; } phase_result;

static phase_result run_phase(int http, int workers, int requests, void *ctx_inproc, int port, const char *key) {
    pthread_t tid[64];
    inproc_job ij[64];
    http_job hj[64];
    double *lat = calloc((size_t)requests, sizeof *lat);
    int per = requests / workers;
    double t0 = fn_now();
    for (int w = 0; w < workers; w++) {
        if (http) {
            hj[w] = (http_job){ port, key, w, per, workers, lat + (size_t)w * per, 0 };
            pthread_create(&tid[w], NULL, http_thread, &hj[w]);
        } else {
            ij[w] = *(inproc_job *)ctx_inproc;
            ij[w].first = w; ij[w].count = per; ij[w].stride = workers; ij[w].lat = lat + (size_t)w * per;
            pthread_create(&tid[w], NULL, inproc_thread, &ij[w]);
        }
    }
    phase_result r = { 0, 0, 0 };
    for (int w = 0; w < workers; w++) {
        pthread_join(tid[w], NULL);
        r.failures += http ? hj[w].failures : ij[w].failures;
    }
    double wall = fn_now() - t0;
    qsort(lat, (size_t)per * workers, sizeof *lat, cmp_double);
    r.rate = per * workers / wall;
    r.p50 = lat[per * workers / 2];
    free(lat);
    return r;
}

int main(int argc, char **argv) {
    const char *dir = FN_SOURCE_DIR "/../shared/data/lfw/deepfunneled";
    int n = 40, requests = 200, workers = 2, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--photos")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests")) requests = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: bench_serve [--photos DIR] [--n N] [--requests R] [--workers W] [--rounds K]\n"); return 2; }
    }
    if (workers < 1 || workers > 64 || requests < workers || n < 1 || rounds < 1) { fprintf(stderr, "bench_serve: bad arguments\n"); return 2; }
    /* one photo of each of the first n people (LFW: one face in front each) */
    fn_dataset ds;
    if (fn_dataset_load(dir, &ds) != FN_OK) { fprintf(stderr, "bench_serve: %s\n", fn_last_error()); return 1; }
    photos = calloc((size_t)n, sizeof *photos);
    for (int c = 0; c < ds.n_classes && n_photos < n; c++)
        if (ds.classes[c].n_paths && fn_read_file(ds.classes[c].paths[0], &photos[n_photos].data, &photos[n_photos].size) == FN_OK)
            n_photos++;
    fn_dataset_free(&ds);

    char tmp[] = "/tmp/bench_serve.XXXXXX", keys[256], gallery[256], key[64];
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    snprintf(keys, sizeof keys, "%s/keys.txt", tmp);
    snprintf(gallery, sizeof gallery, "%s/gallery.db", tmp);
    fn_serve_new_key(keys, key, sizeof key);
    fn_serve_options o;
    fn_serve_options_default(&o);
    o.keys_file = keys; o.gallery = gallery; o.port = 0; o.workers = workers;
    o.model = FN_SOURCE_DIR "/models/dlib_resnet.safetensors";
    o.mtcnn = FN_SOURCE_DIR "/models/mtcnn.safetensors";
    o.queue = 4 * workers;
    fn_server *srv;
    if (fn_server_start(&o, &srv) != FN_OK) { fprintf(stderr, "bench_serve: %s\n", fn_last_error()); return 1; }
    int port = fn_server_port(srv);

    /* the in-process side: its own detector, model and handle on the same collection */
    inproc_job base = { .one_thread = workers > 1 };
    fn_detector_open(o.mtcnn, &base.det);
    fn_model_open(o.model, &base.model);
    /* enrol every photo through HTTP (the server creates the key's collection) */
    int enrolled = 0;
    for (int i = 0; i < n_photos; i++) {
        char cmd[1024], path[300];
        snprintf(path, sizeof path, "%s/p%d.jpg", tmp, i);
        fn_write_file_atomic(path, photos[i].data, photos[i].size);
        snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' -H 'x-api-key: %s' -F file=@%s "
                 "'http://127.0.0.1:%d/api/v1/recognition/faces?subject=person%d' | grep -q 201", key, path, port, i);
        enrolled += system(cmd) == 0;
        remove(path);
    }
    char hash[65], coll[32];
    fn_sha256_hex(key, strlen(key), hash);
    snprintf(coll, sizeof coll, "key-%.24s", hash);
    fn_gallery_options go;
    fn_gallery_options_default(&go);
    go.collection = coll;
    if (fn_gallery_open(gallery, &go, &base.g) != FN_OK) { fprintf(stderr, "bench_serve: %s\n", fn_last_error()); return 1; }
    fn_gallery_stats st;
    fn_gallery_info(base.g, &st);

    char cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    for (char line[512]; f && fgets(line, sizeof line, f);)
        if (!strncmp(line, "model name", 10)) { char *c = strchr(line, ':'); snprintf(cpu, sizeof cpu, "%.200s", c ? c + 2 : line); cpu[strcspn(cpu, "\n")] = 0; break; }
    if (f) fclose(f);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double load[1] = { 0 };
    getloadavg(load, 1);
    printf("bench_serve: recognize, %d one-face LFW photos (%d enrolled, gallery %d faces), %d requests per phase, %d at a time\n",
           n_photos, enrolled, st.n_faces, requests, workers);
    printf("CPU: %s, %ld cores, load average %.1f at start\n", cpu, cores, load[0]);
    printf("%-6s %-12s %10s %10s %9s\n", "round", "side", "req/s", "p50 ms", "failures");
    double ratio[64], over[64];
    for (int k = 0; k < rounds && k < 64; k++) {
        phase_result a = run_phase(0, workers, requests, &base, port, key);
        phase_result b = run_phase(1, workers, requests, &base, port, key);
        printf("%-6d %-12s %10.2f %10.2f %9d\n", k + 1, "in-process", a.rate, 1e3 * a.p50, a.failures);
        printf("%-6d %-12s %10.2f %10.2f %9d\n", k + 1, "HTTP", b.rate, 1e3 * b.p50, b.failures);
        ratio[k] = b.rate / a.rate;
        over[k] = 1e3 * (b.p50 - a.p50);
    }
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_double);
    qsort(over, (size_t)rounds, sizeof *over, cmp_double);
    printf("HTTP / in-process throughput: median %.3f (min %.3f, max %.3f); p50 overhead: median %+.2f ms (min %+.2f, max %+.2f)\n",
           ratio[rounds / 2], ratio[0], ratio[rounds - 1], over[rounds / 2], over[0], over[rounds - 1]);
    fn_gallery_close(base.g);
    fn_model_close(base.model);
    fn_detector_close(base.det);
    fn_server_stop(srv);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmp);
    if (system(rm) != 0) fprintf(stderr, "bench_serve: could not remove %s\n", tmp);
    return 0;
}
