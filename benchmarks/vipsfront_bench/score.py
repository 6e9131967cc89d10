"""Perceptual score of an output: SSIM against the same-size reference resize; bytes at matched SSIM.

The reference is the original fully decoded (no shrink-on-load), alpha flattened on white, resized
by libvips with lanczos3 to exactly the output's size. SSIM is the runtime's own (``vipsfront.engine.autoquality``,
the metric ``q=auto`` searches with: luma, gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03), so the
benchmark and the origin score quality the same way.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pyvips

from vipsfront.engine.autoquality import score as ssim


def srgb_on_white(image: Any) -> Any:
    """``image`` as 8-bit sRGB (three bands), alpha flattened on white."""
    if image.interpretation not in ("srgb",) or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image.cast("uchar")


@lru_cache(maxsize=64)
def reference(path: str, width: int, height: int) -> Any:
    """The original, fully decoded and resized with lanczos3 to ``width`` x ``height`` (kept in memory)."""
    image = srgb_on_white(pyvips.Image.new_from_file(path).autorot())
    resized = image.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
    if (resized.width, resized.height) != (width, height):
        resized = resized.embed(0, 0, width, height, extend="copy")
    return resized.copy_memory()


def score(output: bytes, original: Path) -> dict[str, float]:
    """SSIM of ``output`` against the reference resize of ``original`` at the output's size."""
    image = pyvips.Image.new_from_buffer(output, "")
    return {
        "ssim": ssim(reference(str(original), image.width, image.height), srgb_on_white(image)),
        "width": image.width,
        "height": image.height,
        "bytes": len(output),
    }


def bytes_at(points: list[tuple[float, float]], target: float) -> float | None:
    """Bytes at SSIM ``target`` from (ssim, bytes) points of rising quality, linearly interpolated;
    None when the target is outside the points' range."""
    points = sorted(points)
    for (s0, b0), (s1, b1) in zip(points, points[1:], strict=False):
        if s0 <= target <= s1:
            return b0 if s1 == s0 else b0 + (b1 - b0) * (target - s0) / (s1 - s0)
    return None
