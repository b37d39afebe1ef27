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
        inverted = d->cinfo.saw_Adobe_marker; /* Adobe files store inverted values ("CMYK;I" in PIL) */
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
            for (int c = 0; c < 3; c++) row[x * 3 + c] = fn_cmyk_channel(inverted ? 255 - p[c] : p[c], k);
        }
    }
    jpeg_finish_decompress(&d->cinfo);
    if ((s = fn_image_orient(&d->img, orientation)) != FN_OK) goto done;
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
