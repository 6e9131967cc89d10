"""A phone's HEIC original through the app on moto S3: resized to a format browsers show, served as
itself without parameters, and a 422 when damaged (nothing stored for it)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"


def heic_photo() -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    image = pytest.importorskip("PIL.Image").new("RGB", (120, 80), (30, 140, 60))
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    image.save(out, format="HEIF", quality=85)
    return out.getvalue()


def test_heic_originals_are_resized_served_as_they_are_and_refused_when_damaged(s3: Any) -> None:
    data = heic_photo()
    s3.put_object(Bucket=ORIGINALS, Key="phone/IMG_0001.HEIC", Body=data, ContentType="image/heic")
    s3.put_object(Bucket=ORIGINALS, Key="phone/broken.heic", Body=data[: len(data) // 2], ContentType="image/heic")
    client = TestClient(create_app(Settings(), S3Store(s3, ORIGINALS, VARIANTS)))

    resized = client.get("/phone/IMG_0001.HEIC?w=60&fm=auto", headers={"accept": "image/webp,*/*"})
    assert resized.status_code == 200
    assert resized.headers["content-type"] == "image/webp"

    original = client.get("/phone/IMG_0001.HEIC")
    assert original.status_code == 200
    assert original.headers["content-type"] == "image/heic" and original.content == data

    damaged = client.get("/phone/broken.heic?w=60")
    assert damaged.status_code == 422
    assert damaged.json()["code"] == "undecodable_image"
    stored = s3.list_objects_v2(Bucket=VARIANTS, Prefix="phone/broken.heic/").get("KeyCount", 0)
    assert stored == 0
