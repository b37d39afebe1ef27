/* fuzz_image_jpeg.c — libFuzzer target for the JPEG decoder incl. EXIF orientation
 * (seed corpus fuzz/corpus/fuzz_image_jpeg/). */
#include "fuzz_image.h"
FN_IMAGE_FUZZER(fn_image_decode_jpeg(data, size, 1, &img))
