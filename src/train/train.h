/* train.h — facenet's training scripts as a library: train_tripletloss.py (triplet loss
 * with semi-hard triplet selection) and train_softmax.py (softmax over identities plus
 * optional center loss). The caller (cli/cmd_train.c) gets progress through a callback;
 * the library never prints. Everything random derives from (seed, step counters), so a
 * resumed run repeats an uninterrupted one exactly. */
#ifndef FN_TRAIN_H
#define FN_TRAIN_H
#include "trainnet.h"
#include "optimizer.h"

typedef enum { FN_TRAIN_TRIPLET = 0, FN_TRAIN_SOFTMAX = 1 } fn_train_mode;

/* How a non-square image becomes the square network input: facenet's centre crop of the
 * shorter side (aligned 182 px faces are square already), or a stretch that keeps the whole
 * frame (ORL's 92x112 faces lose chin and hair to a square crop: raw-pixel verification
 * falls from 0.87 to 0.82). */
typedef enum { FN_FIT_CROP = 0, FN_FIT_STRETCH = 1 } fn_image_fit;

/* Training-time augmentation. facenet's flags: random_crop (crop `size` from the image
 * scaled to size*182/160), random_flip, random_rotate (uniform +-10 degrees there; the
 * angle is a parameter here). The zoom and the photometric jitter go beyond facenet:
 * on small datasets (ORL's 300 images) they are what keeps the network from memorising. */
typedef struct {
    int random_crop, random_flip;
    float rotate_deg;        /* uniform(-deg, deg) */
    float scale;             /* zoom uniform(1 - scale, 1 + scale) */
    float brightness;        /* shift uniform(-b, b) * 255 */
    float contrast;          /* gain about the mean uniform(1 - c, 1 + c) */
} fn_augment;

typedef struct {
    fn_train_mode mode;
    const char *data_dir;          /* class sub-folders of images (facenet get_dataset, fn_dataset_load) */
    const char *models_dir;        /* checkpoint, exported model, logs, plot */
    const char *val_dir;           /* optional: held-out people, verification after each epoch */
    int val_use_flipped_images;    /* held-out embedding = normalised sum of the image's and its
                                      mirror's (validate --use-flipped-images uses both views too) */
    /* optional: facenet's LFW check after each epoch (--lfw_dir, --lfw_pairs, --lfw_nrof_folds):
     * aligned crops in LFW_DIR/NAME/NAME_0001.png|jpg (as `validate --is-aligned` reads
     * them), resized to the image size, embedded with the averaged weights */
    const char *lfw_dir, *lfw_pairs;
    int lfw_nrof_folds;            /* 10 */
    const char *pretrained_model;  /* optional .safetensors to start from */
    int resume;                    /* continue from models_dir/checkpoint.safetensors */
    fn_trainnet_config net;
    /* triplet loss */
    int people_per_batch, images_per_person; /* 45, 40 */
    float alpha;                             /* 0.2 */
    /* softmax / center loss */
    float center_loss_factor, center_loss_alfa; /* 0, 0.95 */
    /* facenet split_dataset(SPLIT_IMAGES): this share of each class's images is held out
     * and scored after each epoch (loss, accuracy); classes whose training part has fewer
     * than min_nrof_images_per_class images are left out */
    float validation_set_split_ratio;           /* 0 */
    int min_nrof_images_per_class;              /* 0 */
    /* common */
    int batch_size;            /* 90 */
    int epoch_size;            /* 1000 steps */
    int max_epochs;            /* 200 (triplet: 500) */
    fn_optimizer_kind optimizer;
    float learning_rate;       /* 0.1; <= 0 with a schedule file */
    const char *learning_rate_schedule;
    int learning_rate_decay_epochs;   /* 100 */
    float learning_rate_decay_factor; /* 1.0 */
    float weight_decay;        /* 0 */
    float moving_average_decay;/* 0.9999 */
    fn_augment augment;
    fn_image_fit image_fit;    /* FN_FIT_CROP */
    fn_standardize standardize;
    uint64_t seed;             /* 666 */
    /* Under mpirun (src/dist) every rank trains the same network on its share of each
     * global batch (batch_size is the global batch); gradients are all-reduced. Batch
     * norm normalises over each rank's rows unless sync_bn (the global batch's). */
    int sync_bn;
    int max_steps;             /* stop after this many steps in total (0 = no limit; tests) */
} fn_train_options;

void fn_train_options_default(fn_train_options *o, fn_train_mode mode);

typedef struct {
    int epoch, step_in_epoch;
    int64_t global_step;
    float loss, lr;
    int triplets, triplets_possible; /* triplet mode: selected / anchor-positive pairs */
    float accuracy;                  /* softmax: batch accuracy */
    double seconds;                  /* since the start of this run */
} fn_train_step_info;

typedef struct {
    int epoch;            /* 0: before training (when something is evaluated) */
    int64_t global_step;
    float mean_loss;
    float val_accuracy;   /* held-out verification accuracy (10-fold), -1 without val_dir */
    float val_threshold;
    double seconds;
    /* LFW (facenet's protocol, fn_lfw_evaluate), -1 without lfw_dir */
    float lfw_accuracy, lfw_accuracy_std, lfw_val, lfw_val_std, lfw_far, lfw_auc;
    /* softmax validation split (facenet's validate()): mean total loss and cross-entropy
     * of the held-out images and their accuracy; -1 without a split */
    float validation_loss, validation_xent, validation_accuracy;
} fn_train_epoch_info;

typedef struct {
    void (*on_step)(void *ud, const fn_train_step_info *s);
    void (*on_epoch)(void *ud, const fn_train_epoch_info *e);
    void (*on_message)(void *ud, const char *msg);
    void *ud;
} fn_train_callbacks;

/* Runs training; writes models_dir/{checkpoint.safetensors, model.safetensors,
 * train_log.csv, epochs.csv, training.png}. Under MPI (fn_dist_init first) every rank
 * calls it with the same options; rank 0 alone writes files and calls cb. */
fn_status fn_train(const fn_train_options *o, const fn_train_callbacks *cb);

/* ---------------------------------------------------------------- pieces (tested alone) */
/* facenet sample_people: classes in random order, up to images_per_person random images
 * each, until people_per_batch * images_per_person images. idx: (class, image) pairs. */
typedef struct { int cls, img; } fn_sample_ref;
int fn_sample_people(const fn_dataset *ds, int people_per_batch, int images_per_person,
                     fn_rng *rng, fn_sample_ref *out, int *num_per_class, int *n_classes);

/* facenet select_triplets: for each anchor-positive pair of a class, a random negative
 * with |a-n|^2 - |a-p|^2 < alpha (any class other than the anchor's). emb: rows in the
 * order of num_per_class. triplets: 3 row indices each (capacity: all pairs). Returns
 * the number selected; *n_pairs gets the number of anchor-positive pairs. Shuffled. */
int fn_select_triplets(const float *emb, int dim, const int *num_per_class, int n_classes,
                       float alpha, fn_rng *rng, int *triplets, int *n_pairs);
int fn_select_triplets_capacity(const int *num_per_class, int n_classes);

/* Verification on all same-person pairs and an equal number of different-person pairs of
 * a dataset (every k-th in order, interleaved): squared-L2 distances through
 * fn_evaluate_distances (facenet's calculate_roc, 10 folds). -1 without both kinds of
 * pairs or with fewer pairs than folds. */
float fn_train_pair_accuracy(const float *emb, int dim, const int *labels, int n, float *threshold);

/* The size a w x h image is resized to before the size x size view is taken: the shorter
 * side to size (or size*182/160 with random_crop), or both sides with FN_FIT_STRETCH. */
void fn_train_load_geometry(int w, int h, int size, fn_image_fit fit, const fn_augment *aug, int *lw, int *lh);
/* Image to float: resize (fn_train_load_geometry), take a size x size view (centre crop
 * without augmentation; aug or rng NULL = none), standardise. */
fn_status fn_train_prepare_image(const fn_image *img, int size, fn_image_fit fit, const fn_augment *aug,
                                 fn_standardize std, fn_rng *rng, float *out);
#endif
