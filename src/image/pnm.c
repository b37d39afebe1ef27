/* pnm.c — placeholder until the PNM decoder lands. */
#include "image_internal.h"

fn_status fn_image_decode_pnm(const uint8_t *data, size_t size, fn_image *out) {
    (void)data; (void)size;
    out->w = out->h = 0;
    out->rgb = NULL;
    return fn_fail(FN_ERR_UNSUPPORTED, "PNM decoding is not implemented yet");
}
