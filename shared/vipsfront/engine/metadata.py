"""What an original says about itself: capture time, camera, colour, orientation and a perceptual hash.

Pure (pyvips and the standard library): bytes in, a ``Metadata`` out, for the info document the lifecycle
writes at ingest and for the backfill's manifest. The header facts come from the header alone: the engine's
``probe`` checks the format and the limits, then the EXIF block and the ICC profile that libvips attaches
to the header are read here with small bounded parsers (an upload is hostile until proven otherwise: every
offset is checked, IFD chains are followed once, text is capped). Only the perceptual hash needs pixels,
and it takes them from the placeholder's tiny shrink-on-load thumbnail (``placeholder.thumbnail_rgba``), so
an ingest that makes both decodes once when it passes that thumbnail in.

Privacy: GPS and personal fields (artist, copyright holder, camera owner, body and lens serial numbers, the
image's unique id) are read only when the caller opts in (``include_gps`` / ``include_personal``); without
it they are not even parsed, and the result has no key for them. Maker notes (opaque vendor blobs that
often hold serial numbers) and XMP/IPTC are never decoded; with ``include_personal`` only the maker
note's size is reported.

The perceptual hash is the DCT hash (pHash) of the 32x32 luminance: the 8x8 lowest frequencies, one bit
each for "above their median", written as 16 hex digits, most significant bit first (the layout of the
``imagehash`` package's ``phash``). Re-encoding or resizing moves a few bits at most; different images
differ in about half of them (``phash_distance``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyvips

from vipsfront.engine import placeholder
from vipsfront.engine.limits import Limits
from vipsfront.engine.probe import open_header

__all__ = [
    "Gps",
    "Metadata",
    "Personal",
    "exif_fields",
    "extract",
    "icc_description",
    "phash_distance",
    "phash_from_rgba",
]

HASH_SIDE = 32  # the luminance grid the DCT runs on
HASH_FREQUENCIES = 8  # 8x8 low frequencies: 64 bits
MAX_TEXT = 256  # characters kept of any text field
_MAX_IFD_ENTRIES = 512
_MAX_ICC_TAGS = 256


@dataclass(frozen=True, slots=True)
class Gps:
    """Where the picture was taken: degrees (north and east positive), metres, and the GPS clock (UTC)."""

    latitude: float
    longitude: float
    altitude: float | None = None
    timestamp: str | None = None  # ISO 8601 UTC, from GPSDateStamp + GPSTimeStamp


@dataclass(frozen=True, slots=True)
class Personal:
    """Fields that name or identify a person or a device; returned only with ``include_personal``."""

    artist: str | None = None
    copyright: str | None = None
    camera_owner: str | None = None
    body_serial_number: str | None = None
    lens_serial_number: str | None = None
    image_unique_id: str | None = None
    maker_note_bytes: int | None = None  # the size only: the blob itself is never decoded or returned


@dataclass(frozen=True, slots=True)
class Metadata:
    """Extracted metadata. ``gps`` and ``personal`` are ``None`` unless the caller opted in."""

    captured_at: str | None  # ISO 8601; with the offset when the file records one, else the camera's local time
    camera_make: str | None
    camera_model: str | None
    lens_model: str | None
    color_space: str  # libvips' interpretation of the stored pixels: srgb, b-w, cmyk, rgb16, grey16, ...
    icc_description: str | None  # the embedded ICC profile's description, e.g. "Display P3"
    orientation: int  # EXIF 1..8 (1 when absent)
    phash: str | None  # 16 hex digits, or None when not computed
    gps: Gps | None = None
    personal: Personal | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict. ``gps``/``personal`` appear only when opted in, so a stored document without
        the opt-in has no key that could hold them."""
        out: dict[str, Any] = {
            "captured_at": self.captured_at,
            "camera_make": self.camera_make,
            "camera_model": self.camera_model,
            "lens_model": self.lens_model,
            "color_space": self.color_space,
            "icc_description": self.icc_description,
            "orientation": self.orientation,
            "phash": self.phash,
        }
        if self.gps is not None:
            out["gps"] = asdict(self.gps)
        if self.personal is not None:
            out["personal"] = asdict(self.personal)
        return out


# ---------------------------------------------------------------------------------------------------
# EXIF (a TIFF structure), bounded

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8}

# IFD0
_MAKE, _MODEL, _ARTIST, _COPYRIGHT = 0x010F, 0x0110, 0x013B, 0x8298
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# Exif IFD
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9011, 0x9012
_SUBSEC_ORIGINAL, _SUBSEC_DIGITIZED = 0x9291, 0x9292
_MAKER_NOTE, _IMAGE_UNIQUE_ID = 0x927C, 0xA420
_CAMERA_OWNER, _BODY_SERIAL, _LENS_MODEL, _LENS_SERIAL = 0xA430, 0xA431, 0xA434, 0xA435
# GPS IFD
_LAT_REF, _LAT, _LON_REF, _LON, _ALT_REF, _ALT, _GPS_TIME, _GPS_DATE = 1, 2, 3, 4, 5, 6, 7, 0x1D


class _Ifd:
    """One IFD's entries: tag → (type, count, offset of the value in the TIFF data)."""

    def __init__(self, tiff: bytes, little: bool, entries: dict[int, tuple[int, int, int]]) -> None:
        self._tiff = tiff
        self._order = "<" if little else ">"
        self.entries = entries

    def _raw(self, tag: int, types: frozenset[int]) -> tuple[int, int, bytes] | None:
        entry = self.entries.get(tag)
        if entry is None or entry[0] not in types:
            return None
        kind, count, at = entry
        data = self._tiff[at : at + count * _TYPE_SIZES[kind]]
        if len(data) != count * _TYPE_SIZES[kind]:
            return None
        return kind, count, data

    def text(self, tag: int) -> str | None:
        raw = self._raw(tag, frozenset({2, 7}))  # ASCII; some writers use UNDEFINED
        if raw is None:
            return None
        data = raw[2].split(b"\x00", 1)[0]
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("latin-1")
        value = "".join(c for c in value if c.isprintable()).strip()[:MAX_TEXT]
        return value or None

    def integers(self, tag: int) -> list[int]:
        raw = self._raw(tag, frozenset({1, 3, 4}))
        if raw is None:
            return []
        kind, count, data = raw
        code = {1: "B", 3: "H", 4: "I"}[kind]
        return list(struct.unpack(f"{self._order}{count}{code}", data))

    def rationals(self, tag: int) -> list[float]:
        raw = self._raw(tag, frozenset({5, 10}))
        if raw is None:
            return []
        kind, count, data = raw
        pairs = struct.unpack(f"{self._order}{2 * count}{'I' if kind == 5 else 'i'}", data)
        return [n / d if d else math.nan for n, d in zip(pairs[::2], pairs[1::2], strict=True)]

    def size(self, tag: int) -> int | None:
        entry = self.entries.get(tag)
        return entry[1] * _TYPE_SIZES[entry[0]] if entry else None


class _Exif:
    """IFD0, the Exif IFD and the GPS IFD of an EXIF block; empty when the block is malformed."""

    def __init__(self, blob: bytes) -> None:
        empty = _Ifd(b"", True, {})
        self.ifd0 = self.exif = self.gps = empty
        tiff = _tiff_data(blob)
        if tiff is None:
            return
        little = tiff[:2] == b"II"
        order = "<" if little else ">"
        self._tiff, self._little, self._order = tiff, little, order
        (first,) = struct.unpack_from(f"{order}I", tiff, 4)
        self.ifd0 = self._read(first)
        self.exif = self._pointed(self.ifd0, _EXIF_IFD)
        self.gps = self._pointed(self.ifd0, _GPS_IFD)

    def _pointed(self, ifd: _Ifd, tag: int) -> _Ifd:
        offsets = ifd.integers(tag)
        return self._read(offsets[0]) if len(offsets) == 1 else _Ifd(b"", True, {})

    def _read(self, offset: int) -> _Ifd:
        tiff, order = self._tiff, self._order
        entries: dict[int, tuple[int, int, int]] = {}
        if offset < 8 or offset + 2 > len(tiff):
            return _Ifd(tiff, self._little, entries)
        (count,) = struct.unpack_from(f"{order}H", tiff, offset)
        count = min(count, _MAX_IFD_ENTRIES, (len(tiff) - offset - 2) // 12)
        for i in range(count):
            tag, kind, n, value = struct.unpack_from(f"{order}HHII", tiff, offset + 2 + 12 * i)
            size = _TYPE_SIZES.get(kind)
            if size is None or n == 0 or n * size > len(tiff):
                continue
            at = offset + 2 + 12 * i + 8 if n * size <= 4 else value
            if at + n * size <= len(tiff):
                entries.setdefault(tag, (kind, n, at))
        return _Ifd(tiff, self._little, entries)


def _tiff_data(blob: bytes) -> bytes | None:
    """The TIFF structure inside an EXIF block (``Exif\\0\\0`` + TIFF, TIFF alone, or HEIF's offset form)."""
    start = blob.find(b"Exif\x00\x00", 0, 16)
    tiff = blob[start + 6 :] if start >= 0 else blob
    if len(tiff) < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    return tiff


def _iso_time(text: str | None, subsec: str | None, offset: str | None) -> str | None:
    """``2024:05:01 12:34:56`` (+ sub-seconds, + ``+02:00``) → ``2024-05-01T12:34:56.5+02:00``."""
    if not text:
        return None
    try:
        moment = dt.datetime.strptime(text.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # blank ("    :  :  "), zeros or garbage
    digits = re.fullmatch(r"\s*([0-9]{1,9})\s*", subsec or "")
    if digits:
        moment = moment.replace(microsecond=int(digits.group(1)[:6].ljust(6, "0")))
    iso = moment.isoformat()
    zone = re.fullmatch(r"\s*([+-])([01][0-9]|2[0-3]):([0-5][0-9])\s*", offset or "")
    if zone:
        iso += f"{zone.group(1)}{zone.group(2)}:{zone.group(3)}"
    return iso


def _degrees(parts: list[float], ref: str | None, negative: str) -> float | None:
    if len(parts) != 3 or not all(math.isfinite(p) for p in parts):
        return None
    value = parts[0] + parts[1] / 60 + parts[2] / 3600
    return round(-value if (ref or "").upper().startswith(negative) else value, 7)


def _gps(ifd: _Ifd) -> Gps | None:
    lat = _degrees(ifd.rationals(_LAT), ifd.text(_LAT_REF), "S")
    lon = _degrees(ifd.rationals(_LON), ifd.text(_LON_REF), "W")
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    altitude: float | None = None
    alt = ifd.rationals(_ALT)
    if len(alt) == 1 and math.isfinite(alt[0]):
        below = ifd.integers(_ALT_REF)[:1] == [1] or (ifd.text(_ALT_REF) or "") == "\x01"
        altitude = round(-alt[0] if below else alt[0], 3)
    timestamp: str | None = None
    clock, date = ifd.rationals(_GPS_TIME), ifd.text(_GPS_DATE)
    if date and len(clock) == 3 and all(math.isfinite(c) for c in clock):
        h, m, s = (int(c) for c in clock)
        stamp = _iso_time(f"{date} {h:02d}:{m:02d}:{s:02d}", None, None)
        timestamp = stamp + "Z" if stamp else None
    return Gps(latitude=lat, longitude=lon, altitude=altitude, timestamp=timestamp)


def _personal(exif: _Exif) -> Personal:
    return Personal(
        artist=exif.ifd0.text(_ARTIST),
        copyright=exif.ifd0.text(_COPYRIGHT),
        camera_owner=exif.exif.text(_CAMERA_OWNER),
        body_serial_number=exif.exif.text(_BODY_SERIAL),
        lens_serial_number=exif.exif.text(_LENS_SERIAL),
        image_unique_id=exif.exif.text(_IMAGE_UNIQUE_ID),
        maker_note_bytes=exif.exif.size(_MAKER_NOTE),
    )


def exif_fields(blob: bytes, *, include_gps: bool = False, include_personal: bool = False) -> dict[str, Any]:
    """The fields this module reads from an EXIF block (libvips' ``exif-data``), malformed parts skipped.

    Keys: ``captured_at``, ``camera_make``, ``camera_model``, ``lens_model``, plus ``gps`` / ``personal``
    only when opted in. (Orientation is the engine's: ``probe.probe``.)
    """
    exif = _Exif(blob)
    captured = _iso_time(
        exif.exif.text(_DATETIME_ORIGINAL), exif.exif.text(_SUBSEC_ORIGINAL), exif.exif.text(_OFFSET_ORIGINAL)
    ) or _iso_time(
        exif.exif.text(_DATETIME_DIGITIZED), exif.exif.text(_SUBSEC_DIGITIZED), exif.exif.text(_OFFSET_DIGITIZED)
    )
    fields: dict[str, Any] = {
        "captured_at": captured,
        "camera_make": exif.ifd0.text(_MAKE),
        "camera_model": exif.ifd0.text(_MODEL),
        "lens_model": exif.exif.text(_LENS_MODEL),
    }
    if include_gps:
        fields["gps"] = _gps(exif.gps)
    if include_personal:
        fields["personal"] = _personal(exif)
    return fields


# ---------------------------------------------------------------------------------------------------
# ICC profile


def icc_description(profile: bytes) -> str | None:
    """The ``desc`` tag of an ICC profile (v2 ``desc`` or v4 ``mluc``, English preferred), or None."""
    if len(profile) < 132 or profile[36:40] != b"acsp":
        return None
    (count,) = struct.unpack_from(">I", profile, 128)
    for i in range(min(count, _MAX_ICC_TAGS, (len(profile) - 132) // 12)):
        signature, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
        if signature == b"desc":
            return _icc_text(profile[offset : offset + size])
    return None


def _icc_text(tag: bytes) -> str | None:
    text: str | None = None
    if tag[:4] == b"desc" and len(tag) >= 12:
        (n,) = struct.unpack_from(">I", tag, 8)
        text = tag[12 : 12 + n].split(b"\x00", 1)[0].decode("latin-1")
    elif tag[:4] == b"mluc" and len(tag) >= 16:
        records, record_size = struct.unpack_from(">II", tag, 8)
        best: tuple[int, int] | None = None
        for i in range(min(records, 64)):
            at = 16 + i * max(record_size, 12)
            if at + 12 > len(tag):
                break
            language, length, offset = struct.unpack_from(">4sII", tag, at)
            if best is None or language[:2] == b"en":
                best = (offset, length)
                if language[:2] == b"en":
                    break
        if best is not None:
            text = tag[best[0] : best[0] + best[1]].decode("utf-16-be", "replace").split("\x00", 1)[0]
    if text is None:
        return None
    text = "".join(c for c in text if c.isprintable()).strip()[:MAX_TEXT]
    return text or None


# ---------------------------------------------------------------------------------------------------
# perceptual hash


def _luminance(w: int, h: int, rgba: Sequence[int]) -> list[float]:
    """Rec. 601 luma of RGBA pixels composited over white (so transparency hashes like a page shows it)."""
    out = []
    for i in range(0, 4 * w * h, 4):
        alpha = rgba[i + 3] / 255
        luma = 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2]
        out.append(luma * alpha + 255 * (1 - alpha))
    return out


def _resample(w: int, h: int, values: list[float], side: int) -> list[float]:
    """Bilinear resample of a ``w`` x ``h`` grid to ``side`` x ``side`` (pixel centres aligned)."""

    def taps(n: int) -> list[tuple[int, int, float]]:
        out = []
        for i in range(side):
            pos = min(max((i + 0.5) * n / side - 0.5, 0.0), n - 1.0)
            lo = math.floor(pos)
            out.append((lo, min(lo + 1, n - 1), pos - lo))
        return out

    xs, ys = taps(w), taps(h)
    grid = []
    for y0, y1, fy in ys:
        for x0, x1, fx in xs:
            top = values[y0 * w + x0] * (1 - fx) + values[y0 * w + x1] * fx
            bottom = values[y1 * w + x0] * (1 - fx) + values[y1 * w + x1] * fx
            grid.append(top * (1 - fy) + bottom * fy)
    return grid


def phash_from_rgba(w: int, h: int, rgba: Sequence[int]) -> str:
    """The 64-bit DCT perceptual hash of ``w`` x ``h`` RGBA pixels (any size), as 16 hex digits."""
    if w < 1 or h < 1 or len(rgba) < 4 * w * h:
        raise ValueError(f"need {w}x{h} RGBA pixels")
    n, k = HASH_SIDE, HASH_FREQUENCIES
    grid = _resample(w, h, _luminance(w, h, rgba), n)
    cos = [[math.cos(math.pi * (2 * x + 1) * u / (2 * n)) for x in range(n)] for u in range(k)]
    # separable DCT-II, only the k lowest frequencies of each axis
    rows = [[sum(grid[y * n + x] * cos[u][x] for x in range(n)) for u in range(k)] for y in range(n)]
    coefficients = [sum(cos[v][y] * rows[y][u] for y in range(n)) for v in range(k) for u in range(k)]
    ordered = sorted(coefficients)
    median = (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    bits = 0
    for c in coefficients:
        bits = (bits << 1) | (c > median)
    return f"{bits:016x}"


def phash_distance(a: str, b: str) -> int:
    """Hamming distance of two hashes: 0 for the same picture, about 32 for unrelated ones."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# ---------------------------------------------------------------------------------------------------
# from an original


def _blob(header: Any, name: str) -> bytes:
    if header.get_typeof(name) == 0:
        return b""
    try:
        return bytes(header.get(name))
    except (pyvips.Error, TypeError, ValueError):
        return b""


def extract(
    source: bytes,
    limits: Limits = Limits(),  # noqa: B008 (frozen default)
    *,
    include_gps: bool = False,
    include_personal: bool = False,
    perceptual_hash: bool = True,
    thumbnail: tuple[int, int, Sequence[int]] | None = None,
    deadline: float | None = None,
) -> Metadata:
    """Metadata of an original's bytes.

    The header is checked by ``probe.probe`` (format, byte/pixel/frame limits) and raises its typed
    errors. ``thumbnail`` is ``placeholder.thumbnail_rgba``'s result when the caller already has it;
    otherwise it is made here (only when ``perceptual_hash``). ``deadline`` bounds that decode.
    """
    opened = open_header(source, limits)
    info, header = opened.info, opened.image  # header only: pixels are lazy (a HEIC is decoded, once)
    exif = exif_fields(_blob(header, "exif-data"), include_gps=include_gps, include_personal=include_personal)
    phash: str | None = None
    if perceptual_hash:
        w, h, rgba = thumbnail or placeholder.thumbnail_rgba(source, limits, deadline=deadline)
        phash = phash_from_rgba(w, h, rgba)
    return Metadata(
        captured_at=exif["captured_at"],
        camera_make=exif["camera_make"],
        camera_model=exif["camera_model"],
        lens_model=exif["lens_model"],
        color_space=str(header.interpretation),
        icc_description=icc_description(_blob(header, "icc-profile-data")),
        orientation=info.orientation,
        phash=phash,
        gps=exif.get("gps") if include_gps else None,
        personal=exif.get("personal") if include_personal else None,
    )
