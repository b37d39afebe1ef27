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

/* EXIF Orientation (1..8) of a JPEG APP1 payload ("Exif\0\0" + TIFF); 1 when absent or
 * malformed. Exposed for tests. */
int fn_exif_orientation(const uint8_t *app1, size_t size);
/* New image with orientation o (1..8) undone, as PIL's ImageOps.exif_transpose. */
fn_status fn_image_apply_orientation(const fn_image *src, int orientation, fn_image *out);

#endif
