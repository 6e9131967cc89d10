"""Writing the variant: one table of output formats (``FORMATS``) and the savers it names.

Adding an output format is a row here (plus its name in the URL grammar and the edge function). The table
is plain data, importable without libvips: the plan reads what a format can hold from it.

Decisions (measured on the team corpus, 2560x1600 photos → 400 px, libvips 8.18):

* Quality: one look in every format, the lowest quality whose median SSIMULACRA2 on the corpus photos
  at 800 px reaches 75 (``docs/quality.md``): JPEG 71, WebP 80, AVIF 58, so ``fm=auto`` gives a photo
  the same look in every browser. ``optimize_coding`` on for JPEG.
* JPEG: quantisation table 3 (``quant_table=3``), baseline: 7 % fewer bytes than the standard table at
  the same median look on photos, 4-6 % on graphics, even (within 2 %) on screenshots; same encode time.
  Progressive scans save 0-2 % more on photos (a few small flat images grow) for 5-13 % more CPU per
  miss, so off. The libjpeg here is mozjpeg: ``trellis_quant`` saves ~12 % bytes but costs ~5x encode
  time at 400 px (7.8 ms vs 1.5 ms), so off.
* WebP: ``effort = Limits.webp_effort`` (4). AVIF: ``heifsave`` av1, ``effort = Limits.avif_effort``
  (2: 400 px in ~40 ms; effort 4 is 6x slower for <10 % fewer bytes).
* PNG: lossless, zlib level 6 (level 9 is 1-2 % smaller at twice the time; level 3 is 20 %
  larger on alpha images). With ``q`` given: 8-bit palette, ``Q = q``, quantiser effort 4 (half the
  time of the default 7, ~15 % larger). GIF: quantiser effort 4 (up to 2x faster than 7).
* Metadata: every saver runs with ``keep="none"``: no EXIF, XMP, IPTC, GPS and no ICC profile. Pixels
  are converted to sRGB first, which is what browsers assume for an untagged image.
* Deadline: an AVIF encode (libheif/aom) cannot be interrupted once libvips has handed it the pixels, so
  the effort is chosen for the time left (``for_deadline``): the configured effort when its estimated
  encode time fits, else a lower one, else ``DeadlineExceededError`` before starting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from vipsfront.engine.limits import Limits
from vipsfront.errors import DeadlineExceededError
from vipsfront.url.spec import Format

log = logging.getLogger(__name__)

SaverOptions = Callable[[Limits, int | None], dict[str, Any]]
"""A saver's options for the limits and the quality (``None``: the format has no default quality)."""


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """One output format: what it can hold and how libvips writes it."""

    media_type: str
    alpha: bool
    animation: bool
    quality: int | None  # the default ``Q`` of a lossy format; None: lossless (PNG) or a palette (GIF)
    saver: str  # the libvips operation that writes a buffer
    options: SaverOptions


FORMATS: Mapping[Format, OutputFormat] = MappingProxyType(
    {
        Format.JPEG: OutputFormat(
            "image/jpeg", alpha=False, animation=False, quality=71, saver="jpegsave_buffer",
            options=lambda limits, q: {"Q": q, "optimize_coding": True, "quant_table": 3},
        ),
        Format.WEBP: OutputFormat(
            "image/webp", alpha=True, animation=True, quality=80, saver="webpsave_buffer",
            options=lambda limits, q: {"Q": q, "effort": limits.webp_effort},
        ),
        Format.AVIF: OutputFormat(
            "image/avif", alpha=True, animation=False, quality=58, saver="heifsave_buffer",
            options=lambda limits, q: {"Q": q, "compression": "av1", "effort": limits.avif_effort, "bitdepth": 8},
        ),
        Format.PNG: OutputFormat(
            "image/png", alpha=True, animation=False, quality=None, saver="pngsave_buffer",
            options=lambda limits, q: {"compression": 6} if q is None else {"palette": True, "Q": q, "effort": 4},
        ),
        Format.GIF: OutputFormat(
            "image/gif", alpha=True, animation=True, quality=None, saver="gifsave_buffer",
            options=lambda limits, q: {"effort": 4},
        ),
    }
)  # fmt: skip


def save(image: Any, fmt: Format, limits: Limits, q: int | None = None, **extra: Any) -> bytes:
    """Write ``image`` (8-bit sRGB or grey) as ``fmt`` at ``q`` (default: the format's), with the table's
    saver and options plus ``extra``; ``keep="none"`` strips EXIF, XMP, IPTC and ICC."""
    row = FORMATS[fmt]
    options = row.options(limits, row.quality if q is None else q)
    return bytes(getattr(image, row.saver)(keep="none", **options, **extra))


@dataclass(frozen=True, slots=True)
class Encoded:
    """The variant's bytes, with timings (ms) and their descriptions for ``Server-Timing``."""

    data: bytes
    timings: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def encode(
    image: Any,
    fmt: Format,
    q: int | None,
    limits: Limits,
    *,
    deadline: float | None = None,
) -> Encoded:
    """Write the variant at ``q`` or the format's default.

    With a ``deadline`` (``time.monotonic()``), an AVIF's effort is lowered to fit the time left
    (``for_deadline``).
    """
    remaining = None if deadline is None else deadline - time.monotonic()
    fitted = for_deadline(fmt, int(image.width) * int(image.height), limits, remaining)
    if fitted is not limits:
        log.info("AVIF effort %d instead of %d to meet the deadline", fitted.avif_effort, limits.avif_effort)
    return Encoded(save(image, fmt, fitted, q))


# AVIF encode cost in microseconds per output pixel, by effort (0..9): measured here at 1000x750 to
# 4000x3000 (effort 0: 0.05-0.07, 1: 0.06-0.08, 2: 0.2-0.4, 3: 0.16-0.24), doubled or more for slower CPUs;
# efforts above 3 follow the DESIGN's "effort 4 is 4x effort 2" and double from there.
AVIF_US_PER_PIXEL = (0.15, 0.2, 0.8, 0.8, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4)


def avif_effort_for(pixels: int, preferred: int, remaining_s: float | None) -> int:
    """The highest AVIF effort up to ``preferred`` whose estimated encode of ``pixels`` fits the time left.

    Raises ``DeadlineExceededError`` when not even effort 0 fits: failing now is cheaper than an encode
    that cannot be stopped and would end after the deadline.
    """
    if remaining_s is None:
        return preferred
    for effort in range(min(preferred, len(AVIF_US_PER_PIXEL) - 1), -1, -1):
        if AVIF_US_PER_PIXEL[effort] * pixels / 1e6 <= remaining_s:
            return effort
    raise DeadlineExceededError("not enough time left to encode AVIF")


def for_deadline(fmt: Format, pixels: int, limits: Limits, remaining_s: float | None) -> Limits:
    """``limits`` with an AVIF effort lowered so the encode of ``pixels`` fits ``remaining_s`` (``limits``
    itself when nothing changes)."""
    if fmt != Format.AVIF:
        return limits
    effort = avif_effort_for(pixels, limits.avif_effort, remaining_s)
    return limits if effort == limits.avif_effort else replace(limits, avif_effort=effort)
