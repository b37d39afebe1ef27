/* trainnet.c — the trainable Inception-ResNet-v1: graph construction (reads like the
 * paper's figure: stem, block35 ×n, reduction_a, block17 ×n, reduction_b, block8 ×n,
 * block8 without ReLU, pool, dropout, bottleneck + batch norm, L2), forward in training
 * or inference mode, backward, and import/export in facenet-pytorch's names. */
#include "trainnet.h"
#include "dist/dist.h"

typedef enum { L_CONV, L_BN, L_MAXPOOL, L_CONCAT, L_RESIDUAL, L_GAP, L_DROPOUT, L_DENSE, L_L2NORM } layer_kind;

struct fn_tlayer {
    layer_kind kind;
    int in[4], n_in, out;
    fn_conv_shape cs;          /* L_CONV (N set per batch) */
    int pw, pb;                /* parameter indices: weight, bias/beta (-1 none) */
    int st;                    /* L_BN: index of running_mean (running_var follows) */
    float *mean, *rstd;        /* L_BN: saved batch statistics */
    long rows_all;             /* L_BN: rows the statistics span (all ranks' with sync_bn) */
    fn_act act;
    float scale;               /* L_RESIDUAL */
    int tmp;                   /* L_RESIDUAL: buffer for the up conv's output gradient */
    float *mask;               /* L_DROPOUT */
};

#define NO_DX SIZE_MAX /* dx_off of a buffer outside the gradient arena */
static int plan_gradients(fn_trainnet *net);

void fn_trainnet_config_default(fn_trainnet_config *c) {
    c->depth[0] = 5; c->depth[1] = 10; c->depth[2] = 5;
    c->width = 1.0f;
    c->image_size = 160;
    c->dim = 128;
    c->keep_prob = 1.0f;
    c->bn_decay = 0.995f;
    c->bn_eps = 0.001f;
}

/* ---------------------------------------------------------------- construction */
static int grow(void **p, int *cap, int n, size_t elem) {
    if (n < *cap) return 1;
    int nc = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return 0;
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *p = q; *cap = nc;
    return 1;
}

typedef struct { fn_trainnet *net; int failed; } builder;

static int new_buf(builder *b, int h, int w, int c) {
    fn_trainnet *n = b->net;
    if (b->failed || !grow((void **)&n->bufs, &n->buf_cap, n->n_bufs, sizeof(fn_tbuf))) { b->failed = 1; return 0; }
    n->bufs[n->n_bufs] = (fn_tbuf){h, w, c, NULL, NULL, 0, -1, 0};
    return n->n_bufs++;
}

static int add_tensor(builder *b, fn_tparam **arr, int *count, int *cap, size_t *total,
                      const char *name, int kind, int ndim, const int64_t *shape, int decay) {
    if (b->failed || !grow((void **)arr, cap, *count, sizeof(fn_tparam))) { b->failed = 1; return -1; }
    fn_tparam *p = &(*arr)[*count];
    memset(p, 0, sizeof *p);
    if (snprintf(p->name, sizeof p->name, "%s", name) >= (int)sizeof p->name) { b->failed = 1; return -1; }
    p->ndim = ndim; p->kind = kind; p->decay = decay;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) { p->shape[i] = shape[i]; p->numel *= (size_t)shape[i]; }
    p->offset = *total;
    *total += p->numel;
    return (*count)++;
}

static int add_param(builder *b, const char *name, int kind, int ndim, const int64_t *shape, int decay) {
    fn_trainnet *n = b->net;
    return add_tensor(b, &n->params, &n->n_params, &n->param_cap, &n->n_weights, name, kind, ndim, shape, decay);
}

static fn_tlayer *new_layer(builder *b, layer_kind kind, int in, int out) {
    fn_trainnet *n = b->net;
    if (b->failed || !grow((void **)&n->layers, &n->layer_cap, n->n_layers, sizeof(fn_tlayer))) { b->failed = 1; return NULL; }
    fn_tlayer *l = &n->layers[n->n_layers++];
    memset(l, 0, sizeof *l);
    l->kind = kind; l->in[0] = in; l->n_in = 1; l->out = out; l->pw = l->pb = l->st = -1;
    return l;
}

static int ch(const fn_trainnet *n, int c) {
    int v = (int)(c * n->cfg.width + 0.5f);
    return v < 1 ? 1 : v;
}

/* conv (no bias) -> out buffer; returns its index */
static int conv(builder *b, const char *name, int in, int cout, int kh, int kw, int stride,
                fn_padding pad, int with_bias) {
    fn_trainnet *n = b->net;
    if (b->failed) return 0;
    fn_tbuf src = n->bufs[in];
    fn_conv_shape cs;
    fn_conv_shape_init(&cs, 1, src.h, src.w, src.c, cout, kh, kw, stride, stride, pad);
    if (cs.OH <= 0 || cs.OW <= 0) { b->failed = 2; return 0; }
    int out = new_buf(b, cs.OH, cs.OW, cout);
    char pname[128];
    snprintf(pname, sizeof pname, "%s.weight", name);
    int64_t wshape[4] = {kh, kw, src.c, cout};
    int pw = add_param(b, pname, TN_P_CONV_W, 4, wshape, 1), pb = -1;
    if (with_bias) {
        snprintf(pname, sizeof pname, "%s.bias", name);
        int64_t bshape[1] = {cout};
        pb = add_param(b, pname, TN_P_VEC, 1, bshape, 0);
    }
    fn_tlayer *l = new_layer(b, L_CONV, in, out);
    if (!l) return 0;
    l->cs = cs; l->pw = pw; l->pb = pb;
    return out;
}

/* batch norm with a learned offset (beta) and fixed scale 1, optionally + ReLU */
static int batchnorm(builder *b, const char *name, int in, fn_act act) {
    fn_trainnet *n = b->net;
    if (b->failed) return 0;
    fn_tbuf src = n->bufs[in];
    int out = new_buf(b, src.h, src.w, src.c);
    char pname[128];
    int64_t shape[1] = {src.c};
    snprintf(pname, sizeof pname, "%s.bias", name);
    int pb = add_param(b, pname, TN_P_VEC, 1, shape, 0);
    snprintf(pname, sizeof pname, "%s.running_mean", name);
    int st = add_tensor(b, &n->stats, &n->n_stats, &n->stat_cap, &n->n_stat_floats, pname, TN_P_VEC, 1, shape, 0);
    snprintf(pname, sizeof pname, "%s.running_var", name);
    add_tensor(b, &n->stats, &n->n_stats, &n->stat_cap, &n->n_stat_floats, pname, TN_P_VEC, 1, shape, 0);
    fn_tlayer *l = new_layer(b, L_BN, in, out);
    if (!l) return 0;
    l->pb = pb; l->st = st; l->act = act;
    l->mean = calloc((size_t)src.c * 2, sizeof(float));
    if (!l->mean) { b->failed = 1; return 0; }
    l->rstd = l->mean + src.c;
    return out;
}

/* facenet-pytorch's BasicConv2d: conv (no bias) + BN (eps 0.001) + ReLU */
static int basic(builder *b, const char *prefix, int in, int cout, int kh, int kw, int stride, fn_padding pad) {
    char name[96];
    snprintf(name, sizeof name, "%s.conv", prefix);
    int c = conv(b, name, in, cout, kh, kw, stride, pad, 0);
    snprintf(name, sizeof name, "%s.bn", prefix);
    return batchnorm(b, name, c, FN_ACT_RELU);
}

static int maxpool3x3s2(builder *b, int in) {
    if (b->failed) return 0;
    fn_tbuf src = b->net->bufs[in];
    int oh, ow, pt, pl;
    fn_conv_out_size(src.h, 3, 2, FN_PAD_VALID, &oh, &pt);
    fn_conv_out_size(src.w, 3, 2, FN_PAD_VALID, &ow, &pl);
    if (oh <= 0 || ow <= 0) { b->failed = 2; return 0; }
    int out = new_buf(b, oh, ow, src.c);
    new_layer(b, L_MAXPOOL, in, out);
    return out;
}

/* Branches that end in a batch norm write their channels straight into the concat buffer
 * (a view with the concat's row stride), so they are never copied; others (max pool) are. */
static int concat(builder *b, const int *ins, int n_in) {
    fn_trainnet *n = b->net;
    if (b->failed) return 0;
    int c = 0;
    for (int i = 0; i < n_in; i++) c += n->bufs[ins[i]].c;
    fn_tbuf first = n->bufs[ins[0]];
    int out = new_buf(b, first.h, first.w, c);
    fn_tlayer *l = new_layer(b, L_CONCAT, ins[0], out);
    if (!l) return 0;
    l->n_in = n_in;
    for (int i = 0, off = 0; i < n_in; i++) {
        l->in[i] = ins[i];
        for (int j = n->n_layers - 1; j >= 0; j--)
            if (n->layers[j].out == ins[i]) {
                if (n->layers[j].kind == L_BN) { n->bufs[ins[i]].view_of = out; n->bufs[ins[i]].coff = off; }
                break;
            }
        off += n->bufs[ins[i]].c;
    }
    return out;
}

/* out = act(trunk + scale * (conv1x1(cat) + bias)): the block's "up" conv has a bias, no
 * BN. One layer: the conv adds into a copy of the trunk (GEMM beta = 1), so its output is
 * never stored; only its gradient needs a (scratch) buffer. */
static int residual(builder *b, const char *prefix, int trunk, int cat, float scale, fn_act act) {
    fn_trainnet *n = b->net;
    if (b->failed) return 0;
    fn_tbuf t = n->bufs[trunk], src = n->bufs[cat];
    fn_conv_shape cs;
    fn_conv_shape_init(&cs, 1, src.h, src.w, src.c, t.c, 1, 1, 1, 1, FN_PAD_VALID);
    char pname[128];
    int64_t wshape[4] = {1, 1, src.c, t.c}, bshape[1] = {t.c};
    snprintf(pname, sizeof pname, "%s.conv2d.weight", prefix);
    int pw = add_param(b, pname, TN_P_CONV_W, 4, wshape, 1);
    snprintf(pname, sizeof pname, "%s.conv2d.bias", prefix);
    int pb = add_param(b, pname, TN_P_VEC, 1, bshape, 0);
    int up = new_buf(b, t.h, t.w, t.c);
    int out = new_buf(b, t.h, t.w, t.c);
    fn_tlayer *l = new_layer(b, L_RESIDUAL, trunk, out);
    if (!l) return 0;
    n->bufs[up].grad_only = 1;
    l->n_in = 2; l->in[1] = cat; l->tmp = up; l->cs = cs; l->pw = pw; l->pb = pb;
    l->scale = scale; l->act = act;
    return out;
}

static int block35(builder *b, const char *p, int in, float scale) {
    char n[96];
    int br[3];
    snprintf(n, sizeof n, "%s.branch0", p); br[0] = basic(b, n, in, ch(b->net, 32), 1, 1, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.0", p); br[1] = basic(b, n, in, ch(b->net, 32), 1, 1, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.1", p); br[1] = basic(b, n, br[1], ch(b->net, 32), 3, 3, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch2.0", p); br[2] = basic(b, n, in, ch(b->net, 32), 1, 1, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch2.1", p); br[2] = basic(b, n, br[2], ch(b->net, 32), 3, 3, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch2.2", p); br[2] = basic(b, n, br[2], ch(b->net, 32), 3, 3, 1, FN_PAD_SAME);
    return residual(b, p, in, concat(b, br, 3), scale, FN_ACT_RELU);
}

static int block17(builder *b, const char *p, int in, float scale) {
    char n[96];
    int br[2];
    snprintf(n, sizeof n, "%s.branch0", p); br[0] = basic(b, n, in, ch(b->net, 128), 1, 1, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.0", p); br[1] = basic(b, n, in, ch(b->net, 128), 1, 1, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.1", p); br[1] = basic(b, n, br[1], ch(b->net, 128), 1, 7, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.2", p); br[1] = basic(b, n, br[1], ch(b->net, 128), 7, 1, 1, FN_PAD_SAME);
    return residual(b, p, in, concat(b, br, 2), scale, FN_ACT_RELU);
}

static int block8(builder *b, const char *p, int in, float scale, fn_act act) {
    char n[96];
    int br[2];
    snprintf(n, sizeof n, "%s.branch0", p); br[0] = basic(b, n, in, ch(b->net, 192), 1, 1, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.0", p); br[1] = basic(b, n, in, ch(b->net, 192), 1, 1, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.1", p); br[1] = basic(b, n, br[1], ch(b->net, 192), 1, 3, 1, FN_PAD_SAME);
    snprintf(n, sizeof n, "%s.branch1.2", p); br[1] = basic(b, n, br[1], ch(b->net, 192), 3, 1, 1, FN_PAD_SAME);
    return residual(b, p, in, concat(b, br, 2), scale, act);
}

static int reduction_a(builder *b, int in) { /* mixed_6a: k,l,m,n = 192,192,256,384 */
    int br[3];
    br[0] = basic(b, "mixed_6a.branch0", in, ch(b->net, 384), 3, 3, 2, FN_PAD_VALID);
    br[1] = basic(b, "mixed_6a.branch1.0", in, ch(b->net, 192), 1, 1, 1, FN_PAD_SAME);
    br[1] = basic(b, "mixed_6a.branch1.1", br[1], ch(b->net, 192), 3, 3, 1, FN_PAD_SAME);
    br[1] = basic(b, "mixed_6a.branch1.2", br[1], ch(b->net, 256), 3, 3, 2, FN_PAD_VALID);
    br[2] = maxpool3x3s2(b, in);
    return concat(b, br, 3);
}

static int reduction_b(builder *b, int in) { /* mixed_7a */
    int br[4];
    br[0] = basic(b, "mixed_7a.branch0.0", in, ch(b->net, 256), 1, 1, 1, FN_PAD_SAME);
    br[0] = basic(b, "mixed_7a.branch0.1", br[0], ch(b->net, 384), 3, 3, 2, FN_PAD_VALID);
    br[1] = basic(b, "mixed_7a.branch1.0", in, ch(b->net, 256), 1, 1, 1, FN_PAD_SAME);
    br[1] = basic(b, "mixed_7a.branch1.1", br[1], ch(b->net, 256), 3, 3, 2, FN_PAD_VALID);
    br[2] = basic(b, "mixed_7a.branch2.0", in, ch(b->net, 256), 1, 1, 1, FN_PAD_SAME);
    br[2] = basic(b, "mixed_7a.branch2.1", br[2], ch(b->net, 256), 3, 3, 1, FN_PAD_SAME);
    br[2] = basic(b, "mixed_7a.branch2.2", br[2], ch(b->net, 256), 3, 3, 2, FN_PAD_VALID);
    br[3] = maxpool3x3s2(b, in);
    return concat(b, br, 4);
}

fn_status fn_trainnet_create(const fn_trainnet_config *cfg, fn_trainnet **out) {
    *out = NULL;
    if (cfg->image_size < 16 || cfg->image_size > 4096 || cfg->dim < 1 || cfg->dim > 65536 ||
        !(cfg->width > 0 && cfg->width <= 4) || cfg->depth[0] < 0 || cfg->depth[1] < 0 ||
        cfg->depth[2] < 0 || cfg->depth[0] > 64 || cfg->depth[1] > 64 || cfg->depth[2] > 64 ||
        !(cfg->keep_prob > 0 && cfg->keep_prob <= 1) || !(cfg->bn_decay >= 0 && cfg->bn_decay < 1))
        return fn_fail(FN_ERR_ARG, "train network: invalid configuration (image %d, dim %d, width %g, keep %g)",
                       cfg->image_size, cfg->dim, cfg->width, cfg->keep_prob);
    fn_trainnet *net = calloc(1, sizeof *net);
    if (!net) return fn_fail(FN_ERR_NOMEM, "train network: out of memory");
    net->cfg = *cfg;
    builder B = {net, 0}, *b = &B;
    char name[64];
    int x = net->input = new_buf(b, cfg->image_size, cfg->image_size, 3);
    /* stem */
    x = basic(b, "conv2d_1a", x, ch(net, 32), 3, 3, 2, FN_PAD_VALID);
    x = basic(b, "conv2d_2a", x, ch(net, 32), 3, 3, 1, FN_PAD_VALID);
    x = basic(b, "conv2d_2b", x, ch(net, 64), 3, 3, 1, FN_PAD_SAME);
    x = maxpool3x3s2(b, x);
    x = basic(b, "conv2d_3b", x, ch(net, 80), 1, 1, 1, FN_PAD_VALID);
    x = basic(b, "conv2d_4a", x, ch(net, 192), 3, 3, 1, FN_PAD_VALID);
    x = basic(b, "conv2d_4b", x, ch(net, 256), 3, 3, 2, FN_PAD_VALID);
    net->trunk_channels[0] = b->failed ? 0 : net->bufs[x].c;
    for (int i = 0; i < cfg->depth[0]; i++) { snprintf(name, sizeof name, "repeat_1.%d", i); x = block35(b, name, x, 0.17f); }
    x = reduction_a(b, x);
    net->trunk_channels[1] = b->failed ? 0 : net->bufs[x].c;
    for (int i = 0; i < cfg->depth[1]; i++) { snprintf(name, sizeof name, "repeat_2.%d", i); x = block17(b, name, x, 0.10f); }
    x = reduction_b(b, x);
    net->trunk_channels[2] = b->failed ? 0 : net->bufs[x].c;
    for (int i = 0; i < cfg->depth[2]; i++) { snprintf(name, sizeof name, "repeat_3.%d", i); x = block8(b, name, x, 0.20f, FN_ACT_RELU); }
    x = block8(b, "block8", x, 1.0f, FN_ACT_NONE);
    /* head: global average pool, dropout, bottleneck (no bias) + batch norm, L2 */
    if (!b->failed) {
        int c = net->bufs[x].c;
        int pooled = new_buf(b, 1, 1, c);
        new_layer(b, L_GAP, x, pooled);
        int dropped = new_buf(b, 1, 1, c);
        new_layer(b, L_DROPOUT, pooled, dropped);
        int bottleneck = new_buf(b, 1, 1, cfg->dim);
        int64_t wshape[2] = {c, cfg->dim};
        int pw = add_param(b, "last_linear.weight", TN_P_DENSE_W, 2, wshape, 1);
        fn_tlayer *l = new_layer(b, L_DENSE, dropped, bottleneck);
        if (l) l->pw = pw;
        net->prelogits = batchnorm(b, "last_bn", bottleneck, FN_ACT_NONE);
        net->embedding = new_buf(b, 1, 1, cfg->dim);
        new_layer(b, L_L2NORM, net->prelogits, net->embedding);
    }
    if (b->failed) {
        fn_trainnet_free(net);
        if (B.failed == 2)
            return fn_fail(FN_ERR_ARG, "train network: image size %d is too small for the stem and reductions (at least 75)", cfg->image_size);
        return fn_fail(FN_ERR_NOMEM, "train network: out of memory");
    }
    for (int i = 0; i < net->n_bufs; i++) if (net->bufs[i].c > net->c_max) net->c_max = net->bufs[i].c;
    net->red = calloc((size_t)2 * FN_MAX_WORKERS * 2 * net->c_max, sizeof(double));
    if (!net->red || !plan_gradients(net)) { fn_trainnet_free(net); return fn_fail(FN_ERR_NOMEM, "train network: out of memory"); }
    net->w = calloc(net->n_weights, sizeof(float));
    net->g = calloc(net->n_weights, sizeof(float));
    net->stat = calloc(net->n_stat_floats ? net->n_stat_floats : 1, sizeof(float));
    if (!net->w || !net->g || !net->stat) { fn_trainnet_free(net); return fn_fail(FN_ERR_NOMEM, "train network: out of memory for %zu weights", net->n_weights); }
    fn_trainnet_init(net, 0);
    *out = net;
    return FN_OK;
}

void fn_trainnet_free(fn_trainnet *net) {
    if (!net) return;
    for (int i = 0; i < net->n_layers; i++) { free(net->layers[i].mean); free(net->layers[i].mask); }
    for (int i = 0; i < net->n_bufs; i++) {
        free(net->bufs[i].x);
        if (net->dx_off && net->dx_off[i] == NO_DX && net->bufs[i].view_of < 0) free(net->bufs[i].dx);
    }
    for (int k = 0; k < FN_MAX_WORKERS; k++) {
        fn_free(net->wk[k].ws); free(net->wk[k].tot); free(net->wk[k].stat);
        if (k > 0) free(net->wk[k].g);
    }
    free(net->xr); free(net->xr_counts);
    fn_free(net->dx_arena); free(net->dx_off); free(net->writer); free(net->last_reader); free(net->red);
    free(net->layers); free(net->bufs); free(net->params); free(net->stats);
    free(net->w); free(net->g); free(net->stat);
    free(net);
}

void fn_trainnet_init(fn_trainnet *net, uint64_t seed) {
    uint64_t i = 0;
    for (int p = 0; p < net->n_params; p++) {
        fn_tparam *t = &net->params[p];
        float *w = net->w + t->offset;
        if (t->kind == TN_P_VEC) { memset(w, 0, sizeof(float) * t->numel); continue; }
        double fan_in, fan_out;
        if (t->kind == TN_P_CONV_W) {
            fan_in = (double)t->shape[0] * t->shape[1] * t->shape[2];
            fan_out = (double)t->shape[0] * t->shape[1] * t->shape[3];
        } else { fan_in = (double)t->shape[0]; fan_out = (double)t->shape[1]; }
        float limit = (float)sqrt(6.0 / (fan_in + fan_out));
        for (size_t k = 0; k < t->numel; k++, i++) {
            uint64_t r = fn_splitmix64(seed + i + 1);
            float u = (float)(r >> 40) * (1.0f / 16777216.0f);
            w[k] = (2.0f * u - 1.0f) * limit;
        }
    }
    for (int s = 0; s < net->n_stats; s++) {
        fn_tparam *t = &net->stats[s];
        float v = strstr(t->name, "running_var") ? 1.0f : 0.0f;
        for (size_t k = 0; k < t->numel; k++) net->stat[t->offset + k] = v;
    }
}

const fn_tparam *fn_trainnet_find(const fn_trainnet *net, const char *name) {
    for (int p = 0; p < net->n_params; p++) if (!strcmp(net->params[p].name, name)) return &net->params[p];
    return NULL;
}

/* ---------------------------------------------------------------- memory plan */

static size_t buf_floats(const fn_tbuf *b) { return (size_t)b->h * b->w * b->c; }

/* Writers, last readers and the gradient arena's offsets (see trainnet.h): buffers in the
 * order their gradients become live in the backward, each at the lowest offset clear of
 * the live ranges it overlaps (first fit). */
static int plan_gradients(fn_trainnet *net) {
    const int nb = net->n_bufs;
    net->writer = malloc(sizeof(int) * nb);
    net->last_reader = malloc(sizeof(int) * nb);
    net->dx_off = malloc(sizeof(size_t) * nb);
    int *order = malloc(sizeof(int) * nb);
    if (!net->writer || !net->last_reader || !net->dx_off || !order) { free(order); return 0; }
    for (int b = 0; b < nb; b++) { net->writer[b] = net->last_reader[b] = -1; net->dx_off[b] = NO_DX; }
    net->head = net->n_layers;
    for (int i = 0; i < net->n_layers; i++) {
        const fn_tlayer *l = &net->layers[i];
        net->writer[l->out] = i;
        for (int k = 0; k < l->n_in; k++) net->last_reader[l->in[k]] = i;
        if (l->kind == L_RESIDUAL) net->writer[l->tmp] = net->last_reader[l->tmp] = i;
        if (l->kind == L_GAP && net->head == net->n_layers) net->head = i;
    }
    /* a view's gradient is its concat's: that lives from the earliest branch's writer on */
    for (int b = 0; b < nb; b++) {
        int v = net->bufs[b].view_of;
        if (v >= 0 && net->writer[b] < net->writer[v]) net->writer[v] = net->writer[b];
    }
    int *readers = calloc((size_t)nb, sizeof(int));
    if (!readers) { free(order); return 0; }
    for (int i = 0; i < net->n_layers; i++)
        for (int k = 0; k < net->layers[i].n_in; k++) readers[net->layers[i].in[k]]++;
    for (int i = 0; i < net->n_layers; i++) /* BN backward overwrites its input's gradient */
        FN_ASSERT(net->layers[i].kind != L_BN || readers[net->layers[i].in[0]] == 1);
    free(readers);
    int n = 0;
    for (int b = 0; b < nb; b++)
        if (b != net->input && net->bufs[b].view_of < 0 && net->writer[b] < net->head && net->last_reader[b] < net->head)
            order[n++] = b;
    for (int a = 1; a < n; a++) /* by last reader, latest first (insertion sort: n is small) */
        for (int j = a; j > 0 && net->last_reader[order[j]] > net->last_reader[order[j - 1]]; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    size_t total = 0;
    for (int a = 0; a < n; a++) {
        const int b = order[a];
        const size_t size = (buf_floats(&net->bufs[b]) + 15) & ~(size_t)15;
        size_t off = 0;
        for (int moved = 1; moved;) { /* raise off past every overlapping live range it hits */
            moved = 0;
            for (int j = 0; j < a; j++) {
                const int o = order[j];
                if (net->writer[o] > net->last_reader[b] || net->writer[b] > net->last_reader[o]) continue;
                size_t o0 = net->dx_off[o], o1 = o0 + ((buf_floats(&net->bufs[o]) + 15) & ~(size_t)15);
                if (off < o1 && o0 < off + size) { off = o1; moved = 1; }
            }
        }
        net->dx_off[b] = off;
        if (off + size > total) total = off + size;
    }
    net->dx_floats = total;
    free(order);
    return 1;
}

/* per-worker resources for workers 0 .. W-1 */
static fn_status ensure_workers(fn_trainnet *net, int W) {
    for (int k = 0; k < W; k++) {
        if (!net->wk[k].ws) net->wk[k].ws = fn_malloc(sizeof(float) * (net->ws_size ? net->ws_size : 1));
        if (k > 0 && !net->wk[k].g) net->wk[k].g = calloc(net->n_weights, sizeof(float));
        if (!net->wk[k].tot) {
            net->wk[k].tot = malloc(sizeof(double) * 2 * net->c_max);
            net->wk[k].stat = malloc(sizeof(float) * 2 * net->c_max);
        }
        if (!net->wk[k].ws || (k > 0 && !net->wk[k].g) || !net->wk[k].tot || !net->wk[k].stat)
            return fn_fail(FN_ERR_NOMEM, "train network: out of memory for worker %d", k);
    }
    net->wk[0].g = net->g;
    if (W > net->workers) net->workers = W;
    const int P = fn_dist_size();
    if (net->sync_bn && P > 1 && net->xr_ranks != P) {
        free(net->xr); free(net->xr_counts);
        net->xr = malloc(sizeof(double) * (size_t)(P + 1) * (1 + 2 * net->c_max));
        net->xr_counts = malloc(sizeof(long) * P);
        net->xr_ranks = net->xr && net->xr_counts ? P : 0;
        if (!net->xr_ranks) return fn_fail(FN_ERR_NOMEM, "train network: out of memory");
    }
    return FN_OK;
}

fn_status fn_trainnet_set_batch(fn_trainnet *net, int N) {
    if (N == net->N) return FN_OK;
    if (N <= 0 || N > 1 << 20) return fn_fail(FN_ERR_ARG, "train network: batch size %d", N);
    net->N = 0;
    fn_free(net->dx_arena);
    net->dx_arena = fn_malloc(sizeof(float) * (net->dx_floats ? net->dx_floats * N : 1));
    if (!net->dx_arena) return fn_fail(FN_ERR_NOMEM, "train network: out of memory for %d images", N);
    for (int i = 0; i < net->n_bufs; i++) {
        fn_tbuf *t = &net->bufs[i];
        free(t->x);
        if (net->dx_off[i] == NO_DX && i != net->input && t->view_of < 0) free(t->dx);
        if (t->view_of >= 0) { t->x = t->dx = NULL; continue; }
        size_t n = (size_t)N * buf_floats(t);
        t->x = t->grad_only ? NULL : fn_malloc(sizeof(float) * n);
        if (i == net->input) t->dx = NULL;
        else if (net->dx_off[i] == NO_DX) t->dx = fn_malloc(sizeof(float) * n);
        else t->dx = NULL; /* in the arena: see dx_at */
        if ((!t->x && !t->grad_only) || (i != net->input && net->dx_off[i] == NO_DX && !t->dx)) return fn_fail(FN_ERR_NOMEM, "train network: out of memory for %d images", N);
    }
    size_t ws = 0;
    for (int i = 0; i < net->n_layers; i++) {
        fn_tlayer *l = &net->layers[i];
        if (l->kind == L_CONV || l->kind == L_RESIDUAL) {
            l->cs.N = N; /* an upper bound for every worker's share */
            size_t a = fn_conv2d_workspace(&l->cs), b2 = fn_conv2d_backward_workspace(&l->cs);
            if (a > ws) ws = a;
            if (b2 > ws) ws = b2;
        } else if (l->kind == L_DROPOUT) {
            free(l->mask);
            l->mask = malloc(sizeof(float) * (size_t)N * net->bufs[l->in[0]].c);
            if (!l->mask) return fn_fail(FN_ERR_NOMEM, "train network: out of memory");
        }
    }
    if (ws != net->ws_size)
        for (int k = 0; k < FN_MAX_WORKERS; k++) { fn_free(net->wk[k].ws); net->wk[k].ws = NULL; }
    net->ws_size = ws;
    net->N = N;
    return FN_OK;
}

/* ---------------------------------------------------------------- forward / backward
 * The trunk (stem to the last block) runs data-parallel: each worker of a team takes a
 * share of the images with single-threaded BLAS; batch-norm sums are added over the
 * workers at a barrier, so every worker normalises with the whole batch's statistics.
 * The head (pool, dropout, bottleneck + BN, L2) is tiny and runs on the calling thread. */
typedef struct {
    fn_trainnet *net;
    int N, train;
    int slot;      /* reduction slot, flipped after each sum (per worker: a copy) */
} pass;

/* this worker's images n0.. of buffer b's values or gradients */
static float *at(const fn_tbuf *b, float *base, int n0) { return base ? base + (size_t)n0 * buf_floats(b) : NULL; }

/* Gradient rows of this worker's nb images n0.. of buffer b. In the arena each worker has
 * its own segment (dx_floats per image of its share): workers are not in step between
 * barriers, so one worker's live gradients must not share memory with another's. */
static float *dx_at(const fn_trainnet *net, int b, int n0, int nb) {
    if (net->bufs[b].view_of >= 0) return dx_at(net, net->bufs[b].view_of, n0, nb) + net->bufs[b].coff;
    if (b == net->input) return NULL; /* the input image needs no gradient */
    if (net->dx_off[b] == NO_DX) return net->bufs[b].dx + (size_t)n0 * buf_floats(&net->bufs[b]);
    return net->dx_arena + net->dx_floats * n0 + net->dx_off[b] * nb;
}

/* values of images n0.. of buffer b, and its row stride (a view's is its concat's) */
static float *x_at(const fn_trainnet *net, int b, int n0) {
    const fn_tbuf *t = &net->bufs[b];
    if (t->view_of >= 0) return x_at(net, t->view_of, n0) + t->coff;
    return at(t, t->x, n0);
}

static int ld_of(const fn_trainnet *net, int b) {
    const fn_tbuf *t = &net->bufs[b];
    return t->view_of >= 0 ? net->bufs[t->view_of].c : t->c;
}

static double *red_part(fn_trainnet *net, int slot, int k) {
    return net->red + ((size_t)slot * FN_MAX_WORKERS + k) * 2 * net->c_max;
}

/* dst (n) = the sum of every worker's red_part (n), added in worker order so all workers get
 * the same values. Alternating slots: a part is rewritten only after the next barrier, when
 * every worker has read it. */
static void team_sum(fn_trainnet *net, fn_team *team, int W, int *slot, int n, double *dst) {
    fn_team_barrier(team);
    const double *p0 = red_part(net, *slot, 0);
    for (int c = 0; c < n; c++) dst[c] = p0[c];
    for (int j = 1; j < W; j++) {
        const double *p = red_part(net, *slot, j);
        for (int c = 0; c < n; c++) dst[c] += p[c];
    }
    *slot ^= 1;
}

static int sync_bn_active(const fn_trainnet *net) { return net->sync_bn && net->xr_ranks > 1; }

/* Every rank's (rows, mean, m2) all-gathered and merged in rank order into xr[0 .. 2C]:
 * the same statistics on every rank, as one process with the whole batch would have. */
static void sync_moments(fn_trainnet *net, const double *mu, const double *m2, long rows, int C) {
    const int P = net->xr_ranks, r = fn_dist_rank();
    const long per = 1 + 2L * C;
    double *all = net->xr + per, *mine = all + per * r, *res = net->xr;
    mine[0] = (double)rows;
    memcpy(mine + 1, mu, sizeof(double) * C);
    memcpy(mine + 1 + C, m2, sizeof(double) * C);
    for (int j = 0; j < P; j++) net->xr_counts[j] = per;
    fn_status s = fn_dist_allgather_f64(all, net->xr_counts);
    if (s && !net->dist_status) net->dist_status = s;
    memcpy(res, all, sizeof(double) * per);
    long n = (long)res[0];
    for (int j = 1; j < P; j++) {
        const double *p = all + per * j;
        fn_batchnorm_merge(res + 1, res + 1 + C, n, p + 1, p + 1 + C, (long)p[0], C);
        n += (long)p[0];
    }
    res[0] = (double)n;
}

/* training-mode BN over this worker's rows (nb images) of a batch of N */
static void bn_forward(fn_trainnet *net, fn_tlayer *l, fn_team *team, int k, int W, int *slot,
                       int n0, int nb, int N, int train) {
    fn_tbuf *out = &net->bufs[l->out];
    const int C = out->c;
    const long rows = (long)nb * out->h * out->w, rows_total = (long)N * out->h * out->w;
    const float *x = x_at(net, l->in[0], n0), *beta = net->w + net->params[l->pb].offset;
    float *y = x_at(net, l->out, n0);
    const int ld = ld_of(net, l->out);
    float *rm = net->stat + net->stats[l->st].offset, *rv = net->stat + net->stats[l->st + 1].offset;
    if (!train) {
        if (ld == C) fn_batchnorm_forward_infer(y, x, rows, C, NULL, beta, rm, rv, net->cfg.bn_eps, l->act);
        else { /* into a concat slice: the same as the inference BN, with the row stride */
            float *mean = net->wk[k].stat, *rstd = mean + net->c_max;
            for (int c = 0; c < C; c++) { mean[c] = rm[c]; rstd[c] = 1.0f / sqrtf(rv[c] + net->cfg.bn_eps); }
            fn_batchnorm_apply(y, ld, x, rows, C, mean, rstd, NULL, beta, l->act);
        }
        return;
    }
    float *mean = net->wk[k].stat, *rstd = mean + net->c_max;
    double *mu = net->wk[k].tot, *m2 = mu + net->c_max, *part = red_part(net, *slot, k);
    fn_batchnorm_moments(part, part + C, x, rows, C);
    /* every worker merges all parts in worker order: the same statistics everywhere */
    fn_team_barrier(team);
    const long per_image = (long)out->h * out->w;
    long n = 0;
    for (int j = 0; j < W; j++) {
        const double *p = red_part(net, *slot, j);
        long nj = ((long)N * (j + 1) / W - (long)N * j / W) * per_image;
        if (j == 0) { memcpy(mu, p, sizeof(double) * C); memcpy(m2, p + C, sizeof(double) * C); }
        else fn_batchnorm_merge(mu, m2, n, p, p + C, nj, C);
        n += nj;
    }
    *slot ^= 1;
    long rows_all = rows_total;
    if (sync_bn_active(net)) { /* worker 0 talks to the other ranks; the team reads the result */
        if (k == 0) sync_moments(net, mu, m2, rows_total, C);
        fn_team_barrier(team);
        rows_all = (long)net->xr[0];
        memcpy(mu, net->xr + 1, sizeof(double) * C);
        memcpy(m2, net->xr + 1 + C, sizeof(double) * C);
    }
    /* worker 0 alone moves the running averages and keeps the statistics for backward */
    fn_batchnorm_stats(mean, rstd, mu, m2, rows_all, C, net->cfg.bn_eps, k ? NULL : rm, k ? NULL : rv,
                       net->cfg.bn_decay);
    if (k == 0) { memcpy(l->mean, mean, sizeof(float) * C); memcpy(l->rstd, rstd, sizeof(float) * C); l->rows_all = rows_all; }
    fn_batchnorm_apply(y, ld, x, rows, C, mean, rstd, NULL, beta, l->act);
}

static void bn_backward(fn_trainnet *net, fn_tlayer *l, fn_team *team, int k, int W, int *slot,
                        int n0, int nb, int N) {
    fn_tbuf *out = &net->bufs[l->out];
    const int C = out->c;
    const long rows = (long)nb * out->h * out->w;
    long rows_total = (long)N * out->h * out->w;
    const float *x = x_at(net, l->in[0], n0), *dy = dx_at(net, l->out, n0, nb);
    const int ld = ld_of(net, l->out);
    const float *beta = net->w + net->params[l->pb].offset;
    double *tot = net->wk[k].tot, *part = red_part(net, *slot, k);
    memset(part, 0, sizeof(double) * 2 * C);
    fn_batchnorm_backward_sums(part, part + C, dy, ld, x, l->mean, l->rstd, NULL, beta, rows, C, l->act);
    team_sum(net, team, W, slot, 2 * C, tot);
    if (k == 0) { /* this rank's rows only: the gradient all-reduce adds the other ranks' */
        float *dbeta = net->g + net->params[l->pb].offset;
        for (int c = 0; c < C; c++) dbeta[c] += (float)tot[c];
    }
    if (sync_bn_active(net)) { /* the input gradient needs the sums over every rank's rows */
        if (k == 0) {
            memcpy(net->xr, tot, sizeof(double) * 2 * C);
            fn_status s = fn_dist_sum_f64(net->xr, (size_t)2 * C);
            if (s && !net->dist_status) net->dist_status = s;
        }
        fn_team_barrier(team);
        memcpy(tot, net->xr, sizeof(double) * 2 * C);
        rows_total = l->rows_all;
    }
    float *dx = dx_at(net, l->in[0], n0, nb);
    /* the conv output feeding a BN has no other reader: overwrite (clear_gradients skips it) */
    if (dx) fn_batchnorm_backward_input(dx, 0, dy, ld, x, l->mean, l->rstd, NULL, beta, tot, tot + C, rows_total, rows, C, l->act);
}

static fn_status trunk_forward(void *ctx, fn_team *team, int k, int W) {
    pass *p = ctx;
    fn_trainnet *net = p->net;
    const int n0 = (int)((long)p->N * k / W), nb = (int)((long)p->N * (k + 1) / W) - n0;
    int slot = p->slot;
    for (int i = 0; i < net->head; i++) {
        fn_tlayer *l = &net->layers[i];
        fn_tbuf *in = &net->bufs[l->in[0]], *out = &net->bufs[l->out];
        const long rows = (long)nb * out->h * out->w;
        const float *x = x_at(net, l->in[0], n0);
        float *y = x_at(net, l->out, n0);
        switch (l->kind) {
        case L_CONV: {
            fn_conv_shape cs = l->cs;
            cs.N = nb;
            fn_conv2d_forward(y, out->c, x, in->c, net->w + net->params[l->pw].offset,
                              l->pb >= 0 ? net->w + net->params[l->pb].offset : NULL, &cs, FN_ACT_NONE, net->wk[k].ws);
            break;
        }
        case L_BN:
            bn_forward(net, l, team, k, W, &slot, n0, nb, p->N, p->train);
            break;
        case L_MAXPOOL:
            fn_maxpool_forward(y, out->c, x, in->c, nb, in->h, in->w, in->c, 3, 2, 0, 0, out->h, out->w);
            break;
        case L_CONCAT: {
            int off = 0;
            for (int j = 0; j < l->n_in; j++) {
                fn_tbuf *src = &net->bufs[l->in[j]];
                const float *s = x_at(net, l->in[j], n0);
                if (src->view_of < 0) /* views wrote their channels already */
                    for (long r = 0; r < rows; r++) memcpy(y + r * out->c + off, s + r * src->c, sizeof(float) * src->c);
                off += src->c;
            }
            break;
        }
        case L_RESIDUAL: {
            fn_tbuf *cat = &net->bufs[l->in[1]];
            fn_conv_shape cs = l->cs;
            cs.N = nb;
            memcpy(y, x, sizeof(float) * rows * out->c);
            fn_conv2d_forward_ex(y, out->c, x_at(net, l->in[1], n0), cat->c, net->w + net->params[l->pw].offset, NULL,
                                 net->w + net->params[l->pb].offset, &cs, l->scale, 1.0f, l->act, net->wk[k].ws);
            break;
        }
        default: FN_ASSERT(0);
        }
    }
    return FN_OK;
}

/* clears this worker's rows of the gradients that layer i reads last (they become live) */
static void clear_gradients(fn_trainnet *net, int i, int n0, int nb) {
    const fn_tlayer *l = &net->layers[i];
    if (l->kind == L_BN) return; /* it overwrites its input's gradient */
    for (int j = 0; j < l->n_in; j++) {
        int b = l->in[j];
        if (net->last_reader[b] == i && net->dx_off[b] != NO_DX)
            memset(dx_at(net, b, n0, nb), 0, sizeof(float) * nb * buf_floats(&net->bufs[b]));
    }
}

static fn_status trunk_backward(void *ctx, fn_team *team, int k, int W) {
    pass *p = ctx;
    fn_trainnet *net = p->net;
    const int n0 = (int)((long)p->N * k / W), nb = (int)((long)p->N * (k + 1) / W) - n0;
    int slot = p->slot;
    float *g = net->wk[k].g;
    for (int i = net->head - 1; i >= 0; i--) {
        fn_tlayer *l = &net->layers[i];
        fn_tbuf *in = &net->bufs[l->in[0]], *out = &net->bufs[l->out];
        const long rows = (long)nb * out->h * out->w;
        clear_gradients(net, i, n0, nb);
        const float *x = x_at(net, l->in[0], n0), *y = x_at(net, l->out, n0), *dy = dx_at(net, l->out, n0, nb);
        float *dx = dx_at(net, l->in[0], n0, nb);
        switch (l->kind) {
        case L_CONV: {
            fn_conv_shape cs = l->cs;
            cs.N = nb;
            fn_conv2d_backward(dx, g + net->params[l->pw].offset, l->pb >= 0 ? g + net->params[l->pb].offset : NULL,
                               dy, x, net->w + net->params[l->pw].offset, &cs, net->wk[k].ws);
            break;
        }
        case L_BN:
            bn_backward(net, l, team, k, W, &slot, n0, nb, p->N);
            break;
        case L_MAXPOOL:
            fn_maxpool_backward(dx, dy, x, nb, in->h, in->w, in->c, 3, 2, 0, 0, out->h, out->w);
            break;
        case L_CONCAT: {
            int off = 0;
            for (int j = 0; j < l->n_in; j++) {
                fn_tbuf *src = &net->bufs[l->in[j]];
                float *ds = dx_at(net, l->in[j], n0, nb);
                if (src->view_of >= 0) { off += src->c; continue; } /* a view's gradient is the slice */
                for (long r = 0; r < rows; r++) {
                    float *d = ds + r * src->c;
                    const float *gr = dy + r * out->c + off;
                    for (int c = 0; c < src->c; c++) d[c] += gr[c];
                }
                off += src->c;
            }
            break;
        }
        case L_RESIDUAL: { /* dtrunk += g, dup = scale * g (g: dy through the ReLU), then the up conv */
            fn_conv_shape cs = l->cs;
            cs.N = nb;
            float *dup = dx_at(net, l->tmp, n0, nb);
            memset(dup, 0, sizeof(float) * rows * out->c);
            fn_residual_backward(dx, dup, dy, y, rows * out->c, l->scale, l->act);
            fn_conv2d_backward(dx_at(net, l->in[1], n0, nb), g + net->params[l->pw].offset, g + net->params[l->pb].offset,
                               dup, x_at(net, l->in[1], n0), net->w + net->params[l->pw].offset, &cs, net->wk[k].ws);
            break;
        }
        default: FN_ASSERT(0);
        }
    }
    /* add the workers' weight gradients into g, each worker a slice, and clear them */
    fn_team_barrier(team);
    if (W > 1) {
        size_t lo = net->n_weights * k / W, hi = net->n_weights * (k + 1) / W;
        for (int j = 1; j < W; j++) {
            float *gj = net->wk[j].g;
            for (size_t q = lo; q < hi; q++) { net->g[q] += gj[q]; gj[q] = 0; }
        }
    }
    return FN_OK;
}

fn_status fn_trainnet_forward(fn_trainnet *net, const float *x, int N, int train, const fn_dropout_rows *drop) {
    const fn_dropout_rows no_rows = {0, 0};
    if (!drop) drop = &no_rows;
    FN_TRY(fn_trainnet_set_batch(net, N));
    const int W = fn_parallel_workers(N, 1);
    FN_TRY(ensure_workers(net, W));
    fn_tbuf *in0 = &net->bufs[net->input];
    memcpy(in0->x, x, sizeof(float) * (size_t)N * buf_floats(in0));
    pass p = {net, N, train, 0};
    net->dist_status = FN_OK;
    FN_TRY(fn_parallel_team(W, trunk_forward, &p));
    int slot = 0;
    for (int i = net->head; i < net->n_layers; i++) {
        fn_tlayer *l = &net->layers[i];
        fn_tbuf *in = &net->bufs[l->in[0]], *out = &net->bufs[l->out];
        switch (l->kind) {
        case L_BN:
            bn_forward(net, l, NULL, 0, 1, &slot, 0, N, N, train);
            break;
        case L_GAP:
            fn_global_avgpool_forward(out->x, in->x, N, in->h * in->w, in->c);
            break;
        case L_DROPOUT:
            fn_dropout_forward(out->x, l->mask, in->x, N, out->c, train ? net->cfg.keep_prob : 1.0f, drop->seed, drop->row0);
            break;
        case L_DENSE:
            fn_dense_forward(out->x, in->x, net->w + net->params[l->pw].offset, NULL, N, in->c, out->c);
            break;
        case L_L2NORM:
            fn_l2norm_forward(out->x, in->x, N, out->c, 1e-10f);
            break;
        default: FN_ASSERT(0);
        }
    }
    return net->dist_status;
}

void fn_trainnet_zero_act_grads(fn_trainnet *net) {
    for (int i = 0; i < net->n_bufs; i++) {
        fn_tbuf *t = &net->bufs[i];
        if (i != net->input && t->view_of < 0 && net->dx_off[i] == NO_DX) memset(t->dx, 0, sizeof(float) * (size_t)net->N * buf_floats(t));
    }
}

void fn_trainnet_backward(fn_trainnet *net) {
    const int N = net->N;
    int slot = 0;
    for (int i = net->n_layers - 1; i >= net->head; i--) {
        fn_tlayer *l = &net->layers[i];
        fn_tbuf *in = &net->bufs[l->in[0]], *out = &net->bufs[l->out];
        clear_gradients(net, i, 0, N);
        switch (l->kind) {
        case L_BN:
            bn_backward(net, l, NULL, 0, 1, &slot, 0, N, N);
            break;
        case L_GAP:
            fn_global_avgpool_backward(in->dx, out->dx, N, in->h * in->w, in->c);
            break;
        case L_DROPOUT:
            fn_dropout_backward(in->dx, out->dx, l->mask, (long)N * out->c);
            break;
        case L_DENSE:
            fn_dense_backward(in->dx, net->g + net->params[l->pw].offset, NULL, out->dx, in->x,
                              net->w + net->params[l->pw].offset, N, in->c, out->c);
            break;
        case L_L2NORM:
            fn_l2norm_backward(in->dx, out->dx, in->x, out->x, N, out->c, 1e-10f);
            break;
        default: FN_ASSERT(0);
        }
    }
    int W = fn_parallel_workers(N, 1);
    if (W > net->workers) W = net->workers; /* the forward allocated for this many */
    pass p = {net, N, 1, 0};
    fn_parallel_team(W, trunk_backward, &p); /* cannot fail */
}

double fn_trainnet_weight_decay(fn_trainnet *net, float wd, int add_grad) {
    double s = 0;
    for (int p = 0; p < net->n_params; p++) {
        const fn_tparam *t = &net->params[p];
        if (!t->decay) continue;
        const float *w = net->w + t->offset;
        float *g = net->g + t->offset;
        for (size_t k = 0; k < t->numel; k++) {
            s += (double)w[k] * w[k];
            if (add_grad) g[k] += wd * w[k];
        }
    }
    return 0.5 * wd * s;
}

/* ---------------------------------------------------------------- import / export */
/* shape of a parameter in facenet-pytorch's layout */
static int torch_shape(const fn_tparam *t, int64_t shape[4]) {
    if (t->kind == TN_P_CONV_W) {
        shape[0] = t->shape[3]; shape[1] = t->shape[2]; shape[2] = t->shape[0]; shape[3] = t->shape[1];
        return 4;
    }
    if (t->kind == TN_P_DENSE_W) { shape[0] = t->shape[1]; shape[1] = t->shape[0]; return 2; }
    shape[0] = t->shape[0];
    return 1;
}

/* internal (HWIO / in,out) <-> torch (OIHW / out,in); to_torch selects the direction */
static void permute(const fn_tparam *t, const float *src, float *dst, int to_torch) {
    if (t->kind == TN_P_CONV_W) {
        int64_t KH = t->shape[0], KW = t->shape[1], CI = t->shape[2], CO = t->shape[3];
        for (int64_t y = 0; y < KH; y++)
            for (int64_t x = 0; x < KW; x++)
                for (int64_t i = 0; i < CI; i++)
                    for (int64_t o = 0; o < CO; o++) {
                        size_t hwio = ((y * KW + x) * CI + i) * CO + o, oihw = ((o * CI + i) * KH + y) * KW + x;
                        if (to_torch) dst[oihw] = src[hwio]; else dst[hwio] = src[oihw];
                    }
    } else if (t->kind == TN_P_DENSE_W) {
        int64_t I = t->shape[0], O = t->shape[1];
        for (int64_t i = 0; i < I; i++)
            for (int64_t o = 0; o < O; o++) {
                if (to_torch) dst[o * I + i] = src[i * O + o]; else dst[i * O + o] = src[o * I + i];
            }
    } else memcpy(dst, src, sizeof(float) * t->numel);
}

fn_status fn_trainnet_export(const fn_trainnet *net, const float *w, fn_tensor_set *ts, char **meta_json) {
    for (int p = 0; p < net->n_params; p++) {
        const fn_tparam *t = &net->params[p];
        int64_t shape[4];
        int nd = torch_shape(t, shape);
        float *d = malloc(sizeof(float) * t->numel);
        if (!d) return fn_fail(FN_ERR_NOMEM, "export: out of memory");
        permute(t, w + t->offset, d, 1);
        FN_TRY(fn_tensor_set_add(ts, t->name, FN_F32, nd, shape, d, 1));
    }
    for (int s = 0; s < net->n_stats; s++) {
        const fn_tparam *t = &net->stats[s];
        float *d = malloc(sizeof(float) * t->numel);
        if (!d) return fn_fail(FN_ERR_NOMEM, "export: out of memory");
        memcpy(d, net->stat + t->offset, sizeof(float) * t->numel);
        FN_TRY(fn_tensor_set_add(ts, t->name, FN_F32, 1, t->shape, d, 1));
        if (strstr(t->name, ".running_mean")) {
            /* TF slim fixes the BN scale at 1; facenet-pytorch stores it as weight */
            char name[96];
            snprintf(name, sizeof name, "%.*s.weight", (int)(strlen(t->name) - strlen(".running_mean")), t->name);
            float *one = malloc(sizeof(float) * t->numel);
            if (!one) return fn_fail(FN_ERR_NOMEM, "export: out of memory");
            for (size_t k = 0; k < t->numel; k++) one[k] = 1.0f;
            FN_TRY(fn_tensor_set_add(ts, name, FN_F32, 1, t->shape, one, 1));
        }
    }
    if (meta_json) {
        char *m = malloc(256);
        if (!m) return fn_fail(FN_ERR_NOMEM, "export: out of memory");
        snprintf(m, 256, "{\"arch\":\"inception_resnet_v1\",\"depth\":\"%d,%d,%d\",\"width\":\"%g\","
                 "\"image_size\":\"%d\",\"dim\":\"%d\"}", net->cfg.depth[0], net->cfg.depth[1],
                 net->cfg.depth[2], net->cfg.width, net->cfg.image_size, net->cfg.dim);
        *meta_json = m;
    }
    return FN_OK;
}

fn_status fn_trainnet_import(fn_trainnet *net, const fn_tensor_set *ts) {
    for (int p = 0; p < net->n_params; p++) {
        const fn_tparam *t = &net->params[p];
        int64_t shape[4];
        int nd = torch_shape(t, shape);
        const float *src;
        FN_TRY(fn_tensor_set_get_f32(ts, t->name, nd, shape, &src));
        permute(t, src, net->w + t->offset, 0);
    }
    for (int s = 0; s < net->n_stats; s++) {
        const fn_tparam *t = &net->stats[s];
        const float *src;
        FN_TRY(fn_tensor_set_get_f32(ts, t->name, 1, t->shape, &src));
        memcpy(net->stat + t->offset, src, sizeof(float) * t->numel);
    }
    return FN_OK;
}

static const char *meta_value(const char *json, const char *key, char *buf, size_t n) {
    if (!json) return NULL;
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\": \"", key);
        p = strstr(json, pat);
        if (!p) return NULL;
    }
    p += strlen(pat);
    size_t k = 0;
    while (p[k] && p[k] != '"' && k + 1 < n) { buf[k] = p[k]; k++; }
    buf[k] = 0;
    return buf;
}

fn_status fn_trainnet_config_from_model(const fn_tensor_set *ts, fn_trainnet_config *cfg) {
    char v[64];
    const fn_tensor *t = fn_tensor_set_find(ts, "conv2d_1a.conv.weight");
    const fn_tensor *ll = fn_tensor_set_find(ts, "last_linear.weight");
    if (!t || t->ndim != 4 || !ll || ll->ndim != 2)
        return fn_fail(FN_ERR_MISSING, "model: not an Inception-ResNet-v1 (conv2d_1a.conv.weight / last_linear.weight missing)");
    cfg->dim = (int)ll->shape[0];
    if (meta_value(ts->metadata_json, "width", v, sizeof v)) cfg->width = strtof(v, NULL);
    else cfg->width = (float)t->shape[0] / 32.0f;
    if (meta_value(ts->metadata_json, "image_size", v, sizeof v)) cfg->image_size = atoi(v);
    if (meta_value(ts->metadata_json, "depth", v, sizeof v)) {
        if (sscanf(v, "%d,%d,%d", &cfg->depth[0], &cfg->depth[1], &cfg->depth[2]) != 3)
            return fn_fail(FN_ERR_FORMAT, "model: bad depth metadata '%s'", v);
    } else {
        const char *stage[3] = {"repeat_1", "repeat_2", "repeat_3"};
        for (int s = 0; s < 3; s++) {
            int d = 0;
            char name[64];
            for (;;) {
                snprintf(name, sizeof name, "%s.%d.conv2d.weight", stage[s], d);
                if (!fn_tensor_set_find(ts, name)) break;
                d++;
            }
            cfg->depth[s] = d;
        }
    }
    return FN_OK;
}
