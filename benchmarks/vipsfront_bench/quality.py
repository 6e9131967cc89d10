"""Perceptual score of an output: SSIM against the same-size reference resize; bytes at matched SSIM.

The reference is the original fully decoded (no shrink-on-load), alpha flattened on white, resized
by libvips with lanczos3 to exactly the output's size. SSIM is Wang et al.'s, on luma (BT.601), with an
11x11 gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, computed with numpy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

WINDOW = 11
SIGMA = 1.5


def _srgb_on_white(image: Any) -> Any:
    if image.interpretation not in ("srgb",) or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image.cast("uchar")


def luma(image: Any) -> np.ndarray:
    """BT.601 luma of ``image`` (made sRGB, alpha flattened on white) as a float array."""
    image = _srgb_on_white(image)
    array = np.ndarray(
        buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, image.bands)
    ).astype(np.float64)
    return array[..., 0] * 0.299 + array[..., 1] * 0.587 + array[..., 2] * 0.114


@lru_cache(maxsize=64)
def reference(path: str, width: int, height: int) -> np.ndarray:
    """Luma of the original, fully decoded and resized with lanczos3 to ``width`` x ``height``."""
    image = _srgb_on_white(pyvips.Image.new_from_file(path).autorot())
    resized = image.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
    resized = (
        resized.embed(0, 0, width, height, extend="copy")
        if (resized.width, resized.height)
        != (
            width,
            height,
        )
        else resized
    )
    return luma(resized)


def _kernel() -> np.ndarray:
    x = np.arange(WINDOW) - WINDOW // 2
    k = np.exp(-(x**2) / (2 * SIGMA**2))
    return k / k.sum()


def _filter(a: np.ndarray) -> np.ndarray:
    """Separable gaussian, 'valid' region only."""
    k = _kernel()
    h, w = a.shape
    rows = sum(k[i] * a[:, i : w - WINDOW + 1 + i] for i in range(WINDOW))
    return sum(k[i] * rows[i : h - WINDOW + 1 + i, :] for i in range(WINDOW))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two equal-size luma arrays (11x11 gaussian window, sigma 1.5)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _filter(a), _filter(b)
    aa, bb, ab = _filter(a * a) - mu_a**2, _filter(b * b) - mu_b**2, _filter(a * b) - mu_a * mu_b
    score = ((2 * mu_a * mu_b + c1) * (2 * ab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (aa + bb + c2))
    return float(score.mean())


def score(output: bytes, original: Path) -> dict[str, float]:
    """SSIM of ``output`` against the reference resize of ``original`` at the output's size."""
    image = pyvips.Image.new_from_buffer(output, "")
    return {
        "ssim": ssim(luma(image), reference(str(original), image.width, image.height)),
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
