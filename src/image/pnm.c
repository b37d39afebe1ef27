/* pnm.c — PGM/PPM decode: P2/P3 (ASCII) and P5/P6 (binary), maxval 1..65535 (two bytes
 * per sample, big-endian, above 255). Samples are rescaled to 0..255 as round(v·255/maxval)
 * — what PIL does for PPM; for 16-bit PGM PIL keeps mode "I" and clips, we rescale — and
 * grey is expanded to RGB. */
#include "image_internal.h"

typedef struct { const uint8_t *p; size_t n, pos; } pnm_reader;

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skip whitespace and '#' comments (which run to the end of the line). */
static void skip_space(pnm_reader *r) {
    while (r->pos < r->n) {
        int c = r->p[r->pos];
        if (c == '#') {
            while (r->pos < r->n && r->p[r->pos] != '\n' && r->p[r->pos] != '\r') r->pos++;
        } else if (is_space(c)) {
            r->pos++;
        } else {
            break;
        }
    }
}

/* A decimal number <= limit; -1 when missing/garbled, -2 when above the limit. */
static long read_number(pnm_reader *r, long limit) {
    skip_space(r);
    if (r->pos >= r->n || r->p[r->pos] < '0' || r->p[r->pos] > '9') return -1;
    long v = 0;
    while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') {
        v = v * 10 + (r->p[r->pos++] - '0');
        if (v > limit) return -2;
    }
    return v;
}

fn_status fn_image_decode_pnm(const uint8_t *data, size_t size, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    pnm_reader r = {data, size, 2};
    /* the magic is checked here too: this decoder may be called directly (fuzzers, tests) */
    if (size < 2 || data[0] != 'P' || !strchr("2356", data[1]) || data[1] == 0)
        return fn_fail(FN_ERR_FORMAT, "PNM: bad magic number");
    const int kind = data[1] - '0'; /* 2,3 ASCII; 5,6 binary */
    const int color = kind == 3 || kind == 6, ascii = kind == 2 || kind == 3;
    const char *name = color ? "PPM" : "PGM";
    if (r.pos >= r.n || (!is_space(data[r.pos]) && data[r.pos] != '#'))
        return fn_fail(FN_ERR_FORMAT, "%s: bad magic number", name);
    long w = read_number(&r, 1L << 30), h = read_number(&r, 1L << 30);
    if (w == -1 || h == -1) return fn_fail(FN_ERR_FORMAT, "%s: missing or bad width/height", name);
    if (w == -2 || h == -2) return fn_fail(FN_ERR_LIMIT, "%s: image size above the limit", name);
    FN_TRY(fn_image_check_size(w, h, name));
    long maxval = read_number(&r, 65535);
    if (maxval == -1 || maxval == -2 || maxval == 0)
        return fn_fail(FN_ERR_FORMAT, "%s: maxval must be 1..65535", name);
    if (r.pos >= r.n || !is_space(data[r.pos])) return fn_fail(FN_ERR_FORMAT, "%s: truncated header", name);
    r.pos++; /* exactly one whitespace byte before a binary raster */
    const int channels = color ? 3 : 1, wide = maxval > 255;
    const size_t samples = (size_t)w * (size_t)h * channels; /* capped sizes: no overflow */
    if (!ascii && (size - r.pos) / (wide ? 2 : 1) < samples)
        return fn_fail(FN_ERR_FORMAT, "%s: truncated pixel data (%zu bytes, need %zu)", name,
                       size - r.pos, samples * (wide ? 2 : 1));
    FN_TRY(fn_image_alloc((int)w, (int)h, out));
    for (size_t i = 0; i < samples; i++) {
        long v;
        if (ascii) {
            v = read_number(&r, 65535);
            if (v == -1) { fn_image_free(out); return fn_fail(FN_ERR_FORMAT, "%s: truncated or bad pixel data at sample %zu", name, i); }
            if (v == -2 || v > maxval) { fn_image_free(out); return fn_fail(FN_ERR_FORMAT, "%s: sample %zu above maxval %ld", name, i, maxval); }
        } else if (wide) {
            v = (long)data[r.pos] << 8 | data[r.pos + 1];
            r.pos += 2;
            if (v > maxval) v = maxval;
        } else {
            v = data[r.pos++];
            if (v > maxval) v = maxval;
        }
        uint8_t b = (uint8_t)((v * 255 * 2 + maxval) / (2 * maxval)); /* round half up */
        if (color) out->rgb[i] = b;
        else out->rgb[i * 3] = out->rgb[i * 3 + 1] = out->rgb[i * 3 + 2] = b;
    }
    return FN_OK;
}
