"""What a newcomer meets in the first hour, through the FastAPI app on moto: the root URL, the demo page
with a trailing slash, every 405 naming the methods allowed, and an output too large as its own error."""

from __future__ import annotations

from typing import Any

import pytest
import pyvips
from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"


def client(s3: Any, **env: str) -> TestClient:
    settings = Settings.from_env({"VIPSFRONT_DEMO": "1", **env})
    return TestClient(create_app(settings, S3Store(s3, ORIGINALS, VARIANTS)), follow_redirects=False)


@pytest.fixture
def portrait(s3: Any) -> str:
    image = pyvips.Image.black(200, 300).bandjoin([90, 160]).copy(interpretation="srgb")
    s3.put_object(Bucket=ORIGINALS, Key="photos/portrait.jpg", Body=image.jpegsave_buffer())
    return "photos/portrait.jpg"


def test_a_browser_at_the_root_is_led_to_the_demo_page(s3: Any) -> None:
    response = client(s3).get("/", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 302
    assert response.headers["location"] == "/_vf/demo"


def test_an_api_client_at_the_root_gets_the_endpoints(s3: Any) -> None:
    response = client(s3).get("/", headers={"accept": "application/json"})
    assert response.status_code == 200
    endpoints = response.json()["endpoints"]
    assert endpoints["health"] == "/_vf/health" and endpoints["demo"] == "/_vf/demo"
    assert response.headers["cache-control"] == "no-store"
    without_demo = client(s3, VIPSFRONT_DEMO="0").get("/", headers={"accept": "text/html"})
    assert without_demo.status_code == 200
    assert "demo" not in without_demo.json()["endpoints"]


def test_the_demo_page_with_a_trailing_slash(s3: Any) -> None:
    app = client(s3)
    response = app.get("/_vf/demo/")
    assert response.status_code == 301
    assert response.headers["location"] == "/_vf/demo"
    followed = app.get("/_vf/demo/", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/photos/portrait.jpg?w=100", "/_vf/health", "/", "/_vf/info/photos/portrait.jpg"])
def test_every_405_names_the_methods_allowed(s3: Any, method: str, path: str) -> None:
    response = client(s3).request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json() == {
        "error": f"{method} is not allowed: use GET or HEAD",
        "code": "method_not_allowed",
        "param": None,
    }


def test_with_cors_options_is_allowed_too(s3: Any) -> None:
    app = client(s3, VIPSFRONT_CORS_ORIGINS="https://www.example.com")
    response = app.post("/photos/portrait.jpg")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    without = client(s3).options("/photos/portrait.jpg")
    assert without.status_code == 405
    assert without.headers["allow"] == "GET, HEAD"


def test_an_output_too_large_is_its_own_error(s3: Any, portrait: str) -> None:
    response = client(s3).get(f"/{portrait}?w=8192&enlarge=1&fm=png")
    assert response.status_code == 400
    assert response.json() == {
        "error": "output would be 8192x12288, more than 8192 pixels a side: ask for a smaller w or h",
        "code": "output_too_large",
        "param": "h",
    }


def test_a_bad_format_lists_what_a_url_may_say(s3: Any, portrait: str) -> None:
    response = client(s3).get(f"/{portrait}?w=100&fm=tiff")
    assert response.status_code == 400
    assert response.json()["error"] == "fm must be one of: jpeg, png, webp, avif, gif, auto"
