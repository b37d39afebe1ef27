/* similarity.c — embedding distance -> similarity in [0, 1], and each model's calibration.
 * similarity = 1 / (1 + exp(slope * (d - threshold))): 0.5 at the model's LFW threshold
 * (CompreFace's convention). tools/gallery_calibrate.py derives the constants below. */
#include "core.h"

float fn_similarity(const fn_similarity_calib *c, float distance) {
    if (!(distance >= 0)) return 0; /* NaN */
    float z = c->slope * (distance - c->threshold);
    if (z > 80) return 0;
    if (z < -80) return 1;
    return 1.0f / (1.0f + expf(z));
}

void fn_model_similarity_calib(const fn_model *m, fn_similarity_calib *out) {
    const char *arch = m ? fn_model_arch(m) : "";
    if (!strcmp(arch, "dlib_resnet")) {
        out->threshold = 0.60f; /* placeholder until calibrated */
        out->slope = 12.0f;
    } else {
        out->threshold = 1.10f;
        out->slope = 10.0f;
    }
}
