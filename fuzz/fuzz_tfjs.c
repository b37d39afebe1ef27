/* fuzz_tfjs.c — libFuzzer target for the TF.js manifest parser (fn_tfjs_parse).
 * Input layout: a 2-byte little-endian manifest length, the manifest JSON, then the weight
 * bytes (the concatenated shards). The parser must never crash, leak or read out of
 * bounds, whatever the manifest claims. */
#include "tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t mlen = (size_t)data[0] | (size_t)data[1] << 8;
    if (mlen > size - 2) mlen = size - 2;
    /* separate allocations so ASan catches reads past either part */
    char *manifest = malloc(mlen ? mlen : 1);
    size_t wlen = size - 2 - mlen;
    uint8_t *weights = malloc(wlen ? wlen : 1);
    if (!manifest || !weights) { free(manifest); free(weights); return 0; }
    memcpy(manifest, data + 2, mlen);
    memcpy(weights, data + 2 + mlen, wlen);
    fn_tensor_set ts;
    if (fn_tfjs_parse(manifest, mlen, weights, wlen, &ts) == FN_OK) {
        for (int i = 0; i < ts.n; i++) /* touch every value */
            if (ts.t[i].nbytes) { volatile uint8_t x = ((uint8_t *)ts.t[i].data)[ts.t[i].nbytes - 1]; (void)x; }
        fn_tensor_set_free(&ts);
    }
    fn_tfjs_sniff((const uint8_t *)manifest, mlen);
    free(manifest);
    free(weights);
    return 0;
}
