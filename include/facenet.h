/* facenet.h — the public API of libfacenet (face detection, alignment, embedding,
 * comparison, clustering, classification, validation and training in C).
 *
 * Worked example: embed the largest face of two photos and print their distance.
 *
 *     fn_detector *det;  fn_model *model;
 *     if (fn_detector_open("models/mtcnn", &det)) die(fn_last_error());
 *     if (fn_model_open("models/dlib_resnet.safetensors", &model)) die(fn_last_error());
 *     float emb[2][128];
 *     for (int i = 0; i < 2; i++) {
 *         fn_image img; fn_face *faces; int n;
 *         if (fn_image_load(path[i], 1, &img)) die(fn_last_error());
 *         if (fn_detect(det, &img, NULL, &faces, &n) || n == 0) die("no face");
 *         fn_image crop;
 *         fn_model_crop(model, &img, &faces[fn_face_pick_largest(faces, n, img.w, img.h, 0)], &crop);
 *         fn_model_embed(model, &crop, 1, emb[i]);
 *         fn_image_free(&crop); fn_image_free(&img); free(faces);
 *     }
 *     printf("%f\n", fn_distance_sq(emb[0], emb[1], 128));
 *
 * Conventions
 * - Every function that can fail returns fn_status; FN_OK is 0. fn_last_error() gives a
 *   one-line, human-readable reason (thread-local). The library never exits or prints.
 * - Images are 8-bit RGB, row-major, 3 bytes per pixel. Tensors inside the library are
 *   NHWC float32.
 * - Outputs the library writes to disk are written atomically (temp file + rename).
 */
#ifndef FACENET_H
#define FACENET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FN_VERSION "0.1.0"

/* ---------------------------------------------------------------- status */
typedef enum {
    FN_OK = 0,
    FN_ERR_IO,          /* file missing, unreadable, unwritable */
    FN_ERR_FORMAT,      /* corrupt, truncated or unrecognised file contents */
    FN_ERR_SHAPE,       /* tensor shape or dimension mismatch */
    FN_ERR_MISSING,     /* a required tensor / key / entry is absent */
    FN_ERR_NOMEM,       /* allocation failed */
    FN_ERR_ARG,         /* invalid argument from the caller */
    FN_ERR_UNSUPPORTED, /* valid but unsupported input (dtype, opcode, feature) */
    FN_ERR_LIMIT,       /* size above a safety cap (image pixels, tensor bytes) */
    FN_ERR_NO_FACE,     /* no face found where one was required */
    FN_ERR_MISMATCH,    /* e.g. classifier trained with another model */
} fn_status;

const char *fn_status_str(fn_status s);
/* The detail of the most recent error on this thread ("" if none). */
const char *fn_last_error(void);

/* ---------------------------------------------------------------- images (src/image) */
typedef struct {
    int w, h;
    uint8_t *rgb; /* h*w*3 bytes, owned */
} fn_image;

#define FN_IMAGE_MAX_DIM 32768
#define FN_IMAGE_MAX_PIXELS (256u * 1024u * 1024u)

/* Decode JPEG/PNG/PGM/PPM/BMP/GIF/WebP/HEIC/AVIF/TIFF by content (magic bytes, not the
 * extension) to 8-bit RGB as PIL's convert("RGB"): grey and palette expanded, CMYK
 * converted, alpha dropped, 16-bit samples reduced to 8 (high byte), the first frame of a
 * GIF or animated WebP, the first page of a TIFF, the primary image of a HEIF/AVIF.
 * exif_rotate: make the image upright as PIL's ImageOps.exif_transpose: the EXIF
 * orientation (1..8) of JPEG and WebP, TIFF's Orientation tag, HEIF/AVIF's own irot/imir
 * transforms (0: the stored pixels). WebP, HEIC/AVIF and TIFF need libwebp, libheif and
 * libtiff at build time; a build without one fails such files with FN_ERR_UNSUPPORTED
 * ("built without WebP support: install libwebp-dev and rebuild").
 * Errors: FN_ERR_FORMAT (corrupt, truncated, unknown), FN_ERR_LIMIT (a side above
 * FN_IMAGE_MAX_DIM or more than FN_IMAGE_MAX_PIXELS pixels: checked before allocating),
 * FN_ERR_UNSUPPORTED (e.g. RLE BMP, float TIFF). On error *out is {0, 0, NULL}. */
fn_status fn_image_load(const char *path, int exif_rotate, fn_image *out);
fn_status fn_image_decode(const uint8_t *data, size_t size, int exif_rotate, fn_image *out);
fn_status fn_image_save_png(const char *path, const fn_image *img);  /* atomic */
fn_status fn_image_save_jpeg(const char *path, const fn_image *img, int quality); /* atomic */
fn_status fn_image_alloc(int w, int h, fn_image *out);
void fn_image_free(fn_image *img);
/* Bilinear resize exactly as PIL's Image.resize(..., BILINEAR) (PIL >= 7): a triangle
 * filter whose support grows with the shrink factor (antialiased), pixel centres at +0.5,
 * horizontal then vertical pass, each rounded to uint8. facenet-pytorch crops this way. */
fn_status fn_image_resize(const fn_image *src, int w, int h, fn_image *out);
/* Mirror copy (left <-> right). */
fn_status fn_image_flip_lr(const fn_image *src, fn_image *out);
/* Copy of the rectangle [x, x+w) x [y, y+h) clipped to the image; FN_ERR_ARG if empty. */
fn_status fn_image_crop(const fn_image *src, int x, int y, int w, int h, fn_image *out);
/* Bilinear sample at pixel coordinates (x, y) (pixel i's centre is at i); neighbours
 * outside the image count as black (like cv2.warpAffine's constant border 0). */
void fn_image_sample_bilinear(const fn_image *img, float x, float y, uint8_t rgb[3]);

/* Drawing (src/image/draw.c, font.c): colours are 0xRRGGBB; everything clips to the image.
 * Coordinates are pixel indices (floats are rounded to the nearest pixel). */
void fn_draw_rect(fn_image *img, float x1, float y1, float x2, float y2, uint32_t rgb,
                  int thickness); /* outline; the border grows inwards from the box edge */
void fn_draw_fill_rect(fn_image *img, float x1, float y1, float x2, float y2, uint32_t rgb);
void fn_draw_line(fn_image *img, float x0, float y0, float x1, float y1, uint32_t rgb,
                  int thickness);
void fn_draw_circle(fn_image *img, float cx, float cy, float r, uint32_t rgb, int filled);
/* Text in an embedded 5x7 bitmap font (printable ASCII 32..126, others drawn as '?'),
 * each glyph cell 6x8 pixels times scale; (x, y) is the top-left corner; '\n' starts a
 * new line. */
void fn_draw_text(fn_image *img, int x, int y, const char *text, uint32_t rgb, int scale);
int fn_text_width(const char *text, int scale);  /* pixels of the widest line */
int fn_text_height(const char *text, int scale); /* pixels of all lines */

/* ---------------------------------------------------------------- detection (src/detect) */
typedef struct {
    float box[4];          /* x1, y1, x2, y2 in image pixels */
    float score;
    float landmarks[5][2]; /* left eye, right eye, nose, left mouth, right mouth */
} fn_face;

typedef struct {
    float min_size;      /* 20 */
    float thresholds[3]; /* 0.6, 0.7, 0.7 */
    float factor;        /* 0.709 */
} fn_detect_params;

typedef struct fn_detector fn_detector;

void fn_detect_params_default(fn_detect_params *p);
/* path: a folder holding det1-3.npy or pnet/rnet/onet.pt, or an mtcnn .safetensors. */
fn_status fn_detector_open(const char *path, fn_detector **out);
void fn_detector_close(fn_detector *d);
/* MTCNN as facenet-pytorch runs it (pyramid -> P-Net -> R-Net -> O-Net, boxes regressed,
 * squared between stages; 5 landmarks). *faces is malloc'd (free with free()); sorted by
 * score, descending. params NULL = defaults. Threaded with OpenMP inside; a detector is
 * read-only here, so several threads may call fn_detect on the same one. */
fn_status fn_detect(fn_detector *d, const fn_image *img, const fn_detect_params *params,
                    fn_face **faces, int *n_faces);
/* fn_detect over n images at once, threads spread over the images (better for many small
 * photos). faces[i] / n_faces[i] / status[i] per image (status may be NULL); returns the
 * first failure, or FN_OK when every image was processed. */
fn_status fn_detect_batch(fn_detector *d, const fn_image *imgs, int n,
                          const fn_detect_params *params, fn_face **faces, int *n_faces,
                          fn_status *status);
/* facenet's align choice: largest box area, penalised by squared distance from the centre
 * (when center_penalty) — returns an index into faces, or -1 when n == 0. */
int fn_face_pick_largest(const fn_face *faces, int n, int img_w, int img_h, int center_penalty);
/* facenet's crop: box ± margin/2 clipped to the image, bilinear resize to size×size. */
fn_status fn_crop_margin(const fn_image *img, const float box[4], int margin, int size,
                         fn_image *out);
/* 5-point similarity warp (least squares, no shear) to a dlib-style face chip. */
fn_status fn_align_chip(const fn_image *img, const float landmarks[5][2], int size,
                        float padding, fn_image *out);

/* ---------------------------------------------------------------- embedding models (src/nets) */
typedef struct fn_model fn_model;

typedef enum { FN_STD_FIXED = 0, FN_STD_PREWHITEN = 1 } fn_standardize;

/* Opens a .safetensors model; the architecture (Inception-ResNet-v1 or dlib ResNet) is
 * recognised from its tensor names. Inception-ResNet-v1 loads at any depth and width (the
 * blocks are counted from the names, channels read from the shapes), with the input size
 * and standardisation of the metadata keys image_size and standardize when present (what
 * `facenet train` exports), else 160 and fixed. */
fn_status fn_model_open(const char *path, fn_model **out);
void fn_model_close(fn_model *m);
int fn_model_dim(const fn_model *m);
int fn_model_input_size(const fn_model *m);
const char *fn_model_arch(const fn_model *m);
/* A stable id of the weights (hex digest), stored by classifiers to refuse other models. */
const char *fn_model_id(const fn_model *m);
void fn_model_set_standardize(fn_model *m, fn_standardize s);
/* crops: n images of input_size×input_size. out: n×dim L2-normalised embeddings.
 * Threads: several threads may call fn_model_embed on the same model at once (a model's
 * weights are read-only; each running call leases its own activation buffers). A call
 * spreads a batch over the BLAS threads itself, so callers that run one call per core
 * (as `facenet serve` does) should set BLAS to one thread. */
fn_status fn_model_embed(fn_model *m, const fn_image *crops, int n, float *out);
/* The crop this model expects for a detected face (margin crop or 5-point chip). */
fn_status fn_model_crop(const fn_model *m, const fn_image *img, const fn_face *face,
                        fn_image *out);

/* ---- int8 (src/nets/quantize.c, issue 18) */
/* Post-training static quantisation: writes an int8 model file (weights symmetric int8 per
 * output channel with batch norm / scale layers folded first, int32 biases, activation
 * scales at the given percentile (e.g. 99.99) of each conv's input over the calibration
 * crops: n crops as fn_model_crop makes them for m). calibration (may be NULL) is recorded
 * in the file's metadata with the percentile. fn_model_open reads the file like any model.
 * FN_ERR_UNSUPPORTED for architectures without an int8 network (today: only the dlib
 * ResNet has one). */
fn_status fn_model_quantize(fn_model *m, const fn_image *crops, int n, double percentile,
                            const char *calibration, const char *out_path);
/* Whether m runs int8 kernels (an int8 model file). */
int fn_model_is_int8(const fn_model *m);
/* The int8 kernel path this CPU uses: "avx512-vnni", "avx2" or "portable". */
const char *fn_int8_kernels(void);

/* ---------------------------------------------------------------- face pipeline (src/pipeline) */
typedef enum {
    FN_FACES_ALL = 0,              /* every detected face */
    FN_FACES_LARGEST = 1,          /* the largest box (compare.py, predict.py) */
    FN_FACES_LARGEST_CENTERED = 2, /* largest, penalised by distance from the centre (align) */
} fn_face_select;

/* Detect → crop as the model expects → embed. *faces (n) and *emb (n × dim, or
 * n × 2·dim with flip: the embedding of the mirrored crop appended) are malloc'd.
 * n == 0 with FN_OK when no face is found. */
fn_status fn_embed_image_faces(fn_detector *det, fn_model *model, const fn_image *img,
                               const fn_detect_params *params, fn_face_select select, int flip,
                               fn_face **faces, float **emb, int *n);

/* ---------------------------------------------------------------- distances */
float fn_distance_sq(const float *a, const float *b, int dim);

/* ---------------------------------------------------------------- evaluation (src/eval) */
/* facenet's LFW protocol (lfw.py evaluate, facenet.py calculate_roc / calculate_val,
 * validate_on_lfw.py): k-fold cross-validation without shuffling (sklearn KFold), the
 * accuracy of each fold at the threshold (0, 0.01, ..., 3.99) best on the other folds,
 * the mean ROC over folds, VAL at FAR = far_target via FAR -> threshold interpolation
 * (0.001 grid) on the training folds, AUC of the mean ROC and EER by Brent's method.
 * Computed in double with numpy's operation order: equal to facenet's numbers. */
typedef enum { FN_METRIC_EUCLIDEAN_SQ = 0, FN_METRIC_COSINE = 1 } fn_metric; /* arccos(cos)/pi */

typedef struct {
    int n_folds;        /* 10 */
    fn_metric metric;   /* FN_METRIC_EUCLIDEAN_SQ (facenet's distance_metric 0) */
    int subtract_mean;  /* 0: subtract each fold's training-pairs embedding mean */
    double far_target;  /* 1e-3 */
} fn_eval_params;

#define FN_EVAL_ROC_THRESHOLDS 400  /* np.arange(0, 4, 0.01): threshold i = i * 0.01 */
#define FN_EVAL_VAL_THRESHOLDS 4000 /* np.arange(0, 4, 0.001) */

typedef struct {
    int n_pairs, n_folds;
    double accuracy, accuracy_std; /* mean and std of the per-fold accuracies */
    double threshold;              /* mean of the folds' best-accuracy thresholds */
    double val, val_std, far;      /* VAL@far_target: mean, std over folds; mean FAR */
    double auc, eer;               /* eer is NaN where scipy's brentq would raise */
    double tpr[FN_EVAL_ROC_THRESHOLDS], fpr[FN_EVAL_ROC_THRESHOLDS]; /* mean ROC */
    /* per fold (n_folds each, one allocation): */
    double *fold_accuracy, *fold_threshold, *fold_val, *fold_far, *fold_val_threshold;
    int *fold_best_index;          /* index into the 0.01 threshold grid */
} fn_eval_result;

void fn_eval_params_default(fn_eval_params *p);
/* emb: 2*n_pairs rows of dim values; pair i is rows 2i and 2i+1 (facenet's
 * embeddings[0::2], [1::2]); issame: n_pairs flags. params NULL = defaults. */
fn_status fn_evaluate_embeddings(const double *emb, int n_pairs, int dim, const uint8_t *issame,
                                 const fn_eval_params *params, fn_eval_result *out);
/* The same protocol on precomputed pair distances (metric and subtract_mean ignored). */
fn_status fn_evaluate_distances(const double *dist, int n_pairs, const uint8_t *issame,
                                const fn_eval_params *params, fn_eval_result *out);
void fn_eval_result_free(fn_eval_result *r);
/* facenet.distance for one pair, with numpy's summation order. */
double fn_pair_distance(const double *a, const double *b, int dim, fn_metric metric);

/* LFW pairs files (pairs.txt "10 300" header, pairsDevTrain/Test.txt count header): lines
 * "name i j" (same person) or "name1 i name2 j"; images LFW_DIR/name/name_%04d.png or .jpg
 * (png tried first). Pairs with a missing image are skipped and counted, as lfw.get_paths. */
typedef struct {
    int n_pairs;     /* pairs kept */
    int n_skipped;   /* pairs with a missing image */
    char **paths;    /* 2*n_pairs paths: pair i = paths[2i], paths[2i+1] */
    uint8_t *issame; /* n_pairs */
} fn_lfw_pairs;
/* max_pairs > 0 keeps only the first max_pairs listed pairs (before skipping). */
fn_status fn_lfw_read_pairs(const char *pairs_file, const char *lfw_dir, int max_pairs,
                            fn_lfw_pairs *out);
void fn_lfw_pairs_free(fn_lfw_pairs *p);
/* The distinct images of the pairs (each embedded once), in byte order of their paths:
 * *images (n_images, the strings borrowed from pairs; free the array with free()) and
 * *row_of (2*n_pairs, malloc'd): the row of each pair image among them. */
fn_status fn_lfw_distinct_images(const fn_lfw_pairs *pairs, char ***images, int *n_images, int **row_of);
/* facenet's evaluation of per-image embeddings emb (n_images x cols, rows as
 * fn_lfw_distinct_images orders them): pair rows laid out as embeddings[0::2], [1::2],
 * then fn_evaluate_embeddings. What `facenet validate` and training's LFW check run. */
fn_status fn_lfw_evaluate(const fn_lfw_pairs *pairs, const int *row_of, const float *emb, int cols,
                          const fn_eval_params *params, fn_eval_result *out);

/* ---------------------------------------------------------------- clustering / classification (src/cluster, src/classify) */

/* Dataset folders (src/pipeline/dataset.c), facenet's get_dataset: one subfolder per class
 * (sorted by name, byte order = Python's sorted()), each holding image files (sorted;
 * recognised by extension: jpg jpeg png bmp gif pgm ppm pnm, any case; hidden files skipped).
 * Classes with no image are kept (n_paths == 0): callers decide. */
typedef struct {
    char *name;   /* the folder name */
    char **paths; /* dir/name/file, n_paths of them */
    int n_paths;
} fn_dataset_class;
typedef struct {
    fn_dataset_class *classes;
    int n_classes;
} fn_dataset;
fn_status fn_dataset_load(const char *dir, fn_dataset *out);
void fn_dataset_free(fn_dataset *ds);
/* The image files directly inside dir (sorted); *paths is malloc'd, free with fn_paths_free. */
fn_status fn_list_images(const char *dir, char ***paths, int *n);
void fn_paths_free(char **paths, int n);
/* By extension (case-insensitive): jpg jpeg png bmp gif pgm ppm pnm webp heic heif avif
 * tif tiff. Only for listing folders: decoding always goes by content. */
int fn_is_image_path(const char *path);
/* The embedding of the one face of an image file (facenet's classifier / export_embeddings
 * input): aligned: the file is already a face crop, centre-cropped to the model's input when
 * larger (facenet's load_data, e.g. 182 -> 160) or else resized (always resized for models
 * trained with `--image-fit stretch`); otherwise: detect, take the
 * largest face, crop as the model expects. emb: dim floats. *found = 0 (FN_OK) when no face
 * is detected; face (may be NULL) gets the detection (the whole crop when aligned). */
fn_status fn_embed_face_file(fn_detector *det, fn_model *model, const char *path, int aligned,
                             float *emb, fn_face *face, int *found);

/* An aligned face crop file at size x size (what `validate --is-aligned`, `embed` and
 * training's LFW evaluation feed the network): decoded and, when of another size,
 * resized (bilinear, whole image). *resized (may be NULL) says whether it was. */
fn_status fn_load_aligned_crop(const char *path, int size, fn_image *out, int *resized);

/* n×n matrix of Euclidean distances (not squared) between the rows of emb (n × dim). */
fn_status fn_distance_matrix(const float *emb, int n, int dim, float *dist);

/* DBSCAN on a precomputed n×n distance matrix, exactly sklearn's
 * DBSCAN(eps, min_samples, metric='precomputed'): neighbours are j with dist[i][j] <= eps
 * (i itself included), core points have >= min_samples neighbours, clusters are numbered in
 * the order of their first core point, a border point joins the first cluster that reaches
 * it, and noise is -1. labels: n ints. *n_clusters may be NULL. */
fn_status fn_dbscan(const float *dist, int n, float eps, int min_samples, int *labels,
                    int *n_clusters);

/* Chinese whispers (facenet's contributed/clustering.py): a graph with an edge between
 * faces whose distance is below threshold, weighted by 1 - d²/2 (the cosine similarity of
 * unit-length embeddings, facenet's weight; floored at 1e-6), then `iterations` passes over
 * the nodes in a random order (seeded: the same seed gives the same clusters), each node
 * taking the label with the largest summed edge weight among its neighbours (ties: the
 * smaller label; a node without neighbours keeps its own). Labels are renumbered 0.. by
 * cluster size, descending (ties: the cluster whose first member comes first). */
fn_status fn_chinese_whispers(const float *dist, int n, float threshold, int iterations,
                              uint64_t seed, int *labels, int *n_clusters);

/* Clusters with fewer than min_size members become noise (-1); the others are renumbered
 * 0.. keeping their order. Returns the number of clusters left (-1: out of memory). */
int fn_clusters_drop_small(int *labels, int n, int min_size);

/* A face classifier (src/classify): linear SVM with Platt probabilities through libsvm
 * (what facenet's classifier.py gets from sklearn's SVC(kernel='linear', probability=True),
 * C = 1), plus the enrolled embeddings for open-set rejection. */
typedef struct fn_classifier fn_classifier;

typedef struct {
    int label;        /* svm_label, or -1 when unknown */
    int svm_label;    /* the SVM's class (see fn_classifier_predict), even when unknown */
    int proba_label;  /* argmax of the probabilities (classifier.py's choice) */
    float prob;       /* probability of svm_label */
    float nearest;    /* Euclidean distance to the nearest enrolled embedding */
    int nearest_class;/* the class of that enrolled embedding */
} fn_prediction;

/* emb: n × dim, labels in [0, n_classes); every class needs >= 1 example, and >= 2 classes.
 * C: the SVM's penalty (sklearn's and facenet's default is 1; FN_CLASSIFIER_DEFAULT_C suits
 * unit-length embeddings with few photos per person, see cmd_classify.c).
 * seed: libsvm's internal cross-validation for probabilities uses rand(): it is srand()'d. */
#define FN_CLASSIFIER_DEFAULT_C 10.0
fn_status fn_classifier_train(const float *emb, const int *labels, int n, int dim,
                              const char *const *class_names, int n_classes,
                              const char *model_id, double C, uint64_t seed, fn_classifier **out);
void fn_classifier_free(fn_classifier *c);
/* Versioned binary file ("FNCLS" magic), written atomically. */
fn_status fn_classifier_save(const fn_classifier *c, const char *path);
fn_status fn_classifier_load(const char *path, fn_classifier **out);
int fn_classifier_n_classes(const fn_classifier *c);
int fn_classifier_dim(const fn_classifier *c);
const char *fn_classifier_class_name(const fn_classifier *c, int k);
const char *fn_classifier_model_id(const fn_classifier *c);
/* FN_ERR_MISMATCH (with both ids in the message) unless model is the one it was trained with. */
fn_status fn_classifier_check_model(const fn_classifier *c, const fn_model *model);
fn_status fn_classifier_check_model_id(const fn_classifier *c, const char *model_id, int dim);
/* emb: n × dim. svm_label is libsvm's one-vs-one decision (sklearn's SVC.predict): with
 * few photos per person, Platt probabilities (5-fold CV inside libsvm) are close to uniform
 * and their argmax (classifier.py's choice, kept as proba_label) is unreliable, while the
 * decision values are not. A face whose nearest enrolled embedding is farther than unknown_threshold
 * (Euclidean) gets label -1; unknown_threshold <= 0 disables rejection.
 * probs: n × n_classes or NULL. */
fn_status fn_classifier_predict(const fn_classifier *c, const float *emb, int n,
                                float unknown_threshold, fn_prediction *out, float *probs);

/* ---------------------------------------------------------------- gallery (src/gallery) */
/* A persistent face database: enrol faces under subjects once, add / remove / rename at any
 * time, and ask "who is this?" with "nobody I know" for strangers (open-set identification).
 * One store (a SQLite file, WAL mode; or PostgreSQL when several machines share it) holds
 * collections (one per service API key), subjects, faces (embedding, model id, source
 * sha256, box, landmarks, score, time, optionally the photo) and a change log with a
 * monotonically increasing sequence number. Every write is one transaction.
 * A fn_gallery handle is one collection of one store. Its process keeps the collection's
 * embeddings in memory (a dense matrix for exact search, plus a FAISS index above a size
 * threshold, always re-ranked exactly) and follows the change log, so other processes'
 * writes become visible (fn_gallery_refresh; automatic before each search).
 * Threads: one handle may be shared; searches run concurrently, writes are serialised. */
typedef struct fn_gallery fn_gallery;

typedef enum {
    FN_INDEX_AUTO = 0, /* exact search below index_threshold faces, an approximate index above */
    FN_INDEX_EXACT,    /* one GEMM over the whole collection */
    FN_INDEX_HNSW,     /* FAISS HNSW (when built with FAISS) */
    FN_INDEX_IVF,      /* FAISS IVF (when built with FAISS) */
} fn_index_kind;

#define FN_GALLERY_NAME_MAX 255 /* bytes of a subject or collection name (UTF-8) */

/* Distance -> similarity in [0, 1]: similarity = 1 / (1 + exp(slope * (d - threshold)))
 * with d the Euclidean distance of unit embeddings; similarity 0.5 exactly at the model's
 * threshold (chosen on LFW training folds), CompreFace's convention. */
typedef struct {
    float threshold; /* Euclidean distance that maps to 0.5 */
    float slope;     /* > 0 */
} fn_similarity_calib;
float fn_similarity(const fn_similarity_calib *c, float distance);
/* The calibration of a model (per architecture / shipped model; a documented default else). */
void fn_model_similarity_calib(const fn_model *m, fn_similarity_calib *out);

typedef struct {
    const char *model_id;      /* fn_model_id() of the embedding model. Creating: required.
                                  Opening: must equal the stored id (FN_ERR_MISMATCH with both
                                  ids in the message); NULL accepts the stored one. */
    int dim;                   /* embedding size; 0 = take the stored one */
    fn_similarity_calib calib; /* stored at creation; {0,0} = keep the stored / default one */
    const char *collection;    /* NULL or "" = "default" */
    int create;                /* create the store / collection when missing */
    int read_only;
    fn_index_kind index;       /* FN_INDEX_AUTO */
    int index_threshold;       /* faces above which AUTO uses an index (default 50000) */
} fn_gallery_options;
void fn_gallery_options_default(fn_gallery_options *o);

/* uri: a SQLite file path, or a libpq connection string "postgresql://..." (when built with
 * PostgreSQL). Errors: FN_ERR_IO (cannot open / create), FN_ERR_FORMAT (not a gallery,
 * corrupt), FN_ERR_MISMATCH (another model), FN_ERR_MISSING (no such collection and !create),
 * FN_ERR_UNSUPPORTED (backend or index not built in). */
fn_status fn_gallery_open(const char *uri, const fn_gallery_options *opt, fn_gallery **out);
void fn_gallery_close(fn_gallery *g);

/* One face to enrol. */
typedef struct {
    const char *subject;        /* created when new */
    const float *embedding;     /* dim floats (L2-normalised) */
    const char *source;         /* where it came from (file name), may be NULL */
    const char *source_sha256;  /* hex sha256 of the source photo, may be NULL; the same
                                   photo enrolled twice for one subject is skipped */
    float box[4];               /* x1, y1, x2, y2 in the source photo */
    float landmarks[5][2];
    float score;                /* detection score */
    const uint8_t *image;       /* the photo (or face crop) to keep, may be NULL */
    size_t image_size;
} fn_gallery_face;

/* One transaction. *face_id (may be NULL) gets the new id; *duplicate (may be NULL) is set
 * to 1 (and *face_id to the existing face) when the photo was already enrolled for it. */
fn_status fn_gallery_enroll(fn_gallery *g, const fn_gallery_face *face, int64_t *face_id,
                            int *duplicate);
/* n faces in one transaction (import); ids (may be NULL): n ids, duplicates get the existing id. */
fn_status fn_gallery_enroll_many(fn_gallery *g, const fn_gallery_face *faces, int n,
                                 int64_t *ids, int *n_duplicates);
/* A subject with no face yet (CompreFace's "add subject"); FN_OK if it exists already
 * (*created = 0). */
fn_status fn_gallery_add_subject(fn_gallery *g, const char *subject, int *created);
/* Renaming onto an existing subject merges the two (CompreFace's behaviour).
 * FN_ERR_MISSING when old does not exist. */
fn_status fn_gallery_rename_subject(fn_gallery *g, const char *old_name, const char *new_name);
/* Removes the subject and its faces; *n_faces (may be NULL) = faces removed.
 * FN_ERR_MISSING when it does not exist. */
fn_status fn_gallery_remove_subject(fn_gallery *g, const char *subject, int *n_faces);
/* FN_ERR_MISSING when there is no such face. */
fn_status fn_gallery_remove_face(fn_gallery *g, int64_t face_id);
/* Every subject and face of the collection; *n_faces may be NULL. */
fn_status fn_gallery_remove_all(fn_gallery *g, int *n_faces);

typedef struct {
    char name[FN_GALLERY_NAME_MAX + 1];
    int n_faces;
} fn_gallery_subject;
/* *subjects malloc'd (free()), sorted by name (byte order). */
fn_status fn_gallery_list_subjects(fn_gallery *g, fn_gallery_subject **subjects, int *n);

typedef struct {
    int64_t id;
    char subject[FN_GALLERY_NAME_MAX + 1];
    char source[FN_GALLERY_NAME_MAX + 1];
    char source_sha256[65];
    float box[4];
    float landmarks[5][2];
    float score;
    double created;             /* seconds since the Unix epoch */
    int has_image;
} fn_gallery_face_info;
/* Faces of one subject (NULL: all), by id, the page [offset, offset + limit) (limit <= 0: all);
 * *total (may be NULL) = all matching faces. *faces malloc'd (free()). */
fn_status fn_gallery_list_faces(fn_gallery *g, const char *subject, int offset, int limit,
                                fn_gallery_face_info **faces, int *n, int *total);
/* One face; embedding (may be NULL): dim floats; *image (may be NULL) malloc'd copy of the
 * stored photo (NULL, size 0 when none). FN_ERR_MISSING when there is no such face. */
fn_status fn_gallery_get_face(fn_gallery *g, int64_t face_id, fn_gallery_face_info *info,
                              float *embedding, uint8_t **image, size_t *image_size);

typedef struct {
    int64_t face_id;            /* the matched face (for subjects: that subject's best face) */
    char subject[FN_GALLERY_NAME_MAX + 1];
    float distance;             /* Euclidean distance between unit embeddings */
    float similarity;           /* fn_similarity of the distance with the gallery's calibration */
} fn_gallery_match;

/* n_queries × dim queries. Top-k faces per query, nearest first: out has n_queries × k
 * slots, n_found[q] of query q's are filled (fewer when the gallery is smaller). */
fn_status fn_gallery_search(fn_gallery *g, const float *queries, int n_queries, int k,
                            fn_gallery_match *out, int *n_found);
/* Top-k subjects per query (each subject scored by its nearest face), nearest first. */
fn_status fn_gallery_search_subjects(fn_gallery *g, const float *queries, int n_queries, int k,
                                     fn_gallery_match *out, int *n_found);
/* Apply the changes other processes made since this handle last looked. */
fn_status fn_gallery_refresh(fn_gallery *g);

typedef struct {
    int n_subjects, n_faces, dim;
    char model_id[80];
    char collection[FN_GALLERY_NAME_MAX + 1];
    char backend[16];           /* "sqlite" or "postgresql" */
    fn_index_kind index;        /* what searches use now */
    fn_similarity_calib calib;
    int64_t change_seq;         /* last change applied */
} fn_gallery_stats;
fn_status fn_gallery_info(fn_gallery *g, fn_gallery_stats *out);

/* facenet's export_embeddings layout: DIR/embeddings.npy (n × dim float32), labels.npy
 * (n int64: the subject's index among the sorted names), label_strings.npy (the subject
 * name of each row, as facenet writes it; import also takes one name per label). Import
 * enrols every row (one transaction); export writes each file atomically, faces by id. */
fn_status fn_gallery_export_npy(fn_gallery *g, const char *dir);
fn_status fn_gallery_import_npy(fn_gallery *g, const char *dir, int *n_imported);

/* Hex sha256 of a buffer (the source photo's fingerprint). */
void fn_sha256_hex(const void *data, size_t size, char out[65]);

/* ---------------------------------------------------------------- 68-point landmarks (src/nets/landmark68.c) */
/* face-api's FaceLandmark68Net (npm @vladmandic/face-api, model/face_landmark_68_model,
 * converted by scripts/get-models.sh to models/landmark68.safetensors; its TF.js manifest
 * loads too): the 68 points of the iBUG 300-W markup that dlib's shape_predictor_68 gives
 * (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 lips; "left" = image left). */
typedef struct fn_landmarker fn_landmarker;
fn_status fn_landmarker_open(const char *path, fn_landmarker **out);
void fn_landmarker_close(fn_landmarker *l);
/* The points of the face in each box (x1, y1, x2, y2 image pixels, e.g. fn_face.box), read
 * as face-api reads a detection: the box clipped to the image and floored to whole pixels,
 * zero-padded to a centred square, resized to 112x112. out: n x 68 (x, y) image pixels.
 * FN_ERR_ARG for a box without pixels. Read-only: threads may share a landmarker. */
fn_status fn_landmarks68(fn_landmarker *l, const fn_image *img, const float (*boxes)[4], int n,
                         float (*out)[68][2]);

/* ---------------------------------------------------------------- gallery migration (src/gallery/migrate.c) */
/* Copies every collection of the gallery at src into dst — a SQLite file path or a
 * postgresql:// URI each, either way round (dst created when missing) — subjects, faces with
 * embeddings, metadata, enrolment times and photos; then reads both back and compares, per
 * collection, the counts and a SHA-256 over every face's contents (order- and id-independent).
 * Face ids are renumbered by dst. A destination collection that already holds subjects or
 * faces is refused (FN_ERR_ARG); a difference found by the check is FN_ERR_IO. Stop writers
 * on src first (a face added during the copy fails the check). Progress on a TTY. */
#define FN_MIGRATE_REPORTED 16
typedef struct {
    char name[FN_GALLERY_NAME_MAX + 1];
    int n_subjects, n_faces;
    char checksum[65];          /* hex SHA-256, equal on both sides */
} fn_gallery_migrated;
typedef struct {
    int n_collections, n_subjects, n_faces, n_images;
    int n_duplicates;           /* source faces repeating a photo of their subject (merges leave
                                   them): kept once, as enrolment would */
    fn_gallery_migrated collections[FN_MIGRATE_REPORTED]; /* the first ones, by name */
} fn_gallery_migration;
fn_status fn_gallery_migrate(const char *src, const char *dst, fn_gallery_migration *report);

/* ---------------------------------------------------------------- video (src/video) */
/* Faces in video: frames from anything libavformat opens (a file, an RTSP/HTTP stream URL,
 * a V4L2 camera such as /dev/video0), a tracker that follows faces between detections and
 * names each track, and an H.264 writer for annotated output. Decoding and writing need
 * FFmpeg's libraries (Debian: libavformat-dev libavcodec-dev libswscale-dev libavutil-dev,
 * libavdevice-dev for cameras); built without them, fn_video_* and fn_video_writer_*
 * return FN_ERR_UNSUPPORTED saying what to install. The tracker needs nothing extra: feed
 * it frames from anywhere (your own capture, the service). */
typedef struct fn_video fn_video;

typedef struct {
    int threads;        /* decoder threads (0: FFmpeg's choice) */
    const char *format; /* force an input format ("v4l2", "mpegts", ...); NULL: probe.
                           Paths under /dev/ are opened as V4L2 cameras by default. */
    int64_t max_pixels; /* frames larger are refused with FN_ERR_LIMIT (0: FN_IMAGE_MAX_PIXELS) */
} fn_video_options;

typedef struct {
    int width, height;  /* of the first frame (frames may change size: each fn_image says) */
    double fps;         /* the stream's average frame rate, 0 when unknown */
    double duration;    /* seconds, 0 when unknown (live streams) */
    int64_t n_frames;   /* frame count the container declares, 0 when unknown */
    double start_time;  /* seconds */
    int live;           /* 1 when the input cannot be re-read (stream, camera, pipe) */
    char codec[32];     /* decoder name, e.g. "h264" */
    char container[64]; /* demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
} fn_video_info;

typedef struct {
    int64_t index;      /* 0, 1, ... in presentation order, as ffprobe counts them */
    double time;        /* seconds: the frame's best-effort timestamp (ffprobe's
                           best_effort_timestamp_time) */
} fn_video_frame;

int fn_video_available(void); /* 1 when built with FFmpeg */
/* Errors: FN_ERR_IO (cannot open / connect), FN_ERR_FORMAT (not a video container, corrupt
 * headers, no video stream), FN_ERR_UNSUPPORTED (no decoder; built without FFmpeg). */
fn_status fn_video_open(const char *input, const fn_video_options *opt, fn_video **out);
/* A video held in memory (an upload): common video containers and codecs only. */
fn_status fn_video_open_memory(const uint8_t *data, size_t size, const fn_video_options *opt,
                               fn_video **out);
void fn_video_get_info(const fn_video *v, fn_video_info *out);
/* The next frame as 8-bit RGB into *img (pass the same fn_image every call: it is reused
 * and reallocated when the size changes; free it with fn_image_free). *got = 0 at the end
 * of input. Corrupt packets are skipped (counted in fn_video_corrupt_packets) as ffmpeg
 * does; a read error after frames were decoded (a stream that drops, a truncated file)
 * ends the input: *got = 0 and fn_video_end_error() says why (NULL on a clean end). */
fn_status fn_video_read(fn_video *v, fn_image *img, fn_video_frame *frame, int *got);
const char *fn_video_end_error(const fn_video *v);
int64_t fn_video_corrupt_packets(const fn_video *v);
/* Async-signal-safe (call it from a SIGINT handler): blocking reads return and the next
 * fn_video_read ends the input cleanly. */
void fn_video_interrupt(fn_video *v);
void fn_video_close(fn_video *v);

typedef struct fn_video_writer fn_video_writer;
/* An H.264 video (container by path's extension, e.g. .mp4, .mkv), written to a temporary
 * file that fn_video_writer_close renames over path (a killed run leaves no partial file).
 * Odd sizes lose their last column / row (4:2:0). fps: the nominal rate (0: 25). */
fn_status fn_video_writer_open(const char *path, int width, int height, double fps,
                               fn_video_writer **out);
/* time: the frame's presentation time in seconds (strictly increasing; the first frame's
 * time becomes 0). */
fn_status fn_video_writer_write(fn_video_writer *w, const fn_image *img, double time);
/* Flushes, finishes the file and renames it into place; w is freed either way. */
fn_status fn_video_writer_close(fn_video_writer *w);
void fn_video_writer_abort(fn_video_writer *w); /* frees w and removes the temporary file */

/* The tracker: detection on every Nth frame fed, detections joined to tracks by box overlap
 * and embedding similarity, boxes carried between detections, tracks that break and
 * resume (same face, by embedding) joined, and each track named by voting over its best
 * frames against a classifier or a gallery. */
typedef struct fn_tracker fn_tracker;

typedef struct {
    int every;               /* detect on every Nth frame fed (1) */
    fn_detect_params detect; /* MTCNN parameters (defaults) */
    float min_iou;           /* least box overlap that continues a track (0.2) */
    float match_distance;    /* Euclidean distance between unit embeddings under which a
                                track continues onto a face (0: the model's calibrated
                                threshold, fn_model_similarity_calib); pieces of tracks are
                                joined under 0.75 of it */
    double max_gap;          /* seconds a track may go undetected and still continue (1.0) */
    int best_frames;         /* frames each track keeps for naming (7) */
    float min_name_size;     /* faces smaller (box side, pixels) are not embedded: tracked by
                                position only, never named (0: every face) */
} fn_tracker_options;
void fn_tracker_options_default(fn_tracker_options *o);

/* det and model are borrowed (they must outlive the tracker). */
fn_status fn_tracker_open(fn_detector *det, fn_model *model, const fn_tracker_options *opt,
                          fn_tracker **out);
void fn_tracker_close(fn_tracker *t);
/* Name tracks with a classifier (faces farther than unknown_threshold from everyone
 * enrolled are unknown; < 0: the model's calibrated threshold; 0 disables;
 * FN_ERR_MISMATCH for another model's classifier) or
 * a gallery (subjects below min_similarity are unknown; <= 0: 0.5, the calibrated
 * threshold). Both borrowed; NULL clears. Without either, tracks have no names. */
fn_status fn_tracker_set_classifier(fn_tracker *t, const fn_classifier *c, float unknown_threshold);
fn_status fn_tracker_set_gallery(fn_tracker *t, fn_gallery *g, float min_similarity);

#define FN_TRACK_NAME_MAX FN_GALLERY_NAME_MAX
typedef struct {
    int track;               /* track id */
    float box[4];            /* x1, y1, x2, y2 */
    int detected;            /* 1: detected on this frame; 0: carried / interpolated */
    char name[FN_TRACK_NAME_MAX + 1]; /* "" while unknown or unnamed */
    float similarity;        /* of that name */
} fn_track_box;

/* Feed the next frame (index and time as fn_video_read gives them; frames in order).
 * *boxes (malloc'd, may be NULL when *n == 0) gets the live tracks on this frame with their
 * current names; ids are stable while a track lives and when it resumes. */
fn_status fn_tracker_feed(fn_tracker *t, const fn_image *frame, int64_t index, double time,
                          fn_track_box **boxes, int *n);
/* Ends every track, joins the tracks of one person (same name, or same face by embedding,
 * never overlapping in time), votes the final names and numbers tracks 1.. by first
 * appearance. Afterwards the results below describe the whole input. */
fn_status fn_tracker_finish(fn_tracker *t);

typedef struct {
    int id;                  /* 1.. in order of first appearance (after fn_tracker_finish) */
    char name[FN_TRACK_NAME_MAX + 1]; /* "" when unknown or unnamed */
    float similarity;        /* mean similarity of the votes for name (fn_similarity of the
                                distance; with a classifier, to the nearest enrolled face) */
    float distance;          /* mean Euclidean distance of those votes */
    int votes, voters;       /* best frames that voted for name / that voted at all */
    int64_t first_frame, last_frame;
    double first_time, last_time;
    int n_detections;        /* frames the face was detected on */
    int n_segments;          /* pieces joined into this track */
    int64_t best_frame;
    double best_time;
    float best_box[4];
    float best_score;        /* detection score on the best frame */
} fn_track;
int fn_tracker_n_tracks(const fn_tracker *t);
fn_status fn_tracker_get_track(const fn_tracker *t, int i, fn_track *out);
/* The detected boxes of track i: frames (n) and boxes (n × 4), malloc'd. */
fn_status fn_tracker_track_detections(const fn_tracker *t, int i, int64_t **frames,
                                      float **boxes, int *n);
/* After fn_tracker_finish: the tracks on frame index with their final ids and names, boxes
 * interpolated between detections (what a second pass over a file draws). */
fn_status fn_tracker_boxes_at(const fn_tracker *t, int64_t index, fn_track_box **boxes, int *n);
/* The best frame's face with a margin of half the box around it (for enrolment). */
fn_status fn_tracker_best_crop(const fn_tracker *t, int i, fn_image *out);

/* ---------------------------------------------------------------- service (src/serve) */
/* `facenet serve`: CompreFace's v1 REST API (recognition, detection, verification) on
 * libmicrohttpd, a web page at /, GET /health and GET /metrics (Prometheus). Each API key
 * of the keys file owns one gallery collection (named from a hash of the key; the key is
 * never stored or logged). Inference runs on `workers` threads sharing one detector and
 * one model, behind a queue of `queue` requests; a full queue answers 429 + Retry-After.
 * Built only with libmicrohttpd and Jansson: otherwise fn_server_start and
 * fn_serve_new_key fail with FN_ERR_UNSUPPORTED saying what to install. */
typedef struct {
    const char *host;          /* "127.0.0.1": loopback unless told otherwise */
    int port;                  /* 8000; 0 = a free port (fn_server_port tells which) */
    const char *gallery;       /* gallery store (SQLite file or postgresql:// URI) */
    const char *keys_file;     /* required: one API key a line */
    const char *model;         /* embedding model (.safetensors) */
    const char *mtcnn;         /* MTCNN weights */
    int workers;               /* inference threads; 0 = one per core */
    int queue;                 /* requests that may wait for a worker; < 0 = 4 per worker */
    size_t max_body;           /* request body cap in bytes; 0 = 5 MiB (CompreFace's) */
    size_t max_pixels;         /* decoded image cap; 0 = 40 megapixels */
    int timeout_s;             /* idle / stalled connection timeout; 0 = 30 s */
    int max_connections;       /* 0 = 256 */
    /* one line per event (start, stop, errors); NULL = silent. Never sees an API key. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
} fn_serve_options;
void fn_serve_options_default(fn_serve_options *o);

typedef struct fn_server fn_server;
/* Loads the models and keys, opens the gallery store, binds and starts serving on
 * background threads. */
fn_status fn_server_start(const fn_serve_options *o, fn_server **out);
int fn_server_port(const fn_server *s);
/* Stops accepting, lets in-flight requests finish (up to 30 s), closes the galleries. */
void fn_server_stop(fn_server *s);
/* Appends a new random API key (a UUID, CompreFace's format) to keys_file (created with
 * mode 0600 when missing; rewritten atomically); key_out gets it (cap >= 37). */
fn_status fn_serve_new_key(const char *keys_file, char *key_out, size_t cap);

/* ---------------------------------------------------------------- training (src/train) */
/* Training (triplet loss with facenet's semi-hard selection, softmax + center loss) is
 * driven by `facenet train triplet|softmax` (cli/cmd_train.c) over the internal API of
 * src/train/train.h (fn_train, fn_train_options). It exports MODELS/model.safetensors in
 * facenet-pytorch's names, which fn_model_open loads, reduced networks included (the
 * safetensors metadata carries depth, width, image_size, dim and standardize). */

#ifdef __cplusplus
}
#endif
#endif /* FACENET_H */
