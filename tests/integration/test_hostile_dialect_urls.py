"""Hostile dialect URLs through the whole request path (app on moto): typed 4xx naming the fault, never a 500.

Each dialect's parser gets what the native one gets in ``test_hostile_urls.py``: random queries and
paths (hypothesis), overlong input, malformed base64 and JSON, nested and repeated parameters and
traversal in keys.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import pyvips
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.url.dialects.choice import parse_dialects
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
DIALECTS = {"/": "imgix", "/aws/": "aws-sample", "/sih/": {"dialect": "dit", "buckets": {"old": ""}}, "/t/": "thumbor"}
TYPED = {400: {"invalid_spec", "invalid_key"}, 403: {"forbidden"}, 404: {"not_found"}, 413: {"input_too_large"}}


@pytest.fixture(scope="module")
def app() -> Iterator[TestClient]:
    from moto import mock_aws

    from vipsfront.stores.s3 import s3_client

    with mock_aws():
        client = s3_client(region="us-east-1")
        for bucket in (ORIGINALS, VARIANTS):
            client.create_bucket(Bucket=bucket)
        jpeg = pyvips.Image.xyz(96, 64)[0].cast("uchar").jpegsave_buffer()
        client.put_object(Bucket=ORIGINALS, Key="photos/cat.jpg", Body=jpeg, ContentType="image/jpeg")
        settings_ = Settings(dialects=parse_dialects(DIALECTS))
        yield TestClient(create_app(settings_, S3Store(client, ORIGINALS, VARIANTS)))


def check_typed(response: Any) -> dict[str, Any] | None:
    """A success or one of the typed JSON errors (its body); never a 5xx."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code in (200, 304, 307):
        return None
    assert response.status_code in TYPED, response.status_code
    body = json.loads(response.content)
    assert body["code"] in TYPED[response.status_code], body
    return dict(body)


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


NAMES = st.sampled_from(
    [
        "w",
        "h",
        "fit",
        "crop",
        "fp-x",
        "auto",
        "fm",
        "q",
        "dpr",
        "blur",
        "sharp",
        "rot",
        "bg",
        "rect",
        "expires",
        "s",
        "width",
        "height",
        "format",
        "quality",
        "signature",
        "",
        "w[]",
    ]
)
VALUES = st.one_of(
    st.sampled_from(["", "0", "-1", "1e9", "NaN", "max", "crop", "faces,top", "%ZZ", "f0f0", "1,2,3"]),
    st.integers(-(10**9), 10**9).map(str),
    st.text(max_size=20),
)
PREFIXES = st.sampled_from(["/", "/aws/", "/sih/", "/t/unsafe/", "/t/"])
SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "fit-in",
            "300x200",
            "-0x-0",
            "trim:9999",
            "10x10:0x0",
            "smart",
            "filters:blur(",
            "filters:x()",
            "filters:quality(101)",
            "..",
            "",
            "%FF",
            "s3:old",
            "meta",
            "photos",
            "cat.jpg",
            "_vf",
        ]
    ),
    st.text(min_size=1, max_size=12).map(lambda s: quote(s, safe="")),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PREFIXES, st.lists(SEGMENTS, min_size=1, max_size=6), st.lists(st.tuples(NAMES, VALUES), max_size=6))
def test_any_dialect_request_gets_a_typed_answer(
    app: TestClient, prefix: str, segments: list[str], pairs: list[tuple[str, str]]
) -> None:
    query = "&".join(f"{quote(n)}={quote(v)}" for n, v in pairs)
    check_typed(app.get(prefix + "/".join(segments) + ("?" + query if query else "")))


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=12,
)
EDIT_NAMES = st.sampled_from(
    [
        "resize",
        "toFormat",
        "webp",
        "jpeg",
        "rotate",
        "flip",
        "flop",
        "blur",
        "sharpen",
        "flatten",
        "extract",
        "crop",
        "grayscale",
        "smartCrop",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(EDIT_NAMES, JSON_VALUES, max_size=4), st.sampled_from([None, "old", "other", 5, ["old"]]))
def test_any_base64_request_gets_a_typed_answer(app: TestClient, edits: dict[str, Any], bucket: Any) -> None:
    check_typed(app.get("/sih/" + b64({"bucket": bucket, "key": "photos/cat.jpg", "edits": edits})))


@pytest.mark.parametrize(
    ("url", "status", "param"),
    [
        ("/photos/cat.jpg?w=" + "9" * 5000, 400, None),  # overlong query
        ("/t/unsafe/" + "a/" * 3000 + "cat.jpg", 400, "key"),  # overlong path
        ("/sih/" + "QUFB" * 2000, 400, "key"),  # overlong base64
        ("/sih/eyJrZXkiOiAi", 404, "key"),  # truncated base64 JSON is no request: read as a key, absent
        ("/sih/" + b64({"key": "photos/cat.jpg", "edits": {"resize": {"resize": {"width": 1}}}}), 400, "resize.resize"),
        ("/sih/" + b64({"key": "photos/cat.jpg", "edits": {"resize": {"width": "100"}}}), 400, "resize.width"),
        ("/sih/" + b64({"key": "photos/cat.jpg", "edits": {"resize": {"width": True}}}), 400, "resize.width"),
        ("/sih/" + b64({"key": "../../etc/passwd"}), 400, "key"),
        ("/sih/" + b64({"key": "photos/cat.jpg", "bucket": "elsewhere"}), 400, "bucket"),
        ("/sih/" + b64({"key": "photos/cat.jpg", "headers": {"x": "y"}}), 400, "headers"),
        ("/sih/s3:elsewhere/photos/cat.jpg", 400, "bucket"),
        ("/photos/cat.jpg?w=100&w=200", 400, "w"),
        ("/photos/cat.jpg?crop=top&fit=crop&w=1&h=1&crop=left", 400, "crop"),
        ("/photos/cat.jpg?fit=crop&crop=nose&w=1&h=1", 400, "crop"),
        ("/photos/cat.jpg?bg=notacolour", 400, "bg"),
        ("/photos/%2E%2E/cat.jpg?w=100", 400, "key"),
        ("/t/unsafe/300x200/filters:quality(80):quality(81:blur()/photos/cat.jpg", 400, "filters"),
        ("/t/unsafe/300x200/filters:blur(x)/photos/cat.jpg", 400, "blur"),
        ("/t/unsafe/300x200/photos/%2E%2E/cat.jpg", 400, "key"),
        ("/aws/photos/cat.jpg?width=100&width=200", 400, "width"),
        ("/aws/photos/cat.jpg?quality=0", 400, "quality"),
    ],
)
def test_hostile_dialect_urls_name_their_fault(app: TestClient, url: str, status: int, param: str | None) -> None:
    response = app.get(url)
    body = check_typed(response)
    assert body is not None and (response.status_code, body["param"]) == (status, param), body


@pytest.mark.parametrize(
    "url",
    [
        "/photos/cat.jpg?w=48&h=32&fit=crop&auto=format",
        "/aws/photos/cat.jpg?width=48&format=webp",
        "/sih/" + b64({"bucket": "old", "key": "photos/cat.jpg", "edits": {"resize": {"width": 48}}}),
        "/t/unsafe/fit-in/48x48/filters:format(png)/photos/cat.jpg",
    ],
)
def test_each_dialect_serves_an_image(app: TestClient, url: str) -> None:
    response = app.get(url, headers={"accept": "image/webp"})
    assert response.status_code == 200, response.text[:200]
    assert pyvips.Image.new_from_buffer(response.content, "").width == 48
