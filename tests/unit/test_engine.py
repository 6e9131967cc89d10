"""The image engine on generated images: geometry, orientation, colour, animation, limits and errors.

Every case decodes the output with pyvips and checks size, format and pixels. Corpus cases live in
``test_engine_corpus.py``.
"""

from __future__ import annotations

import struct
import time
import zlib
from typing import Any

import pytest
import pyvips
from helpers import photo_jpeg

from vipsfront.engine.limits import Limits
from vipsfront.engine.plan import ImageInfo, geometry
from vipsfront.engine.probe import probe
from vipsfront.engine.run import transform
from vipsfront.engine.steps import is_srgb_profile
from vipsfront.errors import (
    DeadlineExceededError,
    InputTooLargeError,
    OutputTooLargeError,
    UndecodableImageError,
    UnsupportedInputError,
)
from vipsfront.url.spec import Fit, Flip, Fm, Format, Position, Spec

RED = (255, 0, 0)
WHITE = (255, 255, 255)
ALL_FORMATS = [Fm.JPEG, Fm.PNG, Fm.WEBP, Fm.AVIF, Fm.GIF]

# ---------------------------------------------------------------------------------------------------
# helpers


def solid(width: int, height: int, colour: tuple[int, ...]) -> Any:
    interpretation = "srgb" if len(colour) >= 3 else "b-w"
    return (pyvips.Image.black(width, height) + list(colour)).cast("uchar").copy(interpretation=interpretation)


def corner_image(width: int = 64, height: int = 48) -> Any:
    """White, with a red block in the top-left corner: any rotation or mirror shows."""
    red = solid(width // 4, height // 4, RED)
    return solid(width, height, WHITE).insert(red, 0, 0)


def decode(data: bytes, **options: Any) -> Any:
    return pyvips.Image.new_from_buffer(data, "", **options)


def pixel(image: Any, x: int, y: int) -> tuple[float, ...]:
    return tuple(image.getpoint(x, y))


def near(actual: tuple[float, ...], expected: tuple[int, ...], tolerance: float = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def red_corner(image: Any) -> str:
    """Which corner of ``image`` is red: tl, tr, bl or br."""
    w, h = image.width, image.height
    inset_x, inset_y = max(1, w // 16), max(1, h // 16)
    points = {
        "tl": (inset_x, inset_y),
        "tr": (w - 1 - inset_x, inset_y),
        "bl": (inset_x, h - 1 - inset_y),
        "br": (w - 1 - inset_x, h - 1 - inset_y),
    }
    reds = [name for name, (x, y) in points.items() if near(pixel(image, x, y)[:3], RED, 70)]
    assert len(reds) == 1, f"expected one red corner, got {reds}"
    return reds[0]


# stored = INVERSE[n](displayed): what a camera writes for orientation n.
_STORED = {
    1: lambda im: im,
    2: lambda im: im.flip("horizontal"),
    3: lambda im: im.rot("d180"),
    4: lambda im: im.flip("vertical"),
    5: lambda im: im.rot("d90").flip("horizontal"),
    6: lambda im: im.rot("d270"),
    7: lambda im: im.rot("d90").flip("vertical"),
    8: lambda im: im.rot("d90"),
}


def with_orientation(displayed: Any, orientation: int) -> bytes:
    stored = _STORED[orientation](displayed).copy()
    stored.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return bytes(stored.jpegsave_buffer(Q=95))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (its pixel data is a stub)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def animated_gif(frames: int = 4, width: int = 40, height: int = 30) -> bytes:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    strip = pyvips.Image.arrayjoin(
        [solid(width, height, colours[i % len(colours)]) for i in range(frames)], across=1
    ).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100 + 10 * i for i in range(frames)])
    strip.set_type(pyvips.GValue.gint_type, "loop", 3)
    return bytes(strip.gifsave_buffer())


def noise_jpeg(width: int = 256, height: int = 256) -> bytes:
    noise = pyvips.Image.gaussnoise(width, height, mean=128, sigma=40)
    image = noise.bandjoin([noise, noise]).cast("uchar").copy(interpretation="srgb")
    return bytes(image.jpegsave_buffer(Q=90))


@pytest.fixture(scope="module")
def photo_400x300() -> bytes:
    return bytes(corner_image(400, 300).jpegsave_buffer(Q=90))


# ---------------------------------------------------------------------------------------------------
# geometry on real pixels (the sizes themselves: test_plan.py)


@pytest.mark.parametrize("fit", list(Fit))
def test_each_fit_on_real_pixels(photo_400x300: bytes, fit: Fit) -> None:
    result = transform(photo_400x300, Spec(w=200, h=200, fit=fit))
    out = decode(result.data)
    expected = geometry(400, 300, Spec(w=200, h=200, fit=fit)).output
    assert (out.width, out.height) == (result.width, result.height) == expected
    assert result.format == Format.JPEG and result.media_type == "image/jpeg"
    assert out.get("vips-loader").startswith("jpegload")


def test_contain_pads_with_white_for_jpeg_and_transparent_for_png(photo_400x300: bytes) -> None:
    jpeg = decode(transform(photo_400x300, Spec(w=200, h=200, fit=Fit.CONTAIN)).data)
    assert near(pixel(jpeg, 100, 5), WHITE, 10) and near(pixel(jpeg, 100, 195), WHITE, 10)
    png = decode(transform(photo_400x300, Spec(w=200, h=200, fit=Fit.CONTAIN, fm=Fm.PNG)).data)
    assert png.bands == 4
    assert pixel(png, 100, 5)[3] == 0  # padding is transparent
    assert pixel(png, 100, 100)[3] == 255


def test_contain_without_enlargement_pads_the_unenlarged_image() -> None:
    small = bytes(solid(40, 30, RED).jpegsave_buffer(Q=95))
    out = decode(transform(small, Spec(w=100, h=100, fit=Fit.CONTAIN, bg="0000ff")).data)
    assert (out.width, out.height) == (100, 100)
    assert near(pixel(out, 50, 50), RED)  # the 40x30 image, unscaled, in the middle
    assert near(pixel(out, 5, 5), (0, 0, 255))
    assert near(pixel(out, 50, 28), (0, 0, 255))  # above the image (it starts at y=35)


def test_contain_pos_and_bg() -> None:
    src = bytes(solid(400, 200, RED).jpegsave_buffer(Q=95))
    out = decode(transform(src, Spec(w=200, h=200, fit=Fit.CONTAIN, pos=Position.TOP, bg="00ff00")).data)
    assert near(pixel(out, 100, 10), RED)  # the image at the top
    assert near(pixel(out, 100, 190), (0, 255, 0))  # green padding below


def test_contain_pads_floor_of_odd_space_before_the_image_as_sharp_does() -> None:
    dot = bytes(solid(1, 1, RED).pngsave_buffer())
    out = decode(transform(dot, Spec(w=1, h=2, fit=Fit.CONTAIN, enlarge=True, fm=Fm.PNG, bg="0000ff")).data)
    assert (out.width, out.height) == (1, 2)
    assert near(pixel(out, 0, 0), RED, 1) and near(pixel(out, 0, 1), (0, 0, 255), 1)  # 1 row of space: after
    strip = bytes(solid(4, 2, RED).pngsave_buffer())
    out = decode(transform(strip, Spec(w=7, h=2, fit=Fit.CONTAIN, pos=Position.TOP, fm=Fm.PNG, bg="0000ff")).data)
    assert (out.width, out.height) == (7, 2)
    reds = [x for x in range(7) if near(pixel(out, x, 0), RED, 1)]
    assert reds == [1, 2, 3, 4]  # 3 columns of space: 1 before, 2 after


def test_cover_refuses_only_by_output_size_and_cuts_a_long_strip_first() -> None:
    left_red = solid(4097, 3, (0, 0, 255)).insert(solid(2048, 3, RED), 0, 0)
    strip = bytes(left_red.pngsave_buffer())
    out = decode(transform(strip, Spec(w=100, h=100, enlarge=True, fm=Fm.PNG)).data)
    assert (out.width, out.height) == (100, 100)  # resized 136567x100 in principle: only the box is made
    assert near(pixel(out, 10, 50), RED, 2) and near(pixel(out, 90, 50), (0, 0, 255), 2)
    left = decode(transform(strip, Spec(w=100, h=100, enlarge=True, pos=Position.LEFT, fm=Fm.PNG)).data)
    assert near(pixel(left, 99, 50), RED, 2)
    turned = decode(transform(strip, Spec(w=100, h=100, enlarge=True, rot=90, flip=Flip.H, fm=Fm.PNG)).data)
    assert (turned.width, turned.height) == (100, 100)
    # mirrored (blue left, red right), then turned clockwise: blue on top, red below
    assert near(pixel(turned, 50, 10), (0, 0, 255), 2) and near(pixel(turned, 50, 90), RED, 2)
    with pytest.raises(OutputTooLargeError, match="output would be 200x200"):
        transform(strip, Spec(w=200, h=200, enlarge=True), Limits(max_output_side=150))


def test_jpeg_shrink_on_load_keeps_every_row_of_a_tiny_axis() -> None:
    rows = (
        solid(1000, 1, (0, 0, 0))
        .join(solid(1000, 1, (0, 0, 0)), "vertical")
        .join(solid(1000, 1, (255, 255, 255)), "vertical")
    )
    data = bytes(rows.jpegsave_buffer(Q=100))
    out = decode(transform(data, Spec(h=1, fm=Fm.PNG)).data)
    assert out.height == 1
    assert 60 <= pixel(out, out.width // 2, 0)[0] <= 110  # a third white: all 3 rows averaged


def test_cover_pos_and_focal_point() -> None:
    left_red = solid(400, 100, (0, 0, 255)).insert(solid(200, 100, RED), 0, 0)
    src = bytes(left_red.jpegsave_buffer(Q=95))
    cover = Spec(w=100, h=100, fit=Fit.COVER)
    for spec, colour in [
        (Spec(w=100, h=100, pos=Position.LEFT), RED),
        (Spec(w=100, h=100, pos=Position.RIGHT), (0, 0, 255)),
        (Spec(w=100, h=100, fx=0.0, fy=0.5), RED),
        (Spec(w=100, h=100, fx=0.9, fy=0.5), (0, 0, 255)),
    ]:
        out = decode(transform(src, spec).data)
        assert (out.width, out.height) == (100, 100)
        assert near(pixel(out, 50, 50), colour), spec
    centre = decode(transform(src, cover).data)
    assert near(pixel(centre, 10, 50), RED) and near(pixel(centre, 90, 50), (0, 0, 255))


@pytest.mark.parametrize("pos", [Position.ATTENTION, Position.ENTROPY])
def test_smart_crop_dims(pos: Position) -> None:
    result = transform(noise_jpeg(300, 200), Spec(w=120, h=90, pos=pos))
    out = decode(result.data)
    assert (out.width, out.height) == (120, 90)


def test_enlarge_flag(photo_400x300: bytes) -> None:
    assert decode(transform(photo_400x300, Spec(w=800)).data).width == 400
    assert decode(transform(photo_400x300, Spec(w=800, enlarge=True)).data).width == 800


def test_output_side_limit(photo_400x300: bytes) -> None:
    with pytest.raises(OutputTooLargeError):
        transform(photo_400x300, Spec(w=600, enlarge=True), Limits(max_output_side=500))
    with pytest.raises(OutputTooLargeError):  # a format change keeps the source size
        transform(photo_400x300, Spec(fm=Fm.WEBP), Limits(max_output_side=300))


# ---------------------------------------------------------------------------------------------------
# orientation, rot, flip


@pytest.mark.parametrize("fm", ALL_FORMATS)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_every_format(orientation: int, fm: Fm) -> None:
    data = with_orientation(corner_image(64, 48), orientation)
    info = probe(data)
    assert info.orientation == orientation
    assert (info.oriented_width, info.oriented_height) == (64, 48)
    result = transform(data, Spec(w=32, fm=fm))
    out = decode(result.data)
    assert result.format == Format(fm.value)
    assert (out.width, out.height) == (32, 24)
    assert red_corner(out) == "tl"
    assert out.get_typeof("orientation") == 0 or out.get("orientation") == 1


@pytest.mark.parametrize(
    ("rot", "flip", "corner", "dims"),
    [
        (0, None, "tl", (64, 48)),
        (90, None, "tr", (48, 64)),
        (180, None, "br", (64, 48)),
        (270, None, "bl", (48, 64)),
        (0, Flip.H, "tr", (64, 48)),
        (0, Flip.V, "bl", (64, 48)),
        (0, Flip.HV, "br", (64, 48)),
        (90, Flip.H, "br", (48, 64)),  # sharp: mirror, then turn
        (90, Flip.V, "tl", (48, 64)),
        (270, Flip.H, "tl", (48, 64)),
        (270, Flip.V, "br", (48, 64)),
        (180, Flip.H, "bl", (64, 48)),
    ],
)
def test_rot_and_flip(rot: int, flip: Flip | None, corner: str, dims: tuple[int, int]) -> None:
    data = with_orientation(corner_image(64, 48), 6)  # stacked on EXIF auto-orientation
    out = decode(transform(data, Spec(rot=rot, flip=flip, fm=Fm.PNG)).data)
    assert (out.width, out.height) == dims
    assert red_corner(out) == corner


def test_flip_mirrors_before_rot_as_sharp_does() -> None:
    data = bytes(corner_image(64, 48).pngsave_buffer())
    out = decode(transform(data, Spec(w=48, rot=90, flip=Flip.H)).data)
    assert (out.width, out.height) == (48, 64)
    assert red_corner(out) == "br"  # mirrored: red top-right; turned clockwise: bottom-right


def test_rot_applies_before_fit(photo_400x300: bytes) -> None:
    out = decode(transform(photo_400x300, Spec(w=150, h=100, rot=90)).data)
    assert (out.width, out.height) == (150, 100)
    out = decode(transform(photo_400x300, Spec(w=150, rot=90)).data)
    assert (out.width, out.height) == (150, 200)


# ---------------------------------------------------------------------------------------------------
# colour and pixel formats


def test_cmyk_jpeg_becomes_srgb() -> None:
    colour = (200, 40, 40)
    cmyk = solid(64, 64, colour).colourspace("cmyk")
    data = bytes(cmyk.jpegsave_buffer(Q=95))
    assert decode(data).interpretation == "cmyk"
    out = decode(transform(data, Spec(w=32, fm=Fm.PNG)).data)
    assert out.bands == 3 and out.interpretation == "srgb"
    assert near(pixel(out, 16, 16), colour, 30)


def test_cmyk_jpeg_without_profile() -> None:
    cmyk = (pyvips.Image.black(32, 32) + [0, 200, 200, 0]).cast("uchar").copy(interpretation="cmyk")
    data = bytes(cmyk.jpegsave_buffer(Q=95, keep="none"))
    out = decode(transform(data, Spec(w=16)).data)
    assert out.bands == 3
    r, g, b = pixel(out, 8, 8)
    assert r > 180 and g < 100 and b < 100  # strong magenta + yellow ink = red


def test_icc_profile_is_applied_and_dropped() -> None:
    colour = (200, 60, 50)
    p3 = solid(64, 64, colour).icc_transform("p3", input_profile="srgb")
    assert not near(pixel(p3, 1, 1), colour, 6)  # the stored values really differ
    data = bytes(p3.pngsave_buffer())
    assert decode(data).get_typeof("icc-profile-data") != 0
    for fm in (Fm.PNG, Fm.JPEG, Fm.WEBP):
        out = decode(transform(data, Spec(w=32, fm=fm)).data)
        assert near(pixel(out, 16, 16), colour, 6), fm
        assert out.get_typeof("icc-profile-data") == 0


def test_srgb_profile_is_recognised_and_kept_out() -> None:
    srgb = bytes(pyvips.Operation.call("profile_load", "srgb"))
    p3 = bytes(pyvips.Operation.call("profile_load", "p3"))
    assert is_srgb_profile(srgb)
    assert not is_srgb_profile(p3)
    assert not is_srgb_profile(b"not a profile at all, but long enough")
    colour = (200, 60, 50)
    tagged = solid(64, 64, colour).copy()
    tagged.set_type(pyvips.GValue.blob_type, "icc-profile-data", srgb)
    data = bytes(tagged.pngsave_buffer())
    assert decode(data).get_typeof("icc-profile-data") != 0
    out = decode(transform(data, Spec(w=32, fm=Fm.PNG)).data)
    assert pixel(out, 16, 16) == colour  # no transform: the stored values pass through exactly
    assert out.get_typeof("icc-profile-data") == 0


def test_16bit_png() -> None:
    image = (pyvips.Image.black(40, 30) + [65535, 32768, 0]).cast("ushort").copy(interpretation="rgb16")
    data = bytes(image.pngsave_buffer())
    assert decode(data).format == "ushort"
    for fm in (Fm.PNG, Fm.JPEG):
        out = decode(transform(data, Spec(w=20, fm=fm)).data)
        assert out.format == "uchar"
        assert near(pixel(out, 10, 10), (255, 128, 0), 6)


def test_greyscale_stays_fine() -> None:
    data = bytes(solid(40, 30, (90,)).jpegsave_buffer(Q=95))
    for fm in ALL_FORMATS:
        result = transform(data, Spec(w=20, fm=fm))
        out = decode(result.data)
        assert (out.width, out.height) == (20, 15)
        assert abs(pixel(out, 10, 7)[0] - 90) <= 6, fm


def test_palette_png_with_alpha() -> None:
    rgba = solid(40, 40, (0, 0, 255, 255)).insert(solid(20, 40, (255, 0, 0, 0)), 0, 0)
    data = bytes(rgba.pngsave_buffer(palette=True))
    info = probe(data)
    assert info.alpha and info.format == "png"
    png = decode(transform(data, Spec(w=20)).data)
    assert png.bands == 4 and pixel(png, 2, 10)[3] == 0 and near(pixel(png, 17, 10), (0, 0, 255, 255))
    jpeg = decode(transform(data, Spec(w=20, fm=Fm.JPEG)).data)
    assert jpeg.bands == 3
    assert near(pixel(jpeg, 2, 10), WHITE, 10)  # flattened on white by default
    jpeg = decode(transform(data, Spec(w=20, fm=Fm.JPEG, bg="00ff00")).data)
    assert near(pixel(jpeg, 2, 10), (0, 255, 0), 20)


def test_auto_format_with_alpha_picks_png() -> None:
    data = bytes(solid(20, 20, (1, 2, 3, 100)).pngsave_buffer())
    assert transform(data, Spec(w=10, fm=Fm.AUTO)).format == Format.PNG
    assert transform(data, Spec(w=10, fm=Fm.AUTO_AVIF_WEBP)).format == Format.AVIF


# ---------------------------------------------------------------------------------------------------
# effects, encoders, metadata


def test_blur_and_sharpen_change_pixels() -> None:
    data = bytes(corner_image(64, 48).pngsave_buffer())
    plain = decode(transform(data, Spec(w=64, fm=Fm.PNG)).data)
    blurred = decode(transform(data, Spec(w=64, blur=3, fm=Fm.PNG)).data)
    sharpened = decode(transform(data, Spec(w=64, sharpen=2, fm=Fm.PNG)).data)
    assert (plain - blurred).abs().max() > 20
    assert (plain - sharpened).abs().max() > 5
    assert (blurred.width, blurred.height) == (64, 48)  # blur does not grow the image


def test_blur_with_alpha_keeps_alpha() -> None:
    data = bytes(solid(40, 40, (255, 0, 0, 255)).insert(solid(20, 40, (0, 0, 0, 0)), 0, 0).pngsave_buffer())
    out = decode(transform(data, Spec(w=40, blur=2)).data)
    assert out.bands == 4 and pixel(out, 2, 20)[3] == 0 and near(pixel(out, 37, 20), (255, 0, 0, 255), 5)


@pytest.mark.parametrize("fm", [Fm.JPEG, Fm.WEBP, Fm.AVIF, Fm.PNG])
def test_quality_changes_bytes(fm: Fm) -> None:
    data = noise_jpeg(128, 128)
    low = transform(data, Spec(w=128, q=20, fm=fm)).data
    high = transform(data, Spec(w=128, q=90, fm=fm)).data
    assert len(low) < len(high)


@pytest.mark.parametrize("fm", ALL_FORMATS)
def test_metadata_stripped(fm: Fm) -> None:
    image = corner_image(64, 48).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 1)
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "someone")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-ImageDescription", "secret place")
    data = bytes(image.jpegsave_buffer(Q=90))
    assert decode(data).get_typeof("exif-data") != 0
    out = transform(data, Spec(w=32, fm=fm)).data
    assert b"secret place" not in out and b"someone" not in out
    decoded = decode(out)
    for name in ("exif-data", "xmp-data", "iptc-data", "icc-profile-data"):
        assert decoded.get_typeof(name) == 0, (fm, name)


@pytest.mark.parametrize(
    ("fm", "loader"),
    [(Fm.JPEG, "jpegload"), (Fm.PNG, "pngload"), (Fm.WEBP, "webpload"), (Fm.AVIF, "heifload"), (Fm.GIF, "gifload")],
)
def test_each_encoder(photo_400x300: bytes, fm: Fm, loader: str) -> None:
    result = transform(photo_400x300, Spec(w=100, fm=fm))
    out = decode(result.data)
    assert out.get("vips-loader").startswith(loader)
    assert result.media_type == f"image/{fm.value}"
    assert (out.width, out.height) == (100, 75)
    assert red_corner(out) == "tl"
    assert set(result.timings) >= {"transform", "encode"}


def test_png_with_q_is_palette() -> None:
    data = noise_jpeg(64, 64)
    out = decode(transform(data, Spec(w=64, fm=Fm.PNG, q=60)).data)
    assert out.get("bits-per-sample") <= 8 and out.get_typeof("palette") != 0


def test_identity_reencodes_in_source_format(photo_400x300: bytes) -> None:
    result = transform(photo_400x300, Spec())
    assert result.format == Format.JPEG and (result.width, result.height) == (400, 300)
    webp = bytes(corner_image(40, 30).webpsave_buffer())
    assert transform(webp, Spec()).format == Format.WEBP


# ---------------------------------------------------------------------------------------------------
# animation


def test_animated_gif_to_animated_gif_and_webp() -> None:
    data = animated_gif(4, 40, 30)
    info = probe(data)
    assert info.animated and info.pages == 4 and info.format == "gif"
    assert (info.width, info.height) == (40, 30)
    for fm, loader in ((Fm.GIF, "gifload"), (Fm.WEBP, "webpload")):
        result = transform(data, Spec(w=20, fm=fm))
        assert result.pages == 4 and (result.width, result.height) == (20, 15)
        out = decode(result.data, n=-1)
        assert out.get("vips-loader").startswith(loader)
        assert out.get("n-pages") == 4 and out.get("page-height") == 15 and out.width == 20
        assert list(out.get("delay")) == [100, 110, 120, 130]
        assert out.get("loop") == 3
        assert near(pixel(out, 10, 7), (255, 0, 0), 30)  # frame 1 red
        assert near(pixel(out, 10, 15 + 7), (0, 255, 0), 30)  # frame 2 green


def test_smart_crop_on_a_kept_animation_crops_every_frame_at_the_centre() -> None:
    frames = [solid(40, 30, (0, 0, g)).insert(solid(10, 30, RED), 30, 0) for g in (255, 200)]  # red: right
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 30)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100, 100])
    data = bytes(strip.gifsave_buffer())
    out = decode(transform(data, Spec(w=20, h=30, pos=Position.ATTENTION, fm=Fm.GIF)).data, n=-1)
    assert (out.width, out.get("page-height"), out.get("n-pages")) == (20, 30, 2)
    assert all(near(pixel(out, 19, y), (0, 0, 230), 40) for y in (15, 45))  # columns 10-29: no red


def test_animated_crop_pad_rot_per_frame() -> None:
    data = animated_gif(3, 40, 30)
    cover = decode(transform(data, Spec(w=20, h=20, fm=Fm.GIF)).data, n=-1)
    assert (cover.width, cover.get("page-height"), cover.get("n-pages")) == (20, 20, 3)
    contain = decode(transform(data, Spec(w=20, h=20, fit=Fit.CONTAIN, fm=Fm.WEBP)).data, n=-1)
    assert (contain.width, contain.get("page-height"), contain.get("n-pages")) == (20, 20, 3)
    turned = decode(transform(data, Spec(rot=90, fm=Fm.GIF)).data, n=-1)
    assert (turned.width, turned.get("page-height"), turned.get("n-pages")) == (30, 40, 3)
    assert near(pixel(turned, 15, 40 + 20), (0, 255, 0), 30)


def test_animated_gif_to_jpeg_is_first_frame() -> None:
    result = transform(animated_gif(4, 40, 30), Spec(w=20, fm=Fm.JPEG))
    out = decode(result.data)
    assert result.pages == 1 and (out.width, out.height) == (20, 15)
    assert near(pixel(out, 10, 7), (255, 0, 0), 30)


def test_animated_webp_in() -> None:
    webp = transform(animated_gif(3, 40, 30), Spec(fm=Fm.WEBP)).data
    info = probe(webp)
    assert info.animated and info.pages == 3 and info.format == "webp"
    result = transform(webp, Spec(w=20, fm=Fm.GIF))
    assert result.pages == 3 and decode(result.data, n=-1).get("n-pages") == 3


def test_frame_limit() -> None:
    with pytest.raises(InputTooLargeError, match="frames"):
        transform(animated_gif(5), Spec(w=10), Limits(max_frames=4))


# ---------------------------------------------------------------------------------------------------
# limits and errors


def test_pixel_limit_from_header_of_a_tiny_bomb() -> None:
    bomb = png_bomb(30_000, 30_000)
    assert len(bomb) < 200
    with pytest.raises(InputTooLargeError, match="pixels"):
        probe(bomb)
    with pytest.raises(InputTooLargeError):
        transform(bomb, Spec(w=100))


def test_pixel_limit_configurable(photo_400x300: bytes) -> None:
    with pytest.raises(InputTooLargeError):
        transform(photo_400x300, Spec(w=100), Limits(max_input_pixels=400 * 300 - 1))
    transform(photo_400x300, Spec(w=100), Limits(max_input_pixels=400 * 300))


def test_byte_limit(photo_400x300: bytes) -> None:
    with pytest.raises(InputTooLargeError, match="bytes"):
        probe(photo_400x300, Limits(max_input_bytes=len(photo_400x300) - 1))


def test_truncated_jpeg_is_undecodable_but_probes() -> None:
    data = noise_jpeg(256, 256)
    cut = data[: len(data) // 2]
    info = probe(cut)  # the header alone is intact: probe never touches the pixels
    assert (info.width, info.height, info.format) == (256, 256, "jpeg")
    with pytest.raises(UndecodableImageError):
        transform(cut, Spec(w=64))
    with pytest.raises(UndecodableImageError):
        transform(cut, Spec(w=200, fm=Fm.WEBP))


@pytest.mark.parametrize("fm", [Fm.PNG, Fm.WEBP, Fm.GIF])
def test_truncated_other_formats(fm: Fm) -> None:
    data = transform(noise_jpeg(200, 200), Spec(fm=fm)).data
    with pytest.raises(UndecodableImageError):
        transform(data[: len(data) // 2], Spec(w=50, fm=Fm.JPEG))


def test_corrupt_header_is_undecodable() -> None:
    png = bytearray(bytes(corner_image(16, 16).pngsave_buffer()))
    png[16:24] = b"\xff" * 8  # IHDR width and height, now failing its CRC
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
    for data in (bytes(png), jpeg):
        with pytest.raises(UndecodableImageError):
            transform(data, Spec(w=10))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 100,
        bytes(range(256)) * 4,
        b"GIF89a",
        b"hello world\n",
        b"1 2 3\n4 5 6\n",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    ],
)
def test_unsupported_bytes(data: bytes) -> None:
    with pytest.raises((UnsupportedInputError, UndecodableImageError)) as caught:
        transform(data, Spec(w=10))
    if data[:3] != b"GIF":
        assert isinstance(caught.value, UnsupportedInputError)


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect width="100" height="50" fill="red"/></svg>'
)


def test_svg_refused_by_default_and_allowed_when_enabled() -> None:
    with pytest.raises(UnsupportedInputError, match="svg"):
        probe(SVG)
    with pytest.raises(UnsupportedInputError):
        transform(SVG, Spec(w=10))
    result = transform(SVG, Spec(w=40, fm=Fm.PNG), Limits(allow_svg=True))
    out = decode(result.data)
    assert (out.width, out.height) == (40, 20)
    assert near(pixel(out, 20, 10), (255, 0, 0, 255), 5)


def test_deadline_in_the_past(photo_400x300: bytes) -> None:
    with pytest.raises(DeadlineExceededError):
        transform(photo_400x300, Spec(w=100), deadline=time.monotonic() - 1)


def test_a_deadline_passed_before_the_encode_stops_the_transform() -> None:
    """The between-steps check; tests/integration/test_deadlines.py stops a libvips evaluation mid-way."""
    big = bytes(
        pyvips.Image.gaussnoise(2000, 2000).cast("uchar").copy(interpretation="b-w").pngsave_buffer(compression=1)
    )
    # 1 ms budget: gone before the pipeline starts, so a check between steps refuses to go on
    with pytest.raises(DeadlineExceededError):
        transform(big, Spec(w=1990, fm=Fm.AVIF, blur=5), deadline=time.monotonic() + 0.001)
    transform(big, Spec(w=100), deadline=time.monotonic() + 60)  # a generous deadline passes


def test_probe_fields() -> None:
    data = bytes(solid(30, 20, (1, 2, 3, 4)).webpsave_buffer())
    info = probe(data)
    assert info == ImageInfo(
        width=30,
        height=20,
        oriented_width=30,
        oriented_height=20,
        format="webp",
        alpha=True,
        pages=1,
        orientation=1,
        bytes=len(data),
        animated=False,
    )


def test_avif_probe_is_heif() -> None:
    avif = transform(bytes(corner_image(64, 48).jpegsave_buffer()), Spec(fm=Fm.AVIF)).data
    info = probe(avif)
    assert info.format == "heif" and (info.width, info.height) == (64, 48)
    result = transform(avif, Spec(w=32))  # HEIF is no web format: without fm, JPEG
    assert result.format == Format.JPEG and red_corner(decode(result.data)) == "tl"


def test_tiff_source() -> None:
    data = bytes(corner_image(64, 48).tiffsave_buffer())
    result = transform(data, Spec(w=32))
    assert result.input_info.format == "tiff" and result.format == Format.JPEG
    assert red_corner(decode(result.data)) == "tl"


# ---------------------------------------------------------------------------------------------------
# shrink-on-load and the resize


def mean_difference(a: Any, b: Any) -> float:
    return float((a.cast("int") - b.cast("int")).abs().avg())


@pytest.mark.parametrize("width", [1100, 500, 240, 100])  # JPEG decoded at 1, 1/2, 1/4, 1/8 (test_plan.py)
@pytest.mark.parametrize("grey", [False, True])
def test_shrink_on_load_looks_like_a_full_decode(width: int, grey: bool) -> None:
    """Whatever JPEG scale the plan picks, the output has the planned size, the probe the stored size, and
    the pixels are those of a full-resolution lanczos3 resize, give or take a level or two."""
    source = pyvips.Image.new_from_buffer(photo_jpeg(1200, 800), "")
    if grey:
        source = source.colourspace("b-w")
    data = bytes(source.jpegsave_buffer(Q=95))
    result = transform(data, Spec(w=width, fm=Fm.PNG))
    out = decode(result.data)
    height = round(width * 800 / 1200)
    assert (out.width, out.height, out.bands) == (width, height, 1 if grey else 3)
    assert (result.input_info.width, result.input_info.height) == (1200, 800)
    reference = decode(data).resize(width / 1200, vscale=height / 800, kernel="lanczos3")
    assert mean_difference(out, reference) < 0.75  # a gaussian blur of sigma 2 is 0.9-4.6 off


def test_a_jpeg_turned_by_exif_shrinks_on_load_in_its_upright_frame() -> None:
    """Stored 128x256 with orientation 6 (upright 256x128): w=32 decodes at 1/4 of the stored size."""
    data = with_orientation(corner_image(256, 128), 6)
    result = transform(data, Spec(w=32))
    out = decode(result.data)
    assert (out.width, out.height) == (32, 16) and red_corner(out) == "tl"
    assert (result.input_info.width, result.input_info.height, result.input_info.orientation) == (128, 256, 6)


@pytest.mark.parametrize("fm", [Fm.PNG, Fm.WEBP])
def test_resizing_alpha_leaves_no_dark_fringe(fm: Fm) -> None:
    """The resize premultiplies alpha: a red square on transparency stays red up to its soft edge."""
    square = pyvips.Image.black(200, 200, bands=4).draw_rect([255, 0, 0, 255], 50, 50, 100, 100, fill=True)
    data = bytes(square.copy(interpretation="srgb").pngsave_buffer())
    out = decode(transform(data, Spec(w=37, fm=fm)).data)
    assert (out.width, out.height, out.bands) == (37, 37, 4)
    visible = out.extract_band(3) > 16  # every pixel with some coverage, the soft edge included
    red = out.extract_band(0)
    assert (visible.ifthenelse(red, 255)).min() > 200


def test_an_enlargement_is_smooth_and_exact() -> None:
    data = bytes(corner_image(40, 30).pngsave_buffer())
    out = decode(transform(data, Spec(w=160, enlarge=True, fm=Fm.PNG)).data)
    assert (out.width, out.height) == (160, 120) and red_corner(out) == "tl"
