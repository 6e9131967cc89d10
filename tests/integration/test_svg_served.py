"""SVG kept as SVG: a parameter-less SVG original is served as ``image/svg+xml`` with ``nosniff`` and a
sandboxing CSP whether or not rasterising is allowed (``VIPSFRONT_ALLOW_SVG`` governs only rasterising);
hostile documents (scripts, external references, entity expansion) are served as the same inert bytes
and, when rasterised, neither hang nor expand."""

from __future__ import annotations

from typing import Any

import pytest
import pyvips
from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.engine.limits import Limits
from vipsfront.stores.s3 import S3Store
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"

SCRIPTED = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  width="40" height="20">
  <script>document.cookie</script>
  <image href="http://127.0.0.1:9/pixel.png" width="10" height="10"/>
  <use xlink:href="file:///etc/hostname#a"/>
  <rect width="40" height="20" fill="#3a6" onload="alert(1)"/>
</svg>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY a "lollollollollollollollollollol">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
  <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
  <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text y="10">&h;</text></svg>"""


def client(s3: Any, *, allow_svg: bool) -> TestClient:
    s3.put_object(Bucket=ORIGINALS, Key="art/scripted.svg", Body=SCRIPTED, ContentType="image/svg+xml")
    s3.put_object(Bucket=ORIGINALS, Key="art/laughs.svg", Body=LAUGHS, ContentType="image/svg+xml")
    return TestClient(create_app(Settings(limits=Limits(allow_svg=allow_svg)), S3Store(s3, ORIGINALS, VARIANTS)))


@pytest.mark.parametrize("allow_svg", [False, True])
@pytest.mark.parametrize(("key", "body"), [("art/scripted.svg", SCRIPTED), ("art/laughs.svg", LAUGHS)])
def test_a_parameter_less_svg_is_served_as_inert_svg(s3: Any, allow_svg: bool, key: str, body: bytes) -> None:
    response = client(s3, allow_svg=allow_svg).get(f"/{key}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in policy and "sandbox" in policy  # no script runs, nothing is fetched
    assert response.content == body  # unchanged: never parsed here


def test_rasterising_stays_off_unless_allowed(s3: Any) -> None:
    response = client(s3, allow_svg=False).get("/art/scripted.svg?w=20&fm=png")
    assert response.status_code == 415


def test_a_rasterised_svg_draws_no_external_reference(s3: Any) -> None:
    response = client(s3, allow_svg=True).get("/art/scripted.svg?w=40&fm=png")
    assert response.status_code == 200
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert (image.width, image.height) == (40, 20)
    assert abs(image.getpoint(5, 5)[1] - 0xAA) < 20  # the rect's green, not an external image


def test_an_entity_expansion_is_refused_when_rasterised(s3: Any) -> None:
    response = client(s3, allow_svg=True).get("/art/laughs.svg?w=40&fm=png")
    assert response.status_code == 422
