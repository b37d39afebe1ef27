/* quantize.c — fn_model_quantize: a float model into an int8 model file (issue 18). The
 * per-architecture work (calibration, weight and bias quantisation) lives beside each
 * network's int8 forward pass (nets/dlib_resnet_int8.c); this file writes the result. */
#include "model.h"
#include "dlib_resnet.h"
#include "json.h"
#include "ops/ops_int8.h"

int fn_model_is_int8(const fn_model *m) { return m && m->int8; }

const char *fn_int8_kernels(void) { return fn_int8_isa_name(fn_int8_isa_current()); }

fn_status fn_model_quantize(fn_model *m, const fn_image *crops, int n, double percentile,
                            const char *calibration, const char *out_path) {
    if (!m || !out_path || n < 1 || !crops) return fn_fail(FN_ERR_ARG, "quantize: needs a model, an output path and at least one calibration crop");
    if (!(percentile > 50.0 && percentile <= 100.0)) return fn_fail(FN_ERR_ARG, "quantize: percentile %g is not in (50, 100]", percentile);
    if (m->int8) return fn_fail(FN_ERR_ARG, "quantize: the model is already int8");
    if (strcmp(m->arch, "dlib_resnet"))
        return fn_fail(FN_ERR_UNSUPPORTED, "quantize: no int8 network for %s yet (the dlib ResNet has one)", m->arch);
    fn_tensor_set ts;
    FN_TRY(fn_dlib_resnet_quantize(m, crops, n, percentile, &ts, NULL));
    char *meta = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&meta, &len);
    fn_status s = FN_OK;
    if (!f) s = fn_fail(FN_ERR_NOMEM, "out of memory");
    else {
        fprintf(f, "{\"quantization\":\"int8\",\"arch\":\"%s\",\"source_model_id\":\"%s\","
                   "\"weights\":\"int8 symmetric per output channel, scale layers folded\","
                   "\"activations\":\"u8, zero point 0 (stem: the crop's bytes)\",\"bias\":\"int32\","
                   "\"calibration_percentile\":\"%g\",\"calibration_crops\":\"%d\",\"calibration\":",
                m->arch, m->id, percentile, n);
        fn_json_write_string(f, calibration ? calibration : "");
        fputc('}', f);
        fclose(f);
    }
    if (s == FN_OK) s = fn_safetensors_save(out_path, &ts, meta);
    free(meta);
    fn_tensor_set_free(&ts);
    return s;
}
