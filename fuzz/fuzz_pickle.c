/* fuzz_pickle.c — libFuzzer target for the restricted unpickler through both of its users:
 * legacy PyTorch .pt (five pickles + raw storages, fn_torch_load_mem) and NumPy object
 * arrays (.npy header + pickle, fn_npy_pickle_load_mem, e.g. facenet's det*.npy). Both are
 * run on every input; the outputs own their data and are touched before being freed. */
#include "weights.h"

static void run(fn_status (*fn)(const uint8_t *, size_t, fn_tensor_set *), const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return;
    memcpy(copy, data, size);
    fn_tensor_set ts;
    if (fn(copy, size, &ts) == FN_OK) {
        free(copy);
        copy = NULL;
        for (int i = 0; i < ts.n; i++)
            if (ts.t[i].nbytes) { volatile uint8_t x = ((uint8_t *)ts.t[i].data)[ts.t[i].nbytes - 1]; (void)x; }
        fn_tensor_set_free(&ts);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run(fn_torch_load_mem, data, size);
    run(fn_npy_pickle_load_mem, data, size);
    return 0;
}
