/* bmp.c — BMP decode: core (12-byte) and info (40..124-byte) headers; 1/4/8-bit palette,
 * 16/32-bit (default masks or BI_BITFIELDS), 24-bit; bottom-up (height > 0) and top-down
 * (height < 0). Alpha is dropped. RLE-compressed files are reported as unsupported. */
#include "image_internal.h"

static uint32_t u16le(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32le(const uint8_t *p) { return u16le(p) | u16le(p + 2) << 16; }

/* One colour channel from a bit mask: shift it down and scale to 0..255 (integer division,
 * as PIL's 15/16-bit unpackers). */
typedef struct { uint32_t mask; int shift; uint32_t max; } channel_mask;

static int mask_init(channel_mask *m, uint32_t mask) {
    m->mask = mask;
    m->shift = 0;
    m->max = 0;
    if (!mask) return 1; /* absent channel reads as 0 */
    while (!((mask >> m->shift) & 1)) m->shift++;
    m->max = mask >> m->shift;
    return (m->max & (m->max + 1)) == 0; /* contiguous bits only */
}

static inline uint8_t mask_get(const channel_mask *m, uint32_t px) {
    if (!m->mask) return 0;
    uint32_t v = (px & m->mask) >> m->shift;
    return (uint8_t)((uint64_t)v * 255 / m->max);
}

fn_status fn_image_decode_bmp(const uint8_t *data, size_t size, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    if (size < 14 + 12) return fn_fail(FN_ERR_FORMAT, "BMP: truncated header");
    const uint32_t pixel_offset = u32le(data + 10), dib = u32le(data + 14);
    if (dib != 12 && (dib < 40 || dib > 124)) return fn_fail(FN_ERR_FORMAT, "BMP: unknown header size %u", dib);
    if (size < 14 + (size_t)dib) return fn_fail(FN_ERR_FORMAT, "BMP: truncated header");
    const uint8_t *h = data + 14;
    long width, height;
    unsigned bpp, compression = 0, colors_used = 0;
    if (dib == 12) {
        width = (long)u16le(h + 4);
        height = (long)u16le(h + 6);
        bpp = u16le(h + 10);
    } else {
        width = (int32_t)u32le(h + 4);
        height = (int32_t)u32le(h + 8); /* int32 in a long: negating INT32_MIN is safe */
        bpp = u16le(h + 14);
        compression = u32le(h + 16);
        colors_used = u32le(h + 32);
    }
    const int top_down = height < 0;
    if (top_down) height = -height;
    FN_TRY(fn_image_check_size(width, height, "BMP"));
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        return fn_fail(FN_ERR_UNSUPPORTED, "BMP: %u bits per pixel", bpp);
    if (compression == 1 || compression == 2)
        return fn_fail(FN_ERR_UNSUPPORTED, "BMP: RLE compression is not supported");
    if (compression != 0 && compression != 3 && compression != 6)
        return fn_fail(FN_ERR_UNSUPPORTED, "BMP: compression type %u", compression);

    /* masks for 16/32-bit */
    channel_mask mr, mg, mb;
    uint32_t masks[3] = {0x7C00, 0x03E0, 0x001F}; /* 16-bit default: 5-5-5 */
    if (bpp == 32) { masks[0] = 0xFF0000; masks[1] = 0xFF00; masks[2] = 0xFF; }
    size_t palette_at = 14 + (size_t)dib;
    if (compression == 3 || compression == 6) {
        if (bpp != 16 && bpp != 32) return fn_fail(FN_ERR_FORMAT, "BMP: bit fields with %u bits per pixel", bpp);
        const uint8_t *mp = h + 40; /* inside V2+ headers, or right after a 40-byte one */
        if (dib == 40) {
            size_t extra = compression == 6 ? 16 : 12;
            if (size < palette_at + extra) return fn_fail(FN_ERR_FORMAT, "BMP: truncated bit masks");
            palette_at += extra;
        } else if (dib < 52) {
            return fn_fail(FN_ERR_FORMAT, "BMP: header too short for bit masks");
        }
        for (int c = 0; c < 3; c++) masks[c] = u32le(mp + 4 * c);
    }
    if (!mask_init(&mr, masks[0]) || !mask_init(&mg, masks[1]) || !mask_init(&mb, masks[2]))
        return fn_fail(FN_ERR_FORMAT, "BMP: non-contiguous colour bit masks");

    uint8_t palette[256][3];
    memset(palette, 0, sizeof palette); /* indices past the palette read as black */
    if (bpp <= 8) {
        const size_t entry = dib == 12 ? 3 : 4;
        size_t count = colors_used ? colors_used : (size_t)1 << bpp;
        if (count > ((size_t)1 << bpp)) count = (size_t)1 << bpp;
        if (palette_at > size || (size - palette_at) / entry < count)
            return fn_fail(FN_ERR_FORMAT, "BMP: truncated palette");
        for (size_t i = 0; i < count; i++) {
            const uint8_t *p = data + palette_at + i * entry; /* B, G, R */
            palette[i][0] = p[2]; palette[i][1] = p[1]; palette[i][2] = p[0];
        }
    }
    const size_t stride = ((size_t)width * bpp + 31) / 32 * 4;
    if (pixel_offset > size || (size - pixel_offset) / stride < (size_t)height)
        return fn_fail(FN_ERR_FORMAT, "BMP: truncated pixel data");
    FN_TRY(fn_image_alloc((int)width, (int)height, out));
    for (long y = 0; y < height; y++) {
        const uint8_t *row = data + pixel_offset + (size_t)(top_down ? y : height - 1 - y) * stride;
        uint8_t *o = out->rgb + (size_t)y * width * 3;
        for (long x = 0; x < width; x++, o += 3) {
            if (bpp <= 8) {
                size_t bit = (size_t)x * bpp;
                unsigned idx = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
                memcpy(o, palette[idx], 3);
            } else if (bpp == 24) {
                const uint8_t *p = row + (size_t)x * 3;
                o[0] = p[2]; o[1] = p[1]; o[2] = p[0];
            } else {
                uint32_t px = bpp == 16 ? u16le(row + (size_t)x * 2) : u32le(row + (size_t)x * 4);
                o[0] = mask_get(&mr, px); o[1] = mask_get(&mg, px); o[2] = mask_get(&mb, px);
            }
        }
    }
    return FN_OK;
}
