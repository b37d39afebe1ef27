/* fuzz_image_tiff.c — libFuzzer target for the TIFF decoder (strips, tiles, 1..16-bit, palette, CMYK, orientation)
 * (seed corpus fuzz/corpus/fuzz_image_tiff/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_tiff(data, size, 1, &img))
