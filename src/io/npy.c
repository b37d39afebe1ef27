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

fn_status fn_npy_load_f32(const char *path, float **data, int64_t *rows, int64_t *cols) {
    *data = NULL; *rows = *cols = 0;
    uint8_t *buf; size_t size;
    FN_TRY(fn_read_file(path, &buf, &size));
    fn_status st = FN_OK;
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6)) { st = fn_fail(FN_ERR_FORMAT, "%s: not a .npy file", path); goto done; }
    size_t hl, off;
    if (buf[6] == 1) { hl = buf[8] | (buf[9] << 8); off = 10; }
    else if (size >= 12) { hl = buf[8] | (buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24); off = 12; }
    else { st = fn_fail(FN_ERR_FORMAT, "%s: truncated header", path); goto done; }
    if (hl > size - off) { st = fn_fail(FN_ERR_FORMAT, "%s: truncated header", path); goto done; }
    char hdr[1024];
    size_t cl = hl < sizeof hdr - 1 ? hl : sizeof hdr - 1;
    memcpy(hdr, buf + off, cl); hdr[cl] = 0;
    int is64 = strstr(hdr, "'<f8'") != NULL, is32 = strstr(hdr, "'<f4'") != NULL;
    if (!is32 && !is64) { st = fn_fail(FN_ERR_UNSUPPORTED, "%s: only float32/float64 arrays are supported", path); goto done; }
    if (strstr(hdr, "'fortran_order': True")) { st = fn_fail(FN_ERR_UNSUPPORTED, "%s: fortran order not supported", path); goto done; }
    const char *sp = strstr(hdr, "'shape':");
    long long r = 0, c = 1;
    if (!sp || sscanf(sp, "'shape': (%lld, %lld)", &r, &c) < 1 || r < 0 || c < 0) { st = fn_fail(FN_ERR_FORMAT, "%s: bad shape", path); goto done; }
    if (!strchr(sp, ',') || sscanf(sp, "'shape': (%lld, %lld)", &r, &c) != 2) c = 1;
    size_t n, need;
    if (!fn_mul_size((size_t)r, (size_t)c, &n) || !fn_mul_size(n, is64 ? 8 : 4, &need) || need > size - off - hl) {
        st = fn_fail(FN_ERR_FORMAT, "%s: data truncated", path); goto done;
    }
    float *f = fn_malloc(n * 4);
    if (!f) { st = FN_ERR_NOMEM; goto done; }
    const uint8_t *src = buf + off + hl;
    for (size_t i = 0; i < n; i++) {
        if (is64) { double d; memcpy(&d, src + 8 * i, 8); f[i] = (float)d; }
        else memcpy(&f[i], src + 4 * i, 4);
    }
    *data = f; *rows = r; *cols = c;
done:
    free(buf);
    return st;
}
