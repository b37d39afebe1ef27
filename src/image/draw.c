/* draw.c — drawing for detections, plots and labels: rectangles, lines, circles, text.
 * Every primitive clips to the image first, so any coordinates (huge, negative, NaN) are
 * safe and cost at most the visible area. */
#include "image_internal.h"
#include "font.h"

#define FN_TEXT_MAX_SCALE 4096 /* keeps every text size computation far from overflow */

static inline void put(fn_image *img, int x, int y, uint32_t rgb) {
    uint8_t *p = img->rgb + ((size_t)y * img->w + x) * 3;
    p[0] = (uint8_t)(rgb >> 16); p[1] = (uint8_t)(rgb >> 8); p[2] = (uint8_t)rgb;
}

/* Round to the nearest pixel index, saturating so that casts stay defined. NaN → -inf side. */
static long to_px(float v) {
    if (!(v > -1e9f)) return -1000000000L;
    if (v > 1e9f) return 1000000000L;
    return lroundf(v);
}

static int image_ok(const fn_image *img) { return img && img->rgb && img->w > 0 && img->h > 0; }

void fn_draw_fill_rect(fn_image *img, float x1, float y1, float x2, float y2, uint32_t rgb) {
    if (!image_ok(img)) return;
    long a = to_px(x1), b = to_px(x2), c = to_px(y1), d = to_px(y2);
    long xa = a < b ? a : b, xb = a < b ? b : a, ya = c < d ? c : d, yb = c < d ? d : c;
    if (xa < 0) xa = 0;
    if (ya < 0) ya = 0;
    if (xb > img->w - 1) xb = img->w - 1;
    if (yb > img->h - 1) yb = img->h - 1;
    for (long y = ya; y <= yb; y++)
        for (long x = xa; x <= xb; x++) put(img, (int)x, (int)y, rgb);
}

void fn_draw_rect(fn_image *img, float x1, float y1, float x2, float y2, uint32_t rgb, int thickness) {
    if (!image_ok(img)) return;
    if (thickness < 1) thickness = 1;
    float xa = fminf(x1, x2), xb = fmaxf(x1, x2), ya = fminf(y1, y2), yb = fmaxf(y1, y2);
    float t = (float)(thickness - 1);
    fn_draw_fill_rect(img, xa, ya, xb, ya + t, rgb);     /* top */
    fn_draw_fill_rect(img, xa, yb - t, xb, yb, rgb);     /* bottom */
    fn_draw_fill_rect(img, xa, ya, xa + t, yb, rgb);     /* left */
    fn_draw_fill_rect(img, xb - t, ya, xb, yb, rgb);     /* right */
}

/* Liang–Barsky: clip the segment to [lo_x, hi_x] x [lo_y, hi_y]; 0 when nothing is left. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double lo_x, double lo_y, double hi_x, double hi_y) {
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0, t1 = 1;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 - lo_x, hi_x - *x0, *y0 - lo_y, hi_y - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0) { if (r > t1) return 0; if (r > t0) t0 = r; }
        else { if (r < t0) return 0; if (r < t1) t1 = r; }
    }
    double ox = *x0, oy = *y0;
    *x0 = ox + t0 * dx; *y0 = oy + t0 * dy;
    *x1 = ox + t1 * dx; *y1 = oy + t1 * dy;
    return 1;
}

void fn_draw_line(fn_image *img, float x0, float y0, float x1, float y1, uint32_t rgb, int thickness) {
    if (!image_ok(img)) return;
    if (!(isfinite(x0) && isfinite(y0) && isfinite(x1) && isfinite(y1))) return;
    if (thickness < 1) thickness = 1;
    const double half = thickness / 2.0;
    double ax = x0, ay = y0, bx = x1, by = y1;
    /* clip with a margin of the half thickness, so thick lines keep their ends' width */
    if (!clip_segment(&ax, &ay, &bx, &by, -half - 1, -half - 1, img->w + half, img->h + half)) return;
    if (thickness == 1) { /* Bresenham between the rounded, clipped end points */
        long px = lround(ax), py = lround(ay), qx = lround(bx), qy = lround(by);
        long dx = labs(qx - px), dy = -labs(qy - py), sx = px < qx ? 1 : -1, sy = py < qy ? 1 : -1, err = dx + dy;
        for (;;) {
            if (px >= 0 && py >= 0 && px < img->w && py < img->h) put(img, (int)px, (int)py, rgb);
            if (px == qx && py == qy) break;
            long e2 = 2 * err;
            if (e2 >= dy) { err += dy; px += sx; }
            if (e2 <= dx) { err += dx; py += sy; }
        }
        return;
    }
    /* thick: every pixel centre within half the thickness of the (clipped) segment */
    long xa = (long)floor(fmin(ax, bx) - half), xb = (long)ceil(fmax(ax, bx) + half);
    long ya = (long)floor(fmin(ay, by) - half), yb = (long)ceil(fmax(ay, by) + half);
    if (xa < 0) xa = 0;
    if (ya < 0) ya = 0;
    if (xb > img->w - 1) xb = img->w - 1;
    if (yb > img->h - 1) yb = img->h - 1;
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy, r2 = half * half;
    for (long y = ya; y <= yb; y++)
        for (long x = xa; x <= xb; x++) {
            double t = len2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = ax + t * dx - x, ey = ay + t * dy - y;
            if (ex * ex + ey * ey <= r2) put(img, (int)x, (int)y, rgb);
        }
}

void fn_draw_circle(fn_image *img, float cx, float cy, float r, uint32_t rgb, int filled) {
    if (!image_ok(img)) return;
    if (!(isfinite(cx) && isfinite(cy) && isfinite(r)) || r < 0) return;
    double outer = r + 0.5, inner = r - 0.5;
    long xa = (long)floor(fmax(cx - outer, 0)), xb = (long)ceil(fmin(cx + outer, img->w - 1));
    long ya = (long)floor(fmax(cy - outer, 0)), yb = (long)ceil(fmin(cy + outer, img->h - 1));
    for (long y = ya; y <= yb; y++)
        for (long x = xa; x <= xb; x++) {
            double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            int in = filled ? d2 <= (double)r * r + 0.25 /* centre pixel for r = 0 too */
                            : d2 <= outer * outer && (inner <= 0 || d2 >= inner * inner);
            if (in) put(img, (int)x, (int)y, rgb);
        }
}

void fn_draw_text(fn_image *img, int x, int y, const char *text, uint32_t rgb, int scale) {
    if (!image_ok(img) || !text) return;
    scale = scale < 1 ? 1 : scale > FN_TEXT_MAX_SCALE ? FN_TEXT_MAX_SCALE : scale;
    long cx = x, cy = y;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n') { cx = x; cy += (long)FN_FONT_CELL_H * scale; continue; }
        /* skip glyphs wholly outside; the per-pixel test below clips the rest */
        if (cx < img->w && cy < img->h && cx + (long)FN_FONT_GLYPH_W * scale > 0 && cy + (long)FN_FONT_GLYPH_H * scale > 0)
            for (int row = 0; row < FN_FONT_GLYPH_H; row++)
                for (int col = 0; col < FN_FONT_GLYPH_W; col++) {
                    if (!fn_font_pixel(*p, col, row)) continue;
                    long px0 = cx + (long)col * scale, py0 = cy + (long)row * scale;
                    long px1 = px0 + scale - 1, py1 = py0 + scale - 1; /* one ink dot, clipped */
                    if (px0 < 0) px0 = 0;
                    if (py0 < 0) py0 = 0;
                    if (px1 > img->w - 1) px1 = img->w - 1;
                    if (py1 > img->h - 1) py1 = img->h - 1;
                    for (long py = py0; py <= py1; py++)
                        for (long px = px0; px <= px1; px++) put(img, (int)px, (int)py, rgb);
                }
        cx += (long)FN_FONT_CELL_W * scale;
    }
}

int fn_text_width(const char *text, int scale) {
    if (!text) return 0;
    scale = scale < 1 ? 1 : scale > FN_TEXT_MAX_SCALE ? FN_TEXT_MAX_SCALE : scale;
    long best = 0, cur = 0;
    for (const char *p = text; ; p++) {
        if (*p == '\n' || !*p) {
            if (cur > best) best = cur;
            cur = 0;
            if (!*p) break;
        } else cur++;
    }
    long w = best * FN_FONT_CELL_W * scale;
    return w > 1000000000L ? 1000000000 : (int)w;
}

int fn_text_height(const char *text, int scale) {
    if (!text || !*text) return 0;
    scale = scale < 1 ? 1 : scale > FN_TEXT_MAX_SCALE ? FN_TEXT_MAX_SCALE : scale;
    long lines = 1;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    long h = lines * FN_FONT_CELL_H * scale;
    return h > 1000000000L ? 1000000000 : (int)h;
}
