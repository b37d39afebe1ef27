/* exif.c — the one EXIF reader: the Orientation tag (0x0112) of IFD0, for JPEG's APP1,
 * WebP's EXIF chunk (with or without the "Exif\0\0" prefix, as PIL's Exif.load accepts). */
#include "image_internal.h"

static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int fn_exif_orientation(const uint8_t *exif, size_t size) {
    if (size >= 6 && memcmp(exif, "Exif\0\0", 6) == 0) exif += 6, size -= 6;
    if (size < 8) return 1;
    const uint8_t *t = exif; /* TIFF header: byte order, 42, offset of IFD0 */
    size_t n = size;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 1;
        if (rd16(t + e, le) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, le);
        uint32_t cnt = rd32(t + e + 4, le);
        if (type != 3 || cnt < 1) return 1; /* SHORT, value inline in the first 2 bytes */
        unsigned v = rd16(t + e + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}
