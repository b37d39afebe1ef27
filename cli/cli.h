/* cli.h — shared pieces of the facenet command line: error printing, option parsing
 * helpers, and where default models are found. Only the CLI prints and picks exit codes. */
#ifndef FN_CLI_H
#define FN_CLI_H
#include "facenet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints "facenet CMD: error: <fmt>" on stderr; returns 1 (use as `return cli_error(...)`). */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "facenet CMD: <status text>: <fn_last_error()>"; returns 1. */
int cli_status_error(const char *cmd, fn_status s);

/* Option helpers. argv[*i] is the current argument. Accepts "--name value" and "--name=value".
 * Return 1 when matched (advancing *i past a separate value), 0 when not; a missing value
 * sets *err. */
int cli_opt_str(int argc, char **argv, int *i, const char *name, const char **val, int *err);
int cli_opt_int(int argc, char **argv, int *i, const char *name, int *val, int *err);
int cli_opt_float(int argc, char **argv, int *i, const char *name, float *val, int *err);
int cli_flag(char **argv, int i, const char *name);
/* "a,b,c" → the three MTCNN score thresholds, each in [0,1]; returns 0 when malformed. */
int cli_parse_thresholds(const char *v, float t[3]);
/* --standardize: "fixed" or "prewhiten" into *std; otherwise prints the error and returns 1. */
int cli_parse_standardize(const char *cmd, const char *v, fn_standardize *std);

/* compare.py's output: "Distance matrix" and the n x n Euclidean distances (row-major)
 * in its column layout, on stdout. */
void cli_print_distance_matrix(const float *dist, int n);
/* The same matrix as a JSON array of rows, on stdout. */
void cli_print_distance_matrix_json(const float *dist, int n);

/* Default model locations: $FACENET_MODELS, else ./models, else <exe dir>/../models.
 * Returns a malloc'd path of the first that exists, or NULL (and the message says how to get one). */
char *cli_default_model(void);   /* the default embedding model (.safetensors) */
char *cli_default_mtcnn(void);   /* the MTCNN weights folder or file */
char *cli_default_landmark68(void); /* face-api's 68-point landmark net */
const char *cli_models_hint(void);
/* LFW_DIR/pairs.txt, else LFW_DIR/../pairs.txt (malloc'd), or NULL when neither exists. */
char *cli_default_lfw_pairs(const char *lfw_dir);

/* The embedding model / MTCNN detector of --model / --mtcnn (NULL: the defaults); on
 * failure the error is printed and 1 returned (0 on success). */
int cli_open_model(const char *cmd, const char *model_arg, fn_model **m);
int cli_open_detector(const char *cmd, const char *mtcnn_arg, fn_detector **det);
/* --draw OUT.png for image index of n: OUT.png when n == 1, else OUT_index.png (malloc'd). */
char *cli_draw_path(const char *out, int index, int n);
/* A face box with a name label on a filled band above it (below at the top edge). */
void cli_draw_named_box(fn_image *img, const float box[4], const char *text, uint32_t rgb);

/* MPI jobs (src/dist): cli_dist_begin joins the job when an MPI launcher started the
 * process (else prints why it cannot and returns 1); cli_dist_end(rc) leaves it, and a
 * rank that failed ends every rank (the others may be waiting in a collective). */
int cli_dist_begin(const char *cmd);
int cli_dist_end(int rc);

/* Subcommands: int cmd_NAME(int argc, char **argv) where argv[0] is the subcommand name. */
#define FN_CLI_COMMANDS(X) \
    X(embed, "embed aligned face crops (-o out.npy, --json)") \
    X(convert, "convert published weights (.pt, .pb, .npy, TF.js) to safetensors") \
    X(inspect, "list the tensors of a weight file") \
    X(detect, "detect faces and 5 landmarks (MTCNN)") \
    X(align, "align a dataset folder (align_dataset_mtcnn)") \
    X(compare, "distance matrix of the faces in images") \
    X(export_embeddings, "embed a dataset folder to embeddings.npy/labels.npy") \
    X(cluster, "cluster the faces in a folder of photos") \
    X(classify, "train / predict an SVM classifier on embeddings") \
    X(validate, "LFW validation (10-fold accuracy, VAL@FAR, AUC, EER)") \
    X(train, "train with triplet loss or softmax/center loss") \
    X(gallery, "a persistent face gallery: enroll, identify, list, remove, rename, ...") \
    X(quantize, "int8 model file from a float one (calibrated on face photos)") \
    X(video, "track and name the faces in a video file, stream or camera") \
    X(serve, "CompreFace-compatible REST service with a web page (libmicrohttpd)")

#define X(name, help) int cmd_##name(int argc, char **argv) __attribute__((weak));
FN_CLI_COMMANDS(X)
#undef X
#endif
