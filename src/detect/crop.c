/* crop.c — which face to keep and how to cut it out, as facenet does
 * (align/align_dataset_mtcnn.py, compare.py). */
#include "core.h"

int fn_face_pick_largest(const fn_face *faces, int n, int img_w, int img_h, int center_penalty) {
    if (!faces || n <= 0) return -1;
    int best = 0;
    double best_v = -INFINITY;
    for (int i = 0; i < n; i++) {
        const float *b = faces[i].box;
        double v = ((double)b[2] - b[0]) * ((double)b[3] - b[1]);
        if (center_penalty) {
            /* bounding_box_size - offset_dist_squared * 2.0 ("some extra weight on the
             * centering") */
            double dx = (b[0] + (double)b[2]) / 2 - img_w / 2.0;
            double dy = (b[1] + (double)b[3]) / 2 - img_h / 2.0;
            v -= (dx * dx + dy * dy) * 2.0;
        }
        if (v > best_v) { best_v = v; best = i; } /* np.argmax: the first of ties */
    }
    return best;
}

fn_status fn_crop_margin(const fn_image *img, const float box[4], int margin, int size,
                         fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0)
        return fn_fail(FN_ERR_ARG, "crop: empty image");
    if (size <= 0 || size > FN_IMAGE_MAX_DIM)
        return fn_fail(FN_ERR_ARG, "crop: bad output size %d", size);
    if (margin < 0) return fn_fail(FN_ERR_ARG, "crop: negative margin %d", margin);
    for (int i = 0; i < 4; i++)
        if (!isfinite(box[i])) return fn_fail(FN_ERR_ARG, "crop: box is not finite");
    /* bb = int32(max(det - margin/2, 0)), int32(min(det + margin/2, size)): truncation */
    double half = margin / 2.0;
    double x1 = fmax(box[0] - half, 0), y1 = fmax(box[1] - half, 0);
    double x2 = fmin(box[2] + half, img->w), y2 = fmin(box[3] + half, img->h);
    if (!(x2 > x1 && y2 > y1) || x1 >= img->w || y1 >= img->h)
        return fn_fail(FN_ERR_ARG, "crop: box %.1f,%.1f,%.1f,%.1f lies outside the %dx%d image",
                       box[0], box[1], box[2], box[3], img->w, img->h);
    int bx1 = (int)x1, by1 = (int)y1, bx2 = (int)x2, by2 = (int)y2;
    if (bx2 <= bx1 || by2 <= by1)
        return fn_fail(FN_ERR_ARG, "crop: box %.1f,%.1f,%.1f,%.1f is empty", box[0], box[1], box[2], box[3]);
    fn_image cut;
    FN_TRY(fn_image_crop(img, bx1, by1, bx2 - bx1, by2 - by1, &cut));
    fn_status s = fn_image_resize(&cut, size, size, out);
    fn_image_free(&cut);
    return s;
}
