"""Dialects: every case in tests/vectors/dialects/*.json, the native twin's variant, signatures of the
dialects' own, the unsigned policy and the settings that choose them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from vipsfront.config.settings import Settings
from vipsfront.errors import InvalidSpecError, SignatureError, VipsfrontError
from vipsfront.url.dialects.choice import parse_dialects
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.route import route

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "dialects"
NOW = 1790000000
SECRET = "dialect-secret-0123456789"


def load_cases() -> list[Any]:
    return [
        pytest.param(doc["config"], case, id=f"{file.stem}: {case['name']}")
        for file in sorted(VECTORS.glob("*.json"))
        for doc in [json.loads(file.read_text())]
        for case in doc["cases"]
    ]


CASES = load_cases()


def test_every_dialect_has_vectors() -> None:
    assert {Path(case.id.partition(":")[0]).name for case in CASES} == {"imgix", "aws-sample", "dit", "thumbor"}


@pytest.mark.parametrize(("config", "case"), CASES)
def test_vector(config: dict[str, Any], case: dict[str, Any]) -> None:
    path, _, query = case["url"].partition("?")
    dialects, policy, expect = parse_dialects(config["dialects"]), Policy.from_config(config), case["expect"]
    try:
        got = route(path, query, case["accept"], policy, now=config["now"], dialects=dialects)
    except VipsfrontError as error:
        assert "error" in expect, f"unexpected {type(error).__name__}: {error.message}"
        assert (int(error.status), error.param) == (expect["error"]["status"], expect["error"]["param"])
        return
    assert "error" not in expect, f"expected an error, got {got}"
    seen = {
        "key": got.key,
        "canonical": got.spec.canonical(),
        "variant_key": got.variant_key,
        "uri": got.uri,
        "vary_accept": got.vary_accept,
    }
    assert seen == expect
    # the native twin names the same stored variant
    twin_path, _, twin_query = case["twin"].partition("?")
    assert route(twin_path, twin_query, case["accept"], policy, now=config["now"]).variant_key == got.variant_key


def signed_policy() -> Policy:
    return Policy.create(keys={"k1": b"native-secret-0123456789"}, unsigned=UnsignedPolicy(widths=(320, 640)))


def routed(url: str, dialects: dict[str, Any], policy: Policy | None = None) -> str:
    path, _, query = url.partition("?")
    result = route(path, query, None, policy or signed_policy(), now=NOW, dialects=parse_dialects(dialects))
    return result.variant_key


def test_no_dialect_widens_the_unsigned_policy() -> None:
    assert routed("/cat.jpg?w=640", {"/": "imgix"}) == "cat.jpg/_vf/w=640"
    for url, dialects in (
        ("/cat.jpg?w=641", {"/": "imgix"}),
        ("/cat.jpg?width=641", {"/": "aws-sample"}),
        ("/t/unsafe/641x0/cat.jpg", {"/t/": "thumbor"}),
        ("/t/unsafe/640x0/filters:quality(90)/cat.jpg", {"/t/": "thumbor"}),
        ("/cat.jpg?w=640&h=480", {"/": "imgix"}),
    ):
        with pytest.raises(SignatureError):
            routed(url, dialects)


def test_a_native_signature_does_not_sign_a_dialect_url() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        routed("/t/unsafe/641x0/cat.jpg?s=k1.x", {"/t/": "thumbor"})
    assert raised.value.param == "s"  # thumbor takes no query
    with pytest.raises(SignatureError):  # without an imgix secret, imgix's s is not read: the policy judges
        routed("/cat.jpg?w=641&s=k1.abc", {"/": "imgix"})


def imgix_signature(path: str, query: str) -> str:
    return hashlib.md5((SECRET + path + ("?" + query if query else "")).encode()).hexdigest()


def test_imgix_signatures_of_its_own() -> None:
    dialects = {"/": {"dialect": "imgix", "secret": SECRET}}
    query = "w=641&h=480&fit=crop"
    assert routed(f"/cat.jpg?{query}&s={imgix_signature('/cat.jpg', query)}", dialects).endswith("w=641,h=480")
    with pytest.raises(SignatureError):
        routed(f"/cat.jpg?w=642&h=480&fit=crop&s={imgix_signature('/cat.jpg', query)}", dialects)


def test_thumbor_signatures_of_its_own() -> None:
    rest = "fit-in/641x0/cat.jpg"
    mac = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), rest.encode(), hashlib.sha1).digest()).decode()
    dialects = {"/t/": {"dialect": "thumbor", "secret": SECRET}}
    assert routed(f"/t/{mac}/{rest}", dialects) == "cat.jpg/_vf/w=641"
    with pytest.raises(SignatureError):
        routed(f"/t/{mac}/fit-in/642x0/cat.jpg", dialects)


def test_serverless_image_handler_signatures_of_its_own() -> None:
    path = "/fit-in/641x0/cat.jpg"
    signature = hmac.new(SECRET.encode(), path.encode(), hashlib.sha256).hexdigest()
    dialects = {"/": {"dialect": "dit", "secret": SECRET}}
    assert routed(f"{path}?signature={signature}", dialects) == "cat.jpg/_vf/w=641"
    with pytest.raises(SignatureError):
        routed(f"/fit-in/642x0/cat.jpg?signature={signature}", dialects)


def test_a_signed_dialect_url_stays_within_the_published_prefixes() -> None:
    path = "/fit-in/641x0/private/cat.jpg"
    signature = hmac.new(SECRET.encode(), path.encode(), hashlib.sha256).hexdigest()
    policy = Policy.create(keys={"k1": b"native-secret-0123456789"}, prefixes=["public/"])
    with pytest.raises(VipsfrontError) as raised:
        routed(f"{path}?signature={signature}", {"/": {"dialect": "dit", "secret": SECRET}}, policy)
    assert int(raised.value.status) == 404


def test_the_longest_prefix_wins_and_is_not_part_of_the_key() -> None:
    dialects = {"/": "imgix", "/img/": "aws-sample", "/img/t/": "thumbor"}
    policy = Policy.create()
    assert routed("/img/t/unsafe/300x0/a.jpg", dialects, policy) == "a.jpg/_vf/w=300"
    assert routed("/img/a.jpg?width=300", dialects, policy) == "a.jpg/_vf/w=300"
    assert routed("/a.jpg?w=300&h=300", dialects, policy) == "a.jpg/_vf/w=300,h=300,fit=inside"


def test_the_setting_round_trips_and_refuses_what_it_cannot_read() -> None:
    value = '{"/": "imgix", "/sih/": {"dialect": "dit", "secret": "' + SECRET + '", "buckets": {"b": "old/"}}}'
    settings = Settings.from_env({"VIPSFRONT_DIALECTS": value})
    assert Settings.from_env(settings.to_env()).dialects == settings.dialects
    for bad in (
        '{"imgix": "/"}',
        '{"/": "cloudinary"}',
        '{"/": {"dialect": "dit", "secret": "short"}}',
        '{"/x/": {"dialect": "dit", "buckets": {"b": "/abs/"}}}',
        "[1]",
    ):
        with pytest.raises(ValueError):
            parse_dialects(bad)
    assert Settings.from_env({}).dialects == parse_dialects("{}")
