"""``rect`` (a source rectangle) and ``trim`` (a uniform border removed), planned and decoded."""

from __future__ import annotations

import pytest
import pyvips

from vipsfront.engine.plan import ImageInfo, make_plan
from vipsfront.engine.run import transform
from vipsfront.errors import InvalidSpecError
from vipsfront.url.grammar import build

RED, GREEN, BLUE, WHITE = [220, 20, 20], [20, 200, 20], [20, 20, 220], [255, 255, 255]


def quadrants() -> pyvips.Image:
    """200x100: red left half, green right half, a blue band across the bottom 20 rows."""
    left = pyvips.Image.black(100, 100).new_from_image(RED)
    right = pyvips.Image.black(100, 100).new_from_image(GREEN)
    image = left.join(right, "horizontal")
    band = pyvips.Image.black(200, 20).new_from_image(BLUE)
    return image.insert(band, 0, 80).cast("uchar").copy(interpretation="srgb")


def bordered() -> pyvips.Image:
    """A 160x60 red block inside a white border: 200x100."""
    block = pyvips.Image.black(160, 60).new_from_image(RED).cast("uchar").copy(interpretation="srgb")
    return block.embed(20, 20, 200, 100, extend="background", background=WHITE)


def decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def near(pixel: list[float], colour: list[int]) -> bool:
    return all(abs(p - c) <= 12 for p, c in zip(pixel, colour, strict=False))


def info(width: int, height: int, orientation: int = 1) -> ImageInfo:
    swapped = orientation >= 5
    return ImageInfo(
        width,
        height,
        height if swapped else width,
        width if swapped else height,
        "jpeg",
        False,
        1,
        orientation,
        1000,
        False,
    )


def test_rect_plans_the_resize_on_the_rectangle_and_decodes_whole() -> None:
    plan = make_plan(info(2560, 1600), build({"rect": "100,100,1000,500", "w": "200"}))
    assert (plan.region, plan.geometry.output, plan.jpeg_shrink) == ((100, 100, 1000, 500), (200, 100), 1)


def test_rect_is_clipped_to_the_oriented_original() -> None:
    plan = make_plan(info(1600, 2560, orientation=6), build({"rect": "2000,1000,1000,1000"}))
    assert plan.region == (2000, 1000, 560, 600)  # oriented 2560x1600


def test_rect_outside_the_original_names_rect() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        make_plan(info(400, 300), build({"rect": "400,0,10,10"}))
    assert raised.value.param == "rect"


@pytest.mark.parametrize(("rect", "colour"), [("0,0,100,80", RED), ("100,0,100,80", GREEN), ("0,80,200,20", BLUE)])
def test_rect_cuts_source_pixels(rect: str, colour: list[int]) -> None:
    out = decoded(transform(quadrants().pngsave_buffer(), build({"rect": rect})).data)
    left, top, width, height = (int(v) for v in rect.split(","))
    assert (out.width, out.height) == (width, height)
    assert all(near(out.getpoint(x, y), colour) for x, y in ((0, 0), (width - 1, height - 1)))


def test_rect_then_resize() -> None:
    result = transform(quadrants().jpegsave_buffer(Q=95), build({"rect": "100,0,100,80", "w": "50", "fm": "png"}))
    out = decoded(result.data)
    assert (out.width, out.height) == (50, 40)
    assert near(out.getpoint(25, 20), GREEN)


def test_rect_is_in_exif_oriented_pixels() -> None:
    # stored rotated 90 degrees anticlockwise, tagged 6 (turn clockwise to view): viewed it is quadrants()
    stored = quadrants().rot270().copy()
    stored.set_type(pyvips.GValue.gint_type, "orientation", 6)
    out = decoded(transform(stored.jpegsave_buffer(Q=95), build({"rect": "100,0,100,80", "fm": "png"})).data)
    assert (out.width, out.height) == (100, 80)
    assert near(out.getpoint(50, 40), GREEN)


@pytest.mark.parametrize("options", [".png", ".webp[lossless]"])
def test_trim_removes_a_uniform_border(options: str) -> None:
    out = decoded(transform(bordered().write_to_buffer(options), build({"trim": "10"})).data)
    assert (out.width, out.height) == (160, 60)
    assert near(out.getpoint(0, 0), RED)


def test_trim_then_resize() -> None:
    result = transform(bordered().pngsave_buffer(), build({"trim": "10", "w": "80"}))
    assert (result.width, result.height) == (80, 30)


def test_trim_within_rect() -> None:
    result = transform(bordered().pngsave_buffer(), build({"rect": "0,0,100,100", "trim": "10"}))
    assert (result.width, result.height) == (80, 60)


def test_trim_of_a_uniform_image_keeps_it_whole() -> None:
    flat = pyvips.Image.black(64, 32).new_from_image(BLUE).cast("uchar").copy(interpretation="srgb")
    result = transform(flat.pngsave_buffer(), build({"trim": "10"}))
    assert (result.width, result.height) == (64, 32)
