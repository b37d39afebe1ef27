/* fuzz_safetensors.c — libFuzzer target for the safetensors header parser
 * (fn_safetensors_parse). The parser borrows the buffer, so every tensor is touched while
 * the (exact-size) copy is alive; then a save/reload of what parsed is not attempted
 * (no file I/O in fuzzing), only F32 widening. */
#include "weights.h"

static void touch(const fn_tensor_set *ts) {
    for (int i = 0; i < ts->n; i++)
        if (ts->t[i].nbytes) { volatile uint8_t x = ((const uint8_t *)ts->t[i].data)[ts->t[i].nbytes - 1]; (void)x; }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fn_tensor_set ts;
    if (fn_safetensors_parse(copy, size, &ts) == FN_OK) {
        touch(&ts);
        if (fn_tensor_set_to_f32(&ts) == FN_OK) touch(&ts);
        fn_tensor_set_free(&ts);
    }
    fn_weights_detect(copy, size);
    free(copy);
    return 0;
}
