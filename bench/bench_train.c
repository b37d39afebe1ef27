/* bench_train.c — one training step (forward + backward + Adagrad update, triplet loss,
 * training-mode batch norm) of the full Inception-ResNet-v1 at 160x160, against the same
 * step in PyTorch 1.13 (2 threads, tools/gen_train_fixtures.py's functional network) in
 * the same run. Reports wall and CPU seconds per step, images/s, and peak memory (RSS).
 *
 *     bench_train [--batch 90] [--steps 2] [--size 160] [--depth 5,10,5] [--width 1] [--no-torch]
 *
 * The machine is shared: CPU time per image is the load-robust figure; wall time is shown
 * too. Not a test. */
#include "train/trainnet.h"
#include "train/optimizer.h"
#include <sys/resource.h>
#include <time.h>

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int batch = 90, steps = 2, torch = 1;
    fn_trainnet_config cfg;
    fn_trainnet_config_default(&cfg);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) cfg.image_size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--width") && i + 1 < argc) cfg.width = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--depth") && i + 1 < argc) sscanf(argv[++i], "%d,%d,%d", &cfg.depth[0], &cfg.depth[1], &cfg.depth[2]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else { fprintf(stderr, "usage: bench_train [--batch N] [--steps N] [--size N] [--depth A,B,C] [--width F] [--no-torch]\n"); return 2; }
    }
    batch -= batch % 3;
    if (batch < 3 || steps < 1) { fprintf(stderr, "bench_train: batch >= 3 and steps >= 1\n"); return 2; }
    fn_trainnet *net;
    if (fn_trainnet_create(&cfg, &net)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
    fn_trainnet_init(net, 1);
    size_t act = net->dx_floats; /* the trunk's gradients share one arena */
    for (int b = 0; b < net->n_bufs; b++) {
        size_t n = (size_t)net->bufs[b].h * net->bufs[b].w * net->bufs[b].c;
        if (net->bufs[b].view_of >= 0) continue; /* in its concat */
        act += (net->bufs[b].grad_only ? 0 : n) + (b != net->input && net->dx_off[b] == SIZE_MAX ? n : 0);
    }
    printf("facenet-c: depth %d,%d,%d width %g, %dx%d, batch %d: %zu weights, %.1f MB activations+gradients per image\n",
           cfg.depth[0], cfg.depth[1], cfg.depth[2], cfg.width, cfg.image_size, cfg.image_size, batch, net->n_weights,
           act * 4.0 / 1e6);
    const size_t per = (size_t)cfg.image_size * cfg.image_size * 3;
    float *x = malloc(sizeof(float) * per * batch);
    fn_rng r = {3};
    for (size_t i = 0; i < per * batch; i++) x[i] = 2 * fn_rng_uniform(&r) - 1;
    fn_optimizer opt;
    fn_optimizer_init(&opt, FN_OPT_ADAGRAD, net->n_weights);
    double best_wall = 1e30, best_cpu = 1e30;
    for (int s = 0; s <= steps; s++) { /* step 0 warms up (allocation, page faults) */
        double w0 = fn_now(), c0 = cpu_now();
        memset(net->g, 0, sizeof(float) * net->n_weights);
        if (fn_trainnet_forward(net, x, batch, 1, NULL)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        fn_trainnet_zero_act_grads(net);
        fn_tbuf *e = &net->bufs[net->embedding];
        float loss = fn_triplet_loss(e->dx, e->x, batch / 3, cfg.dim, 0.2f, 1.0f);
        fn_trainnet_backward(net);
        fn_optimizer_step(&opt, net->w, net->g, 0.01f);
        double wall = fn_now() - w0, cpu = cpu_now() - c0;
        printf("  step %d: loss %.4f, wall %.2f s, cpu %.2f s\n", s, loss, wall, cpu);
        if (s > 0) { if (wall < best_wall) best_wall = wall; if (cpu < best_cpu) best_cpu = cpu; }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double c_rss = ru.ru_maxrss / 1024.0;
    printf("facenet-c: best step wall %.2f s (%.1f images/s), cpu %.2f s (%.2f cpu-s per image), peak RSS %.0f MB\n",
           best_wall, batch / best_wall, best_cpu, best_cpu / batch, c_rss);
    fn_trainnet_free(net);
    free(x);
    fn_optimizer_free(&opt);
    if (!torch) return 0;
    /* the repository root from this file's path (CMake compiles with absolute paths) */
    char root[512];
    snprintf(root, sizeof root, "%s", __FILE__);
    char *cut = strstr(root, "/bench/bench_train.c");
    if (cut) *cut = 0; else snprintf(root, sizeof root, ".");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=2 /usr/bin/python3 -c \""
             "import sys, time, resource, torch; sys.path.insert(0, '%s/tools'); import gen_train_fixtures as g; "
             "torch.set_num_threads(2); import torch.nn.functional as F; "
             "cfg = dict(g.CFG, depth=(%d,%d,%d), width=%g, image=%d, dim=%d); net = g.build(cfg); "
             "p = {k: torch.tensor(v, requires_grad=True) for k, v in g.init_params(net, 1).items()}; "
             "st = {n: (torch.zeros([s for (m, k, s) in net.params if m == n + '.bias'][0][0]), torch.ones([s for (m, k, s) in net.params if m == n + '.bias'][0][0])) for n in net.stats}; "
             "opt = torch.optim.Adagrad(list(p.values()), lr=0.01, initial_accumulator_value=0.1); "
             "x = torch.rand(%d, 3, %d, %d) * 2 - 1; best = [1e30, 1e30]\n"
             "for s in range(%d + 1):\n"
             "    t0 = time.time(); c0 = time.process_time(); opt.zero_grad()\n"
             "    e = F.normalize(net.forward(x, p, st), dim=1, eps=1e-10); l, _ = g.triplet(e, 0.2); l.backward(); opt.step()\n"
             "    w = time.time() - t0; c = time.process_time() - c0; print('  torch step %%d: loss %%.4f, wall %%.2f s, cpu %%.2f s' %% (s, float(l), w, c))\n"
             "    best = [min(best[0], w), min(best[1], c)] if s else best\n"
             "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0\n"
             "print('pytorch: best step wall %%.2f s (%%.1f images/s), cpu %%.2f s (%%.2f cpu-s per image), peak RSS %%.0f MB' %% (best[0], %d / best[0], best[1], best[1] / %d, rss))\"",
             root, cfg.depth[0], cfg.depth[1], cfg.depth[2], cfg.width, cfg.image_size, cfg.dim,
             batch, cfg.image_size, cfg.image_size, steps, batch, batch);
    fflush(stdout);
    int rc = system(cmd);
    printf("(the ratio: divide PyTorch's cpu-s per image by facenet-c's)\n");
    return rc ? 1 : 0;
}
