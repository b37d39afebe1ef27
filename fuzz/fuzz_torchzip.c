/* fuzz_torchzip.c — libFuzzer target for zip-format PyTorch .pt files (torch >= 1.6):
 * the zip central directory (zip64 too), stored entries, data.pkl and its data/<key>
 * storages (fn_torch_load_mem). Inputs that do not start with a local header get one, so
 * the fuzzer spends its time inside the zip path. */
#include "weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n = size + 4;
    uint8_t *copy = malloc(n);
    if (!copy) return 0;
    size_t off = 0;
    if (size < 4 || memcmp(data, "PK\x03\x04", 4)) { memcpy(copy, "PK\x03\x04", 4); off = 4; }
    memcpy(copy + off, data, size);
    fn_tensor_set ts;
    if (fn_torch_load_mem(copy, size + off, &ts) == FN_OK) {
        free(copy);
        copy = NULL;
        for (int i = 0; i < ts.n; i++)
            if (ts.t[i].nbytes) { volatile uint8_t x = ((uint8_t *)ts.t[i].data)[ts.t[i].nbytes - 1]; (void)x; }
        fn_tensor_set_free(&ts);
    }
    free(copy);
    return 0;
}
