/* jpeg.c — JPEG decode (libjpeg-turbo; gray/YCbCr/RGB/CMYK → RGB, EXIF orientation) and
 * encode. libjpeg reports fatal errors through error_exit, which must not return: we
 * longjmp back and turn the message into fn_fail, so nothing is printed and nothing exits. */
#include "image_internal.h"
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_error;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_error *e = (jpeg_error *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings are silenced, except "premature end of data": libjpeg would pad the missing
 * rows with grey and succeed, but a truncated photo is an error (as PIL says). */
static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_error *e = (jpeg_error *)cinfo->err;
    if (level < 0) {
        if (e->pub.msg_code == JWRN_JPEG_EOF) on_error_exit(cinfo);
        e->pub.num_warnings++;
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void init_error(jpeg_error *e, struct jpeg_compress_struct *c, struct jpeg_decompress_struct *d) {
    struct jpeg_error_mgr *mgr = jpeg_std_error(&e->pub);
    mgr->error_exit = on_error_exit;
    mgr->emit_message = on_emit_message;
    mgr->output_message = on_output_message;
    e->msg[0] = 0;
    if (c) c->err = mgr;
    if (d) d->err = mgr;
}

/* ------------------------------------------------------------------ EXIF */
static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int fn_exif_orientation(const uint8_t *app1, size_t size) {
    if (size < 6 + 8 || memcmp(app1, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = app1 + 6; /* TIFF header: byte order, 42, offset of IFD0 */
    size_t n = size - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 1;
        if (rd16(t + e, le) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, le);
        uint32_t cnt = rd32(t + e + 4, le);
        if (type != 3 || cnt < 1) return 1; /* SHORT, value inline in the first 2 bytes */
        unsigned v = rd16(t + e + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* CMYK → RGB exactly as PIL (cmyk2rgb after "CMYK;I" unpacking for Adobe files, whose
 * stored values are inverted): R = (255-K) - (C·(255-K))/255 with PIL's rounding. */
static inline uint8_t cmyk_channel(int c, int k) {
    int nk = 255 - k, t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_error err;
    uint8_t *cmyk_row;
    fn_image img;
} jpeg_decoder;

fn_status fn_image_decode_jpeg(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    /* heap state: locals modified after setjmp would need volatile */
    jpeg_decoder *d = calloc(1, sizeof *d);
    if (!d) return fn_fail(FN_ERR_NOMEM, "out of memory");
    fn_status s = FN_OK;
    init_error(&d->err, NULL, &d->cinfo);
    if (setjmp(d->err.jump)) {
        s = fn_fail(FN_ERR_FORMAT, "JPEG: %s", d->err.msg);
        goto done;
    }
    jpeg_create_decompress(&d->cinfo);
    jpeg_mem_src(&d->cinfo, data, (unsigned long)size);
    if (exif_rotate) jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&d->cinfo, TRUE);
    if ((s = fn_image_check_size(d->cinfo.image_width, d->cinfo.image_height, "JPEG")) != FN_OK)
        goto done;
    /* saved markers live in libjpeg's image pool, which jpeg_finish_decompress frees */
    int orientation = 1;
    if (exif_rotate)
        for (jpeg_saved_marker_ptr m = d->cinfo.marker_list; m; m = m->next)
            if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
                orientation = fn_exif_orientation(m->data, m->data_length);
                break;
            }
    int cmyk = 0, inverted = 0;
    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_YCbCr: case JCS_RGB:
        d->cinfo.out_color_space = JCS_RGB; /* gray expanded to RGB as facenet's to_rgb */
        break;
    case JCS_CMYK: case JCS_YCCK:
        d->cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        inverted = d->cinfo.saw_Adobe_marker;
        break;
    default:
        s = fn_fail(FN_ERR_UNSUPPORTED, "JPEG: unsupported colour space %d", (int)d->cinfo.jpeg_color_space);
        goto done;
    }
    jpeg_start_decompress(&d->cinfo);
    const int w = (int)d->cinfo.output_width, h = (int)d->cinfo.output_height;
    if ((s = fn_image_alloc(w, h, &d->img)) != FN_OK) goto done;
    if (cmyk && !(d->cmyk_row = malloc((size_t)w * 4))) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
    while (d->cinfo.output_scanline < (JDIMENSION)h) {
        uint8_t *row = d->img.rgb + (size_t)d->cinfo.output_scanline * w * 3;
        if (!cmyk) {
            JSAMPROW rows[1] = {row};
            jpeg_read_scanlines(&d->cinfo, rows, 1);
            continue;
        }
        JSAMPROW rows[1] = {d->cmyk_row};
        jpeg_read_scanlines(&d->cinfo, rows, 1);
        for (int x = 0; x < w; x++) {
            const uint8_t *p = d->cmyk_row + (size_t)x * 4;
            int k = inverted ? 255 - p[3] : p[3];
            for (int c = 0; c < 3; c++) row[x * 3 + c] = cmyk_channel(inverted ? 255 - p[c] : p[c], k);
        }
    }
    jpeg_finish_decompress(&d->cinfo);
    if (orientation != 1) {
        fn_image rotated;
        if ((s = fn_image_apply_orientation(&d->img, orientation, &rotated)) != FN_OK) goto done;
        fn_image_free(&d->img);
        d->img = rotated;
    }
    *out = d->img;
    d->img.rgb = NULL;
done:
    jpeg_destroy_decompress(&d->cinfo);
    fn_image_free(&d->img);
    free(d->cmyk_row);
    free(d);
    return s;
}

typedef struct {
    struct jpeg_compress_struct cinfo;
    jpeg_error err;
    fn_atomic_file af;
} jpeg_encoder;

fn_status fn_image_save_jpeg(const char *path, const fn_image *img, int quality) {
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0 || img->w > 65500 || img->h > 65500)
        return fn_fail(FN_ERR_ARG, "save JPEG %s: empty or oversized image", path);
    if (quality < 1 || quality > 100) return fn_fail(FN_ERR_ARG, "save JPEG %s: quality %d not in 1..100", path, quality);
    jpeg_encoder *e = calloc(1, sizeof *e);
    if (!e) return fn_fail(FN_ERR_NOMEM, "out of memory");
    fn_status s = fn_atomic_open(path, &e->af);
    if (s != FN_OK) { free(e); return s; }
    init_error(&e->err, &e->cinfo, NULL);
    if (setjmp(e->err.jump)) {
        jpeg_destroy_compress(&e->cinfo);
        fn_atomic_abort(&e->af);
        s = fn_fail(FN_ERR_IO, "save JPEG %s: %s", path, e->err.msg);
        free(e);
        return s;
    }
    jpeg_create_compress(&e->cinfo);
    jpeg_stdio_dest(&e->cinfo, e->af.f);
    e->cinfo.image_width = (JDIMENSION)img->w;
    e->cinfo.image_height = (JDIMENSION)img->h;
    e->cinfo.input_components = 3;
    e->cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&e->cinfo);
    jpeg_set_quality(&e->cinfo, quality, TRUE);
    jpeg_start_compress(&e->cinfo, TRUE);
    while (e->cinfo.next_scanline < e->cinfo.image_height) {
        JSAMPROW row[1] = {img->rgb + (size_t)e->cinfo.next_scanline * img->w * 3};
        jpeg_write_scanlines(&e->cinfo, row, 1);
    }
    jpeg_finish_compress(&e->cinfo);
    jpeg_destroy_compress(&e->cinfo);
    s = fn_atomic_commit(&e->af);
    free(e);
    return s;
}
