"""``q=auto``'s search on generated images: decoded outputs, chosen qualities, bounds and the deadline."""

from __future__ import annotations

import time
from typing import Any

import pytest
import pyvips

from vipsfront import autoquality
from vipsfront.autoquality import ALLOWANCE, LADDERS, MAX_TRIALS, Level, choose, parse_level

DEFAULTS = {"jpeg": 80, "webp": 80, "avif": 50}
LOADERS = {"jpeg": "jpegload", "webp": "webpload", "avif": "heifload"}


class Encoder:
    """An encoder like the engine's (keep="none", the engine's efforts), counting its calls."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.calls: list[int] = []

    def __call__(self, image: Any, quality: int) -> bytes:
        self.calls.append(quality)
        if self.fmt == "jpeg":
            return bytes(image.jpegsave_buffer(Q=quality, optimize_coding=True, keep="none"))
        if self.fmt == "webp":
            return bytes(image.webpsave_buffer(Q=quality, effort=4, keep="none"))
        return bytes(image.heifsave_buffer(Q=quality, compression="av1", effort=2, bitdepth=8, keep="none"))


def smooth(width: int = 320, height: int = 240) -> Any:
    """A soft two-colour gradient: sky-like, easy to compress."""
    x = pyvips.Image.xyz(width, height)
    gx = x[0] * (255.0 / width)
    gy = x[1] * (255.0 / height)
    return gx.bandjoin([gy, (gx + gy) / 2]).cast("uchar").copy(interpretation="srgb")


def detailed(width: int = 320, height: int = 240) -> Any:
    """Strong noise over a gradient: every encoder artefact shows."""
    noise = pyvips.Image.gaussnoise(width, height, sigma=45, mean=128)
    bands = noise.bandjoin([noise.flip("horizontal"), smooth(width, height)[0]])
    return bands.cast("uchar").copy(interpretation="srgb")


def with_alpha(image: Any) -> Any:
    x = pyvips.Image.xyz(image.width, image.height)[0]
    alpha = (x * (255.0 / image.width)).cast("uchar")
    return image.bandjoin(alpha)


def decoded(data: bytes, fmt: str) -> Any:
    image = pyvips.Image.new_from_buffer(data, "")
    assert image.get("vips-loader").startswith(LOADERS[fmt]), image.get("vips-loader")
    return image


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_decodes_to_the_format_and_size(fmt: str) -> None:
    image = smooth(253, 197)  # under SAMPLE_PIXELS: searched whole
    result = choose(image, fmt, Encoder(fmt), default_quality=DEFAULTS[fmt])
    out = decoded(result.data, fmt)
    assert (out.width, out.height) == (253, 197)
    assert result.quality in LADDERS[fmt]
    assert not result.fell_back and result.reason is None
    assert result.score is not None and result.target is not None and result.score >= result.target
    assert autoquality.score(image, out) == pytest.approx(result.score, abs=1e-3)


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_auto_never_goes_above_the_default_when_the_default_keeps_the_look(fmt: str) -> None:
    """With the same encoder for the reference and the search, the default itself passes: never above it."""
    for image in (smooth(), detailed()):
        result = choose(image, fmt, Encoder(fmt), default_quality=DEFAULTS[fmt])
        assert result.quality <= DEFAULTS[fmt]


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_flat_image_needs_fewer_bytes_than_the_default(fmt: str) -> None:
    image = smooth(240, 180)
    flat = choose(image, fmt, Encoder(fmt), default_quality=DEFAULTS[fmt])
    assert flat.quality < DEFAULTS[fmt]
    assert len(flat.data) < len(Encoder(fmt)(image, DEFAULTS[fmt]))


def test_levels_order_the_quality() -> None:
    image = detailed(256, 256)
    chosen = {level: choose(image, "webp", Encoder("webp"), default_quality=80, level=level) for level in Level}
    assert chosen[Level.LOW].quality <= chosen[Level.AUTO].quality <= chosen[Level.HIGH].quality
    assert chosen[Level.LOW].quality < chosen[Level.HIGH].quality


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_encodes_are_bounded(fmt: str) -> None:
    for image in (smooth(), detailed()):
        encoder = Encoder(fmt)
        result = choose(image, fmt, encoder, default_quality=DEFAULTS[fmt])
        assert result.encodes == len(encoder.calls) <= MAX_TRIALS + 2  # reference, trials, final
        assert set(encoder.calls) <= set(LADDERS[fmt])


def test_large_image_is_searched_on_a_sample_then_encoded_whole() -> None:
    image = detailed(1200, 900)
    small = autoquality.sample(image)
    assert small.width * small.height <= autoquality.SAMPLE_PIXELS
    encoder = Encoder("jpeg")
    result = choose(image, "jpeg", encoder, default_quality=80)
    assert result.encodes == len(encoder.calls) <= MAX_TRIALS + 2
    assert encoder.calls[-1] == result.quality
    out = decoded(result.data, "jpeg")
    assert (out.width, out.height) == (1200, 900)


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_deadline_passed_falls_back_to_the_default(fmt: str) -> None:
    encoder = Encoder(fmt)
    result = choose(detailed(), fmt, encoder, default_quality=DEFAULTS[fmt], deadline=time.monotonic())
    assert (result.quality, result.fell_back, result.reason) == (DEFAULTS[fmt], True, "deadline")
    assert encoder.calls == [DEFAULTS[fmt]] and result.encodes == 1
    out = decoded(result.data, fmt)
    assert (out.width, out.height) == (320, 240)
    assert "fallback=deadline" in result.timing


def test_deadline_too_short_for_the_next_trial_stops_the_search() -> None:
    """After one trial the measured cost says no second one fits: default quality, said so."""
    slow = Encoder("jpeg")

    def encode(image: Any, quality: int) -> bytes:
        time.sleep(0.2)
        return slow(image, quality)

    result = choose(detailed(), "jpeg", encode, default_quality=80, deadline=time.monotonic() + 0.3)
    assert result.fell_back and result.reason == "deadline"
    assert result.quality == 80 and slow.calls[-1] == 80
    assert result.encodes == len(slow.calls) <= 2


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_alpha_is_kept(fmt: str) -> None:
    image = with_alpha(detailed(200, 150))
    result = choose(image, fmt, Encoder(fmt), default_quality=DEFAULTS[fmt])
    out = decoded(result.data, fmt)
    assert (out.width, out.height, out.bands) == (200, 150, 4)
    assert out.hasalpha()


def test_grey_image() -> None:
    image = smooth()[0].copy(interpretation="b-w")
    result = choose(image, "jpeg", Encoder("jpeg"), default_quality=80)
    out = decoded(result.data, "jpeg")
    assert (out.width, out.height, out.bands) == (320, 240, 1)


def test_other_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="png"):
        choose(smooth(), "png", Encoder("jpeg"), default_quality=80)


def test_levels_parse() -> None:
    assert parse_level("auto") is Level.AUTO
    assert parse_level("AUTO:high") is Level.HIGH
    assert parse_level("auto:low") is Level.LOW
    with pytest.raises(ValueError, match="auto:low"):
        parse_level("auto:best")


def test_trials_cover_the_ladders() -> None:
    """Bisection over n rungs has n + 1 outcomes: MAX_TRIALS must reach each."""
    assert all(2**MAX_TRIALS >= len(ladder) + 1 for ladder in LADDERS.values())
    assert all(list(ladder) == sorted(set(ladder)) for ladder in LADDERS.values())
    assert all(DEFAULTS[fmt] in ladder for fmt, ladder in LADDERS.items())
    assert set(ALLOWANCE) == set(Level)
    assert ALLOWANCE[Level.HIGH] < ALLOWANCE[Level.AUTO] < ALLOWANCE[Level.LOW]


def test_alpha_errors_count() -> None:
    """The alpha band is scored on its own: a wrecked alpha with intact colour scores low."""
    colour = smooth(128, 128)
    image = colour.bandjoin(detailed(128, 128)[0])  # a noisy alpha
    broken = colour.bandjoin(image[3].gaussblur(3).cast("uchar"))
    assert autoquality.score(image, image) == pytest.approx(1.0, abs=1e-3)
    assert autoquality.score(image, broken) < autoquality.score(image[:3], broken[:3]) - 0.1
