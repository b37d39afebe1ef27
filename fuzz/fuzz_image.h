/* fuzz_image.h — the body shared by the per-decoder libFuzzer targets fuzz_image_<fmt>.c:
 * each feeds arbitrary bytes straight to its own decoder (so every decoder is fuzzed even on
 * inputs whose magic bytes would send fn_image_decode elsewhere). The pixel cap is lowered so
 * headers claiming huge-but-legal sizes stay fast; the size checks are the same code. */
#ifndef FN_FUZZ_IMAGE_H
#define FN_FUZZ_IMAGE_H
#include "core.h"
#include "image/image_internal.h"

static inline void fuzz_image_check(fn_status s, fn_image *img) {
    if (s != FN_OK) return;
    volatile uint8_t sink = img->rgb[(size_t)img->w * img->h * 3 - 1]; /* touch the last pixel */
    (void)sink;
    fn_image_free(img);
}

#define FN_IMAGE_FUZZER(decode_call)                                   \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {     \
        fn_image_set_pixel_limit(1u << 22);                            \
        fn_image img;                                                  \
        fuzz_image_check(decode_call, &img);                           \
        return 0;                                                      \
    }
#endif
