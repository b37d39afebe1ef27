/* fuzz_image_heif.c — libFuzzer target for the HEIC/AVIF decoder (libheif: HEVC, AV1, alpha,
 * irot/imir, grids) (seed corpus fuzz/corpus/fuzz_image_heif/). */
#include "fuzz_image.h"
/* dav1d keeps 40 bytes on one corrupt-stream error path (not ours; tests/lsan.supp too) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libdav1d.so\n"; }
FN_IMAGE_FUZZER(fn_image_decode_heif(data, size, 1, &img))
