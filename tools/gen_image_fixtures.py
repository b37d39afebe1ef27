#!/usr/bin/python3
"""Fixtures for tests/test_image.c, written to tests/fixtures/image/.

Run with Debian's Python (PIL 9 + numpy):  /usr/bin/python3 tools/gen_image_fixtures.py

* One small image per format variant (JPEG baseline/progressive/grey/CMYK/EXIF 1..8, PNG
  grey/grey+alpha/palette/tRNS/RGBA/1-bit/16-bit, PGM/PPM ASCII/binary/16-bit, BMP
  1/8/24/32/16-bit/top-down, GIF single/interlaced/animated) plus the expected decoded RGB
  (raw .rgb, w*h*3 bytes): PIL's decode where PIL defines it, numpy otherwise.
  manifest.txt:  file  expected.rgb  w  h  exif_rotate  tolerance  source-of-truth
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
}
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
