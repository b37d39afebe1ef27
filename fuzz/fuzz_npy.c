/* fuzz_npy.c — libFuzzer target for the .npy readers a gallery import runs on files from
 * anywhere (fn_npy_load_f32 / _i64 / _unicode: header parsing, shapes, sizes, UTF-32 ->
 * UTF-8). The readers take a path: each input goes through a private temp file. */
#include "tensors.h"
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_npy_%d.npy", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    float *e; int64_t r, c, n;
    if (fn_npy_load_f32(path, &e, &r, &c) == FN_OK) {
        if (r * c) { volatile float x = e[r * c - 1]; (void)x; }
        fn_free(e);
    }
    int64_t *l;
    if (fn_npy_load_i64(path, &l, &n) == FN_OK) {
        if (n) { volatile int64_t x = l[n - 1]; (void)x; }
        fn_free(l);
    }
    char **s;
    if (fn_npy_load_unicode(path, &s, &n) == FN_OK) {
        for (int64_t i = 0; i < n; i++) { volatile size_t x = strlen(s[i]); (void)x; }
        fn_npy_strings_free(s, n);
    }
    unlink(path);
    return 0;
}
