/* bench_gallery_pg.c — the PostgreSQL gallery against the SQLite one, same run, same data
 * (512-d unit embeddings, no photos):
 *   1. enrolment throughput: one face per transaction (the API's add-example) and imports of
 *      1,000 faces per transaction (fn_gallery_enroll_many), faces/s on each store;
 *   2. propagation delay: process A enrols a face every few ms, process B (another node)
 *      searches continuously for it; the time from A's enrol returning (and from A calling)
 *      until B's search returns that face, p50 / p99 / max, over --probes faces;
 *   3. search throughput of one process against two on one PostgreSQL collection (each
 *      process with --threads threads searching one query at a time), after the sync layer
 *      has nothing to do but answer "no change" from notifications.
 * Needs a server: run bench/gallery_pg.sh (a throwaway cluster, fsync on) or give --uri.
 *
 *     bench_gallery_pg --uri postgresql://... --sqlite /tmp/x.db [--single 2000] [--import 50000]
 *                      [--probes 300] [--faces 10000] [--threads 1] [--seconds 5]
 * Not a test. */
#define _GNU_SOURCE
#include "facenet.h"
#include "core.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIM 512

static void rand_unit(fn_rng *r, float *v) {
    double s = 0;
    for (int j = 0; j < DIM; j++) {
        v[j] = (float)((fn_rng_next(r) >> 11) * 0x1.0p-53 - 0.5);
        s += (double)v[j] * v[j];
    }
    for (int j = 0; j < DIM; j++) v[j] = (float)(v[j] / sqrt(s));
}

static fn_gallery *open_g(const char *uri, const char *coll, int create) {
    fn_gallery_options o;
    fn_gallery_options_default(&o);
    o.model_id = "bench-model";
    o.dim = DIM;
    o.collection = coll;
    o.create = create;
    o.index = FN_INDEX_EXACT;
    fn_gallery *g = NULL;
    if (fn_gallery_open(uri, &o, &g) != FN_OK) {
        fprintf(stderr, "bench_gallery_pg: %s: %s\n", uri, fn_last_error());
        exit(1);
    }
    return g;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---------------------------------------------------------------- 1. enrolment */
static double enrol_single(const char *uri, const char *coll, int n, fn_rng *r) {
    fn_gallery *g = open_g(uri, coll, 1);
    float e[DIM];
    char subj[32];
    double t0 = fn_now();
    for (int i = 0; i < n; i++) {
        rand_unit(r, e);
        snprintf(subj, sizeof subj, "person %d", i % 500);
        fn_gallery_face f = { .subject = subj, .embedding = e, .score = 0.99f };
        if (fn_gallery_enroll(g, &f, NULL, NULL) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); exit(1); }
    }
    double dt = fn_now() - t0;
    fn_gallery_close(g);
    return n / dt;
}

static double enrol_import(const char *uri, const char *coll, int n, fn_rng *r) {
    enum { B = 1000 };
    fn_gallery *g = open_g(uri, coll, 1);
    float *e = malloc(sizeof(float) * DIM * B);
    static char subj[B][32];
    fn_gallery_face *f = calloc(B, sizeof *f);
    double t = 0;
    for (int done = 0; done < n; done += B) {
        for (int i = 0; i < B; i++) {
            rand_unit(r, e + (size_t)i * DIM);
            snprintf(subj[i], sizeof subj[i], "person %d", (done + i) % 5000);
            f[i] = (fn_gallery_face){ .subject = subj[i], .embedding = e + (size_t)i * DIM, .score = 0.99f };
        }
        double t0 = fn_now();
        if (fn_gallery_enroll_many(g, f, B, NULL, NULL) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); exit(1); }
        t += fn_now() - t0;
    }
    free(e);
    free(f);
    fn_gallery_close(g);
    return n / t;
}

/* ---------------------------------------------------------------- 2. propagation */
typedef struct {
    volatile int ready, stop;
    double call[4096], ack[4096], seen[4096];
} shared_times;

static void node_b(const char *uri, int probes, shared_times *sh) {
    fn_gallery *g = open_g(uri, "propagation", 0);
    fn_rng r = { 99 };
    float *q = malloc(sizeof(float) * DIM * (size_t)probes);
    for (int k = 0; k < probes; k++) rand_unit(&r, q + (size_t)k * DIM);
    sh->ready = 1;
    for (int k = 0; k < probes && !sh->stop;) {
        fn_gallery_match m;
        int nf = 0;
        if (fn_gallery_search(g, q + (size_t)k * DIM, 1, 1, &m, &nf) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); break; }
        /* unrelated 512-d unit vectors lie ~1.41 apart; the face itself at ~0 (GEMM rounding) */
        if (nf == 1 && m.distance < 0.1f) { sh->seen[k] = fn_now(); k++; }
    }
    free(q);
    fn_gallery_close(g);
}

static void propagation(const char *uri, int probes) {
    fn_gallery *a = open_g(uri, "propagation", 1);
    shared_times *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) { perror("mmap"); exit(1); }
    memset(sh, 0, sizeof *sh);
    pid_t pid = fork();
    if (pid == 0) { node_b(uri, probes, sh); _exit(0); }
    while (!sh->ready) usleep(1000);
    fn_rng r = { 99 }, gap = { 5 };
    float e[DIM];
    for (int k = 0; k < probes; k++) {
        rand_unit(&r, e);
        usleep(2000 + (unsigned)(fn_rng_next(&gap) % 8000));
        fn_gallery_face f = { .subject = "probe", .embedding = e, .score = 1 };
        sh->call[k] = fn_now();
        if (fn_gallery_enroll(a, &f, NULL, NULL) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); break; }
        sh->ack[k] = fn_now();
    }
    double t0 = fn_now();
    while (sh->seen[probes - 1] == 0 && fn_now() - t0 < 10) usleep(1000);
    sh->stop = 1;
    waitpid(pid, NULL, 0);
    double *from_ack = malloc(sizeof(double) * probes), *from_call = malloc(sizeof(double) * probes);
    int n = 0;
    for (int k = 0; k < probes; k++)
        if (sh->seen[k] > 0) { from_ack[n] = (sh->seen[k] - sh->ack[k]) * 1e3; from_call[n] = (sh->seen[k] - sh->call[k]) * 1e3; n++; }
    printf("propagation A -> B (%d of %d faces seen by B):\n", n, probes);
    if (n) {
        printf("  from A's enrol returning: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", pct(from_ack, n, 0.5),
               pct(from_ack, n, 0.99), pct(from_ack, n, 1.0));
        printf("  from A's enrol call:      p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", pct(from_call, n, 0.5),
               pct(from_call, n, 0.99), pct(from_call, n, 1.0));
    }
    free(from_ack);
    free(from_call);
    munmap(sh, sizeof *sh);
    fn_gallery_close(a);
}

/* ---------------------------------------------------------------- 3. search throughput */
typedef struct { fn_gallery *g; double seconds; long n; unsigned seed; } searcher;

static void *search_loop(void *arg) {
    searcher *s = arg;
    fn_rng r = { s->seed };
    float q[DIM];
    fn_gallery_match m[5];
    int nf;
    double t0 = fn_now();
    while (fn_now() - t0 < s->seconds) {
        rand_unit(&r, q);
        if (fn_gallery_search_subjects(s->g, q, 1, 5, m, &nf) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); break; }
        s->n++;
    }
    return NULL;
}

/* One node: threads searching one query at a time for `seconds`; searches per second. */
static double node_qps(const char *uri, int threads, double seconds) {
    fn_gallery *g = open_g(uri, "throughput", 0);
    searcher s[16];
    pthread_t t[16];
    for (int i = 0; i < threads; i++) {
        s[i] = (searcher){ g, seconds, 0, 1000u + (unsigned)i + (unsigned)getpid() };
        pthread_create(&t[i], NULL, search_loop, &s[i]);
    }
    long n = 0;
    for (int i = 0; i < threads; i++) { pthread_join(t[i], NULL); n += s[i].n; }
    fn_gallery_close(g);
    return n / seconds;
}

static double nodes_qps(const char *uri, int nodes, int threads, double seconds) {
    double *out = mmap(NULL, sizeof(double) * 16, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid[16];
    for (int i = 0; i < nodes; i++)
        if ((pid[i] = fork()) == 0) { out[i] = node_qps(uri, threads, seconds); _exit(0); }
    double total = 0;
    for (int i = 0; i < nodes; i++) { waitpid(pid[i], NULL, 0); total += out[i]; }
    munmap(out, sizeof(double) * 16);
    return total;
}

int main(int argc, char **argv) {
    const char *uri = getenv("FN_TEST_PG_URI"), *sqlite = "/tmp/bench_gallery_pg.db";
    int single = 2000, import = 50000, probes = 300, faces = 10000, threads = 1;
    double seconds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--uri") && i + 1 < argc) uri = argv[++i];
        else if (!strcmp(argv[i], "--sqlite") && i + 1 < argc) sqlite = argv[++i];
        else if (!strcmp(argv[i], "--single") && i + 1 < argc) single = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--import") && i + 1 < argc) import = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--probes") && i + 1 < argc) probes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--faces") && i + 1 < argc) faces = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else { fprintf(stderr, "usage: bench_gallery_pg --uri URI [--sqlite FILE] [--single N] [--import N] "
                               "[--probes N] [--faces N] [--threads N] [--seconds S]\n"); return 2; }
    }
    if (!uri) { fprintf(stderr, "bench_gallery_pg: no --uri (or run bench/gallery_pg.sh)\n"); return 2; }
    if (probes > 4096) probes = 4096;
    if (threads < 1 || threads > 16) threads = 1;
    if (system("lscpu | grep 'Model name'")) {}
    unlink(sqlite);
    fn_rng r = { 1 };

    printf("enrolment, %d-d, no photos (faces/s; SQLite WAL synchronous=NORMAL, PostgreSQL as configured):\n", DIM);
    double s_sq = enrol_single(sqlite, "single", single, &r), s_pg = enrol_single(uri, "single", single, &r);
    printf("  one face per transaction (%d):   SQLite %8.0f   PostgreSQL %8.0f   (PG/SQLite %.2f)\n", single, s_sq, s_pg,
           s_pg / s_sq);
    double i_sq = enrol_import(sqlite, "import", import, &r), i_pg = enrol_import(uri, "import", import, &r);
    printf("  1,000 per transaction (%d):    SQLite %8.0f   PostgreSQL %8.0f   (PG/SQLite %.2f)\n", import, i_sq, i_pg,
           i_pg / i_sq);

    propagation(uri, probes);

    /* A collection of `faces` faces for the throughput runs. */
    {
        fn_gallery *g = open_g(uri, "throughput", 1);
        enum { B = 1000 };
        float *e = malloc(sizeof(float) * DIM * B);
        fn_gallery_face *f = calloc(B, sizeof *f);
        static char subj[B][32];
        for (int done = 0; done < faces; done += B) {
            for (int i = 0; i < B; i++) {
                rand_unit(&r, e + (size_t)i * DIM);
                snprintf(subj[i], sizeof subj[i], "person %d", (done + i) / 5);
                f[i] = (fn_gallery_face){ .subject = subj[i], .embedding = e + (size_t)i * DIM, .score = 1 };
            }
            if (fn_gallery_enroll_many(g, f, B, NULL, NULL) != FN_OK) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        }
        free(e);
        free(f);
        fn_gallery_close(g);
    }
    double one = nodes_qps(uri, 1, threads, seconds), two = nodes_qps(uri, 2, threads, seconds);
    printf("search throughput, %d faces, top-5 subjects, %d thread(s) per node, %.0f s:\n", faces, threads, seconds);
    printf("  one node %.0f searches/s, two nodes %.0f searches/s (two/one %.2f)\n", one, two, two / one);
    char side[1100];
    unlink(sqlite);
    snprintf(side, sizeof side, "%s-wal", sqlite); unlink(side);
    snprintf(side, sizeof side, "%s-shm", sqlite); unlink(side);
    return 0;
}
