/* gif.c — GIF decode (giflib): the first frame only, composed on the logical screen.
 * Pixels outside the frame take the background colour of the global colour map; a
 * transparent index keeps its palette colour (converting to RGB drops transparency, as
 * PIL's convert("RGB") does). A file without any colour map uses a grey ramp. */
#include "image_internal.h"
#include <gif_lib.h>

typedef struct { const uint8_t *data; size_t size, pos; } gif_source;

static int read_from_memory(GifFileType *gif, GifByteType *dst, int n) {
    gif_source *src = gif->UserData;
    size_t left = src->size - src->pos, k = n < 0 ? 0 : (size_t)n;
    if (k > left) k = left; /* a short read makes giflib report D_GIF_ERR_READ_FAILED */
    memcpy(dst, src->data + src->pos, k);
    src->pos += k;
    return (int)k;
}

static void colour_of(const ColorMapObject *map, int index, uint8_t rgb[3]) {
    if (!map) { rgb[0] = rgb[1] = rgb[2] = (uint8_t)index; return; }
    if (index < 0 || index >= map->ColorCount) { rgb[0] = rgb[1] = rgb[2] = 0; return; }
    rgb[0] = map->Colors[index].Red; rgb[1] = map->Colors[index].Green; rgb[2] = map->Colors[index].Blue;
}

fn_status fn_image_decode_gif(const uint8_t *data, size_t size, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    gif_source src = {data, size, 0};
    int err = 0;
    GifFileType *gif = DGifOpen(&src, read_from_memory, &err);
    if (!gif) return fn_fail(FN_ERR_FORMAT, "GIF: %s", GifErrorString(err) ? GifErrorString(err) : "cannot open");
    fn_status s = FN_OK;
    GifByteType *line = NULL;
    fn_image img = {0, 0, NULL};
    if ((s = fn_image_check_size(gif->SWidth, gif->SHeight, "GIF")) != FN_OK) goto done;
    if ((s = fn_image_alloc(gif->SWidth, gif->SHeight, &img)) != FN_OK) goto done;
    uint8_t bg[3];
    colour_of(gif->SColorMap, gif->SBackGroundColor, bg);
    if (!gif->SColorMap) bg[0] = bg[1] = bg[2] = 0;
    for (size_t i = 0; i < (size_t)img.w * img.h; i++) memcpy(img.rgb + i * 3, bg, 3);
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) goto gif_error;
        if (type == TERMINATE_RECORD_TYPE) { s = fn_fail(FN_ERR_FORMAT, "GIF: no image in file"); goto done; }
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) goto gif_error;
            while (ext) if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) goto gif_error;
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(gif) == GIF_ERROR) goto gif_error;
        const GifImageDesc *d = &gif->Image;
        if ((s = fn_image_check_size(d->Width, d->Height, "GIF frame")) != FN_OK) goto done;
        const ColorMapObject *map = d->ColorMap ? d->ColorMap : gif->SColorMap;
        if (!(line = malloc((size_t)d->Width))) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        const int passes = d->Interlace ? 4 : 1;
        for (int pass = 0; pass < passes; pass++)
            for (int r = d->Interlace ? start[pass] : 0; r < d->Height; r += d->Interlace ? step[pass] : 1) {
                if (DGifGetLine(gif, line, d->Width) == GIF_ERROR) goto gif_error;
                long y = (long)d->Top + r;
                if (y < 0 || y >= img.h) continue;
                for (int x = 0; x < d->Width; x++) {
                    long xx = (long)d->Left + x;
                    if (xx < 0 || xx >= img.w) continue;
                    colour_of(map, line[x], img.rgb + ((size_t)y * img.w + xx) * 3);
                }
            }
        break; /* first frame only */
    }
    *out = img;
    img.rgb = NULL;
    goto done;
gif_error:
    s = fn_fail(FN_ERR_FORMAT, "GIF: %s", GifErrorString(gif->Error) ? GifErrorString(gif->Error) : "corrupt file");
done:
    DGifCloseFile(gif, &err);
    free(line);
    fn_image_free(&img);
    return s;
}
