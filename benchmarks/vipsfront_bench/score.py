"""How good an output looks, and what it weighs: SSIMULACRA2 against a reference, bytes at a target score.

SSIMULACRA2 (the ``ssimulacra2`` package, the bench extra) is independent of every encoder measured and
reads as: 90 visually lossless, 70 high quality, 50 medium. Images with alpha are scored flattened on a
dark and on a light grey, the lower score counts. An engine's output is scored against the original
fully decoded (no shrink-on-load) and resized with lanczos3 to exactly the output's size
(:func:`reference`), so every engine is read against the same pixels.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyvips
from ssimulacra2 import compute_ssimulacra2

GREYS = (26, 230)  # 0.1 and 0.9 of white, as SSIMULACRA2's own tool flattens alpha


def _png(image: Any) -> io.BytesIO:
    return io.BytesIO(bytes(image.pngsave_buffer(compression=1)))


def _srgb(image: Any) -> Any:
    """8-bit sRGB, alpha kept."""
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.bands in (1, 2):
        image = image.colourspace("srgb")
    return image.cast("uchar")


def ssimulacra2(reference: Any, output: bytes) -> float:
    """SSIMULACRA2 of the encoded ``output`` against the unencoded ``reference`` image of the same size."""
    reference, distorted = _srgb(reference), _srgb(pyvips.Image.new_from_buffer(output, ""))
    if not reference.hasalpha() and not distorted.hasalpha():
        return float(compute_ssimulacra2(_png(reference), _png(distorted)))
    scores = []
    for grey in GREYS:
        # an encoder may drop an alpha band that is all opaque (WebP does): then there is nothing to flatten
        flat = [img.flatten(background=[grey] * 3) if img.hasalpha() else img for img in (reference, distorted)]
        scores.append(compute_ssimulacra2(_png(flat[0]), _png(flat[1])))
    return float(min(scores))


@lru_cache(maxsize=64)
def reference(path: str, width: int, height: int) -> Any:
    """The original, fully decoded and resized with lanczos3 to ``width`` x ``height`` (kept in memory)."""
    image = _srgb(pyvips.Image.new_from_file(path).autorot())
    resized = image.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
    if (resized.width, resized.height) != (width, height):
        resized = resized.embed(0, 0, width, height, extend="copy")
    return resized.copy_memory()


def score(output: bytes, original: Path) -> dict[str, float]:
    """SSIMULACRA2, size and bytes of ``output`` against the reference resize of ``original``."""
    image = pyvips.Image.new_from_buffer(output, "")
    return {
        "ssimulacra2": ssimulacra2(reference(str(original), image.width, image.height), output),
        "width": image.width,
        "height": image.height,
        "bytes": len(output),
    }


def bytes_at(points: list[tuple[float, float]], target: float) -> float | None:
    """Bytes at score ``target`` from (score, bytes) points of rising quality, linearly interpolated;
    None when the target is outside the points' range."""
    points = sorted(points)
    for (s0, b0), (s1, b1) in zip(points, points[1:], strict=False):
        if s0 <= target <= s1:
            return b0 if s1 == s0 else b0 + (b1 - b0) * (target - s0) / (s1 - s0)
    return None
