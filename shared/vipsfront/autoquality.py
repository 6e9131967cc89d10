"""``q=auto``: the lowest encoder quality whose output still looks like the unencoded image (pyvips only).

The search runs on the resized, unencoded output image in memory::

    sample (whole image, or a mosaic of tiles when large) → bisection over a short quality ladder
    (encode the sample with the engine's own encoder, decode it, score it against the unencoded sample)
    → the lowest rung whose score reaches the level's target → final encode of the whole image

The score is SSIM (gaussian window, sigma 1.5) on the luma of both images, flattened onto mid-grey when
they have alpha, computed with libvips operations and read with a single ``avg()``. The target is a
minimum SSIM per output format, because each codec's artefacts weigh differently in SSIM (AVIF smooths,
JPEG rings and blocks); the targets were calibrated against SSIMULACRA2 in ``benchmarks/quality_auto.py``.

Bounds: at most ``MAX_TRIALS`` trial encodes (bisection over ``len(ladder) + 1`` outcomes), plus one final
encode when the search ran on a sample. With a ``deadline`` (``time.monotonic()`` value) the search stops
when the next trial and the final encode would not fit (estimated from the trials so far), and returns the
caller's default quality with ``fell_back`` set and a ``reason``.

Wiring (not done here): the engine calls ``choose`` in place of its encoder when ``q`` is ``auto``, with
``encode=lambda image, q: <engine encoder for the plan with quality q>`` and its default quality for the
format; animations, palettes (PNG/GIF) and lossless outputs do not call it. ``AutoQualityResult.timing``
gives the ``Server-Timing`` entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import pyvips

__all__ = [
    "LADDERS",
    "LEVELS",
    "MAX_TRIALS",
    "AutoQualityResult",
    "Encode",
    "Level",
    "choose",
    "parse_level",
    "sample",
    "score",
]

Encode = Callable[[Any, int], bytes]
"""The engine's encoder for one plan: ``(image, quality) -> encoded bytes``."""


class Level(StrEnum):
    """The value of ``q``: ``auto`` (the default target), ``auto:low`` (smaller), ``auto:high`` (closer)."""

    AUTO = "auto"
    LOW = "auto:low"
    HIGH = "auto:high"


# Minimum SSIM (luma, on the sample) per level and output format. ``auto`` is the median SSIM of the
# fixed defaults (JPEG/WebP 80, AVIF 50) over the corpus at 800 px (0.973, 0.973, 0.967); ``auto:low``
# is where WebP saves about 20 % of the default's bytes on the photos; ``auto:high`` is near-transparent.
# Measured with benchmarks/quality_auto.py; see its docstring for what the targets do and do not meet.
LEVELS: Mapping[Level, Mapping[str, float]] = MappingProxyType(
    {
        Level.LOW: MappingProxyType({"jpeg": 0.950, "webp": 0.950, "avif": 0.945}),
        Level.AUTO: MappingProxyType({"jpeg": 0.973, "webp": 0.973, "avif": 0.967}),
        Level.HIGH: MappingProxyType({"jpeg": 0.985, "webp": 0.985, "avif": 0.980}),
    }
)

# Quality rungs per format, ascending; the engine's defaults (JPEG/WebP 80, AVIF 50) lie inside.
LADDERS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "jpeg": (40, 50, 58, 65, 72, 78, 84, 90),
        "webp": (40, 50, 58, 65, 72, 78, 84, 90),
        "avif": (28, 34, 40, 45, 50, 55, 60, 68),
    }
)

MAX_TRIALS = 4  # ceil(log2(len(ladder) + 1)) for 8 rungs
SAMPLE_PIXELS = 512 * 512  # above this the search runs on a mosaic of tiles
TILE = 128  # tile side: a multiple of the JPEG (8/16), WebP (16) and AVIF (64) block sizes
GRID = 4  # tiles per side of the mosaic, spread evenly over the image
_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True, slots=True)
class AutoQualityResult:
    """What ``choose`` picked. ``score`` is the SSIM of the chosen quality on the sample (``None`` if not
    measured); ``encodes`` counts every encode, the final one included."""

    quality: int
    data: bytes
    level: Level
    encodes: int
    score: float | None
    fell_back: bool = False
    reason: str | None = None  # why it fell back: "deadline"
    ms: float = 0.0  # the whole search, final encode included

    @property
    def timing(self) -> str:
        """A ``Server-Timing`` entry, e.g. ``qauto;dur=41.2;desc="q=65 n=4"``."""
        desc = f"q={self.quality} n={self.encodes}"
        if self.fell_back:
            desc += f" fallback={self.reason}"
        return f'qauto;dur={self.ms:.1f};desc="{desc}"'


def parse_level(value: str) -> Level:
    """``auto``, ``auto:low`` or ``auto:high`` (any case); ``ValueError`` otherwise."""
    try:
        return Level(value.strip().lower())
    except ValueError:
        raise ValueError(f"q must be 1-100, {', '.join(Level)}; got {value!r}") from None


# ---------------------------------------------------------------------------------------------------
# the metric


def _luma(image: Any) -> Any:
    """Float luma of an 8-bit sRGB or grey image, alpha flattened onto mid-grey."""
    if image.hasalpha():
        image = image.flatten(background=[128] * (image.bands - 1))
    if image.bands >= 3:
        image = image.colourspace("b-w")
    return image.cast("float")


def _blur(image: Any) -> Any:
    return image.gaussblur(_SIGMA, precision="float")


@dataclass(frozen=True, slots=True)
class _Reference:
    """Everything SSIM needs from the unencoded sample, computed once."""

    luma: Any
    mu: Any
    sigma_sq: Any


def _reference(image: Any) -> _Reference:
    luma = _luma(image).copy_memory()
    mu = _blur(luma).copy_memory()
    sigma_sq = (_blur(luma * luma) - mu * mu).copy_memory()
    return _Reference(luma, mu, sigma_sq)


def _ssim(ref: _Reference, other: Any) -> float:
    """Mean SSIM of ``other`` against the reference: libvips operations, evaluated by one ``avg()``."""
    y = _luma(other)
    mu = _blur(y)
    sigma_sq = _blur(y * y) - mu * mu
    cross = _blur(ref.luma * y) - ref.mu * mu
    top = (ref.mu * mu * 2 + _C1) * (cross * 2 + _C2)
    bottom = (ref.mu * ref.mu + mu * mu + _C1) * (ref.sigma_sq + sigma_sq + _C2)
    return float((top / bottom).avg())


def score(reference: Any, distorted: Any) -> float:
    """SSIM (luma, alpha on mid-grey) of ``distorted`` against ``reference``, two images of one size."""
    return _ssim(_reference(reference), distorted)


def sample(image: Any) -> Any:
    """The pixels the search encodes: the image itself when small, else a ``GRID`` x ``GRID`` mosaic of
    ``TILE`` px tiles spread evenly over it, aligned to 16 px so block grids match the full encode."""
    width, height = int(image.width), int(image.height)
    if width * height <= SAMPLE_PIXELS or width < TILE * 2 or height < TILE * 2:
        return image
    cols, rows = min(GRID, width // TILE), min(GRID, height // TILE)

    def starts(size: int, count: int) -> list[int]:
        step = (size - TILE) / max(1, count - 1)
        return [min(size - TILE, int(i * step) // 16 * 16) for i in range(count)]

    tiles = [image.extract_area(x, y, TILE, TILE) for y in starts(height, rows) for x in starts(width, cols)]
    return pyvips.Image.arrayjoin(tiles, across=cols)


# ---------------------------------------------------------------------------------------------------
# the search


def _decode(data: bytes) -> Any:
    return pyvips.Image.new_from_buffer(data, "", access="sequential")


def choose(
    image: Any,
    fmt: str,
    encode: Encode,
    *,
    default_quality: int,
    level: Level = Level.AUTO,
    deadline: float | None = None,
) -> AutoQualityResult:
    """Encode ``image`` (resized, 8-bit sRGB or grey, alpha allowed) as ``fmt`` (``jpeg``, ``webp`` or
    ``avif``) at the lowest ladder quality whose SSIM reaches ``LEVELS[level][fmt]``.

    ``encode`` is the engine's encoder (the one place for effort, subsampling, metadata); it must produce
    ``fmt``. ``default_quality`` is what is used when the deadline leaves no time to search. Raises
    ``ValueError`` for another format; libvips errors from ``encode`` propagate.
    """
    if fmt not in LADDERS:
        raise ValueError(f"q=auto supports {', '.join(LADDERS)}, not {fmt}")
    started = time.perf_counter()
    target = LEVELS[level][fmt]
    ladder = LADDERS[fmt]
    image = image.copy_memory()  # several encodes read it: decode and resize once
    small = sample(image)
    whole = small is image
    sample_pixels = int(small.width) * int(small.height)
    full_pixels = int(image.width) * int(image.height)

    def finish(
        quality: int, data: bytes | None, encodes: int, found: float | None, reason: str | None = None
    ) -> AutoQualityResult:
        if data is None:
            data = encode(image, quality)
            encodes += 1
        ms = (time.perf_counter() - started) * 1000.0
        return AutoQualityResult(quality, data, level, encodes, found, reason is not None, reason, round(ms, 3))

    if deadline is not None and time.monotonic() >= deadline:
        return finish(default_quality, None, 0, None, "deadline")

    reference = _reference(small)
    lo, hi = 0, len(ladder)  # the answer is the first passing rung in [lo, hi); hi == len: none passes
    best: tuple[int, bytes, float] | None = None  # (quality, data if whole, score) of the lowest pass
    encodes = 0
    us_per_pixel = 0.0  # measured cost of a trial (encode + decode + score) per sample pixel
    while lo < hi and encodes < MAX_TRIALS:
        if deadline is not None and encodes:
            needed = us_per_pixel * (sample_pixels + (0 if whole else full_pixels)) / 1e6
            if time.monotonic() + needed > deadline:
                if best is not None:
                    return finish(best[0], best[1] if whole else None, encodes, best[2], None)
                return finish(default_quality, None, encodes, None, "deadline")
        mid = (lo + hi) // 2
        trial_started = time.perf_counter()
        data = encode(small, ladder[mid])
        found = _ssim(reference, _decode(data))
        encodes += 1
        us_per_pixel = max(us_per_pixel, (time.perf_counter() - trial_started) * 1e6 / sample_pixels)
        if found >= target:
            best = (ladder[mid], data, found)
            hi = mid
        else:
            lo = mid + 1
    if best is not None:  # the lowest passing rung
        return finish(best[0], best[1] if whole else None, encodes, best[2])
    return finish(ladder[-1], None, encodes, None)  # nothing passed: the top rung, the closest the ladder gets
