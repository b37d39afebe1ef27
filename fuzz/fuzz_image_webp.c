/* fuzz_image_webp.c — libFuzzer target for the WebP decoder (lossy, lossless, alpha, animation, EXIF orientation)
 * (seed corpus fuzz/corpus/fuzz_image_webp/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_webp(data, size, 1, &img))
