/* image_internal.h — shared by the decoders/encoders in src/image: size caps and the
 * per-format entry points that fn_image_decode dispatches to by magic bytes. */
#ifndef FN_IMAGE_INTERNAL_H
#define FN_IMAGE_INTERNAL_H
#include "core.h"

/* FN_ERR_FORMAT for w or h <= 0, FN_ERR_LIMIT above FN_IMAGE_MAX_DIM or the pixel cap.
 * Every decoder calls this on the header's dimensions BEFORE allocating anything. */
fn_status fn_image_check_size(long w, long h, const char *format);
/* Lower the pixel cap on this thread (fuzzers use it to keep runs fast); 0 restores it. */
void fn_image_set_pixel_limit(size_t max_pixels);

fn_status fn_image_decode_jpeg(const uint8_t *data, size_t size, int exif_rotate, fn_image *out);
fn_status fn_image_decode_png(const uint8_t *data, size_t size, fn_image *out);
fn_status fn_image_decode_pnm(const uint8_t *data, size_t size, fn_image *out);
fn_status fn_image_decode_bmp(const uint8_t *data, size_t size, fn_image *out);
fn_status fn_image_decode_gif(const uint8_t *data, size_t size, fn_image *out);
/* Optional decoders (src/image/webp.c, heif.c, tiff.c): without their library (FN_HAVE_WEBP,
 * FN_HAVE_HEIF, FN_HAVE_TIFF) each fails with FN_ERR_UNSUPPORTED naming the package. */
fn_status fn_image_decode_webp(const uint8_t *data, size_t size, int exif_rotate, fn_image *out);
fn_status fn_image_decode_heif(const uint8_t *data, size_t size, int exif_rotate, fn_image *out);
fn_status fn_image_decode_tiff(const uint8_t *data, size_t size, int exif_rotate, fn_image *out);
/* The HEIF brand of a file ("heic", "avif", ...) if it is a HEIF/AVIF still image, else NULL. */
const char *fn_heif_brand(const uint8_t *data, size_t size);

/* CMYK → RGB exactly as PIL's cmyk2rgb: R = (255-K) - (C·(255-K))/255 with PIL's rounding. */
static inline uint8_t fn_cmyk_channel(int c, int k) {
    int nk = 255 - k, t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* EXIF Orientation (1..8) of an EXIF block: a JPEG APP1 payload ("Exif\0\0" + TIFF) or a
 * bare TIFF header + IFD0 (WebP's EXIF chunk); 1 when absent or malformed. (src/image/exif.c) */
int fn_exif_orientation(const uint8_t *exif, size_t size);
/* New image with orientation o (1..8) undone, as PIL's ImageOps.exif_transpose. */
fn_status fn_image_apply_orientation(const fn_image *src, int orientation, fn_image *out);
/* The same, replacing *img (kept as it is for orientation 1 or out of 2..8, or on error). */
fn_status fn_image_orient(fn_image *img, int orientation);
/* The stub of a decoder built without its library: FN_ERR_UNSUPPORTED, *out emptied. */
fn_status fn_image_built_without(const char *format, const char *support, const char *package, fn_image *out);

#endif
