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

/* Decode JPEG/PNG/PGM/PPM/BMP/GIF by content. exif_rotate: apply JPEG EXIF orientation. */
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
/* *faces is malloc'd (free with free()); sorted by score, descending. params NULL = defaults */
fn_status fn_detect(fn_detector *d, const fn_image *img, const fn_detect_params *params,
                    fn_face **faces, int *n_faces);
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
 * recognised from its tensor names. */
fn_status fn_model_open(const char *path, fn_model **out);
void fn_model_close(fn_model *m);
int fn_model_dim(const fn_model *m);
int fn_model_input_size(const fn_model *m);
const char *fn_model_arch(const fn_model *m);
/* A stable id of the weights (hex digest), stored by classifiers to refuse other models. */
const char *fn_model_id(const fn_model *m);
void fn_model_set_standardize(fn_model *m, fn_standardize s);
/* crops: n images of input_size×input_size. out: n×dim L2-normalised embeddings. */
fn_status fn_model_embed(fn_model *m, const fn_image *crops, int n, float *out);
/* The crop this model expects for a detected face (margin crop or 5-point chip). */
fn_status fn_model_crop(const fn_model *m, const fn_image *img, const fn_face *face,
                        fn_image *out);

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

/* ---------------------------------------------------------------- clustering / classification (src/cluster, src/classify) */

/* ---------------------------------------------------------------- training (src/train) */

#ifdef __cplusplus
}
#endif
#endif /* FACENET_H */
