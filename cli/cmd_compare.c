/* cmd_compare.c — `facenet compare`: facenet's compare.py. Detect the face of each photo
 * (the largest, or every face), crop it as the model expects, embed, and print the
 * Euclidean distance matrix exactly as compare.py does (np.sqrt(np.sum(np.square(a-b)))). */
#include "cli.h"
#include "core.h"
#include "json.h"
#include "nets/model.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet compare [options] IMAGE...\n"
        "Distance matrix (Euclidean, not squared) between the faces of photos, as facenet's\n"
        "compare.py prints it, between L2-normalised embeddings. Same person below the LFW\n"
        "threshold: ~0.41 for the default dlib ResNet (0.409, `facenet gallery`'s calibration),\n"
        "~1.1 for facenet's 512-d\n"
        "models. (face_recognition's 0.6 is on dlib's unnormalised scale, about 1.47x these\n"
        "distances; Python's facenet_c.compat.face_recognition returns encodings on that scale.)\n"
        "  --model M.safetensors  embedding model (default: see `facenet embed --help`)\n"
        "  --mtcnn PATH           MTCNN weights (default: mtcnn.safetensors or mtcnn/ in\n"
        "                         $FACENET_MODELS, ./models or <binary>/../models)\n"
        "  --margin N             margin in pixels around the box for margin-crop models\n"
        "                         (Inception-ResNet-v1; default 44, compare.py's); models that\n"
        "                         align on landmarks (dlib ResNet) ignore it\n"
        "  --all-faces            every face of every photo (default: the largest per photo)\n"
        "  --json                 print {\"faces\":[{\"path\",\"box\",\"score\"}],\"distances\":[[...]]}\n"
        "Photos without a face are reported on stderr and left out (as compare.py does).\n"
        "Exit status: 0 on success, 1 when an image or model cannot be read or no face is found.\n");
}

typedef struct { const char *path; fn_face face; int index, of; } face_ref;

int cmd_compare(int argc, char **argv) {
    const char *cmd = "compare";
    const char *model_arg = NULL, *mtcnn_arg = NULL;
    int json = 0, all = 0, margin = -1, err = 0, n_paths = 0, rc = 1, n = 0, cap = 0;
    char **paths = calloc((size_t)argc + 1, sizeof *paths);
    char *model_path = NULL, *mtcnn_path = NULL;
    fn_model *m = NULL;
    fn_detector *det = NULL;
    face_ref *refs = NULL;
    float *emb = NULL, *dist = NULL;
    if (!paths) return cli_error(cmd, "out of memory");
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        if (!only_files && (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h"))) { usage(stdout); free(paths); return 0; }
        else if (!only_files && cli_flag(argv, i, "--")) only_files = 1;
        else if (!only_files && cli_flag(argv, i, "--json")) json = 1;
        else if (!only_files && cli_flag(argv, i, "--all-faces")) all = 1;
        else if (!only_files && cli_opt_str(argc, argv, &i, "--model", &model_arg, &err)) {}
        else if (!only_files && cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn_arg, &err)) {}
        else if (!only_files && cli_opt_int(argc, argv, &i, "--margin", &margin, &err)) {}
        else if (!only_files && argv[i][0] == '-' && argv[i][1]) { cli_error(cmd, "unknown option '%s' (see --help)", argv[i]); goto done; }
        else paths[n_paths++] = argv[i];
        if (err) goto done;
    }
    if (n_paths == 0) { usage(stderr); cli_error(cmd, "no images given"); goto done; }
    if (margin != -1 && (margin < 0 || margin > 4096)) { cli_error(cmd, "--margin must be between 0 and 4096"); goto done; }

    model_path = model_arg ? strdup(model_arg) : cli_default_model();
    if (!model_path) { cli_error(cmd, "%s", cli_models_hint()); goto done; }
    mtcnn_path = mtcnn_arg ? strdup(mtcnn_arg) : cli_default_mtcnn();
    if (!mtcnn_path) { cli_error(cmd, "no MTCNN weights found; %s", cli_models_hint()); goto done; }
    fn_status s = fn_model_open(model_path, &m);
    if (s) { cli_status_error(cmd, s); goto done; }
    if ((s = fn_detector_open(mtcnn_path, &det))) { cli_status_error(cmd, s); goto done; }
    if (margin < 0) margin = m->crop_margin;

    const int dim = fn_model_dim(m);
    for (int p = 0; p < n_paths; p++) {
        fn_image img;
        if ((s = fn_image_load(paths[p], 1, &img))) {
            const char *e = fn_last_error();
            strstr(e, paths[p]) ? cli_error(cmd, "%s", e) : cli_error(cmd, "%s: %s", paths[p], e);
            goto done;
        }
        fn_face *faces = NULL;
        int nf = 0;
        s = fn_detect(det, &img, NULL, &faces, &nf);
        if (s == FN_OK && nf == 0) fprintf(stderr, "facenet %s: can't detect a face in %s, left out\n", cmd, paths[p]);
        int k0 = all ? 0 : fn_face_pick_largest(faces, nf, img.w, img.h, 0), k1 = all ? nf : k0 + 1;
        if (nf == 0) k1 = k0 = 0;
        for (int k = k0; s == FN_OK && k < k1; k++) {
            if (n == cap) {
                int nc = cap ? cap * 2 : 16;
                face_ref *r = realloc(refs, sizeof *r * nc);
                float *e = realloc(emb, sizeof(float) * (size_t)nc * dim);
                if (r) refs = r;
                if (e) emb = e;
                if (!r || !e) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
                cap = nc;
            }
            fn_image crop;
            s = m->crop == FN_CROP_MARGIN ? fn_crop_margin(&img, faces[k].box, margin, m->input_size, &crop)
                                          : fn_model_crop(m, &img, &faces[k], &crop);
            if (s == FN_OK) s = fn_model_embed(m, &crop, 1, emb + (size_t)n * dim);
            fn_image_free(&crop);
            if (s == FN_OK) { refs[n].path = paths[p]; refs[n].face = faces[k]; refs[n].index = k; refs[n].of = nf; n++; }
        }
        free(faces);
        fn_image_free(&img);
        if (s) { cli_status_error(cmd, s); goto done; }
    }
    if (n == 0) { cli_error(cmd, "no face found in any of the %d image(s)", n_paths); goto done; }
    if (!(dist = malloc(sizeof(float) * (size_t)n * n))) { cli_error(cmd, "out of memory"); goto done; }
    fn_distance_matrix(emb, n, dim, dist);

    if (json) {
        printf("{\"model\":");
        fn_json_write_string(stdout, model_path);
        printf(",\"arch\":\"%s\",\"dim\":%d,\"faces\":[", fn_model_arch(m), dim);
        for (int i = 0; i < n; i++) {
            const float *b = refs[i].face.box;
            printf("%s{\"path\":", i ? "," : "");
            fn_json_write_string(stdout, refs[i].path);
            printf(",\"face\":%d,\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.5f}", refs[i].index,
                   (double)b[0], (double)b[1], (double)b[2], (double)b[3], (double)refs[i].face.score);
        }
        printf("],\"distances\":");
        cli_print_distance_matrix_json(dist, n);
        printf("}\n");
    } else {
        printf("Images:\n");
        for (int i = 0; i < n; i++) {
            if (all && refs[i].of > 1) {
                const float *b = refs[i].face.box;
                printf("%1d: %s (face %d of %d, box %.0f,%.0f,%.0f,%.0f)\n", i, refs[i].path, refs[i].index + 1,
                       refs[i].of, (double)b[0], (double)b[1], (double)b[2], (double)b[3]);
            } else {
                printf("%1d: %s\n", i, refs[i].path);
            }
        }
        cli_print_distance_matrix(dist, n);
    }
    rc = 0;
done:
    free(dist); free(emb); free(refs);
    fn_detector_close(det);
    fn_model_close(m);
    free(model_path); free(mtcnn_path); free(paths);
    return rc;
}
