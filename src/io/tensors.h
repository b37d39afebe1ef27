/* tensors.h — a named set of tensors: what every weight importer produces and every
 * model loader consumes. safetensors is the native on-disk form (read via mmap). */
#ifndef FN_TENSORS_H
#define FN_TENSORS_H
#include "core.h"

typedef enum { FN_F32 = 0, FN_F64, FN_F16, FN_BF16, FN_I64, FN_I32, FN_I16, FN_I8, FN_U8, FN_BOOL } fn_dtype;

#define FN_MAX_DIMS 8
#define FN_TENSOR_MAX_BYTES ((size_t)4 << 30) /* refuse single tensors above 4 GiB */

typedef struct {
    char *name;
    fn_dtype dtype;
    int ndim;
    int64_t shape[FN_MAX_DIMS];
    void *data;    /* contiguous, row-major, little-endian */
    size_t nbytes;
    int owned;     /* data is malloc'd (else it points into the set's mapping) */
} fn_tensor;

typedef struct {
    fn_tensor *t;
    int n, cap;
    const char *format; /* "safetensors", "torch-legacy", "torch-zip", "tf-graphdef", "npy", "tfjs" */
    void *map; size_t map_size; /* mmap of the source file, if any */
    char *metadata_json;        /* safetensors __metadata__ object as JSON text, or NULL */
} fn_tensor_set;

size_t fn_dtype_size(fn_dtype d);
const char *fn_dtype_name(fn_dtype d);   /* safetensors names: F32, F64, F16, I64, ... */
int fn_dtype_from_name(const char *s);   /* -1 if unknown */
int64_t fn_tensor_numel(const fn_tensor *t);

void fn_tensor_set_init(fn_tensor_set *s);
void fn_tensor_set_free(fn_tensor_set *s);
/* Adds a tensor; copies name; takes ownership of data when owned=1. */
fn_status fn_tensor_set_add(fn_tensor_set *s, const char *name, fn_dtype dtype, int ndim,
                            const int64_t *shape, void *data, int owned);
const fn_tensor *fn_tensor_set_find(const fn_tensor_set *s, const char *name);
/* Finds name, checks dtype F32 and the exact shape (ndim dims); clear error otherwise. */
fn_status fn_tensor_set_get_f32(const fn_tensor_set *s, const char *name, int ndim,
                                const int64_t *shape, const float **data);
/* Converts every floating tensor to F32 in place (F64/F16/BF16 -> F32). */
fn_status fn_tensor_set_to_f32(fn_tensor_set *s);

/* safetensors: read (mmap) and write (atomic). metadata_json may be NULL: a JSON object
 * of string->string pairs stored as __metadata__. */
fn_status fn_safetensors_load(const char *path, fn_tensor_set *out);
fn_status fn_safetensors_parse(const uint8_t *data, size_t size, fn_tensor_set *out); /* no copy: data must outlive out */
fn_status fn_safetensors_save(const char *path, const fn_tensor_set *s, const char *metadata_json);

/* .npy writing (float32 2-D, int64 1-D, unicode 1-D), atomic. */
fn_status fn_npy_save_f32(const char *path, const float *data, int64_t rows, int64_t cols);
fn_status fn_npy_save_i64(const char *path, const int64_t *data, int64_t n);
fn_status fn_npy_save_unicode(const char *path, const char *const *strings, int64_t n);
/* .npy reading of plain (non-object) arrays: float32/float64/int64 -> owned tensor. */
fn_status fn_npy_load_f32(const char *path, float **data, int64_t *rows, int64_t *cols);
/* 1-D int64 (or int32, widened) -> *data (fn_free); 1-D NumPy unicode ('<Un') -> n UTF-8
 * strings (fn_npy_strings_free). */
fn_status fn_npy_load_i64(const char *path, int64_t **data, int64_t *n);
fn_status fn_npy_load_unicode(const char *path, char ***strings, int64_t *n);
void fn_npy_strings_free(char **strings, int64_t n);
#endif
