/* json.h — a small DOM JSON parser (safetensors headers, TF.js manifests, fixtures)
 * and helpers for writing JSON strings. Depth and size are bounded; errors are
 * reported with the byte offset. */
#ifndef FN_JSON_H
#define FN_JSON_H
#include "core.h"

typedef enum { FN_JSON_NULL, FN_JSON_BOOL, FN_JSON_NUMBER, FN_JSON_STRING, FN_JSON_ARRAY, FN_JSON_OBJECT } fn_json_type;

typedef struct fn_json {
    fn_json_type type;
    double number;         /* NUMBER, BOOL (0/1) */
    char *string;          /* STRING (NUL-terminated, unescaped) */
    char *key;             /* set when this value is an object member */
    struct fn_json *items; /* ARRAY / OBJECT children */
    int n;
} fn_json;

/* Parses text[0..len). *out is heap-allocated; free with fn_json_free. */
fn_status fn_json_parse(const char *text, size_t len, fn_json **out);
void fn_json_free(fn_json *j);
const fn_json *fn_json_get(const fn_json *obj, const char *key); /* NULL if absent */
const fn_json *fn_json_at(const fn_json *arr, int i);             /* NULL if out of range */
/* Writes s as a JSON string literal (with quotes) to f. */
void fn_json_write_string(FILE *f, const char *s);

#endif
