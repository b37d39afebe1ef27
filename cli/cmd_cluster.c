/* cmd_cluster.c — `facenet cluster`: facenet's contributed/cluster.py (DBSCAN on the
 * Euclidean distance matrix) and contributed/clustering.py (Chinese whispers). Every face
 * of every photo in a folder is embedded; each cluster gets a folder of face crops. The
 * output folder appears complete or not at all: it is built under OUT.tmp.PID and renamed. */
#define _GNU_SOURCE
#include "cli.h"
#include "core.h"
#include "json.h"
#include "nets/model.h"
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

/* Default thresholds (Euclidean distance between L2-normalised embeddings, not squared).
 * dlib ResNet: dlib's own 0.6 applies to its raw descriptors (norm ~1.45); on unit vectors
 * that is ~0.41. Measured on the shared photos: same person <= 0.34, different people
 * >= 0.40, so 0.38. facenet (Inception-ResNet-v1): cluster.py's default 1.0. */
static float default_threshold(const fn_model *m) {
    return !strcmp(fn_model_arch(m), "dlib_resnet") ? 0.38f : 1.0f;
}

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet cluster [options] INPUT_DIR OUTPUT_DIR\n"
        "Cluster every face of every photo in INPUT_DIR; OUTPUT_DIR/<k>/ receives the face crops\n"
        "of cluster k (k = 0 is the largest for chinese-whispers; DBSCAN numbers clusters as\n"
        "sklearn does). OUTPUT_DIR must not exist or be empty; it is written atomically.\n"
        "  --method dbscan|chinese-whispers   (default dbscan, as contributed/cluster.py)\n"
        "  --threshold T          Euclidean distance (not squared) between L2-normalised\n"
        "                         embeddings: DBSCAN eps (neighbours at <= T) or the Chinese\n"
        "                         whispers edge limit (< T). Default: 0.38 for the dlib ResNet\n"
        "                         (its 0.6 on raw descriptors), 1.0 for facenet's models\n"
        "  --min-cluster-size K   DBSCAN min_samples (the face itself counts); for Chinese\n"
        "                         whispers, smaller clusters become noise (default 1)\n"
        "  --largest-cluster-only write only the largest cluster, straight into OUTPUT_DIR\n"
        "  --iterations N         Chinese whispers passes (default 20)\n"
        "  --seed S               Chinese whispers visiting order (default 1; same seed, same result)\n"
        "  --min-score P          ignore detections scoring below P (default 0.95, cluster.py's)\n"
        "  --model M, --mtcnn P   models (defaults as in `facenet compare --help`)\n"
        "  --json                 print {\"clusters\":[{\"id\",\"faces\":[{\"path\",\"face\",\"box\",\"file\"}]}],\n"
        "                         \"noise\":[...],\"no_face\":[...],\"errors\":[...]}\n"
        "Photos that cannot be read or hold no face are reported and skipped.\n"
        "Exit status: 0 on success; 1 on bad options, unreadable models, no face at all, or\n"
        "when OUTPUT_DIR cannot be written.\n");
}

typedef struct {
    const char *path; /* points into the path list */
    int index;        /* face index within the photo (detector order) */
    fn_face face;
    fn_image crop;
    char file[96];    /* written crop, relative to OUTPUT_DIR */
} face_item;

/* Removes dir and the files/folders we put in it (one level of subfolders). */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p;
            if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) continue;
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
            else unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int dir_state(const char *dir) { /* -1 missing, 0 empty dir, 1 non-empty or not a dir */
    struct stat st;
    if (stat(dir, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) return 1;
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n ? 1 : 0;
}

static const char *base_name(const char *p) { const char *s = strrchr(p, '/'); return s ? s + 1 : p; }

static void json_face(const face_item *f, int with_file) {
    printf("{\"path\":");
    fn_json_write_string(stdout, f->path);
    printf(",\"face\":%d,\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.5f", f->index, (double)f->face.box[0],
           (double)f->face.box[1], (double)f->face.box[2], (double)f->face.box[3], (double)f->face.score);
    if (with_file) { printf(",\"file\":"); fn_json_write_string(stdout, f->file); }
    printf("}");
}

int cmd_cluster(int argc, char **argv) {
    const char *cmd = "cluster";
    const char *model_arg = NULL, *mtcnn_arg = NULL, *method_arg = "dbscan", *pos[2] = { NULL, NULL };
    int json = 0, largest_only = 0, min_size = 1, iterations = 20, seed = 1, err = 0, n_pos = 0, rc = 1;
    float threshold = -1, min_score = 0.95f;
    char *model_path = NULL, *mtcnn_path = NULL, *staging = NULL;
    char **paths = NULL, **no_face = NULL, **bad = NULL;
    int n_paths = 0, n_no_face = 0, n_bad = 0, n = 0, cap = 0, staged = 0;
    fn_model *m = NULL;
    fn_detector *det = NULL;
    face_item *items = NULL;
    float *emb = NULL, *dist = NULL;
    int *labels = NULL;
    fn_status s;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_flag(argv, i, "--largest-cluster-only")) largest_only = 1;
        else if (cli_opt_str(argc, argv, &i, "--method", &method_arg, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--threshold", &threshold, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--min-cluster-size", &min_size, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--iterations", &iterations, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--seed", &seed, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--min-score", &min_score, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &model_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn_arg, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (n_pos < 2) pos[n_pos++] = argv[i];
        else return cli_error(cmd, "unexpected argument '%s' (INPUT_DIR OUTPUT_DIR expected)", argv[i]);
        if (err) return 1;
    }
    if (n_pos != 2) { usage(stderr); return cli_error(cmd, "INPUT_DIR and OUTPUT_DIR are required"); }
    int cw = !strcmp(method_arg, "chinese-whispers") || !strcmp(method_arg, "cw");
    if (!cw && strcmp(method_arg, "dbscan")) return cli_error(cmd, "--method must be dbscan or chinese-whispers, not '%s'", method_arg);
    if (min_size < 1) return cli_error(cmd, "--min-cluster-size must be >= 1");
    if (iterations < 0 || iterations > 100000) return cli_error(cmd, "--iterations must be between 0 and 100000");
    if (threshold != -1 && !(threshold > 0)) return cli_error(cmd, "--threshold must be > 0");
    const char *in_dir = pos[0], *out_dir = pos[1];
    int out_state = dir_state(out_dir);
    if (out_state == 1) return cli_error(cmd, "%s exists and is not an empty folder (remove it or choose another)", out_dir);

    if ((s = fn_list_images(in_dir, &paths, &n_paths))) return cli_status_error(cmd, s);
    if (n_paths == 0) { fn_paths_free(paths, 0); return cli_error(cmd, "no image files in %s", in_dir); }
    model_path = model_arg ? strdup(model_arg) : cli_default_model();
    if (!model_path) { cli_error(cmd, "%s", cli_models_hint()); goto done; }
    mtcnn_path = mtcnn_arg ? strdup(mtcnn_arg) : cli_default_mtcnn();
    if (!mtcnn_path) { cli_error(cmd, "no MTCNN weights found; %s", cli_models_hint()); goto done; }
    if ((s = fn_model_open(model_path, &m))) { cli_status_error(cmd, s); goto done; }
    if ((s = fn_detector_open(mtcnn_path, &det))) { cli_status_error(cmd, s); goto done; }
    if (threshold == -1) threshold = default_threshold(m);
    no_face = calloc((size_t)n_paths, sizeof *no_face);
    bad = calloc((size_t)n_paths, sizeof *bad);
    if (!no_face || !bad) { cli_error(cmd, "out of memory"); goto done; }

    const int dim = fn_model_dim(m);
    fn_progress prog;
    fn_progress_begin(&prog, "faces", n_paths);
    for (int p = 0; p < n_paths; p++, fn_progress_step(&prog, 1)) {
        fn_image img = { 0, 0, NULL };
        fn_face *faces = NULL;
        int nf = 0;
        if ((s = fn_image_load(paths[p], 1, &img)) || (s = fn_detect(det, &img, NULL, &faces, &nf))) {
            const char *e = fn_last_error();
            if (strstr(e, paths[p])) fprintf(stderr, "facenet %s: warning: skipped %s\n", cmd, e);
            else fprintf(stderr, "facenet %s: warning: skipped %s: %s\n", cmd, paths[p], e);
            if (!(bad[n_bad++] = strdup(paths[p]))) n_bad--;
            if (img.rgb) fn_image_free(&img);
            continue;
        }
        int kept = 0;
        for (int k = 0; k < nf; k++) {
            if (faces[k].score < min_score) continue;
            if (n == cap) {
                int nc = cap ? cap * 2 : 64;
                face_item *t = realloc(items, sizeof *t * nc);
                if (!t) { fn_image_free(&img); free(faces); fn_progress_end(&prog); cli_error(cmd, "out of memory"); goto done; }
                items = t; cap = nc;
            }
            face_item *it = &items[n];
            memset(it, 0, sizeof *it);
            it->path = paths[p]; it->index = k; it->face = faces[k];
            s = m->crop == FN_CROP_MARGIN ? fn_crop_margin(&img, faces[k].box, m->crop_margin, m->input_size, &it->crop)
                                          : fn_model_crop(m, &img, &faces[k], &it->crop);
            if (s) { fprintf(stderr, "facenet %s: warning: %s face %d: %s\n", cmd, paths[p], k, fn_last_error()); continue; }
            n++; kept++;
        }
        if (kept == 0) {
            fprintf(stderr, "facenet %s: no face%s in %s\n", cmd, nf ? " scoring >= --min-score" : "", paths[p]);
            no_face[n_no_face++] = paths[p];
        }
        fn_image_free(&img);
        free(faces);
    }
    fn_progress_end(&prog);
    if (n == 0) { cli_error(cmd, "no face found in the %d image(s) of %s", n_paths, in_dir); goto done; }

    /* embed in batches of crops */
    size_t bytes;
    if (!fn_mul_size((size_t)n * dim, sizeof(float), &bytes) || !(emb = malloc(bytes)) ||
        !fn_mul_size((size_t)n * n, sizeof(float), &bytes) || !(dist = malloc(bytes)) ||
        !(labels = malloc(sizeof(int) * (size_t)n))) { cli_error(cmd, "out of memory (%d faces)", n); goto done; }
    fn_image *batch = malloc(sizeof *batch * 32);
    if (!batch) { cli_error(cmd, "out of memory"); goto done; }
    for (int i0 = 0; i0 < n; i0 += 32) {
        int nb = n - i0 < 32 ? n - i0 : 32;
        for (int i = 0; i < nb; i++) batch[i] = items[i0 + i].crop;
        if ((s = fn_model_embed(m, batch, nb, emb + (size_t)i0 * dim))) { free(batch); cli_status_error(cmd, s); goto done; }
    }
    free(batch);
    fn_distance_matrix(emb, n, dim, dist);

    int k = 0;
    if (cw) {
        s = fn_chinese_whispers(dist, n, threshold, iterations, (uint64_t)seed, labels, &k);
        if (s == FN_OK && (k = fn_clusters_drop_small(labels, n, min_size)) < 0) s = fn_fail(FN_ERR_NOMEM, "out of memory");
    } else {
        s = fn_dbscan(dist, n, threshold, min_size, labels, &k);
    }
    if (s) { cli_status_error(cmd, s); goto done; }
    int largest = 0;
    if (largest_only && k > 0) {
        int *size = calloc((size_t)k, sizeof *size);
        if (!size) { cli_error(cmd, "out of memory"); goto done; }
        for (int i = 0; i < n; i++) if (labels[i] >= 0) size[labels[i]]++;
        for (int c = 1; c < k; c++) if (size[c] > size[largest]) largest = c;
        free(size);
    }

    /* write the crops under a staging folder, then rename it into place */
    if (asprintf(&staging, "%s.tmp.%d", out_dir, (int)getpid()) < 0) { staging = NULL; cli_error(cmd, "out of memory"); goto done; }
    remove_tree(staging);
    if (mkdir(staging, 0755) != 0) { cli_error(cmd, "cannot create %s: %s", staging, strerror(errno)); goto done; }
    staged = 1;
    for (int c = 0; c < k; c++) {
        if (largest_only && c != largest) continue;
        int cnt = 0;
        char sub[32] = "";
        if (!largest_only) {
            snprintf(sub, sizeof sub, "%d/", c);
            char *d;
            if (asprintf(&d, "%s/%d", staging, c) < 0) { cli_error(cmd, "out of memory"); goto done; }
            int ok = mkdir(d, 0755) == 0;
            free(d);
            if (!ok) { cli_error(cmd, "cannot create a folder in %s: %s", staging, strerror(errno)); goto done; }
        }
        for (int i = 0; i < n; i++) {
            if (labels[i] != c) continue;
            char stem[64];
            snprintf(stem, sizeof stem, "%.60s", base_name(items[i].path));
            char *dot = strrchr(stem, '.');
            if (dot && dot != stem) *dot = 0;
            for (char *q = stem; *q; q++) if (*q == '/' || *q == ' ') *q = '_';
            snprintf(items[i].file, sizeof items[i].file, "%s%03d_%s_%d.png", sub, ++cnt, stem, items[i].index);
            char *fp;
            if (asprintf(&fp, "%s/%s", staging, items[i].file) < 0) { cli_error(cmd, "out of memory"); goto done; }
            s = fn_image_save_png(fp, &items[i].crop);
            free(fp);
            if (s) { cli_status_error(cmd, s); goto done; }
        }
    }
    if (out_state == 0 && rmdir(out_dir) != 0) { cli_error(cmd, "cannot replace the empty folder %s: %s", out_dir, strerror(errno)); goto done; }
    if (rename(staging, out_dir) != 0) { cli_error(cmd, "cannot rename %s to %s: %s", staging, out_dir, strerror(errno)); goto done; }
    staged = 0;

    if (json) {
        printf("{\"method\":\"%s\",\"threshold\":%g,\"distance\":\"euclidean\",\"min_cluster_size\":%d,",
               cw ? "chinese-whispers" : "dbscan", (double)threshold, min_size);
        if (cw) printf("\"iterations\":%d,\"seed\":%d,", iterations, seed);
        printf("\"model\":");
        fn_json_write_string(stdout, model_path);
        printf(",\"output\":");
        fn_json_write_string(stdout, out_dir);
        printf(",\"images\":%d,\"faces\":%d,\"clusters\":[", n_paths, n);
        for (int c = 0, first = 1; c < k; c++) {
            if (largest_only && c != largest) continue;
            printf("%s{\"id\":%d,\"faces\":[", first ? "" : ",", c);
            first = 0;
            for (int i = 0, f = 1; i < n; i++) if (labels[i] == c) { printf(f ? "" : ","); f = 0; json_face(&items[i], 1); }
            printf("]}");
        }
        printf("],\"noise\":[");
        for (int i = 0, f = 1; i < n; i++) if (labels[i] < 0) { printf(f ? "" : ","); f = 0; json_face(&items[i], 0); }
        printf("],\"no_face\":[");
        for (int i = 0; i < n_no_face; i++) { printf(i ? "," : ""); fn_json_write_string(stdout, no_face[i]); }
        printf("],\"errors\":[");
        for (int i = 0; i < n_bad; i++) { printf(i ? "," : ""); fn_json_write_string(stdout, bad[i]); }
        printf("]}\n");
    } else {
        printf("Faces: %d in %d image(s); %s, threshold %g (Euclidean)\nNo of clusters: %d\n", n, n_paths,
               cw ? "chinese whispers" : "DBSCAN", (double)threshold, k);
        for (int c = 0; c < k; c++) {
            printf("Cluster %d:", c);
            for (int i = 0; i < n; i++) if (labels[i] == c) printf(" %s#%d", base_name(items[i].path), items[i].index);
            printf("\n");
        }
        int noise = 0;
        for (int i = 0; i < n; i++) noise += labels[i] < 0;
        if (noise) {
            printf("Noise:");
            for (int i = 0; i < n; i++) if (labels[i] < 0) printf(" %s#%d", base_name(items[i].path), items[i].index);
            printf("\n");
        }
        if (largest_only) printf("Saved the largest cluster (cluster %d) to %s\n", largest, out_dir);
        else printf("Saved %d cluster folder(s) to %s\n", k, out_dir);
    }
    rc = 0;
done:
    if (staged) remove_tree(staging);
    free(staging);
    for (int i = 0; i < n; i++) fn_image_free(&items[i].crop);
    free(items); free(emb); free(dist); free(labels); free(no_face);
    for (int i = 0; i < n_bad; i++) free(bad[i]);
    free(bad);
    fn_paths_free(paths, n_paths);
    fn_detector_close(det);
    fn_model_close(m);
    free(model_path); free(mtcnn_path);
    return rc;
}
