/* tf_graphdef.c — TensorFlow frozen GraphDef (.pb) Const tensors (work in progress). */
#include "weights.h"

fn_status fn_graphdef_load_mem(const uint8_t *data, size_t size, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    return fn_fail(FN_ERR_UNSUPPORTED, "tf-graphdef: not implemented yet");
}

fn_status fn_map_tf_inception_resnet_v1(fn_tensor_set *in, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    return fn_fail(FN_ERR_UNSUPPORTED, "tf-graphdef: name mapping not implemented yet");
}
