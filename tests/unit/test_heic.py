"""HEIC originals: decoded with pi-heif behind the same limits, upright, colour-managed, never answered
as HEIC, and a damaged one is a 422.

The HEIC files are made here with pillow-heif, a dev dependency only: its wheels bundle the x265 HEVC
encoder (GPL-2.0), which is fine for a tool that writes test files and never ships (the Lambda ships
pi-heif, the decode-only build). A phone's rotation is written as pillow-heif writes it: EXIF
orientation 6 becomes the container's rotation, which the decoder applies.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import pyvips

from vipsfront.engine import heic
from vipsfront.engine.info import describe
from vipsfront.engine.limits import Limits
from vipsfront.engine.probe import probe
from vipsfront.engine.run import transform
from vipsfront.errors import InputTooLargeError, UndecodableImageError
from vipsfront.url.spec import Fm, Format, Spec

pillow_heif = pytest.importorskip("pillow_heif")
Image = pytest.importorskip("PIL.Image")
ImageCms = pytest.importorskip("PIL.ImageCms")

RED, BLUE = (230, 20, 20), (20, 20, 230)


def halves(width: int = 96, height: int = 64) -> Any:
    """Red on the left, blue on the right."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    return image


def heic_bytes(image: Any, **options: Any) -> bytes:
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    image.save(out, format="HEIF", quality=90, **options)
    return out.getvalue()


def decode(data: bytes) -> Any:
    return pyvips.Image.new_from_buffer(data, "")


def near(actual: list[float], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def test_a_heic_original_is_recognised_and_resized_to_jpeg() -> None:
    data = heic_bytes(halves())
    assert heic.is_heic(data)
    info = probe(data)
    assert (info.format, info.width, info.height) == ("heic", 96, 64)
    result = transform(data, Spec(w=48))
    assert result.format is Format.JPEG
    image = decode(result.data)
    assert (image.width, image.height) == (48, 32)
    assert near(image.getpoint(4, 16), RED) and near(image.getpoint(44, 16), BLUE)


def test_the_rotation_a_phone_records_is_applied() -> None:
    orientation = Image.Exif()
    orientation[0x0112] = 6  # turned 90° clockwise to view
    data = heic_bytes(halves(), exif=orientation.tobytes())
    image = decode(transform(data, Spec(w=32)).data)
    assert (image.width, image.height) == (32, 48)
    assert near(image.getpoint(16, 4), RED) and near(image.getpoint(16, 44), BLUE)  # left became top


def test_an_embedded_profile_is_applied() -> None:
    # the same pixels tagged as Display P3-like wide gamut would shift; an sRGB profile must not
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = heic_bytes(halves(), icc_profile=srgb)
    assert heic.decode(data).get_typeof("icc-profile-data") != 0
    image = decode(transform(data, Spec(w=48, fm=Fm.PNG)).data)
    assert near(image.getpoint(4, 16), RED) and image.get_typeof("icc-profile-data") == 0


def test_auto_never_answers_heic() -> None:
    data = heic_bytes(halves())
    assert transform(data, Spec(w=48, fm=Fm.AUTO_AVIF_WEBP)).format is Format.AVIF
    assert transform(data, Spec(w=48, fm=Fm.AUTO)).format is Format.JPEG
    with_alpha = heic_bytes(Image.new("RGBA", (40, 30), (0, 128, 0, 100)))
    assert transform(with_alpha, Spec(w=20, fm=Fm.AUTO)).format is Format.PNG


def test_the_pixel_limit_is_checked_on_the_header() -> None:
    data = heic_bytes(halves(400, 300))
    with pytest.raises(InputTooLargeError):
        transform(data, Spec(w=48), Limits(max_input_pixels=100_000))


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_damaged_heic_is_undecodable(cut: float) -> None:
    data = heic_bytes(halves(256, 256))
    damaged = data[: int(len(data) * cut)]
    with pytest.raises(UndecodableImageError) as caught:
        transform(damaged, Spec(w=48))
    assert caught.value.status == 422


def test_the_info_document_of_a_heic_original() -> None:
    document = describe("phone/photo.heic", heic_bytes(halves()), "v1", Limits())
    assert (document["format"], document["width"], document["height"]) == ("heic", 96, 64)
    assert document["placeholder"]["color"].startswith("#")
