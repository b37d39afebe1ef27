/* test_train_torch.c — the trainable Inception-ResNet-v1 (1 block per stage, width 0.25,
 * 80x80, 16-d, 12 images = 4 triplets) against PyTorch autograd
 * (tools/gen_train_fixtures.py -> tests/fixtures/train/irv1_small.json): the loss of each
 * of 4 forward passes, every parameter's gradient (norm and 5 samples), every parameter
 * after 3 Adagrad steps, the batch-norm moving statistics; then the five optimizers'
 * update rules against float64 numpy. Weights and inputs are regenerated from splitmix64.
 * Tolerances (float32 vs float32 with other summation orders, amplified by batch norm over
 * 12 x 3 x 3 values in the middle stages): loss 1e-4 relative, gradient norms 5e-3
 * relative, gradient samples 2e-2 of the tensor's max |g|, weights after 3 steps 2e-4
 * absolute, BN moving means 5e-4 absolute (sums), variances 1e-4 relative. */
#include "test_util.h"
#include "core/json.h"
#include "train/trainnet.h"
#include "train/optimizer.h"

static double num(const fn_json *o, const char *k) {
    const fn_json *v = fn_json_get(o, k);
    if (!v) { fprintf(stderr, "fixture: missing %s\n", k); exit(1); }
    return v->number;
}

int main(void) {
    uint8_t *text; size_t len;
    fn_json *fx;
    if (fn_read_file(FN_SOURCE_DIR "/tests/fixtures/train/irv1_small.json", &text, &len) ||
        fn_json_parse((char *)text, len, &fx)) { fprintf(stderr, "fixture: %s\n", fn_last_error()); return 1; }
    free(text);
    const fn_json *cfgj = fn_json_get(fx, "config");
    fn_trainnet_config cfg;
    fn_trainnet_config_default(&cfg);
    const fn_json *depth = fn_json_get(cfgj, "depth");
    for (int i = 0; i < 3; i++) cfg.depth[i] = (int)fn_json_at(depth, i)->number;
    cfg.width = (float)num(cfgj, "width");
    cfg.image_size = (int)num(cfgj, "image");
    cfg.dim = (int)num(cfgj, "dim");
    const int N = (int)num(cfgj, "batch"), steps = (int)num(cfgj, "steps");
    const float alpha = (float)num(cfgj, "alpha"), wd = (float)num(cfgj, "wd"), lr = (float)num(cfgj, "lr");
    fn_trainnet *net;
    if (fn_trainnet_create(&cfg, &net)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    fn_trainnet_init(net, (uint64_t)num(cfgj, "weight_seed"));
    printf("network: depth %d,%d,%d width %g, %dx%d, dim %d: %d tensors, %zu weights, trunk %d/%d/%d\n",
           cfg.depth[0], cfg.depth[1], cfg.depth[2], cfg.width, cfg.image_size, cfg.image_size, cfg.dim,
           net->n_params, net->n_weights, net->trunk_channels[0], net->trunk_channels[1], net->trunk_channels[2]);

    /* the parameter table must be PyTorch's, in order */
    const fn_json *plist = fn_json_get(fx, "params");
    CHECK_MSG(plist->n == net->n_params, "tensor count %d vs torch %d", net->n_params, plist->n);
    int names_ok = 1;
    for (int p = 0; p < net->n_params && p < plist->n; p++) {
        const fn_json *r = fn_json_at(plist, p);
        const fn_json *shape = fn_json_get(r, "shape");
        int same = !strcmp(fn_json_get(r, "name")->string, net->params[p].name) && shape->n == net->params[p].ndim;
        for (int d = 0; same && d < shape->n; d++) same = (int64_t)fn_json_at(shape, d)->number == net->params[p].shape[d];
        if (!same) { names_ok = 0; fprintf(stderr, "tensor %d: %s vs torch %s\n", p, net->params[p].name, fn_json_get(r, "name")->string); }
    }
    CHECK_MSG(names_ok, "parameter names/shapes differ from PyTorch's");

    const long S = cfg.image_size;
    float *x = malloc(sizeof(float) * N * S * S * 3);
    uint64_t in_seed = (uint64_t)num(cfgj, "input_seed");
    for (long i = 0; i < N * S * S * 3; i++)
        x[i] = 2.0f * ((float)(fn_splitmix64(in_seed + i + 1) >> 40) * (1.0f / 16777216.0f)) - 1.0f;

    fn_optimizer opt;
    fn_optimizer_init(&opt, FN_OPT_ADAGRAD, net->n_weights);
    const fn_json *stepj = fn_json_get(fx, "steps");
    for (int step = 0; step <= steps; step++) {
        memset(net->g, 0, sizeof(float) * net->n_weights);
        if (fn_trainnet_forward(net, x, N, 1, NULL)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        fn_trainnet_zero_act_grads(net);
        float *emb = net->bufs[net->embedding].x;
        float tl = fn_triplet_loss(net->bufs[net->embedding].dx, emb, N / 3, cfg.dim, alpha, 1.0f);
        double reg = fn_trainnet_weight_decay(net, wd, 1);
        const fn_json *want = fn_json_at(stepj, step);
        printf("step %d: loss %.6f (torch %.6f), triplet %.6f (torch %.6f), reg %.6f (torch %.6f)\n", step,
               tl + reg, num(want, "loss"), tl, num(want, "triplet"), reg, num(want, "reg"));
        CHECK_MSG(fabs(tl + reg - num(want, "loss")) <= 1e-4 * fabs(num(want, "loss")) + 1e-5, "step %d loss", step);
        CHECK_MSG(fabs(tl - num(want, "triplet")) <= 2e-4, "step %d triplet loss", step);
        if (step == 0) {
            const fn_json *es = fn_json_get(fx, "embedding_sample");
            float got[64], ref[64];
            int k = 0;
            for (int n = 0; n < N; n++) for (int d = 0; d < 4; d++, k++) { got[k] = emb[n * cfg.dim + d]; ref[k] = (float)fn_json_at(es, k)->number; }
            CHECK_CLOSE("embeddings (12 x first 4)", got, ref, k, 2e-5);
        }
        if (step == steps) break;
        fn_trainnet_backward(net);
        if (step == 0) {
            double worst_norm = 0, worst_sample = 0;
            const char *wn = "", *ws = "";
            for (int p = 0; p < net->n_params && p < plist->n; p++) {
                const fn_json *r = fn_json_at(plist, p);
                const fn_tparam *t = &net->params[p];
                const float *g = net->g + t->offset;
                double nrm = 0;
                for (size_t k = 0; k < t->numel; k++) nrm += (double)g[k] * g[k];
                nrm = sqrt(nrm);
                double tn = num(r, "grad_norm"), tmax = num(r, "grad_maxabs");
                double en = fabs(nrm - tn) / fmax(tn, 1e-4); /* floor: block8.conv2d.bias is ~0 (a constant the batch-normed bottleneck removes) */
                if (getenv("FN_VERBOSE")) printf("    %-40s norm %.5g torch %.5g\n", t->name, nrm, tn);
                if (en > worst_norm) { worst_norm = en; wn = t->name; }
                const fn_json *idx = fn_json_get(r, "idx"), *gs = fn_json_get(r, "grad");
                for (int s = 0; s < idx->n; s++) {
                    double e = fabs(g[(size_t)fn_json_at(idx, s)->number] - fn_json_at(gs, s)->number) / fmax(tmax, 1e-4);
                    if (e > worst_sample) { worst_sample = e; ws = t->name; }
                }
            }
            printf("  gradients of %d tensors: worst norm rel-err %.3g (%s), worst sample err / max|g| %.3g (%s)\n",
                   net->n_params, worst_norm, wn, worst_sample, ws);
            CHECK_MSG(worst_norm <= 5e-3, "gradient norm rel-err %g > 5e-3 (%s)", worst_norm, wn);
            CHECK_MSG(worst_sample <= 2e-2, "gradient sample err %g > 2e-2 (%s)", worst_sample, ws);
        }
        fn_optimizer_step(&opt, net->w, net->g, lr);
    }
    /* parameters after the Adagrad steps */
    double worst = 0;
    const char *wname = "";
    for (int p = 0; p < net->n_params && p < plist->n; p++) {
        const fn_json *r = fn_json_at(plist, p);
        const fn_json *idx = fn_json_get(r, "idx"), *fin = fn_json_get(r, "final");
        const float *w = net->w + net->params[p].offset;
        for (int s = 0; s < idx->n; s++) {
            double e = fabs(w[(size_t)fn_json_at(idx, s)->number] - fn_json_at(fin, s)->number);
            if (e > worst) { worst = e; wname = net->params[p].name; }
        }
    }
    printf("  parameters after %d Adagrad steps (lr %g): worst max-abs %.3g (%s)\n", steps, lr, worst, wname);
    CHECK_MSG(worst <= 2e-4, "parameters after the steps differ by %g (%s)", worst, wname);
    /* moving statistics after 4 training-mode forwards */
    const fn_json *stats = fn_json_get(fx, "stats");
    double worst_stat = 0;
    for (int s = 0; s < stats->n; s++) {
        const fn_json *r = fn_json_at(stats, s);
        const fn_tparam *m = &net->stats[2 * s], *v = &net->stats[2 * s + 1];
        double ms = 0, vs = 0;
        for (size_t k = 0; k < m->numel; k++) { ms += net->stat[m->offset + k]; vs += net->stat[v->offset + k]; }
        /* means sum signed values (cancellation): absolute 5e-4; variances: relative 1e-4 */
        double e = fmax(fabs(ms - num(r, "mean_sum")) / 5e-4, fabs(vs - num(r, "var_sum")) / (1e-4 * fabs(num(r, "var_sum"))));
        if (getenv("FN_VERBOSE")) printf("    %s mean sum %.6g torch %.6g, var sum %.6g torch %.6g\n", fn_json_get(r, "name")->string, ms, num(r, "mean_sum"), vs, num(r, "var_sum"));
        if (e > worst_stat) worst_stat = e;
    }
    printf("  BN moving mean/var sums of %d layers: worst error / tolerance %.3g\n", stats->n, worst_stat);
    CHECK_MSG(worst_stat <= 1, "BN moving statistics: error %g x tolerance", worst_stat);

    /* optimizers: 4 steps on a 6-vector against float64 numpy */
    const fn_json *oj = fn_json_get(fx, "optimizers");
    int on = (int)num(oj, "n"), ot = (int)num(oj, "steps");
    float olr = (float)num(oj, "lr");
    const char *kinds[5] = {"ADAGRAD", "ADADELTA", "ADAM", "RMSPROP", "MOM"};
    for (int k = 0; k < 5; k++) {
        fn_optimizer o;
        fn_optimizer_init(&o, (fn_optimizer_kind)fn_optimizer_parse(kinds[k]), on);
        float w[6], g[6], ref[6];
        for (int i = 0; i < on; i++) w[i] = (float)fn_json_at(fn_json_get(oj, "w0"), i)->number;
        for (int t = 0; t < ot; t++) {
            for (int i = 0; i < on; i++) g[i] = (float)(sin(7.0 * i + 3.0 * t) / (1 + t));
            fn_optimizer_step(&o, w, g, olr);
        }
        const fn_json *res = fn_json_get(fn_json_get(oj, "results"), kinds[k]);
        for (int i = 0; i < on; i++) ref[i] = (float)fn_json_at(res, i)->number;
        char what[64];
        snprintf(what, sizeof what, "%s after %d steps", kinds[k], ot);
        CHECK_CLOSE(what, w, ref, on, 2e-6);
        fn_optimizer_free(&o);
    }
    fn_optimizer_free(&opt);
    free(x);
    fn_trainnet_free(net);
    fn_json_free(fx);
    return tu_finish("test_train_torch");
}
