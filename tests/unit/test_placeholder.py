"""ThumbHash and dominant colour: the encoder against its own decoder, and on real pipelines."""

from __future__ import annotations

import base64

import pytest
import pyvips

from vipsfront.engine.limits import Limits
from vipsfront.engine.placeholder import (
    compute,
    dominant_color,
    rgba_to_thumbhash,
    thumbhash_to_aspect_ratio,
    thumbhash_to_average_rgba,
    thumbhash_to_rgba,
)


def gradient(w: int, h: int, alpha: bool = False) -> list[int]:
    """Red grows to the right, green downwards; with ``alpha`` the right third is transparent."""
    pixels = []
    for y in range(h):
        for x in range(w):
            pixels += [x * 255 // (w - 1), y * 255 // (h - 1), 96, 0 if alpha and x >= 2 * w // 3 else 255]
    return pixels


def mean(values: list[int]) -> float:
    return sum(values) / len(values)


def test_pinned_hashes() -> None:
    # Checked bit for bit against the reference JavaScript implementation when this encoder was written.
    assert base64.b64encode(rgba_to_thumbhash(32, 24, gradient(32, 24))).decode() == "3fgJPZqAh4dweIiIiHiHiIBwCPh3"
    assert base64.b64encode(rgba_to_thumbhash(1, 1, [255, 0, 0, 255])).decode() == "1fsrB38I9wiIh4hwj3CI+AiIgIAICIgA"


def test_round_trip_keeps_colour_aspect_and_layout() -> None:
    w, h, pixels = 32, 20, gradient(32, 20)
    hash_ = rgba_to_thumbhash(w, h, pixels)
    assert 5 <= len(hash_) <= 25
    assert thumbhash_to_aspect_ratio(hash_) == pytest.approx(w / h, rel=0.2)
    dw, dh, decoded = thumbhash_to_rgba(hash_)
    assert dw == 32 and dh == pytest.approx(20, abs=2)  # the hash stores the aspect ratio roughly
    for band in range(3):  # the average colour survives
        assert mean(decoded[band::4]) == pytest.approx(mean(pixels[band::4]), abs=12)
    r, g, b, a = thumbhash_to_average_rgba(hash_)
    assert (r * 255, g * 255, b * 255, a) == pytest.approx((127, 127, 96, 1), abs=10)
    # and so does the layout: red on the right, green at the bottom
    left, right = decoded[(dh // 2 * dw + 1) * 4], decoded[(dh // 2 * dw + dw - 2) * 4]
    top, bottom = decoded[(dw // 2) * 4 + 1], decoded[((dh - 1) * dw + dw // 2) * 4 + 1]
    assert right - left > 120 and bottom - top > 120
    assert set(decoded[3::4]) == {255}


def test_alpha_round_trip() -> None:
    hash_ = rgba_to_thumbhash(30, 30, gradient(30, 30, alpha=True))
    assert hash_[2] & 0x80  # the alpha flag
    w, h, decoded = thumbhash_to_rgba(hash_)
    alpha = decoded[3::4]
    assert alpha[h // 2 * w + 2] > 200 and alpha[h // 2 * w + w - 2] < 60


def test_encoder_refuses_large_input() -> None:
    with pytest.raises(ValueError, match="100x100"):
        rgba_to_thumbhash(101, 10, [0] * 4040)


def test_dominant_colour_is_the_most_common_not_the_mean() -> None:
    wall, door = [128, 128, 128, 255], [220, 20, 20, 255]
    assert dominant_color(wall * 70 + door * 30) == "#808080"
    assert dominant_color([0, 0, 0, 0] * 10 + door) == "#dc1414"  # transparent pixels do not count
    assert dominant_color([0, 0, 0, 0]) == "#000000"


def test_compute_on_real_images() -> None:
    photo = (pyvips.Image.black(600, 300) + [30, 90, 200]).cast("uchar").copy(interpretation="srgb")
    sideways = photo.rot90().copy()
    sideways.set_type(pyvips.GValue.gint_type, "orientation", 8)
    for data in (photo.jpegsave_buffer(), sideways.jpegsave_buffer(), photo.pngsave_buffer()):
        found = compute(data, Limits())
        assert (found.width, found.height) == (32, 16)  # upright, within 32x32
        r, g, b = (int(found.color[i : i + 2], 16) for i in (1, 3, 5))
        assert (r, g, b) == pytest.approx((30, 90, 200), abs=6)
        assert found.data_url().startswith("data:image/png;base64,")
        png = pyvips.Image.new_from_buffer(base64.b64decode(found.data_url().split(",")[1]), "")
        assert (png.width, png.bands) == (32, 4) and png.height == pytest.approx(16, abs=2)
        assert png.avg() > 0


def test_compute_on_grey_and_alpha() -> None:
    grey = pyvips.Image.black(64, 64).copy(interpretation="b-w") + 200
    assert compute(grey.cast("uchar").pngsave_buffer(), Limits()).color == "#c8c8c8"
    badge = (pyvips.Image.black(64, 64) + [250, 10, 10]).cast("uchar")
    badge = badge.bandjoin(pyvips.Image.black(64, 64).draw_circle([255], 32, 32, 20, fill=True))
    found = compute(badge.copy(interpretation="srgb").pngsave_buffer(), Limits())
    assert int(found.color[1:3], 16) > 240 and found.color[3:] == "0a0a"
    assert base64.b64decode(found.thumbhash)[2] & 0x80
