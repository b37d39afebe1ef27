/* weights.h — importers for every published facenet weight format, all producing an
 * fn_tensor_set (see tensors.h), plus format detection by content and name mapping.
 *
 *   fn_weights_load(path, &set, "auto")   any supported file -> tensors (floats as F32)
 *   fn_mtcnn_weights_load(dir_or_file)    the canonical MTCNN set "pnet.*", "rnet.*", "onet.*"
 *
 * Every parser has an in-memory entry point (used by the fuzz targets); those copy what
 * they keep, so the input buffer may be freed afterwards. */
#ifndef FN_WEIGHTS_H
#define FN_WEIGHTS_H
#include "tensors.h"

typedef enum {
    FN_WFMT_UNKNOWN = 0, FN_WFMT_SAFETENSORS, FN_WFMT_TORCH_ZIP, FN_WFMT_TORCH_LEGACY,
    FN_WFMT_TF_GRAPHDEF, FN_WFMT_NPY, FN_WFMT_TFJS
} fn_weights_format;

/* Format by content (magic bytes / structure), never by extension. */
fn_weights_format fn_weights_detect(const uint8_t *data, size_t size);
const char *fn_weights_format_name(fn_weights_format f);

/* Generic loader. arch: "auto" (or NULL), "inception_resnet_v1" (TF names -> facenet-pytorch
 * names, HWIO -> OIHW), "mtcnn" (det*.npy or .pt folder -> canonical names), "dlib_resnet"
 * (TF.js as is), "landmark68" (face-api's 68-point net, TF.js as is), or "none" (raw names, no mapping). Floating tensors come back as F32.
 * A folder is accepted for arch mtcnn/auto (MTCNN folder). */
fn_status fn_weights_load(const char *path, fn_tensor_set *out, const char *arch);
/* As stored: no name mapping, dtypes kept (what `facenet inspect` shows). */
fn_status fn_weights_load_raw(const char *path, fn_tensor_set *out);
/* The architecture a tensor set is for, from its names: "inception_resnet_v1", "mtcnn",
 * "dlib_resnet", "landmark68" or "unknown". */
const char *fn_weights_guess_arch(const fn_tensor_set *s);

/* PyTorch .pt: legacy pickle stream or zip archive (torch >= 1.6). Tensors keep their
 * stored dtype (made contiguous); names are the state_dict keys (nested dicts joined by "."). */
fn_status fn_torch_load_mem(const uint8_t *data, size_t size, fn_tensor_set *out);
fn_status fn_torch_load(const char *path, fn_tensor_set *out);

/* NumPy .npy whose payload is a pickled object (facenet's det*.npy: dict of dicts of arrays).
 * Names join the dict keys with "/" ("conv1/weights"). A plain numeric .npy gives one
 * tensor named "array". */
fn_status fn_npy_pickle_load_mem(const uint8_t *data, size_t size, fn_tensor_set *out);

/* TensorFlow GraphDef (.pb): every Const node's tensor, named by the node name. */
fn_status fn_graphdef_load_mem(const uint8_t *data, size_t size, fn_tensor_set *out);

/* Name mapping: TF facenet names -> facenet-pytorch InceptionResnetV1 names (and layouts);
 * consumes in, fills out. Unmapped TF constants are dropped. */
fn_status fn_map_tf_inception_resnet_v1(fn_tensor_set *in, fn_tensor_set *out);

/* MTCNN: path = a folder holding pnet/rnet/onet.pt or det1/det2/det3.npy, or a file
 * (safetensors written by `facenet convert`, or any format holding the canonical names).
 * The result always holds exactly the canonical tensors (F32, facenet-pytorch layouts). */
fn_status fn_mtcnn_weights_load(const char *path, fn_tensor_set *out);
/* Canonicalises one det{1,2,3}.npy set (net = 0 P-Net, 1 R-Net, 2 O-Net) into out with
 * the net prefix: conv HWIO read as (w,h,i,o) -> OIHW (the transpose trap), dense W^T. */
fn_status fn_mtcnn_from_npy(int net, const fn_tensor_set *npy, fn_tensor_set *out);
/* Checks that s holds exactly the canonical MTCNN tensors with the right shapes. */
fn_status fn_mtcnn_check(const fn_tensor_set *s);

/* Moves tensor i of src into dst under a new name (data ownership moves too). */
fn_status fn_tensor_set_take(fn_tensor_set *dst, fn_tensor_set *src, int i, const char *name);
/* Makes every tensor own its data (copies out of a mapping), so the source can go. */
fn_status fn_tensor_set_own(fn_tensor_set *s);
#endif
