"""Generated originals: photo-like images that compress like photographs and are the same on every run.

The soak seeds its origin with them; the tests make their originals with them too.
"""

from __future__ import annotations

from pathlib import Path

import pyvips


def photo(width: int = 1200, height: int = 800) -> pyvips.Image:
    """A photo-like sRGB image: a colour gradient with Perlin texture, so it compresses like a photograph
    (a flat test card would not) and every run makes the same pixels."""
    xy = pyvips.Image.xyz(width, height)
    base = (xy[0] * 255 / width).bandjoin([xy[1] * 255 / height, (xy[0] + xy[1]) * 127 / (width + height)])
    noise = pyvips.Image.perlin(width, height, cell_size=32) * 30
    return (base + noise).cast("uchar").copy(interpretation="srgb")


def photo_jpeg(width: int = 1200, height: int = 800, quality: int = 90) -> bytes:
    """:func:`photo` as JPEG bytes."""
    return bytes(photo(width, height).jpegsave_buffer(Q=quality))


def seed(folder: Path) -> list[str]:
    """A mixed set of originals in ``folder``: JPEG photos, a WebP, a PNG with alpha, an animated GIF;
    their keys."""
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    photo(1600, 1200).jpegsave(str(folder / "photos/a.jpg"), Q=88)
    photo(2400, 1600).jpegsave(str(folder / "photos/b.jpg"), Q=88)
    photo(1200, 800).webpsave(str(folder / "photos/c.webp"), Q=85)
    photo(800, 600).jpegsave(str(folder / "photos/d.jpg"), Q=88)
    alpha = photo(1000, 1000).bandjoin(pyvips.Image.xyz(1000, 1000)[0] * 255 / 1000).cast("uchar")
    alpha.pngsave(str(folder / "alpha.png"))
    frames = [photo(200, 200).rot("d90" if i % 2 else "d0") for i in range(10)]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 200)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [80] * 10)
    strip.gifsave(str(folder / "anim.gif"))
    return ["photos/a.jpg", "photos/b.jpg", "photos/c.webp", "photos/d.jpg", "alpha.png", "anim.gif"]
