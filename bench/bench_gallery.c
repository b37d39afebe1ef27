/* bench_gallery.c — the gallery at scale: LFW embeddings of the default model plus
 * distractors drawn from a Gaussian fitted to them (strangers who look like the enrolled;
 * uniform random unit vectors would be far easier), imported from .npy, then searched one
 * query at a time: exact (one GEMM, the reference of this run) against the FAISS indexes.
 * Reports import and enrol throughput, index build / load time, p50/p99 query latency,
 * recall@1 of each index against exact search, RSS and file sizes, and the CPU.
 *
 * usage: bench_gallery EMB_DIR [--faces N] [--queries Q] [--index ivf|hnsw|both|none] [--dir TMP]
 *                      [--threads T] [--reuse] [--sweep 32,64,128]
 *   --reuse: the gallery the last run left in TMP (so that import, each index build and the
 *   queries can run as separate pieces); --sweep: nprobe (IVF) / efSearch (HNSW) values to
 *   measure besides the defaults (FACENET_IVF_NPROBE / FACENET_HNSW_EF).
 *   EMB_DIR: tools/lfw_cache_to_export.py of a `facenet validate --cache` file
 * Open-set split as the acceptance: the first photo of each person with two or more is
 * enrolled; queries are their other photos and the photos of people with one (strangers). */
#define _GNU_SOURCE
#include "facenet.h"
#include "core.h"
#include "tensors.h"
#include "lfw_open_set.h"
#include <cblas.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static double rss_mb(const char *field) { /* VmRSS / VmHWM from /proc/self/status */
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field))) v = atof(line + strlen(field) + 1) / 1024.0;
    if (f) fclose(f);
    return v;
}

static double file_mb(const char *path) {
    struct stat st;
    return stat(path, &st) ? 0 : st.st_size / 1048576.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Cholesky of a dim x dim SPD matrix (double, in place: lower triangle). */
static void cholesky(double *a, int n) {
    for (int j = 0; j < n; j++) {
        double s = a[j * n + j];
        for (int k = 0; k < j; k++) s -= a[j * n + k] * a[j * n + k];
        a[j * n + j] = sqrt(s > 1e-12 ? s : 1e-12);
        for (int i = j + 1; i < n; i++) {
            double t = a[i * n + j];
            for (int k = 0; k < j; k++) t -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = t / a[j * n + j];
        }
        for (int k = j + 1; k < n; k++) a[j * n + k] = 0;
    }
}

static double cpu_s(void) { /* user + system time of the process */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

typedef struct { double p50, p99, mean, cpu_ms; } latency;

/* One query at a time; lat in ms. top1: the best face id of each query. */
static latency run_queries(fn_gallery *g, const float *q, int nq, int dim, int64_t *top1, float *sim1) {
    double *t = malloc(sizeof *t * nq);
    fn_gallery_match m[10];
    int nf;
    double sum = 0, c0 = cpu_s();
    for (int i = 0; i < nq; i++) {
        double t0 = fn_now();
        if (fn_gallery_search(g, q + (size_t)i * dim, 1, 10, m, &nf) != FN_OK) { fprintf(stderr, "search: %s\n", fn_last_error()); exit(1); }
        t[i] = (fn_now() - t0) * 1e3;
        sum += t[i];
        top1[i] = nf ? m[0].face_id : -1;
        sim1[i] = nf ? m[0].similarity : 0;
    }
    qsort(t, (size_t)nq, sizeof *t, cmp_double);
    latency l = { t[nq / 2], t[(int)(nq * 0.99)], sum / nq, (cpu_s() - c0) * 1e3 / nq };
    free(t);
    return l;
}

int main(int argc, char **argv) {
    const char *emb_dir = NULL, *tmp = "/tmp/fn_bench_gallery";
    int n_faces = 1000000, n_queries = 1000, threads = 2, reuse = 0;
    const char *index = "ivf";
    const char *sweep = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--faces") && i + 1 < argc) n_faces = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--queries") && i + 1 < argc) n_queries = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) tmp = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--index") && i + 1 < argc) index = argv[++i];
        else if (!strcmp(argv[i], "--reuse")) reuse = 1; /* the gallery of the last run in --dir */
        else if (!strcmp(argv[i], "--sweep") && i + 1 < argc) sweep = argv[++i]; /* "32,64,128": nprobe / ef values */
        else if (argv[i][0] != '-') emb_dir = argv[i];
        else { fprintf(stderr, "usage: bench_gallery EMB_DIR [--faces N] [--queries Q] [--index ivf|hnsw|both|none] [--dir TMP] [--threads T] [--reuse] [--sweep LIST]\n"); return 2; }
    }
    if (!emb_dir) { fprintf(stderr, "usage: bench_gallery EMB_DIR [--faces N] [--queries Q] [--index ivf|hnsw|both|none] [--dir TMP]\n"); return 2; }
    openblas_set_num_threads(threads);
    setenv("OMP_NUM_THREADS", "2", 0);
    FILE *cpu = popen("lscpu | grep 'Model name' | sed 's/.*: *//'", "r");
    char cpuname[256] = "?";
    if (cpu && fgets(cpuname, sizeof cpuname, cpu)) cpuname[strcspn(cpuname, "\n")] = 0;
    if (cpu) pclose(cpu);
    printf("bench_gallery: %d faces, %d queries, %d threads, CPU %s (%ld online)\n", n_faces, n_queries, threads,
           cpuname, sysconf(_SC_NPROCESSORS_ONLN));
    double loadavg[1] = { 0 };
    if (getloadavg(loadavg, 1) == 1) printf("load average at start: %.1f\n", loadavg[0]);

    /* --- the LFW embeddings and the open-set split */
    char path[1200];
    lfw_open_set ls;
    if (lfw_open_set_load(emb_dir, &ls)) return 1;
    float *lfw = ls.emb;
    const int64_t rows = ls.rows, dim = ls.dim;
    char **names = ls.names;
    int *enrol = ls.enrol, *probe = ls.probe, n_enrol = ls.n_enrol, n_probe = ls.n_probe;
    if (n_queries > n_probe) n_queries = n_probe;
    printf("LFW: %lld embeddings (%lld-d): %d enrolled, %d probes (%d used as queries, evenly spaced)\n",
           (long long)rows, (long long)dim, n_enrol, n_probe, n_queries);
    float *queries = malloc(sizeof(float) * n_queries * dim);
    for (int i = 0; i < n_queries; i++)
        memcpy(queries + (size_t)i * dim, lfw + (size_t)probe[(int64_t)i * n_probe / n_queries] * dim, sizeof(float) * dim);

    /* --- distractors: x = normalise(mu + L z), Sigma = L L^T fitted to every LFW embedding */
    double *mu = calloc(dim, sizeof *mu), *cov = calloc(dim * dim, sizeof *cov);
    for (int64_t i = 0; i < rows; i++) for (int j = 0; j < dim; j++) mu[j] += lfw[i * dim + j] / (double)rows;
    for (int64_t i = 0; i < rows; i++)
        for (int a = 0; a < dim; a++)
            for (int b = 0; b <= a; b++) cov[a * dim + b] += (lfw[i * dim + a] - mu[a]) * (lfw[i * dim + b] - mu[b]) / (double)(rows - 1);
    for (int a = 0; a < dim; a++) for (int b = a + 1; b < dim; b++) cov[a * dim + b] = cov[b * dim + a];
    cholesky(cov, (int)dim);
    if (n_faces < n_enrol) n_faces = n_enrol;
    float *all = fn_malloc(sizeof(float) * (size_t)n_faces * dim);
    int64_t *all_labels = malloc(sizeof *all_labels * (size_t)n_faces);
    const char **all_names = malloc(sizeof *all_names * (size_t)n_faces);
    char (*dnames)[24] = malloc(sizeof *dnames * (size_t)(n_faces - n_enrol + 1));
    for (int i = 0; i < n_enrol; i++) {
        memcpy(all + (size_t)i * dim, lfw + (size_t)enrol[i] * dim, sizeof(float) * dim);
        all_names[i] = names[enrol[i]];
    }
    fn_rng rng = { 2026 };
    double *z = malloc(sizeof *z * dim);
    double t0 = fn_now();
    for (int i = n_enrol; i < (reuse ? n_enrol : n_faces); i++) { /* --reuse: the gallery has them */
        for (int j = 0; j < dim; j++) z[j] = fn_rng_normal(&rng);
        float *x = all + (size_t)i * dim;
        double s = 0;
        for (int a = 0; a < dim; a++) {
            double v = mu[a];
            for (int b = 0; b <= a; b++) v += cov[a * dim + b] * z[b];
            x[a] = (float)v;
            s += v * v;
        }
        for (int a = 0; a < dim; a++) x[a] = (float)(x[a] / sqrt(s));
        snprintf(dnames[i - n_enrol], sizeof dnames[0], "distractor_%07d", i - n_enrol);
        all_names[i] = dnames[i - n_enrol];
    }
    for (int i = 0; i < n_faces; i++) all_labels[i] = i; /* one subject per face */
    printf("distractors: %d from the fitted Gaussian in %.1f s\n", n_faces - n_enrol, fn_now() - t0);

    /* --- import from .npy (facenet's layout; label_strings one name per row) */
    mkdir(tmp, 0777);
    char npy_dir[1100], db[1100], cmd[4800];
    snprintf(npy_dir, sizeof npy_dir, "%s/npy", tmp);
    snprintf(db, sizeof db, "%s/gallery.db", tmp);
    fn_gallery_options o;
    fn_gallery_options_default(&o);
    o.model_id = "bench"; o.dim = (int)dim; o.create = 1; o.index = FN_INDEX_EXACT;
    fn_gallery *g;
    if (!reuse) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'.* && mkdir -p '%s'", npy_dir, db, db, npy_dir);
    if (system(cmd)) return 1;
    snprintf(path, sizeof path, "%s/embeddings.npy", npy_dir);
    fn_npy_save_f32(path, all, n_faces, dim);
    snprintf(path, sizeof path, "%s/labels.npy", npy_dir);
    fn_npy_save_i64(path, all_labels, n_faces);
    snprintf(path, sizeof path, "%s/label_strings.npy", npy_dir);
    fn_npy_save_unicode(path, all_names, n_faces);
    if (fn_gallery_open(db, &o, &g)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    int n_imp = 0;
    double c0 = cpu_s();
    t0 = fn_now();
    if (fn_gallery_import_npy(g, npy_dir, &n_imp)) { fprintf(stderr, "import: %s\n", fn_last_error()); return 1; }
    double t_imp = fn_now() - t0;
    printf("import: %d faces in %.1f s = %.0f faces/s wall, %.0f faces/s of process CPU time (read .npy, one "
           "transaction, load into memory); RSS %.0f MB\n", n_imp, t_imp, n_imp / t_imp, n_imp / (cpu_s() - c0), rss_mb("VmRSS:"));
    fn_gallery_close(g);
    }
    /* from here on RSS is the gallery's: the bench keeps only the queries */
    fn_free(all); free(all_labels); free(all_names); free(dnames);
    printf("files: gallery.db %.0f MB (WAL %.0f MB)\n", file_mb(db), file_mb(strcat(strcpy(path, db), "-wal")));

    /* --- exact: open (load), then queries */
    o.create = 0;
    t0 = fn_now();
    if (fn_gallery_open(db, &o, &g)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    printf("exact: open (load %d faces) %.2f s, RSS %.0f MB\n", n_faces, fn_now() - t0, rss_mb("VmRSS:"));
    int64_t *top_exact = malloc(sizeof *top_exact * n_queries), *top_ann = malloc(sizeof *top_ann * n_queries);
    float *sim_exact = malloc(sizeof *sim_exact * n_queries), *sim_ann = malloc(sizeof *sim_ann * n_queries);
    latency le = run_queries(g, queries, n_queries, (int)dim, top_exact, sim_exact);
    int n_named = 0;
    for (int i = 0; i < n_queries; i++) n_named += sim_exact[i] >= 0.5f;
    printf("exact: p50 %.2f ms, p99 %.2f ms, mean %.2f ms, CPU %.2f ms/query\n", le.p50, le.p99, le.mean, le.cpu_ms);
    /* enrol one face per transaction into the big gallery (refresh included) */
    {
        enum { NE = 500 };
        t0 = fn_now();
        for (int i = 0; i < NE; i++) {
            fn_gallery_face f = { .subject = "enrol_bench", .embedding = queries + (size_t)(i % n_queries) * dim };
            if (fn_gallery_enroll(g, &f, NULL, NULL)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        }
        double t = fn_now() - t0;
        printf("enrol: %d faces one transaction each into %d: %.0f faces/s (%.2f ms each)\n", NE, n_faces, NE / t, t * 1e3 / NE);
        int nr;
        fn_gallery_remove_subject(g, "enrol_bench", &nr);
    }
    fn_gallery_close(g);

    fn_index_kind kinds[2] = { FN_INDEX_IVF, FN_INDEX_HNSW };
    for (int kk = 0; kk < 2; kk++) {
        if (strcmp(index, "both") && strcmp(index, kk ? "hnsw" : "ivf")) continue;
        const char *kn = kinds[kk] == FN_INDEX_IVF ? "ivf" : "hnsw";
        o.index = kinds[kk];
        t0 = fn_now();
        if (fn_gallery_open(db, &o, &g)) { fprintf(stderr, "%s: %s\n", kn, fn_last_error()); return 1; }
        double t_build = fn_now() - t0;
        fn_gallery_stats st;
        fn_gallery_info(g, &st);
        printf("%s: open + build + save %.1f s (index %s), RSS %.0f MB\n", kn, t_build,
               st.index == kinds[kk] ? "in use" : "NOT in use", rss_mb("VmRSS:"));
        fn_gallery_close(g);
        t0 = fn_now();
        if (fn_gallery_open(db, &o, &g)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        printf("%s: reopen (load matrix + index file) %.2f s, RSS %.0f MB, index file %.0f MB\n", kn, fn_now() - t0,
               rss_mb("VmRSS:"), file_mb(strcat(strcpy(path, db), kinds[kk] == FN_INDEX_IVF ? ".1.ivf" : ".1.hnsw")));
        for (int sw = 0;; sw++) { /* the default, then each --sweep value */
            char val[32] = "default";
            if (sw > 0) {
                const char *p = sweep;
                for (int c = 1; p && c < sw; c++) { p = strchr(p, ','); if (p) p++; }
                if (!p || !*p) break;
                snprintf(val, sizeof val, "%d", atoi(p));
                setenv(kinds[kk] == FN_INDEX_IVF ? "FACENET_IVF_NPROBE" : "FACENET_HNSW_EF", val, 1);
                fn_gallery_close(g);
                if (fn_gallery_open(db, &o, &g)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
            }
            latency la = run_queries(g, queries, n_queries, (int)dim, top_ann, sim_ann);
            int hit = 0, hit_named = 0;
            for (int i = 0; i < n_queries; i++) {
                hit += top_ann[i] == top_exact[i];
                hit_named += sim_exact[i] >= 0.5f && top_ann[i] == top_exact[i];
            }
            printf("%s %s=%s: p50 %.2f ms, p99 %.2f ms, mean %.2f ms, CPU %.2f ms/query, recall@1 %.4f (queries whose "
                   "exact best is a match, similarity >= 0.5: %.4f of %d); exact / %s: p50 %.1fx, CPU %.1fx\n", kn,
                   kinds[kk] == FN_INDEX_IVF ? "nprobe" : "ef", val, la.p50, la.p99, la.mean, la.cpu_ms, hit / (double)n_queries,
                   n_named ? hit_named / (double)n_named : 0, n_named, kn, le.p50 / la.p50, le.cpu_ms / la.cpu_ms);
            if (!sweep) break;
        }
        unsetenv("FACENET_IVF_NPROBE");
        unsetenv("FACENET_HNSW_EF");
        fn_gallery_close(g);
    }
    printf("peak RSS (VmHWM) %.0f MB\n", rss_mb("VmHWM:"));
    if (getloadavg(loadavg, 1) == 1) printf("load average at end: %.1f\n", loadavg[0]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", npy_dir);
    if (system(cmd)) {}
    return 0;
}
