/* fuzz_image_bmp.c — libFuzzer target for the bmp decoder (seed corpus fuzz/corpus/fuzz_image_bmp/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_bmp(data, size, &img))
