/* image.c — fn_image allocation, load/decode dispatch by magic bytes, and the small
 * pixel-copy helpers (flip, crop, bilinear sample). */
#include "image_internal.h"

static _Thread_local size_t pixel_limit = 0; /* 0: FN_IMAGE_MAX_PIXELS */

void fn_image_set_pixel_limit(size_t max_pixels) { pixel_limit = max_pixels; }

fn_status fn_image_check_size(long w, long h, const char *format) {
    size_t cap = pixel_limit ? pixel_limit : FN_IMAGE_MAX_PIXELS;
    if (w <= 0 || h <= 0)
        return fn_fail(FN_ERR_FORMAT, "%s: invalid image size %ldx%ld", format, w, h);
    if (w > FN_IMAGE_MAX_DIM || h > FN_IMAGE_MAX_DIM)
        return fn_fail(FN_ERR_LIMIT, "%s: image %ldx%ld exceeds the %d pixel side limit",
                       format, w, h, FN_IMAGE_MAX_DIM);
    if ((size_t)w * (size_t)h > cap) /* both <= 32768: no overflow */
        return fn_fail(FN_ERR_LIMIT, "%s: image %ldx%ld exceeds the %zu pixel limit", format,
                       w, h, cap);
    return FN_OK;
}

fn_status fn_image_alloc(int w, int h, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    FN_TRY(fn_image_check_size(w, h, "image"));
    size_t n = (size_t)w * (size_t)h * 3;
    out->rgb = fn_malloc(n);
    if (!out->rgb) return FN_ERR_NOMEM;
    out->w = w;
    out->h = h;
    return FN_OK;
}

void fn_image_free(fn_image *img) {
    if (!img) return;
    fn_free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

fn_status fn_image_decode(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    if (!data || size < 4) return fn_fail(FN_ERR_FORMAT, "image: file too short (%zu bytes)", size);
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return fn_image_decode_jpeg(data, size, exif_rotate, out);
    if (size >= 8 && memcmp(data, png_magic, 8) == 0) return fn_image_decode_png(data, size, out);
    if (size >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return fn_image_decode_gif(data, size, out);
    if (data[0] == 'B' && data[1] == 'M') return fn_image_decode_bmp(data, size, out);
    if (data[0] == 'P' && (data[1] == '2' || data[1] == '3' || data[1] == '5' || data[1] == '6'))
        return fn_image_decode_pnm(data, size, out);
    if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return fn_image_decode_webp(data, size, exif_rotate, out);
    if (fn_heif_brand(data, size)) return fn_image_decode_heif(data, size, exif_rotate, out);
    if (memcmp(data, "II*\0", 4) == 0 || memcmp(data, "MM\0*", 4) == 0 || /* TIFF, BigTIFF */
        memcmp(data, "II+\0", 4) == 0 || memcmp(data, "MM\0+", 4) == 0)
        return fn_image_decode_tiff(data, size, exif_rotate, out);
    return fn_fail(FN_ERR_FORMAT, "image: unrecognised format (not JPEG, PNG, GIF, BMP, PGM, PPM, WebP, "
                                  "HEIC, AVIF or TIFF)");
}

fn_status fn_image_load(const char *path, int exif_rotate, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    uint8_t *data;
    size_t size;
    FN_TRY(fn_read_file(path, &data, &size));
    fn_status s = fn_image_decode(data, size, exif_rotate, out);
    free(data);
    if (s != FN_OK) {
        /* prefix the path so CLI messages say which file was bad */
        char msg[400];
        snprintf(msg, sizeof msg, "%s", fn_last_error());
        fn_fail(s, "%s: %s", path, msg);
    }
    return s;
}

fn_status fn_image_flip_lr(const fn_image *src, fn_image *out) {
    FN_TRY(fn_image_alloc(src->w, src->h, out));
    for (int y = 0; y < src->h; y++) {
        const uint8_t *in = src->rgb + (size_t)y * src->w * 3;
        uint8_t *o = out->rgb + (size_t)y * src->w * 3;
        for (int x = 0; x < src->w; x++) memcpy(o + (size_t)x * 3, in + (size_t)(src->w - 1 - x) * 3, 3);
    }
    return FN_OK;
}

fn_status fn_image_crop(const fn_image *src, int x, int y, int w, int h, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    long x0 = x > 0 ? x : 0, y0 = y > 0 ? y : 0;
    long x1 = (long)x + w, y1 = (long)y + h;
    if (x1 > src->w) x1 = src->w;
    if (y1 > src->h) y1 = src->h;
    if (w <= 0 || h <= 0 || x1 <= x0 || y1 <= y0)
        return fn_fail(FN_ERR_ARG, "crop: rectangle %d,%d %dx%d is outside the %dx%d image", x, y,
                       w, h, src->w, src->h);
    FN_TRY(fn_image_alloc((int)(x1 - x0), (int)(y1 - y0), out));
    size_t row = (size_t)out->w * 3;
    for (long r = y0; r < y1; r++)
        memcpy(out->rgb + (size_t)(r - y0) * row, src->rgb + ((size_t)r * src->w + x0) * 3, row);
    return FN_OK;
}

void fn_image_sample_bilinear(const fn_image *img, float x, float y, uint8_t rgb[3]) {
    rgb[0] = rgb[1] = rgb[2] = 0;
    /* beyond one pixel outside, every neighbour is black (also rejects NaN) */
    if (!(x > -1.0f && y > -1.0f && x < (float)img->w && y < (float)img->h)) return;
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - x0, fy = y - y0;
    float acc[3] = {0, 0, 0};
    for (int dy = 0; dy < 2; dy++) {
        int yy = y0 + dy;
        if (yy < 0 || yy >= img->h) continue;
        float wy = dy ? fy : 1.0f - fy;
        for (int dx = 0; dx < 2; dx++) {
            int xx = x0 + dx;
            if (xx < 0 || xx >= img->w) continue;
            float wgt = wy * (dx ? fx : 1.0f - fx);
            const uint8_t *p = img->rgb + ((size_t)yy * img->w + xx) * 3;
            for (int c = 0; c < 3; c++) acc[c] += wgt * p[c];
        }
    }
    for (int c = 0; c < 3; c++) {
        float v = acc[c] + 0.5f;
        rgb[c] = v >= 255.0f ? 255 : (uint8_t)v;
    }
}

fn_status fn_image_apply_orientation(const fn_image *src, int o, fn_image *out) {
    const int W = src->w, H = src->h;
    const int swap = o >= 5 && o <= 8;
    FN_TRY(fn_image_alloc(swap ? H : W, swap ? W : H, out));
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++) {
            int sx, sy; /* source pixel of output (x, y), as PIL's exif_transpose */
            switch (o) {
            case 2: sx = W - 1 - x; sy = y; break;             /* mirror */
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;     /* rotate 180 */
            case 4: sx = x; sy = H - 1 - y; break;             /* flip vertical */
            case 5: sx = y; sy = x; break;                     /* transpose */
            case 6: sx = y; sy = H - 1 - x; break;             /* rotate 90 clockwise */
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;     /* transverse */
            case 8: sx = W - 1 - y; sy = x; break;             /* rotate 90 counter-clockwise */
            default: sx = x; sy = y; break;
            }
            memcpy(out->rgb + ((size_t)y * out->w + x) * 3, src->rgb + ((size_t)sy * W + sx) * 3, 3);
        }
    return FN_OK;
}

fn_status fn_image_orient(fn_image *img, int orientation) {
    if (orientation < 2 || orientation > 8) return FN_OK;
    fn_image rotated;
    FN_TRY(fn_image_apply_orientation(img, orientation, &rotated));
    fn_image_free(img);
    *img = rotated;
    return FN_OK;
}

fn_status fn_image_built_without(const char *format, const char *support, const char *package, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    return fn_fail(FN_ERR_UNSUPPORTED, "%s: built without %s support: install %s and rebuild", format, support, package);
}
