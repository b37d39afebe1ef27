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
