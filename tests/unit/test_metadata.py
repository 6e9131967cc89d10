"""Metadata of originals: EXIF fields (GPS and personal ones only on opt-in), ICC, perceptual hash, version."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
import pyvips
from hypothesis import given, settings
from hypothesis import strategies as st

from vipsfront.engine import metadata
from vipsfront.engine.limits import Limits
from vipsfront.errors import InvalidSpecError, UndecodableImageError, UnsupportedInputError
from vipsfront.url.version import TOKEN_LENGTH, check_version, version_token

# ---------------------------------------------------------------------------------------------------
# an EXIF block written by hand (TIFF structure), so every field is known


def _rationals(*values: tuple[int, int]) -> tuple[int, int, bytes]:
    return 5, len(values), b"".join(struct.pack(">II", n, d) for n, d in values)


def _ascii(text: str) -> tuple[int, int, bytes]:
    data = text.encode("utf-8") + b"\x00"
    return 2, len(data), data


def _short(value: int) -> tuple[int, int, bytes]:
    return 3, 1, struct.pack(">H", value)


def _byte(value: int) -> tuple[int, int, bytes]:
    return 1, 1, bytes([value])


def exif_blob(ifd0: dict[int, Any], exif: dict[int, Any], gps: dict[int, Any], *, little: bool = False) -> bytes:
    """``Exif\\0\\0`` + a TIFF with IFD0 → Exif IFD and GPS IFD; values as (type, count, big-endian bytes)."""
    order = "<" if little else ">"

    def swap(kind: int, data: bytes) -> bytes:
        if not little or kind in (1, 2, 7):
            return data
        width = {3: 2, 4: 4, 5: 4}[kind]
        return b"".join(data[i : i + width][::-1] for i in range(0, len(data), width))

    ifds = [dict(ifd0), dict(exif), dict(gps)]
    sizes = [2 + 12 * (len(ifd) + (2 if i == 0 else 0)) + 4 for i, ifd in enumerate(ifds)]
    offsets = [8, 8 + sizes[0], 8 + sizes[0] + sizes[1]]
    ifds[0][0x8769] = (4, 1, struct.pack(">I", offsets[1]))
    ifds[0][0x8825] = (4, 1, struct.pack(">I", offsets[2]))
    data_at = offsets[2] + sizes[2]
    tables, extra = b"", b""
    for ifd in ifds:
        table = struct.pack(f"{order}H", len(ifd))
        for tag in sorted(ifd):
            kind, count, value = ifd[tag]
            value = swap(kind, value)
            if len(value) <= 4:
                table += struct.pack(f"{order}HHI", tag, kind, count) + value.ljust(4, b"\x00")
            else:
                table += struct.pack(f"{order}HHII", tag, kind, count, data_at + len(extra))
                extra += value + (b"\x00" if len(value) % 2 else b"")
        tables += table + b"\x00\x00\x00\x00"
    header = (b"II*\x00" if little else b"MM\x00*") + struct.pack(f"{order}I", 8)
    return b"Exif\x00\x00" + header + tables + extra


IFD0 = {
    0x010F: _ascii("Vipscam"),
    0x0110: _ascii("VC-1 Mark II"),
    0x013B: _ascii("Ada Lovelace"),
    0x8298: _ascii("(c) Ada Lovelace"),
}
EXIF = {
    0x9003: _ascii("2023:07:14 18:05:09"),
    0x9011: _ascii("+02:00"),
    0x9291: _ascii("25"),
    0xA430: _ascii("Ada"),
    0xA431: _ascii("SN-0042"),
    0xA434: _ascii("Vipsar 50mm f/1.8"),
}
GPS = {
    1: _ascii("N"),
    2: _rationals((48, 1), (51, 1), (2940, 100)),  # 48° 51' 29.4" N
    3: _ascii("W"),
    4: _rationals((2, 1), (17, 1), (4020, 100)),  # 2° 17' 40.2" W
    5: _byte(0),
    6: _rationals((355, 10)),
    7: _rationals((16, 1), (5, 1), (9, 1)),
    0x1D: _ascii("2023:07:14"),
}


def scene(kind: str, width: int = 480, height: int = 320) -> Any:
    """Distinct synthetic pictures, 8-bit sRGB."""
    if kind == "rings":
        image = pyvips.Image.zone(width, height)
    elif kind == "sines":
        image = pyvips.Image.sines(width, height, hfreq=3, vfreq=2)
    else:  # diagonal ramp with a dark square
        image = pyvips.Image.xyz(width, height)
        image = image[0] + image[1]
        image = image.draw_rect(0, width // 5, height // 4, width // 4, height // 3, fill=True)
    grey = (image - image.min()) * (255 / max(1e-9, image.max() - image.min()))
    rgb = grey.bandjoin([grey * 0.6, 255 - grey]).cast("uchar")
    return rgb.copy(interpretation="srgb")


def jpeg(image: Any, exif: bytes | None = None, q: int = 85) -> bytes:
    image = image.copy()
    if exif is not None:
        image.set_type(pyvips.GValue.blob_type, "exif-data", exif)
    return bytes(image.jpegsave_buffer(Q=q))


@pytest.fixture(scope="module")
def tagged() -> bytes:
    return jpeg(scene("ramp"), exif_blob(IFD0, EXIF, GPS))


# ---------------------------------------------------------------------------------------------------
# EXIF through libvips


def test_capture_time_camera_and_lens(tagged: bytes) -> None:
    meta = metadata.extract(tagged)
    assert meta.captured_at == "2023-07-14T18:05:09.250000+02:00"
    assert (meta.camera_make, meta.camera_model, meta.lens_model) == ("Vipscam", "VC-1 Mark II", "Vipsar 50mm f/1.8")
    assert meta.orientation == 1
    assert meta.color_space == "srgb"


def test_gps_and_personal_fields_are_absent_by_default(tagged: bytes) -> None:
    meta = metadata.extract(tagged)
    assert meta.gps is None and meta.personal is None
    document = json.dumps(meta.to_dict())
    assert "gps" not in meta.to_dict() and "personal" not in meta.to_dict()
    for secret in ("Ada", "SN-0042", "48.8", "2.29"):
        assert secret not in document


def test_gps_with_opt_in(tagged: bytes) -> None:
    meta = metadata.extract(tagged, include_gps=True)
    assert meta.gps is not None and meta.personal is None
    assert meta.gps.latitude == pytest.approx(48 + 51 / 60 + 29.4 / 3600)
    assert meta.gps.longitude == pytest.approx(-(2 + 17 / 60 + 40.2 / 3600))  # W is negative
    assert meta.gps.altitude == pytest.approx(35.5)
    assert meta.gps.timestamp == "2023-07-14T16:05:09Z"
    assert json.loads(json.dumps(meta.to_dict()))["gps"]["latitude"] == pytest.approx(48.858167)


def test_personal_fields_with_opt_in(tagged: bytes) -> None:
    meta = metadata.extract(tagged, include_personal=True)
    assert meta.gps is None and meta.personal is not None
    assert meta.personal.artist == "Ada Lovelace"
    assert meta.personal.copyright == "(c) Ada Lovelace"
    assert meta.personal.camera_owner == "Ada"
    assert meta.personal.body_serial_number == "SN-0042"
    assert "gps" not in meta.to_dict()


@pytest.mark.parametrize("little", [False, True])
def test_exif_parser_reads_both_byte_orders(little: bool) -> None:
    fields = metadata.exif_fields(exif_blob(IFD0, EXIF, GPS, little=little), include_gps=True, include_personal=True)
    assert fields["camera_model"] == "VC-1 Mark II"
    assert fields["captured_at"] == "2023-07-14T18:05:09.250000+02:00"
    assert fields["gps"].latitude == pytest.approx(48.858167)
    assert fields["personal"].body_serial_number == "SN-0042"


@pytest.mark.parametrize(
    ("stamp", "subsec", "offset", "expected"),
    [
        ("2020:02:29 23:59:59", None, None, "2020-02-29T23:59:59"),  # no offset: the camera's local time
        ("2020:02:29 23:59:59", None, "-05:30", "2020-02-29T23:59:59-05:30"),
        ("0000:00:00 00:00:00", None, None, None),
        ("    :  :     :  :  ", None, None, None),
        ("2021:13:01 00:00:00", None, None, None),
        ("2021:01:01 00:00:00", "x", "+99:00", "2021-01-01T00:00:00"),  # bad parts dropped, not guessed
    ],
)
def test_capture_time_normalisation(stamp: str, subsec: str | None, offset: str | None, expected: str | None) -> None:
    exif = {0x9003: _ascii(stamp)}
    if subsec:
        exif[0x9291] = _ascii(subsec)
    if offset:
        exif[0x9011] = _ascii(offset)
    assert metadata.exif_fields(exif_blob({}, exif, {}))["captured_at"] == expected


def test_no_exif_at_all() -> None:
    meta = metadata.extract(bytes(scene("rings").pngsave_buffer()))
    assert (meta.captured_at, meta.camera_make, meta.icc_description) == (None, None, None)
    assert metadata.extract(bytes(scene("rings").pngsave_buffer()), include_gps=True).gps is None


def test_orientation_comes_from_the_header() -> None:
    image = scene("ramp").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    assert metadata.extract(jpeg(image)).orientation == 6


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_exif_parser_survives_garbage(blob: bytes) -> None:
    for data in (blob, b"Exif\x00\x00MM\x00*" + blob, b"Exif\x00\x00II*\x00" + blob):
        metadata.exif_fields(data, include_gps=True, include_personal=True)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2000), st.integers(0, 255))
def test_exif_parser_survives_corrupted_blocks(position: int, value: int) -> None:
    blob = bytearray(exif_blob(IFD0, EXIF, GPS))
    blob[position % len(blob)] = value
    metadata.exif_fields(bytes(blob), include_gps=True, include_personal=True)


# ---------------------------------------------------------------------------------------------------
# colour


def test_icc_description_and_colour_space() -> None:
    p3 = scene("sines").icc_transform("p3", input_profile="srgb")
    meta = metadata.extract(bytes(p3.jpegsave_buffer()))
    assert meta.icc_description is not None and "P3" in meta.icc_description
    grey = scene("sines").colourspace("b-w")
    assert metadata.extract(bytes(grey.jpegsave_buffer())).color_space == "b-w"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_icc_parser_survives_garbage(blob: bytes) -> None:
    metadata.icc_description(blob)
    metadata.icc_description(b"\x00" * 36 + b"acsp" + b"\x00" * 88 + blob)


# ---------------------------------------------------------------------------------------------------
# perceptual hash


def _phash(data: bytes) -> str:
    meta = metadata.extract(data)
    assert meta.phash is not None and len(meta.phash) == 16
    int(meta.phash, 16)
    return meta.phash


def test_phash_survives_reencoding_and_resizing() -> None:
    original = scene("ramp", 960, 640)
    reference = _phash(jpeg(original, q=92))
    copies = [
        jpeg(original, q=40),
        bytes(original.webpsave_buffer(Q=60)),
        bytes(original.pngsave_buffer()),
        jpeg(original.resize(0.25)),
        jpeg(original.resize(1.5)),
    ]
    for copy in copies:
        assert metadata.phash_distance(reference, _phash(copy)) <= 4


def test_phash_tells_different_pictures_apart() -> None:
    hashes = [_phash(jpeg(scene(kind))) for kind in ("ramp", "rings", "sines")]
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            assert metadata.phash_distance(hashes[i], hashes[j]) >= 16


def test_phash_reuses_a_given_thumbnail() -> None:
    from vipsfront.engine import placeholder

    data = jpeg(scene("rings"))
    thumbnail = placeholder.thumbnail_rgba(data, Limits())
    assert metadata.extract(data, thumbnail=thumbnail).phash == metadata.extract(data).phash
    assert metadata.extract(data, perceptual_hash=False).phash is None


def test_phash_of_a_flat_picture_is_defined() -> None:
    flat = metadata.phash_from_rgba(3, 2, [200, 10, 10, 255] * 6)
    assert len(flat) == 16


@pytest.mark.corpus
def test_corpus_photos(corpus: Path) -> None:
    photos = sorted((corpus / "photos").glob("*.jpg"))
    metas = {path.name: metadata.extract(path.read_bytes(), include_gps=True) for path in photos}
    assert all(m.phash for m in metas.values())
    hashes = [m.phash for m in metas.values() if m.phash]
    close = [
        (a, b)
        for i, a in enumerate(hashes)
        for b in hashes[i + 1 :]
        if metadata.phash_distance(a, b) < 10  # different photos are never near-duplicates
    ]
    assert not close
    # resized and re-encoded, every photo still matches itself
    for path in photos[:3]:
        small = pyvips.Image.thumbnail_buffer(path.read_bytes(), 500)
        assert metadata.phash_distance(metas[path.name].phash or "", _phash(bytes(small.webpsave_buffer()))) <= 6
    with_camera = [m for m in metas.values() if m.camera_make]
    assert with_camera and all(m.captured_at and m.captured_at[4] == "-" for m in with_camera)


# ---------------------------------------------------------------------------------------------------
# errors are the engine's


def test_bad_input_is_a_typed_error() -> None:
    with pytest.raises(UnsupportedInputError):
        metadata.extract(b"not an image")
    with pytest.raises(UndecodableImageError):
        metadata.extract(b"\xff\xd8\xff\xe0" + b"\x00" * 64)


# ---------------------------------------------------------------------------------------------------
# version token


def test_version_token_is_stable_short_and_url_safe() -> None:
    token = version_token(etag='"9b2cf535f27731c974343645a3985328"')
    assert token == version_token(etag="9b2cf535f27731c974343645a3985328")  # quoted or not, same ETag
    assert len(token) == TOKEN_LENGTH and check_version(token) == token
    assert token != version_token(etag='"9b2cf535f27731c974343645a3985329"')
    assert version_token(version_id="3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY") != version_token(etag="3sL4kqtJlcpXroDTDmJ+")
    assert version_token(etag="", version_id="v1") == version_token(version_id="v1")
    with pytest.raises(ValueError):
        version_token()


@pytest.mark.parametrize("raw", ["", "a" * 33, "a b", "a/b", "a.b", "a=b", "é", "abc\n", "a%20"])
def test_version_grammar_rejects(raw: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        check_version(raw)
    assert info.value.param == "v"


@pytest.mark.parametrize("raw", ["1", "a" * 32, "2024-05-01", "rev_12", "AbC-9_z"])
def test_version_grammar_accepts(raw: str) -> None:
    assert check_version(raw) == raw
