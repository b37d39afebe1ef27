/* json.c — recursive-descent JSON parser with a depth cap. */
#include "json.h"
#include <math.h>

#define JSON_MAX_DEPTH 64

typedef struct { const char *p, *end, *start; fn_status err; } parser;

static fn_status perr(parser *ps, const char *what) {
    if (ps->err == FN_OK)
        ps->err = fn_fail(FN_ERR_FORMAT, "JSON: %s at byte %ld", what, (long)(ps->p - ps->start));
    return ps->err;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static void free_value(fn_json *j) {
    if (!j) return;
    free(j->string); free(j->key);
    for (int i = 0; i < j->n; i++) free_value(&j->items[i]);
    free(j->items);
}

void fn_json_free(fn_json *j) { if (j) { free_value(j); free(j); } }

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static fn_status parse_string(parser *ps, char **out) {
    /* ps->p at opening quote */
    ps->p++;
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    if (!s) return perr(ps, "out of memory");
    while (1) {
        if (ps->p >= ps->end) { free(s); return perr(ps, "unterminated string"); }
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"') break;
        if (c < 0x20) { free(s); return perr(ps, "control character in string"); }
        char buf[4]; int nb = 1; buf[0] = (char)c;
        if (c == '\\') {
            if (ps->p >= ps->end) { free(s); return perr(ps, "bad escape"); }
            char e = *ps->p++;
            switch (e) {
            case '"': buf[0] = '"'; break; case '\\': buf[0] = '\\'; break; case '/': buf[0] = '/'; break;
            case 'b': buf[0] = '\b'; break; case 'f': buf[0] = '\f'; break; case 'n': buf[0] = '\n'; break;
            case 'r': buf[0] = '\r'; break; case 't': buf[0] = '\t'; break;
            case 'u': {
                if (ps->end - ps->p < 4) { free(s); return perr(ps, "bad \\u escape"); }
                unsigned cp = 0;
                for (int i = 0; i < 4; i++) { int h = hexval(ps->p[i]); if (h < 0) { free(s); return perr(ps, "bad \\u escape"); } cp = cp * 16 + h; }
                ps->p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                    unsigned lo = 0; int ok = 1;
                    for (int i = 0; i < 4; i++) { int h = hexval(ps->p[2 + i]); if (h < 0) ok = 0; else lo = lo * 16 + h; }
                    if (ok && lo >= 0xDC00 && lo <= 0xDFFF) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); ps->p += 6; }
                }
                if (cp < 0x80) { buf[0] = (char)cp; nb = 1; }
                else if (cp < 0x800) { buf[0] = (char)(0xC0 | (cp >> 6)); buf[1] = (char)(0x80 | (cp & 63)); nb = 2; }
                else if (cp < 0x10000) { buf[0] = (char)(0xE0 | (cp >> 12)); buf[1] = (char)(0x80 | ((cp >> 6) & 63)); buf[2] = (char)(0x80 | (cp & 63)); nb = 3; }
                else { buf[0] = (char)(0xF0 | (cp >> 18)); buf[1] = (char)(0x80 | ((cp >> 12) & 63)); buf[2] = (char)(0x80 | ((cp >> 6) & 63)); buf[3] = (char)(0x80 | (cp & 63)); nb = 4; }
                break;
            }
            default: free(s); return perr(ps, "bad escape");
            }
        }
        if (len + nb + 1 > cap) {
            cap = cap * 2 + nb;
            char *t = realloc(s, cap);
            if (!t) { free(s); return perr(ps, "out of memory"); }
            s = t;
        }
        memcpy(s + len, buf, nb); len += nb;
    }
    s[len] = 0;
    *out = s;
    return FN_OK;
}

static fn_status parse_value(parser *ps, fn_json *v, int depth);

static fn_status push_item(parser *ps, fn_json *parent, int *cap, fn_json **slot) {
    if (parent->n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        fn_json *t = realloc(parent->items, sizeof(fn_json) * nc);
        if (!t) return perr(ps, "out of memory");
        parent->items = t; *cap = nc;
    }
    *slot = &parent->items[parent->n];
    memset(*slot, 0, sizeof **slot);
    return FN_OK;
}

static fn_status parse_value(parser *ps, fn_json *v, int depth) {
    if (depth > JSON_MAX_DEPTH) return perr(ps, "nesting too deep");
    skip_ws(ps);
    if (ps->p >= ps->end) return perr(ps, "unexpected end");
    char c = *ps->p;
    if (c == '{' || c == '[') {
        int obj = c == '{', cap = 0;
        v->type = obj ? FN_JSON_OBJECT : FN_JSON_ARRAY;
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) { ps->p++; return FN_OK; }
        while (1) {
            fn_json *slot = NULL;
            char *key = NULL;
            skip_ws(ps);
            if (obj) {
                if (ps->p >= ps->end || *ps->p != '"') return perr(ps, "expected key");
                if (parse_string(ps, &key)) return ps->err;
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p != ':') { free(key); return perr(ps, "expected ':'"); }
                ps->p++;
            }
            if (push_item(ps, v, &cap, &slot)) { free(key); return ps->err; }
            slot->key = key;
            v->n++;
            if (parse_value(ps, slot, depth + 1)) return ps->err;
            skip_ws(ps);
            if (ps->p >= ps->end) return perr(ps, "unexpected end");
            if (*ps->p == ',') { ps->p++; continue; }
            if (*ps->p == (obj ? '}' : ']')) { ps->p++; return FN_OK; }
            return perr(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '"') { v->type = FN_JSON_STRING; return parse_string(ps, &v->string); }
    if (ps->end - ps->p >= 4 && !memcmp(ps->p, "true", 4)) { v->type = FN_JSON_BOOL; v->number = 1; ps->p += 4; return FN_OK; }
    if (ps->end - ps->p >= 5 && !memcmp(ps->p, "false", 5)) { v->type = FN_JSON_BOOL; ps->p += 5; return FN_OK; }
    if (ps->end - ps->p >= 4 && !memcmp(ps->p, "null", 4)) { v->type = FN_JSON_NULL; ps->p += 4; return FN_OK; }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64]; int n = 0;
        while (ps->p < ps->end && n < 63 && strchr("+-0123456789.eE", *ps->p)) buf[n++] = *ps->p++;
        buf[n] = 0;
        char *endp;
        v->type = FN_JSON_NUMBER;
        v->number = strtod(buf, &endp);
        if (*endp || n == 0) return perr(ps, "bad number");
        return FN_OK;
    }
    return perr(ps, "unexpected character");
}

fn_status fn_json_parse(const char *text, size_t len, fn_json **out) {
    *out = NULL;
    parser ps = { text, text + len, text, FN_OK };
    fn_json *root = calloc(1, sizeof *root);
    if (!root) return fn_fail(FN_ERR_NOMEM, "out of memory");
    if (parse_value(&ps, root, 0) == FN_OK) {
        skip_ws(&ps);
        if (ps.p != ps.end) perr(&ps, "trailing characters");
    }
    if (ps.err) { fn_json_free(root); return ps.err; }
    *out = root;
    return FN_OK;
}

const fn_json *fn_json_get(const fn_json *obj, const char *key) {
    if (!obj || obj->type != FN_JSON_OBJECT) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (obj->items[i].key && !strcmp(obj->items[i].key, key)) return &obj->items[i];
    return NULL;
}

const fn_json *fn_json_at(const fn_json *arr, int i) {
    if (!arr || (arr->type != FN_JSON_ARRAY && arr->type != FN_JSON_OBJECT) || i < 0 || i >= arr->n) return NULL;
    return &arr->items[i];
}

void fn_json_write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') { fputc('\\', f); fputc(*p, f); }
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}
