/* fuzz_image_heif.c — libFuzzer target for the HEIC/AVIF decoder (libheif: HEVC, AV1, alpha, irot/imir)
 * (seed corpus fuzz/corpus/fuzz_image_heif/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_heif(data, size, 1, &img))
