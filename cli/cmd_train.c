/* cmd_train.c — `facenet train triplet|softmax`: train_tripletloss.py / train_softmax.py. */
#include "cli.h"
#include "train/train.h"
#include "dist/dist.h"
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: facenet train triplet|softmax --data-dir DIR --models-dir DIR [options]\n"
        "\n"
        "Trains Inception-ResNet-v1 with triplet loss (semi-hard triplet selection, facenet's\n"
        "train_tripletloss.py) or softmax over identities + optional center loss\n"
        "(train_softmax.py). DIR holds one sub-folder of images per person. Writes\n"
        "MODELS/checkpoint.safetensors (every epoch), MODELS/model.safetensors (averaged\n"
        "weights, facenet-pytorch names: usable by every command), train_log.csv,\n"
        "epochs.csv (loss and every evaluation per epoch) and training.png (their curves).\n"
        "\n"
        "data and evaluation:\n"
        "  --val-dir DIR                 held-out people: 10-fold pair verification after each epoch\n"
        "  --val-use-flipped-images      held-out embedding of each image and its mirror image (summed)\n"
        "  --lfw-dir DIR                 LFW check after each epoch with facenet's protocol (as\n"
        "                                `facenet validate --is-aligned`): DIR holds aligned crops\n"
        "                                NAME/NAME_0001.png|jpg, resized to --image-size\n"
        "  --lfw-pairs FILE              its pairs file (default: DIR/pairs.txt, else DIR/../pairs.txt)\n"
        "  --lfw-nrof-folds N            cross-validation folds: 10\n"
        "  --image-size N                160\n"
        "  --image-fit crop|stretch      non-square images: centre crop (facenet, default) or\n"
        "                                stretch the whole frame to the square input\n"
        "  --random-crop                 crop image-size from a 182/160 larger resize at random\n"
        "  --random-flip                 mirror at random\n"
        "  --random-rotate               rotate uniform +-10 degrees at random (facenet)\n"
        "  --rotate-degrees F            rotation range for --random-rotate: 10\n"
        "  --random-zoom F               zoom uniform 1 +- F at random: 0 (off)\n"
        "  --random-brightness F         brightness shift uniform +- F of full scale: 0 (off)\n"
        "  --random-contrast F           contrast gain uniform 1 +- F: 0 (off)\n"
        "  --standardize fixed|prewhiten fixed (x - 127.5) / 128 (default) or per-image\n"
        "network:\n"
        "  --embedding-size N            128\n"
        "  --depth A,B,C                 blocks of block35, block17, block8: 5,10,5\n"
        "  --width-multiplier F          channel width factor: 1.0\n"
        "  --keep-probability F          dropout before the bottleneck: 1.0\n"
        "  --bn-decay F                  batch-norm moving-average decay: 0.995 (short runs: 0.9)\n"
        "  --pretrained-model M          start from M (.safetensors; its depth/width/dim are used)\n"
        "triplet loss:\n"
        "  --people-per-batch N          45\n"
        "  --images-per-person N         40\n"
        "  --alpha F                     margin: 0.2\n"
        "softmax:\n"
        "  --center-loss-factor F        0 (off)\n"
        "  --center-loss-alfa F          0.95\n"
        "  --validation-set-split-ratio F  hold out this share of each person's images; their\n"
        "                                loss and accuracy are scored after each epoch: 0 (off)\n"
        "  --min-nrof-images-per-class N people with fewer training images are left out: 0\n"
        "optimisation:\n"
        "  --batch-size N                90\n"
        "  --epoch-size N                steps per epoch: 1000\n"
        "  --max-epochs N                500 (triplet), 200 (softmax)\n"
        "  --max-steps N                 stop after N steps in total (0: no limit)\n"
        "  --optimizer NAME              ADAGRAD (default), ADADELTA, ADAM, RMSPROP, MOM\n"
        "  --learning-rate F             0.1; <= 0 uses --learning-rate-schedule\n"
        "  --learning-rate-schedule FILE lines 'epoch: lr' (lr '-' or -1 stops)\n"
        "  --learning-rate-decay-epochs N  100\n"
        "  --learning-rate-decay-factor F  1.0\n"
        "  --weight-decay F              0\n"
        "  --moving-average-decay F      0.9999\n"
        "  --seed N                      666\n"
        "  --resume                      continue from MODELS/checkpoint.safetensors (any number of ranks)\n"
        "several processes (MPI): mpirun -np N facenet train ... (or srun, a hostfile)\n"
        "                                every rank trains on its share of each global --batch-size;\n"
        "                                gradients are all-reduced; rank 0 writes the files\n"
        "  --sync-bn                     batch norm over the global batch (default: each rank's rows)\n"
        "  --quiet                       only epoch lines;  --json  epoch lines as JSON\n");
}

typedef struct { int quiet, json, tty; } printer;

static void on_step(void *ud, const fn_train_step_info *s) {
    printer *p = ud;
    if (p->quiet || p->json || p->tty) return; /* on a terminal the progress bar shows steps */
    if (s->triplets || s->triplets_possible)
        printf("Epoch: [%d][%d]\tstep %lld\tTime %.1f\tLoss %.4f\ttriplets %d/%d\tlr %g\n", s->epoch, s->step_in_epoch,
               (long long)s->global_step, s->seconds, s->loss, s->triplets, s->triplets_possible, s->lr);
    else
        printf("Epoch: [%d][%d]\tstep %lld\tTime %.1f\tLoss %.4f\tAccuracy %.3f\tlr %g\n", s->epoch, s->step_in_epoch,
               (long long)s->global_step, s->seconds, s->loss, s->accuracy, s->lr);
}

static void on_epoch(void *ud, const fn_train_epoch_info *e) {
    printer *p = ud;
    if (p->json) {
        /* -1: not evaluated; null: evaluated but undefined (e.g. no FAR on a fold) */
        const struct { const char *key; double v; } f[] = {
            {"mean_loss", e->mean_loss == e->mean_loss ? e->mean_loss : -1}, {"val_accuracy", e->val_accuracy},
            {"val_threshold", e->val_threshold}, {"lfw_accuracy", e->lfw_accuracy}, {"lfw_accuracy_std", e->lfw_accuracy_std},
            {"lfw_val", e->lfw_val}, {"lfw_val_std", e->lfw_val_std}, {"lfw_far", e->lfw_far}, {"lfw_auc", e->lfw_auc},
            {"validation_loss", e->validation_loss}, {"validation_xent", e->validation_xent},
            {"validation_accuracy", e->validation_accuracy}, {"seconds", e->seconds}};
        printf("{\"epoch\":%d,\"global_step\":%lld", e->epoch, (long long)e->global_step);
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            if (isfinite(f[k].v)) printf(",\"%s\":%.6g", f[k].key, f[k].v);
            else printf(",\"%s\":null", f[k].key);
        }
        printf("}\n");
        fflush(stdout);
        return;
    }
    if (e->epoch == 0) printf("before training:");
    else printf("epoch %d: step %lld, mean loss %.4f", e->epoch, (long long)e->global_step, e->mean_loss);
    const char *sep = e->epoch == 0 ? " " : ", ";
    if (e->val_accuracy >= 0) { printf("%sheld-out accuracy %.4f (threshold %.2f)", sep, e->val_accuracy, e->val_threshold); sep = ", "; }
    if (e->lfw_accuracy >= 0) {
        /* facenet's lines: Accuracy: mean+-std, Validation rate: mean+-std @ FAR */
        printf("%sLFW accuracy %.5f+-%.5f, VAL %.5f+-%.5f @ FAR=%.5f", sep, e->lfw_accuracy, e->lfw_accuracy_std,
               e->lfw_val, e->lfw_val_std, e->lfw_far);
        sep = ", ";
    }
    if (e->validation_accuracy >= 0) {
        printf("%svalidation loss %.4f (xent %.4f), accuracy %.4f", sep, e->validation_loss, e->validation_xent,
               e->validation_accuracy);
        sep = ", ";
    }
    if (e->epoch > 0) printf(", %.1f s", e->seconds);
    printf("\n");
    fflush(stdout);
}

static void on_message(void *ud, const char *msg) {
    printer *p = ud;
    if (!p->json) fprintf(stderr, "facenet train: %s\n", msg);
}

static int train_main(int argc, char **argv);

int cmd_train(int argc, char **argv) {
    if (cli_dist_begin("train")) return 1;
    return cli_dist_end(train_main(argc, argv));
}

static int train_main(int argc, char **argv) {
    const char *cmd = "train";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { usage(argc < 2 ? stderr : stdout); return argc < 2 ? 2 : 0; }
    fn_train_mode mode;
    if (!strcmp(argv[1], "triplet")) mode = FN_TRAIN_TRIPLET;
    else if (!strcmp(argv[1], "softmax")) mode = FN_TRAIN_SOFTMAX;
    else return cli_error(cmd, "unknown mode '%s' (triplet or softmax)", argv[1]);
    fn_train_options o;
    fn_train_options_default(&o, mode);
    printer pr = {0, 0, isatty(2) && fn_dist_rank() == 0};
    const char *opt = NULL, *depth = NULL, *stdz = NULL, *fit = NULL, *lfw_dir = NULL, *lfw_pairs = NULL;
    int seed = (int)o.seed, err = 0, random_rotate = 0;
    float rotate_deg = 10;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (cli_opt_str(argc, argv, &i, "--data-dir", &o.data_dir, &err) ||
            cli_opt_str(argc, argv, &i, "--models-dir", &o.models_dir, &err) ||
            cli_opt_str(argc, argv, &i, "--val-dir", &o.val_dir, &err) ||
            cli_opt_str(argc, argv, &i, "--lfw-dir", &lfw_dir, &err) ||
            cli_opt_str(argc, argv, &i, "--lfw-pairs", &lfw_pairs, &err) ||
            cli_opt_str(argc, argv, &i, "--pretrained-model", &o.pretrained_model, &err) ||
            cli_opt_str(argc, argv, &i, "--optimizer", &opt, &err) ||
            cli_opt_str(argc, argv, &i, "--learning-rate-schedule", &o.learning_rate_schedule, &err) ||
            cli_opt_str(argc, argv, &i, "--learning-rate-schedule-file", &o.learning_rate_schedule, &err) ||
            cli_opt_str(argc, argv, &i, "--depth", &depth, &err) ||
            cli_opt_str(argc, argv, &i, "--standardize", &stdz, &err) ||
            cli_opt_str(argc, argv, &i, "--image-fit", &fit, &err) ||
            cli_opt_int(argc, argv, &i, "--people-per-batch", &o.people_per_batch, &err) ||
            cli_opt_int(argc, argv, &i, "--images-per-person", &o.images_per_person, &err) ||
            cli_opt_int(argc, argv, &i, "--batch-size", &o.batch_size, &err) ||
            cli_opt_int(argc, argv, &i, "--embedding-size", &o.net.dim, &err) ||
            cli_opt_int(argc, argv, &i, "--image-size", &o.net.image_size, &err) ||
            cli_opt_int(argc, argv, &i, "--epoch-size", &o.epoch_size, &err) ||
            cli_opt_int(argc, argv, &i, "--max-epochs", &o.max_epochs, &err) ||
            cli_opt_int(argc, argv, &i, "--max-nrof-epochs", &o.max_epochs, &err) ||
            cli_opt_int(argc, argv, &i, "--max-steps", &o.max_steps, &err) ||
            cli_opt_int(argc, argv, &i, "--learning-rate-decay-epochs", &o.learning_rate_decay_epochs, &err) ||
            cli_opt_int(argc, argv, &i, "--min-nrof-images-per-class", &o.min_nrof_images_per_class, &err) ||
            cli_opt_int(argc, argv, &i, "--lfw-nrof-folds", &o.lfw_nrof_folds, &err) ||
            cli_opt_int(argc, argv, &i, "--seed", &seed, &err) ||
            cli_opt_float(argc, argv, &i, "--alpha", &o.alpha, &err) ||
            cli_opt_float(argc, argv, &i, "--learning-rate", &o.learning_rate, &err) ||
            cli_opt_float(argc, argv, &i, "--learning-rate-decay-factor", &o.learning_rate_decay_factor, &err) ||
            cli_opt_float(argc, argv, &i, "--weight-decay", &o.weight_decay, &err) ||
            cli_opt_float(argc, argv, &i, "--keep-probability", &o.net.keep_prob, &err) ||
            cli_opt_float(argc, argv, &i, "--moving-average-decay", &o.moving_average_decay, &err) ||
            cli_opt_float(argc, argv, &i, "--width-multiplier", &o.net.width, &err) ||
            cli_opt_float(argc, argv, &i, "--bn-decay", &o.net.bn_decay, &err) ||
            cli_opt_float(argc, argv, &i, "--center-loss-factor", &o.center_loss_factor, &err) ||
            cli_opt_float(argc, argv, &i, "--center-loss-alfa", &o.center_loss_alfa, &err) ||
            cli_opt_float(argc, argv, &i, "--validation-set-split-ratio", &o.validation_set_split_ratio, &err) ||
            cli_opt_float(argc, argv, &i, "--rotate-degrees", &rotate_deg, &err) ||
            cli_opt_float(argc, argv, &i, "--random-zoom", &o.augment.scale, &err) ||
            cli_opt_float(argc, argv, &i, "--random-brightness", &o.augment.brightness, &err) ||
            cli_opt_float(argc, argv, &i, "--random-contrast", &o.augment.contrast, &err)) {
            if (err) return 2;
            continue;
        }
        if (cli_flag(argv, i, "--random-crop")) o.augment.random_crop = 1;
        else if (cli_flag(argv, i, "--random-flip")) o.augment.random_flip = 1;
        else if (cli_flag(argv, i, "--random-rotate")) random_rotate = 1;
        else if (cli_flag(argv, i, "--val-use-flipped-images")) o.val_use_flipped_images = 1;
        else if (cli_flag(argv, i, "--resume")) o.resume = 1;
        else if (cli_flag(argv, i, "--sync-bn")) {
            if (!fn_dist_available())
                return cli_error(cmd, "--sync-bn is for MPI training, and this facenet was built without MPI: install "
                                 "Open MPI (Debian: apt-get install libopenmpi-dev openmpi-bin), rebuild, and run "
                                 "mpirun -np N facenet train ...");
            o.sync_bn = 1;
        }
        else if (cli_flag(argv, i, "--quiet")) pr.quiet = 1;
        else if (cli_flag(argv, i, "--json")) pr.json = 1;
        else return cli_error(cmd, "unknown option '%s' (see facenet train --help)", argv[i]);
    }
    if (!o.data_dir || !o.models_dir) return cli_error(cmd, "--data-dir and --models-dir are required");
    o.seed = (uint64_t)(unsigned)seed;
    if (!(rotate_deg >= 0 && rotate_deg <= 180) || !(o.augment.scale >= 0 && o.augment.scale < 1) ||
        !(o.augment.brightness >= 0 && o.augment.brightness <= 1) || !(o.augment.contrast >= 0 && o.augment.contrast < 1))
        return cli_error(cmd, "augmentation ranges: --rotate-degrees 0..180, --random-zoom/--random-contrast 0..<1, --random-brightness 0..1");
    if (random_rotate) o.augment.rotate_deg = rotate_deg;
    if (opt) {
        int k = fn_optimizer_parse(opt);
        if (k < 0) return cli_error(cmd, "unknown optimizer '%s' (ADAGRAD, ADADELTA, ADAM, RMSPROP, MOM)", opt);
        o.optimizer = (fn_optimizer_kind)k;
    }
    if (depth && sscanf(depth, "%d,%d,%d", &o.net.depth[0], &o.net.depth[1], &o.net.depth[2]) != 3)
        return cli_error(cmd, "--depth wants three numbers A,B,C (e.g. 5,10,5), got '%s'", depth);
    if (fit) {
        if (!strcmp(fit, "crop")) o.image_fit = FN_FIT_CROP;
        else if (!strcmp(fit, "stretch")) o.image_fit = FN_FIT_STRETCH;
        else return cli_error(cmd, "--image-fit crop or stretch, got '%s'", fit);
    }
    if (stdz && cli_parse_standardize(cmd, stdz, &o.standardize)) return 1;
    char *default_pairs = NULL;
    if (lfw_pairs && !lfw_dir) return cli_error(cmd, "--lfw-pairs needs --lfw-dir (the folder of aligned LFW crops)");
    if (lfw_dir && !lfw_pairs && !(lfw_pairs = default_pairs = cli_default_lfw_pairs(lfw_dir)))
        return cli_error(cmd, "no pairs.txt in %s or its parent folder (use --lfw-pairs)", lfw_dir);
    o.lfw_dir = lfw_dir;
    o.lfw_pairs = lfw_pairs;
    fn_train_callbacks cb = {on_step, on_epoch, on_message, &pr};
    fn_status s = fn_train(&o, &cb);
    free(default_pairs);
    if (s) {
        if (fn_dist_size() > 1) fprintf(stderr, "facenet train: rank %d of %d failed; ending the job\n", fn_dist_rank(), fn_dist_size());
        return cli_status_error(cmd, s);
    }
    if (!pr.json && fn_dist_rank() == 0) printf("model: %s/model.safetensors\n", o.models_dir);
    return 0;
}
