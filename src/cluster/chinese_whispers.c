/* chinese_whispers.c — graph clustering as in facenet's contributed/clustering.py
 * (after Biemann 2006): every face starts in its own cluster; each iteration visits the
 * nodes in a fresh random order and moves each to the cluster with the largest summed edge
 * weight among its neighbours, updating in place. Randomness comes only from fn_rng(seed),
 * so a seed fixes the result. */
#include "core.h"

typedef struct { int size, first, old; } cw_cluster;

static int cmp_cluster(const void *a, const void *b) {
    const cw_cluster *x = a, *y = b;
    if (x->size != y->size) return y->size - x->size;  /* larger first */
    return x->first - y->first;
}

fn_status fn_chinese_whispers(const float *dist, int n, float threshold, int iterations,
                              uint64_t seed, int *labels, int *n_clusters) {
    if (n_clusters) *n_clusters = 0;
    if (n < 0 || iterations < 0 || (n > 0 && (!dist || !labels)))
        return fn_fail(FN_ERR_ARG, "fn_chinese_whispers: bad arguments (n=%d, iterations=%d)", n, iterations);
    if (n == 0) return FN_OK;
    /* adjacency as CSR: neighbours of i are adj[start[i] .. start[i+1]) */
    size_t n_edges = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) n_edges += j != i && dist[(size_t)i * n + j] < threshold;
    size_t *start = malloc(sizeof *start * ((size_t)n + 1));
    int *adj = malloc(sizeof *adj * (n_edges ? n_edges : 1));
    float *weight = malloc(sizeof *weight * (n_edges ? n_edges : 1));
    int *order = malloc(sizeof *order * (size_t)n);
    double *sum = calloc((size_t)n, sizeof *sum);
    cw_cluster *cl = malloc(sizeof *cl * (size_t)n);
    int *remap = malloc(sizeof *remap * (size_t)n);
    fn_status s = FN_OK;
    if (!start || !adj || !weight || !order || !sum || !cl || !remap) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
    size_t e = 0;
    for (int i = 0; i < n; i++) {
        start[i] = e;
        for (int j = 0; j < n; j++) {
            float d = dist[(size_t)i * n + j];
            if (j == i || !(d < threshold)) continue;
            /* 1 - d²/2 is the cosine similarity of unit vectors; keep weights positive so a
             * neighbour always counts even when the threshold exceeds sqrt(2) */
            float w = 1.0f - 0.5f * d * d;
            adj[e] = j;
            weight[e++] = w > 1e-6f ? w : 1e-6f;
        }
    }
    start[n] = e;
    for (int i = 0; i < n; i++) { labels[i] = i; order[i] = i; }
    fn_rng rng = { seed };
    for (int it = 0; it < iterations; it++) {
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(fn_rng_next(&rng) % (uint64_t)(i + 1));
            int t = order[i]; order[i] = order[j]; order[j] = t;
        }
        for (int k = 0; k < n; k++) {
            int v = order[k];
            if (start[v] == start[v + 1]) continue; /* isolated: stays in its own cluster */
            for (size_t q = start[v]; q < start[v + 1]; q++) sum[labels[adj[q]]] += weight[q];
            int best = -1; double best_w = -1;
            for (size_t q = start[v]; q < start[v + 1]; q++) {
                int l = labels[adj[q]];
                if (sum[l] > best_w || (sum[l] == best_w && l < best)) { best_w = sum[l]; best = l; }
            }
            for (size_t q = start[v]; q < start[v + 1]; q++) sum[labels[adj[q]]] = 0;
            labels[v] = best;
        }
    }
    /* renumber: by size descending, ties by first member */
    for (int i = 0; i < n; i++) { cl[i].size = 0; cl[i].first = n; cl[i].old = i; }
    for (int i = 0; i < n; i++) { cl[labels[i]].size++; if (i < cl[labels[i]].first) cl[labels[i]].first = i; }
    qsort(cl, (size_t)n, sizeof *cl, cmp_cluster);
    int k = 0;
    for (; k < n && cl[k].size > 0; k++) remap[cl[k].old] = k;
    for (int i = 0; i < n; i++) labels[i] = remap[labels[i]];
    if (n_clusters) *n_clusters = k;
done:
    free(start); free(adj); free(weight); free(order); free(sum); free(cl); free(remap);
    return s;
}
