/* trainnet.h — a trainable Inception-ResNet-v1 (facenet/src/models/inception_resnet_v1.py)
 * whose depth (blocks per stage), channel width and input size are parameters.
 *
 * The network is a list of layers over activation buffers (NHWC), each with a value and a
 * gradient; a branch's last buffer may be a view into its concat buffer, and the trunk's
 * gradients share one liveness-planned arena. The trunk runs data-parallel over the batch
 * (batch-norm statistics merged across workers), the small head on the calling thread.
 * Parameters live in one flat array (and gradients in another of the same layout) so
 * optimizers and the weight average work on plain vectors. Tensors are named as
 * facenet-pytorch's state_dict; conv weights are stored HWIO internally and transposed to
 * OIHW only on export. */
#ifndef FN_TRAINNET_H
#define FN_TRAINNET_H
#include "core.h"
#include "tensors.h"
#include "ops/ops_backward.h"

typedef struct {
    int depth[3];      /* block35, block17, block8 repeats: 5,10,5 in the full network */
    float width;       /* channel multiplier (1 = full) */
    int image_size;    /* 160 */
    int dim;           /* bottleneck / embedding size (128 in train_tripletloss, 512 in the 2018 models) */
    float keep_prob;   /* dropout before the bottleneck */
    float bn_decay;    /* 0.995 */
    float bn_eps;      /* 0.001 */
} fn_trainnet_config;

void fn_trainnet_config_default(fn_trainnet_config *c);

typedef struct {
    char name[128];
    int ndim;
    int64_t shape[4];   /* internal layout: conv HWIO, dense (in,out), vectors (C) */
    size_t offset, numel;
    int decay;          /* L2 weight decay applies (conv / dense weights, not biases or betas) */
    int kind;           /* TN_P_CONV_W, TN_P_DENSE_W, TN_P_VEC */
} fn_tparam;
enum { TN_P_CONV_W = 0, TN_P_DENSE_W = 1, TN_P_VEC = 2 };

typedef struct {
    int h, w, c;        /* per image h*w*c; N images */
    float *x, *dx;
    int grad_only;      /* scratch for a gradient: no value is kept */
    int view_of, coff;  /* >= 0: a channel slice (from coff) of that concat buffer, row
                           stride its c; x and dx are NULL, the concat's hold the values */
} fn_tbuf;

typedef struct fn_tlayer fn_tlayer;

typedef struct {
    fn_trainnet_config cfg;
    fn_tparam *params; int n_params;
    size_t n_weights;           /* floats in the flat parameter vector */
    float *w, *g;               /* parameters, gradients */
    /* batch-norm moving statistics: running_mean then running_var per BN, flat */
    fn_tparam *stats; int n_stats; size_t n_stat_floats; float *stat;
    fn_tbuf *bufs; int n_bufs;
    fn_tlayer *layers; int n_layers;
    int N;                      /* images the buffers hold */
    /* The trunk's activation gradients share one arena: a gradient lives from the backward
     * of its buffer's last reader (which clears it) to that of its writer, and gradients
     * whose lives overlap get disjoint ranges. dx_off: floats per image (SIZE_MAX: the
     * buffer has its own dx, or none for the input). */
    float *dx_arena; size_t dx_floats; size_t *dx_off;
    int *writer, *last_reader;  /* per buffer: the layer writing it, the last layer reading it */
    int head;                   /* first layer after the trunk (global average pool) */
    /* the trunk runs data-parallel: per worker a conv workspace, weight gradients (worker 0
     * adds into g directly) and scratch for the batch-norm sums */
    struct { float *g, *ws, *stat; double *tot; } wk[FN_MAX_WORKERS];
    int workers;                /* workers with resources */
    size_t ws_size;             /* floats of each workspace */
    double *red; int c_max;     /* per-worker partial sums: [2 slots][FN_MAX_WORKERS][2 * c_max] */
    int input, prelogits, embedding; /* buffer indices */
    int trunk_channels[3];      /* block35 / block17 / block8 channels (256/896/1792 full) */
    int layer_cap, buf_cap, param_cap, stat_cap;
    /* MPI (src/dist): with sync_bn and several ranks, training-mode batch norm uses the
     * statistics of every rank's rows (all-gathered moments, merged in rank order; the
     * backward's sums all-reduced); otherwise each rank normalises over its own rows.
     * xr: [result | rank 0 | rank 1 ...] moments; dist_status: the first failure of a
     * collective inside a pass (the pass itself cannot return it). */
    int sync_bn;
    double *xr; long *xr_counts; int xr_ranks;
    fn_status dist_status;
} fn_trainnet;

/* Builds the graph for the config (fails if the image is too small for the stages). */
fn_status fn_trainnet_create(const fn_trainnet_config *cfg, fn_trainnet **out);
void fn_trainnet_free(fn_trainnet *net);
/* Xavier-uniform weights (slim's xavier_initializer: U(±sqrt(6/(fan_in+fan_out)))) drawn
 * in parameter order from splitmix64(seed + i + 1); biases/betas 0; BN stats 0 / 1. */
void fn_trainnet_init(fn_trainnet *net, uint64_t seed);
/* (Re)allocates activations for N images. */
fn_status fn_trainnet_set_batch(fn_trainnet *net, int N);
/* Where a forward pass's dropout masks come from: image n's from (seed, row0 + n), row0
 * being its row in the global batch, so every split of a batch (ranks) draws the same. */
typedef struct { uint64_t seed; long row0; } fn_dropout_rows;
/* x: N images (N, S, S, 3) standardised. train: batch statistics (moving averages
 * updated), dropout drawn as drop says (NULL: seed 0, row 0); else moving statistics, no
 * dropout. Results: net->bufs[net->embedding].x (N, dim, L2-normalised), prelogits before it. */
fn_status fn_trainnet_forward(fn_trainnet *net, const float *x, int N, int train, const fn_dropout_rows *drop);
/* Clears the head's activation gradients (call before filling the output gradients; the
 * trunk's are cleared during the backward as they become live). */
void fn_trainnet_zero_act_grads(fn_trainnet *net);
/* Backpropagates from the gradients in bufs[embedding].dx and bufs[prelogits].dx into
 * net->g (added: clear net->g once per step). Needs the preceding training forward.
 * With sync_bn across ranks a failed collective is left in net->dist_status. */
void fn_trainnet_backward(fn_trainnet *net);
/* L2 regularisation loss wd * sum(w^2) / 2 over decayed tensors (tf.nn.l2_loss); when
 * add_grad, adds wd * w into net->g. */
double fn_trainnet_weight_decay(fn_trainnet *net, float wd, int add_grad);
const fn_tparam *fn_trainnet_find(const fn_trainnet *net, const char *name);

/* Export to facenet-pytorch names and layouts (conv OIHW, last_linear [dim, C], bn.weight
 * ones, num_batches_tracked), from the weights w (pass net->w or an averaged copy), into
 * ts. Adds metadata keys to *meta_json (malloc'd JSON object): arch, depth, width,
 * image_size, dim. */
fn_status fn_trainnet_export(const fn_trainnet *net, const float *w, fn_tensor_set *ts, char **meta_json);
/* Loads weights (and BN statistics) from a tensor set with facenet-pytorch names;
 * tensors must exist with matching shapes. Leaves net->w / net->stat filled. */
fn_status fn_trainnet_import(fn_trainnet *net, const fn_tensor_set *ts);
/* Reads depth/width/image_size/dim from a model's metadata (or infers depth from the
 * names and width from the shapes); fields not found keep their values in cfg. */
fn_status fn_trainnet_config_from_model(const fn_tensor_set *ts, fn_trainnet_config *cfg);
#endif
