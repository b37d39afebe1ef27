/* detect.h — internals of the MTCNN detector (src/detect): candidate boxes, NMS, the
 * area resampling of the pyramid and crops. Public entry points are in facenet.h. */
#ifndef FN_DETECT_H
#define FN_DETECT_H
#include "core.h"
#include "nets/mtcnn.h"

struct fn_detector {
    mtcnn_nets nets;
};

/* A candidate face between stages: box, score, the net's box offsets, landmarks. */
typedef struct {
    float x1, y1, x2, y2, score;
    float reg[4];
    float lm[10]; /* x1..x5, y1..y5 */
} mtcnn_box;

typedef enum {
    MTCNN_NMS_UNION = 0,     /* torchvision.ops.nms: IoU with areas (x2-x1)*(y2-y1) */
    MTCNN_NMS_UNION_PLUS1,   /* facenet's numpy nms 'Union': areas (x2-x1+1)*(y2-y1+1) */
    MTCNN_NMS_MIN_PLUS1,     /* facenet's numpy nms 'Min': overlap / min(area), +1 areas */
} mtcnn_nms_mode;

/* Non-maximum suppression in place: boxes are reordered by descending score and those
 * overlapping a better kept box by more than thresh are dropped. Returns how many stay
 * (b[0..ret) in descending score). FN_ERR_NOMEM is reported as -1. */
int mtcnn_nms(mtcnn_box *b, int n, float thresh, mtcnn_nms_mode mode);

/* Summed-area table of img for mtcnn_area_resample: (h+1) x (w+1) x 3 uint32, malloc'd.
 * NULL when out of memory or for images above 32 Mpixel (then resampling sums directly). */
uint32_t *mtcnn_integral(const fn_image *img);

/* torch.nn.functional.interpolate(mode='area') (= adaptive average pooling) of the
 * rectangle [x0, x0+w) x [y0, y0+h) of img to oh x ow, normalised for the nets:
 * out (oh,ow,3) = (mean - 127.5) * 0.0078125. The rectangle must lie inside the image.
 * sat: mtcnn_integral(img) or NULL. Matches PyTorch bit for bit (exact integer window
 * sums, then sum / kh / kw in float as ATen does). */
fn_status mtcnn_area_resample(const fn_image *img, const uint32_t *sat, int x0, int y0, int w,
                              int h, int ow, int oh, float *out);
/* Only output rows [row0, row0 + nrows) of the same resampling, into out (nrows,ow,3). */
fn_status mtcnn_area_resample_rows(const fn_image *img, const uint32_t *sat, int x0, int y0, int w,
                                   int h, int ow, int oh, int row0, int nrows, float *out);

/* The image pyramid scales facenet uses for (w, h, min_size, factor); returns the count
 * (at most max) */
int mtcnn_pyramid_scales(int w, int h, double min_size, double factor, double *scales, int max);

#endif
