#!/usr/bin/python3
"""Fixtures for tests/test_image.c, written to tests/fixtures/image/.

Run with Debian's Python (PIL 9 + numpy):  /usr/bin/python3 tools/gen_image_fixtures.py

* One small image per format variant (JPEG baseline/progressive/grey/CMYK/EXIF 1..8, PNG
  grey/grey+alpha/palette/tRNS/RGBA/1-bit/16-bit, PGM/PPM ASCII/binary/16-bit, BMP
  1/8/24/32/16-bit/top-down, GIF single/interlaced/animated) plus the expected decoded RGB
  (raw .rgb, w*h*3 bytes): PIL's decode where PIL defines it, numpy otherwise.
  manifest.txt:  file  expected.rgb  w  h  exif_rotate  tolerance  source-of-truth
  WebP lossy/lossless/alpha/animated/EXIF 1..8 (Pillow's decode), TIFF striped/tiled, 1..16-bit,
  grey/RGB/RGBA/palette/CMYK/min-is-white, LZW/deflate/PackBits/JPEG/G4, orientation 2..8,
  multi-page, separate planes (Pillow's decode; 16-bit grey by numpy, as for PNG), HEIC and
  AVIF lossless/alpha/lossy/orientation 2..8, HEIC 10-bit and grid (as phones write) (written through libheif by tools/heif_write.py;
  the reference is the encoded input, see below).
* Headers that claim huge sizes (cap_*), for FN_ERR_LIMIT.
* Resize references: PIL Image.resize(..., BILINEAR) of resize_src.png to several sizes
  (stored as PNG), and a crop+resize of a shared photo as facenet-pytorch makes it.
* shared_images.txt: PIL's sizes, EXIF orientation and mean of every shared photo.
"""
import io, os, struct, sys, zlib
import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'image')
SHARED = os.path.join(ROOT, '..', 'shared')
os.makedirs(OUT, exist_ok=True)
manifest = []


def base_image(w=13, h=7, seed=0):
    """Asymmetric colourful pattern (smooth enough to survive JPEG)."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // (w - 1))
    g = (y * 255 // (h - 1))
    b = ((x + 2 * y) * 17 + seed) % 256
    return np.stack([r, g, b], -1).astype(np.uint8)


def add(name, data, expected, exif_rotate=1, tol=0, truth='PIL'):
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)
    exp = name.rsplit('.', 1)[0] + ('.exif' if exif_rotate else '') + '.rgb'
    expected = np.ascontiguousarray(expected, dtype=np.uint8)
    assert expected.ndim == 3 and expected.shape[2] == 3
    expected.tofile(os.path.join(OUT, exp))
    h, w = expected.shape[:2]
    manifest.append(f'{name} {exp} {w} {h} {exif_rotate} {tol} {truth}')


def pil_rgb(data, exif=False):
    im = Image.open(io.BytesIO(data))
    im.load()
    if exif:
        im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert('RGB'))


def pil_bytes(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


rgb = base_image()
im = Image.fromarray(rgb)

# ---------------------------------------------------------------- JPEG
for name, img, kw in [('jpeg_baseline.jpg', im, dict(quality=90)),
                      ('jpeg_progressive.jpg', im, dict(quality=90, progressive=True)),
                      ('jpeg_gray.jpg', im.convert('L'), dict(quality=90)),
                      ('jpeg_cmyk.jpg', im.convert('CMYK'), dict(quality=95)),
                      ('jpeg_420.jpg', Image.fromarray(base_image(17, 11, 5)), dict(quality=80, subsampling=2))]:
    data = pil_bytes(img, 'JPEG', **kw)
    add(name, data, pil_rgb(data), tol=1)


def exif_app1(orientation, byteorder):
    """A minimal Exif TIFF with IFD0 = {Orientation}."""
    e = '<' if byteorder == 'II' else '>'
    tiff = byteorder.encode() + struct.pack(e + 'HI', 42, 8) + struct.pack(e + 'H', 1) + \
        struct.pack(e + 'HHIHH', 0x0112, 3, 1, orientation, 0) + struct.pack(e + 'I', 0)
    return b'Exif\x00\x00' + tiff


for o in range(1, 9):
    data = pil_bytes(im, 'JPEG', quality=92, exif=exif_app1(o, 'II' if o != 6 else 'MM'))
    assert Image.open(io.BytesIO(data)).getexif().get(0x0112) == o
    name = f'jpeg_exif{o}.jpg'
    add(name, data, pil_rgb(data, exif=True), exif_rotate=1, tol=1)
    add(name, data, pil_rgb(data, exif=False), exif_rotate=0, tol=1)

# ---------------------------------------------------------------- PNG
for name, img in [('png_rgb.png', im), ('png_gray.png', im.convert('L')),
                  ('png_gray_alpha.png', im.convert('LA')),
                  ('png_palette.png', im.convert('P', palette=Image.ADAPTIVE, colors=16)),
                  ('png_1bit.png', im.convert('1'))]:
    data = pil_bytes(img, 'PNG')
    add(name, data, pil_rgb(data))
rgba = np.dstack([rgb, (np.arange(13 * 7).reshape(7, 13) * 3 % 256).astype(np.uint8)])
data = pil_bytes(Image.fromarray(rgba, 'RGBA'), 'PNG')
add('png_rgba.png', data, pil_rgb(data))
pal = im.convert('P', palette=Image.ADAPTIVE, colors=8)
data = pil_bytes(pal, 'PNG', transparency=3)
add('png_palette_trns.png', data, pil_rgb(data))


def png_chunk(tag, payload):
    return struct.pack('>I', len(payload)) + tag + payload + struct.pack('>I', zlib.crc32(tag + payload) & 0xffffffff)


def raw_png(arr, color_type, depth):
    """A PNG written by hand (PIL cannot write 16-bit RGB): filter 0 on every row."""
    h, w = arr.shape[:2]
    dt = '>u2' if depth == 16 else 'u1'
    rows = b''.join(b'\x00' + arr[y].astype(dt).tobytes() for y in range(h))
    return b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, color_type, 0, 0, 0)) + \
        png_chunk(b'IDAT', zlib.compress(rows)) + png_chunk(b'IEND', b'')


rgb16 = (rgb.astype(np.uint32) * 257 + np.arange(13)[None, :, None] * 3).astype(np.uint16)
data = raw_png(rgb16, 2, 16)
assert (pil_rgb(data) == (rgb16 >> 8)).all()  # PIL keeps the high byte; so do we
add('png_rgb16.png', data, pil_rgb(data))
gray16 = (rgb16[..., 0].astype(np.uint32) * 7 % 65536).astype(np.uint16)
# PIL opens this as mode I;16 and clips to 255 when converting; we keep the high byte
add('png_gray16.png', raw_png(gray16, 0, 16), np.repeat((gray16 >> 8)[..., None].astype(np.uint8), 3, 2), truth='numpy')
rgba16 = np.dstack([rgb16, np.full((7, 13), 1234, np.uint16)])
data = raw_png(rgba16, 6, 16)
add('png_rgba16.png', data, pil_rgb(data))

# ---------------------------------------------------------------- PGM / PPM
gray = np.asarray(im.convert('L'))


def scale(v, maxval):  # round half up: v * 255 / maxval
    return ((v.astype(np.int64) * 510 + maxval) // (2 * maxval)).astype(np.uint8)


def rgb_of_gray(g):
    return np.repeat(g[..., None], 3, 2)


hdr = lambda magic, w, h, maxval: f'{magic}\n# a comment\n{w} {h}\n# another\n{maxval}\n'.encode()
data = hdr('P5', 13, 7, 255) + gray.tobytes()
add('pgm_binary.pgm', data, pil_rgb(data))
data = hdr('P6', 13, 7, 255) + rgb.tobytes()
add('ppm_binary.ppm', data, pil_rgb(data))
data = hdr('P2', 13, 7, 255) + '\n'.join(' '.join(str(v) for v in row) for row in gray).encode() + b'\n'
add('pgm_ascii.pgm', data, pil_rgb(data))
data = hdr('P3', 13, 7, 255) + '\n'.join(' '.join(str(v) for v in row.ravel()) for row in rgb).encode() + b'\n'
add('ppm_ascii.ppm', data, pil_rgb(data))
g15 = (gray // 17).astype(np.uint8)  # maxval 15
data = hdr('P2', 13, 7, 15) + ' '.join(str(v) for v in g15.ravel()).encode()
add('pgm_maxval15.pgm', data, rgb_of_gray(scale(g15, 15)), truth='numpy')
g16 = gray16
data = hdr('P5', 13, 7, 65535) + g16.astype('>u2').tobytes()
add('pgm_16bit.pgm', data, rgb_of_gray(scale(g16, 65535)), truth='numpy')  # PIL: mode I, clips
c1000 = (rgb.astype(np.int64) * 1000 // 255).astype(np.uint16)
data = hdr('P6', 13, 7, 1000) + c1000.astype('>u2').tobytes()
exp = scale(c1000, 1000)
pil = pil_rgb(data)  # PIL: round(v/maxval*255) with Python's half-even rounding
assert np.abs(pil.astype(int) - exp).max() <= 1
add('ppm_16bit.ppm', data, exp, truth='numpy')

# ---------------------------------------------------------------- BMP
for name, img in [('bmp24.bmp', im), ('bmp8_palette.bmp', im.convert('P', palette=Image.ADAPTIVE, colors=20)),
                  ('bmp1.bmp', im.convert('1')), ('bmp8_gray.bmp', im.convert('L')),
                  ('bmp32.bmp', Image.fromarray(rgba, 'RGBA'))]:
    data = pil_bytes(img, 'BMP')
    add(name, data, pil_rgb(data))


def raw_bmp(arr, bpp, top_down=False, masks=None, palette=None):
    """A BMP written by hand: 40-byte info header; BI_BITFIELDS when masks are given."""
    h, w = arr.shape[:2]
    stride = (w * bpp + 31) // 32 * 4
    rows = []
    for y in range(h):
        if bpp == 24:
            row = arr[y][:, ::-1].tobytes()
        elif bpp == 16:
            row = arr[y].astype('<u2').tobytes()
        elif bpp == 32:
            row = arr[y].astype('<u4').tobytes()
        elif bpp == 4:
            v = list(arr[y]) + [0]
            row = bytes((v[i] << 4) | v[i + 1] for i in range(0, w, 2))
        else:
            row = arr[y].astype(np.uint8).tobytes()
        rows.append(row + b'\x00' * (stride - len(row)))
    pix = b''.join(rows if top_down else rows[::-1])
    extra = b''.join(struct.pack('<I', m) for m in masks) if masks else b''
    pal = b''.join(bytes([b, g, r, 0]) for r, g, b in palette) if palette is not None else b''
    off = 14 + 40 + len(extra) + len(pal)
    info = struct.pack('<IiiHHIIiiII', 40, w, -h if top_down else h, 1, bpp, 3 if masks else 0, len(pix), 2835, 2835,
                       len(palette) if palette is not None else 0, 0)
    return b'BM' + struct.pack('<IHHI', off + len(pix), 0, 0, off) + info + extra + pal + pix


data = raw_bmp(rgb, 24, top_down=True)
add('bmp24_topdown.bmp', data, pil_rgb(data))
r5, g6, b5 = rgb[..., 0] >> 3, rgb[..., 1] >> 2, rgb[..., 2] >> 3
p565 = (r5.astype(np.uint32) << 11) | (g6.astype(np.uint32) << 5) | b5
data = raw_bmp(p565, 16, masks=(0xF800, 0x07E0, 0x001F))
# integer division as PIL's unpackers: v * 255 // max
exp565 = np.stack([r5.astype(int) * 255 // 31, g6.astype(int) * 255 // 63, b5.astype(int) * 255 // 31], -1)
add('bmp16_565.bmp', data, exp565, truth='numpy')
p32 = (rgb[..., 0].astype(np.uint32) << 8) | (rgb[..., 1].astype(np.uint32) << 16) | (rgb[..., 2].astype(np.uint32) << 24)
data = raw_bmp(p32, 32, masks=(0x0000FF00, 0x00FF0000, 0xFF000000))
add('bmp32_bitfields.bmp', data, rgb, truth='numpy')
idx4 = (np.arange(13 * 7).reshape(7, 13) % 11).astype(np.uint8)
pal4 = [(i * 23 % 256, i * 71 % 256, 255 - i * 13) for i in range(11)]
data = raw_bmp(idx4, 4, palette=pal4, top_down=True)
add('bmp4_topdown.bmp', data, np.array(pal4, np.uint8)[idx4], truth='numpy')

# ---------------------------------------------------------------- GIF
p = im.convert('P', palette=Image.ADAPTIVE, colors=32)
data = pil_bytes(p, 'GIF')
add('gif.gif', data, pil_rgb(data))
big = Image.fromarray(base_image(21, 19, 9)).convert('P', palette=Image.ADAPTIVE, colors=64)
data = pil_bytes(big, 'GIF', interlace=True)
gct = 3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0
i = 13 + gct
while data[i] == 0x21:  # skip extensions to the image descriptor
    i += 2
    while data[i]:
        i += data[i] + 1
    i += 1
assert data[i] == 0x2C and data[i + 9] & 0x40, 'PIL wrote a non-interlaced GIF'
add('gif_interlaced.gif', data, pil_rgb(data))
f2 = Image.fromarray(255 - rgb).convert('P', palette=Image.ADAPTIVE, colors=32)
data = pil_bytes(p, 'GIF', save_all=True, append_images=[f2], duration=100)
assert Image.open(io.BytesIO(data)).n_frames == 2
add('gif_animated.gif', data, pil_rgb(data))

# ---------------------------------------------------------------- WebP (Debian's Pillow: libwebp 1.2.4)
for name, img, kw in [('webp_lossy.webp', im, dict(quality=90)),
                      ('webp_lossless.webp', im, dict(lossless=True)),
                      ('webp_alpha.webp', Image.fromarray(rgba, 'RGBA'), dict(lossless=True)),
                      ('webp_alpha_lossy.webp', Image.fromarray(rgba, 'RGBA'), dict(quality=90)),
                      ('webp_gray.webp', im.convert('L'), dict(lossless=True)),
                      ('webp_palette.webp', im.convert('P', palette=Image.ADAPTIVE, colors=16), dict(lossless=True))]:
    data = pil_bytes(img, 'WEBP', **kw)
    add(name, data, pil_rgb(data))
assert (pil_rgb(pil_bytes(im, 'WEBP', lossless=True)) == rgb).all()
f2 = Image.fromarray(255 - rgb)
data = pil_bytes(im, 'WEBP', save_all=True, append_images=[f2], duration=100, lossless=True)
assert Image.open(io.BytesIO(data)).n_frames == 2
add('webp_animated.webp', data, pil_rgb(data))
for o in range(1, 9):
    # orientation 6: a bare TIFF EXIF chunk (no "Exif\0\0" prefix), which PIL also reads
    exif = exif_app1(o, 'II' if o != 6 else 'MM')
    data = pil_bytes(im, 'WEBP', lossless=True, exif=exif if o != 6 else exif[6:])
    assert Image.open(io.BytesIO(data)).getexif().get(0x0112) == o
    name = f'webp_exif{o}.webp'
    add(name, data, pil_rgb(data, exif=True), exif_rotate=1)
    add(name, data, pil_rgb(data, exif=False), exif_rotate=0)


# ---------------------------------------------------------------- TIFF (Debian's Pillow: libtiff 4.5)
TRANSPOSE = {2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM, 5: Image.TRANSPOSE,
             6: Image.ROTATE_270, 7: Image.TRANSVERSE, 8: Image.ROTATE_90}  # = ImageOps.exif_transpose's
def raw_tiff(w, h, tags, chunks, tiled=False, le=True):
    """A TIFF written by hand (PIL cannot write 16-bit RGB, tiles or separate planes):
    tags {tag: (type, [values])} (3 SHORT, 4 LONG), chunks = the strips or tiles, in order."""
    e = '<' if le else '>'
    out = bytearray((b'II' if le else b'MM') + struct.pack(e + 'HI', 42, 0))
    offsets = []
    for c in chunks:
        offsets.append(len(out))
        out += c
        if len(out) % 2:
            out += b'\0'
    tags = dict(tags)
    tags[256] = (4, [w])
    tags[257] = (4, [h])
    tags[324 if tiled else 273] = (4, offsets)
    tags[325 if tiled else 279] = (4, [len(c) for c in chunks])
    extra = bytearray()
    ifd_at = len(out)
    entries = sorted(tags.items())
    extra_at = ifd_at + 2 + 12 * len(entries) + 4
    ifd = bytearray(struct.pack(e + 'H', len(entries)))
    for tag, (typ, vals) in entries:
        fmt = e + ('H' if typ == 3 else 'I') * len(vals)
        v = struct.pack(fmt, *vals)
        if len(v) <= 4:
            ifd += struct.pack(e + 'HHI', tag, typ, len(vals)) + v + b'\0' * (4 - len(v))
        else:
            ifd += struct.pack(e + 'HHII', tag, typ, len(vals), extra_at + len(extra))
            extra += v
    ifd += struct.pack(e + 'I', 0)
    out += ifd + extra
    struct.pack_into(e + 'I', out, 4, ifd_at)
    return bytes(out)


for name, img, kw in [('tiff_rgb.tif', im, {}), ('tiff_rgb_lzw.tif', im, dict(compression='tiff_lzw')),
                      ('tiff_rgb_deflate.tif', im, dict(compression='tiff_adobe_deflate')),
                      ('tiff_rgb_packbits.tif', im, dict(compression='packbits')),
                      ('tiff_gray.tif', im.convert('L'), {}), ('tiff_1bit.tif', im.convert('1'), {}),
                      ('tiff_1bit_g4.tif', im.convert('1'), dict(compression='group4')),
                      ('tiff_palette.tif', im.convert('P', palette=Image.ADAPTIVE, colors=16), {}),
                      ('tiff_rgba.tif', Image.fromarray(rgba, 'RGBA'), dict(compression='tiff_lzw')),
                      ('tiff_gray_alpha.tif', im.convert('LA'), {}), ('tiff_cmyk.tif', im.convert('CMYK'), {})]:
    data = pil_bytes(img, 'TIFF', **kw)
    add(name, data, pil_rgb(data))
big = Image.fromarray(base_image(24, 16, 3))
data = pil_bytes(big, 'TIFF', compression='jpeg', quality=90)
add('tiff_jpeg.tif', data, pil_rgb(data), tol=1)
data = pil_bytes(im, 'TIFF', save_all=True, append_images=[f2])
assert Image.open(io.BytesIO(data)).n_frames == 2
add('tiff_multipage.tif', data, pil_rgb(data))
for o in range(2, 9):
    # Pillow 9.4 decodes such a file through libtiff and applies the tag itself (load_end),
    # but keeps it in getexif(), so exif_transpose would apply it twice. The references:
    # the plain decode (orientation applied once) and the same file with the tag set to 1.
    data = pil_bytes(im, 'TIFF', tiffinfo={274: o})
    entry = struct.pack('<HHIH', 274, 3, 1, o)
    assert data.count(entry) == 1
    upright = data.replace(entry, struct.pack('<HHIH', 274, 3, 1, 1))
    assert (pil_rgb(data) == np.asarray(Image.fromarray(pil_rgb(upright)).transpose(TRANSPOSE[o]))).all()
    name = f'tiff_orient{o}.tif'
    add(name, data, pil_rgb(data), exif_rotate=1)
    add(name, data, pil_rgb(upright), exif_rotate=0)
RGB_TAGS = {262: (3, [2]), 277: (3, [3]), 284: (3, [1])}
data = raw_tiff(13, 7, {**RGB_TAGS, 258: (3, [16, 16, 16]), 278: (4, [3])},
                [rgb16[y:y + 3].astype('>u2').tobytes() for y in range(0, 7, 3)], le=False)
add('tiff_rgb16_be.tif', data, pil_rgb(data))
assert (pil_rgb(data) == (rgb16 >> 8)).all()
data = raw_tiff(13, 7, {262: (3, [2]), 277: (3, [4]), 284: (3, [1]), 338: (3, [2]), 258: (3, [16] * 4), 278: (4, [7])},
                [rgba16.astype('<u2').tobytes()])
add('tiff_rgba16.tif', data, pil_rgb(data))
# associated (premultiplied) alpha, ExtraSamples = 1: PIL divides it out ("RGBa")
pm = rgba.copy()
pm[..., :3] = (rgba[..., :3].astype(int) * rgba[..., 3:] // 255).astype(np.uint8)
pm[0, :3, 3] = [0, 1, 255]
data = raw_tiff(13, 7, {262: (3, [2]), 277: (3, [4]), 284: (3, [1]), 338: (3, [1]), 258: (3, [8] * 4), 278: (4, [7])},
                [pm.tobytes()])
assert Image.open(io.BytesIO(data)).mode == 'RGBA'
add('tiff_rgba_premultiplied.tif', data, pil_rgb(data))
data = raw_tiff(13, 7, {262: (3, [1]), 277: (3, [1]), 258: (3, [16]), 278: (4, [7])}, [gray16.astype('<u2').tobytes()])
add('tiff_gray16.tif', data, rgb_of_gray((gray16 >> 8).astype(np.uint8)), truth='numpy')  # PIL: I;16, clips
# tiled: 37x21 in 16x16 tiles (edge tiles padded), 8-bit RGB
trgb = base_image(37, 21, 11)
tiles = []
for ty in range(0, 21, 16):
    for tx in range(0, 37, 16):
        t = np.zeros((16, 16, 3), np.uint8)
        part = trgb[ty:ty + 16, tx:tx + 16]
        t[:part.shape[0], :part.shape[1]] = part
        tiles.append(t.tobytes())
data = raw_tiff(37, 21, {**RGB_TAGS, 258: (3, [8, 8, 8]), 322: (4, [16]), 323: (4, [16])}, tiles, tiled=True)
add('tiff_tiled.tif', data, pil_rgb(data))
assert (pil_rgb(data) == trgb).all()
tiles16 = []
for ty in range(0, 21, 16):
    for tx in range(0, 37, 16):
        t = np.zeros((16, 16, 3), np.uint16)
        part = trgb[ty:ty + 16, tx:tx + 16].astype(np.uint16) * 257 + 100
        t[:part.shape[0], :part.shape[1]] = part
        tiles16.append(t.astype('>u2').tobytes())
data = raw_tiff(37, 21, {**RGB_TAGS, 258: (3, [16] * 3), 322: (4, [16]), 323: (4, [16])}, tiles16, tiled=True, le=False)
add('tiff_tiled16.tif', data, pil_rgb(data))
# separate planes (PlanarConfiguration 2): libtiff's RGBA path
data = raw_tiff(13, 7, {262: (3, [2]), 277: (3, [3]), 284: (3, [2]), 258: (3, [8, 8, 8]), 278: (4, [7])},
                [rgb[..., c].tobytes() for c in range(3)])
add('tiff_planar.tif', data, pil_rgb(data))
# 4-bit palette and 4-bit min-is-white grey (rows padded to a byte)
def pack4(a):
    h, w = a.shape
    a = np.pad(a, ((0, 0), (0, w % 2)))
    return ((a[:, 0::2] << 4) | a[:, 1::2]).astype(np.uint8).tobytes()
cmap = [i * 4000 % 65536 for i in range(16)] + [65535 - i * 3000 for i in range(16)] + [i * 1234 for i in range(16)]
data = raw_tiff(13, 7, {262: (3, [3]), 277: (3, [1]), 258: (3, [4]), 278: (4, [7]), 320: (3, cmap)}, [pack4(idx4 % 16)])
add('tiff_palette4.tif', data, pil_rgb(data))
g4 = (gray >> 4).astype(np.uint8)
data = raw_tiff(13, 7, {262: (3, [0]), 277: (3, [1]), 258: (3, [4]), 278: (4, [7])}, [pack4(g4)])
add('tiff_gray4_miniswhite.tif', data, pil_rgb(data))

# ---------------------------------------------------------------- HEIC / AVIF (Debian's libheif 1.15: x265, libaom)
# Pillow 9.4 reads neither. The reference is the encoded input itself: lossless files
# (4:4:4, identity matrix) decode to exactly it (tol 0); orientations are PIL's
# exif_transpose of it (irot/imir written by libheif from the EXIF-style value); lossy
# files stay within a stated distance of it (a smooth image, quality 90).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import heif_write

def heif_bytes(arr, fmt, **kw):
    path = os.path.join(OUT, '_tmp.' + fmt)
    heif_write.write(path, arr, fmt, **kw)
    with open(path, 'rb') as f:
        data = f.read()
    os.remove(path)
    return data


yy, xx = np.mgrid[0:24, 0:40]
smooth = np.stack([xx * 6 + 10, yy * 9 + 20, 200 - (xx + yy) * 2], -1).astype(np.uint8)
for fmt, ext in [('heic', 'heic'), ('avif', 'avif')]:
    add(f'{fmt}_lossless.{ext}', heif_bytes(rgb, fmt, lossless=True), rgb, truth='input')
    add(f'{fmt}_alpha.{ext}', heif_bytes(rgba, fmt, lossless=True), rgb, truth='input')
    add(f'{fmt}_lossy.{ext}', heif_bytes(smooth, fmt, quality=90), smooth, tol=10, truth='input')
    # 10-bit: libheif keeps the high 8 bits (as our 16-bit PNG/TIFF paths and PIL's "RGB;16")
    # (HEIC only: Debian's libaom 3.6 aborts on libheif 1.15's 10-bit AV1 settings)
    if fmt == 'heic':
        add(f'{fmt}_10bit.{ext}', heif_bytes(rgb16 >> 6, fmt, lossless=True, bit_depth=10), rgb16 >> 8, truth='input')
    for o in range(2, 9):
        data = heif_bytes(rgb, fmt, lossless=True, orientation=o)
        name = f'{fmt}_orient{o}.{ext}'
        add(name, data, np.asarray(Image.fromarray(rgb).transpose(TRANSPOSE[o])), exif_rotate=1, truth='input')
        add(name, data, rgb, exif_rotate=0, truth='input')


def boxes(data):
    """Top-level ISO-BMFF boxes of data: {type: payload} (the first of each type)."""
    out, i = {}, 0
    while i + 8 <= len(data):
        n, t = struct.unpack('>I4s', data[i:i + 8])
        out.setdefault(t.decode(), data[i + 8:i + n])
        i += n
    return out


def find_box(data, typ):
    """The whole box (header included) of the first box of this type anywhere in data."""
    i = data.index(typ.encode()) - 4
    return data[i:i + struct.unpack('>I', data[i:i + 4])[0]]


def heic_grid(arr, tile):
    """A grid HEIC as phones write them (the image cut into tiles, each its own HEVC item,
    assembled by a 'grid' item; the grid is larger than the image and cropped by its
    output size). Tiles are lossless single-image HEICs from heif_write, taken apart."""
    h, w = arr.shape[:2]
    rows, cols = -(-h // tile), -(-w // tile)
    box = lambda t, p: struct.pack('>I4s', 8 + len(p), t.encode()) + p
    full = lambda t, v, fl, p: box(t, struct.pack('>I', v << 24 | fl) + p)
    tiles = []
    for r in range(rows):
        for c in range(cols):
            t = np.zeros((tile, tile, 3), np.uint8)
            part = arr[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
            t[:part.shape[0], :part.shape[1]] = part
            d = heif_bytes(t, 'heic', lossless=True)
            tiles.append((boxes(d)['mdat'], find_box(d, 'hvcC')))  # the SPS's VUI says GBR
    n = len(tiles)
    ids = list(range(2, n + 2))
    infe = [full('infe', 2, 0, struct.pack('>HH4s', 1, 0, b'grid') + b'\0')]
    infe += [full('infe', 2, 1, struct.pack('>HH4s', i, 0, b'hvc1') + b'\0') for i in ids]  # hidden tiles
    iinf = full('iinf', 0, 0, struct.pack('>H', 1 + n) + b''.join(infe))
    iref = full('iref', 0, 0, box('dimg', struct.pack('>HH', 1, n) + b''.join(struct.pack('>H', i) for i in ids)))
    # properties: 1 ispe(grid), 2 ispe(tile), then each tile's hvcC
    props = [full('ispe', 0, 0, struct.pack('>II', w, h)), full('ispe', 0, 0, struct.pack('>II', tile, tile))]
    assoc = [struct.pack('>HB', 1, 1) + bytes([1])]
    for k, (_, hvcc) in enumerate(tiles):
        props.append(hvcc)
        assoc.append(struct.pack('>HB', ids[k], 2) + bytes([0x80 | (3 + k), 2]))
    iprp = box('iprp', box('ipco', b''.join(props)) + full('ipma', 0, 0, struct.pack('>I', 1 + n) + b''.join(assoc)))
    grid = struct.pack('>BBBBHH', 0, 0, rows - 1, cols - 1, w, h)
    ftyp = box('ftyp', b'heic' + struct.pack('>I', 0) + b'mif1heic')
    hdlr = full('hdlr', 0, 0, b'\0' * 4 + b'pict' + b'\0' * 12 + b'\0')
    pitm = full('pitm', 0, 0, struct.pack('>H', 1))
    idat = box('idat', grid)

    def iloc(mdat_at):
        items = [struct.pack('>HHHH', 1, 1, 0, 1) + struct.pack('>II', 0, len(grid))]  # construction 1: idat
        at = mdat_at
        for k, (data, _) in enumerate(tiles):
            items.append(struct.pack('>HHHH', ids[k], 0, 0, 1) + struct.pack('>II', at, len(data)))
            at += len(data)
        return full('iloc', 1, 0, bytes([0x44, 0x00]) + struct.pack('>H', 1 + n) + b''.join(items))

    meta_len = len(full('meta', 0, 0, hdlr + pitm + iloc(0) + iinf + iref + iprp + idat))
    mdat_at = len(ftyp) + meta_len + 8
    meta = full('meta', 0, 0, hdlr + pitm + iloc(mdat_at) + iinf + iref + iprp + idat)
    return ftyp + meta + box('mdat', b''.join(t[0] for t in tiles))


garr = base_image(37, 21, 13)
add('heic_grid.heic', heic_grid(garr, 16), garr, truth='input')

with open(os.path.join(OUT, 'manifest.txt'), 'w') as f:
    f.write('# file expected.rgb w h exif_rotate tolerance truth  (tools/gen_image_fixtures.py)\n')
    f.write('\n'.join(manifest) + '\n')

# ---------------------------------------------------------------- size caps
W = H = 100000
caps = {
    'cap_png.png': b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 8, 2, 0, 0, 0)) +
    png_chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + png_chunk(b'IEND', b''),
    'cap_bmp.bmp': b'BM' + struct.pack('<IHHI', 1000, 0, 0, 54) +
    struct.pack('<IiiHHIIiiII', 40, W, H, 1, 24, 0, 0, 0, 0, 0, 0) + b'\x00' * 64,
    'cap_ppm.ppm': b'P6\n100000 100000\n255\n' + b'\x00' * 64,
    # SOF0 65000 x 65000 after a DQT-less header: the size check comes before any table use
    'cap_jpeg.jpg': b'\xff\xd8' + b'\xff\xdb' + struct.pack('>H', 67) + b'\x00' + bytes(range(1, 65)) +
    b'\xff\xc0' + struct.pack('>HBHHB', 17, 8, 65000, 65000, 3) + b'\x01\x22\x00\x02\x11\x00\x03\x11\x00' +
    b'\xff\xc4' + struct.pack('>H', 31) + b'\x00' + bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]) + bytes(range(12)) +
    b'\xff\xda' + struct.pack('>HB', 12, 3) + b'\x01\x00\x02\x00\x03\x00\x00\x3f\x00' + b'\x00' * 64 + b'\xff\xd9',
    'cap_gif.gif': b'GIF89a' + struct.pack('<HHBBB', 60000, 60000, 0, 0, 0) + b',' +
    struct.pack('<HHHHB', 0, 0, 60000, 60000, 0) + b'\x02\x02\x44\x01\x00;',
    'cap_pixels_ppm.ppm': b'P6\n30000 30000\n255\n' + b'\x00' * 64,  # each side ok, 900 M pixels not
    'cap_tiff.tif': raw_tiff(100000, 100000, {**RGB_TAGS, 258: (3, [8, 8, 8]), 278: (4, [1])}, [b'\0' * 64]),
}
# WebP: an animation's canvas may be 2^24 a side; 20000 x 20000 (400 M pixels) around a 1x1 frame
vp8l = pil_bytes(Image.new('RGB', (1, 1)), 'WEBP', lossless=True)[12:]
assert vp8l[:4] == b'VP8L'
riff = lambda tag, payload: tag + struct.pack('<I', len(payload)) + payload + b'\0' * (len(payload) % 2)
anmf = struct.pack('<I', 0)[:3] * 2 + struct.pack('<I', 0)[:3] * 2 + struct.pack('<I', 100)[:3] + b'\0' + vp8l
body = b'WEBP' + riff(b'VP8X', bytes([0x02, 0, 0, 0]) + struct.pack('<I', 19999)[:3] * 2) + \
    riff(b'ANIM', b'\0' * 6) + riff(b'ANMF', anmf)
caps['cap_webp.webp'] = b'RIFF' + struct.pack('<I', len(body)) + body
# HEIC: a valid lossless file whose 'ispe' claims 100000 x 100000
data = bytearray(heif_bytes(rgb, 'heic', lossless=True))
i = data.index(b'ispe') + 8
data[i:i + 8] = struct.pack('>II', 100000, 100000)
caps['cap_heic.heic'] = bytes(data)
for name, data in caps.items():
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)

# ---------------------------------------------------------------- resize vs PIL
rng = np.random.default_rng(7)
y, x = np.mgrid[0:47, 0:61]
src = np.clip(np.stack([x * 4, y * 5, (x * y) % 256], -1) + rng.integers(-40, 41, (47, 61, 3)), 0, 255).astype(np.uint8)
src[10:20, 30:35] = [255, 0, 0]  # hard edges
Image.fromarray(src).save(os.path.join(OUT, 'resize_src.png'))
sizes = [(160, 160), (13, 9), (61, 200), (30, 47), (7, 5), (122, 94), (20, 16), (1, 1), (200, 3)]
with open(os.path.join(OUT, 'resize.txt'), 'w') as f:
    for w, h in sizes:
        name = f'resize_{w}x{h}.png'
        Image.fromarray(src).resize((w, h), Image.BILINEAR).save(os.path.join(OUT, name))
        f.write(f'{name} {w} {h}\n')
# facenet-pytorch's crop: img.crop(box).resize((160, 160), BILINEAR), box clipped to the image
photo = 'data/faces/face_recognition/examples/obama_small.jpg'
crop = Image.open(os.path.join(SHARED, photo)).convert('RGB').crop((101, 37, 101 + 123, 37 + 141))
crop.resize((160, 160), Image.BILINEAR).save(os.path.join(OUT, 'crop_obama_small_160.png'))
with open(os.path.join(OUT, 'crop.txt'), 'w') as f:
    f.write(f'{photo} 101 37 123 141 crop_obama_small_160.png\n')

# ---------------------------------------------------------------- shared photos
lines = []
for sub in ['data/faces', 'data/orl']:
    for dp, dn, fn in sorted(os.walk(os.path.join(SHARED, sub))):
        dn.sort()
        for n in sorted(fn):
            if not n.lower().endswith(('.jpg', '.jpeg', '.png', '.pgm', '.ppm', '.bmp', '.gif')):
                continue
            path = os.path.join(dp, n)
            rel = os.path.relpath(path, SHARED)
            im = Image.open(path)
            o = im.getexif().get(0x0112, 1) if im.format == 'JPEG' else 1
            a = np.asarray(im.convert('RGB'), dtype=np.float64)
            lines.append(f'{rel} {im.size[0]} {im.size[1]} {o} {a.mean():.4f}')
with open(os.path.join(OUT, 'shared_images.txt'), 'w') as f:
    f.write('# path(relative to shared) pil_w pil_h exif_orientation mean_rgb(no exif)\n')
    f.write('\n'.join(lines) + '\n')
print(f'{len(manifest)} decode fixtures, {len(caps)} cap files, {len(sizes)} resize sizes, {len(lines)} shared photos')
