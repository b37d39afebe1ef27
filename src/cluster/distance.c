/* distance.c — the pairwise Euclidean distance matrix that compare, DBSCAN and Chinese
 * whispers share. Plain (not squared) distance: facenet's compare.py and cluster.py print
 * and threshold np.sqrt(np.sum(np.square(a - b))). */
#include "core.h"

fn_status fn_distance_matrix(const float *emb, int n, int dim, float *dist) {
    if (n < 0 || dim <= 0 || (n > 0 && (!emb || !dist)))
        return fn_fail(FN_ERR_ARG, "fn_distance_matrix: bad arguments (n=%d, dim=%d)", n, dim);
    for (int i = 0; i < n; i++) {
        dist[(size_t)i * n + i] = 0.0f;
        for (int j = i + 1; j < n; j++) {
            /* accumulate in double so d(i,j) == d(j,i) bit for bit and small d stay exact */
            double s = 0;
            const float *a = emb + (size_t)i * dim, *b = emb + (size_t)j * dim;
            for (int k = 0; k < dim; k++) { double t = (double)a[k] - b[k]; s += t * t; }
            float d = (float)sqrt(s);
            dist[(size_t)i * n + j] = d;
            dist[(size_t)j * n + i] = d;
        }
    }
    return FN_OK;
}

int fn_clusters_drop_small(int *labels, int n, int min_size) {
    int max_label = -1;
    for (int i = 0; i < n; i++) if (labels[i] > max_label) max_label = labels[i];
    if (max_label < 0) return 0;
    int *count = calloc((size_t)max_label + 1, sizeof *count);
    int *remap = malloc(sizeof *remap * ((size_t)max_label + 1));
    if (!count || !remap) { free(count); free(remap); return -1; }
    for (int i = 0; i < n; i++) if (labels[i] >= 0) count[labels[i]]++;
    int k = 0;
    for (int c = 0; c <= max_label; c++) remap[c] = count[c] >= min_size && count[c] > 0 ? k++ : -1;
    for (int i = 0; i < n; i++) if (labels[i] >= 0) labels[i] = remap[labels[i]];
    free(count); free(remap);
    return k;
}
