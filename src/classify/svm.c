/* svm.c — linear C-SVC with probabilities through Debian's libsvm. We copy every trained
 * model into memory we own (libsvm's own models point into the training problem) and
 * serialise its fields ourselves, so a classifier file needs no temp files and no libsvm
 * text format. */
#include "classify/svm.h"

static void quiet(const char *s) { (void)s; } /* the library never prints */

void fn_buf_put(fn_buf *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->size + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->size + n) nc *= 2;
        uint8_t *t = realloc(b->data, nc);
        if (!t) { b->failed = 1; return; }
        b->data = t; b->cap = nc;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}
void fn_buf_u32(fn_buf *b, uint32_t v) { fn_buf_put(b, &v, 4); } /* little-endian hosts */

int fn_cursor_get(fn_cursor *c, void *dst, size_t n) {
    if (n > c->left) return 0;
    memcpy(dst, c->p, n);
    c->p += n; c->left -= n;
    return 1;
}
int fn_cursor_u32(fn_cursor *c, uint32_t *v) { return fn_cursor_get(c, v, 4); }

void fn_svm_free(struct svm_model *m) {
    if (!m) return;
    if (m->SV) free(m->SV[0]);
    if (m->sv_coef) for (int i = 0; i < m->nr_class - 1; i++) free(m->sv_coef[i]);
    free(m->SV); free(m->sv_coef); free(m->rho); free(m->probA); free(m->probB);
    free(m->label); free(m->nSV); free(m->sv_indices);
    free(m);
}

static void set_param(struct svm_parameter *p, double C) {
    memset(p, 0, sizeof *p);
    p->svm_type = C_SVC;
    p->kernel_type = LINEAR;
    p->cache_size = 200; /* MB, sklearn's default */
    p->eps = 1e-3;       /* sklearn's tol */
    p->C = C;
    p->shrinking = 1;
    p->probability = 1;
}

/* A model in our own allocation: one block of dense SV nodes (dim+1 each, -1 terminated). */
static fn_status alloc_model(int k, int l, int dim, struct svm_model **out) {
    *out = NULL;
    size_t pairs = (size_t)k * (k - 1) / 2, nodes;
    if (k < 2 || l < 1 || dim < 1 || !fn_mul_size((size_t)l, (size_t)dim + 1, &nodes) ||
        nodes > ((size_t)1 << 31))
        return fn_fail(FN_ERR_LIMIT, "svm: unreasonable model size (classes %d, SVs %d, dim %d)", k, l, dim);
    struct svm_model *m = calloc(1, sizeof *m);
    if (!m) return fn_fail(FN_ERR_NOMEM, "out of memory");
    m->nr_class = k; m->l = l; m->free_sv = 1;
    m->label = calloc((size_t)k, sizeof(int));
    m->nSV = calloc((size_t)k, sizeof(int));
    m->rho = calloc(pairs, sizeof(double));
    m->probA = calloc(pairs, sizeof(double));
    m->probB = calloc(pairs, sizeof(double));
    m->sv_coef = calloc((size_t)k - 1, sizeof(double *));
    m->SV = calloc((size_t)l, sizeof(struct svm_node *));
    struct svm_node *block = m->SV ? calloc(nodes, sizeof(struct svm_node)) : NULL;
    if (m->SV) m->SV[0] = block;
    int ok = m->label && m->nSV && m->rho && m->probA && m->probB && m->sv_coef && block;
    for (int i = 0; ok && i < k - 1; i++) ok = (m->sv_coef[i] = calloc((size_t)l, sizeof(double))) != NULL;
    if (!ok) { fn_svm_free(m); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < l; i++) {
        m->SV[i] = block + (size_t)i * (dim + 1);
        for (int j = 0; j < dim; j++) m->SV[i][j].index = j + 1;
        m->SV[i][dim].index = -1;
    }
    *out = m;
    return FN_OK;
}

fn_status fn_svm_train(const float *x, const int *y, int n, int dim, double C, uint64_t seed,
                       struct svm_model **out) {
    *out = NULL;
    if (n < 2 || dim < 1 || !x || !y) return fn_fail(FN_ERR_ARG, "svm: need at least 2 examples (got %d, dim %d)", n, dim);
    size_t nodes;
    if (!fn_mul_size((size_t)n, (size_t)dim + 1, &nodes)) return fn_fail(FN_ERR_LIMIT, "svm: too many examples");
    struct svm_node *space = malloc(sizeof *space * nodes);
    struct svm_node **rows = malloc(sizeof *rows * (size_t)n);
    double *ys = malloc(sizeof *ys * (size_t)n);
    if (!space || !rows || !ys) { free(space); free(rows); free(ys); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < n; i++) {
        rows[i] = space + (size_t)i * (dim + 1);
        for (int j = 0; j < dim; j++) { rows[i][j].index = j + 1; rows[i][j].value = x[(size_t)i * dim + j]; }
        rows[i][dim].index = -1;
        ys[i] = y[i];
    }
    struct svm_problem prob = { n, ys, rows };
    struct svm_parameter param;
    set_param(&param, C);
    fn_status s = FN_OK;
    const char *err = svm_check_parameter(&prob, &param);
    if (err) { s = fn_fail(FN_ERR_ARG, "libsvm: %s", err); goto done; }
    svm_set_print_string_function(quiet);
    srand((unsigned)(seed ^ (seed >> 32)));
    struct svm_model *t = svm_train(&prob, &param);
    if (!t) { s = fn_fail(FN_ERR_NOMEM, "libsvm: training failed"); goto done; }
    if (t->nr_class < 2) { svm_free_and_destroy_model(&t); s = fn_fail(FN_ERR_ARG, "svm: need at least 2 classes"); goto done; }
    struct svm_model *m;
    s = alloc_model(t->nr_class, t->l, dim, &m);
    if (s == FN_OK) {
        int k = t->nr_class, pairs = k * (k - 1) / 2;
        m->param = param;
        memcpy(m->label, t->label, sizeof(int) * k);
        memcpy(m->nSV, t->nSV, sizeof(int) * k);
        memcpy(m->rho, t->rho, sizeof(double) * pairs);
        memcpy(m->probA, t->probA, sizeof(double) * pairs);
        memcpy(m->probB, t->probB, sizeof(double) * pairs);
        for (int i = 0; i < k - 1; i++) memcpy(m->sv_coef[i], t->sv_coef[i], sizeof(double) * t->l);
        for (int i = 0; i < t->l; i++)
            for (const struct svm_node *p = t->SV[i]; p->index != -1; p++)
                if (p->index >= 1 && p->index <= dim) m->SV[i][p->index - 1].value = p->value;
        *out = m;
    }
    svm_free_and_destroy_model(&t);
done:
    free(space); free(rows); free(ys);
    return s;
}

fn_status fn_svm_predict(const struct svm_model *m, const float *x, int dim, int n_classes,
                         int *vote, double *probs) {
    struct svm_node stackbuf[513], *node = dim + 1 <= 513 ? stackbuf : malloc(sizeof *node * ((size_t)dim + 1));
    double pbuf[64], *p = m->nr_class <= 64 ? pbuf : malloc(sizeof *p * (size_t)m->nr_class);
    if (!node || !p) {
        if (node != stackbuf) free(node);
        if (p != pbuf) free(p);
        return fn_fail(FN_ERR_NOMEM, "out of memory");
    }
    for (int j = 0; j < dim; j++) { node[j].index = j + 1; node[j].value = x[j]; }
    node[dim].index = -1;
    *vote = (int)svm_predict(m, node);
    if (probs) {
        svm_predict_probability(m, node, p);
        for (int k = 0; k < n_classes; k++) probs[k] = 0;
        for (int i = 0; i < m->nr_class; i++) /* libsvm orders by first appearance in training */
            if (m->label[i] >= 0 && m->label[i] < n_classes) probs[m->label[i]] = p[i];
    }
    if (node != stackbuf) free(node);
    if (p != pbuf) free(p);
    return FN_OK;
}

void fn_svm_write(fn_buf *b, const struct svm_model *m, int dim) {
    int k = m->nr_class, l = m->l, pairs = k * (k - 1) / 2;
    fn_buf_u32(b, (uint32_t)k);
    fn_buf_u32(b, (uint32_t)l);
    fn_buf_put(b, m->label, sizeof(int) * k);
    fn_buf_put(b, m->nSV, sizeof(int) * k);
    for (int i = 0; i < k - 1; i++) fn_buf_put(b, m->sv_coef[i], sizeof(double) * l);
    fn_buf_put(b, m->rho, sizeof(double) * pairs);
    fn_buf_put(b, m->probA, sizeof(double) * pairs);
    fn_buf_put(b, m->probB, sizeof(double) * pairs);
    for (int i = 0; i < l; i++)
        for (int j = 0; j < dim; j++) fn_buf_put(b, &m->SV[i][j].value, sizeof(double));
}

fn_status fn_svm_read(fn_cursor *c, int dim, int n_classes, struct svm_model **out) {
    *out = NULL;
    uint32_t k, l;
    if (!fn_cursor_u32(c, &k) || !fn_cursor_u32(c, &l)) return fn_fail(FN_ERR_FORMAT, "classifier: truncated SVM header");
    if ((int)k != n_classes || k < 2 || l < 1 || l > (1u << 24))
        return fn_fail(FN_ERR_FORMAT, "classifier: SVM has %u classes and %u support vectors (expected %d classes)", k, l, n_classes);
    /* every field must fit in what is left before anything is allocated */
    size_t need = (size_t)k * 8 + ((size_t)k - 1) * l * 8 + (size_t)k * (k - 1) / 2 * 24 + (size_t)l * dim * 8;
    if (need > c->left) return fn_fail(FN_ERR_FORMAT, "classifier: truncated SVM (%zu bytes needed, %zu left)", need, c->left);
    struct svm_model *m;
    FN_TRY(alloc_model((int)k, (int)l, dim, &m));
    set_param(&m->param, 1.0);
    int pairs = (int)(k * (k - 1) / 2);
    fn_cursor_get(c, m->label, sizeof(int) * k);
    fn_cursor_get(c, m->nSV, sizeof(int) * k);
    for (uint32_t i = 0; i + 1 < k; i++) fn_cursor_get(c, m->sv_coef[i], sizeof(double) * l);
    fn_cursor_get(c, m->rho, sizeof(double) * pairs);
    fn_cursor_get(c, m->probA, sizeof(double) * pairs);
    fn_cursor_get(c, m->probB, sizeof(double) * pairs);
    for (uint32_t i = 0; i < l; i++)
        for (int j = 0; j < dim; j++) fn_cursor_get(c, &m->SV[i][j].value, sizeof(double));
    /* libsvm indexes SVs by the nSV counts and labels: validate them */
    long total = 0;
    int ok = 1;
    for (uint32_t i = 0; i < k; i++) {
        if (m->nSV[i] < 0 || m->label[i] < 0 || m->label[i] >= n_classes) ok = 0;
        total += m->nSV[i];
        for (uint32_t j = 0; j < i; j++) if (m->label[j] == m->label[i]) ok = 0;
    }
    if (!ok || total != (long)l) {
        fn_svm_free(m);
        return fn_fail(FN_ERR_FORMAT, "classifier: inconsistent SVM labels or support-vector counts");
    }
    *out = m;
    return FN_OK;
}
