"""``q=auto``: per image, the quality that keeps the fixed default's look in fewer bytes (pyvips only).

What the corpus measured (``benchmarks/quality_auto.py``, judged by SSIMULACRA2): photos need about the
same quality, so the bytes come from the encoder settings ``q=auto`` may use (the engine's tuned encoder:
for JPEG, quantisation table 3 and progressive scans; here, for a small WebP or AVIF, a slower effort), and
the quality that keeps the default's median look with them is a per-format constant (``TUNING``). SSIM
computed with libvips does not rank photos the way SSIMULACRA2 does (per image offsets of up to 10 points
at one SSIM), so it only picks out an image whose error is far below visibility (flat areas, blurred
content), which may go lower. Table 3 does not suit every image: on a JPEG re-encoded at its own size and
on muted colours SSIMULACRA2 scores it 1.5-5.5 points under the standard table; comparing both encoders'
error on the image's middle (luma and, weighted 2, the colour differences) tells those apart::

    encode the middle (``CHECK`` px) at the level's quality → unless its bytes say the image is detailed
    (``DENSE``), measure detail (``DETAIL``); not detailed: score the level's quality on the image (or a
    mosaic of tiles) with pooled SSIM → error below ``FLOOR``: try the quality at which the error would
    reach ``FLOOR`` (the format's log-error slope; not below ``lowest``), keep it if it scores within
    ``2 x FLOOR`` and is smaller → JPEG: encode the fixed default on the same pixels and keep it when the
    tuned encode is not smaller (compared only on the whole image or the mosaic) or has more colour
    error (``fallback=bytes`` / ``fallback=colour``) → encode the image (a detailed WebP or AVIF up to
    ``EFFORT_PIXELS`` with ``EFFORT``)

The score is SSIM (gaussian window, sigma 1.5) computed with libvips operations, pooled by 16 px tiles and
read at the 10th percentile of the tiles (the worst areas count), on luma with alpha flattened onto
mid-grey and, for images with alpha, the lower of that and the alpha band's own score; above
``SCORE_PIXELS`` it reads the same mosaic of tiles of both images.

Bounds: for a detailed image, one trial on the middle, one fixed-default encode of the middle (JPEG) and
one final encode; a flat image up to three trials. When the ``deadline`` (``time.monotonic()`` value) has
passed before the first trial, the fixed default is encoded and the result says ``fell_back``; after it,
further trials run only when one more (estimated from the first) fits, and the slower effort only with
``EFFORT_HEADROOM_S`` left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pyvips

from vipsfront.url.spec import Quality

__all__ = [
    "FLOOR",
    "TUNING",
    "AutoQualityResult",
    "Encode",
    "Level",
    "Tuning",
    "choose",
    "parse_level",
    "sample",
    "score",
]

Encode = Callable[[Any, int], bytes]
"""The engine's encoder for one plan: ``(image, quality) -> encoded bytes``."""

Level = Quality
"""The value of ``q``: ``auto`` (the default's look), ``auto:low`` (smaller), ``auto:high`` (closer)."""


@dataclass(frozen=True, slots=True)
class Tuning:
    """One format under ``q=auto``: the quality per level with the tuned encoder (``auto``: the median
    SSIMULACRA2 of the fixed default on the corpus), the lowest quality a simple image may get, and the
    slope of ln(error) per quality step, which turns a measured error into a quality."""

    quality: Mapping[Level, int]
    lowest: int
    slope: float


TUNING: Mapping[str, Tuning] = MappingProxyType(
    {
        "jpeg": Tuning(MappingProxyType({Level.LOW: 72, Level.AUTO: 80, Level.HIGH: 86}), 40, 0.036),
        "webp": Tuning(MappingProxyType({Level.LOW: 72, Level.AUTO: 80, Level.HIGH: 86}), 40, 0.035),
        "avif": Tuning(MappingProxyType({Level.LOW: 44, Level.AUTO: 50, Level.HIGH: 56}), 25, 0.045),
    }
)

# Pooled error (1 - score) below which an encode is taken as indistinguishable from the unencoded pixels;
# a lowered quality must score within 2 x FLOOR. Under the lowest error of any corpus image at the fixed
# default (0.008: the RGBA PNG at 800 px; photos 0.013 and up), so photos keep the level's quality.
FLOOR = 0.006
SAMPLE_PIXELS = 480 * 400  # above this the trial runs on a mosaic of tiles (a 400 px output is tried whole)
SCORE_PIXELS = 192 * 192  # above this the score reads a mosaic of tiles: SSIM costs more than a WebP encode
SCORE_GRID = 3
# Bytes per pixel of the middle's trial at or above which an image is taken as detailed without measuring
# it (the measure costs about a JPEG encode): 1.4x the densest corpus image that ``_detailed`` finds not
# detailed, read on a mosaic of its tiles (JPEG 0.087, WebP 0.059, AVIF 0.041); a flat graphic's or a soft
# gradient's middle is at most 0.05 (headers included). A few such corpus images are over it on the middle
# (the RGBA PNG at 800 px): none of them was far enough below visibility to go lower.
DENSE: Mapping[str, float] = MappingProxyType({"jpeg": 0.12, "webp": 0.08, "avif": 0.06})
# Side of the middle of the image the first trial encodes (a 16 px aligned crop; the whole image when not
# larger): its bytes say whether the image is detailed, and for JPEG both encoders' colour errors on it say
# which encoder suits the image (on the corpus the same choice as on the whole image, 192 px or 128 px).
CHECK = 128
# Outputs up to EFFORT_PIXELS (400 x 400) are encoded with a slower encoder effort under q=auto: fewer bytes at
# the same SSIMULACRA2 for an encode that stays small (400 px corpus: WebP effort 5 -2.3 % for 1.25x the
# encode's CPU, AVIF effort 3 -3.6 % for 1.7x), when at least EFFORT_HEADROOM_S is left before the deadline.
EFFORT: Mapping[str, int] = MappingProxyType({"webp": 5, "avif": 3})
EFFORT_PIXELS = 400 * 400
EFFORT_HEADROOM_S = 1.0
DETAIL = 8  # grey levels: sigma^2 = 64 is about SSIM's C2 (58.5), where its contrast term starts to count
TILE = 64  # tile side: a multiple of the JPEG (8/16), WebP (16) and AVIF (64) block sizes
GRID = 4  # tiles per side of the mosaic, spread evenly over the image
POOL = 16  # SSIM is averaged over POOL x POOL blocks, then read at PERCENTILE
PERCENTILE = 10
_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True, slots=True)
class AutoQualityResult:
    """What ``choose`` picked. ``score`` is the pooled SSIM of the chosen encode (``None`` when not scored:
    a detailed image, the fixed default kept, the deadline fallback), ``target`` the score a lowered
    quality aimed at (``None`` when the level's quality was kept); ``encodes`` counts every encode.
    ``fell_back``: the fixed default was encoded, for the ``reason`` given: ``deadline`` (no time to
    search), ``bytes`` (the tuned encoder was not smaller) or ``colour`` (it had more colour error)."""

    quality: int
    data: bytes
    level: Level
    encodes: int
    score: float | None
    target: float | None = None
    fell_back: bool = False
    reason: str | None = None  # why it fell back: "deadline", "bytes", "colour"
    ms: float = 0.0  # the whole search, final encode included

    @property
    def description(self) -> str:
        """``q=74 n=1``, plus ``fallback=deadline`` (or ``bytes``, ``colour``) when the default was used."""
        desc = f"q={self.quality} n={self.encodes}"
        return desc + f" fallback={self.reason}" if self.fell_back else desc

    @property
    def timing(self) -> str:
        """A ``Server-Timing`` entry, e.g. ``qauto;dur=41.2;desc="q=74 n=1"``."""
        return f'qauto;dur={self.ms:.1f};desc="{self.description}"'


def parse_level(value: str) -> Level:
    """``auto``, ``auto:low`` or ``auto:high`` (any case); ``ValueError`` otherwise."""
    try:
        return Level(value.strip().lower())
    except ValueError:
        raise ValueError(f"q must be 1-100, {', '.join(Level)}; got {value!r}") from None


# ---------------------------------------------------------------------------------------------------
# the metric


def _planes(image: Any) -> list[Any]:
    """Float planes scored: luma with alpha flattened onto mid-grey, then the alpha band if any."""
    planes = []
    colour = image.flatten(background=[128] * (image.bands - 1)) if image.hasalpha() else image
    if colour.bands >= 3:
        colour = colour.colourspace("b-w")
    planes.append(colour.cast("float"))
    if image.hasalpha():
        planes.append(image[image.bands - 1].cast("float"))
    return planes


def _blur(image: Any) -> Any:
    return image.gaussblur(_SIGMA, precision="float")


@dataclass(frozen=True, slots=True)
class _Plane:
    """Everything SSIM needs from one plane of the unencoded sample, computed once."""

    y: Any
    mu: Any
    sigma_sq: Any


@dataclass(frozen=True, slots=True)
class _Reference:
    planes: tuple[_Plane, ...]


def _reference(image: Any) -> _Reference:
    planes = []
    for y in _planes(image):
        y = y.copy_memory()
        mu = _blur(y).copy_memory()
        planes.append(_Plane(y, mu, (_blur(y * y) - mu * mu).copy_memory()))
    return _Reference(tuple(planes))


def _ssim_map(ref: _Plane, y: Any) -> Any:
    mu = _blur(y)
    sigma_sq = _blur(y * y) - mu * mu
    cross = _blur(ref.y * y) - ref.mu * mu
    top = (ref.mu * mu * 2 + _C1) * (cross * 2 + _C2)
    bottom = (ref.mu * ref.mu + mu * mu + _C1) * (ref.sigma_sq + sigma_sq + _C2)
    return top / bottom


def _pooled(ssim_map: Any) -> float:
    """The ``PERCENTILE``-th percentile of SSIM averaged over ``POOL`` px tiles (libvips ``percent`` on the
    tiles' error in 1e-4 steps)."""
    pool = max(1, min(POOL, int(ssim_map.width), int(ssim_map.height)))
    tiles = ssim_map.shrink(pool, pool) if pool > 1 else ssim_map
    error = ((1 - tiles) * 10000).cast("ushort")  # cast clips: 0..20000 for SSIM 1..-1
    return 1.0 - float(error.percent(100 - PERCENTILE)) / 10000


def _ssim(ref: _Reference, other: Any) -> float:
    """Pooled SSIM of ``other`` against the reference: the lowest over its planes."""
    planes = _planes(other)
    if len(planes) < len(ref.planes):  # an encoder dropped an alpha band that was all opaque
        planes.append(planes[0] * 0 + 255)
    return min(_pooled(_ssim_map(plane, y)) for plane, y in zip(ref.planes, planes, strict=False))


def score(reference: Any, distorted: Any) -> float:
    """Pooled SSIM (luma on mid-grey, and alpha) of ``distorted`` against ``reference``, two images of
    one size and band layout."""
    return _ssim(_reference(reference), distorted)


def sample(image: Any, max_pixels: int = SAMPLE_PIXELS, grid: int = GRID) -> Any:
    """The pixels the trial encodes (``max_pixels``: ``SAMPLE_PIXELS``) or the score reads
    (``SCORE_PIXELS``): the image itself when small, else a mosaic of ``TILE`` px tiles, ``grid`` x ``grid``
    (``GRID``; ``SCORE_GRID`` for the score) spread evenly over it and aligned to 16 px so block grids
    match the full encode; the same tiles for any image of one size."""
    width, height = int(image.width), int(image.height)
    if width * height <= max_pixels or width < TILE * 2 or height < TILE * 2:
        return image
    cols, rows = min(grid, width // TILE), min(grid, height // TILE)

    def starts(size: int, count: int) -> list[int]:
        step = (size - TILE) / max(1, count - 1)
        return [min(size - TILE, int(i * step) // 16 * 16) for i in range(count)]

    tiles = [image.extract_area(x, y, TILE, TILE) for y in starts(height, rows) for x in starts(width, cols)]
    return pyvips.Image.arrayjoin(tiles, across=cols)


# ---------------------------------------------------------------------------------------------------
# the search


def _detailed(image: Any) -> bool:
    """More than ``PERCENTILE`` % of the ``POOL`` px tiles vary by more than ``DETAIL`` (standard deviation
    of luma): where SSIM has that much contrast to compare, a lossy encode does not score within ``FLOOR``,
    so no lower quality can pass and the score is skipped (it costs about one WebP encode)."""
    y = image[1 if image.bands >= 3 else 0].cast("float")  # green: luma enough here, without a colour transform
    pool = max(1, min(POOL, int(y.width), int(y.height)))
    mean, mean_sq = y.shrink(pool, pool), (y * y).shrink(pool, pool)
    deviation = ((mean_sq - mean * mean).abs() ** 0.5).cast("uchar")
    return float(deviation.percent(100 - PERCENTILE)) > DETAIL


# luma and the two colour differences of JPEG (BT.601) on gamma-encoded sRGB, the colour differences
# weighted 2: the error that counts when two encoders of one image are compared (``_colour_error``)
_OPPONENT = [[0.299, 0.587, 0.114], [-0.338, -0.662, 1.0], [1.0, -0.838, -0.162]]


def _centre(image: Any) -> Any:
    """The middle ``CHECK`` x ``CHECK`` pixels (16 px aligned), or the image when it is not larger."""
    width, height = int(image.width), int(image.height)
    if width <= CHECK and height <= CHECK:
        return image
    crop_width, crop_height = min(width, CHECK), min(height, CHECK)
    left, top = (width - crop_width) // 32 * 16, (height - crop_height) // 32 * 16
    return image.extract_area(left, top, crop_width, crop_height)


def _colour(image: Any) -> Any:
    """The colour bands of ``image`` as float, for ``_colour_error``."""
    bands = 3 if image.bands >= 3 else 1
    return (image[:bands] if image.bands != bands else image).cast("float")


def _colour_error(original: Any, data: bytes) -> float:
    """Mean absolute error of an encode of ``original`` (float, colour bands only) in luma and, weighted 2,
    the colour differences. Between two encoders of one image it tells which the image suits: JPEG's table
    3 has more of this error than the standard table on a JPEG re-encoded at its own size and on muted
    colours, where SSIMULACRA2 scores it 1.5-5.5 points lower (``benchmarks/quality_auto.py``)."""
    decoded = pyvips.Image.new_from_buffer(data, "")
    if decoded.bands != original.bands:  # an alpha band
        decoded = decoded[: original.bands]
    difference = decoded - original
    return float((difference.recomb(_OPPONENT) if original.bands == 3 else difference).abs().avg())


def _decoded_sample(data: bytes) -> Any:
    """The scored tiles of an encode (random access: the tiles are read out of order)."""
    return sample(pyvips.Image.new_from_buffer(data, ""), SCORE_PIXELS, SCORE_GRID)


def choose(
    image: Any,
    fmt: str,
    encode: Encode,
    *,
    default_quality: int,
    level: Level = Level.AUTO,
    deadline: float | None = None,
    reference_encode: Encode | None = None,
    slower_encode: Encode | None = None,
) -> AutoQualityResult:
    """Encode ``image`` (resized, 8-bit sRGB or grey, alpha allowed) as ``fmt`` (``jpeg``, ``webp`` or
    ``avif``) at ``TUNING[fmt].quality[level]``, lowered for an image whose error there is under ``FLOOR``.

    ``encode`` is the engine's encoder for ``q=auto`` (the one place for effort, subsampling, metadata);
    ``slower_encode`` the same at the slower ``EFFORT``, given when the time allows it: it writes a small
    detailed WebP or AVIF. ``reference_encode`` is the engine's encoder for a fixed quality, given when its
    settings differ: the fixed default is then encoded on the trial's pixels too and kept when it is not
    larger (whole image or mosaic: a soft gradient in JPEG, where table 3 spends more) or has more
    ``_colour_error`` (the result says ``fallback=bytes`` or ``colour``). The deadline fallback encodes
    ``default_quality`` with it (or with ``encode``). All must produce ``fmt``.
    Raises ``ValueError`` for another format; libvips errors from the encoders propagate.
    """
    if fmt not in TUNING:
        raise ValueError(f"q=auto supports {', '.join(TUNING)}, not {fmt}")
    started = time.perf_counter()
    tuning = TUNING[fmt]

    def finish(
        quality: int, data: bytes, encodes: int, found: float | None, target: float | None, reason: str | None
    ) -> AutoQualityResult:
        ms = round((time.perf_counter() - started) * 1000.0, 3)
        return AutoQualityResult(quality, data, level, encodes, found, target, reason is not None, reason, ms)

    if deadline is not None and time.monotonic() >= deadline:
        data = (reference_encode or encode)(image, default_quality)
        ms = round((time.perf_counter() - started) * 1000.0, 3)
        return AutoQualityResult(default_quality, data, level, 1, None, None, True, "deadline", ms)

    image = image.copy_memory()  # the trials and the final encode read it: decode and resize once
    quality = tuning.quality[level]
    middle = _centre(image)
    trial_started = time.perf_counter()
    trial = encode(middle, quality)
    trial_s = time.perf_counter() - trial_started
    encodes = 1

    def in_time() -> bool:  # the next trial costs about what the first did
        return deadline is None or time.monotonic() + trial_s < deadline

    # what is chosen: quality, bytes, the pixels they encode (the image: no final encode) and their encoder;
    # basis and level: the pixels the level's quality was encoded on, and those bytes (the encoders compare there)
    chosen, data, source, final = quality, trial, middle, encode
    basis, level_data = middle, trial
    found = target = reason = None
    detailed = len(trial) >= DENSE[fmt] * middle.width * middle.height
    if not detailed:  # maybe not detailed: measure it
        small = sample(image)
        scored = sample(small, SCORE_PIXELS, SCORE_GRID)
        detailed = _detailed(scored)
        if not detailed and in_time():
            reference = _reference(scored)
            if small is not middle:
                data = level_data = encode(small, quality)
                source = basis = small
                encodes += 1
            found = _ssim(reference, _decoded_sample(data))
            if 1.0 - found < FLOOR and in_time():  # far below visibility: try the quality the slope predicts
                steps = math.log(FLOOR / max(1.0 - found, 1e-6)) / tuning.slope
                lower = max(tuning.lowest, quality - int(steps))
                if lower < quality:
                    lowered = encode(small, lower)
                    encodes += 1
                    score_lower = _ssim(reference, _decoded_sample(lowered))
                    if score_lower >= 1.0 - 2 * FLOOR and len(lowered) < len(data):  # confirmed, and smaller
                        chosen, data, source, found, target = lower, lowered, small, score_lower, 1.0 - FLOOR
    if reference_encode is not None and in_time():  # neither more bytes nor more colour error than the default
        fixed = reference_encode(basis, default_quality)
        encodes += 1
        if (basis is not middle or middle is image) and len(level_data) >= len(fixed):  # a crop's bytes do not tell
            reason = "bytes"
        elif _colour_error(colour := _colour(basis), level_data) > _colour_error(colour, fixed):
            reason = "colour"
        if reason is not None:
            chosen, data, source, final, found, target = default_quality, fixed, basis, reference_encode, None, None
    slower = slower_encode if detailed and middle is not image else None
    headroom = deadline is None or time.monotonic() + EFFORT_HEADROOM_S < deadline
    if slower is not None and image.width * image.height <= EFFORT_PIXELS and headroom:
        final = slower  # a detailed WebP or AVIF photo, small enough for the slower effort
    if source is image:
        return finish(chosen, data, encodes, found, target, reason)
    return finish(chosen, final(image, chosen), encodes + 1, found, target, reason)
