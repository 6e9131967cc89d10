"""``q=auto``: the lowest encoder quality that still looks like the fixed default (pyvips only).

The search runs on the resized, unencoded output image in memory::

    sample (whole image, or a mosaic of tiles when large) → encode it at the format's default quality
    with the engine's default settings: its score is the look to keep → bisection over a quality ladder
    up to that default, with the encoder the engine gives (``q=auto``'s tuned settings) → the lowest rung
    whose score stays within the level's allowance → final encode of the whole image

The score is SSIM (gaussian window, sigma 1.5) computed with libvips operations, pooled by 16 px tiles
and read at the 10th percentile of the tiles (the worst areas count, as they do for a viewer), on luma
with alpha flattened onto mid-grey, and, for images with alpha, the lower of that and the alpha band's
own score (AVIF's alpha is lossy). Pooled this way it tracks SSIMULACRA2 better than a mean
(``benchmarks/quality_auto.py``). The target is relative: the error (``1 - score``) of the default may
grow by ``ALLOWANCE[level]``; so a simple image, whose default is already near-perfect, keeps a near-perfect
look, and the quality never rises above the default's (the ladder stops there).

Bounds: at most ``MAX_TRIALS`` trial encodes after the reference, plus one final encode when the search ran
on a sample. With a ``deadline`` (``time.monotonic()`` value) the search stops when the next trial and the
final encode would not fit (estimated from the trials so far), and returns the best passing rung so far,
or the caller's default quality with ``fell_back`` set and a ``reason``. When the passing rung is not
smaller than the default's encode on the sample (AV1 at a few hundred bytes is not monotonic in quality),
the default is kept, encoded with ``reference_encode``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pyvips

from vipsfront.spec import Quality

__all__ = [
    "ALLOWANCE",
    "LADDERS",
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

Level = Quality
"""The value of ``q``: ``auto`` (the default's look), ``auto:low`` (smaller), ``auto:high`` (closer)."""

# How much the error (1 - pooled SSIM) of the default-quality encode may grow, per level: ``auto`` keeps the
# default's look within about 2 SSIMULACRA2 points; ``auto:high`` asks for a closer look than the default.
ALLOWANCE: Mapping[Level, float] = MappingProxyType({Level.LOW: 1.6, Level.AUTO: 1.25, Level.HIGH: 0.8})

# Quality rungs per format, ascending; each ends at the format's default in the engine (JPEG/WebP 80,
# AVIF 50), which ``auto`` never exceeds; ``auto:high`` may go above it.
LADDERS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "jpeg": (50, 56, 61, 65, 68, 71, 74, 77, 80, 84, 88, 92),
        "webp": (50, 56, 61, 65, 68, 71, 74, 77, 80, 84, 88, 92),
        "avif": (30, 34, 38, 41, 44, 47, 50, 54, 58, 63),
    }
)

MAX_TRIALS = 4  # bisection over at most 15 outcomes
SAMPLE_PIXELS = 256 * 256  # above this the search runs on a mosaic of tiles
TILE = 64  # tile side: a multiple of the JPEG (8/16), WebP (16) and AVIF (64) block sizes
GRID = 4  # tiles per side of the mosaic, spread evenly over the image
POOL = 16  # SSIM is averaged over POOL x POOL blocks, then read at PERCENTILE
PERCENTILE = 10
_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True, slots=True)
class AutoQualityResult:
    """What ``choose`` picked. ``score`` is the pooled SSIM of the chosen quality on the sample (``None`` if
    not measured), ``target`` the score it had to reach; ``encodes`` counts every encode, the reference
    and the final one included."""

    quality: int
    data: bytes
    level: Level
    encodes: int
    score: float | None
    target: float | None = None
    fell_back: bool = False
    reason: str | None = None  # why it fell back: "deadline"
    ms: float = 0.0  # the whole search, final encode included

    @property
    def description(self) -> str:
        """``q=65 n=4``, plus ``fallback=deadline`` when the default quality was used for lack of time."""
        desc = f"q={self.quality} n={self.encodes}"
        return desc + f" fallback={self.reason}" if self.fell_back else desc

    @property
    def timing(self) -> str:
        """A ``Server-Timing`` entry, e.g. ``qauto;dur=41.2;desc="q=65 n=4"``."""
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


def _rungs(fmt: str, default_quality: int, level: Level) -> tuple[int, ...]:
    """The rungs searched: up to the default for ``auto:low``, one rung past it for ``auto`` (taken only
    when the tuned encoder misses the default's look at the default's quality), all for ``auto:high``."""
    ladder = tuple(sorted({*LADDERS[fmt], default_quality}))
    if level is Level.HIGH:
        return ladder
    top = ladder.index(default_quality) + (1 if level is Level.AUTO else 0)
    return ladder[: top + 1]


def choose(
    image: Any,
    fmt: str,
    encode: Encode,
    *,
    default_quality: int,
    level: Level = Level.AUTO,
    deadline: float | None = None,
    reference_encode: Encode | None = None,
) -> AutoQualityResult:
    """Encode ``image`` (resized, 8-bit sRGB or grey, alpha allowed) as ``fmt`` (``jpeg``, ``webp`` or
    ``avif``) at the lowest ladder quality whose score stays within ``ALLOWANCE[level]`` of the default's.

    ``encode`` is the engine's encoder for ``q=auto`` (the one place for effort, subsampling, metadata);
    ``reference_encode`` its encoder for a fixed quality (``encode`` when not given): the default's look
    is ``reference_encode(sample, default_quality)``. Both must produce ``fmt``. ``default_quality`` is
    also what is used when the deadline leaves no time to search. Raises ``ValueError`` for another
    format; libvips errors from the encoders propagate.
    """
    if fmt not in LADDERS:
        raise ValueError(f"q=auto supports {', '.join(LADDERS)}, not {fmt}")
    started = time.perf_counter()
    ladder = _rungs(fmt, default_quality, level)
    image = image.copy_memory()  # several encodes read it: decode and resize once
    small = sample(image)
    whole = small is image
    sample_pixels = int(small.width) * int(small.height)
    full_pixels = int(image.width) * int(image.height)

    def finish(
        quality: int,
        data: bytes | None,
        encodes: int,
        found: float | None,
        target: float | None,
        reason: str | None = None,
    ) -> AutoQualityResult:
        if data is None:
            data = encode(image, quality)
            encodes += 1
        ms = round((time.perf_counter() - started) * 1000.0, 3)
        return AutoQualityResult(quality, data, level, encodes, found, target, reason is not None, reason, ms)

    if deadline is not None and time.monotonic() >= deadline:
        return finish(default_quality, None, 0, None, None, "deadline")

    reference = _reference(small)
    trial_started = time.perf_counter()
    default_data = (reference_encode or encode)(small, default_quality)
    default_score = _ssim(reference, _decode(default_data))
    us_per_pixel = (time.perf_counter() - trial_started) * 1e6 / sample_pixels  # encode + decode + score
    target = 1.0 - (1.0 - default_score) * ALLOWANCE[level]
    encodes = 1
    lo, hi = 0, len(ladder)  # the answer is the first passing rung in [lo, hi); hi == len: none passes
    best: tuple[int, bytes, float] | None = None  # (quality, data, score) of the lowest pass so far
    trials = 0
    while lo < hi and trials < MAX_TRIALS:
        if deadline is not None:
            needed = us_per_pixel * (sample_pixels + (0 if whole else full_pixels)) / 1e6
            if time.monotonic() + needed > deadline:
                if best is not None:
                    return finish(best[0], best[1] if whole else None, encodes, best[2], target)
                return finish(default_quality, None, encodes, None, target, "deadline")
        mid = (lo + hi) // 2
        trial_started = time.perf_counter()
        data = encode(small, ladder[mid])
        found = _ssim(reference, _decode(data))
        encodes += 1
        trials += 1
        us_per_pixel = max(us_per_pixel, (time.perf_counter() - trial_started) * 1e6 / sample_pixels)
        if found >= target:
            best = (ladder[mid], data, found)
            hi = mid
        else:
            lo = mid + 1
    if best is not None and len(best[1]) < len(default_data):  # the lowest passing rung, if it is smaller
        return finish(best[0], best[1] if whole else None, encodes, best[2], target)
    if best is not None or level is not Level.HIGH:  # no gain on the sample (small AVIFs are not monotonic)
        data = default_data if whole else (reference_encode or encode)(image, default_quality)
        return finish(default_quality, data, encodes + (0 if whole else 1), default_score, target)
    return finish(ladder[-1], None, encodes, None, target)  # nothing passed: the top rung searched
