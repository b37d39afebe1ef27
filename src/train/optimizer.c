/* optimizer.c — update rules as TensorFlow 1.x implements them (training_ops.cc), so a
 * facenet user's hyper-parameters mean the same thing here. */
#include "optimizer.h"

static const char *names[] = {"ADAGRAD", "ADADELTA", "ADAM", "RMSPROP", "MOM"};

int fn_optimizer_parse(const char *name) {
    for (int i = 0; i < 5; i++) if (!strcasecmp(name, names[i])) return i;
    return -1;
}

const char *fn_optimizer_name(fn_optimizer_kind k) { return (unsigned)k < 5 ? names[k] : "?"; }

fn_status fn_optimizer_init(fn_optimizer *o, fn_optimizer_kind kind, size_t n) {
    memset(o, 0, sizeof *o);
    if ((unsigned)kind >= 5) return fn_fail(FN_ERR_ARG, "optimizer: unknown kind %d", (int)kind);
    o->kind = kind; o->n = n;
    o->s1 = calloc(n ? n : 1, sizeof(float));
    o->s2 = calloc(n ? n : 1, sizeof(float));
    if (!o->s1 || !o->s2) { fn_optimizer_free(o); return fn_fail(FN_ERR_NOMEM, "optimizer: out of memory"); }
    /* Adagrad's accumulator starts at 0.1; RMSProp's mean square ("rms" slot) at 1 */
    float init = kind == FN_OPT_ADAGRAD ? 0.1f : kind == FN_OPT_RMSPROP ? 1.0f : 0.0f;
    if (init != 0) for (size_t i = 0; i < n; i++) o->s1[i] = init;
    return FN_OK;
}

void fn_optimizer_free(fn_optimizer *o) {
    free(o->s1); free(o->s2);
    o->s1 = o->s2 = NULL;
}

void fn_optimizer_step(fn_optimizer *o, float *w, const float *g, float lr) {
    const long n = (long)o->n;
    float *a = o->s1, *b = o->s2;
    o->t++;
    switch (o->kind) {
    case FN_OPT_ADAGRAD: /* a: sum of g^2 */
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) { a[i] += g[i] * g[i]; w[i] -= lr * g[i] / sqrtf(a[i]); }
        break;
    case FN_OPT_ADADELTA: { /* a: E[g^2], b: E[dx^2] */
        const float rho = 0.9f, eps = 1e-6f;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            a[i] = rho * a[i] + (1 - rho) * g[i] * g[i];
            float upd = sqrtf(b[i] + eps) / sqrtf(a[i] + eps) * g[i];
            b[i] = rho * b[i] + (1 - rho) * upd * upd;
            w[i] -= lr * upd;
        }
        break;
    }
    case FN_OPT_ADAM: { /* a: m, b: v; epsilon 0.1 is facenet's (large on purpose) */
        const double b1 = 0.9, b2 = 0.999;
        const float eps = 0.1f;
        const float lr_t = (float)(lr * sqrt(1 - pow(b2, (double)o->t)) / (1 - pow(b1, (double)o->t)));
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            a[i] += (g[i] - a[i]) * (float)(1 - b1);
            b[i] += (g[i] * g[i] - b[i]) * (float)(1 - b2);
            w[i] -= lr_t * a[i] / (sqrtf(b[i]) + eps);
        }
        break;
    }
    case FN_OPT_RMSPROP: { /* a: mean square (starts at 1), b: momentum */
        const float decay = 0.9f, momentum = 0.9f, eps = 1.0f;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            a[i] += (g[i] * g[i] - a[i]) * (1 - decay);
            b[i] = momentum * b[i] + lr * g[i] / sqrtf(a[i] + eps);
            w[i] -= b[i];
        }
        break;
    }
    case FN_OPT_MOM: { /* a: accumulation; Nesterov as TF's ApplyMomentum(use_nesterov) */
        const float m = 0.9f;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (long i = 0; i < n; i++) {
            a[i] = a[i] * m + g[i];
            w[i] -= lr * g[i] + lr * m * a[i];
        }
        break;
    }
    }
}

float fn_lr_exponential(float lr, int64_t step, int64_t decay_steps, float factor) {
    if (decay_steps <= 0) return lr;
    return (float)(lr * pow(factor, (double)(step / decay_steps)));
}

fn_status fn_lr_from_file(const char *path, int epoch, float *lr) {
    uint8_t *data;
    size_t size;
    FN_TRY(fn_read_file(path, &data, &size));
    char *line = (char *)data, *save = NULL;
    int found = 0, lineno = 0;
    float value = 0;
    for (char *l = strtok_r(line, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *hash = strchr(l, '#');
        if (hash) *hash = 0;
        char *p = l;
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (!*p) continue;
        char *colon = strchr(p, ':');
        char *end;
        long e = strtol(p, &end, 10);
        if (!colon || end == p) { free(data); return fn_fail(FN_ERR_FORMAT, "%s:%d: expected 'epoch: learning_rate'", path, lineno); }
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        float r;
        if (*v == '-' && (v[1] == 0 || v[1] == '\r' || v[1] == ' ')) r = -1.0f;
        else {
            r = strtof(v, &end);
            if (end == v) { free(data); return fn_fail(FN_ERR_FORMAT, "%s:%d: bad learning rate '%s'", path, lineno, v); }
        }
        if (e <= epoch) { value = r; found = 1; }
        else break;
    }
    free(data);
    if (!found) return fn_fail(FN_ERR_FORMAT, "%s: no learning rate for epoch %d", path, epoch);
    *lr = value;
    return FN_OK;
}

void fn_ema_update(float *shadow, const float *w, size_t n, float decay, int64_t step) {
    float d = (float)((1.0 + step) / (10.0 + step));
    if (decay < d) d = decay;
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (long i = 0; i < (long)n; i++) shadow[i] -= (1 - d) * (shadow[i] - w[i]);
}
