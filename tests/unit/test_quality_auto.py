"""``q=auto`` wired through: grammar and canonical form, presets, the unsigned allow-list, the engine's
outputs (format, size, never more bytes than the default, fewer on a JPEG photo) and what it leaves alone."""

from __future__ import annotations

import time
from typing import Any

import pytest
import pyvips
from helpers import photo_jpeg

from vipsfront.engine import autoquality, encode
from vipsfront.engine.run import transform
from vipsfront.errors import InvalidSpecError
from vipsfront.url.grammar import build, parse_canonical
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.query import read_params
from vipsfront.url.spec import Fm, Format, Quality, Spec

LOADERS = {"jpeg": "jpegload", "webp": "webpload", "avif": "heifload", "png": "pngload", "gif": "gifload"}


def gradient_png(width: int = 640, height: int = 480) -> bytes:
    """A soft gradient."""
    x = pyvips.Image.xyz(width, height)
    gx, gy = x[0] * (255.0 / width), x[1] * (255.0 / height)
    image = gx.bandjoin([gy, (gx + gy) / 2]).cast("uchar").copy(interpretation="srgb")
    return bytes(image.pngsave_buffer())


def flat_png(width: int = 640, height: int = 480) -> bytes:
    """A flat graphic (two shades of one colour): the fixed default spends bytes it does not need."""
    image = pyvips.Image.black(width, height).new_from_image([30, 120, 200]).cast("uchar")
    shade = pyvips.Image.black(width, height // 4).new_from_image([25, 110, 190]).cast("uchar")
    return bytes(image.insert(shade, 0, height - height // 4).copy(interpretation="srgb").pngsave_buffer())


def decoded(data: bytes, fmt: str) -> Any:
    image = pyvips.Image.new_from_buffer(data, "")
    assert image.get("vips-loader").startswith(LOADERS[fmt]), image.get("vips-loader")
    return image


@pytest.mark.parametrize(
    ("raw", "level"), [("auto", Quality.AUTO), ("auto:low", Quality.LOW), ("auto:high", Quality.HIGH)]
)
def test_grammar_reads_the_levels_and_writes_them_back(raw: str, level: Quality) -> None:
    spec = build({"w": "400", "q": raw})
    assert spec.q is level
    assert spec.canonical() == f"w=400,q={raw}"
    assert parse_canonical(spec.canonical()) == spec


@pytest.mark.parametrize("raw", ["AUTO", "auto:", "auto:best", "Auto", "auto ", "0", "101", "8.5"])
def test_grammar_refuses_other_values(raw: str) -> None:
    with pytest.raises(InvalidSpecError) as error:
        build({"w": "400", "q": raw})
    assert error.value.param == "q"


def test_numeric_quality_is_unchanged() -> None:
    assert build({"q": "075"}).canonical() == "q=75"


def test_a_preset_may_say_q_auto() -> None:
    presets = {"card": {"w": "400", "fm": "auto", "q": "auto"}}
    params = read_params({"p": "card"}, presets)
    assert params.spec(None).q is Quality.AUTO
    policy = Policy.create(keys={"k": b"0123456789abcdef0123"}, presets=presets)
    assert policy.unsigned.allows(build({"w": "400", "fm": "auto", "q": "auto"}), policy.preset_specs)


def test_unsigned_allow_list_admits_q_auto_by_configuration() -> None:
    default = UnsignedPolicy(widths=(400,))
    allowing = UnsignedPolicy(widths=(400,), params={"fm": "*", "q": ["auto"]})
    assert not default.allows(build({"w": "400", "q": "auto"}))
    assert allowing.allows(build({"w": "400", "q": "auto", "fm": "webp"}))
    assert not allowing.allows(build({"w": "400", "q": "auto:high"}))
    assert not allowing.allows(build({"w": "400", "q": "90"}))
    assert UnsignedPolicy.from_config(allowing.to_config()) == allowing


@pytest.mark.parametrize("fm", ["jpeg", "webp", "avif"])
@pytest.mark.parametrize("source", [flat_png(), gradient_png()], ids=["flat", "gradient"])
def test_engine_q_auto_decodes_and_is_never_larger_than_the_default(fm: str, source: bytes) -> None:
    fixed = transform(source, Spec(w=256, fm=Fm(fm)))
    auto = transform(source, Spec(w=256, fm=Fm(fm), q=Quality.AUTO))
    out = decoded(auto.data, fm)
    assert (out.width, out.height) == (256, 192) == (auto.width, auto.height)
    assert auto.format == Format(fm)
    assert len(auto.data) <= len(fixed.data)
    assert auto.notes["qauto"].startswith("q=") and "qauto" in auto.timings


def test_engine_q_auto_jpeg_photo_is_smaller_than_the_default() -> None:
    """A photo: table 3 and progressive scans at the calibrated quality, fewer bytes than the fixed q80."""
    source = photo_jpeg(800, 600)
    fixed = transform(source, Spec(w=400, fm=Fm.JPEG))
    auto = transform(source, Spec(w=400, fm=Fm.JPEG, q=Quality.AUTO))
    out = decoded(auto.data, "jpeg")
    assert (out.width, out.height) == (400, 300)
    assert out.get("interlaced") == 1
    assert len(auto.data) < 0.95 * len(fixed.data)
    # the middle with both encoders (table 3 has less colour error there), then the image
    assert auto.notes["qauto"] == f"q={autoquality.TUNING['jpeg'].quality[Quality.AUTO]} n=3"


def test_engine_q_auto_through_fm_auto() -> None:
    result = transform(photo_jpeg(400, 300), build({"w": "200", "fm": "auto-avif-webp", "q": "auto"}))
    decoded(result.data, "avif")
    assert "qauto" in result.notes


def test_engine_q_auto_keeps_alpha() -> None:
    rgba = pyvips.Image.black(200, 100).bandjoin([pyvips.Image.xyz(200, 100)[0].cast("uchar")] * 3)
    source = bytes(rgba.copy(interpretation="srgb").pngsave_buffer())
    out = decoded(transform(source, Spec(w=100, fm=Fm.WEBP, q=Quality.AUTO)).data, "webp")
    assert out.hasalpha() and (out.width, out.height) == (100, 50)


def test_png_and_gif_with_q_auto_keep_their_behaviour() -> None:
    """PNG stays lossless (q=auto never makes a palette), GIF as always; no search runs."""
    source = flat_png(160, 120)
    auto_png = transform(source, Spec(w=80, fm=Fm.PNG, q=Quality.AUTO))
    plain_png = transform(source, Spec(w=80, fm=Fm.PNG))
    assert auto_png.data == plain_png.data and "qauto" not in auto_png.notes
    assert decoded(auto_png.data, "png").bands == 3  # not a palette
    auto_gif = transform(source, Spec(w=80, fm=Fm.GIF, q=Quality.AUTO))
    assert auto_gif.data == transform(source, Spec(w=80, fm=Fm.GIF)).data


def test_animation_with_q_auto_is_encoded_at_the_default() -> None:
    frames = [pyvips.Image.black(40, 30).new_from_image([i * 60, 0, 0]).cast("uchar") for i in range(3)]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", 30)
    source = bytes(strip.gifsave_buffer())
    auto = transform(source, Spec(w=20, fm=Fm.WEBP, q=Quality.AUTO))
    assert auto.pages == 3 and "qauto" not in auto.notes
    assert auto.data == transform(source, Spec(w=20, fm=Fm.WEBP)).data


def test_a_deadline_too_near_falls_back_to_the_default_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search sees no time left: the default quality, ``fallback=deadline`` in the notes."""
    real = autoquality.choose

    def hurried(*args: Any, **kwargs: Any) -> Any:
        kwargs["deadline"] = time.monotonic()
        return real(*args, **kwargs)

    monkeypatch.setattr(autoquality, "choose", hurried)
    result = transform(photo_jpeg(400, 300), Spec(w=200, fm=Fm.JPEG, q=Quality.AUTO))
    assert result.notes["qauto"] == f"q={encode.FORMATS[Format.JPEG].quality} n=1 fallback=deadline"
    assert decoded(result.data, "jpeg").width == 200


@pytest.fixture
def chosen(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the engine hands ``autoquality.choose``: the resized image (kept in memory: the pipeline streams
    once) and the slower encoder, updated at every call."""
    seen: dict[str, Any] = {}
    real = autoquality.choose

    def spy(image: Any, fmt: str, encode: Any, **kwargs: Any) -> Any:
        image = image.copy_memory()
        seen["slower"], seen["image"] = kwargs.get("slower_encode"), image
        return real(image, fmt, encode, **kwargs)

    monkeypatch.setattr(autoquality, "choose", spy)
    return seen


@pytest.mark.parametrize(("fm", "saver", "effort"), [("webp", "webpsave_buffer", 5), ("avif", "heifsave_buffer", 3)])
def test_engine_gives_q_auto_its_slower_encoder(chosen: dict[str, Any], fm: str, saver: str, effort: int) -> None:
    """The engine builds the slower WebP/AVIF encoder (``autoquality.EFFORT``) from its own settings: its
    bytes are libvips' at that effort; a JPEG gets none."""
    result = transform(photo_jpeg(400, 300), Spec(w=200, fm=Fm(fm), q=Quality.AUTO))
    assert decoded(result.data, fm).width == 200
    slower, image = chosen["slower"], chosen["image"]
    options = {"compression": "av1", "bitdepth": 8} if fm == "avif" else {}
    assert slower(image, 60) == bytes(getattr(image, saver)(Q=60, effort=effort, keep="none", **options))
    transform(photo_jpeg(400, 300), Spec(w=200, fm=Fm.JPEG, q=Quality.AUTO))
    assert chosen["slower"] is None


def test_no_slower_avif_when_the_deadline_already_lowered_its_effort(
    chosen: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encode, "avif_effort_for", lambda pixels, preferred, remaining: 0)
    result = transform(
        photo_jpeg(400, 300), Spec(w=200, fm=Fm.AVIF, q=Quality.AUTO), deadline=time.monotonic() + 30
    )
    assert decoded(result.data, "avif").width == 200
    assert chosen["slower"] is None
