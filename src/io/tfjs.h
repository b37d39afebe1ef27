/* tfjs.h — TensorFlow.js weight manifests (model.json "weightsManifest" or a bare
 * *-weights_manifest.json): [{paths:[shard, ...], weights:[{name, shape, dtype,
 * quantization:{dtype, scale, min}}]}]. Each group's shards are concatenated in order and
 * its weights lie back to back in them. Floating weights come out as F32 (uint8/uint16
 * affine dequantisation value = q*scale + min, float16, or plain float32); int32 as I32. */
#ifndef FN_TFJS_H
#define FN_TFJS_H
#include "tensors.h"

/* Caps: a manifest is small JSON; a shard set above 2 GiB is refused. */
#define FN_TFJS_MAX_MANIFEST (16u << 20)
#define FN_TFJS_MAX_WEIGHTS ((size_t)2 << 30)

/* Reads the manifest and its shards (paths relative to the manifest's folder). Tensor names
 * are kept as TF.js spells them (e.g. "conv32_down/conv/filters"). out->format = "tfjs". */
fn_status fn_tfjs_load(const char *manifest_path, fn_tensor_set *out);

/* In memory: manifest JSON text and the concatenation of every group's shards, in manifest
 * order (groups consume the bytes consecutively). Tensors are copied out (owned). */
fn_status fn_tfjs_parse(const char *manifest, size_t manifest_len, const uint8_t *weights,
                        size_t weights_len, fn_tensor_set *out);

/* 1 when text looks like a TF.js manifest or model.json (for format detection by content). */
int fn_tfjs_sniff(const uint8_t *data, size_t size);
#endif
