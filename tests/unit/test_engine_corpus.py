"""The engine on the team corpus (``../shared/corpus`` beside the project): real photos and large files."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips

from vipsfront.engine.probe import probe
from vipsfront.engine.run import transform
from vipsfront.url.spec import Fit, Fm, Format, Spec

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"team corpus not found at {CORPUS}"),
]

PHOTOS = sorted((CORPUS / "photos").glob("*.jpg")) if CORPUS.is_dir() else []
LARGE = sorted((CORPUS / "large").glob("*")) if CORPUS.is_dir() else []


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
def test_photos_to_400_wide(path: Path) -> None:
    data = path.read_bytes()
    info = probe(data)
    assert (info.width, info.height, info.format) == (2560, 1600, "jpeg")
    for fm in (Fm.JPEG, Fm.WEBP):
        result = transform(data, Spec(w=400, q=80, fm=fm))
        out = decode(result.data)
        assert (out.width, out.height) == (400, 250)
        assert result.format == Format(fm.value)
        assert out.get_typeof("exif-data") == 0 and out.get_typeof("icc-profile-data") == 0
        assert 2_000 < len(result.data) < 120_000


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
@pytest.mark.parametrize("fm", [Fm.JPEG, Fm.WEBP])
def test_photos_to_800_wide_look_like_a_full_decode(path: Path, fm: Fm) -> None:
    """The reference miss (a 2560x1600 photo to w=800): decoded at 1/2, the output is the full-resolution
    lanczos3 resize's colours within the encoder's error."""
    data = path.read_bytes()
    result = transform(data, Spec(w=800, fm=fm))
    out = decode(result.data)
    assert (out.width, out.height, result.format) == (800, 500, Format(fm.value))
    assert out.get("vips-loader").startswith(f"{fm.value}load")
    out = out.colourspace("srgb")  # the grey photo: one band in JPEG, three in WebP
    reference = decode(data).colourspace("srgb").resize(800 / 2560, kernel="lanczos3")
    assert (out.cast("int") - reference.cast("int")).abs().avg() < 7  # the encoder's error at the default: 1.4-6.4
    for band in range(3):
        assert abs(out[band].avg() - reference[band].avg()) < 2.5  # no colour shift (4:2:0 chroma: up to 1.8)


@pytest.mark.parametrize("path", LARGE, ids=lambda p: p.name)
def test_large_files(path: Path) -> None:
    data = path.read_bytes()
    info = probe(data)
    assert info.width * info.height >= 8_000_000
    result = transform(data, Spec(w=800, h=600, fit=Fit.COVER, fm=Fm.WEBP))
    out = decode(result.data)
    assert (out.width, out.height) == (800, 600)


def test_rgba_png_keeps_or_flattens_alpha() -> None:
    data = (CORPUS / "large" / "calla-rgba-3700x2400.png").read_bytes()
    info = probe(data)
    assert info.alpha and (info.width, info.height) == (3700, 2400)
    png = decode(transform(data, Spec(w=370)).data)
    assert png.bands == 4 and (png.width, png.height) == (370, 240)
    assert png[3].min() == 255  # its alpha band is opaque throughout, and stays so
    jpeg = decode(transform(data, Spec(w=370, fm=Fm.JPEG)).data)
    assert jpeg.bands == 3


def test_greyscale_photo() -> None:
    data = (CORPUS / "photos" / "grey.jpg").read_bytes()
    for fm in (Fm.JPEG, Fm.WEBP, Fm.AVIF, Fm.PNG):
        out = decode(transform(data, Spec(w=300, fm=fm)).data)
        assert (out.width, out.height) == (300, 188)


@pytest.mark.parametrize("path", PHOTOS[:3], ids=lambda p: p.name)
def test_fast_shrink_on_load_keeps_quality(path: Path) -> None:
    """The 1/4 JPEG decode the engine picks for 400 px stays close to a full-resolution resize."""
    data = path.read_bytes()
    out = decode(transform(data, Spec(w=400, fm=Fm.PNG)).data)  # lossless, so only the resize shows
    reference = pyvips.Image.new_from_buffer(data, "").resize(400 / 2560, kernel="lanczos3")
    reference = (
        reference.icc_transform("srgb", embedded=True) if reference.get_typeof("icc-profile-data") else reference
    )
    assert (out.width, out.height) == (reference.width, reference.height)
    # root mean square error in grey levels: 1.2-1.6 on the photos here, while a 1/8 decode is 5.5-14 and a
    # nearest-neighbour resize of the 1/4 decode 5-7
    difference = out.cast("float") - reference.cast("float")
    assert (difference * difference).avg() ** 0.5 < 2.5
