/* cmd_validate.c — `facenet validate`: facenet's validate_on_lfw.py. Reads an LFW pairs
 * file, detects and crops the face in every image (or takes aligned crops as they are),
 * embeds them, and prints facenet's accuracy / VAL@FAR / AUC / EER lines (src/eval).
 *
 * Choices, documented in --help:
 * - Each distinct image is embedded once (pairs share images), in sorted path order.
 * - Face choice is facenet's align choice for LFW (largest box, penalised by its distance
 *   from the centre). An image where MTCNN finds no face is embedded from a synthetic
 *   centred face box (the middle of the picture, where LFW centres faces) and counted —
 *   facenet's align script drops such images, which then silently removes their pairs.
 * - --cache FILE.npy stores the embeddings with FILE.npy.json naming the model id, the
 *   crop mode and the image paths; a later run reuses it when every image it needs is
 *   there with the same model and mode, and otherwise recomputes and rewrites it. */
#include "cli.h"
#include "core.h"
#include "json.h"
#include "tensors.h"
#include "nets/model.h"
#include "eval/plot.h"
#include "dist/dist.h"
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet validate LFW_DIR [options]\n"
        "LFW validation with facenet's protocol (validate_on_lfw.py): 10-fold cross-validated\n"
        "accuracy, VAL@FAR=1e-3, AUC and EER over the pairs of an LFW pairs file.\n"
        "LFW_DIR holds NAME/NAME_0001.jpg (or .png) images, e.g. lfw/deepfunneled.\n"
        "  --pairs FILE            pairs file (default: LFW_DIR/pairs.txt, else LFW_DIR/../pairs.txt);\n"
        "                          pairsDevTrain/DevTest.txt work too. Pairs with a missing\n"
        "                          image are skipped and counted.\n"
        "  --model M.safetensors   embedding model (default: the vggface2 or dlib_resnet model\n"
        "                          in $FACENET_MODELS, ./models or <binary>/../models)\n"
        "  --mtcnn PATH            MTCNN weights (folder of det1-3.npy / pnet,rnet,onet.pt, or\n"
        "                          mtcnn.safetensors; default: found like the model)\n"
        "  --is-aligned            images are aligned face crops: resize to the model input, no\n"
        "                          detection\n"
        "  --standardize fixed|prewhiten  input standardisation (default: the model's)\n"
        "  --folds N               cross-validation folds (default 10)\n"
        "  --distance euclidean|cosine  squared L2 (facenet's metric 0, default) or\n"
        "                          arccos(cosine similarity)/pi (metric 1)\n"
        "  --use-flipped-images    concatenate the embeddings of each face and its mirror image\n"
        "  --subtract-mean         subtract the training folds' mean embedding in each fold\n"
        "  --roc FILE.png          plot the ROC curve (log FPR axis, VAL@FAR point marked)\n"
        "  --cache FILE.npy        reuse / store the embeddings (+ FILE.npy.json: model id, mode,\n"
        "                          image paths); another model or image list recomputes it\n"
        "  --batch-size N          crops per forward pass with --is-aligned (default 100)\n"
        "  --limit-pairs N         use only the first N pairs of the file\n"
        "  --json                  print {\"pairs\",\"skipped\",\"accuracy\",\"accuracy_std\",\"val\",\n"
        "                          \"val_std\",\"far\",\"auc\",\"eer\",\"threshold\",\"seconds\",...}\n"
        "Without a detected face, an image is embedded from a centred face box (counted in the\n"
        "output as \"no face\"). Exit status: 0 on success, 1 on any error.\n");
}

typedef struct {
    const char *cmd;
    fn_model *model;
    fn_detector *det;
    int aligned, flip, batch;
} embed_ctx;

/* A face box in the middle of the picture with typical frontal landmarks: the fallback
 * when MTCNN finds nothing (LFW centres each face in its 250x250 picture). */
static fn_face centred_face(const fn_image *img) {
    fn_face f;
    memset(&f, 0, sizeof f);
    float w = (float)img->w, h = (float)img->h, side = 0.45f * (w < h ? w : h);
    float x1 = w / 2 - side / 2, y1 = h / 2 - side / 2;
    f.box[0] = x1; f.box[1] = y1; f.box[2] = x1 + side; f.box[3] = y1 + side;
    f.score = 0;
    static const float rel[5][2] = {{0.31f, 0.40f}, {0.69f, 0.40f}, {0.50f, 0.58f}, {0.35f, 0.78f}, {0.65f, 0.78f}};
    for (int k = 0; k < 5; k++) { f.landmarks[k][0] = x1 + rel[k][0] * side; f.landmarks[k][1] = y1 + rel[k][1] * side; }
    return f;
}

static int image_error(const char *cmd, const char *path, fn_status s) {
    const char *e = fn_last_error();
    if (strstr(e, path)) return cli_error(cmd, "%s", e);
    return cli_error(cmd, "%s: %s: %s", path, fn_status_str(s), e);
}

/* Mirror copy for --use-flipped-images in aligned mode. */
static fn_status mirrored(const fn_image *src, fn_image *out) { return fn_image_flip_lr(src, out); }

/* Embeds paths[0..n) into emb (n x views*dim); no_face[i] set where detection failed. */
static int embed_images(embed_ctx *c, char **paths, int n, float *emb, uint8_t *no_face, fn_dist_progress *prog) {
    const int dim = fn_model_dim(c->model), views = c->flip ? 2 : 1, size = fn_model_input_size(c->model);
    int rc = 0;
    if (c->aligned) {
        fn_image *crops = calloc((size_t)c->batch * views, sizeof *crops);
        if (!crops) return cli_error(c->cmd, "out of memory");
        for (int i0 = 0; i0 < n && !rc; i0 += c->batch) {
            int nb = n - i0 < c->batch ? n - i0 : c->batch;
            for (int i = 0; i < nb && !rc; i++) {
                fn_image *dst = &crops[(size_t)i * views];
                fn_status s = fn_load_aligned_crop(paths[i0 + i], size, dst, NULL);
                if (!s && c->flip) s = mirrored(dst, dst + 1);
                if (s) rc = image_error(c->cmd, paths[i0 + i], s);
                no_face[i0 + i] = 0;
            }
            /* rows come out as [img0, img0 mirrored, img1, ...] = per-image concatenation */
            fn_status s;
            if (!rc && (s = fn_model_embed(c->model, crops, nb * views, emb + (size_t)i0 * views * dim)))
                rc = cli_status_error(c->cmd, s);
            for (int i = 0; i < nb * views; i++) fn_image_free(&crops[i]);
            fn_dist_progress_step(prog, nb);
        }
        free(crops);
    } else {
        for (int i = 0; i < n && !rc; i++) {
            fn_image img;
            fn_status s = fn_image_load(paths[i], 1, &img);
            if (s) { rc = image_error(c->cmd, paths[i], s); break; }
            fn_face *faces = NULL;
            float *e = NULL;
            int nf = 0;
            s = fn_embed_image_faces(c->det, c->model, &img, NULL, FN_FACES_LARGEST_CENTERED, c->flip, &faces, &e, &nf);
            if (!s && nf == 0) {
                /* no face: the centred box, cropped as the model wants */
                fn_face f = centred_face(&img);
                fn_image crop[2] = {{0}};
                s = fn_model_crop(c->model, &img, &f, &crop[0]);
                if (!s && c->flip) s = mirrored(&crop[0], &crop[1]);
                if (!s && !(e = malloc(sizeof(float) * (size_t)views * dim))) s = fn_fail(FN_ERR_NOMEM, "out of memory");
                if (!s) s = fn_model_embed(c->model, crop, views, e);
                fn_image_free(&crop[0]); fn_image_free(&crop[1]);
                no_face[i] = 1;
            } else {
                no_face[i] = 0;
            }
            if (!s) memcpy(emb + (size_t)i * views * dim, e, sizeof(float) * (size_t)views * dim);
            else rc = image_error(c->cmd, paths[i], s);
            free(faces); free(e);
            fn_image_free(&img);
            fn_dist_progress_step(prog, 1);
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- the cache */
typedef struct {
    int n, cols;
    char **paths;     /* borrowed from the sidecar JSON */
    float *emb;       /* n x cols */
    uint8_t *no_face; /* n */
    int *order;       /* indices sorted by path, for lookup */
    fn_json *doc;
} emb_cache;

static const emb_cache *sort_cache;
static int cmp_cache_index(const void *a, const void *b) {
    return strcmp(sort_cache->paths[*(const int *)a], sort_cache->paths[*(const int *)b]);
}

static void cache_free(emb_cache *c) {
    free(c->paths); free(c->emb); free(c->no_face); free(c->order);
    fn_json_free(c->doc);
    memset(c, 0, sizeof *c);
}

static int cache_find(const emb_cache *c, const char *path) {
    int lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, r = strcmp(c->paths[c->order[mid]], path);
        if (r == 0) return c->order[mid];
        if (r < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* Loads the cache when it was made with this model id and mode; *why says otherwise. */
static int cache_load(const char *path, const char *model_id, const char *mode, int cols, emb_cache *c,
                      const char **why) {
    memset(c, 0, sizeof *c);
    char side[4200];
    snprintf(side, sizeof side, "%.4000s.json", path);
    uint8_t *text;
    size_t size;
    *why = "no cache yet";
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    *why = "its sidecar .json is missing or unreadable";
    if (fn_read_file(side, &text, &size)) return 0;
    fn_status s = fn_json_parse((const char *)text, size, &c->doc);
    free(text);
    *why = "its sidecar .json is corrupt";
    if (s) { c->doc = NULL; return 0; }
    const fn_json *id = fn_json_get(c->doc, "model_id"), *md = fn_json_get(c->doc, "mode");
    const fn_json *ps = fn_json_get(c->doc, "paths"), *nf = fn_json_get(c->doc, "no_face");
    if (!id || id->type != FN_JSON_STRING || !md || md->type != FN_JSON_STRING || !ps ||
        ps->type != FN_JSON_ARRAY || !nf || nf->type != FN_JSON_ARRAY || nf->n != ps->n) goto bad;
    *why = "it was computed with another model";
    if (strcmp(id->string, model_id)) goto bad;
    *why = "it was computed with other crops (--is-aligned / --use-flipped-images / --standardize)";
    if (strcmp(md->string, mode)) goto bad;
    int64_t rows, ncols;
    *why = "its .npy is unreadable";
    if (fn_npy_load_f32(path, &c->emb, &rows, &ncols)) goto bad;
    *why = "its .npy does not match its sidecar";
    if (rows != ps->n || (cols > 0 && ncols != cols) || ncols < 1 || ncols > 65536) goto bad;
    c->n = ps->n;
    c->cols = (int)ncols;
    c->paths = calloc((size_t)c->n + 1, sizeof *c->paths);
    c->no_face = calloc((size_t)c->n + 1, 1);
    c->order = calloc((size_t)c->n + 1, sizeof *c->order);
    *why = "out of memory";
    if (!c->paths || !c->no_face || !c->order) goto bad;
    for (int i = 0; i < c->n; i++) {
        const fn_json *p = fn_json_at(ps, i), *f = fn_json_at(nf, i);
        *why = "its sidecar .json is corrupt";
        if (p->type != FN_JSON_STRING || f->type != FN_JSON_NUMBER) goto bad;
        c->paths[i] = p->string;
        c->no_face[i] = f->number != 0;
        c->order[i] = i;
    }
    sort_cache = c;
    qsort(c->order, (size_t)c->n, sizeof *c->order, cmp_cache_index);
    return 1;
bad:
    fn_clear_error();
    cache_free(c);
    return 0;
}

static fn_status cache_save(const char *path, const char *model_id, const char *model_path, const char *mode,
                            char **paths, int n, const float *emb, int cols, const uint8_t *no_face) {
    FN_TRY(fn_npy_save_f32(path, emb, n, cols));
    char side[4200];
    snprintf(side, sizeof side, "%.4000s.json", path);
    fn_atomic_file af;
    FN_TRY(fn_atomic_open(side, &af));
    fprintf(af.f, "{\"model_id\":");
    fn_json_write_string(af.f, model_id);
    fprintf(af.f, ",\"model\":");
    fn_json_write_string(af.f, model_path);
    fprintf(af.f, ",\"mode\":");
    fn_json_write_string(af.f, mode);
    fprintf(af.f, ",\"cols\":%d,\n\"paths\":[", cols);
    for (int i = 0; i < n; i++) { if (i) fputs(",\n", af.f); fn_json_write_string(af.f, paths[i]); }
    fprintf(af.f, "],\n\"no_face\":[");
    for (int i = 0; i < n; i++) fprintf(af.f, "%s%d", i ? "," : "", no_face[i]);
    fprintf(af.f, "]}\n");
    if (ferror(af.f)) { fn_atomic_abort(&af); return fn_fail(FN_ERR_IO, "%s: write failed", side); }
    return fn_atomic_commit(&af);
}

/* Writes the rows embedded so far (have[i]) to the cache. */
static fn_status save_done(const char *path, const char *model_id, const char *model_path, const char *mode,
                           char **paths, int n, const float *emb, int cols, const uint8_t *no_face,
                           const uint8_t *have) {
    int m = 0;
    for (int i = 0; i < n; i++) m += have[i] != 0;
    char **p = malloc(sizeof(char *) * (size_t)(m + 1));
    float *e = malloc(sizeof(float) * (size_t)(m + 1) * cols);
    uint8_t *f = malloc((size_t)m + 1);
    fn_status s = FN_OK;
    if (!p || !e || !f) s = fn_fail(FN_ERR_NOMEM, "out of memory");
    else {
        for (int i = 0, k = 0; i < n; i++) {
            if (!have[i]) continue;
            p[k] = paths[i];
            memcpy(e + (size_t)k * cols, emb + (size_t)i * cols, sizeof(float) * (size_t)cols);
            f[k++] = no_face[i];
        }
        s = cache_save(path, model_id, model_path, mode, p, m, e, cols, f);
    }
    free(p); free(e); free(f);
    return s;
}

/* ---------------------------------------------------------------- output */
static void json_num(const char *key, double v, int first) {
    printf("%s\"%s\":", first ? "" : ",", key);
    if (isfinite(v)) printf("%.17g", v); else printf("null");
}

static int validate_main(int argc, char **argv);

int cmd_validate(int argc, char **argv) {
    if (cli_dist_begin("validate")) return 1;
    return cli_dist_end(validate_main(argc, argv));
}

/* Under MPI: rank 0 alone reads and writes the cache; the others learn which images it
 * lacks (*have, or that it lacks none: returns 1 on a rank with nothing left to do). */
static int share_cache_state(const char *cmd, int n_uniq, uint8_t *have, int *from_cache, int *rc) {
    if (fn_dist_size() == 1) return 0;
    fn_status s = fn_dist_bcast(from_cache, sizeof *from_cache);
    if (!s && !*from_cache) s = fn_dist_bcast(have, (size_t)n_uniq);
    if (s) { *rc = cli_status_error(cmd, s); return 1; }
    if (*from_cache && fn_dist_rank() != 0) { *rc = 0; return 1; }
    return 0;
}

static int validate_main(int argc, char **argv) {
    const char *cmd = "validate";
    const char *lfw_dir = NULL, *pairs_arg = NULL, *model_arg = NULL, *mtcnn_arg = NULL, *roc_path = NULL;
    const char *cache_path = NULL, *dist_arg = NULL, *std_arg = NULL;
    int aligned = 0, flip = 0, sub_mean = 0, json = 0, folds = 10, batch = 100, limit = 0, err = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_flag(argv, i, "--is-aligned")) aligned = 1;
        else if (cli_flag(argv, i, "--use-flipped-images")) flip = 1;
        else if (cli_flag(argv, i, "--subtract-mean")) sub_mean = 1;
        else if (cli_opt_str(argc, argv, &i, "--pairs", &pairs_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &model_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--roc", &roc_path, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--cache", &cache_path, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--distance", &dist_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--standardize", &std_arg, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--folds", &folds, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--batch-size", &batch, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--limit-pairs", &limit, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (!lfw_dir) lfw_dir = argv[i];
        else return cli_error(cmd, "unexpected argument '%s' (one LFW_DIR; see --help)", argv[i]);
        if (err) return 1;
    }
    if (!lfw_dir) { usage(stderr); return cli_error(cmd, "no LFW_DIR given"); }
    if (folds < 2) return cli_error(cmd, "--folds must be at least 2");
    if (batch < 1 || batch > 4096) return cli_error(cmd, "--batch-size must be between 1 and 4096");
    if (limit < 0) return cli_error(cmd, "--limit-pairs must be positive");
    fn_eval_params params;
    fn_eval_params_default(&params);
    params.n_folds = folds;
    params.subtract_mean = sub_mean;
    if (dist_arg) {
        if (!strcmp(dist_arg, "euclidean")) params.metric = FN_METRIC_EUCLIDEAN_SQ;
        else if (!strcmp(dist_arg, "cosine")) params.metric = FN_METRIC_COSINE;
        else return cli_error(cmd, "--distance must be 'euclidean' or 'cosine', not '%s'", dist_arg);
    }
    fn_standardize std = FN_STD_FIXED;
    if (std_arg && cli_parse_standardize(cmd, std_arg, &std)) return 1;
    struct stat st;
    if (stat(lfw_dir, &st) != 0 || !S_ISDIR(st.st_mode)) return cli_error(cmd, "%s: not a folder", lfw_dir);

    double t0 = fn_now();
    char *pairs_path = pairs_arg ? strdup(pairs_arg) : cli_default_lfw_pairs(lfw_dir);
    char *model_path = NULL, *mtcnn_path = NULL;
    fn_lfw_pairs pairs = {0};
    fn_model *model = NULL;
    fn_detector *det = NULL;
    char **uniq = NULL;
    int *pair_img = NULL;
    float *emb = NULL;
    uint8_t *no_face = NULL, *have = NULL;
    emb_cache cache = {0};
    fn_eval_result res = {0};
    fn_status s;
    if (!pairs_path) { cli_error(cmd, "no pairs.txt in %s or its parent folder (use --pairs)", lfw_dir); goto done; }
    if ((s = fn_lfw_read_pairs(pairs_path, lfw_dir, limit, &pairs))) { cli_status_error(cmd, s); goto done; }
    if (pairs.n_skipped) fprintf(stderr, "Skipped %d image pairs\n", pairs.n_skipped);
    if (pairs.n_pairs < folds) {
        cli_error(cmd, "%d usable pairs in %s (%d skipped): need at least --folds %d", pairs.n_pairs, pairs_path,
                  pairs.n_skipped, folds);
        goto done;
    }

    if (model_arg) model_path = strdup(model_arg);
    else if (!(model_path = cli_default_model())) { cli_error(cmd, "%s", cli_models_hint()); goto done; }
    /* the model's id alone decides whether the cache fits: building the network is only
     * needed when something is left to embed */
    char model_id[65];
    {
        fn_tensor_set ts;
        if ((s = fn_safetensors_load(model_path, &ts))) { cli_status_error(cmd, s); goto done; }
        fn_tensor_set_digest(&ts, model_id);
        fn_tensor_set_free(&ts);
    }

    /* distinct images, in sorted order; pair_img maps each pair image to its row */
    int n_uniq = 0;
    if ((s = fn_lfw_distinct_images(&pairs, &uniq, &n_uniq, &pair_img))) { cli_status_error(cmd, s); goto done; }

    char mode[96];
    snprintf(mode, sizeof mode, "%s%s;std=%s", aligned ? "aligned" : "mtcnn-largest-centred",
             flip ? "+flipped" : "", std_arg ? std_arg : "model-default");
    /* reuse what the cache has; embed the rest in chunks, rewriting the cache after each
     * chunk so an interrupted run resumes where it stopped */
    int n_have = 0, cols = 0;
    const char *why = "no --cache";
    if (fn_dist_rank() != 0) cache_path = NULL; /* rank 0's (see share_cache_state) */
    if (cache_path && cache_load(cache_path, model_id, mode, 0, &cache, &why)) {
        cols = cache.cols;
        for (int i = 0; i < n_uniq; i++) n_have += cache_find(&cache, uniq[i]) >= 0;
    }
    if (n_have < n_uniq) {
        if ((s = fn_model_open(model_path, &model))) { cli_status_error(cmd, s); goto done; }
        if (std_arg) fn_model_set_standardize(model, std);
        const int model_cols = fn_model_dim(model) * (flip ? 2 : 1);
        if (cache.n && cache.cols != model_cols) { cache_free(&cache); n_have = 0; why = "its width differs from the model's"; }
        cols = model_cols;
    }
    size_t bytes;
    if (!fn_mul_size((size_t)n_uniq, (size_t)cols * sizeof(float), &bytes) || !(emb = malloc(bytes)) ||
        !(no_face = calloc((size_t)n_uniq, 1)) || !(have = calloc((size_t)n_uniq, 1))) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_uniq && cache.n; i++) {
        int k = cache_find(&cache, uniq[i]);
        if (k < 0) continue;
        memcpy(emb + (size_t)i * cols, cache.emb + (size_t)k * cols, sizeof(float) * (size_t)cols);
        no_face[i] = cache.no_face[k];
        have[i] = 1;
    }
    cache_free(&cache);
    if (cache_path && n_have < n_uniq && !json)
        fprintf(stderr, "facenet validate: cache %s: %s\n", cache_path,
                n_have ? "resuming (some images are missing)" : why);
    int from_cache = n_have == n_uniq;
    if (share_cache_state(cmd, n_uniq, have, &from_cache, &rc)) goto done;
    if (!from_cache) {
        if (!aligned) {
            if (mtcnn_arg) mtcnn_path = strdup(mtcnn_arg);
            else if (!(mtcnn_path = cli_default_mtcnn())) {
                cli_error(cmd, "no MTCNN weights found (use --mtcnn, or --is-aligned for aligned crops); %s", cli_models_hint());
                goto done;
            }
            if ((s = fn_detector_open(mtcnn_path, &det))) { cli_status_error(cmd, s); goto done; }
        }
        if (fn_dist_rank() == 0) { n_have = 0; for (int i = 0; i < n_uniq; i++) n_have += have[i]; }
        if (!json && fn_dist_rank() == 0) printf("Running forward pass on %d LFW images (%d from cache)\n", n_uniq - n_have, n_have);
        fflush(stdout);
        embed_ctx ec = {cmd, model, det, aligned, flip, batch};
        enum { CHUNK = 256 };
        char *chunk_paths[CHUNK];
        int chunk_idx[CHUNK];
        float *chunk_emb = malloc(sizeof(float) * CHUNK * (size_t)(cols + 1));
        uint8_t chunk_nf[CHUNK];
        const int ranks = fn_dist_size(), rank = fn_dist_rank();
        long *counts = malloc(sizeof(long) * ranks);
        if (!chunk_emb || !counts) { cli_error(cmd, "out of memory"); free(chunk_emb); free(counts); goto done; }
        int n_todo = 0;
        for (int i = 0; i < n_uniq; i++) n_todo += !have[i];
        fn_dist_progress prog;
        fn_dist_progress_begin(&prog, "embedding", n_todo);
        int failed = 0;
        for (int i = 0; i < n_uniq && !failed;) {
            int nc = 0;
            for (; i < n_uniq && nc < CHUNK; i++)
                if (!have[i]) { chunk_idx[nc] = i; chunk_paths[nc++] = uniq[i]; }
            if (!nc) break;
            /* under MPI each rank embeds whole batches of the chunk (the batches one process
             * would form, so the numbers are the same), then every rank gets the rows:
             * cols values and the no-face flag per image */
            const long n_batches = (nc + batch - 1) / batch;
            long b0, b1, lo, hi;
            for (int r = 0; r < ranks; r++) {
                fn_dist_share(n_batches, r, ranks, &b0, &b1);
                lo = b0 * batch < nc ? b0 * batch : nc; hi = b1 * batch < nc ? b1 * batch : nc;
                counts[r] = (hi - lo) * (cols + 1);
            }
            fn_dist_share(n_batches, rank, ranks, &b0, &b1);
            lo = b0 * batch < nc ? b0 * batch : nc; hi = b1 * batch < nc ? b1 * batch : nc;
            float *part = chunk_emb + (size_t)lo * (cols + 1);
            if (hi > lo && embed_images(&ec, chunk_paths + lo, (int)(hi - lo), part, chunk_nf + lo, &prog)) failed = 1;
            if ((s = fn_dist_max_int(&failed))) { cli_status_error(cmd, s); failed = 1; }
            if (failed) break;
            for (long k = hi - 1; k >= lo; k--) { /* rows of cols to rows of cols + 1 (the flag last), in place */
                memmove(chunk_emb + (size_t)k * (cols + 1), part + (size_t)(k - lo) * cols, sizeof(float) * (size_t)cols);
                chunk_emb[(size_t)k * (cols + 1) + cols] = chunk_nf[k];
            }
            if ((s = fn_dist_allgather_f32(chunk_emb, counts))) { cli_status_error(cmd, s); failed = 1; break; }
            for (int k = 0; k < nc; k++) {
                memcpy(emb + (size_t)chunk_idx[k] * cols, chunk_emb + (size_t)k * (cols + 1), sizeof(float) * (size_t)cols);
                no_face[chunk_idx[k]] = chunk_emb[(size_t)k * (cols + 1) + cols] != 0;
                have[chunk_idx[k]] = 1;
            }
            if (cache_path && (s = save_done(cache_path, model_id, model_path, mode, uniq, n_uniq, emb, cols, no_face, have))) {
                cli_status_error(cmd, s);
                failed = 1;
            }
            if ((s = fn_dist_max_int(&failed))) { cli_status_error(cmd, s); failed = 1; }
        }
        fn_status ps = fn_dist_progress_end(&prog);
        if (ps && !failed) { cli_status_error(cmd, ps); failed = 1; }
        free(chunk_emb);
        free(counts);
        if (failed) goto done;
        if (rank != 0) { rc = 0; goto done; } /* rank 0 evaluates and reports */
    }
    int n_no_face = 0;
    for (int i = 0; i < n_uniq; i++) n_no_face += no_face[i];

    double t_eval = fn_now();
    if ((s = fn_lfw_evaluate(&pairs, pair_img, emb, cols, &params, &res))) { cli_status_error(cmd, s); goto done; }
    t_eval = fn_now() - t_eval;

    if (roc_path) {
        char title[160], mark[96];
        snprintf(title, sizeof title, "LFW ROC: accuracy %.4f, AUC %.4f", res.accuracy, res.auc);
        fn_plot *p = fn_plot_new(720, 540, title, "False positive rate", "True positive rate", 1);
        if (!p) { cli_status_error(cmd, FN_ERR_NOMEM); goto done; }
        fn_plot_set_xrange(p, 1e-4, 1);
        fn_plot_set_yrange(p, 0, 1);
        const char *base = strrchr(model_path, '/');
        s = fn_plot_add_series(p, res.fpr, res.tpr, FN_EVAL_ROC_THRESHOLDS, 0x1F77B4, base ? base + 1 : model_path);
        snprintf(mark, sizeof mark, "VAL %.4f @ FAR %.5f", res.val, res.far);
        if (!s && isfinite(res.val) && res.far > 0) s = fn_plot_add_marker(p, res.far, res.val, 0xD62728, mark);
        if (!s) s = fn_plot_save_png(p, roc_path);
        fn_plot_free(p);
        if (s) { cli_status_error(cmd, s); goto done; }
    }

    double seconds = fn_now() - t0;
    if (json) {
        printf("{\"pairs\":%d,\"skipped\":%d", pairs.n_pairs, pairs.n_skipped);
        json_num("accuracy", res.accuracy, 0);
        json_num("accuracy_std", res.accuracy_std, 0);
        json_num("val", res.val, 0);
        json_num("val_std", res.val_std, 0);
        json_num("far", res.far, 0);
        json_num("auc", res.auc, 0);
        json_num("eer", res.eer, 0);
        json_num("threshold", res.threshold, 0);
        json_num("seconds", seconds, 0);
        printf(",\"images\":%d,\"from_cache\":%d,\"no_face\":%d,\"cached\":%s,\"folds\":%d,\"distance\":\"%s\",\"model\":", n_uniq, n_have,
               n_no_face, from_cache ? "true" : "false", folds, params.metric == FN_METRIC_COSINE ? "cosine" : "euclidean");
        fn_json_write_string(stdout, model_path);
        printf(",\"model_id\":\"%s\"", model_id);
        if (roc_path) { printf(",\"roc\":"); fn_json_write_string(stdout, roc_path); }
        printf("}\n");
    } else {
        printf("Accuracy: %2.5f+-%2.5f\n", res.accuracy, res.accuracy_std);
        printf("Validation rate: %2.5f+-%2.5f @ FAR=%2.5f\n", res.val, res.val_std, res.far);
        printf("Area Under Curve (AUC): %1.3f\n", res.auc);
        printf("Equal Error Rate (EER): %1.3f\n", res.eer);
        printf("Pairs: %d (%d skipped), images: %d (%d embedded, %d from cache), no face detected: %d\n",
               pairs.n_pairs, pairs.n_skipped, n_uniq, n_uniq - n_have, n_have, n_no_face);
        printf("Threshold (mean of folds): %.2f, metrics %.2f s, total %.1f s\n", res.threshold, t_eval, seconds);
        if (roc_path) printf("ROC curve: %s\n", roc_path);
    }
    rc = 0;
done:
    fn_eval_result_free(&res);
    free(emb); free(no_face); free(have); free(uniq); free(pair_img);
    fn_detector_close(det);
    fn_model_close(model);
    fn_lfw_pairs_free(&pairs);
    free(pairs_path); free(model_path); free(mtcnn_path);
    return rc;
}
