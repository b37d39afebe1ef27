/* test_plot.c — the plotting module draws what it is given where fn_plot_map says:
 * series pixels in the series colour along the data (linear and log axes), markers,
 * axes frame, title/legend text present, NaN breaks, fixed ranges, PNG round trip, and
 * argument errors. Pixel checks look in a small window (±2 px) around mapped points. */
#include "core.h"
#include "eval/plot.h"
#include "test_util.h"
#include <unistd.h>

static uint32_t px_at(const fn_image *img, int x, int y) {
    if (x < 0 || y < 0 || x >= img->w || y >= img->h) return 0xFFFFFFFFu;
    const uint8_t *q = img->rgb + ((size_t)y * img->w + x) * 3;
    return (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
}

/* is colour c within r pixels of (x, y)? */
static int near_color(const fn_image *img, float x, float y, uint32_t c, int r) {
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (px_at(img, (int)lroundf(x) + dx, (int)lroundf(y) + dy) == c) return 1;
    return 0;
}

static long count_color(const fn_image *img, uint32_t c, int x0, int y0, int x1, int y1) {
    long n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) n += px_at(img, x, y) == c;
    return n;
}

static void test_linear(void) {
    fn_plot *p = fn_plot_new(640, 480, "Loss", "step", "loss", 0);
    CHECK(p != NULL);
    if (!p) return;
    double xs[50], ys[50], ys2[50];
    for (int i = 0; i < 50; i++) { xs[i] = i; ys[i] = 3.0 * exp(-i / 10.0); ys2[i] = 0.5 + 0.01 * i; }
    ys2[25] = NAN; /* breaks the second line */
    const uint32_t red = 0xD62728, blue = 0x1F77B4, green = 0x2CA02C;
    CHECK(fn_plot_add_series(p, xs, ys, 50, red, "train") == FN_OK);
    CHECK(fn_plot_add_series(p, xs, ys2, 50, blue, "val") == FN_OK);
    CHECK(fn_plot_add_marker(p, 20, ys[20], green, "best") == FN_OK);
    fn_plot_set_legend(p, FN_LEGEND_TOP_RIGHT);
    fn_image img = {0};
    CHECK(fn_plot_render(p, &img) == FN_OK);
    CHECK(img.w == 640 && img.h == 480);
    CHECK(px_at(&img, 0, 0) == 0xFFFFFF && px_at(&img, 639, 479) == 0xFFFFFF);
    int hits = 0, tested = 0;
    for (int i = 1; i < 50; i += 3) {
        float x, y;
        if (i == 20) continue; /* under the marker */
        CHECK(fn_plot_map(p, xs[i], ys[i], &x, &y));
        tested++;
        hits += near_color(&img, x, y, red, 2);
    }
    printf("linear: red series found at %d of %d mapped points\n", hits, tested);
    CHECK(hits >= tested - 2); /* the legend box may cover a point or two */
    float x, y, xa, ya, xb, yb;
    CHECK(fn_plot_map(p, 20, ys[20], &x, &y) && near_color(&img, x, y, green, 1));
    /* the NaN gap: no blue right between points 24 and 26 at x = 25 */
    CHECK(fn_plot_map(p, 24, ys2[24], &xa, &ya) && fn_plot_map(p, 26, ys2[26], &xb, &yb));
    CHECK(!near_color(&img, (xa + xb) / 2, (ya + yb) / 2, blue, 1));
    CHECK(near_color(&img, xa, ya, blue, 2) && near_color(&img, xb, yb, blue, 2));
    /* y range from the data: 0 .. 3 (nice ticks), the curve's max sits on the top grid */
    CHECK(fn_plot_map(p, 0, 0, &x, &y) && fn_plot_map(p, 49, 3.0, &xa, &ya));
    CHECK(!fn_plot_map(p, 0, 3.5, &x, &y)); /* above the range */
    /* the frame: dark pixels along the left axis */
    CHECK(fn_plot_map(p, 0, 1.5, &x, &y));
    CHECK(count_color(&img, 0x202020, (int)x - 1, (int)y - 20, (int)x + 1, (int)y + 20) >= 30);
    /* title text (black) in the top band, legend swatch colours in the top-right */
    CHECK(count_color(&img, 0x000000, 0, 0, 639, 40) > 50);
    CHECK(count_color(&img, blue, 400, 40, 639, 200) > 10);
    CHECK(fn_plot_save_png(p, "/nonexistent-dir/plot.png") == FN_ERR_IO);
    /* PNG round trip */
    char path[] = "/tmp/fn_test_plot_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(fn_plot_save_png(p, path) == FN_OK);
    fn_image back = {0};
    CHECK(fn_image_load(path, 0, &back) == FN_OK);
    CHECK(back.w == img.w && back.h == img.h && back.rgb && !memcmp(back.rgb, img.rgb, (size_t)img.w * img.h * 3));
    fn_image_free(&back);
    unlink(path);
    fn_image_free(&img);
    fn_plot_free(p);
}

static void test_log_roc(void) {
    /* a ROC on a log FPR axis: decades are equally spaced, values <= 0 are skipped */
    fn_plot *p = fn_plot_new(400, 300, "ROC", "FPR", "TPR", 1);
    CHECK(p != NULL);
    if (!p) return;
    double fpr[6] = {0, 1e-4, 1e-3, 1e-2, 1e-1, 1}, tpr[6] = {0.1, 0.5, 0.8, 0.95, 0.99, 1};
    CHECK(fn_plot_add_series(p, fpr, tpr, 6, 0x0000FF, "model") == FN_OK);
    CHECK(fn_plot_set_yrange(p, 0, 1) == FN_OK);
    float x1, y1, x2, y2, x3, y3;
    CHECK(fn_plot_map(p, 1e-4, 0.5, &x1, &y1) && fn_plot_map(p, 1e-3, 0.5, &x2, &y2) && fn_plot_map(p, 1e-2, 0.5, &x3, &y3));
    printf("log axis: decade widths %.2f and %.2f px\n", x2 - x1, x3 - x2);
    CHECK(fabsf((x2 - x1) - (x3 - x2)) < 0.01f && x2 - x1 > 20);
    CHECK(!fn_plot_map(p, 0, 0.5, &x1, &y1)); /* 0 has no place on a log axis */
    CHECK(fn_plot_map(p, 1, 1, &x1, &y1) && fn_plot_map(p, 1e-4, 0, &x2, &y2));
    CHECK(fabsf(y1 - y2) > 100); /* y range 0..1 fixed */
    fn_image img = {0};
    CHECK(fn_plot_render(p, &img) == FN_OK);
    CHECK(fn_plot_map(p, 1e-3, 0.8, &x1, &y1) && near_color(&img, x1, y1, 0x0000FF, 2));
    fn_image_free(&img);
    CHECK(fn_plot_set_xrange(p, 0, 1) == FN_ERR_ARG); /* log: lo must be > 0 */
    CHECK(fn_plot_set_xrange(p, 1e-5, 1) == FN_OK);
    fn_plot_free(p);
}

static void test_errors(void) {
    CHECK(fn_plot_new(10, 10, NULL, NULL, NULL, 0) == NULL);
    CHECK(strstr(fn_last_error(), "size") != NULL);
    CHECK(fn_plot_new(100000, 480, NULL, NULL, NULL, 0) == NULL);
    fn_plot *p = fn_plot_new(200, 150, NULL, NULL, NULL, 0);
    CHECK(p != NULL);
    double v = 1;
    CHECK(fn_plot_add_series(p, &v, &v, 0, 0, NULL) == FN_ERR_ARG);
    CHECK(fn_plot_add_series(p, NULL, &v, 1, 0, NULL) == FN_ERR_ARG);
    CHECK(fn_plot_set_yrange(p, 1, 1) == FN_ERR_ARG);
    CHECK(fn_plot_set_yrange(p, NAN, 1) == FN_ERR_ARG);
    /* nothing but NaN / a single point still renders */
    double nan = NAN;
    CHECK(fn_plot_add_series(p, &nan, &nan, 1, 0xFF0000, "nothing") == FN_OK);
    CHECK(fn_plot_add_series(p, &v, &v, 1, 0x00FF00, NULL) == FN_OK);
    fn_image img = {0};
    CHECK(fn_plot_render(p, &img) == FN_OK);
    float x, y;
    CHECK(fn_plot_map(p, 1, 1, &x, &y) && near_color(&img, x, y, 0x00FF00, 1));
    fn_image_free(&img);
    CHECK(fn_plot_render(NULL, &img) == FN_ERR_ARG);
    fn_plot_free(p);
    fn_plot_free(NULL);
}

int main(void) {
    test_linear();
    test_log_roc();
    test_errors();
    return tu_finish("test_plot");
}
