/* cmd_export_embeddings.c — `facenet export-embeddings`: facenet's
 * contributed/export_embeddings.py. A dataset folder (one subfolder per person) becomes
 * embeddings.npy (float32 N×D), labels.npy (int64 class index, classes sorted by name) and
 * label_strings.npy (the class name of each row, NumPy unicode) — np.load reads them. */
#define _GNU_SOURCE
#include "cli.h"
#include "core.h"
#include "json.h"
#include "tensors.h"
#include "dist/dist.h"
#include <errno.h>
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet export-embeddings DATA_DIR [options]\n"
        "Embed every photo of DATA_DIR (one folder per person, classes and photos in sorted\n"
        "order) and write DIR/embeddings.npy (float32 N x D), DIR/labels.npy (int64: the index\n"
        "of the person's folder among all folders) and DIR/label_strings.npy (the folder name\n"
        "of each row), each atomically. Rows follow the photos; photos that cannot be read or\n"
        "hold no face are reported on stderr and have no row.\n"
        "  --is-aligned           photos are aligned face crops (no detection; centre-cropped\n"
        "                         to the model input when larger, else resized)\n"
        "  -o, --output DIR       output folder (default: the current folder; created if missing)\n"
        "  --model M, --mtcnn P   models (defaults as in `facenet compare --help`)\n"
        "  --json                 print {\"rows\":[{\"path\",\"label\",\"name\"}],\"skipped\":[...]}\n"
        "Under MPI (mpirun -np N facenet export-embeddings ...) each rank embeds its share of the\n"
        "photos and rank 0 writes the same files as one process would.\n"
        "Exit status: 0 when the files were written (even if some photos were skipped); 1 on\n"
        "bad options, unreadable models or folders, or when no photo gave an embedding.\n");
}

static int export_main(int argc, char **argv);

int cmd_export_embeddings(int argc, char **argv) {
    if (cli_dist_begin("export-embeddings")) return 1;
    return cli_dist_end(export_main(argc, argv));
}

/* Under MPI: every rank's flags (1 = skipped) and embedded rows to rank 0, which puts them
 * back in photo order; returns 1 on a rank other than 0 (it has nothing left to do) */
static int gather_rows(const char *cmd, const fn_dataset *ds, long total, long lo, long hi, const uint8_t *flag,
                       int dim, float *emb, int64_t *labels, const char **row_name, const char **row_path,
                       const char **skipped, int *n, int *n_skipped, int *rc) {
    const int P = fn_dist_size(), R = fn_dist_rank();
    size_t bytes = (size_t)(hi - lo) + (size_t)*n * dim * sizeof(float);
    char *blob = malloc(bytes ? bytes : 1), *all = NULL;
    size_t all_n = 0;
    fn_status s = blob ? FN_OK : fn_fail(FN_ERR_NOMEM, "out of memory");
    if (!s) {
        memcpy(blob, flag, (size_t)(hi - lo));
        memcpy(blob + (hi - lo), emb, (size_t)*n * dim * sizeof(float));
        s = fn_dist_gather_bytes(blob, bytes, &all, &all_n);
    }
    free(blob);
    if (s) { *rc = cli_status_error(cmd, s); return 1; }
    if (R != 0) { *rc = 0; return 1; }
    *n = *n_skipped = 0;
    size_t off = 0;
    int k = 0, i = 0; /* (class, photo) of photo number g */
    for (int r = 0; r < P; r++) {
        long a, b;
        fn_dist_share(total, r, P, &a, &b);
        const uint8_t *fl = (const uint8_t *)all + off;
        off += (size_t)(b - a);
        for (long g = a; g < b; g++) {
            while (i >= ds->classes[k].n_paths) { k++; i = 0; }
            const char *p = ds->classes[k].paths[i];
            if (fl[g - a]) skipped[(*n_skipped)++] = p;
            else {
                memcpy(emb + (size_t)*n * dim, all + off, sizeof(float) * dim);
                off += sizeof(float) * dim;
                labels[*n] = k;
                row_name[*n] = ds->classes[k].name;
                row_path[(*n)++] = p;
            }
            i++;
        }
    }
    free(all);
    return 0;
}

static int export_main(int argc, char **argv) {
    const char *cmd = "export-embeddings";
    const char *model_arg = NULL, *mtcnn_arg = NULL, *out_dir = ".", *data_dir = NULL;
    int aligned = 0, json = 0, err = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--is-aligned")) aligned = 1;
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_opt_str(argc, argv, &i, "--output", &out_dir, &err) || cli_opt_str(argc, argv, &i, "-o", &out_dir, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &model_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn_arg, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (!data_dir) data_dir = argv[i];
        else return cli_error(cmd, "unexpected argument '%s'", argv[i]);
        if (err) return 1;
    }
    if (!data_dir) { usage(stderr); return cli_error(cmd, "DATA_DIR is required"); }

    fn_dataset ds = { NULL, 0 };
    fn_model *m = NULL;
    fn_detector *det = NULL;
    float *emb = NULL;
    int64_t *labels = NULL;
    const char **row_name = NULL, **row_path = NULL, **skipped = NULL;
    char *path_e = NULL, *path_l = NULL, *path_s = NULL, *model_path = NULL, *mtcnn_path = NULL;
    int n = 0, n_skipped = 0;
    uint8_t *flag = NULL;
    fn_status s = fn_dataset_load(data_dir, &ds);
    if (s) return cli_status_error(cmd, s);
    long total = 0;
    for (int k = 0; k < ds.n_classes; k++) total += ds.classes[k].n_paths;
    if (total == 0) { cli_error(cmd, "no photos in %s (one folder of photos per person expected)", data_dir); goto done; }

    model_path = model_arg ? strdup(model_arg) : cli_default_model();
    if (!model_path) { cli_error(cmd, "%s", cli_models_hint()); goto done; }
    if ((s = fn_model_open(model_path, &m))) { cli_status_error(cmd, s); goto done; }
    if (!aligned) {
        mtcnn_path = mtcnn_arg ? strdup(mtcnn_arg) : cli_default_mtcnn();
        if (!mtcnn_path) { cli_error(cmd, "no MTCNN weights found; %s", cli_models_hint()); goto done; }
        if ((s = fn_detector_open(mtcnn_path, &det))) { cli_status_error(cmd, s); goto done; }
    }
    if (asprintf(&path_e, "%s/embeddings.npy", out_dir) < 0) path_e = NULL;
    if (asprintf(&path_l, "%s/labels.npy", out_dir) < 0) path_l = NULL;
    if (asprintf(&path_s, "%s/label_strings.npy", out_dir) < 0) path_s = NULL;
    const int dim = fn_model_dim(m);
    size_t bytes;
    if (!path_e || !path_l || !path_s || !fn_mul_size((size_t)total * dim, sizeof(float), &bytes) || !(emb = malloc(bytes)) ||
        !(labels = malloc(sizeof(int64_t) * total)) || !(row_name = malloc(sizeof(char *) * total)) ||
        !(row_path = malloc(sizeof(char *) * total)) || !(skipped = malloc(sizeof(char *) * total)) ||
        !(flag = calloc((size_t)total, 1))) {
        cli_error(cmd, "out of memory"); goto done;
    }

    /* this rank's share of the photos (all of them in one process) */
    long lo, hi, g = 0;
    fn_dist_share(total, fn_dist_rank(), fn_dist_size(), &lo, &hi);
    fn_dist_progress prog;
    fn_dist_progress_begin(&prog, "embedding", total);
    for (int k = 0; k < ds.n_classes; k++)
        for (int i = 0; i < ds.classes[k].n_paths; i++, g++) {
            if (g < lo || g >= hi) continue;
            const char *p = ds.classes[k].paths[i];
            int found = 0;
            s = fn_embed_face_file(det, m, p, aligned, emb + (size_t)n * dim, NULL, &found);
            fn_dist_progress_step(&prog, 1);
            if (s == FN_ERR_NOMEM) { fn_dist_progress_end(&prog); cli_status_error(cmd, s); goto done; }
            if (s || !found) {
                if (s) fprintf(stderr, "facenet %s: warning: skipped %s\n", cmd, fn_last_error());
                else fprintf(stderr, "facenet %s: no face in %s, skipped\n", cmd, p);
                skipped[n_skipped++] = p;
                flag[g - lo] = 1;
                continue;
            }
            labels[n] = k;
            row_name[n] = ds.classes[k].name;
            row_path[n++] = p;
        }
    if ((s = fn_dist_progress_end(&prog))) { cli_status_error(cmd, s); goto done; }
    if (fn_dist_size() > 1 &&
        gather_rows(cmd, &ds, total, lo, hi, flag, dim, emb, labels, row_name, row_path, skipped, &n, &n_skipped, &rc))
        goto done;
    if (n == 0) { cli_error(cmd, "no embedding: none of the %ld photo(s) in %s gave a face", total, data_dir); goto done; }
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) { cli_error(cmd, "cannot create %s: %s", out_dir, strerror(errno)); goto done; }
    if ((s = fn_npy_save_f32(path_e, emb, n, dim)) || (s = fn_npy_save_i64(path_l, labels, n)) ||
        (s = fn_npy_save_unicode(path_s, row_name, n))) { cli_status_error(cmd, s); goto done; }
    if (json) {
        printf("{\"model\":");
        fn_json_write_string(stdout, model_path);
        printf(",\"dim\":%d,\"embeddings\":", dim);
        fn_json_write_string(stdout, path_e);
        printf(",\"labels\":");
        fn_json_write_string(stdout, path_l);
        printf(",\"label_strings\":");
        fn_json_write_string(stdout, path_s);
        printf(",\"rows\":[");
        for (int i = 0; i < n; i++) {
            printf("%s{\"path\":", i ? "," : "");
            fn_json_write_string(stdout, row_path[i]);
            printf(",\"label\":%lld,\"name\":", (long long)labels[i]);
            fn_json_write_string(stdout, row_name[i]);
            printf("}");
        }
        printf("],\"skipped\":[");
        for (int i = 0; i < n_skipped; i++) { printf(i ? "," : ""); fn_json_write_string(stdout, skipped[i]); }
        printf("]}\n");
    } else {
        printf("Number of images: %ld (%d embedded, %d skipped), %d classes, dim %d\n", total, n, n_skipped, ds.n_classes, dim);
        printf("Wrote %s, %s, %s\n", path_e, path_l, path_s);
    }
    rc = 0;
done:
    free(emb); free(labels); free(row_name); free(row_path); free(skipped); free(flag);
    free(path_e); free(path_l); free(path_s); free(model_path); free(mtcnn_path);
    fn_detector_close(det);
    fn_model_close(m);
    fn_dataset_free(&ds);
    return rc;
}
