/* lfw_pairs.c — LFW pairs files, as facenet's lfw.read_pairs + lfw.get_paths: the first
 * line is a header ("10 300" in pairs.txt, a count in pairsDevTrain/DevTest.txt); each
 * other line is "name i j" (same person) or "name1 i name2 j" (different people); image
 * paths are LFW_DIR/name/name_%04d with .png or .jpg; pairs with a missing image are
 * skipped and counted. Malformed lines are an error with the line number (facenet would
 * raise on them too). */
#include "core.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#define MAX_TOKENS 5

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* LFW_DIR/name/name_%04d + .png or .jpg (png first: aligned datasets are png); NULL when
 * neither exists, *nomem set on allocation failure. */
static char *image_path(const char *dir, const char *name, long index, int *nomem) {
    size_t len = strlen(dir) + 2 * strlen(name) + 40;
    char *p = malloc(len);
    if (!p) { *nomem = 1; return NULL; }
    static const char *const ext[] = {".png", ".jpg"};
    for (int e = 0; e < 2; e++) {
        snprintf(p, len, "%s/%s/%s_%04ld%s", dir, name, name, index, ext[e]);
        if (is_file(p)) return p;
    }
    free(p);
    return NULL;
}

static int parse_index(const char *tok, long *out) {
    char *end;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (errno || end == tok || *end || v < 0 || v > 99999999) return 0;
    *out = v;
    return 1;
}

void fn_lfw_pairs_free(fn_lfw_pairs *p) {
    if (!p) return;
    if (p->paths)
        for (int i = 0; i < 2 * p->n_pairs; i++) free(p->paths[i]);
    free(p->paths);
    free(p->issame);
    memset(p, 0, sizeof *p);
}

fn_status fn_lfw_read_pairs(const char *pairs_file, const char *lfw_dir, int max_pairs,
                            fn_lfw_pairs *out) {
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t size;
    FN_TRY(fn_read_file(pairs_file, &data, &size));
    fn_status s = FN_OK;
    int cap = 0, line_no = 1, listed = 0;
    char *text = (char *)data;
    if (size == 0) { free(data); return fn_fail(FN_ERR_FORMAT, "%s: empty pairs file", pairs_file); }
    /* the first line is the header */
    char *next = strchr(text, '\n');
    while (next) {
        char *line = next + 1;
        next = strchr(line, '\n');
        if (next) *next = 0;
        line_no++;
        char *tok[MAX_TOKENS];
        int nt = 0;
        char *tsave = NULL;
        for (char *t = strtok_r(line, " \t\r\v\f", &tsave); t; t = strtok_r(NULL, " \t\r\v\f", &tsave)) {
            if (nt == MAX_TOKENS) break;
            tok[nt++] = t;
        }
        if (nt == 0) continue; /* blank line */
        if (nt != 3 && nt != 4) {
            s = fn_fail(FN_ERR_FORMAT, "%s:%d: expected 'name i j' or 'name1 i name2 j', got %d fields",
                        pairs_file, line_no, nt);
            break;
        }
        long i0, i1;
        const char *name0 = tok[0], *name1 = nt == 3 ? tok[0] : tok[2];
        if (!parse_index(tok[1], &i0) || !parse_index(tok[nt == 3 ? 2 : 3], &i1)) {
            s = fn_fail(FN_ERR_FORMAT, "%s:%d: image numbers must be non-negative integers",
                        pairs_file, line_no);
            break;
        }
        if (strchr(name0, '/') || strchr(name1, '/') || !strcmp(name0, "..") || !strcmp(name1, "..")) {
            s = fn_fail(FN_ERR_FORMAT, "%s:%d: a person's name may not contain '/'", pairs_file, line_no);
            break;
        }
        if (max_pairs > 0 && listed >= max_pairs) break;
        listed++;
        int nomem = 0;
        char *p0 = image_path(lfw_dir, name0, i0, &nomem);
        char *p1 = nomem ? NULL : image_path(lfw_dir, name1, i1, &nomem);
        if (nomem) { free(p0); free(p1); s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
        if (!p0 || !p1) { free(p0); free(p1); out->n_skipped++; continue; }
        if (out->n_pairs == cap) {
            int ncap = cap ? cap * 2 : 256;
            char **np = realloc(out->paths, sizeof(char *) * 2 * (size_t)ncap);
            if (np) out->paths = np;
            uint8_t *ns = np ? realloc(out->issame, (size_t)ncap) : NULL;
            if (ns) out->issame = ns;
            if (!np || !ns) { free(p0); free(p1); s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
            cap = ncap;
        }
        out->paths[2 * out->n_pairs] = p0;
        out->paths[2 * out->n_pairs + 1] = p1;
        out->issame[out->n_pairs] = nt == 3;
        out->n_pairs++;
    }
    free(data);
    if (s != FN_OK) fn_lfw_pairs_free(out);
    return s;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

fn_status fn_lfw_distinct_images(const fn_lfw_pairs *pairs, char ***images, int *n_images, int **row_of) {
    *images = NULL; *n_images = 0; *row_of = NULL;
    const int n_paths = 2 * pairs->n_pairs;
    char **sorted = malloc(sizeof(char *) * (size_t)(n_paths + 1));
    char **uniq = malloc(sizeof(char *) * (size_t)(n_paths + 1));
    int *row = malloc(sizeof(int) * (size_t)(n_paths + 1));
    if (!sorted || !uniq || !row) { free(sorted); free(uniq); free(row); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    if (n_paths) memcpy(sorted, pairs->paths, sizeof(char *) * (size_t)n_paths);
    qsort(sorted, (size_t)n_paths, sizeof(char *), cmp_path);
    int n = 0;
    for (int i = 0; i < n_paths; i++)
        if (!n || strcmp(uniq[n - 1], sorted[i])) uniq[n++] = sorted[i];
    free(sorted);
    for (int i = 0; i < n_paths; i++) {
        int lo = 0, hi = n - 1;
        while (lo < hi) { int mid = (lo + hi) / 2; if (strcmp(uniq[mid], pairs->paths[i]) < 0) lo = mid + 1; else hi = mid; }
        row[i] = lo;
    }
    *images = uniq; *n_images = n; *row_of = row;
    return FN_OK;
}

fn_status fn_lfw_evaluate(const fn_lfw_pairs *pairs, const int *row_of, const float *emb, int cols,
                          const fn_eval_params *params, fn_eval_result *out) {
    if (!pairs || !row_of || !emb || cols < 1 || !out) return fn_fail(FN_ERR_ARG, "fn_lfw_evaluate: bad arguments");
    const int n_paths = 2 * pairs->n_pairs;
    size_t bytes;
    if (!fn_mul_size((size_t)n_paths, (size_t)cols * sizeof(double), &bytes)) return fn_fail(FN_ERR_LIMIT, "too many pairs");
    double *pair_emb = malloc(bytes ? bytes : 1);
    if (!pair_emb) return fn_fail(FN_ERR_NOMEM, "out of memory for %d pair embeddings", n_paths);
    /* pair rows as facenet lays them out: embeddings[0::2], [1::2] */
    for (int i = 0; i < n_paths; i++)
        for (int d = 0; d < cols; d++) pair_emb[(size_t)i * cols + d] = emb[(size_t)row_of[i] * cols + d];
    fn_status s = fn_evaluate_embeddings(pair_emb, pairs->n_pairs, cols, pairs->issame, params, out);
    free(pair_emb);
    return s;
}
