/* zip.c — central-directory reader for STORED zip archives (see zip.h). Every offset and
 * length from the file is checked against the buffer before use. */
#include "zip.h"

#define ZIP_EOCD 0x06054b50u
#define ZIP64_LOCATOR 0x07064b50u
#define ZIP64_EOCD 0x06064b50u
#define ZIP_CENTRAL 0x02014b50u
#define ZIP_LOCAL 0x04034b50u
#define ZIP_MAX_ENTRIES 1000000

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Is [off, off+len) inside a buffer of `size` bytes? */
static int in_range(uint64_t off, uint64_t len, size_t size) {
    return off <= size && len <= size - off;
}

fn_status fn_zip_list(const uint8_t *data, size_t size, fn_zip_entry **entries, int *n) {
    *entries = NULL; *n = 0;
    if (size < 22) return fn_fail(FN_ERR_FORMAT, "zip: file too short (%zu bytes)", size);
    /* end of central directory: last 22 bytes + up to 64 KiB of comment */
    size_t eocd = (size_t)-1;
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (size_t p = size - 22 + 1; p-- > lo;)
        if (le(data + p, 4) == ZIP_EOCD) { eocd = p; break; }
    if (eocd == (size_t)-1) return fn_fail(FN_ERR_FORMAT, "zip: end of central directory not found (truncated archive?)");
    uint64_t count = le(data + eocd + 10, 2), cd_size = le(data + eocd + 12, 4), cd_off = le(data + eocd + 16, 4);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        if (eocd < 20 || le(data + eocd - 20, 4) != ZIP64_LOCATOR) return fn_fail(FN_ERR_FORMAT, "zip: zip64 locator missing");
        uint64_t z = le(data + eocd - 20 + 8, 8);
        if (!in_range(z, 56, size) || le(data + z, 4) != ZIP64_EOCD) return fn_fail(FN_ERR_FORMAT, "zip: bad zip64 end record");
        count = le(data + z + 32, 8); cd_size = le(data + z + 40, 8); cd_off = le(data + z + 48, 8);
    }
    if (!in_range(cd_off, cd_size, size)) return fn_fail(FN_ERR_FORMAT, "zip: central directory out of range (truncated archive?)");
    if (count > ZIP_MAX_ENTRIES || count > cd_size / 46) return fn_fail(FN_ERR_FORMAT, "zip: implausible entry count %llu", (unsigned long long)count);
    fn_zip_entry *e = calloc(count ? count : 1, sizeof *e);
    if (!e) return fn_fail(FN_ERR_NOMEM, "out of memory");
    const uint8_t *p = data + cd_off, *end = data + cd_off + cd_size;
    fn_status st = FN_OK;
    for (uint64_t i = 0; i < count; i++) {
        if (end - p < 46 || le(p, 4) != ZIP_CENTRAL) { st = fn_fail(FN_ERR_FORMAT, "zip: bad central directory entry %llu", (unsigned long long)i); break; }
        unsigned flags = (unsigned)le(p + 8, 2), method = (unsigned)le(p + 10, 2);
        uint64_t csize = le(p + 20, 4), usize = le(p + 24, 4), local = le(p + 42, 4);
        size_t nlen = (size_t)le(p + 28, 2), elen = (size_t)le(p + 30, 2), clen = (size_t)le(p + 32, 2);
        if ((size_t)(end - p) - 46 < nlen + elen + clen) { st = fn_fail(FN_ERR_FORMAT, "zip: central directory entry %llu overruns", (unsigned long long)i); break; }
        const char *name = (const char *)p + 46;
        /* zip64 extra field: the 0xFFFFFFFF fields follow in order usize, csize, local */
        const uint8_t *x = p + 46 + nlen, *xe = x + elen;
        while (xe - x >= 4) {
            unsigned id = (unsigned)le(x, 2), len = (unsigned)le(x + 2, 2);
            if ((size_t)(xe - x) - 4 < len) break;
            if (id == 1) {
                const uint8_t *f = x + 4, *fe = x + 4 + len;
                if (usize == 0xFFFFFFFFu && fe - f >= 8) { usize = le(f, 8); f += 8; }
                if (csize == 0xFFFFFFFFu && fe - f >= 8) { csize = le(f, 8); f += 8; }
                if (local == 0xFFFFFFFFu && fe - f >= 8) { local = le(f, 8); f += 8; }
            }
            x += 4 + len;
        }
        if (flags & 1) { st = fn_fail(FN_ERR_UNSUPPORTED, "zip: entry '%.*s' is encrypted", (int)(nlen > 200 ? 200 : nlen), name); break; }
        if (method != 0 || csize != usize) {
            st = fn_fail(FN_ERR_UNSUPPORTED, "zip: entry '%.*s' is compressed (method %u); only stored entries are supported (as torch.save writes them)",
                         (int)(nlen > 200 ? 200 : nlen), name, method);
            break;
        }
        if (!in_range(local, 30, size) || le(data + local, 4) != ZIP_LOCAL) { st = fn_fail(FN_ERR_FORMAT, "zip: bad local header for '%.*s'", (int)(nlen > 200 ? 200 : nlen), name); break; }
        uint64_t dstart = local + 30 + le(data + local + 26, 2) + le(data + local + 28, 2);
        if (!in_range(dstart, usize, size)) { st = fn_fail(FN_ERR_FORMAT, "zip: entry '%.*s' data out of range (truncated archive?)", (int)(nlen > 200 ? 200 : nlen), name); break; }
        e[i].name = name; e[i].name_len = nlen;
        e[i].data = data + dstart; e[i].size = (size_t)usize;
        p += 46 + nlen + elen + clen;
    }
    if (st) { free(e); return st; }
    *entries = e; *n = (int)count;
    return FN_OK;
}
