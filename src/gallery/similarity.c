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
        /* models/dlib_resnet.safetensors on the faces `facenet validate` embeds (the MTCNN face
         * nearest the photo's centre; LFW 0.9918): fitted on LFW pairsDevTrain (1249 pairs
         * with both images); held-out pairsDevTest: accuracy 0.983, 97% of same-person
         * pairs above 0.6, 99% of different people below 0.4. */
        out->threshold = 0.409f;
        out->slope = 73.83f;
    } else {
        /* Inception-ResNet-v1 (facenet's 2018 models) and anything else: facenet's LFW
         * verification threshold (~1.2 squared, 1.10 Euclidean) and the dlib fit's
         * slope x threshold (~13) scaled to it. Not fitted here: no such model ships. */
        out->threshold = 1.10f;
        out->slope = 11.8f;
    }
}
