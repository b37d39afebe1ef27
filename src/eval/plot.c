/* plot.c — line plots into an fn_image: axes with nice ticks (linear or log), grid,
 * series, markers, title, axis labels and a legend. See plot.h. */
#include "plot.h"

#define PLOT_MAX_SIDE 8192
#define GRID_COLOR 0xE4E4E4u
#define AXIS_COLOR 0x202020u
#define TEXT_COLOR 0x000000u
#define LEGEND_BORDER 0x909090u

typedef struct {
    double *x, *y;
    int n;
    uint32_t color;
    char *label;
    int is_marker;
} plot_series;

typedef struct {
    int log;
    int fixed;
    double lo, hi; /* the range drawn */
} plot_axis;

struct fn_plot {
    int w, h;
    char *title, *xlabel, *ylabel;
    plot_axis ax, ay;
    fn_legend_pos legend;
    plot_series *series;
    int n_series;
    /* layout of the last finalize */
    int left, top, pw, ph, text_scale, title_scale;
};

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

fn_plot *fn_plot_new(int w, int h, const char *title, const char *xlabel, const char *ylabel, int log_x) {
    if (w < 160 || h < 120 || w > PLOT_MAX_SIDE || h > PLOT_MAX_SIDE) {
        fn_fail(FN_ERR_ARG, "plot: size %dx%d outside 160x120 .. %dx%d", w, h, PLOT_MAX_SIDE, PLOT_MAX_SIDE);
        return NULL;
    }
    fn_plot *p = calloc(1, sizeof *p);
    if (!p) { fn_fail(FN_ERR_NOMEM, "out of memory"); return NULL; }
    p->w = w; p->h = h;
    p->title = dup_str(title); p->xlabel = dup_str(xlabel); p->ylabel = dup_str(ylabel);
    if ((title && !p->title) || (xlabel && !p->xlabel) || (ylabel && !p->ylabel)) {
        fn_plot_free(p);
        fn_fail(FN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->ax.log = log_x != 0;
    p->legend = FN_LEGEND_BOTTOM_RIGHT;
    return p;
}

void fn_plot_free(fn_plot *p) {
    if (!p) return;
    for (int i = 0; i < p->n_series; i++) {
        free(p->series[i].x); free(p->series[i].y); free(p->series[i].label);
    }
    free(p->series);
    free(p->title); free(p->xlabel); free(p->ylabel);
    free(p);
}

void fn_plot_set_log_y(fn_plot *p, int log_y) { if (p) p->ay.log = log_y != 0; }
void fn_plot_set_legend(fn_plot *p, fn_legend_pos pos) { if (p) p->legend = pos; }

static fn_status set_range(plot_axis *a, double lo, double hi, const char *name) {
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi) || (a->log && lo <= 0))
        return fn_fail(FN_ERR_ARG, "plot: bad %s range [%g, %g]%s", name, lo, hi, a->log ? " (log axis: > 0)" : "");
    a->fixed = 1; a->lo = lo; a->hi = hi;
    return FN_OK;
}
fn_status fn_plot_set_xrange(fn_plot *p, double lo, double hi) {
    if (!p) return fn_fail(FN_ERR_ARG, "plot: NULL");
    return set_range(&p->ax, lo, hi, "x");
}
fn_status fn_plot_set_yrange(fn_plot *p, double lo, double hi) {
    if (!p) return fn_fail(FN_ERR_ARG, "plot: NULL");
    return set_range(&p->ay, lo, hi, "y");
}

static fn_status add(fn_plot *p, const double *xs, const double *ys, int n, uint32_t color,
                     const char *label, int is_marker) {
    if (!p || !xs || !ys || n < 1) return fn_fail(FN_ERR_ARG, "plot: a series needs n >= 1 points");
    plot_series *ns = realloc(p->series, sizeof *ns * (size_t)(p->n_series + 1));
    if (!ns) return fn_fail(FN_ERR_NOMEM, "out of memory");
    p->series = ns;
    plot_series *s = &ns[p->n_series];
    memset(s, 0, sizeof *s);
    s->x = malloc(sizeof(double) * (size_t)n);
    s->y = malloc(sizeof(double) * (size_t)n);
    s->label = dup_str(label);
    if (!s->x || !s->y || (label && !s->label)) {
        free(s->x); free(s->y); free(s->label);
        return fn_fail(FN_ERR_NOMEM, "out of memory");
    }
    memcpy(s->x, xs, sizeof(double) * (size_t)n);
    memcpy(s->y, ys, sizeof(double) * (size_t)n);
    s->n = n; s->color = color & 0xFFFFFFu; s->is_marker = is_marker;
    p->n_series++;
    return FN_OK;
}

fn_status fn_plot_add_series(fn_plot *p, const double *xs, const double *ys, int n, uint32_t color,
                             const char *label) {
    return add(p, xs, ys, n, color, label, 0);
}

fn_status fn_plot_add_marker(fn_plot *p, double x, double y, uint32_t color, const char *label) {
    return add(p, &x, &y, 1, color, label, 1);
}

/* ---------------------------------------------------------------- ranges and ticks */
static int usable(const plot_axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }
static double tr(const plot_axis *a, double v) { return a->log ? log10(v) : v; }

/* 1, 2 or 5 x 10^k, the nearest at or above raw */
static double nice_step(double raw) {
    double e = pow(10, floor(log10(raw))), f = raw / e;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

static void finalize_axis(fn_plot *p, plot_axis *a, int is_x) {
    if (a->fixed) return;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < p->n_series; i++)
        for (int k = 0; k < p->series[i].n; k++) {
            double v = is_x ? p->series[i].x[k] : p->series[i].y[k];
            double other = is_x ? p->series[i].y[k] : p->series[i].x[k];
            if (!usable(a, v) || !usable(is_x ? &p->ay : &p->ax, other)) continue;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (lo > hi) { lo = a->log ? 1 : 0; hi = a->log ? 10 : 1; }
    if (a->log) {
        lo = pow(10, floor(log10(lo)));
        hi = pow(10, ceil(log10(hi)));
        if (hi <= lo) hi = lo * 10;
    } else {
        if (hi == lo) { double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 0.5; lo -= d; hi += d; }
        double step = nice_step((hi - lo) / 5);
        lo = floor(lo / step) * step;
        hi = ceil(hi / step) * step;
    }
    a->lo = lo; a->hi = hi;
}

typedef struct { double v[64]; int n; double step; int minor; } ticks;

static void make_ticks(const plot_axis *a, ticks *t) {
    t->n = 0; t->minor = 0;
    if (a->log) {
        int e0 = (int)ceil(log10(a->lo) - 1e-9), e1 = (int)floor(log10(a->hi) + 1e-9);
        int every = 1 + (e1 - e0) / 10;
        for (int e = e0; e <= e1 && t->n < 64; e += every) t->v[t->n++] = pow(10, e);
        t->minor = (e1 - e0) <= 6;
        t->step = every;
    } else {
        double step = nice_step((a->hi - a->lo) / 5);
        t->step = step;
        double first = ceil(a->lo / step - 1e-9) * step;
        for (double v = first; v <= a->hi + step * 1e-9 && t->n < 64; v += step)
            t->v[t->n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
    }
}

static void tick_label(const plot_axis *a, const ticks *t, double v, char *buf, size_t n) {
    if (a->log) { snprintf(buf, n, "%g", v); return; }
    int decimals = t->step >= 1 ? 0 : (int)ceil(-log10(t->step) - 1e-9);
    if (decimals > 8) decimals = 8;
    snprintf(buf, n, "%.*f", decimals, v);
}

static void layout(fn_plot *p) {
    finalize_axis(p, &p->ax, 1);
    finalize_axis(p, &p->ay, 0);
    p->text_scale = p->w >= 720 && p->h >= 480 ? 2 : 1;
    p->title_scale = p->w >= 480 ? p->text_scale + 1 : p->text_scale;
    const int s = p->text_scale, ch = 8 * s;
    ticks ty;
    make_ticks(&p->ay, &ty);
    int ylab_w = 0;
    for (int i = 0; i < ty.n; i++) {
        char b[48];
        tick_label(&p->ay, &ty, ty.v[i], b, sizeof b);
        int tw = fn_text_width(b, s);
        if (tw > ylab_w) ylab_w = tw;
    }
    int top = 10;
    if (p->title) top += fn_text_height(p->title, p->title_scale) + 8;
    if (p->ylabel) top += ch + 6;
    p->top = top + ch / 2;
    p->left = 10 + ylab_w + 8;
    int bottom = 8 + ch + 8 + (p->xlabel ? ch + 8 : 0);
    int right = 14 + 3 * 6 * s;
    p->pw = p->w - p->left - right;
    p->ph = p->h - p->top - bottom;
    if (p->pw < 20) p->pw = 20;
    if (p->ph < 20) p->ph = 20;
}

static double to_px(const fn_plot *p, double x) {
    return p->left + (tr(&p->ax, x) - tr(&p->ax, p->ax.lo)) / (tr(&p->ax, p->ax.hi) - tr(&p->ax, p->ax.lo)) * (p->pw - 1);
}
static double to_py(const fn_plot *p, double y) {
    return p->top + (p->ph - 1) - (tr(&p->ay, y) - tr(&p->ay, p->ay.lo)) / (tr(&p->ay, p->ay.hi) - tr(&p->ay, p->ay.lo)) * (p->ph - 1);
}

int fn_plot_map(fn_plot *p, double x, double y, float *px, float *py) {
    if (!p) return 0;
    layout(p);
    if (!usable(&p->ax, x) || !usable(&p->ay, y)) return 0;
    double fx = to_px(p, x), fy = to_py(p, y);
    *px = (float)fx; *py = (float)fy;
    return fx >= p->left - 0.5 && fx <= p->left + p->pw - 0.5 && fy >= p->top - 0.5 && fy <= p->top + p->ph - 0.5;
}

/* Liang-Barsky: clip the segment to the plot rectangle; 0 if nothing is left. */
static int clip(const fn_plot *p, double *x0, double *y0, double *x1, double *y1) {
    double lo_x = p->left, hi_x = p->left + p->pw - 1, lo_y = p->top, hi_y = p->top + p->ph - 1;
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0, t1 = 1;
    double pp[4] = {-dx, dx, -dy, dy}, qq[4] = {*x0 - lo_x, hi_x - *x0, *y0 - lo_y, hi_y - *y0};
    for (int i = 0; i < 4; i++) {
        if (pp[i] == 0) { if (qq[i] < 0) return 0; continue; }
        double r = qq[i] / pp[i];
        if (pp[i] < 0) { if (r > t1) return 0; if (r > t0) t0 = r; }
        else { if (r < t0) return 0; if (r < t1) t1 = r; }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy, bx = *x0 + t1 * dx, by = *y0 + t1 * dy;
    *x0 = ax; *y0 = ay; *x1 = bx; *y1 = by;
    return 1;
}

static void draw_axes(fn_plot *p, fn_image *img) {
    const int s = p->text_scale, ch = 8 * s;
    const int x0 = p->left, y0 = p->top, x1 = p->left + p->pw - 1, y1 = p->top + p->ph - 1;
    ticks tx, ty;
    make_ticks(&p->ax, &tx);
    make_ticks(&p->ay, &ty);
    char b[48];
    /* minor log ticks and grid first, under everything */
    for (int axis = 0; axis < 2; axis++) {
        const plot_axis *a = axis ? &p->ay : &p->ax;
        const ticks *t = axis ? &ty : &tx;
        if (a->log && t->minor) {
            for (int e = (int)floor(log10(a->lo)); e < (int)ceil(log10(a->hi)); e++)
                for (int m = 2; m <= 9; m++) {
                    double v = m * pow(10, e);
                    if (v < a->lo || v > a->hi) continue;
                    if (axis) { double py = to_py(p, v); fn_draw_line(img, (float)x0, (float)py, (float)(x0 + 3 * s), (float)py, AXIS_COLOR, 1); }
                    else { double px = to_px(p, v); fn_draw_line(img, (float)px, (float)y1, (float)px, (float)(y1 - 3 * s), AXIS_COLOR, 1); }
                }
        }
        for (int i = 0; i < t->n; i++) {
            if (axis) { double py = to_py(p, t->v[i]); fn_draw_line(img, (float)x0, (float)py, (float)x1, (float)py, GRID_COLOR, 1); }
            else { double px = to_px(p, t->v[i]); fn_draw_line(img, (float)px, (float)y0, (float)px, (float)y1, GRID_COLOR, 1); }
        }
    }
    fn_draw_rect(img, (float)x0, (float)y0, (float)x1, (float)y1, AXIS_COLOR, 1);
    for (int i = 0; i < tx.n; i++) {
        double px = to_px(p, tx.v[i]);
        fn_draw_line(img, (float)px, (float)y1, (float)px, (float)(y1 + 5 * s), AXIS_COLOR, 1);
        tick_label(&p->ax, &tx, tx.v[i], b, sizeof b);
        fn_draw_text(img, (int)lround(px) - fn_text_width(b, s) / 2, y1 + 6 * s + 2, b, TEXT_COLOR, s);
    }
    for (int i = 0; i < ty.n; i++) {
        double py = to_py(p, ty.v[i]);
        fn_draw_line(img, (float)(x0 - 5 * s), (float)py, (float)x0, (float)py, AXIS_COLOR, 1);
        tick_label(&p->ay, &ty, ty.v[i], b, sizeof b);
        fn_draw_text(img, x0 - 6 * s - 2 - fn_text_width(b, s), (int)lround(py) - ch / 2 + s, b, TEXT_COLOR, s);
    }
    if (p->xlabel)
        fn_draw_text(img, x0 + p->pw / 2 - fn_text_width(p->xlabel, s) / 2, y1 + 6 * s + 2 + ch + 8, p->xlabel, TEXT_COLOR, s);
    if (p->ylabel) /* above the y axis, reading horizontally */
        fn_draw_text(img, x0 - fn_text_width(p->ylabel, s) / 2 > 4 ? x0 - fn_text_width(p->ylabel, s) / 2 : 4,
                     y0 - ch - 6, p->ylabel, TEXT_COLOR, s);
    if (p->title) {
        int tw = fn_text_width(p->title, p->title_scale);
        fn_draw_text(img, (p->w - tw) / 2 > 4 ? (p->w - tw) / 2 : 4, 10, p->title, TEXT_COLOR, p->title_scale);
    }
}

static void draw_series(fn_plot *p, fn_image *img, const plot_series *s) {
    const int thick = p->text_scale + 1;
    if (s->is_marker) {
        if (!usable(&p->ax, s->x[0]) || !usable(&p->ay, s->y[0])) return;
        double px = to_px(p, s->x[0]), py = to_py(p, s->y[0]);
        if (px < p->left - 1 || px > p->left + p->pw || py < p->top - 1 || py > p->top + p->ph) return;
        const float r = 4.0f * p->text_scale;
        fn_draw_circle(img, (float)px, (float)py, r + 1, AXIS_COLOR, 1);
        fn_draw_circle(img, (float)px, (float)py, r, s->color, 1);
        if (s->label) {
            const int sc = p->text_scale, tw = fn_text_width(s->label, sc);
            int tx = (int)lround(px + r + 4);
            if (tx + tw > p->left + p->pw - 2) tx = (int)lround(px - r - 4) - tw;
            int ty = (int)lround(py) - 8 * sc - (int)r;
            if (ty < p->top + 2) ty = (int)lround(py + r + 2);
            fn_draw_text(img, tx, ty, s->label, TEXT_COLOR, sc);
        }
        return;
    }
    int have_prev = 0;
    double qx = 0, qy = 0;
    for (int k = 0; k < s->n; k++) {
        if (!usable(&p->ax, s->x[k]) || !usable(&p->ay, s->y[k])) { have_prev = 0; continue; }
        double px = to_px(p, s->x[k]), py = to_py(p, s->y[k]);
        if (s->n == 1) {
            double ax = px, ay = py, bx = px, by = py;
            if (clip(p, &ax, &ay, &bx, &by)) fn_draw_circle(img, (float)px, (float)py, (float)thick, s->color, 1);
        } else if (have_prev) {
            double ax = qx, ay = qy, bx = px, by = py;
            if (clip(p, &ax, &ay, &bx, &by)) fn_draw_line(img, (float)ax, (float)ay, (float)bx, (float)by, s->color, thick);
        }
        qx = px; qy = py; have_prev = 1;
    }
}

static void draw_legend(fn_plot *p, fn_image *img) {
    if (p->legend == FN_LEGEND_NONE) return;
    const int s = p->text_scale, ch = 8 * s, sw = 22 * s, pad = 6 * s;
    int n = 0, tw = 0;
    for (int i = 0; i < p->n_series; i++)
        if (p->series[i].label) { n++; int w = fn_text_width(p->series[i].label, s); if (w > tw) tw = w; }
    if (!n) return;
    const int bw = pad + sw + pad + tw + pad, bh = pad + n * (ch + 4 * s) - 4 * s + pad;
    int bx = p->legend == FN_LEGEND_TOP_LEFT || p->legend == FN_LEGEND_BOTTOM_LEFT ? p->left + 8 : p->left + p->pw - 8 - bw;
    int by = p->legend == FN_LEGEND_TOP_LEFT || p->legend == FN_LEGEND_TOP_RIGHT ? p->top + 8 : p->top + p->ph - 8 - bh;
    fn_draw_fill_rect(img, (float)bx, (float)by, (float)(bx + bw - 1), (float)(by + bh - 1), 0xFFFFFFu);
    fn_draw_rect(img, (float)bx, (float)by, (float)(bx + bw - 1), (float)(by + bh - 1), LEGEND_BORDER, 1);
    int row = 0;
    for (int i = 0; i < p->n_series; i++) {
        const plot_series *se = &p->series[i];
        if (!se->label) continue;
        int y = by + pad + row * (ch + 4 * s), cy = y + ch / 2;
        if (se->is_marker) fn_draw_circle(img, (float)(bx + pad + sw / 2), (float)cy, 4.0f * s, se->color, 1);
        else fn_draw_line(img, (float)(bx + pad), (float)cy, (float)(bx + pad + sw), (float)cy, se->color, s + 1);
        fn_draw_text(img, bx + pad + sw + pad, y, se->label, TEXT_COLOR, s);
        row++;
    }
}

fn_status fn_plot_render(fn_plot *p, fn_image *out) {
    if (!p || !out) return fn_fail(FN_ERR_ARG, "plot: NULL argument");
    layout(p);
    FN_TRY(fn_image_alloc(p->w, p->h, out));
    memset(out->rgb, 0xFF, (size_t)p->w * p->h * 3);
    draw_axes(p, out);
    for (int i = 0; i < p->n_series; i++) if (!p->series[i].is_marker) draw_series(p, out, &p->series[i]);
    for (int i = 0; i < p->n_series; i++) if (p->series[i].is_marker) draw_series(p, out, &p->series[i]);
    draw_legend(p, out);
    return FN_OK;
}

fn_status fn_plot_save_png(fn_plot *p, const char *path) {
    fn_image img = {0};
    FN_TRY(fn_plot_render(p, &img));
    fn_status s = fn_image_save_png(path, &img);
    fn_image_free(&img);
    return s;
}
