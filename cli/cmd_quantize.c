/* cmd_quantize.c — `facenet quantize`: a float embedding model into an int8 model file
 * (issue 18). Calibration crops come from photos: every face MTCNN finds, cropped as the
 * model expects, up to --images of them. */
#define _GNU_SOURCE /* asprintf */
#include "cli.h"
#include "core.h"
#include <dirent.h>
#include <sys/stat.h>

#define DEFAULT_CALIBRATION "../shared/data/faces"

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet quantize [options] MODEL OUT.safetensors\n"
        "Post-training int8 quantisation: weights symmetric int8 per output channel (scale\n"
        "layers / batch norm folded first), int32 biases, activation scales calibrated on\n"
        "real face crops. Every command accepts OUT.safetensors as --model; it runs on int8\n"
        "kernels (AVX-512 VNNI, AVX2 or portable C, chosen at run time).\n"
        "  --calibrate DIR     photos to calibrate on, searched recursively; every face found\n"
        "                      is used (default: " DEFAULT_CALIBRATION ")\n"
        "  --images N          at most N face crops (default 200)\n"
        "  --percentile P      activation range: the P-th percentile of each conv's inputs\n"
        "                      (default 99.999)\n"
        "  --mtcnn PATH        MTCNN weights (default as for `facenet compare`)\n"
        "Supported: the dlib ResNet (the default model).\n"
        "Exit status: 0 on success, 1 on any error.\n");
}

/* image files under dir (depth <= 4), in sorted order */
static int collect(const char *dir, int depth, char ***paths, int *n, int *cap) {
    struct dirent **ents;
    int k = scandir(dir, &ents, NULL, alphasort);
    if (k < 0) return -1;
    for (int i = 0; i < k; i++) {
        const char *name = ents[i]->d_name;
        char *p = NULL;
        if (name[0] != '.' && asprintf(&p, "%s/%s", dir, name) >= 0) {
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (depth < 4) collect(p, depth + 1, paths, n, cap);
                free(p);
            } else if (fn_is_image_path(p)) {
                if (*n == *cap) {
                    int nc = *cap ? *cap * 2 : 64;
                    char **r = realloc(*paths, sizeof *r * nc);
                    if (!r) { free(p); free(ents[i]); continue; }
                    *paths = r; *cap = nc;
                }
                (*paths)[(*n)++] = p;
            } else {
                free(p);
            }
        }
        free(ents[i]);
    }
    free(ents);
    return 0;
}

int cmd_quantize(int argc, char **argv) {
    const char *cmd = "quantize";
    const char *calib = NULL, *mtcnn_arg = NULL, *pos[2] = { NULL, NULL };
    int images = 200, err = 0, n_pos = 0, rc = 1, n_paths = 0, cap_paths = 0, n = 0;
    float percentile = 99.999f;
    char **paths = NULL, *mtcnn_path = NULL;
    fn_model *m = NULL;
    fn_detector *det = NULL;
    fn_image *crops = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_opt_str(argc, argv, &i, "--calibrate", &calib, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn_arg, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--images", &images, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--percentile", &percentile, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (n_pos < 2) pos[n_pos++] = argv[i];
        else return cli_error(cmd, "unexpected argument '%s' (see --help)", argv[i]);
        if (err) return 1;
    }
    if (n_pos != 2) { usage(stderr); return cli_error(cmd, "needs MODEL and OUT.safetensors"); }
    if (images < 1 || images > 100000) return cli_error(cmd, "--images must be between 1 and 100000");
    if (!(percentile > 50 && percentile <= 100)) return cli_error(cmd, "--percentile must be in (50, 100]");
    if (!calib) calib = DEFAULT_CALIBRATION;

    fn_status s = fn_model_open(pos[0], &m);
    if (s) { cli_status_error(cmd, s); goto done; }
    if (fn_model_is_int8(m)) { cli_error(cmd, "%s is already an int8 model", pos[0]); goto done; }
    if (strcmp(fn_model_arch(m), "dlib_resnet")) {
        cli_error(cmd, "no int8 network for %s models yet (supported: the dlib ResNet)", fn_model_arch(m));
        goto done;
    }
    if (collect(calib, 0, &paths, &n_paths, &cap_paths) != 0) { cli_error(cmd, "%s: cannot read the calibration folder (--calibrate DIR)", calib); goto done; }
    if (n_paths == 0) { cli_error(cmd, "%s: no images to calibrate on", calib); goto done; }
    mtcnn_path = mtcnn_arg ? strdup(mtcnn_arg) : cli_default_mtcnn();
    if (!mtcnn_path) { cli_error(cmd, "no MTCNN weights found; %s", cli_models_hint()); goto done; }
    if ((s = fn_detector_open(mtcnn_path, &det))) { cli_status_error(cmd, s); goto done; }
    if (!(crops = calloc((size_t)images, sizeof *crops))) { cli_error(cmd, "out of memory"); goto done; }
    fn_progress pr;
    fn_progress_begin(&pr, "finding faces", n_paths);
    for (int p = 0; p < n_paths && n < images; p++) {
        fn_image img;
        fn_progress_step(&pr, 1);
        if (fn_image_load(paths[p], 1, &img)) { fprintf(stderr, "facenet %s: %s, left out\n", cmd, fn_last_error()); continue; }
        fn_face *faces = NULL;
        int nf = 0;
        s = fn_detect(det, &img, NULL, &faces, &nf);
        for (int k = 0; s == FN_OK && k < nf && n < images; k++)
            if (fn_model_crop(m, &img, &faces[k], &crops[n]) == FN_OK) n++;
        free(faces);
        fn_image_free(&img);
        if (s) { fn_progress_end(&pr); cli_status_error(cmd, s); goto done; }
    }
    fn_progress_end(&pr);
    if (n == 0) { cli_error(cmd, "no face found in the %d image(s) under %s", n_paths, calib); goto done; }
    char what[1200];
    snprintf(what, sizeof what, "%d face crops from %d images under %s, percentile %g", n, n_paths, calib, (double)percentile);
    if ((s = fn_model_quantize(m, crops, n, percentile, what, pos[1]))) { cli_status_error(cmd, s); goto done; }
    struct stat a, b;
    long long in_size = stat(pos[0], &a) == 0 ? (long long)a.st_size : -1, out_size = stat(pos[1], &b) == 0 ? (long long)b.st_size : -1;
    printf("wrote %s: int8 %s, calibrated on %s\n", pos[1], fn_model_arch(m), what);
    printf("size %lld bytes (float model %lld bytes, %.2fx smaller); kernels here: %s\n", out_size, in_size,
           out_size > 0 ? (double)in_size / out_size : 0.0, fn_int8_kernels());
    rc = 0;
done:
    if (crops) for (int i = 0; i < n; i++) fn_image_free(&crops[i]);
    free(crops);
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    free(paths);
    free(mtcnn_path);
    fn_detector_close(det);
    fn_model_close(m);
    return rc;
}
