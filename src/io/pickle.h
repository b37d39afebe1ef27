/* pickle.h — a RESTRICTED Python unpickler: just the opcodes and globals that a PyTorch
 * state_dict (legacy and zip .pt) and a NumPy object array of dicts (facenet's det*.npy)
 * need. Anything else (os.system, arbitrary classes, NEWOBJ, sets, ...) is refused with a
 * clear error: weight files come from strangers and unpickling must never run code.
 *
 * The result is a tree of pk_value nodes owned by a pk_vm arena; strings and raw bytes
 * point into the input buffer (no copies), so the input must outlive the vm. */
#ifndef FN_PICKLE_H
#define FN_PICKLE_H
#include "tensors.h"

typedef enum {
    PK_NONE, PK_BOOL, PK_INT, PK_BIGINT, PK_FLOAT, PK_STR, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL, PK_STORAGE, PK_TENSOR, PK_NDARRAY, PK_DTYPE
} pk_kind;

/* The globals we allow; everything else is refused by name. */
typedef enum {
    PKG_ORDERED_DICT, PKG_REBUILD_TENSOR_V2, PKG_REBUILD_TENSOR, PKG_REBUILD_PARAMETER,
    PKG_STORAGE_TYPE, PKG_NP_RECONSTRUCT, PKG_NP_NDARRAY, PKG_NP_DTYPE, PKG_CODECS_ENCODE
} pk_global;

typedef struct pk_value pk_value;
struct pk_value {
    pk_kind kind;
    int64_t i;                 /* INT, BOOL; GLOBAL: pk_global */
    double f;                  /* FLOAT */
    const uint8_t *str;        /* STR / BIGINT bytes (little-endian two's complement) */
    size_t len;
    pk_value **items;          /* TUPLE, LIST, DICT (k0,v0,k1,v1,...) */
    int n, cap;
    /* STORAGE (torch): dtype, key, element count. GLOBAL storage type: dtype. */
    fn_dtype dtype;
    int64_t numel;
    /* TENSOR (torch): view of storage. NDARRAY (numpy): dtype_val + raw data in str/len. */
    pk_value *storage;
    int64_t offset;
    int ndim;
    int64_t shape[FN_MAX_DIMS], stride[FN_MAX_DIMS];
    int fortran;               /* NDARRAY: column-major data */
    int object;                /* NDARRAY / DTYPE: dtype is 'O' (items in obj) */
    pk_value *obj;             /* NDARRAY of objects: the list of items */
    int big_endian;            /* DTYPE / NDARRAY */
    int has_data;              /* NDARRAY: BUILD has filled it */
};

typedef struct pk_vm pk_vm;
/* Called for BINPERSID with the persistent id; returns a value (or NULL + fn_fail). */
typedef pk_value *(*pk_persistent_fn)(pk_vm *vm, pk_value *pid, void *ctx);

struct pk_vm {
    pk_value **all; size_t n_all, cap_all;  /* arena: every node, freed together */
    uint8_t **blobs; size_t n_blobs, cap_blobs; /* decoded byte strings (_codecs.encode) */
    pk_persistent_fn persistent; void *ctx;
    fn_status err;
};

void pk_vm_init(pk_vm *vm, pk_persistent_fn persistent, void *ctx);
void pk_vm_free(pk_vm *vm);
/* Runs one pickle starting at data[0]; *used = bytes consumed through STOP. */
fn_status pk_load(pk_vm *vm, const uint8_t *data, size_t size, pk_value **result, size_t *used);
pk_value *pk_new(pk_vm *vm, pk_kind kind);
int pk_str_eq(const pk_value *v, const char *s);
const char *pk_kind_name(pk_kind k);
#endif
