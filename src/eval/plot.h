/* plot.h — small line plots drawn into an fn_image (ROC curves, training loss curves).
 *
 *     fn_plot *p = fn_plot_new(640, 480, "ROC", "False positive rate", "True positive rate", 1);
 *     fn_plot_add_series(p, fpr, tpr, n, 0x1f77b4, "facenet-c");
 *     fn_plot_add_marker(p, far, val, 0xd62728, "VAL@FAR=1e-3");
 *     fn_status s = fn_plot_save_png(p, "roc.png");
 *     fn_plot_free(p);
 *
 * Series and markers are copied. Axis ranges come from the data unless set; a log axis
 * ignores values <= 0, and every axis ignores NaN/inf (the line breaks there). Ticks are
 * "nice" numbers (1, 2, 5 x 10^k) on a linear axis and decades on a log axis, with a light
 * grid; the legend lists the labelled series and markers. Drawing uses fn_draw_* (5x7
 * font); nothing is printed. */
#ifndef FN_EVAL_PLOT_H
#define FN_EVAL_PLOT_H
#include "core.h"

typedef struct fn_plot fn_plot;

typedef enum {
    FN_LEGEND_BOTTOM_RIGHT = 0, FN_LEGEND_TOP_RIGHT, FN_LEGEND_TOP_LEFT, FN_LEGEND_BOTTOM_LEFT,
    FN_LEGEND_NONE
} fn_legend_pos;

/* w, h >= 160 x 120 (and at most 8192); title/labels may be NULL. NULL on bad size or no
 * memory (fn_last_error says which). */
fn_plot *fn_plot_new(int w, int h, const char *title, const char *xlabel, const char *ylabel,
                     int log_x);
void fn_plot_free(fn_plot *p);
void fn_plot_set_log_y(fn_plot *p, int log_y);
/* Fixed axis ranges (lo < hi; positive on a log axis); otherwise from the data. */
fn_status fn_plot_set_xrange(fn_plot *p, double lo, double hi);
fn_status fn_plot_set_yrange(fn_plot *p, double lo, double hi);
void fn_plot_set_legend(fn_plot *p, fn_legend_pos pos);
/* A polyline through (xs[i], ys[i]); color 0xRRGGBB; label NULL = not in the legend. */
fn_status fn_plot_add_series(fn_plot *p, const double *xs, const double *ys, int n, uint32_t color,
                             const char *label);
/* A filled dot at (x, y) with its label written beside it (and in the legend). */
fn_status fn_plot_add_marker(fn_plot *p, double x, double y, uint32_t color, const char *label);

/* Draw into a new image (w x h, free with fn_image_free). */
fn_status fn_plot_render(fn_plot *p, fn_image *out);
fn_status fn_plot_save_png(fn_plot *p, const char *path);
/* Where the data point (x, y) lands in the image of the last render (or of the ranges the
 * next render will use); 0 if it is outside the axes or not drawable (e.g. <= 0 on log). */
int fn_plot_map(fn_plot *p, double x, double y, float *px, float *py);

#endif
