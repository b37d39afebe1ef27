/* dbscan.c — DBSCAN on a precomputed distance matrix, label for label what sklearn's
 * DBSCAN(metric='precomputed') returns (facenet's contributed/cluster.py uses it):
 * neighbourhoods are dist <= eps including the point itself; sklearn's dbscan_inner grows
 * one cluster at a time from each unlabelled core point in index order, so cluster ids
 * follow the first core point of each cluster and a border point belongs to the lowest-id
 * cluster with a core point within eps. */
#include "core.h"

fn_status fn_dbscan(const float *dist, int n, float eps, int min_samples, int *labels,
                    int *n_clusters) {
    if (n_clusters) *n_clusters = 0;
    if (n < 0 || (n > 0 && (!dist || !labels)))
        return fn_fail(FN_ERR_ARG, "fn_dbscan: bad arguments (n=%d)", n);
    if (!(eps >= 0) || min_samples < 1)
        return fn_fail(FN_ERR_ARG, "fn_dbscan: eps must be >= 0 and min_samples >= 1 (got %g, %d)",
                       (double)eps, min_samples);
    if (n == 0) return FN_OK;
    char *core = malloc((size_t)n);
    int *stack = malloc(sizeof *stack * (size_t)n);
    if (!core || !stack) { free(core); free(stack); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < n; i++) {
        int count = 0;
        for (int j = 0; j < n; j++) count += dist[(size_t)i * n + j] <= eps;
        core[i] = count >= min_samples;
        labels[i] = -1;
    }
    int label = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] != -1 || !core[i]) continue;
        int top = 0;
        labels[i] = label;
        stack[top++] = i;
        while (top > 0) { /* expand from core points only; border points are labelled, not expanded */
            int p = stack[--top];
            for (int j = 0; j < n; j++) {
                if (labels[j] != -1 || !(dist[(size_t)p * n + j] <= eps)) continue;
                labels[j] = label;
                if (core[j]) stack[top++] = j; /* each point is pushed at most once */
            }
        }
        label++;
    }
    free(core); free(stack);
    if (n_clusters) *n_clusters = label;
    return FN_OK;
}
