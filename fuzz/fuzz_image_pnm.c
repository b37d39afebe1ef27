/* fuzz_image_pnm.c — libFuzzer target for the pnm decoder (seed corpus fuzz/corpus/fuzz_image_pnm/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_pnm(data, size, &img))
