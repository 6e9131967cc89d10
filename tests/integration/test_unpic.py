"""Pages built with unpic, served as they are: every URL its imgix provider writes for an image (src,
srcset, placeholder, a WebP ``<source>``) and the Next.js docs' imgix loader, on an origin whose default
dialect is imgix, answer 200 at the size they ask for; so do our own ``transform``'s URLs under a native
prefix, and a dialect URL and its native twin are one stored variant.

The URLs come from unpic's own packages (``clients/js/test/unpic_urls.mjs``, the root package.json's
devDependencies); the app runs on moto's S3.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pyvips
from fastapi.testclient import TestClient
from helpers import photo_jpeg

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.url.dialects.choice import parse_dialects
from vipsfront.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
BASE, KEY, TWIN, NATIVE = "http://testserver", "photos/big.jpg", "photos/twin.jpg", "/native/"
DIALECTS = {"/": "imgix", NATIVE: "native"}
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def urls() -> dict[str, list[str]]:
    if NODE is None:
        pytest.skip("node is not on PATH: unpic cannot write the URLs")
    if not (ROOT / "node_modules" / "@unpic" / "core").is_dir():
        pytest.skip("unpic is not installed: run `npm ci` at the repository root")
    result = subprocess.run(
        [NODE, str(ROOT / "clients" / "js" / "test" / "unpic_urls.mjs"), BASE, KEY, NATIVE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


class Origin:
    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        settings = Settings(dialects=parse_dialects(DIALECTS))
        self.client = TestClient(create_app(settings, S3Store(s3, ORIGINALS, VARIANTS)), base_url=BASE)

    def variants(self) -> set[str]:
        listing = self.s3.list_objects_v2(Bucket=VARIANTS)
        return {item["Key"] for item in listing.get("Contents", [])}


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    from moto import mock_aws

    from vipsfront.stores.s3 import s3_client

    with mock_aws():
        client = s3_client(region="us-east-1")
        for bucket in (ORIGINALS, VARIANTS):
            client.create_bucket(Bucket=bucket)
        # large enough for every size asked: imgix's fit=min and fit=max never enlarge
        for key in (KEY, TWIN):
            client.put_object(Bucket=ORIGINALS, Key=key, Body=photo_jpeg(2000, 1500), ContentType="image/jpeg")
        yield Origin(client)


def asked(url: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(url).query).items()}


def fetch(origin: Origin, url: str) -> pyvips.Image:
    response = origin.client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    return pyvips.Image.new_from_buffer(response.content, "")


def check_sizes(origin: Origin, urls: list[str]) -> None:
    """Each URL answers 200 with the width it asks for (and the height, when it asks for one)."""
    for url in dict.fromkeys(urls):
        params, image = asked(url), fetch(origin, url)
        assert image.width == int(params["w"]), url
        assert "h" not in params or image.height == int(params["h"]), url


def test_unpic_imgix_image_answers_every_size_it_asks_for(origin: Origin, urls: dict[str, list[str]]) -> None:
    assert {"fit": "min", "auto": "format"}.items() <= asked(urls["imgix"][0]).items()
    assert [int(asked(url)["w"]) for url in urls["imgix"]] == [800, 640, 750, 800, 828, 960, 1080, 1280, 1600, 24]
    check_sizes(origin, urls["imgix"])


def test_unpic_imgix_webp_source_answers_webp(origin: Origin, urls: dict[str, list[str]]) -> None:
    check_sizes(origin, urls["imgixWebp"])
    for url in urls["imgixWebp"]:
        assert fetch(origin, url).get("vips-loader") == "webpload_buffer", url


def test_nextjs_docs_imgix_loader_answers_every_width(origin: Origin, urls: dict[str, list[str]]) -> None:
    assert {"auto": "format", "fit": "max", "q": "75"}.items() <= asked(urls["nextjs"][0]).items()
    check_sizes(origin, urls["nextjs"])


def test_transform_under_a_native_prefix_answers_every_size(origin: Origin, urls: dict[str, list[str]]) -> None:
    assert all(urlsplit(url).path == f"{NATIVE}{KEY}" for url in urls["native"])
    check_sizes(origin, urls["native"])


def test_an_imgix_url_and_its_native_twin_are_one_variant(origin: Origin, urls: dict[str, list[str]]) -> None:
    # w=640&h=480 of an original no other test asks for: imgix's fit=min is our cover, auto=format fm=auto
    imgix, native = (urls[name][1].replace(KEY, TWIN) for name in ("imgix", "native"))
    before = origin.variants()
    assert fetch(origin, imgix).width == 640
    stored = origin.variants()
    assert len(stored - before) == 1
    assert fetch(origin, native).width == 640
    assert origin.variants() == stored
