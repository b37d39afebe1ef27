/* zip.h — just enough of the zip format to read PyTorch >= 1.6 .pt archives: the central
 * directory (zip64 included) and STORED entries. Compressed or encrypted entries are
 * refused clearly; nothing is decompressed, so no libzip/zlib is needed. */
#ifndef FN_ZIP_H
#define FN_ZIP_H
#include "core.h"

typedef struct {
    const char *name; size_t name_len;  /* points into the archive (not NUL-terminated) */
    const uint8_t *data; size_t size;   /* the stored bytes */
} fn_zip_entry;

/* Lists every entry; *entries is malloc'd (free it). */
fn_status fn_zip_list(const uint8_t *data, size_t size, fn_zip_entry **entries, int *n);
#endif
