/* dataset.c — walk a dataset folder the way facenet's get_dataset does: one subfolder per
 * class, sorted, and the image files of each sorted. Python's sorted() on str orders by
 * code point, which for UTF-8 names is strcmp's byte order. */
#define _GNU_SOURCE
#include "core.h"
#include "nets/model.h"
#include <dirent.h>
#include <errno.h>
#include <strings.h>
#include <sys/stat.h>

int fn_is_image_path(const char *path) {
    static const char *const exts[] = { "jpg", "jpeg", "png", "bmp", "gif", "pgm", "ppm", "pnm",
                                       "webp", "heic", "heif", "avif", "tif", "tiff", NULL };
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return 0;
    for (int i = 0; exts[i]; i++)
        if (!strcasecmp(dot + 1, exts[i])) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fn_paths_free(char **paths, int n) {
    if (!paths) return;
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;  /* "a/" + "b" -> "a/b" */
    char *p = malloc(n + strlen(name) + 2);
    if (!p) return NULL;
    memcpy(p, dir, n);
    p[n] = '/';
    strcpy(p + n + 1, name);
    return p;
}

/* Entries of dir (no hidden ones) that are directories (want_dirs) or image files. */
static fn_status list_entries(const char *dir, int want_dirs, char ***out, int *n_out) {
    *out = NULL; *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return fn_fail(FN_ERR_IO, "cannot open folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    fn_status s = FN_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *full = join_path(dir, e->d_name);
        if (!full) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
        struct stat st;
        int keep = stat(full, &st) == 0 &&
                   (want_dirs ? S_ISDIR(st.st_mode) : (S_ISREG(st.st_mode) && fn_is_image_path(full)));
        if (!keep) { free(full); continue; }
        if (n == cap) {
            int nc = cap ? cap * 2 : 16;
            char **t = realloc(names, sizeof *t * (size_t)nc);
            if (!t) { free(full); s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
            names = t; cap = nc;
        }
        if (want_dirs) { /* classes keep their bare folder name */
            free(full);
            full = strdup(e->d_name);
            if (!full) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
        }
        names[n++] = full;
    }
    closedir(d);
    if (s != FN_OK) { fn_paths_free(names, n); return s; }
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names; *n_out = n;
    return FN_OK;
}

fn_status fn_list_images(const char *dir, char ***paths, int *n) {
    return list_entries(dir, 0, paths, n);
}

void fn_dataset_free(fn_dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->n_classes; i++) {
        free(ds->classes[i].name);
        fn_paths_free(ds->classes[i].paths, ds->classes[i].n_paths);
    }
    free(ds->classes);
    ds->classes = NULL; ds->n_classes = 0;
}

fn_status fn_dataset_load(const char *dir, fn_dataset *out) {
    out->classes = NULL; out->n_classes = 0;
    char **names; int n;
    FN_TRY(list_entries(dir, 1, &names, &n));
    if (n == 0) { free(names); return FN_OK; }
    out->classes = calloc((size_t)n, sizeof *out->classes);
    if (!out->classes) { fn_paths_free(names, n); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    fn_status s = FN_OK;
    for (int i = 0; i < n; i++) {
        fn_dataset_class *c = &out->classes[out->n_classes++];
        c->name = names[i];
        names[i] = NULL;
        char *sub = join_path(dir, c->name);
        if (!sub) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
        s = list_entries(sub, 0, &c->paths, &c->n_paths);
        free(sub);
        if (s != FN_OK) break;
    }
    fn_paths_free(names, n);
    if (s != FN_OK) fn_dataset_free(out);
    return s;
}

fn_status fn_load_aligned_crop(const char *path, int size, fn_image *out, int *resized) {
    if (resized) *resized = 0;
    fn_image img;
    FN_TRY(fn_image_load(path, 1, &img));
    if (img.w == size && img.h == size) { *out = img; return FN_OK; }
    fn_status s = fn_image_resize(&img, size, size, out);
    fn_image_free(&img);
    if (s == FN_OK && resized) *resized = 1;
    return s;
}

fn_status fn_embed_face_file(fn_detector *det, fn_model *model, const char *path, int aligned,
                             float *emb, fn_face *face, int *found) {
    *found = 0;
    fn_image img;
    fn_status s = fn_image_load(path, 1, &img);
    if (s) {
        if (strstr(fn_last_error(), path)) return s;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fn_last_error());
        return fn_fail(s, "%s: %s", path, msg);
    }
    fn_face f;
    memset(&f, 0, sizeof f);
    fn_image crop = { 0, 0, NULL };
    const int size = fn_model_input_size(model);
    if (aligned) {
        f.box[2] = (float)img.w; f.box[3] = (float)img.h; f.score = 1;
        if (img.w == size && img.h == size) { crop = img; img.rgb = NULL; }
        else if (img.w > size && img.h > size && !model->stretch_aligned) s = fn_image_crop(&img, (img.w - size) / 2, (img.h - size) / 2, size, size, &crop);
        else s = fn_image_resize(&img, size, size, &crop);
    } else {
        if (!det) { fn_image_free(&img); return fn_fail(FN_ERR_ARG, "fn_embed_face_file: no detector for an unaligned image"); }
        fn_face *faces = NULL;
        int n = 0;
        s = fn_detect(det, &img, NULL, &faces, &n);
        if (s == FN_OK && n > 0) {
            f = faces[fn_face_pick_largest(faces, n, img.w, img.h, 0)];
            s = fn_model_crop(model, &img, &f, &crop);
        }
        free(faces);
        if (s == FN_OK && n == 0) { fn_image_free(&img); return FN_OK; }
    }
    if (s == FN_OK) s = fn_model_embed(model, &crop, 1, emb);
    fn_image_free(&crop);
    fn_image_free(&img);
    if (s == FN_OK) { *found = 1; if (face) *face = f; }
    return s;
}
