/* tiff.c — TIFF decode (libtiff): the first page, striped or tiled, contiguous samples:
 * grey / grey+alpha / RGB / RGBA / palette / CMYK at 1..16 bits, JPEG-compressed YCbCr
 * (libtiff converts to RGB), to 8-bit RGB as PIL's convert("RGB"): alpha dropped (a
 * premultiplied one first divided out, as PIL's "RGBa" unpacking does), 16-bit
 * samples keep their high byte (PIL's "RGB;16" unpackers; for 16-bit grey PIL clips
 * instead, we keep the high byte as the PNG path does), a palette's 16-bit entries their
 * high byte, min-is-white inverted, CMYK through PIL's cmyk2rgb. Other layouts (separate
 * planes, subsampled YCbCr, LogLuv...) go through libtiff's RGBA reader. The Orientation
 * tag is applied like JPEG's EXIF one. Without libtiff (FN_HAVE_TIFF unset) a stub says
 * what to install. */
#include "image_internal.h"

#ifdef FN_HAVE_TIFF
#include <stdarg.h>
#include <tiffio.h>

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char msg[256];
} tiff_source;

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n) {
    tiff_source *src = h;
    if (n < 0) return 0;
    size_t k = (size_t)n, left = src->pos < src->size ? src->size - src->pos : 0;
    if (k > left) k = left;
    memcpy(buf, src->data + src->pos, k);
    src->pos += k;
    return (tmsize_t)k;
}
static tmsize_t mem_write(thandle_t h, void *buf, tmsize_t n) { (void)h; (void)buf; (void)n; return 0; }
static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
    tiff_source *src = h;
    uint64_t base = whence == SEEK_CUR ? src->pos : whence == SEEK_END ? src->size : 0;
    if (off > UINT64_MAX - base) return (toff_t)-1;
    src->pos = (size_t)(base + off > src->size ? src->size : base + off);
    return base + off;
}
static int mem_close(thandle_t h) { (void)h; return 0; }
static toff_t mem_size(thandle_t h) { return ((tiff_source *)h)->size; }
static int mem_map(thandle_t h, void **base, toff_t *size) { (void)h; (void)base; (void)size; return 0; }
static void mem_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)module;
    tiff_source *src = user;
    if (!src->msg[0]) vsnprintf(src->msg, sizeof src->msg, fmt, ap); /* the first error is the cause */
    return 1;
}
static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1; /* handled: nothing printed */
}

/* What the pixel loop needs to turn one row of samples into RGB. */
typedef struct {
    int photometric, bps, spp, cmyk;
    int premultiplied; /* sample index of an associated (premultiplied) alpha, or 0 */
    const uint16_t *map[3]; /* palette */
} tiff_layout;

/* PIL's "RGBa"/"La" unpacking: colour * 255 / alpha (integer division), 0 where alpha is 0 */
static uint8_t unpremultiply(unsigned v, unsigned a) {
    if (a == 0) return 0;
    unsigned u = v * 255 / a;
    return (uint8_t)(u > 255 ? 255 : u);
}

static unsigned sample_at(const uint8_t *row, size_t i, int bps) {
    switch (bps) {
    case 8: return row[i];
    case 16: { uint16_t v; memcpy(&v, row + 2 * i, 2); return v >> 8; } /* libtiff swabbed to host order */
    default: { /* 1, 2, 4: MSB first, rows start on a byte */
        size_t bit = i * (size_t)bps;
        unsigned v = (row[bit >> 3] >> (8 - bps - (bit & 7))) & ((1u << bps) - 1);
        return v;
    }
    }
}

static void convert_row(const tiff_layout *L, const uint8_t *row, int n, uint8_t *rgb) {
    const unsigned grey_max = L->bps >= 8 ? 255 : (1u << L->bps) - 1;
    for (int x = 0; x < n; x++, rgb += 3) {
        size_t i = (size_t)x * L->spp;
        if (L->photometric == PHOTOMETRIC_PALETTE) {
            unsigned k = sample_at(row, i, L->bps);
            for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)(L->map[c][k] >> 8);
        } else if (L->cmyk) {
            unsigned k = sample_at(row, i + 3, L->bps);
            for (int c = 0; c < 3; c++) rgb[c] = fn_cmyk_channel((int)sample_at(row, i + c, L->bps), (int)k);
        } else if (L->photometric == PHOTOMETRIC_RGB) {
            for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)sample_at(row, i + c, L->bps);
        } else { /* grey: scaled to 0..255 (PIL's "L;2", "L;4": v * 85, v * 17) */
            unsigned v = sample_at(row, i, L->bps) * 255 / grey_max;
            if (L->photometric == PHOTOMETRIC_MINISWHITE) v = 255 - v;
            rgb[0] = rgb[1] = rgb[2] = (uint8_t)v;
        }
        if (L->premultiplied) {
            unsigned a = sample_at(row, i + L->premultiplied, L->bps);
            for (int c = 0; c < 3; c++) rgb[c] = unpremultiply(rgb[c], a);
        }
    }
}

/* Strips or tiles of contiguous samples, each decoded into buf and converted. */
static fn_status read_contig(TIFF *tif, const tiff_layout *L, fn_image *img, tiff_source *src) {
    const int tiled = TIFFIsTiled(tif);
    uint32_t tw = (uint32_t)img->w, th = 0;
    if (tiled) {
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        FN_TRY(fn_image_check_size(tw, th, "TIFF tile"));
    } else {
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &th);
        if (th == 0 || th > (uint32_t)img->h) th = (uint32_t)img->h;
    }
    const tmsize_t row_bytes = tiled ? TIFFTileRowSize(tif) : TIFFScanlineSize(tif);
    const tmsize_t chunk = tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
    if (row_bytes <= 0 || chunk <= 0 || (uint64_t)chunk < (uint64_t)row_bytes * th ||
        (uint64_t)row_bytes * 8 < (uint64_t)tw * L->spp * L->bps)
        return fn_fail(FN_ERR_FORMAT, "TIFF: inconsistent strip or tile size");
    uint8_t *buf = fn_malloc((size_t)chunk);
    if (!buf) return FN_ERR_NOMEM;
    fn_status s = FN_OK;
    for (uint32_t y0 = 0; y0 < (uint32_t)img->h && s == FN_OK; y0 += th)
        for (uint32_t x0 = 0; x0 < (uint32_t)img->w && s == FN_OK; x0 += tw) {
            uint32_t rows = th < (uint32_t)img->h - y0 ? th : (uint32_t)img->h - y0;
            uint32_t cols = tw < (uint32_t)img->w - x0 ? tw : (uint32_t)img->w - x0;
            tmsize_t got = tiled ? TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x0, y0, 0, 0), buf, chunk)
                                 : TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y0, 0), buf, (tmsize_t)rows * row_bytes);
            if (got < (tiled ? chunk : (tmsize_t)rows * row_bytes)) {
                s = fn_fail(FN_ERR_FORMAT, "TIFF: %s", src->msg[0] ? src->msg : "truncated image data");
                break;
            }
            for (uint32_t r = 0; r < rows; r++)
                convert_row(L, buf + (size_t)r * row_bytes, (int)cols, img->rgb + (((size_t)(y0 + r)) * img->w + x0) * 3);
        }
    fn_free(buf);
    return s;
}

/* Anything else libtiff's RGBA reader understands, taken in stored row order (the
 * Orientation tag is applied afterwards, like every other layout). */
static fn_status read_rgba(TIFF *tif, fn_image *img, tiff_source *src) {
    char emsg[1024] = "";
    if (!TIFFRGBAImageOK(tif, emsg)) return fn_fail(FN_ERR_UNSUPPORTED, "TIFF: %s", emsg);
    TIFFRGBAImage rgba;
    if (!TIFFRGBAImageBegin(&rgba, tif, 0, emsg)) return fn_fail(FN_ERR_UNSUPPORTED, "TIFF: %s", emsg);
    rgba.req_orientation = rgba.orientation; /* same orientation: libtiff flips nothing */
    fn_status s = FN_OK;
    uint32_t *raster = fn_malloc((size_t)img->w * img->h * 4);
    if (!raster) s = FN_ERR_NOMEM;
    else if (!TIFFRGBAImageGet(&rgba, raster, (uint32_t)img->w, (uint32_t)img->h))
        s = fn_fail(FN_ERR_FORMAT, "TIFF: %s", src->msg[0] ? src->msg : "cannot decode image data");
    else
        for (size_t i = 0, n = (size_t)img->w * img->h; i < n; i++) {
            img->rgb[i * 3] = (uint8_t)TIFFGetR(raster[i]);
            img->rgb[i * 3 + 1] = (uint8_t)TIFFGetG(raster[i]);
            img->rgb[i * 3 + 2] = (uint8_t)TIFFGetB(raster[i]);
        }
    TIFFRGBAImageEnd(&rgba);
    fn_free(raster);
    return s;
}

fn_status fn_image_decode_tiff(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    tiff_source src = {data, size, 0, ""};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return fn_fail(FN_ERR_NOMEM, "TIFF: out of memory");
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &src);
    /* libtiff's own buffers (strip offsets, codec state): a claim above this is a bomb */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, 256 << 20);
    TIFF *tif = TIFFClientOpenExt("memory", "rm", &src, mem_read, mem_write, mem_seek, mem_close, mem_size,
                                  mem_map, mem_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif) return fn_fail(FN_ERR_FORMAT, "TIFF: %s", src.msg[0] ? src.msg : "cannot open");
    fn_image img = {0, 0, NULL};
    fn_status s = FN_OK;
    uint32_t w = 0, h = 0;
    uint16_t bps = 1, spp = 1, photometric = 0, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
    uint16_t compression = COMPRESSION_NONE, orientation = ORIENTATION_TOPLEFT, inkset = INKSET_CMYK;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    if ((s = fn_image_check_size(w, h, "TIFF")) != FN_OK) goto done;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orientation);
    TIFFGetFieldDefaulted(tif, TIFFTAG_INKSET, &inkset);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) {
        s = fn_fail(FN_ERR_FORMAT, "TIFF: no PhotometricInterpretation tag");
        goto done;
    }
    if (format != SAMPLEFORMAT_UINT && format != SAMPLEFORMAT_VOID) {
        s = fn_fail(FN_ERR_UNSUPPORTED, "TIFF: %s samples are not supported (only unsigned integers)",
                    format == SAMPLEFORMAT_IEEEFP ? "floating-point" : "signed or complex");
        goto done;
    }
    if (photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG) {
        TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB); /* libjpeg converts, as PIL */
        photometric = PHOTOMETRIC_RGB;
    }
    if ((s = fn_image_alloc((int)w, (int)h, &img)) != FN_OK) goto done;
    tiff_layout L = {photometric, bps, spp, 0, 0, {NULL, NULL, NULL}};
    uint16_t n_extra = 0, *extra = NULL;
    const int colours = photometric == PHOTOMETRIC_RGB ? 3 : 1;
    if ((photometric == PHOTOMETRIC_RGB || photometric == PHOTOMETRIC_MINISBLACK) &&
        TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &n_extra, &extra) && n_extra >= 1 &&
        extra[0] == EXTRASAMPLE_ASSOCALPHA && spp > colours)
        L.premultiplied = colours;
    const int bits_ok = bps == 8 || bps == 16 || ((bps == 1 || bps == 2 || bps == 4) && spp == 1);
    int direct = planar == PLANARCONFIG_CONTIG && bits_ok && spp <= 16;
    switch (photometric) {
    case PHOTOMETRIC_MINISBLACK: case PHOTOMETRIC_MINISWHITE: break;
    case PHOTOMETRIC_RGB: direct = direct && spp >= 3; break;
    case PHOTOMETRIC_PALETTE:
        direct = direct && bps <= 8 && TIFFGetField(tif, TIFFTAG_COLORMAP, &L.map[0], &L.map[1], &L.map[2]);
        break;
    case PHOTOMETRIC_SEPARATED: direct = direct && bps == 8 && spp >= 4 && inkset == INKSET_CMYK; L.cmyk = 1; break;
    default: direct = 0;
    }
    s = direct ? read_contig(tif, &L, &img, &src) : read_rgba(tif, &img, &src);
    if (s != FN_OK) goto done;
    if (exif_rotate && (s = fn_image_orient(&img, orientation)) != FN_OK) goto done;
    *out = img;
    img.rgb = NULL;
done:
    TIFFClose(tif);
    fn_image_free(&img);
    return s;
}

#else
fn_status fn_image_decode_tiff(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    (void)data; (void)size; (void)exif_rotate;
    return fn_image_built_without("TIFF", "TIFF", "libtiff-dev", out);
}
#endif
