/* fuzz_image_png.c — libFuzzer target for the png decoder (seed corpus fuzz/corpus/fuzz_image_png/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_png(data, size, &img))
