"""Sample originals for a fresh ``vipsfront serve``: generated, so the package ships no binaries.

Each one exercises a different path of the engine: a large photo-like JPEG (shrink-on-load), a portrait
JPEG stored sideways with EXIF orientation 6, an RGBA PNG (alpha, ``fm=auto`` → PNG for old clients) and
an animated GIF.
"""

from __future__ import annotations

import pyvips


def _landscape(width: int, height: int) -> pyvips.Image:
    """A textured sky-to-ground gradient with a sun: compresses like a photograph, not a flat fill."""
    y = pyvips.Image.xyz(width, height)[1] / height
    sky = (y * [-120, -60, 40] + [120, 170, 235]).cast("uchar")
    ground = (y * [40, 30, -10] + [60, 110, 40]).cast("uchar")
    image = (y > 0.62).ifthenelse(ground, sky)
    texture = pyvips.Image.perlin(width, height, cell_size=max(8, width // 24), seed=7) * 40
    image = (image + texture.bandjoin([texture, texture])).cast("uchar")
    sun = pyvips.Image.black(width, height).draw_circle(
        [255], width * 7 // 10, height // 4, max(4, height // 9), fill=True
    )
    return (sun > 0).ifthenelse([255, 222, 120], image).copy(interpretation="srgb")


def _with_orientation(image: pyvips.Image, orientation: int) -> pyvips.Image:
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image


def generate() -> dict[str, bytes]:
    """``{key: bytes}`` of the sample originals."""
    landscape = _landscape(2400, 1600)
    portrait = _landscape(1000, 1500).rot270()  # stored sideways; orientation 6 (turn 90° clockwise) sets it upright
    rgba = (
        _landscape(900, 900)
        .bandjoin(pyvips.Image.black(900, 900).draw_circle([255], 450, 450, 420, fill=True))
        .copy(interpretation="srgb")
    )
    frames = [_landscape(320, 200).draw_circle([255, 60, 60], 20 + i * 28, 150, 18, fill=True) for i in range(10)]
    animation = pyvips.Image.arrayjoin(frames, across=1).copy()
    animation.set_type(pyvips.GValue.gint_type, "page-height", 200)
    animation.set_type(pyvips.GValue.array_int_type, "delay", [80] * len(frames))
    animation.set_type(pyvips.GValue.gint_type, "loop", 0)
    return {
        "samples/landscape.jpg": landscape.jpegsave_buffer(Q=88),
        "samples/portrait.jpg": _with_orientation(portrait, 6).jpegsave_buffer(Q=88),
        "samples/badge.png": rgba.pngsave_buffer(),
        "samples/bouncing.gif": animation.gifsave_buffer(),
    }
