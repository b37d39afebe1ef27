/* npy.c — NumPy .npy v1.0 files: float32 2-D, int64 1-D and unicode ('<U') 1-D
 * arrays written atomically; plain float32/float64 arrays read back. */
#include "tensors.h"

static fn_status npy_write(const char *path, const char *descr, const char *shape,
                           const void *data, size_t nbytes) {
    char header[256];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    /* magic(6) + version(2) + len(2) + header, padded with spaces to a multiple of 64, ending in \n */
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    fn_atomic_file af;
    FN_TRY(fn_atomic_open(path, &af));
    uint16_t hl = (uint16_t)(n + pad + 1);
    uint8_t pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hl & 255), (uint8_t)(hl >> 8) };
    int ok = fwrite(pre, 1, 10, af.f) == 10 && fwrite(header, 1, n, af.f) == (size_t)n;
    for (int i = 0; ok && i < pad; i++) ok = fputc(' ', af.f) != EOF;
    ok = ok && fputc('\n', af.f) != EOF;
    ok = ok && (nbytes == 0 || fwrite(data, 1, nbytes, af.f) == nbytes);
    if (!ok) { fn_atomic_abort(&af); return fn_fail(FN_ERR_IO, "%s: write error", path); }
    return fn_atomic_commit(&af);
}

fn_status fn_npy_save_f32(const char *path, const float *data, int64_t rows, int64_t cols) {
    char shape[64];
    snprintf(shape, sizeof shape, "(%lld, %lld)", (long long)rows, (long long)cols);
    return npy_write(path, "<f4", shape, data, (size_t)(rows * cols) * 4);
}

fn_status fn_npy_save_i64(const char *path, const int64_t *data, int64_t n) {
    char shape[64];
    snprintf(shape, sizeof shape, "(%lld,)", (long long)n);
    return npy_write(path, "<i8", shape, data, (size_t)n * 8);
}

/* Decode one UTF-8 code point; invalid bytes map to U+FFFD. */
static uint32_t utf8_next(const unsigned char **p) {
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0) { *p = s + 1; return 0xFFFD; }
    if (len == 1) { *p = s + 1; return c; }
    c &= 0x7F >> len;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *p = s + i; return 0xFFFD; }
        c = (c << 6) | (s[i] & 63);
    }
    *p = s + len;
    return c;
}

fn_status fn_npy_save_unicode(const char *path, const char *const *strings, int64_t n) {
    int64_t width = 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t len = 0;
        for (const unsigned char *p = (const unsigned char *)strings[i]; *p; len++) utf8_next(&p);
        if (len > width) width = len;
    }
    size_t bytes = (size_t)(n * width) * 4;
    uint32_t *buf = calloc(bytes ? bytes : 1, 1);
    if (!buf) return fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t k = 0;
        for (const unsigned char *p = (const unsigned char *)strings[i]; *p;) buf[i * width + k++] = utf8_next(&p);
    }
    char descr[32], shape[64];
    snprintf(descr, sizeof descr, "<U%lld", (long long)width);
    snprintf(shape, sizeof shape, "(%lld,)", (long long)n);
    fn_status s = npy_write(path, descr, shape, buf, bytes);
    free(buf);
    return s;
}

/* The header of a .npy in buf: descr ('<f4', '<U12', ...), shape (1-D: cols = 1) and the
 * offset of the data, which is checked to hold rows x cols x item bytes. */
typedef struct { char descr[16]; long long rows, cols; size_t data; } npy_header;

static fn_status npy_parse_header(const char *path, const uint8_t *buf, size_t size, npy_header *h) {
    memset(h, 0, sizeof *h);
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6)) return fn_fail(FN_ERR_FORMAT, "%s: not a .npy file", path);
    size_t hl, off;
    if (buf[6] == 1) { hl = buf[8] | (buf[9] << 8); off = 10; }
    else if (size >= 12) { hl = buf[8] | (buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24); off = 12; }
    else return fn_fail(FN_ERR_FORMAT, "%s: truncated header", path);
    if (hl > size - off) return fn_fail(FN_ERR_FORMAT, "%s: truncated header", path);
    char hdr[1024];
    size_t cl = hl < sizeof hdr - 1 ? hl : sizeof hdr - 1;
    memcpy(hdr, buf + off, cl); hdr[cl] = 0;
    const char *d = strstr(hdr, "'descr':");
    if (!d || sscanf(d, "'descr': '%15[^']'", h->descr) != 1) return fn_fail(FN_ERR_FORMAT, "%s: no dtype", path);
    if (strstr(hdr, "'fortran_order': True")) return fn_fail(FN_ERR_UNSUPPORTED, "%s: fortran order not supported", path);
    const char *sp = strstr(hdr, "'shape':");
    long long r = 0, c = 1;
    if (!sp || sscanf(sp, "'shape': (%lld, %lld)", &r, &c) < 1 || r < 0 || c < 0) return fn_fail(FN_ERR_FORMAT, "%s: bad shape", path);
    if (!strchr(sp, ',') || sscanf(sp, "'shape': (%lld, %lld)", &r, &c) != 2) c = 1;
    h->rows = r; h->cols = c; h->data = off + hl;
    return FN_OK;
}

/* Checks that rows x cols items of item bytes follow the header. */
static fn_status npy_check_size(const char *path, const npy_header *h, size_t size, size_t item, size_t *n) {
    size_t need;
    if (!fn_mul_size((size_t)h->rows, (size_t)h->cols, n) || !fn_mul_size(*n, item, &need) || need > size - h->data)
        return fn_fail(FN_ERR_FORMAT, "%s: data truncated", path);
    return FN_OK;
}

fn_status fn_npy_load_i64(const char *path, int64_t **data, int64_t *n_out) {
    *data = NULL; *n_out = 0;
    uint8_t *buf; size_t size, n = 0;
    FN_TRY(fn_read_file(path, &buf, &size));
    npy_header h;
    fn_status st = npy_parse_header(path, buf, size, &h);
    int w = 0;
    if (st == FN_OK) {
        w = !strcmp(h.descr, "<i8") || !strcmp(h.descr, "<u8") ? 8 : !strcmp(h.descr, "<i4") || !strcmp(h.descr, "<u4") ? 4 : 0;
        if (!w) st = fn_fail(FN_ERR_UNSUPPORTED, "%s: dtype %s (int64 or int32 expected)", path, h.descr);
    }
    if (st == FN_OK && h.cols != 1) st = fn_fail(FN_ERR_SHAPE, "%s: a 1-D array expected", path);
    if (st == FN_OK) st = npy_check_size(path, &h, size, (size_t)w, &n);
    int64_t *v = NULL;
    if (st == FN_OK && !(v = fn_malloc(n ? n * 8 : 8))) st = FN_ERR_NOMEM;
    for (size_t i = 0; st == FN_OK && i < n; i++) {
        if (w == 8) memcpy(&v[i], buf + h.data + 8 * i, 8);
        else { int32_t x; memcpy(&x, buf + h.data + 4 * i, 4); v[i] = h.descr[1] == 'u' ? (int64_t)(uint32_t)x : x; }
    }
    free(buf);
    if (st != FN_OK) { fn_free(v); return st; }
    *data = v; *n_out = (int64_t)n;
    return FN_OK;
}

/* One UTF-32 code point as UTF-8 (invalid ones as U+FFFD); returns the bytes written. */
static int utf8_put(uint32_t c, char *o) {
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) { o[0] = (char)(0xE0 | c >> 12); o[1] = (char)(0x80 | (c >> 6 & 63)); o[2] = (char)(0x80 | (c & 63)); return 3; }
    o[0] = (char)(0xF0 | c >> 18); o[1] = (char)(0x80 | (c >> 12 & 63)); o[2] = (char)(0x80 | (c >> 6 & 63)); o[3] = (char)(0x80 | (c & 63));
    return 4;
}

fn_status fn_npy_load_unicode(const char *path, char ***strings, int64_t *n_out) {
    *strings = NULL; *n_out = 0;
    uint8_t *buf; size_t size, n = 0;
    FN_TRY(fn_read_file(path, &buf, &size));
    npy_header h;
    fn_status st = npy_parse_header(path, buf, size, &h);
    long long width = 0;
    if (st == FN_OK && (sscanf(h.descr, "<U%lld", &width) != 1 || width < 1 || width > 4096))
        st = fn_fail(FN_ERR_UNSUPPORTED, "%s: dtype %s (a NumPy unicode array '<U' expected)", path, h.descr);
    if (st == FN_OK && h.cols != 1) st = fn_fail(FN_ERR_SHAPE, "%s: a 1-D array expected", path);
    if (st == FN_OK) st = npy_check_size(path, &h, size, (size_t)width * 4, &n);
    char **v = NULL;
    if (st == FN_OK && !(v = calloc(n ? n : 1, sizeof *v))) st = fn_fail(FN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == FN_OK && i < n; i++) {
        if (!(v[i] = malloc((size_t)width * 4 + 1))) { st = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
        size_t o = 0;
        for (long long k = 0; k < width; k++) {
            uint32_t c;
            memcpy(&c, buf + h.data + (i * (size_t)width + (size_t)k) * 4, 4);
            if (!c) break; /* NumPy pads with NULs */
            o += (size_t)utf8_put(c, v[i] + o);
        }
        v[i][o] = 0;
    }
    free(buf);
    if (st != FN_OK) { fn_npy_strings_free(v, (int64_t)n); return st; }
    *strings = v; *n_out = (int64_t)n;
    return FN_OK;
}

void fn_npy_strings_free(char **strings, int64_t n) {
    if (!strings) return;
    for (int64_t i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

fn_status fn_npy_load_f32(const char *path, float **data, int64_t *rows, int64_t *cols) {
    *data = NULL; *rows = *cols = 0;
    uint8_t *buf; size_t size, n = 0;
    FN_TRY(fn_read_file(path, &buf, &size));
    npy_header h;
    fn_status st = npy_parse_header(path, buf, size, &h);
    int is64 = st == FN_OK && !strcmp(h.descr, "<f8"), is32 = st == FN_OK && !strcmp(h.descr, "<f4");
    if (st == FN_OK && !is32 && !is64) st = fn_fail(FN_ERR_UNSUPPORTED, "%s: only float32/float64 arrays are supported", path);
    if (st == FN_OK) st = npy_check_size(path, &h, size, is64 ? 8 : 4, &n);
    float *f = NULL;
    if (st == FN_OK && !(f = fn_malloc(n ? n * 4 : 4))) st = FN_ERR_NOMEM;
    const uint8_t *src = buf + h.data;
    for (size_t i = 0; st == FN_OK && i < n; i++) {
        if (is64) { double d; memcpy(&d, src + 8 * i, 8); f[i] = (float)d; }
        else memcpy(&f[i], src + 4 * i, 4);
    }
    free(buf);
    if (st != FN_OK) { fn_free(f); return st; }
    *data = f; *rows = h.rows; *cols = h.cols;
    return FN_OK;
}
