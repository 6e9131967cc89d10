"""Helpers shared by the tests and by the scripts in ``benchmarks/`` (they add ``tests/`` to ``sys.path``).

One generator of photo-like originals; a free port and the local S3 come from ``vipsfront.cli.embedded_s3``,
SSIM from ``vipsfront_bench.quality``.
"""

from __future__ import annotations

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
