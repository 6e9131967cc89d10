"""HEIC originals (HEVC in a HEIF container, as phones save them), decoded with pi-heif.

libvips' wheel decodes AVIF but has no HEVC decoder ("Support for this compression format has not been
built in: HEVC"), so a HEIC original is recognised here by its ``ftyp`` brands and decoded with pi-heif
(the decode-only build of pillow-heif: libheif and libde265, LGPL-3.0; pi-heif itself BSD-3-Clause).
pi-heif is imported on the first HEIC original only.

Limits as for every original: ``header`` reads the sizes without decoding (the caller checks them
before ``decode``); the primary image is decoded, with libheif's transformations (the container's
rotation and mirror, which a phone's EXIF orientation repeats) applied, so the result is upright and
reports orientation 1; its ICC profile and EXIF block travel with it as libvips' own loaders attach
them. The decoded image is kept for the next call with the same bytes (one image), so probe, the
transform and the info document decode a HEIC original once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pyvips

from vipsfront.errors import UndecodableImageError

# ``ftyp`` brands of HEVC-coded HEIF (ISO/IEC 23008-12): still images, sequences, multi-layer
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AV1_BRANDS = frozenset({b"avif", b"avis"})


@dataclass(frozen=True, slots=True)
class HeicHeader:
    width: int  # after the container's rotation
    height: int
    frames: int  # top-level images (a burst); the primary one is decoded


def is_heic(data: bytes) -> bool:
    """True when ``data`` starts with an ``ftyp`` box naming an HEVC brand and no AV1 one."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[:4], "big")
    if size < 16 or size > min(len(data), 4096) or size % 4:
        return False
    brands = {data[8:12]} | {data[at : at + 4] for at in range(16, size, 4)}
    return bool(brands & _HEVC_BRANDS) and not brands & _AV1_BRANDS


def _open(data: bytes) -> Any:
    try:
        import pi_heif  # noqa: PLC0415 (lazy: only a HEIC original pays for it)
    except ImportError:
        raise UndecodableImageError("HEIC decoding is not installed (pi-heif)") from None
    try:
        return pi_heif.open_heif(data, convert_hdr_to_8bit=True)
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError) as exc:
        raise UndecodableImageError(f"HEIC header could not be read: {exc}") from None


def header(data: bytes) -> HeicHeader:
    """The sizes of the primary image and the number of images, read without decoding a pixel."""
    heif = _open(data)
    width, height = heif.size
    return HeicHeader(width=int(width), height=int(height), frames=max(1, len(heif)))


@functools.lru_cache(maxsize=1)
def decode(data: bytes) -> Any:
    """The primary image as an 8-bit sRGB-or-profiled pyvips image in memory (upright, with its ICC
    profile and EXIF block). Raises ``UndecodableImageError`` for damaged data."""
    heif = _open(data)
    try:
        pixels = heif.data
        stride = heif.stride
    except (ValueError, EOFError, SyntaxError, RuntimeError, OSError) as exc:
        raise UndecodableImageError(f"HEIC image could not be decoded: {exc}") from None
    width, height = heif.size
    bands = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}.get(heif.mode)
    if bands is None:
        raise UndecodableImageError(f"HEIC image mode {heif.mode} is not supported")
    row = width * bands
    buffer = (
        bytes(pixels)
        if stride == row
        else b"".join(bytes(pixels[y * stride : y * stride + row]) for y in range(height))
    )
    image = pyvips.Image.new_from_memory(buffer, width, height, bands, "uchar")
    image = image.copy(interpretation="srgb" if bands >= 3 else "b-w")
    for name, value in (("icc-profile-data", heif.info.get("icc_profile")), ("exif-data", heif.info.get("exif"))):
        if value:
            image.set_type(pyvips.GValue.blob_type, name, bytes(value))
    # libvips reads the orientation out of the EXIF block set above; libheif has applied it already
    image.set_type(pyvips.GValue.gint_type, "orientation", 1)
    return image
