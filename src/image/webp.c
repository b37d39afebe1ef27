/* webp.c — WebP decode (libwebp + libwebpdemux): lossy, lossless, alpha (dropped, as PIL's
 * convert("RGB")), animated (the first frame on its canvas, as PIL's WebPAnimDecoder path:
 * transparent black outside the frame), EXIF orientation from the EXIF chunk. Without
 * libwebp (FN_HAVE_WEBP unset) a stub says what to install. */
#include "image_internal.h"

#ifdef FN_HAVE_WEBP
#include <webp/decode.h>
#include <webp/demux.h>

fn_status fn_image_decode_webp(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    WebPData wd = {data, size};
    /* the demuxer only parses the RIFF chunks: canvas size and EXIF, before any pixels */
    WebPDemuxer *demux = WebPDemux(&wd);
    if (!demux) return fn_fail(FN_ERR_FORMAT, "WebP: corrupt or truncated file");
    fn_status s = fn_image_check_size(WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH),
                                      WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT), "WebP");
    int orientation = 1;
    WebPChunkIterator chunk;
    if (s == FN_OK && exif_rotate && (WebPDemuxGetI(demux, WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG) &&
        WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
        orientation = fn_exif_orientation(chunk.chunk.bytes, chunk.chunk.size);
        WebPDemuxReleaseChunkIterator(&chunk);
    }
    WebPDemuxDelete(demux);
    if (s != FN_OK) return s;

    WebPAnimDecoderOptions opts;
    if (!WebPAnimDecoderOptionsInit(&opts)) return fn_fail(FN_ERR_UNSUPPORTED, "WebP: libwebpdemux version mismatch");
    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opts);
    if (!dec) return fn_fail(FN_ERR_FORMAT, "WebP: corrupt or truncated file");
    WebPAnimInfo info;
    uint8_t *rgba = NULL;
    int timestamp;
    fn_image img = {0, 0, NULL};
    if (!WebPAnimDecoderGetInfo(dec, &info) || !WebPAnimDecoderGetNext(dec, &rgba, &timestamp)) {
        s = fn_fail(FN_ERR_FORMAT, "WebP: corrupt or truncated image data");
        goto done;
    }
    if ((s = fn_image_alloc((int)info.canvas_width, (int)info.canvas_height, &img)) != FN_OK) goto done;
    for (size_t i = 0, n = (size_t)img.w * img.h; i < n; i++) memcpy(img.rgb + i * 3, rgba + i * 4, 3);
    if ((s = fn_image_orient(&img, orientation)) != FN_OK) goto done;
    *out = img;
    img.rgb = NULL;
done:
    WebPAnimDecoderDelete(dec);
    fn_image_free(&img);
    return s;
}

#else
fn_status fn_image_decode_webp(const uint8_t *data, size_t size, int exif_rotate, fn_image *out) {
    (void)data; (void)size; (void)exif_rotate;
    return fn_image_built_without("WebP", "WebP", "libwebp-dev", out);
}
#endif
