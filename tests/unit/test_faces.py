"""``pos=face``: the packaged detector on a real portrait, the focal point rule, and the crops it makes.

The portrait is ``grace_hopper.jpg`` from matplotlib's sample data (a bench and dev dependency): one
face, about 170 px wide, in the upper half of a 512x600 photo.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import pyvips

from vipsfront.engine import faces
from vipsfront.engine.run import transform
from vipsfront.url.grammar import build
from vipsfront.url.spec import FACE_CANONICAL, Spec


@pytest.fixture(scope="module")
def portrait() -> bytes:
    import matplotlib  # the dev extra's

    return (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()


def decode(data: bytes) -> Any:
    return pyvips.Image.new_from_buffer(data, "")


def test_the_model_is_the_pinned_file_and_its_notice_ships_beside_it() -> None:
    assert hashlib.sha256(faces.MODEL_PATH.read_bytes()).hexdigest() == faces.MODEL_SHA256
    notice = faces.MODEL_PATH.with_name(faces.MODEL_PATH.stem + ".LICENSE.txt").read_text()
    assert "MIT" in notice or "Permission is hereby granted" in notice


def test_the_canonical_form_names_this_detector() -> None:
    assert faces.GENERATIONS[faces.DETECTOR] == FACE_CANONICAL
    assert len(set(faces.GENERATIONS.values())) == len(faces.GENERATIONS)
    spec = build({"w": "300", "h": "300", "pos": "face"})
    assert spec.canonical() == f"w=300,h=300,pos={FACE_CANONICAL}"
    assert spec.signing_canonical() == "w=300,h=300,pos=face"


def test_one_face_is_found_in_the_portrait(portrait: bytes) -> None:
    found = faces.detect_pixels(decode(portrait))
    assert len(found) == 1
    face = found[0]
    assert 0.3 < face.left < face.right < 0.75
    assert 0.15 < face.top < face.bottom < 0.6


def test_no_face_in_a_flat_image() -> None:
    grey = (pyvips.Image.black(640, 480) + 128).cast("uchar").copy(interpretation="b-w")
    assert faces.detect_pixels(grey) == ()


def test_the_focal_point_centres_the_faces_that_fit_else_their_weighted_centre() -> None:
    assert faces.focal_point((), (100, 100), (50, 50)) is None
    one = faces.Face(0.6, 0.4, 0.8, 0.6, 0.9)
    fx, fy = faces.focal_point((one,), (1000, 1000), (500, 500))  # fits: centre of the face, hair added
    assert fx == pytest.approx(0.7) and fy == pytest.approx((0.35 + 0.6) / 2)
    big, small = faces.Face(0.0, 0.5, 0.4, 0.9, 0.9), faces.Face(0.9, 0.5, 1.0, 0.6, 0.9)
    fx, _ = faces.focal_point((big, small), (1000, 1000), (300, 300))  # too wide: the large face weighs more
    assert 0.2 < fx < 0.45


def test_a_group_that_fits_only_without_its_margins_is_still_centred() -> None:
    top, bottom = faces.Face(0.1, 0.10, 0.2, 0.2, 0.9), faces.Face(0.7, 0.75, 0.8, 0.85, 0.9)
    fx, fy = faces.focal_point((top, bottom), (1000, 1000), (1000, 760))  # bare union 750 px tall: fits
    assert (fx, fy) == pytest.approx((0.45, 0.475))


def test_boxes_follow_flip_and_rot() -> None:
    face = faces.Face(0.1, 0.2, 0.3, 0.4, 1.0)
    assert faces.orient((face,), True, False, 0)[0].left == pytest.approx(0.7)
    turned = faces.orient((face,), False, False, 90)[0]  # clockwise: the left edge becomes the top
    assert (turned.left, turned.top, turned.right, turned.bottom) == pytest.approx((0.6, 0.1, 0.8, 0.3))


@pytest.mark.parametrize("width", [512, 200])  # detected in the resized image, and in a fresh decode
def test_a_face_crop_keeps_the_face_where_the_centre_crop_cuts_it(portrait: bytes, width: int) -> None:
    height = width * 2 // 9  # a wide strip: the centre crop cuts through the chin
    face_crop = transform(portrait, build({"w": str(width), "h": str(height), "pos": "face"}))
    centre_crop = transform(portrait, build({"w": str(width), "h": str(height)}))
    assert face_crop.notes["faces"].startswith("faces=1")
    assert (face_crop.width, face_crop.height) == (width, height)
    assert face_crop.data != centre_crop.data
    if width >= faces.MIN_DETECT_SIDE:  # the strip is tall enough for the detector to see a face in it
        (kept,) = faces.detect_pixels(decode(face_crop.data))
        assert kept.score > 0.8


def test_cached_boxes_are_used_and_no_face_falls_back_to_attention(portrait: bytes) -> None:
    spec = build({"w": "300", "h": "100", "pos": "face"})
    found = faces.detect_pixels(decode(portrait))
    cached = transform(portrait, spec, known_faces=found)
    assert cached.notes["faces"] == "faces=1 cached"
    assert cached.data == transform(portrait, spec).data  # the same focal point from either source
    none = transform(portrait, spec, known_faces=())
    assert none.notes["faces"] == "attention: no face cached"
    assert none.data == transform(portrait, build({"w": "300", "h": "100", "pos": "attention"})).data


def test_a_face_crop_that_cuts_nothing_detects_nothing(portrait: bytes) -> None:
    result = transform(portrait, Spec(w=256, pos=build({"w": "1", "h": "1", "pos": "face"}).pos))
    assert "faces" not in result.notes and result.width == 256
