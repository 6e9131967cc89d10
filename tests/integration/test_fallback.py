"""The fallback original: rendered with the request's spec instead of a 404 (and, when configured, a 415
or 422), answered with the configured status, the real cause in a header and a short lifetime; never
stored, and errors stay errors when it is not configured or itself unusable."""

from __future__ import annotations

from typing import Any

import pyvips
from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
FALLBACK = "site/placeholder.png"
GREY = (128, 128, 128)


def png(rgb: tuple[int, int, int], width: int = 200, height: int = 150) -> bytes:
    image = (pyvips.Image.black(width, height) + list(rgb)).cast("uchar").copy(interpretation="srgb")
    return bytes(image.pngsave_buffer())


def client(s3: Any, **settings: Any) -> TestClient:
    s3.put_object(Bucket=ORIGINALS, Key=FALLBACK, Body=png(GREY))
    s3.put_object(Bucket=ORIGINALS, Key="photos/broken.jpg", Body=b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    return TestClient(create_app(Settings(**settings), S3Store(s3, ORIGINALS, VARIANTS)))


def stored(s3: Any, prefix: str) -> int:
    return int(s3.list_objects_v2(Bucket=VARIANTS, Prefix=prefix).get("KeyCount", 0))


def test_a_missing_original_answers_the_fallback_with_its_spec(s3: Any) -> None:
    response = client(s3, fallback_key=FALLBACK).get("/photos/gone.jpg?w=40&h=30&fm=webp")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["x-vipsfront-fallback"] == "not_found"
    assert response.headers["cache-control"] == "public, max-age=60"
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert (image.width, image.height) == (40, 30)
    assert all(abs(v - 128) < 8 for v in image.getpoint(20, 15)[:3])
    assert stored(s3, "photos/gone.jpg/") == 0


def test_the_status_and_lifetime_are_configurable(s3: Any) -> None:
    app = client(s3, fallback_key=FALLBACK, fallback_status=404, fallback_max_age=5)
    response = app.get("/photos/gone.jpg?w=40")
    assert response.status_code == 404
    assert response.headers["content-type"] == "image/png" and response.headers["cache-control"] == "public, max-age=5"


def test_a_broken_original_falls_back_only_when_configured(s3: Any) -> None:
    assert client(s3, fallback_key=FALLBACK).get("/photos/broken.jpg?w=40").status_code == 422
    response = client(s3, fallback_key=FALLBACK, fallback_for=(404, 422)).get("/photos/broken.jpg?w=40")
    assert response.status_code == 200
    assert response.headers["x-vipsfront-fallback"] == "undecodable_image"
    assert stored(s3, "photos/broken.jpg/") == 0


def test_without_a_usable_fallback_errors_stay_errors(s3: Any) -> None:
    assert client(s3).get("/photos/gone.jpg?w=40").status_code == 404
    missing = client(s3, fallback_key="site/nothing-here.png").get("/photos/gone.jpg?w=40")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
