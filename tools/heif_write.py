#!/usr/bin/python3
"""Write HEIC / AVIF files through Debian's libheif (ctypes on libheif.so.1: x265 for HEVC,
libaom for AV1), for the image fixtures and tests/cli_images.sh.  Pillow 9.4 cannot write
either format, and heif-enc cannot set an orientation; this can (irot/imir boxes).

As a module:  write(path, rgb_uint8_hxwx3_or_4, fmt='heic'|'avif', quality=90,
                    lossless=False, orientation=1)
As a command: heif_write.py IN_IMAGE OUT.heic|OUT.avif [--quality Q] [--lossless]
              [--orientation 1..8]   (IN_IMAGE read with Pillow, EXIF orientation applied)

lossless=True codes 4:4:4 with the identity matrix (GBR), so the decode is exactly the
input: an independent reference for the decoder's output.
"""
import ctypes, sys

_lib = ctypes.CDLL('libheif.so.1')


class _Error(ctypes.Structure):
    _fields_ = [('code', ctypes.c_int), ('subcode', ctypes.c_int), ('message', ctypes.c_char_p)]


class _Nclx(ctypes.Structure):
    _fields_ = [('version', ctypes.c_uint8), ('color_primaries', ctypes.c_int),
                ('transfer_characteristics', ctypes.c_int), ('matrix_coefficients', ctypes.c_int),
                ('full_range_flag', ctypes.c_uint8)] + [(f'f{i}', ctypes.c_float) for i in range(8)]


class _EncodingOptions(ctypes.Structure):  # heif.h, struct heif_encoding_options, version 5
    _fields_ = [('version', ctypes.c_uint8), ('save_alpha_channel', ctypes.c_uint8),
                ('macOS_compatibility_workaround', ctypes.c_uint8),
                ('save_two_colr_boxes_when_ICC_and_nclx_available', ctypes.c_uint8),
                ('output_nclx_profile', ctypes.POINTER(_Nclx)),
                ('macOS_compatibility_workaround_no_nclx_profile', ctypes.c_uint8),
                ('image_orientation', ctypes.c_int)]


for _name in ['heif_context_get_encoder_for_format', 'heif_image_create', 'heif_image_add_plane',
              'heif_encoder_set_lossy_quality', 'heif_encoder_set_lossless', 'heif_context_encode_image',
              'heif_context_write_to_file', 'heif_encoder_set_parameter_string',
              'heif_image_set_nclx_color_profile']:
    getattr(_lib, _name).restype = _Error
_lib.heif_context_alloc.restype = ctypes.c_void_p
_lib.heif_image_get_plane.restype = ctypes.POINTER(ctypes.c_uint8)
_lib.heif_encoding_options_alloc.restype = ctypes.POINTER(_EncodingOptions)
_lib.heif_nclx_color_profile_alloc.restype = ctypes.POINTER(_Nclx)


def _check(err, what):
    if err.code != 0:
        raise RuntimeError(f'libheif {what}: {err.message.decode()}')


def write(path, rgb, fmt='heic', quality=90, lossless=False, orientation=1, bit_depth=8):
    """rgb: uint8 h x w x 3|4 (bit_depth 8), or h x w x 3 samples < 2**bit_depth (10, 12;
    HEIC only: Debian's libaom 3.6 aborts on libheif's high-bit-depth AV1 settings)."""
    import numpy as np
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8 if bit_depth == 8 else '<u2')
    h, w, c = rgb.shape
    assert c in (3, 4) and 1 <= orientation <= 8 and (bit_depth == 8 or c == 3)
    ctx = ctypes.c_void_p(_lib.heif_context_alloc())
    enc = ctypes.c_void_p()
    _check(_lib.heif_context_get_encoder_for_format(ctx, {'heic': 1, 'avif': 4}[fmt], ctypes.byref(enc)), 'encoder')
    img = ctypes.c_void_p()
    chroma = 14 if bit_depth > 8 else 10 if c == 3 else 11  # interleaved RRGGBB_LE / RGB / RGBA
    _check(_lib.heif_image_create(w, h, 1, chroma, ctypes.byref(img)), 'image')
    _check(_lib.heif_image_add_plane(img, 10, w, h, bit_depth), 'plane')
    stride = ctypes.c_int()
    plane = _lib.heif_image_get_plane(img, 10, ctypes.byref(stride))
    for y in range(h):
        ctypes.memmove(ctypes.addressof(plane.contents) + y * stride.value, rgb[y].tobytes(), rgb[y].nbytes)
    opts = _lib.heif_encoding_options_alloc()
    opts.contents.version = 5
    opts.contents.image_orientation = orientation
    if lossless:
        _check(_lib.heif_encoder_set_lossless(enc, 1), 'lossless')
        _check(_lib.heif_encoder_set_parameter_string(enc, b'chroma', b'444'), 'chroma')
        nclx = _lib.heif_nclx_color_profile_alloc()
        nclx.contents.color_primaries, nclx.contents.transfer_characteristics = 1, 13
        nclx.contents.matrix_coefficients, nclx.contents.full_range_flag = 0, 1  # identity (GBR)
        opts.contents.output_nclx_profile = nclx
        _check(_lib.heif_image_set_nclx_color_profile(img, nclx), 'nclx')
    else:
        _check(_lib.heif_encoder_set_lossy_quality(enc, quality), 'quality')
    _check(_lib.heif_context_encode_image(ctx, img, enc, opts, None), 'encode')
    _check(_lib.heif_context_write_to_file(ctx, path.encode()), 'write')
    _lib.heif_encoding_options_free(opts)
    _lib.heif_image_release(img)
    _lib.heif_encoder_release(enc)
    _lib.heif_context_free(ctx)


if __name__ == '__main__':
    import argparse
    import numpy as np
    from PIL import Image, ImageOps
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('input')
    ap.add_argument('output')
    ap.add_argument('--quality', type=int, default=90)
    ap.add_argument('--lossless', action='store_true')
    ap.add_argument('--orientation', type=int, default=1)
    a = ap.parse_args()
    fmt = 'avif' if a.output.lower().endswith('.avif') else 'heic'
    src = np.asarray(ImageOps.exif_transpose(Image.open(a.input)).convert('RGB'))
    write(a.output, src, fmt, a.quality, a.lossless, a.orientation)
    sys.exit(0)
