/* heif.c — HEIC and AVIF decode (libheif: HEVC through libde265, AV1 through dav1d):
 * the primary image, alpha dropped, 10/12-bit reduced to 8, grids assembled by libheif.
 * Orientation is HEIF's own irot/imir (and clap) transforms, applied by libheif when
 * exif_rotate is set; EXIF orientation inside a HEIF is ignored, as the HEIF spec and
 * libheif ask (writers keep it only for old readers; applying both would rotate twice).
 * On a corrupt stream libde265 and dav1d may print a line to stderr themselves (libheif
 * gives no switch for it); the error still comes back as fn_status.
 * Without libheif (FN_HAVE_HEIF unset) a stub says what to install. */
#include "image_internal.h"
#include <limits.h>

static int brand_is(const uint8_t *b, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (memcmp(b, list[i], 4) == 0) return 1;
    return 0;
}

const char *fn_heif_brand(const uint8_t *data, size_t size) {
    /* ISO-BMFF: the first box is "ftyp" (size, "ftyp", major brand, minor version,
     * compatible brands...); MP4 videos start the same way, so the brand decides */
    static const char *const avif[] = {"avif", "avis", NULL};
    static const char *const heif[] = {"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "mif2", NULL};
    if (size < 16 || memcmp(data + 4, "ftyp", 4) != 0) return NULL;
    size_t box = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
    if (box < 16 || box > size) box = size < 256 ? size : 256;
    const char *found = NULL;
    for (size_t at = 8; at + 4 <= box; at += at == 8 ? 8 : 4) { /* skip the minor version */
        if (brand_is(data + at, avif)) return "avif";
        if (!found && brand_is(data + at, heif)) found = "heic";
    }
    return found;
}

#ifdef FN_HAVE_HEIF
#include <libheif/heif.h>

fn_status fn_image_decode_heif(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    const char *brand = fn_heif_brand(data, size);
    const char *fmt = brand && strcmp(brand, "avif") == 0 ? "AVIF" : "HEIF";
    if (size > INT_MAX) return fn_fail(FN_ERR_LIMIT, "%s: file of %zu bytes is too large", fmt, size);
    struct heif_context *ctx = heif_context_alloc();
    if (!ctx) return fn_fail(FN_ERR_NOMEM, "%s: out of memory", fmt);
    struct heif_image_handle *handle = NULL;
    struct heif_image *decoded = NULL;
    struct heif_decoding_options *opts = NULL;
    fn_image img = {0, 0, NULL};
    fn_status s = FN_OK;
    /* libheif's own cap on each side, also for grid images it assembles from tiles */
    heif_context_set_maximum_image_size_limit(ctx, FN_IMAGE_MAX_DIM);
    /* grid tiles one after another: libheif 1.15's threaded grid decode is racy (tiles
     * pasted wrongly at random, tests/fixtures/image/heic_grid.heic); callers parallelise
     * over images anyway */
    heif_context_set_max_decoding_threads(ctx, 0);
    struct heif_error e = heif_context_read_from_memory_without_copy(ctx, data, size, NULL);
    if (e.code == heif_error_Ok) e = heif_context_get_primary_image_handle(ctx, &handle);
    if (e.code != heif_error_Ok) {
        s = fn_fail(e.code == heif_error_Memory_allocation_error ? FN_ERR_LIMIT : FN_ERR_FORMAT, "%s: %s", fmt, e.message);
        goto done;
    }
    /* sizes before decoding: the coded size (ispe) and the displayed one (after clap/irot) */
    if ((s = fn_image_check_size(heif_image_handle_get_ispe_width(handle), heif_image_handle_get_ispe_height(handle), fmt)) != FN_OK ||
        (s = fn_image_check_size(heif_image_handle_get_width(handle), heif_image_handle_get_height(handle), fmt)) != FN_OK)
        goto done;
    if (!(opts = heif_decoding_options_alloc())) { s = fn_fail(FN_ERR_NOMEM, "%s: out of memory", fmt); goto done; }
    opts->ignore_transformations = !exif_rotate;
    opts->convert_hdr_to_8bit = 1;
    e = heif_decode_image(handle, &decoded, heif_colorspace_RGB, heif_chroma_interleaved_RGB, opts);
    if (e.code != heif_error_Ok) {
        s = fn_fail(e.code == heif_error_Unsupported_feature || e.code == heif_error_Unsupported_filetype ? FN_ERR_UNSUPPORTED : FN_ERR_FORMAT,
                    "%s: %s", fmt, e.message);
        goto done;
    }
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(decoded, heif_channel_interleaved, &stride);
    int w = heif_image_get_width(decoded, heif_channel_interleaved), h = heif_image_get_height(decoded, heif_channel_interleaved);
    if (!plane || heif_image_get_bits_per_pixel_range(decoded, heif_channel_interleaved) != 8 || stride < w * 3) {
        s = fn_fail(FN_ERR_UNSUPPORTED, "%s: unexpected decoded layout", fmt);
        goto done;
    }
    if ((s = fn_image_alloc(w, h, &img)) != FN_OK) goto done;
    for (int y = 0; y < h; y++) memcpy(img.rgb + (size_t)y * w * 3, plane + (size_t)y * stride, (size_t)w * 3);
    *out = img;
    img.rgb = NULL;
done:
    fn_image_free(&img);
    if (decoded) heif_image_release(decoded);
    if (opts) heif_decoding_options_free(opts);
    if (handle) heif_image_handle_release(handle);
    heif_context_free(ctx);
    return s;
}

#else
fn_status fn_image_decode_heif(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    (void)exif_rotate;
    const char *brand = fn_heif_brand(data, size);
    return fn_image_built_without(brand && strcmp(brand, "avif") == 0 ? "AVIF" : "HEIF", "HEIF/AVIF", "libheif-dev", out);
}
#endif
