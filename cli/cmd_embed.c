/* cmd_embed.c — `facenet embed`: embeddings of already-aligned face crops (facenet's
 * batch_represent.py / export_embeddings.py without detection) as .npy, JSON, or the
 * pairwise distance matrix that compare.py prints. */
#include "cli.h"
#include "core.h"
#include "json.h"
#include "tensors.h"
#include "nets/model.h"

/* model.c refers to fn_irv1_model_create weakly, and a weak reference does not pull
 * inception_resnet_v1.o out of the static libfacenet.a: this strong one does, for the CLI. */
fn_status (*const cmd_embed_irv1_constructor)(const fn_tensor_set *, struct fn_model *) = fn_irv1_model_create;

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet embed [options] IMAGE...\n"
        "Embed aligned face crops (PNG/JPEG, one face filling the crop as facenet's align\n"
        "writes them). Crops of another size are resized (bilinear) to the model's input.\n"
        "  --model M.safetensors       embedding model (default: 20180402-114759-vggface2 or\n"
        "                              dlib_resnet .safetensors in $FACENET_MODELS, ./models\n"
        "                              or <binary>/../models)\n"
        "  --standardize fixed|prewhiten  input standardisation (default: the model's; fixed\n"
        "                              (x-127.5)/128 for the 2018 facenet models)\n"
        "  --batch-size N              images per forward pass (default 32)\n"
        "  -o, --output OUT.npy        write the N x D float32 embeddings (rows in argument order)\n"
        "  --json                      print {\"model\",\"dim\",\"embeddings\":[{\"path\",\"embedding\"}]}\n"
        "Without -o or --json, prints the Euclidean distance matrix (like facenet's compare.py).\n"
        "Exit status: 0 on success, 1 on any error (unreadable image or model, bad option).\n");
}

static void print_json(const char *model_path, const fn_model *m, char **paths, int n, const float *emb) {
    int dim = fn_model_dim(m);
    printf("{\"model\":");
    fn_json_write_string(stdout, model_path);
    printf(",\"arch\":\"%s\",\"id\":\"%s\",\"dim\":%d,\"embeddings\":[", fn_model_arch(m), fn_model_id(m), dim);
    for (int i = 0; i < n; i++) {
        printf("%s{\"path\":", i ? "," : "");
        fn_json_write_string(stdout, paths[i]);
        printf(",\"embedding\":[");
        for (int d = 0; d < dim; d++) printf("%s%.9g", d ? "," : "", emb[(size_t)i * dim + d]);
        printf("]}");
    }
    printf("]}\n");
}

static int print_distances(char **paths, int n, const float *emb, int dim) {
    float *dist = malloc(sizeof(float) * (size_t)n * n);
    if (!dist) return cli_error("embed", "out of memory");
    fn_distance_matrix(emb, n, dim, dist);
    printf("Images:\n");
    for (int i = 0; i < n; i++) printf("%d: %s\n", i, paths[i]);
    cli_print_distance_matrix(dist, n);
    free(dist);
    return 0;
}

/* "path: reason" once, whether or not the library already named the file */
static int image_error(const char *cmd, const char *path) {
    const char *e = fn_last_error();
    return strstr(e, path) ? cli_error(cmd, "%s", e) : cli_error(cmd, "%s: %s", path, e);
}

/* Loads path into *crop at size x size (resizing with a note when needed). */
static int load_crop(const char *cmd, const char *path, int size, fn_image *crop) {
    int resized;
    if (fn_load_aligned_crop(path, size, crop, &resized)) return image_error(cmd, path);
    if (resized) fprintf(stderr, "facenet %s: note: %s was resized to %dx%d\n", cmd, path, size, size);
    return 0;
}

int cmd_embed(int argc, char **argv) {
    const char *cmd = "embed";
    const char *model_arg = NULL, *out_path = NULL, *std_arg = NULL;
    int json = 0, batch = 32, err = 0, n = 0, rc = 1;
    char **paths = calloc((size_t)argc + 1, sizeof *paths);
    char *model_path = NULL;
    fn_model *m = NULL;
    float *emb = NULL;
    fn_image *crops = NULL;
    if (!paths) return cli_error(cmd, "out of memory");
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        if (!only_files && (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h"))) { usage(stdout); free(paths); return 0; }
        else if (!only_files && cli_flag(argv, i, "--")) only_files = 1;
        else if (!only_files && cli_flag(argv, i, "--json")) json = 1;
        else if (!only_files && cli_opt_str(argc, argv, &i, "--model", &model_arg, &err)) {}
        else if (!only_files && cli_opt_str(argc, argv, &i, "--standardize", &std_arg, &err)) {}
        else if (!only_files && cli_opt_int(argc, argv, &i, "--batch-size", &batch, &err)) {}
        else if (!only_files && (cli_opt_str(argc, argv, &i, "--output", &out_path, &err) ||
                                 cli_opt_str(argc, argv, &i, "-o", &out_path, &err))) {}
        else if (!only_files && argv[i][0] == '-' && argv[i][1]) { cli_error(cmd, "unknown option '%s' (see --help)", argv[i]); goto done; }
        else paths[n++] = argv[i];
        if (err) goto done;
    }
    if (n == 0) { usage(stderr); cli_error(cmd, "no images given"); goto done; }
    if (batch < 1 || batch > 4096) { cli_error(cmd, "--batch-size must be between 1 and 4096"); goto done; }
    fn_standardize std = FN_STD_FIXED;
    if (std_arg && cli_parse_standardize(cmd, std_arg, &std)) goto done;

    if (model_arg) model_path = strdup(model_arg);
    else if (!(model_path = cli_default_model())) { cli_error(cmd, "%s", cli_models_hint()); goto done; }
    fn_status s = fn_model_open(model_path, &m);
    if (s) { cli_status_error(cmd, s); goto done; }
    if (std_arg) fn_model_set_standardize(m, std);

    int dim = fn_model_dim(m), size = fn_model_input_size(m);
    size_t bytes;
    if (!fn_mul_size((size_t)n * dim, sizeof(float), &bytes) || !(emb = malloc(bytes)) ||
        !(crops = calloc((size_t)batch, sizeof *crops))) { cli_error(cmd, "out of memory"); goto done; }
    fn_progress prog;
    fn_progress_begin(&prog, "embedding", n);
    for (int i0 = 0; i0 < n; i0 += batch) {
        int nb = n - i0 < batch ? n - i0 : batch;
        int bad = 0;
        for (int i = 0; i < nb && !bad; i++) bad = load_crop(cmd, paths[i0 + i], size, &crops[i]);
        if (!bad && (s = fn_model_embed(m, crops, nb, emb + (size_t)i0 * dim))) bad = cli_status_error(cmd, s);
        for (int i = 0; i < nb; i++) fn_image_free(&crops[i]);
        if (bad) { fn_progress_end(&prog); goto done; }
        fn_progress_step(&prog, nb);
    }
    fn_progress_end(&prog);

    if (out_path && (s = fn_npy_save_f32(out_path, emb, n, dim))) { cli_status_error(cmd, s); goto done; }
    if (json) print_json(model_path, m, paths, n, emb);
    if (!json && !out_path && print_distances(paths, n, emb, dim)) goto done;
    rc = 0;
done:
    free(crops);
    free(emb);
    fn_model_close(m);
    free(model_path);
    free(paths);
    return rc;
}
