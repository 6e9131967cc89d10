"""Placeholders a page paints before the image arrives: a ThumbHash and the dominant colour.

Both come from one tiny thumbnail (at most 32x32, shrink-on-load through the engine, so EXIF orientation,
ICC conversion and the input limits apply as for any variant). ThumbHash (Evan Wallace's format, the
reference at github.com/evanw/thumbhash) keeps the aspect ratio, alpha and more detail than BlurHash in
about 25 bytes; the encoder and decoder here follow the reference JavaScript line by line, with
JavaScript's ``Math.round`` (halves up). Pure: bytes in, values out.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import pyvips

from vipsfront.engine.limits import Limits
from vipsfront.engine.run import transform
from vipsfront.url.rounding import round_half_up as _round  # JavaScript's Math.round: halves go up
from vipsfront.url.spec import Fit, Fm, Spec

THUMB_SIDE = 32  # the thumbnail the hash is computed from (ThumbHash accepts up to 100x100)
_PI = math.pi


@dataclass(frozen=True, slots=True)
class Placeholder:
    thumbhash: str  # base64 (standard alphabet, padded), as the reference tools print it
    color: str  # dominant colour, ``#rrggbb``
    width: int  # of the thumbnail the hash was computed from
    height: int

    def data_url(self) -> str:
        """The ThumbHash decoded to a small PNG ``data:`` URL, ready for ``background-image``."""
        w, h, rgba = thumbhash_to_rgba(base64.b64decode(self.thumbhash))
        return "data:image/png;base64," + base64.b64encode(_png(w, h, rgba)).decode("ascii")


# ---------------------------------------------------------------------------------------------------
# ThumbHash


def rgba_to_thumbhash(w: int, h: int, rgba: Sequence[int]) -> bytes:
    """Encode ``w`` x ``h`` RGBA pixels (row-major, 0..255) as a ThumbHash."""
    if w > 100 or h > 100:
        raise ValueError(f"{w}x{h} doesn't fit in 100x100")
    n = w * h
    # the average colour, weighted by alpha
    avg_r = avg_g = avg_b = avg_a = 0.0
    for i in range(n):
        alpha = rgba[4 * i + 3] / 255
        avg_r += alpha / 255 * rgba[4 * i]
        avg_g += alpha / 255 * rgba[4 * i + 1]
        avg_b += alpha / 255 * rgba[4 * i + 2]
        avg_a += alpha
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a

    has_alpha = avg_a < n
    l_limit = 5 if has_alpha else 7  # fewer luminance bits when there is alpha
    lx = max(1, _round(l_limit * w / max(w, h)))
    ly = max(1, _round(l_limit * h / max(w, h)))
    lum: list[float] = []
    p: list[float] = []  # yellow - blue
    q: list[float] = []  # red - green
    a: list[float] = []
    # RGBA to LPQA, composited atop the average colour
    for i in range(n):
        alpha = rgba[4 * i + 3] / 255
        r = avg_r * (1 - alpha) + alpha / 255 * rgba[4 * i]
        g = avg_g * (1 - alpha) + alpha / 255 * rgba[4 * i + 1]
        b = avg_b * (1 - alpha) + alpha / 255 * rgba[4 * i + 2]
        lum.append((r + g + b) / 3)
        p.append((r + g) / 2 - b)
        q.append(r - g)
        a.append(alpha)

    def encode_channel(channel: list[float], nx: int, ny: int) -> tuple[float, list[float], float]:
        dc, ac, scale = 0.0, [], 0.0
        for cy in range(ny):
            cx = 0
            while cx * ny < nx * (ny - cy):
                fx = [math.cos(_PI / w * cx * (x + 0.5)) for x in range(w)]
                f = 0.0
                for y in range(h):
                    fy = math.cos(_PI / h * cy * (y + 0.5))
                    row = y * w
                    for x in range(w):
                        f += channel[x + row] * fx[x] * fy
                f /= n
                if cx or cy:
                    ac.append(f)
                    scale = max(scale, abs(f))
                else:
                    dc = f
                cx += 1
        if scale:
            ac = [0.5 + 0.5 / scale * v for v in ac]
        return dc, ac, scale

    l_dc, l_ac, l_scale = encode_channel(lum, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = encode_channel(p, 3, 3)
    q_dc, q_ac, q_scale = encode_channel(q, 3, 3)
    a_dc, a_ac, a_scale = encode_channel(a, 5, 5) if has_alpha else (0.0, [], 0.0)

    is_landscape = w > h
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (ly if is_landscape else lx) | (_round(63 * p_scale) << 3) | (_round(63 * q_scale) << 9)
    header16 |= int(is_landscape) << 15
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    if has_alpha:
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
    factors = [*l_ac, *p_ac, *q_ac, *(a_ac if has_alpha else [])]
    start = len(out)
    out.extend([0] * ((len(factors) + 1) // 2))
    for index, f in enumerate(factors):
        out[start + (index >> 1)] |= _round(15 * f) << ((index & 1) << 2)
    return bytes(out)


def thumbhash_to_aspect_ratio(hash_: bytes) -> float:
    has_alpha = hash_[2] & 0x80
    is_landscape = hash_[4] & 0x80
    lx = (5 if has_alpha else 7) if is_landscape else hash_[3] & 7
    ly = hash_[3] & 7 if is_landscape else (5 if has_alpha else 7)
    return lx / ly


def thumbhash_to_average_rgba(hash_: bytes) -> tuple[float, float, float, float]:
    """The hash's average colour, each channel 0..1."""
    header = hash_[0] | (hash_[1] << 8) | (hash_[2] << 16)
    lum = (header & 63) / 63
    p = ((header >> 6) & 63) / 31.5 - 1
    q = ((header >> 12) & 63) / 31.5 - 1
    a = (hash_[5] & 15) / 15 if header >> 23 else 1.0
    b = lum - 2 / 3 * p
    r = (3 * lum - b + q) / 2
    g = r - q
    return max(0.0, min(1.0, r)), max(0.0, min(1.0, g)), max(0.0, min(1.0, b)), a


def thumbhash_to_rgba(hash_: bytes) -> tuple[int, int, list[int]]:
    """Decode a ThumbHash to ``(w, h, rgba)``, at most 32 pixels a side."""
    header24 = hash_[0] | (hash_[1] << 8) | (hash_[2] << 16)
    header16 = hash_[3] | (hash_[4] << 8)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    has_alpha = bool(header24 >> 23)
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    is_landscape = bool(header16 >> 15)
    lx = max(3, (5 if has_alpha else 7) if is_landscape else header16 & 7)
    ly = max(3, header16 & 7 if is_landscape else (5 if has_alpha else 7))
    a_dc = (hash_[5] & 15) / 15 if has_alpha else 1.0
    a_scale = (hash_[5] >> 4) / 15

    ac_start = 6 if has_alpha else 5
    ac_index = 0

    def decode_channel(nx: int, ny: int, scale: float) -> list[float]:
        nonlocal ac_index
        ac = []
        for cy in range(ny):
            cx = 0 if cy else 1
            while cx * ny < nx * (ny - cy):
                nibble = (hash_[ac_start + (ac_index >> 1)] >> ((ac_index & 1) << 2)) & 15
                ac.append((nibble / 7.5 - 1) * scale)
                ac_index += 1
                cx += 1
        return ac

    l_ac = decode_channel(lx, ly, l_scale)
    p_ac = decode_channel(3, 3, p_scale * 1.25)  # saturation boosted to make up for quantisation
    q_ac = decode_channel(3, 3, q_scale * 1.25)
    a_ac = decode_channel(5, 5, a_scale) if has_alpha else []

    ratio = thumbhash_to_aspect_ratio(hash_)
    w = _round(32 if ratio > 1 else 32 * ratio)
    h = _round(32 / ratio if ratio > 1 else 32)
    rgba: list[int] = []
    for y in range(h):
        fy = [math.cos(_PI / h * (y + 0.5) * cy) for cy in range(max(ly, 5 if has_alpha else 3))]
        for x in range(w):
            fx = [math.cos(_PI / w * (x + 0.5) * cx) for cx in range(max(lx, 5 if has_alpha else 3))]
            lum, p, q, a = l_dc, p_dc, q_dc, a_dc
            j = 0
            for cy in range(ly):
                cx, fy2 = (0 if cy else 1), fy[cy] * 2
                while cx * ly < lx * (ly - cy):
                    lum += l_ac[j] * fx[cx] * fy2
                    cx, j = cx + 1, j + 1
            j = 0
            for cy in range(3):
                fy2 = fy[cy] * 2
                for cx in range(0 if cy else 1, 3 - cy):
                    f = fx[cx] * fy2
                    p += p_ac[j] * f
                    q += q_ac[j] * f
                    j += 1
            if has_alpha:
                j = 0
                for cy in range(5):
                    fy2 = fy[cy] * 2
                    for cx in range(0 if cy else 1, 5 - cy):
                        a += a_ac[j] * fx[cx] * fy2
                        j += 1
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            g = r - q
            # the reference stores into a Uint8Array, which truncates
            rgba += [int(max(0.0, 255 * min(1.0, v))) for v in (r, g, b, a)]
    return w, h, rgba


# ---------------------------------------------------------------------------------------------------
# dominant colour


def dominant_color(rgba: Sequence[int]) -> str:
    """The most common colour, by 4-bit-per-channel buckets weighted by alpha; the bucket's mean, as hex.

    Unlike the mean colour (ThumbHash's DC term), this is a colour that is really in the image: a photo
    of a red door on a grey wall gives the wall's grey, not a muddy pink.
    """
    buckets: dict[int, list[float]] = {}
    for i in range(0, len(rgba), 4):
        r, g, b, a = rgba[i : i + 4]
        if a == 0:
            continue
        weight = a / 255
        entry = buckets.setdefault((r >> 4) << 8 | (g >> 4) << 4 | b >> 4, [0.0, 0.0, 0.0, 0.0])
        entry[0] += weight
        entry[1] += r * weight
        entry[2] += g * weight
        entry[3] += b * weight
    if not buckets:
        return "#000000"
    total, r_sum, g_sum, b_sum = max(buckets.values(), key=lambda e: e[0])
    return "#" + "".join(f"{_round(v / total):02x}" for v in (r_sum, g_sum, b_sum))


# ---------------------------------------------------------------------------------------------------
# from an original


def thumbnail_rgba(source: bytes, limits: Limits, *, deadline: float | None = None) -> tuple[int, int, list[int]]:
    """The original shrunk to fit ``THUMB_SIDE`` (upright, sRGB, first frame), as RGBA pixels."""
    spec = Spec(w=THUMB_SIDE, h=THUMB_SIDE, fit=Fit.INSIDE, fm=Fm.PNG)
    result = transform(source, spec, limits, deadline=deadline)
    image = pyvips.Image.new_from_buffer(result.data, "")
    if image.format != "uchar":
        image = image.cast("uchar", shift=image.format == "ushort")
    if image.bands < 3:
        image = image.colourspace("srgb")
    if image.bands == 3:
        image = image.bandjoin(255)
    return image.width, image.height, list(bytes(image.write_to_memory()))


def compute(source: bytes, limits: Limits, *, deadline: float | None = None) -> Placeholder:
    """Placeholder values for an original's bytes."""
    return from_rgba(*thumbnail_rgba(source, limits, deadline=deadline))


def from_rgba(w: int, h: int, rgba: Sequence[int]) -> Placeholder:
    """Placeholder values from ``thumbnail_rgba``'s pixels (so an ingest decodes once for all its uses)."""
    thumbhash = base64.b64encode(rgba_to_thumbhash(w, h, rgba)).decode("ascii")
    return Placeholder(thumbhash=thumbhash, color=dominant_color(rgba), width=w, height=h)


def _png(w: int, h: int, rgba: Sequence[int]) -> bytes:
    """A minimal RGBA PNG, written by hand: tiny and without a libvips round trip."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgba[y * w * 4 : (y + 1) * w * 4]) for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
