"""The plan on its own: every size a transform will make, from the header facts and the spec, no libvips.

Pixel checks of the same geometry (decoded outputs) live in ``test_engine.py``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from vipsfront.engine.limits import Limits
from vipsfront.engine.plan import (
    Geometry,
    ImageInfo,
    crop_origin,
    geometry,
    make_plan,
    output_format,
    pad_origin,
)
from vipsfront.errors import OutputTooLargeError
from vipsfront.url.grammar import build
from vipsfront.url.spec import Fit, Flip, Fm, Format, Position, Spec


def info(width: int = 2560, height: int = 1600, fmt: str = "jpeg", orientation: int = 1, **traits: bool) -> ImageInfo:
    swapped = orientation >= 5
    return ImageInfo(
        width=width,
        height=height,
        oriented_width=height if swapped else width,
        oriented_height=width if swapped else height,
        format=fmt,
        alpha=traits.get("alpha", False),
        pages=4 if traits.get("animated", False) else 1,
        orientation=orientation,
        bytes=1000,
        animated=traits.get("animated", False),
    )


PHOTO = info()  # 2560x1600, the corpus photos' size


def test_importing_the_plan_loads_no_libvips() -> None:
    code = "import sys, vipsfront.engine.plan; print('pyvips' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------------
# fit, enlarge: sharp's documented results on a 400x300 source


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (Spec(w=200, h=200, fit=Fit.COVER), Geometry(resize=(267, 200), crop=(200, 200))),
        (Spec(w=200, h=200, fit=Fit.CONTAIN), Geometry(resize=(200, 150), pad=(200, 200))),
        (Spec(w=200, h=200, fit=Fit.FILL), Geometry(resize=(200, 200))),
        (Spec(w=200, h=200, fit=Fit.INSIDE), Geometry(resize=(200, 150))),
        (Spec(w=200, h=200, fit=Fit.OUTSIDE), Geometry(resize=(267, 200))),
        (Spec(w=200), Geometry(resize=(200, 150))),
        (Spec(h=100), Geometry(resize=(133, 100))),
        (Spec(), Geometry(resize=(400, 300))),
        # withoutEnlargement (enlarge=0): never scale an axis up
        (Spec(w=800, h=800, fit=Fit.COVER), Geometry(resize=(400, 300), crop=(400, 300))),
        (Spec(w=800, h=200, fit=Fit.COVER), Geometry(resize=(400, 300), crop=(400, 200))),
        (Spec(w=800, h=800, fit=Fit.CONTAIN), Geometry(resize=(400, 300), pad=(800, 800))),  # sharp pads it
        (Spec(w=800, h=800, fit=Fit.FILL), Geometry(resize=(400, 300))),
        (Spec(w=800, h=800, fit=Fit.INSIDE), Geometry(resize=(400, 300))),
        (Spec(w=800, h=800, fit=Fit.OUTSIDE), Geometry(resize=(400, 300))),
        (Spec(w=800), Geometry(resize=(400, 300))),
        # enlarge=1
        (Spec(w=800, h=800, fit=Fit.COVER, enlarge=True), Geometry(resize=(1067, 800), crop=(800, 800))),
        (Spec(w=800, h=800, fit=Fit.CONTAIN, enlarge=True), Geometry(resize=(800, 600), pad=(800, 800))),
        (Spec(w=800, h=800, fit=Fit.INSIDE, enlarge=True), Geometry(resize=(800, 600))),
        (Spec(w=800, h=800, fit=Fit.OUTSIDE, enlarge=True), Geometry(resize=(1067, 800))),
        (Spec(w=800, h=200, fit=Fit.FILL, enlarge=True), Geometry(resize=(800, 200))),
        (Spec(w=800, enlarge=True), Geometry(resize=(800, 600))),
    ],
)
def test_geometry_matches_sharp(spec: Spec, expected: Geometry) -> None:
    assert geometry(400, 300, spec) == expected


def test_a_side_never_rounds_to_zero() -> None:
    assert geometry(4000, 3, Spec(w=100)).resize == (100, 1)


# ---------------------------------------------------------------------------------------------------
# pos and the focal point


@pytest.mark.parametrize(
    ("pos", "origin"),
    [
        (Position.CENTER, (34, 0)),  # 67 columns to spare: ceil(67/2) before the box, as sharp's crop
        (Position.LEFT, (0, 0)),
        (Position.RIGHT, (67, 0)),
        (Position.TOP, (34, 0)),
        (Position.BOTTOM_RIGHT, (67, 0)),
        (Position.ATTENTION, (34, 0)),  # smart crop is libvips' at run time; its plan is the centre
    ],
)
def test_cover_box_at_pos(pos: Position, origin: tuple[int, int]) -> None:
    spec = Spec(w=200, h=200, pos=pos)
    geo = geometry(400, 300, spec)
    assert geo.crop is not None
    assert crop_origin(geo.resize, geo.crop, spec) == origin


@pytest.mark.parametrize(
    ("fx", "fy", "origin"),
    [
        (0.0, 0.5, (0, 0)),  # clamped to the image
        (1.0, 0.5, (67, 0)),
        (0.5, 0.5, (34, 0)),
        (0.25, 0.5, (0, 0)),  # 0.25 * 267 - 100 < 0
        (0.6, 0.5, (60, 0)),  # round(0.6 * 267 - 100)
    ],
)
def test_cover_box_at_the_focal_point(fx: float, fy: float, origin: tuple[int, int]) -> None:
    spec = Spec(w=200, h=200, fx=fx, fy=fy, pos=Position.RIGHT)  # the focal point wins over pos
    assert crop_origin((267, 200), (200, 200), spec) == origin
    tall = Spec(w=200, h=200, fx=0.5, fy=fy)
    assert crop_origin((200, 300), (200, 200), tall)[1] == min(max(0, round(fy * 300 - 100)), 100)


@pytest.mark.parametrize(
    ("pos", "origin"),
    [
        (Position.CENTER, (1, 0)),  # 3 columns to spare: floor(3/2) before the image, as sharp's embed
        (Position.LEFT, (0, 0)),
        (Position.RIGHT, (3, 0)),
        (Position.TOP_RIGHT, (3, 0)),
    ],
)
def test_contain_origin_at_pos(pos: Position, origin: tuple[int, int]) -> None:
    assert pad_origin((4, 2), (7, 2), Spec(w=7, h=2, fit=Fit.CONTAIN, pos=pos)) == origin


# ---------------------------------------------------------------------------------------------------
# the plan: dpr, rot, EXIF orientation, shrink-on-load, limits, format


@pytest.mark.parametrize(
    ("query", "output", "shrink"),
    [
        ({"w": "800"}, (800, 500), 2),  # 1280 >= 1.5 x 800
        ({"w": "400", "dpr": "2"}, (800, 500), 2),  # dpr folded: the same plan as w=800
        ({"w": "400"}, (400, 250), 4),
        ({"w": "200", "dpr": "2"}, (400, 250), 4),
        ({"w": "426"}, (426, 266), 4),  # 640 >= 1.5 x 426: at the margin
        ({"w": "427"}, (427, 267), 2),
        ({"w": "200"}, (200, 125), 8),
        ({"w": "300", "h": "300", "dpr": "1.5"}, (450, 450), 2),  # cover: resized to 720x450 first
        ({"w": "2000"}, (2000, 1250), 1),
    ],
)
def test_dpr_folded_sizes_and_jpeg_shrink(query: dict[str, str], output: tuple[int, int], shrink: int) -> None:
    plan = make_plan(PHOTO, build(query))
    assert plan.geometry.output == output
    assert plan.jpeg_shrink == shrink
    assert plan.load_scale == 1.0


def test_a_tiny_axis_keeps_every_row() -> None:
    plan = make_plan(info(1000, 3), Spec(h=1))
    assert plan.geometry.output == (333, 1)
    assert plan.jpeg_shrink == 1  # 3 // 2 rows would be under 1.5 x 1


@pytest.mark.parametrize(
    ("rot", "resize", "load_size"),
    [
        (0, (400, 250), (400, 250)),
        (180, (400, 250), (400, 250)),
        (90, (400, 640), (640, 400)),  # fit is worked out on the turned size; loaded before the turn
        (270, (400, 640), (640, 400)),
    ],
)
def test_rot_applies_before_fit(rot: int, resize: tuple[int, int], load_size: tuple[int, int]) -> None:
    plan = make_plan(PHOTO, Spec(w=400, rot=rot))
    assert plan.geometry.resize == resize
    assert plan.load_size == load_size


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_before_the_plan(orientation: int) -> None:
    plan = make_plan(info(2560, 1600, orientation=orientation), Spec(w=400))
    upright = (400, 250) if orientation < 5 else (400, 640)  # 5..8 turn the stored image
    assert plan.geometry.output == plan.load_size == upright
    assert plan.jpeg_shrink == (4 if orientation < 5 else 2)


def test_contain_plan_pads_to_the_box() -> None:
    plan = make_plan(PHOTO, Spec(w=400, h=400, fit=Fit.CONTAIN))
    assert plan.geometry == Geometry(resize=(400, 250), pad=(400, 400))
    assert plan.load_size == (400, 250)


def test_webp_and_vector_sources_scale_on_load() -> None:
    assert make_plan(info(fmt="webp"), Spec(w=400)).load_scale == pytest.approx(400 / 2560 * 1.5)
    assert make_plan(info(fmt="webp"), Spec(w=1000)).load_scale == 1.0  # not below half: decoded whole
    svg = make_plan(info(100, 50, fmt="svg"), Spec(w=400, enlarge=True))
    assert svg.load_scale == 4.0 and svg.geometry.output == (400, 200)
    assert make_plan(info(fmt="png"), Spec(w=400)).load_scale == 1.0


def test_output_side_limit() -> None:
    with pytest.raises(OutputTooLargeError, match="output would be 600x375") as over:
        make_plan(PHOTO, Spec(w=600), Limits(max_output_side=500))
    assert (over.value.status, over.value.code, over.value.param) == (400, "output_too_large", "w")
    with pytest.raises(OutputTooLargeError):  # a format change keeps the source size
        make_plan(PHOTO, Spec(fm=Fm.WEBP), Limits(max_output_side=2000))
    assert make_plan(PHOTO, Spec(w=500), Limits(max_output_side=500)).geometry.output == (500, 313)


@pytest.mark.parametrize(
    ("rot", "flip", "pos", "cut"),
    [
        (0, None, Position.CENTER, (0.5, 0.0, 0.5 + 3 / 4097, 1.0)),
        (0, None, Position.LEFT, (0.0, 0.0, 3 / 4097, 1.0)),
        (0, Flip.H, Position.LEFT, (1 - 3 / 4097, 0.0, 1.0, 1.0)),  # undo the mirror: the source's right
        (90, None, Position.TOP, (0.0, 0.0, 3 / 4097, 1.0)),  # turned: the output's top is the source's left
    ],
)
def test_an_oversized_cover_cuts_the_source_first(
    rot: int, flip: Flip | None, pos: Position, cut: tuple[float, float, float, float]
) -> None:
    strip = info(4097, 3, fmt="png")
    plan = make_plan(strip, Spec(w=100, h=100, enlarge=True, rot=rot, flip=flip, pos=pos))
    assert plan.geometry.output == (100, 100)
    assert plan.load_size == (100, 100)  # only the box is resized, never 136567x100
    assert plan.cut == pytest.approx(cut, abs=1e-3)
    assert make_plan(info(400, 300), Spec(w=100, h=100)).cut is None


@pytest.mark.parametrize(
    ("fm", "source", "alpha", "animated", "expected"),
    [
        (None, "jpeg", False, False, Format.JPEG),
        (None, "heif", False, False, Format.JPEG),  # a source format that is no output: JPEG
        (None, "tiff", True, False, Format.PNG),  # or PNG with alpha
        (Fm.WEBP, "png", True, False, Format.WEBP),
        (Fm.AUTO, "jpeg", False, False, Format.JPEG),
        (Fm.AUTO, "png", True, False, Format.PNG),
        (Fm.AUTO_WEBP, "jpeg", False, False, Format.WEBP),
        (Fm.AUTO_AVIF, "png", True, False, Format.AVIF),
        (Fm.AUTO_AVIF_WEBP, "gif", False, True, Format.WEBP),  # animation keeps WebP
        (Fm.AUTO_AVIF, "gif", False, True, Format.GIF),  # else GIF
        (Fm.AUTO_AVIF_WEBP, "jpeg", False, False, Format.AVIF),
        (Fm.JPEG, "png", True, False, Format.JPEG),
        (None, "webp", False, False, Format.WEBP),
        (None, "heif", True, False, Format.PNG),
    ],
)
def test_output_format(fm: Fm | None, source: str, alpha: bool, animated: bool, expected: Format) -> None:
    assert output_format(fm, source, alpha=alpha, animated=animated) == expected


@pytest.mark.parametrize(
    ("fm", "keeps_alpha", "keeps_frames"),
    [
        (Fm.JPEG, False, False),
        (Fm.PNG, True, False),
        (Fm.WEBP, True, True),
        (Fm.AVIF, True, False),
        (Fm.GIF, True, True),
    ],
)
def test_what_the_output_format_keeps(fm: Fm, keeps_alpha: bool, keeps_frames: bool) -> None:
    plan = make_plan(info(40, 30, fmt="gif", alpha=True, animated=True), Spec(w=20, fm=fm))
    assert (plan.keeps_alpha, plan.animated) == (keeps_alpha, keeps_frames)
    assert plan.geometry.output == (20, 15)  # per frame
    still = make_plan(replace(plan.info, animated=False, pages=1), Spec(w=20, fm=fm))
    assert not still.animated


def test_bg_is_the_spec_background() -> None:
    assert make_plan(PHOTO, Spec(w=100, bg="ff000080")).bg == (255, 0, 0, 128)
    assert make_plan(PHOTO, Spec(w=100)).bg is None
