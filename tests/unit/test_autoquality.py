"""``q=auto`` on generated images: decoded outputs, chosen qualities, encodes and the deadline."""

from __future__ import annotations

import time
from typing import Any

import pytest
import pyvips
from helpers import photo

from vipsfront.engine import autoquality
from vipsfront.engine.autoquality import TUNING, Level, choose, parse_level

DEFAULTS = {"jpeg": 80, "webp": 80, "avif": 50}
LOADERS = {"jpeg": "jpegload", "webp": "webpload", "avif": "heifload"}


class Encoder:
    """An encoder like the engine's (keep="none", the engine's efforts), counting its calls."""

    def __init__(self, fmt: str, effort: int | None = None) -> None:
        self.fmt = fmt
        self.effort = effort
        self.calls: list[int] = []

    def __call__(self, image: Any, quality: int) -> bytes:
        self.calls.append(quality)
        if self.fmt == "jpeg":
            return bytes(image.jpegsave_buffer(Q=quality, optimize_coding=True, keep="none"))
        if self.fmt == "webp":
            return bytes(image.webpsave_buffer(Q=quality, effort=self.effort or 4, keep="none"))
        effort = 2 if self.effort is None else self.effort
        return bytes(image.heifsave_buffer(Q=quality, compression="av1", effort=effort, bitdepth=8, keep="none"))


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


def flat(width: int = 300, height: int = 200) -> Any:
    """A flat graphic: one colour, the last rows a shade darker. Encoded at any quality it looks the same."""
    image = pyvips.Image.black(width, height).new_from_image([30, 120, 200]).cast("uchar")
    shade = pyvips.Image.black(width, height // 4).new_from_image([25, 110, 190]).cast("uchar")
    return image.insert(shade, 0, height - height // 4).copy(interpretation="srgb")


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_decodes_to_the_format_and_size(fmt: str) -> None:
    image = smooth(253, 197)  # under SAMPLE_PIXELS: tried whole; not detailed: scored
    result = choose(image, fmt, Encoder(fmt), default_quality=DEFAULTS[fmt])
    out = decoded(result.data, fmt)
    assert (out.width, out.height) == (253, 197)
    assert not result.fell_back and result.reason is None
    if fmt != "jpeg" or result.quality != DEFAULTS[fmt]:  # scored unless the fixed default was kept
        assert result.score is not None
        assert autoquality.score(image, out) == pytest.approx(result.score, abs=1e-3)


def test_a_detailed_image_is_not_scored() -> None:
    """Strong texture: no lower quality could score within FLOOR, so the score is skipped; the middle's
    bytes already say so (``DENSE``), a flat image's do not."""
    assert (
        autoquality._detailed(detailed()) and not autoquality._detailed(flat()) and not autoquality._detailed(smooth())
    )
    middle = autoquality._centre(detailed())
    assert len(Encoder("webp")(middle, 80)) >= autoquality.DENSE["webp"] * middle.width * middle.height
    middle = autoquality._centre(flat())
    assert len(Encoder("webp")(middle, 80)) < autoquality.DENSE["webp"] * middle.width * middle.height
    result = choose(detailed(), "webp", Encoder("webp"), default_quality=80)
    assert result.score is None and result.encodes == 2  # the middle, then the image


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_a_detailed_image_gets_the_level_quality_in_two_encodes(fmt: str) -> None:
    """Detailed: the calibrated quality, tried on the middle, then the image (WebP and AVIF: with the slower
    effort, this output being under EFFORT_PIXELS)."""
    encoder = Encoder(fmt)
    slower = None if fmt == "jpeg" else Encoder(fmt, autoquality.EFFORT[fmt])
    image = detailed()
    result = choose(image, fmt, encoder, default_quality=DEFAULTS[fmt], slower_encode=slower)
    assert result.quality == TUNING[fmt].quality[Level.AUTO] <= DEFAULTS[fmt]
    assert encoder.calls == [result.quality] * (2 if fmt == "jpeg" else 1) and result.encodes == 2
    assert slower is None or slower.calls == [result.quality]
    assert result.target is None and not result.fell_back
    out = decoded(result.data, fmt)
    assert (out.width, out.height) == (320, 240)


@pytest.mark.parametrize("fmt", ["webp", "avif"])
def test_a_small_detailed_webp_or_avif_gets_the_slower_effort(fmt: str) -> None:
    """Up to EFFORT_PIXELS the output is the slower effort's encode, not the engine's (on the corpus 2-4 %
    smaller; on this noise about the same)."""
    image = detailed(320, 240)
    slower = Encoder(fmt, autoquality.EFFORT[fmt])
    result = choose(image, fmt, Encoder(fmt), default_quality=DEFAULTS[fmt], slower_encode=slower)
    assert result.data == slower(image, result.quality)
    assert result.data != Encoder(fmt)(image, result.quality)
    out = decoded(result.data, fmt)
    assert (out.width, out.height) == (320, 240)


def test_a_larger_webp_keeps_the_engine_effort() -> None:
    image = detailed(480, 360)  # over EFFORT_PIXELS
    encoder = Encoder("webp")
    result = choose(image, "webp", encoder, default_quality=80, slower_encode=Encoder("webp", 5))
    assert encoder.calls == [result.quality] * 2  # the middle, then the image
    assert result.data == Encoder("webp")(image, result.quality)


def test_no_slower_effort_close_to_the_deadline() -> None:
    image = detailed(320, 240)
    encoder = Encoder("webp")
    deadline = time.monotonic() + autoquality.EFFORT_HEADROOM_S / 2
    slower = Encoder("webp", 5)
    result = choose(image, "webp", encoder, default_quality=80, deadline=deadline, slower_encode=slower)
    assert slower.calls == []
    assert result.data == encoder(image, result.quality) and not result.fell_back


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_a_flat_image_goes_lower_and_stays_close(fmt: str) -> None:
    image = flat()
    result = choose(image, fmt, Encoder(fmt), default_quality=DEFAULTS[fmt])
    assert TUNING[fmt].lowest <= result.quality < TUNING[fmt].quality[Level.AUTO]
    assert len(result.data) < len(Encoder(fmt)(image, DEFAULTS[fmt]))
    # the middle, the image at the level's quality, the image lowered (the output)
    assert result.encodes == 3 and result.target == pytest.approx(1 - autoquality.FLOOR)
    assert autoquality.score(image, decoded(result.data, fmt)) >= 1 - 2 * autoquality.FLOOR


def test_levels_order_the_quality() -> None:
    image = detailed(256, 256)
    chosen = {level: choose(image, "webp", Encoder("webp"), default_quality=80, level=level) for level in Level}
    assert chosen[Level.LOW].quality < chosen[Level.AUTO].quality < chosen[Level.HIGH].quality
    assert len(chosen[Level.LOW].data) < len(chosen[Level.AUTO].data) < len(chosen[Level.HIGH].data)


def test_large_image_is_tried_on_its_middle_then_encoded_whole() -> None:
    image = detailed(1200, 900)
    sizes: list[tuple[int, int]] = []
    encoder = Encoder("jpeg")

    def encode(picture: Any, quality: int) -> bytes:
        sizes.append((picture.width, picture.height))
        return encoder(picture, quality)

    result = choose(image, "jpeg", encode, default_quality=80)
    assert result.encodes == len(encoder.calls) == 2
    assert sizes == [(autoquality.CHECK, autoquality.CHECK), (1200, 900)]
    assert encoder.calls == [result.quality] * 2
    out = decoded(result.data, "jpeg")
    assert (out.width, out.height) == (1200, 900)


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_deadline_passed_falls_back_to_the_default(fmt: str) -> None:
    tuned, fixed = Encoder(fmt), Encoder(fmt)
    result = choose(
        detailed(), fmt, tuned, default_quality=DEFAULTS[fmt], deadline=time.monotonic(), reference_encode=fixed
    )
    assert (result.quality, result.fell_back, result.reason) == (DEFAULTS[fmt], True, "deadline")
    assert fixed.calls == [DEFAULTS[fmt]] and tuned.calls == [] and result.encodes == 1
    out = decoded(result.data, fmt)
    assert (out.width, out.height) == (320, 240)
    assert "fallback=deadline" in result.timing


def test_deadline_too_near_for_a_second_encode_keeps_the_level_quality() -> None:
    """A flat image would try a lower quality, but the measured cost says it does not fit: the level's
    quality, tried on the middle, then the image."""
    slow = Encoder("jpeg")

    def encode(image: Any, quality: int) -> bytes:
        time.sleep(0.2)
        return slow(image, quality)

    result = choose(flat(), "jpeg", encode, default_quality=80, deadline=time.monotonic() + 0.3)
    assert not result.fell_back
    assert result.quality == TUNING["jpeg"].quality[Level.AUTO] and slow.calls == [result.quality] * 2
    assert result.encodes == 2


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


def test_tuning_is_ordered() -> None:
    for fmt, tuning in TUNING.items():
        assert set(tuning.quality) == set(Level)
        assert tuning.lowest < tuning.quality[Level.LOW] < tuning.quality[Level.AUTO] < tuning.quality[Level.HIGH]
        assert tuning.quality[Level.AUTO] <= DEFAULTS[fmt] and tuning.slope > 0


def test_alpha_errors_count() -> None:
    """The alpha band is scored on its own: a wrecked alpha with intact colour scores low."""
    colour = smooth(128, 128)
    image = colour.bandjoin(detailed(128, 128)[0])  # a noisy alpha
    broken = colour.bandjoin(image[3].gaussblur(3).cast("uchar"))
    assert autoquality.score(image, image) == pytest.approx(1.0, abs=1e-3)
    assert autoquality.score(image, broken) < autoquality.score(image[:3], broken[:3]) - 0.1


def reencoded(image: Any) -> Any:
    """``image`` as decoded from the fixed default JPEG: re-encoding it at its own size is where table 3
    loses to the standard table (SSIMULACRA2 -4 to -5.4 on the corpus)."""
    return pyvips.Image.new_from_buffer(TunedJpeg.fixed(image, 80), "").copy_memory()


class TunedJpeg(Encoder):
    """The engine's q=auto JPEG encoder: quantisation table 3 and progressive scans."""

    def __init__(self) -> None:
        super().__init__("jpeg")

    def __call__(self, image: Any, quality: int) -> bytes:
        self.calls.append(quality)
        return bytes(image.jpegsave_buffer(Q=quality, optimize_coding=True, keep="none", quant_table=3, interlace=True))

    @staticmethod
    def fixed(image: Any, quality: int) -> bytes:
        return bytes(image.jpegsave_buffer(Q=quality, optimize_coding=True, keep="none"))


def test_jpeg_keeps_table_3_where_it_suits() -> None:
    """A colourful photo: the tuned encode has less colour error and fewer bytes, and is the output."""
    image = photo(400, 300)
    tuned, fixed = TunedJpeg(), Encoder("jpeg")
    result = choose(image, "jpeg", tuned, default_quality=80, reference_encode=fixed)
    assert not result.fell_back and result.reason is None
    assert result.quality == TUNING["jpeg"].quality[Level.AUTO]
    assert len(result.data) < len(TunedJpeg.fixed(image, 80))
    out = decoded(result.data, "jpeg")
    assert out.get("interlaced") == 1 and (out.width, out.height) == (400, 300)


@pytest.mark.parametrize("grey", [False, True], ids=["colour", "grey"])
def test_jpeg_falls_back_to_the_standard_table_where_table_3_loses(grey: bool) -> None:
    """A JPEG re-encoded at its own size: table 3 has more colour error on the middle, so the output is the
    fixed default's encode of the whole image, and the result says why."""
    source = detailed(400, 300)
    image = reencoded(source[0].copy(interpretation="b-w") if grey else source)
    middle = autoquality._centre(image)
    colour = autoquality._colour(middle)
    assert autoquality._colour_error(colour, TunedJpeg()(middle, 80)) > autoquality._colour_error(
        colour, TunedJpeg.fixed(middle, 80)
    )
    tuned, fixed = TunedJpeg(), Encoder("jpeg")
    result = choose(image, "jpeg", tuned, default_quality=80, reference_encode=fixed)
    assert (result.fell_back, result.reason, result.quality) == (True, "colour", 80)
    assert result.description.endswith("fallback=colour")
    assert result.data == TunedJpeg.fixed(image, 80)
    assert fixed.calls == [80, 80]  # the middle, then the image
    out = decoded(result.data, "jpeg")
    assert (out.width, out.height, out.bands) == (400, 300, 1 if grey else 3)
    assert "interlaced" not in out.get_fields()  # one scan: the standard encoder


def test_jpeg_falls_back_when_table_3_is_not_smaller() -> None:
    """A soft gradient under 480x400 is compared whole: table 3 spends more on it, the default is kept."""
    image = smooth(256, 192)
    tuned, fixed = TunedJpeg(), Encoder("jpeg")
    assert len(tuned(image, 80)) >= len(TunedJpeg.fixed(image, 80))
    result = choose(image, "jpeg", tuned, default_quality=80, reference_encode=fixed)
    assert (result.fell_back, result.reason) == (True, "bytes")
    assert len(result.data) <= len(TunedJpeg.fixed(image, 80))
    decoded(result.data, "jpeg")
