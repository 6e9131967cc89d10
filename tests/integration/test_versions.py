"""An old version token keeps working: a URL naming a version of an original that is no longer current
(a page cached before the original changed, or a made-up token) is redirected, in one hop, to the same
request at the current version, signed again when it was signed; nothing is made or stored for the old
token, a deleted original stays 404 and a malformed token is a 400."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pyvips
from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.url.builders import url
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.version import version_token
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
KEY = "photos/cat.jpg"
SECRET = b"0123456789abcdef0123456789abcdef"
RED, BLUE = (220, 20, 20), (20, 20, 220)


def solid(rgb: tuple[int, int, int], width: int = 320, height: int = 240) -> bytes:
    image = (pyvips.Image.black(width, height) + list(rgb)).cast("uchar").copy(interpretation="srgb")
    return image.jpegsave_buffer(Q=95)


def mean_rgb(data: bytes) -> tuple[float, ...]:
    image = pyvips.Image.new_from_buffer(data, "")
    return tuple(image.extract_band(band).avg() for band in range(3))


def close(a: tuple[float, ...], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) < 12 for x, y in zip(a, b, strict=True))


class World:
    def __init__(self, s3: Any, settings: Settings) -> None:
        self.s3, self.settings = s3, settings
        self.client = TestClient(create_app(settings, S3Store(s3, ORIGINALS, VARIANTS)), follow_redirects=False)

    def put(self, data: bytes) -> str:
        etag = self.s3.put_object(Bucket=ORIGINALS, Key=KEY, Body=data, ContentType="image/jpeg")["ETag"]
        return version_token(etag=etag)

    def purge(self) -> None:
        """What the lifecycle does when the original changes: its variants go."""
        for key in self.variants():
            self.s3.delete_object(Bucket=VARIANTS, Key=key)

    def variants(self) -> list[str]:
        return [item["Key"] for item in self.s3.list_objects_v2(Bucket=VARIANTS).get("Contents", [])]


@pytest.fixture
def world(s3: Any) -> Iterator[World]:
    policy = Policy.create(
        keys={"k1": SECRET},
        unsigned=UnsignedPolicy(widths=(100, 200, 400)),
        presets={"thumb": {"w": "100", "h": "100", "fit": "cover"}},
    )
    yield World(s3, Settings(policy=policy))


def replaced(world: World, path: str) -> tuple[str, str]:
    """Serve ``path`` (a URL at the first version, ``{v}`` in it), replace the original, purge its
    variants; the old URL and the new version."""
    old = world.put(solid(RED))
    first = world.client.get(path.format(v=old), headers={"accept": "image/avif,image/webp,*/*"})
    assert first.status_code == 200, first.text
    assert close(mean_rgb(first.content), RED)
    new = world.put(solid(BLUE))
    assert new != old
    world.purge()
    return path.format(v=old), new


@pytest.mark.parametrize(
    "path",
    [
        f"/{KEY}?w=200&v={{v}}",
        f"/{KEY}?p=thumb&v={{v}}",
        f"/{KEY}?w=400&fm=auto&v={{v}}",
    ],
    ids=["plain", "preset", "fm-auto"],
)
def test_an_old_version_lands_on_the_new_pixels_in_one_redirect(world: World, path: str) -> None:
    old_url, new = replaced(world, path)
    moved = world.client.get(old_url, headers={"accept": "image/avif,image/webp,*/*"})
    assert moved.status_code == 302
    location = moved.headers["location"]
    assert location == old_url.replace(old_url.rsplit("v=", 1)[1], new)  # the same request, v replaced
    assert moved.headers["cache-control"] == "public, max-age=60"
    assert moved.json() == {"location": location, "version": new}
    assert not any(f"v={old_url.rsplit('v=', 1)[1]}" in key for key in world.variants())  # nothing stored

    landed = world.client.get(location, headers={"accept": "image/avif,image/webp,*/*"})
    assert landed.status_code == 200
    assert close(mean_rgb(landed.content), BLUE)
    if "fm=auto" in path:
        assert landed.headers["content-type"] == "image/avif"
        assert landed.headers["vary"] == "Accept"


def test_a_signed_old_version_is_signed_again(world: World) -> None:
    signing = ("k1", SECRET)
    old = world.put(solid(RED))
    signed_old = url(KEY, {"w": 250, "blur": 2, "v": old}, signing_key=signing)  # off the unsigned ladder
    assert world.client.get(signed_old).status_code == 200
    new = world.put(solid(BLUE))
    world.purge()
    moved = world.client.get(signed_old)
    assert moved.status_code == 302
    assert moved.headers["cache-control"] == "private, max-age=60"  # the CDN's key leaves the signature out
    location = moved.headers["location"]
    assert location == url(KEY, {"w": 250, "blur": 2, "v": new}, signing_key=signing)
    landed = world.client.get(location)
    assert landed.status_code == 200
    image = pyvips.Image.new_from_buffer(landed.content, "")
    assert image.width == 250
    assert close(mean_rgb(landed.content), BLUE)


def test_the_canonical_path_form_behind_the_edge_is_redirected_signed(s3: Any) -> None:
    """Behind CloudFront the request is the canonical path, its signature in the edge's headers."""
    world = World(s3, Settings(policy=Policy.create(keys={"k1": SECRET}), trust_path_form=True, variant_lookup=False))
    world.put(solid(RED))
    new = world.put(solid(BLUE))
    signed = url(KEY, {"w": 150, "v": "oldToken"}, signing_key=("k1", SECRET))
    signature = parse_qs(urlsplit(signed).query)["s"][0]
    moved = world.client.get(f"/{KEY}/_vf/w=150,v=oldToken", headers={"x-vipsfront-signature": signature})
    assert moved.status_code == 302
    resigned = parse_qs(urlsplit(url(KEY, {"w": 150, "v": new}, signing_key=("k1", SECRET))).query)["s"][0]
    assert moved.headers["location"] == f"/{KEY}/_vf/w=150,v={new}?s={resigned}"
    assert world.variants() == []


def test_a_made_up_token_redirects_without_storing_anything(world: World) -> None:
    current = world.put(solid(BLUE))
    moved = world.client.get(f"/{KEY}?w=100&v=madeUpToken")
    assert moved.status_code == 302
    assert moved.headers["location"] == f"/{KEY}?w=100&v={current}"
    assert world.variants() == []
    landed = world.client.get(moved.headers["location"])
    assert landed.status_code == 200
    assert pyvips.Image.new_from_buffer(landed.content, "").width == 100


def test_a_malformed_token_is_a_400(world: World) -> None:
    world.put(solid(BLUE))
    response = world.client.get(f"/{KEY}?w=100&v=not%20a%20token")
    assert response.status_code == 400
    assert response.json()["param"] == "v"
    assert world.variants() == []


def test_a_deleted_original_stays_404(world: World) -> None:
    old = world.put(solid(RED))
    world.s3.delete_object(Bucket=ORIGINALS, Key=KEY)
    response = world.client.get(f"/{KEY}?w=100&v={old}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
