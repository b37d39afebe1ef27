/* gif.c — placeholder until the GIF decoder lands. */
#include "image_internal.h"

fn_status fn_image_decode_gif(const uint8_t *data, size_t size, fn_image *out) {
    (void)data; (void)size;
    out->w = out->h = 0;
    out->rgb = NULL;
    return fn_fail(FN_ERR_UNSUPPORTED, "GIF decoding is not implemented yet");
}
