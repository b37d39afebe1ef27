/* fuzz_image_png.c — libFuzzer target: fn_image_decode on arbitrary bytes (seed corpus:
 * fuzz/corpus/fuzz_image_png/, png files). The pixel cap is lowered so that headers claiming
 * huge-but-legal sizes stay fast; the size checks themselves are the same code. */
#include "core.h"
#include "image/image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fn_image_set_pixel_limit(1u << 22);
    fn_image img;
    if (fn_image_decode(data, size, 1, &img) == FN_OK) {
        volatile uint8_t sink = img.rgb[(size_t)img.w * img.h * 3 - 1]; /* touch the last pixel */
        (void)sink;
        fn_image_free(&img);
    }
    return 0;
}
