/* fuzz_image_gif.c — libFuzzer target for the gif decoder (seed corpus fuzz/corpus/fuzz_image_gif/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_gif(data, size, &img))
