/* test_train_eval.c — the evaluations fn_train runs after each epoch, on tiny data (seconds).
 * 1. LFW (--lfw-dir/--lfw-pairs): 20 pairs of shared/data/lfw (same and different
 *    interleaved), 10 folds. Every epoch row (0 = before training) carries LFW accuracy,
 *    VAL and FAR through the callback and in epochs.csv; the final numbers equal what the
 *    inference path gets from the exported model with the same protocol (fn_model_open ->
 *    fn_load_aligned_crop -> fn_model_embed -> fn_lfw_evaluate, i.e. `facenet validate
 *    --is-aligned`); training.png draws the LFW curves; too few pairs for the folds and a
 *    missing pairs file are errors.
 * 2. softmax validation split (--validation-set-split-ratio): facenet's split_dataset on 5
 *    ORL people x 10 images: ratio 0.2 holds out 2 per person (10 images), ratio 0.01 still
 *    holds out 1 (floor(9.9) = 9); the held-out loss and accuracy reach the callback and the
 *    CSV (accuracy in fifths/tenths, loss = cross-entropy without regularisation, larger with
 *    weight decay); min_nrof_images_per_class above the training part drops every class
 *    (error); triplet mode refuses a split. */
#include "test_util.h"
#include "train/train.h"
#include <sys/stat.h>
#include <unistd.h>

typedef struct { fn_train_epoch_info e[8]; int ne; char msg[512]; } record;

static void on_epoch(void *ud, const fn_train_epoch_info *e) {
    record *r = ud;
    if (r->ne < 8) r->e[r->ne++] = *e;
    printf("    epoch %d: loss %.4f, LFW %.4f+-%.4f VAL %.4f @ FAR %.4f, validation loss %.4f xent %.4f acc %.4f\n", e->epoch,
           e->mean_loss, e->lfw_accuracy, e->lfw_accuracy_std, e->lfw_val, e->lfw_far, e->validation_loss,
           e->validation_xent, e->validation_accuracy);
}
static void on_message(void *ud, const char *m) {
    record *r = ud;
    if (strstr(m, "validation set") || strstr(m, "LFW")) snprintf(r->msg, sizeof r->msg, "%s", m);
    printf("    message: %s\n", m);
}

static char root[512], data[600];

static void setup(void) {
    snprintf(root, sizeof root, "%.400s/train_test_eval", FN_BUILD_DIR);
    mkdir(root, 0777);
    snprintf(data, sizeof data, "%.450s/data", root);
    tu_link_orl(data, 1, 5);
}

/* pairs.txt lines [first, first + n) of the same-person block and of the first
 * different-person block (lines 301..), interleaved so every fold holds both kinds */
static void write_pairs(const char *out, int n) {
    char src[600];
    snprintf(src, sizeof src, "%s/data/lfw/pairs.txt", FN_SHARED_DIR);
    FILE *f = fopen(src, "r"), *g = fopen(out, "w");
    if (!f || !g) { perror("pairs"); exit(1); }
    static char lines[700][128];
    int k = 0;
    while (k < 700 && fgets(lines[k], sizeof lines[k], f)) k++;
    fclose(f);
    fprintf(g, "10\t300\n");
    for (int i = 0; i < n; i++) fprintf(g, "%s%s", lines[1 + i], lines[301 + i]);
    fclose(g);
}

static void small(fn_train_options *o, fn_train_mode mode, const char *name, char *models, size_t cap) {
    fn_train_options_default(o, mode);
    snprintf(models, cap, "%.500s/%s", root, name);
    o->data_dir = data;
    o->models_dir = models;
    o->net.depth[0] = o->net.depth[1] = o->net.depth[2] = 1;
    o->net.width = 0.25f;
    o->net.image_size = 80;
    o->net.dim = 16;
    o->net.bn_decay = 0.5f;
    o->people_per_batch = 3;
    o->images_per_person = 3;
    o->batch_size = 9;
    o->epoch_size = 2;
    o->max_epochs = 1;
    o->learning_rate = 0.05f;
}

static fn_status run(fn_train_options *o, record *r) {
    memset(r, 0, sizeof *r);
    fn_train_callbacks cb = {NULL, on_epoch, on_message, r};
    fn_status s = fn_train(o, &cb);
    if (s) printf("    fn_train: %s: %s\n", fn_status_str(s), fn_last_error());
    return s;
}

/* the last data row of models/epochs.csv, split at commas; returns the column count */
static int last_csv_row(const char *models, double *cols, int max, char *header, size_t hcap) {
    char p[700], line[1024], last[1024] = "";
    snprintf(p, sizeof p, "%s/epochs.csv", models);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    if (fgets(line, sizeof line, f)) snprintf(header, hcap, "%.500s", line);
    while (fgets(line, sizeof line, f)) snprintf(last, sizeof last, "%s", line);
    fclose(f);
    int n = 0;
    char *s = last, *end;
    while (n < max) {
        cols[n] = strtod(s, &end);
        if (end == s) break;
        n++;
        if (*end != ',') break;
        s = end + 1;
    }
    return n;
}

/* LFW accuracy/VAL of an exported model through the inference path */
static int lfw_by_inference(const char *model_path, const char *pairs_path, fn_eval_result *res) {
    char lfw_dir[600];
    snprintf(lfw_dir, sizeof lfw_dir, "%s/data/lfw/deepfunneled", FN_SHARED_DIR);
    fn_model *m = NULL;
    fn_lfw_pairs pairs;
    char **images = NULL;
    int n = 0, *row = NULL, ok = 0;
    if (fn_model_open(model_path, &m) || fn_lfw_read_pairs(pairs_path, lfw_dir, 0, &pairs)) return 0;
    if (!fn_lfw_distinct_images(&pairs, &images, &n, &row)) {
        const int dim = fn_model_dim(m);
        float *emb = malloc(sizeof(float) * n * dim);
        ok = 1;
        for (int i = 0; i < n && ok; i++) {
            fn_image crop;
            ok = !fn_load_aligned_crop(images[i], fn_model_input_size(m), &crop, NULL) && !fn_model_embed(m, &crop, 1, emb + (size_t)i * dim);
            fn_image_free(&crop);
        }
        fn_eval_params p;
        fn_eval_params_default(&p);
        ok = ok && !fn_lfw_evaluate(&pairs, row, emb, dim, &p, res);
        free(emb);
    }
    free(images); free(row);
    fn_lfw_pairs_free(&pairs);
    fn_model_close(m);
    return ok;
}

/* pixels of exactly this colour in rows [y0, y1) of a PNG */
static long count_colour(const char *path, int y0, int y1, uint32_t rgb) {
    fn_image img;
    if (fn_image_load(path, 0, &img)) return -1;
    long n = 0;
    for (int y = y0; y < y1 && y < img.h; y++)
        for (int x = 0; x < img.w; x++) {
            const uint8_t *p = img.rgb + ((size_t)y * img.w + x) * 3;
            n += ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) == rgb;
        }
    fn_image_free(&img);
    return n;
}

static void test_lfw(void) {
    printf("1. LFW after each epoch\n");
    char pairs[700], few[700], models[600], lfw_dir[600];
    snprintf(pairs, sizeof pairs, "%s/pairs20.txt", root);
    snprintf(few, sizeof few, "%s/pairs4.txt", root);
    snprintf(lfw_dir, sizeof lfw_dir, "%s/data/lfw/deepfunneled", FN_SHARED_DIR);
    write_pairs(pairs, 10);
    write_pairs(few, 2);
    fn_train_options o;
    record r;
    small(&o, FN_TRAIN_TRIPLET, "lfw", models, sizeof models);
    o.lfw_dir = lfw_dir;
    o.lfw_pairs = pairs;
    o.max_epochs = 2;
    CHECK(run(&o, &r) == FN_OK);
    CHECK_MSG(r.ne == 3, "%d epoch rows (want 0, 1, 2)", r.ne);
    CHECK(strstr(r.msg, "20 pairs") != NULL);
    for (int i = 0; i < r.ne; i++) {
        const fn_train_epoch_info *e = &r.e[i];
        CHECK(e->epoch == i);
        CHECK(e->lfw_accuracy >= 0 && e->lfw_accuracy <= 1 && e->lfw_accuracy_std >= 0);
        CHECK(e->lfw_val >= 0 && e->lfw_val <= 1 && e->lfw_far >= 0 && e->lfw_far <= 1 && e->lfw_auc >= 0);
        CHECK(e->val_accuracy == -1 && e->validation_accuracy == -1 && e->validation_loss == -1);
    }
    if (r.ne == 3) {
        fn_eval_result res = {0};
        char model[700];
        snprintf(model, sizeof model, "%s/model.safetensors", models);
        CHECK(lfw_by_inference(model, pairs, &res));
        printf("  last epoch %.6f / VAL %.6f; exported model through the inference path %.6f / VAL %.6f\n",
               r.e[2].lfw_accuracy, r.e[2].lfw_val, res.accuracy, res.val);
        CHECK(fabs(res.accuracy - r.e[2].lfw_accuracy) < 1e-6 && fabs(res.accuracy_std - r.e[2].lfw_accuracy_std) < 1e-6);
        CHECK(fabs(res.val - r.e[2].lfw_val) < 1e-6 && fabs(res.far - r.e[2].lfw_far) < 1e-6);
        fn_eval_result_free(&res);
        double cols[32];
        char header[512] = "";
        int nc = last_csv_row(models, cols, 32, header, sizeof header);
        printf("  epochs.csv: %d columns, header %s", nc, header);
        CHECK(nc == 15 && strstr(header, "lfw_accuracy,lfw_accuracy_std,lfw_val,lfw_val_std,lfw_far"));
        if (nc == 15) CHECK(cols[0] == 2 && fabs(cols[6] - r.e[2].lfw_accuracy) < 1e-5 && fabs(cols[8] - r.e[2].lfw_val) < 1e-5);
        char png[700];
        snprintf(png, sizeof png, "%s/training.png", models);
        long acc_px = count_colour(png, 360, 660, 0x1f77b4), val_px = count_colour(png, 360, 660, 0x2ca02c);
        printf("  training.png accuracy panel: %ld LFW-accuracy pixels, %ld VAL pixels\n", acc_px, val_px);
        CHECK(acc_px > 20 && val_px > 20);
    }

    small(&o, FN_TRAIN_TRIPLET, "lfw_few", models, sizeof models);
    o.lfw_dir = lfw_dir;
    o.lfw_pairs = few;
    fn_status s = run(&o, &r);
    CHECK(s == FN_ERR_ARG && strstr(fn_last_error(), "folds"));
    o.lfw_pairs = "/nonexistent/pairs.txt";
    CHECK(run(&o, &r) == FN_ERR_IO);
    o.lfw_pairs = NULL;
    CHECK(run(&o, &r) == FN_ERR_ARG);
}

static void test_split(void) {
    printf("2. softmax validation split\n");
    char models[600];
    fn_train_options o;
    record r;
    small(&o, FN_TRAIN_SOFTMAX, "split", models, sizeof models);
    o.validation_set_split_ratio = 0.2f;
    o.max_epochs = 2;
    CHECK(run(&o, &r) == FN_OK);
    CHECK_MSG(strstr(r.msg, "10 held-out images (40 for training)"), "message: %s", r.msg);
    CHECK(r.ne == 3);
    for (int i = 0; i < r.ne; i++) {
        const fn_train_epoch_info *e = &r.e[i];
        float tenths = e->validation_accuracy * 10;
        CHECK(e->validation_accuracy >= 0 && e->validation_accuracy <= 1 && fabsf(tenths - roundf(tenths)) < 1e-4);
        CHECK(e->validation_loss > 0 && isfinite(e->validation_loss));
        CHECK_MSG(fabsf(e->validation_loss - e->validation_xent) < 1e-6, "no regularisation: loss %g != xent %g",
                  e->validation_loss, e->validation_xent);
        CHECK(e->lfw_accuracy == -1 && e->val_accuracy == -1);
    }
    double cols[32];
    char header[512] = "";
    int nc = last_csv_row(models, cols, 32, header, sizeof header);
    CHECK(nc == 15 && strstr(header, "validation_loss,validation_xent,validation_accuracy"));
    if (nc == 15 && r.ne == 3) CHECK(fabs(cols[12] - r.e[2].validation_loss) < 1e-5 && fabs(cols[14] - r.e[2].validation_accuracy) < 1e-5);
    char png[700];
    snprintf(png, sizeof png, "%s/training.png", models);
    long loss_px = count_colour(png, 0, 360, 0xff7f0e), acc_px = count_colour(png, 360, 660, 0xff7f0e);
    printf("  training.png: %ld validation-loss pixels, %ld validation-accuracy pixels\n", loss_px, acc_px);
    CHECK(loss_px > 20 && acc_px > 20);

    small(&o, FN_TRAIN_SOFTMAX, "split_small", models, sizeof models);
    o.validation_set_split_ratio = 0.01f;
    o.weight_decay = 1e-3f;
    o.center_loss_factor = 0.1f;
    CHECK(run(&o, &r) == FN_OK);
    CHECK_MSG(strstr(r.msg, "5 held-out images (45 for training)"), "message: %s", r.msg);
    if (r.ne >= 1) {
        float fifths = r.e[r.ne - 1].validation_accuracy * 5;
        CHECK(fabsf(fifths - roundf(fifths)) < 1e-4);
        CHECK_MSG(r.e[r.ne - 1].validation_loss > r.e[r.ne - 1].validation_xent, "weight decay + center loss add to the loss");
    } else CHECK(r.ne >= 1);

    o.min_nrof_images_per_class = 10; /* the training part has 9 */
    CHECK(run(&o, &r) == FN_ERR_ARG);
    small(&o, FN_TRAIN_TRIPLET, "split_triplet", models, sizeof models);
    o.validation_set_split_ratio = 0.2f;
    CHECK(run(&o, &r) == FN_ERR_ARG && strstr(fn_last_error(), "softmax"));
}

int main(void) {
    setup();
    double t0 = fn_now();
    test_lfw();
    test_split();
    printf("total %.1f s\n", fn_now() - t0);
    return tu_finish("test_train_eval");
}
