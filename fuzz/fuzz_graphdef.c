/* fuzz_graphdef.c — libFuzzer target for the TensorFlow GraphDef wire-format reader
 * (fn_graphdef_load_mem) and, on what parses, the facenet TF -> facenet-pytorch mapping
 * (fn_map_tf_inception_resnet_v1: layout permutations from fuzzed shapes). */
#include "weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fn_tensor_set ts, mapped;
    if (fn_graphdef_load_mem(copy, size, &ts) == FN_OK) {
        for (int i = 0; i < ts.n; i++)
            if (ts.t[i].nbytes) { volatile uint8_t x = ((uint8_t *)ts.t[i].data)[ts.t[i].nbytes - 1]; (void)x; }
        if (fn_map_tf_inception_resnet_v1(&ts, &mapped) == FN_OK) fn_tensor_set_free(&mapped);
        fn_tensor_set_free(&ts);
    }
    free(copy);
    return 0;
}
