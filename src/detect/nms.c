/* nms.c — greedy non-maximum suppression in the three variants MTCNN implementations
 * use: torchvision's IoU (facenet-pytorch's P-Net/R-Net stages) and facenet's numpy
 * 'Union' / 'Min' with the +1 pixel areas (the O-Net stage uses 'Min'). */
#include "detect.h"

static int by_score_desc(const void *a, const void *b) {
    const mtcnn_box *x = a, *y = b;
    if (x->score > y->score) return -1;
    if (x->score < y->score) return 1;
    return 0;
}

int mtcnn_nms(mtcnn_box *b, int n, float thresh, mtcnn_nms_mode mode) {
    if (n <= 0) return 0;
    qsort(b, (size_t)n, sizeof *b, by_score_desc);
    unsigned char *dead = calloc((size_t)n, 1);
    float *area = malloc(sizeof(float) * (size_t)n);
    if (!dead || !area) { free(dead); free(area); fn_fail(FN_ERR_NOMEM, "nms: out of memory"); return -1; }
    const float one = mode == MTCNN_NMS_UNION ? 0.0f : 1.0f;
    for (int i = 0; i < n; i++) area[i] = (b[i].x2 - b[i].x1 + one) * (b[i].y2 - b[i].y1 + one);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (dead[i]) continue;
        b[kept++] = b[i]; /* kept <= i: b[i] is not needed again */
        const mtcnn_box k = b[kept - 1];
        for (int j = i + 1; j < n; j++) {
            if (dead[j]) continue;
            float w = fminf(k.x2, b[j].x2) - fmaxf(k.x1, b[j].x1) + one;
            float h = fminf(k.y2, b[j].y2) - fmaxf(k.y1, b[j].y1) + one;
            if (w <= 0 || h <= 0) continue;
            float inter = w * h, o;
            if (mode == MTCNN_NMS_MIN_PLUS1) o = inter / fminf(area[i], area[j]);
            else o = inter / (area[i] + area[j] - inter);
            if (o > thresh) dead[j] = 1;
        }
    }
    free(dead);
    free(area);
    return kept;
}
