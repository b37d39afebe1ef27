/* cmd_classify.c — `facenet classify train|predict`: facenet's classifier.py (TRAIN: a
 * linear SVM with probabilities on the embeddings of a folder of people) and
 * contributed/predict.py (name every face in photos), plus what a real deployment needs:
 * faces far from everyone enrolled are `unknown`, and a classifier refuses embeddings of a
 * model other than the one it was trained with. */
#define _GNU_SOURCE
#include "cli.h"
#include "core.h"
#include "json.h"
#include <errno.h>
#include <unistd.h>

/* Default open-set threshold: Euclidean distance from a face to its nearest enrolled
 * embedding (L2-normalised, not squared). dlib ResNet: dlib's 0.6 on its raw descriptors
 * (norm ~1.45) is ~0.41 here; measured on the knn_examples photos, enrolled people are
 * <= 0.29 from their nearest example and strangers >= 0.49, so 0.42. facenet
 * (Inception-ResNet-v1, 2018 models): LFW's best verification threshold, ~1.1. */
static float default_unknown_threshold(const fn_model *m) {
    return !strcmp(fn_model_arch(m), "dlib_resnet") ? 0.42f : 1.1f;
}

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet classify train DATA_DIR CLASSIFIER [options]\n"
        "       facenet classify predict CLASSIFIER [options] IMAGE...\n"
        "train: DATA_DIR holds one folder per person (the folder name, with '_' shown as a\n"
        "space, is the name); the largest face of each photo is embedded and a linear SVM with\n"
        "probability estimates (facenet's SVC(kernel='linear', probability=True)) is trained\n"
        "through libsvm. CLASSIFIER is written atomically and keeps the class names, the model\n"
        "id and the enrolled embeddings.\n"
        "  --is-aligned                 DATA_DIR holds aligned face crops (no detection)\n"
        "  --min-images-per-class N     drop classes with fewer usable photos (default 1;\n"
        "                               20 with --use-split-dataset, as classifier.py)\n"
        "  --use-split-dataset          train on --train-images-per-class N photos per class\n"
        "                               (default 10, shuffled with --seed) and report the\n"
        "                               accuracy on the rest\n"
        "  --seed S                     split shuffle and libsvm's probability CV (default 666)\n"
        "  --svm-c C                    the SVM's penalty (default 10; facenet/sklearn use 1,\n"
        "                               which underfits unit-length embeddings of few photos:\n"
        "                               on knn_examples it names Alex Lacamoire 'obama')\n"
        "predict: every face of each photo gets the SVM's name (its one-vs-one decision, sklearn's\n"
        "predict()) and that name's probability (Platt, facenet's predict_proba);\n"
        "a face whose nearest enrolled embedding is farther than D is `unknown`.\n"
        "  --unknown-threshold D        Euclidean distance (default: 0.42 for the dlib ResNet,\n"
        "                               1.1 for facenet's models; 0 disables)\n"
        "  --draw OUT.png               the photo with boxes and names (several photos:\n"
        "                               OUT_0.png, OUT_1.png, ...)\n"
        "both:\n"
        "  --model M, --mtcnn P         models (defaults as in `facenet compare --help`); predict\n"
        "                               refuses a model other than the classifier's\n"
        "  --json                       machine-readable output on stdout\n"
        "Exit status: 0 on success; 1 on bad options, unreadable files, a model mismatch, or\n"
        "(predict) when any photo could not be read.\n");
}

static const char *base_name(const char *p) { const char *s = strrchr(p, '/'); return s ? s + 1 : p; }

/* ------------------------------------------------------------------ train */

typedef struct { float *emb; int *label; const char **path; int n, cap; } emb_set;

static int emb_set_push(emb_set *e, int dim, const float *v, int label, const char *path) {
    if (e->n == e->cap) {
        int nc = e->cap ? e->cap * 2 : 64;
        float *a = realloc(e->emb, sizeof(float) * (size_t)nc * dim);
        if (a) e->emb = a;
        int *b = realloc(e->label, sizeof(int) * nc);
        if (b) e->label = b;
        const char **c = realloc(e->path, sizeof(char *) * nc);
        if (c) e->path = c;
        if (!a || !b || !c) return 0;
        e->cap = nc;
    }
    memcpy(e->emb + (size_t)e->n * dim, v, sizeof(float) * dim);
    e->label[e->n] = label;
    e->path[e->n++] = path;
    return 1;
}

static void emb_set_free(emb_set *e) { free(e->emb); free(e->label); free(e->path); }

static int classify_train(int argc, char **argv) {
    const char *cmd = "classify train";
    const char *model_arg = NULL, *mtcnn_arg = NULL, *pos[2] = { NULL, NULL };
    int aligned = 0, split = 0, min_images = -1, train_per_class = 10, seed = 666, json = 0, err = 0, n_pos = 0, rc = 1;
    float svm_c = (float)FN_CLASSIFIER_DEFAULT_C;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); return 0; }
        else if (cli_flag(argv, i, "--is-aligned")) aligned = 1;
        else if (cli_flag(argv, i, "--use-split-dataset")) split = 1;
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_opt_int(argc, argv, &i, "--min-images-per-class", &min_images, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--train-images-per-class", &train_per_class, &err)) {}
        else if (cli_opt_int(argc, argv, &i, "--seed", &seed, &err)) {}
        else if (cli_opt_float(argc, argv, &i, "--svm-c", &svm_c, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &model_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn_arg, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) return cli_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        else if (n_pos < 2) pos[n_pos++] = argv[i];
        else return cli_error(cmd, "unexpected argument '%s'", argv[i]);
        if (err) return 1;
    }
    if (n_pos != 2) { usage(stderr); return cli_error(cmd, "DATA_DIR and CLASSIFIER are required"); }
    if (min_images < 0) min_images = split ? 20 : 1;
    { /* fail before minutes of embedding when the classifier cannot be written */
        char *dir = strdup(pos[1]);
        if (!dir) return cli_error(cmd, "out of memory");
        char *slash = strrchr(dir, '/');
        if (slash) { if (slash == dir) slash[1] = 0; else *slash = 0; }
        int ok = access(slash ? dir : ".", W_OK) == 0;
        if (!ok) { int e = errno; cli_error(cmd, "cannot write %s: %s", pos[1], strerror(e)); }
        free(dir);
        if (!ok) return 1;
    }
    if (train_per_class < 1) return cli_error(cmd, "--train-images-per-class must be >= 1");
    if (!(svm_c > 0)) return cli_error(cmd, "--svm-c must be > 0");

    fn_dataset ds = { NULL, 0 };
    fn_model *m = NULL;
    fn_detector *det = NULL;
    fn_classifier *c = NULL;
    emb_set train = { 0 }, test = { 0 };
    char **names = NULL;
    int *class_map = NULL;
    float *v = NULL;
    fn_status s = fn_dataset_load(pos[0], &ds);
    if (s) return cli_status_error(cmd, s);
    if (ds.n_classes == 0) { cli_error(cmd, "%s has no class folders (one folder of photos per person expected)", pos[0]); goto done; }
    if (cli_open_model(cmd, model_arg, &m) || (!aligned && cli_open_detector(cmd, mtcnn_arg, &det))) goto done;
    const int dim = fn_model_dim(m);
    names = calloc((size_t)ds.n_classes, sizeof *names);
    class_map = malloc(sizeof(int) * ds.n_classes);
    v = malloc(sizeof(float) * dim);
    if (!names || !class_map || !v) { cli_error(cmd, "out of memory"); goto done; }

    long total = 0;
    for (int k = 0; k < ds.n_classes; k++) total += ds.classes[k].n_paths;
    fn_progress prog;
    fn_progress_begin(&prog, "embedding", total);
    fn_rng rng = { (uint64_t)seed };
    int n_classes = 0, skipped = 0;
    for (int k = 0; k < ds.n_classes; k++) {
        fn_dataset_class *dc = &ds.classes[k];
        class_map[k] = -1;
        if (dc->n_paths < min_images) {
            fprintf(stderr, "facenet %s: class '%s' has %d photo(s) (< %d), left out\n", cmd, dc->name, dc->n_paths, min_images);
            fn_progress_step(&prog, dc->n_paths);
            continue;
        }
        if (split) /* classifier.py's split_dataset: shuffle, first N train, rest test */
            for (int i = dc->n_paths - 1; i > 0; i--) {
                int j = (int)(fn_rng_next(&rng) % (uint64_t)(i + 1));
                char *t = dc->paths[i]; dc->paths[i] = dc->paths[j]; dc->paths[j] = t;
            }
        int label = n_classes, got = 0, test_before = test.n;
        for (int i = 0; i < dc->n_paths; i++, fn_progress_step(&prog, 1)) {
            int found = 0;
            s = fn_embed_face_file(det, m, dc->paths[i], aligned, v, NULL, &found);
            if (s) { fprintf(stderr, "facenet %s: warning: skipped %s\n", cmd, fn_last_error()); skipped++; continue; }
            if (!found) { fprintf(stderr, "facenet %s: no face in %s, skipped\n", cmd, dc->paths[i]); skipped++; continue; }
            int to_test = split && i >= train_per_class;
            if (!emb_set_push(to_test ? &test : &train, dim, v, label, dc->paths[i])) { fn_progress_end(&prog); cli_error(cmd, "out of memory"); goto done; }
            got += !to_test;
        }
        if (got == 0) { /* its held-out rows go too: labels stay dense */
            fprintf(stderr, "facenet %s: class '%s' has no usable photo, left out\n", cmd, dc->name);
            test.n = test_before;
            continue;
        }
        char *name = strdup(dc->name);
        if (!name) { fn_progress_end(&prog); cli_error(cmd, "out of memory"); goto done; }
        for (char *q = name; *q; q++) if (*q == '_') *q = ' '; /* classifier.py: cls.name.replace('_', ' ') */
        names[n_classes] = name;
        class_map[k] = n_classes++;
    }
    fn_progress_end(&prog);
    if (n_classes < 2) { cli_error(cmd, "need at least 2 people with a usable photo to train (found %d in %s)", n_classes, pos[0]); goto done; }

    {
        int *count = calloc((size_t)n_classes, sizeof *count), few = 0;
        if (!count) { cli_error(cmd, "out of memory"); goto done; }
        for (int i = 0; i < train.n; i++) count[train.label[i]]++;
        for (int k = 0; k < n_classes; k++) few += count[k] < 5;
        free(count);
        if (few && !json)
            fprintf(stderr, "facenet %s: note: %d of %d people have fewer than 5 photos: the names stay reliable, but the\n"
                            "  probabilities (libsvm calibrates them by 5-fold cross-validation) are not\n", cmd, few, n_classes);
    }
    s = fn_classifier_train(train.emb, train.label, train.n, dim, (const char *const *)names, n_classes,
                            fn_model_id(m), svm_c, (uint64_t)seed, &c);
    if (s) { cli_status_error(cmd, s); goto done; }
    if ((s = fn_classifier_save(c, pos[1]))) { cli_status_error(cmd, s); goto done; }

    int correct = 0;
    fn_prediction *pred = test.n ? malloc(sizeof *pred * test.n) : NULL;
    if (test.n && (!pred || fn_classifier_predict(c, test.emb, test.n, 0, pred, NULL))) { free(pred); cli_error(cmd, "evaluating the held-out photos failed"); goto done; }
    for (int i = 0; i < test.n; i++) correct += pred[i].label == test.label[i];
    if (json) {
        printf("{\"classifier\":");
        fn_json_write_string(stdout, pos[1]);
        printf(",\"model_id\":\"%s\",\"dim\":%d,\"classes\":[", fn_model_id(m), dim);
        for (int k = 0; k < n_classes; k++) { printf(k ? "," : ""); fn_json_write_string(stdout, names[k]); }
        printf("],\"train_images\":%d,\"skipped\":%d", train.n, skipped);
        if (split) printf(",\"test_images\":%d,\"test_accuracy\":%.6f", test.n, test.n ? (double)correct / test.n : 0.0);
        printf("}\n");
    } else {
        printf("Number of classes: %d\nNumber of images: %d\n", n_classes, train.n);
        for (int i = 0; i < test.n; i++)
            printf("%4d  %s: %.3f  (%s)\n", i, names[pred[i].label], (double)pred[i].prob, base_name(test.path[i]));
        if (split) printf("Accuracy: %.3f (%d held-out images)\n", test.n ? (double)correct / test.n : 0.0, test.n);
        printf("Saved classifier model to file \"%s\"\n", pos[1]);
    }
    free(pred);
    rc = 0;
done:
    if (names) for (int k = 0; k < ds.n_classes; k++) free(names[k]);
    free(names); free(class_map); free(v);
    emb_set_free(&train); emb_set_free(&test);
    fn_classifier_free(c);
    fn_detector_close(det);
    fn_model_close(m);
    fn_dataset_free(&ds);
    return rc;
}

/* ------------------------------------------------------------------ predict */

static void draw_faces(fn_image *img, const fn_face *faces, const fn_prediction *pred, int n, const fn_classifier *c) {
    for (int i = 0; i < n; i++) {
        char text[160];
        if (pred[i].label < 0) snprintf(text, sizeof text, "unknown");
        else snprintf(text, sizeof text, "%s %.2f", fn_classifier_class_name(c, pred[i].label), (double)pred[i].prob);
        cli_draw_named_box(img, faces[i].box, text, pred[i].label < 0 ? 0xE02020 : 0x20C020);
    }
}

static int classify_predict(int argc, char **argv) {
    const char *cmd = "classify predict";
    const char *model_arg = NULL, *mtcnn_arg = NULL, *draw = NULL, *cls_path = NULL;
    float unknown = -1;
    int json = 0, err = 0, n_paths = 0, rc = 1, failed = 0;
    char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths) return cli_error(cmd, "out of memory");
    fn_model *m = NULL;
    fn_detector *det = NULL;
    fn_classifier *c = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) { usage(stdout); free(paths); return 0; }
        else if (cli_flag(argv, i, "--json")) json = 1;
        else if (cli_opt_float(argc, argv, &i, "--unknown-threshold", &unknown, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--draw", &draw, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--model", &model_arg, &err)) {}
        else if (cli_opt_str(argc, argv, &i, "--mtcnn", &mtcnn_arg, &err)) {}
        else if (argv[i][0] == '-' && argv[i][1]) { cli_error(cmd, "unknown option '%s' (see --help)", argv[i]); goto done; }
        else if (!cls_path) cls_path = argv[i];
        else paths[n_paths++] = argv[i];
        if (err) goto done;
    }
    if (!cls_path || n_paths == 0) { usage(stderr); cli_error(cmd, "CLASSIFIER and at least one IMAGE are required"); goto done; }
    if (unknown != -1 && unknown < 0) { cli_error(cmd, "--unknown-threshold must be >= 0"); goto done; }
    fn_status s = fn_classifier_load(cls_path, &c);
    if (s) { cli_status_error(cmd, s); goto done; }
    if (cli_open_model(cmd, model_arg, &m)) goto done;
    if ((s = fn_classifier_check_model(c, m))) { cli_status_error(cmd, s); goto done; }
    if (cli_open_detector(cmd, mtcnn_arg, &det)) goto done;
    if (unknown == -1) unknown = default_unknown_threshold(m);

    if (json) {
        printf("{\"classifier\":");
        fn_json_write_string(stdout, cls_path);
        printf(",\"unknown_threshold\":%g,\"images\":[", (double)unknown);
    }
    for (int p = 0; p < n_paths; p++) {
        fn_image img = { 0, 0, NULL };
        fn_face *faces = NULL;
        float *emb = NULL;
        int nf = 0;
        fn_prediction *pred = NULL;
        s = fn_image_load(paths[p], 1, &img);
        if (s == FN_OK) s = fn_embed_image_faces(det, m, &img, NULL, FN_FACES_ALL, 0, &faces, &emb, &nf);
        if (s == FN_OK && nf > 0 && !(pred = malloc(sizeof *pred * nf))) s = fn_fail(FN_ERR_NOMEM, "out of memory");
        if (s == FN_OK && nf > 0) s = fn_classifier_predict(c, emb, nf, unknown, pred, NULL);
        if (s) {
            const char *e = fn_last_error();
            failed++;
            fprintf(stderr, "facenet %s: error: %s%s%s\n", cmd, strstr(e, paths[p]) ? "" : paths[p], strstr(e, paths[p]) ? "" : ": ", e);
            if (json) {
                printf("%s{\"path\":", p ? "," : "");
                fn_json_write_string(stdout, paths[p]);
                printf(",\"error\":");
                fn_json_write_string(stdout, e);
                printf("}");
            }
        } else {
            if (json) {
                printf("%s{\"path\":", p ? "," : "");
                fn_json_write_string(stdout, paths[p]);
                printf(",\"faces\":[");
            } else if (nf == 0) {
                printf("%s: no face\n", paths[p]);
            }
            for (int i = 0; i < nf; i++) {
                const float *b = faces[i].box;
                const char *name = fn_classifier_class_name(c, pred[i].label);
                if (json) {
                    printf("%s{\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.5f,\"name\":", i ? "," : "", (double)b[0], (double)b[1],
                           (double)b[2], (double)b[3], (double)faces[i].score);
                    fn_json_write_string(stdout, name);
                    printf(",\"known\":%s,\"probability\":%.5f,\"best_guess\":", pred[i].label >= 0 ? "true" : "false", (double)pred[i].prob);
                    fn_json_write_string(stdout, fn_classifier_class_name(c, pred[i].svm_label));
                    printf(",\"most_probable\":");
                    fn_json_write_string(stdout, fn_classifier_class_name(c, pred[i].proba_label));
                    printf(",\"nearest_distance\":%.5f,\"nearest\":", (double)pred[i].nearest);
                    fn_json_write_string(stdout, fn_classifier_class_name(c, pred[i].nearest_class));
                    printf("}");
                } else if (pred[i].label >= 0) {
                    printf("%s: face %d [%.0f,%.0f,%.0f,%.0f]: %s %.3f (nearest enrolled %.3f)\n", paths[p], i, (double)b[0], (double)b[1],
                           (double)b[2], (double)b[3], name, (double)pred[i].prob, (double)pred[i].nearest);
                } else {
                    printf("%s: face %d [%.0f,%.0f,%.0f,%.0f]: unknown (nearest enrolled %.3f > %.3f; best guess %s %.3f)\n", paths[p], i,
                           (double)b[0], (double)b[1], (double)b[2], (double)b[3], (double)pred[i].nearest, (double)unknown,
                           fn_classifier_class_name(c, pred[i].svm_label), (double)pred[i].prob);
                }
            }
            if (json) printf("]}");
            if (draw) {
                draw_faces(&img, faces, pred, nf, c);
                char *out = cli_draw_path(draw, p, n_paths);
                s = out ? fn_image_save_png(out, &img) : fn_fail(FN_ERR_NOMEM, "out of memory");
                if (s) { failed++; fprintf(stderr, "facenet %s: error: %s\n", cmd, fn_last_error()); }
                free(out);
            }
        }
        free(pred); free(emb); free(faces);
        fn_image_free(&img);
    }
    if (json) printf("]}\n");
    rc = failed ? 1 : 0;
done:
    fn_classifier_free(c);
    fn_detector_close(det);
    fn_model_close(m);
    free(paths);
    return rc;
}

int cmd_classify(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return classify_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "predict")) return classify_predict(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) { usage(stdout); return 0; }
    usage(stderr);
    return cli_error("classify", argc >= 2 ? "unknown mode '%s' (train or predict)" : "train or predict expected", argc >= 2 ? argv[1] : "");
}
