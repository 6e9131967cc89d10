"""Behind CloudFront the function runs without its own variant lookup (``variant_lookup=False``): the
S3-first origin group already looked for the canonical path form the edge writes. A dialect URL that no
edge function read (a ``dit`` prefix, a prefix with a secret: a behaviour to the Function URL alone)
reaches the function as it is, looked up by no one, so the origin looks its stored variant up itself.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pyvips
from fastapi.testclient import TestClient
from helpers import photo_jpeg as photo

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.url.dialects.choice import parse_dialects
from vipsfront.url.route import route
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
DIALECTS = parse_dialects({"/sih/": {"dialect": "dit", "buckets": {"legacy": ""}}})


def behind_cloudfront(s3: Any) -> tuple[TestClient, Settings]:
    settings = Settings(dialects=DIALECTS, trust_path_form=True, variant_lookup=False)
    s3.put_object(Bucket=ORIGINALS, Key="photos/cat.jpg", Body=photo(), ContentType="image/jpeg")
    return TestClient(create_app(settings, S3Store(s3, ORIGINALS, VARIANTS))), settings


def dit_url(width: int) -> str:
    request = {"bucket": "legacy", "key": "photos/cat.jpg", "edits": {"resize": {"width": width}}}
    return "/sih/" + base64.b64encode(json.dumps(request).encode()).decode()


def steps(response: Any) -> set[str]:
    return {part.split(";")[0].strip() for part in response.headers["server-timing"].split(",")}


def test_a_dit_url_is_answered_from_its_native_twins_stored_variant(s3: Any) -> None:
    client, settings = behind_cloudfront(s3)
    url = dit_url(320)
    twin = route(url, "", None, settings.policy, now=0, dialects=DIALECTS)
    made = client.get(twin.uri)  # the canonical path form, as the edge writes the native twin
    assert made.status_code == 200
    assert made.headers["x-vipsfront-variant"] == "miss"
    stored = s3.get_object(Bucket=VARIANTS, Key=twin.variant_key)["Body"].read()

    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["x-vipsfront-variant"] == "hit"
    assert "s3-variant" in steps(response) and "transform" not in steps(response)
    assert response.content == stored
    assert pyvips.Image.new_from_buffer(response.content, "").width == 320


def test_a_dit_url_made_once_is_a_hit_the_second_time(s3: Any) -> None:
    client, _ = behind_cloudfront(s3)
    first, second = client.get(dit_url(640)), client.get(dit_url(640))
    assert first.status_code == 200
    assert second.status_code == 200
    assert first.headers["x-vipsfront-variant"] == "miss"
    assert second.headers["x-vipsfront-variant"] == "hit"
    assert second.content == first.content


def test_the_canonical_path_form_still_skips_the_lookup(s3: Any) -> None:
    client, settings = behind_cloudfront(s3)
    path = route(dit_url(320), "", None, settings.policy, now=0, dialects=DIALECTS).uri
    client.get(path)
    again = client.get(path)
    assert again.status_code == 200
    assert again.headers["x-vipsfront-variant"] == "miss"  # CloudFront's S3 origin looked, not this one
    assert "s3-variant" not in steps(again)


def test_cloudfront_keeps_a_dialect_url_no_longer_than_a_browser(s3: Any) -> None:
    """The lifecycle invalidates canonical paths; a dialect URL CloudFront caches as sent is not among
    them, so it carries no longer shared lifetime than the browser's (an hour by default), while the
    canonical path form keeps CloudFront's week, which the purge keeps honest."""
    client, settings = behind_cloudfront(s3)
    dialect = client.get(dit_url(200))
    assert dialect.status_code == 200
    assert dialect.headers["cache-control"] == f"public, max-age={settings.browser_max_age}"
    canonical = client.get(route(dit_url(200), "", None, settings.policy, now=0, dialects=DIALECTS).uri)
    assert canonical.headers["cache-control"] == (
        f"public, max-age={settings.browser_max_age}, s-maxage={settings.shared_max_age}"
    )
