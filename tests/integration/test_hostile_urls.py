"""Hostile URLs through the whole request path (app on moto): only typed errors, never a 500.

Property-based: random paths, queries and headers (hypothesis). Explicit: path traversal, encoded
slashes, ``+``, spaces and unicode in keys, keys under ``/_vf/``, very long URLs and parameters,
duplicated parameters, signature tampering, replay after expiry and rotated-out keys.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import pyvips
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.url.grammar import ALL_PARAMS, build
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.signing import sign
from vipsfront.url.spec import Spec
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
SECRET_OLD, SECRET_NEW = b"old-secret-0123456789", b"new-secret-9876543210"
TYPED = {
    400: {"invalid_spec", "invalid_key"},
    403: {"forbidden"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    413: {"input_too_large"},
    415: {"unsupported_input"},
    422: {"undecodable_image"},
}
KEYS = ["photos/cat.jpg", "a+b.jpg", "with space.jpg", "unicode/café ☕.jpg", "deep/a/b/c/d.png"]


def small_jpeg() -> bytes:
    xy = pyvips.Image.xyz(96, 64)
    return bytes((xy[0] * 2).bandjoin([xy[1] * 3, 90]).cast("uchar").jpegsave_buffer())


@pytest.fixture(scope="module")
def s3_module() -> Iterator[Any]:
    from moto import mock_aws

    from vipsfront.stores.s3 import s3_client

    with mock_aws():
        client = s3_client(region="us-east-1")
        for bucket in (ORIGINALS, VARIANTS):
            client.create_bucket(Bucket=bucket)
        for key in KEYS:
            client.put_object(Bucket=ORIGINALS, Key=key, Body=small_jpeg(), ContentType="image/jpeg")
        yield client


def app_with(s3: Any, **kwargs: Any) -> TestClient:
    return TestClient(create_app(Settings(**kwargs), S3Store(s3, ORIGINALS, VARIANTS)))


@pytest.fixture(scope="module")
def open_app(s3_module: Any) -> TestClient:
    return app_with(s3_module)


@pytest.fixture(scope="module")
def signed_app(s3_module: Any) -> TestClient:
    policy = Policy.create(keys={"new": SECRET_NEW}, unsigned=UnsignedPolicy(widths=(100,), heights=()))
    return app_with(s3_module, policy=policy)


def check_typed(response: Any) -> None:
    """A success, a redirect, or one of the typed JSON errors; never a 5xx, never an untyped body."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code in (200, 304, 307):
        return
    assert response.status_code in TYPED, response.status_code
    body = json.loads(response.content)
    assert set(body) == {"error", "code", "param"}
    assert body["code"] in TYPED[response.status_code], body
    assert response.headers["cache-control"] == "public, max-age=60"


# --- property-based -------------------------------------------------------------------------------

NAMES = st.sampled_from(sorted(ALL_PARAMS) + ["W", "width", "", "w[]", "q ", "__proto__", "s\x00"])
VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "100", "-1", "1e9", "NaN", "auto", "cover", "attention", "#fff", "%", "%ZZ"]),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=30),
)
RAW_SEGMENTS = [
    "photos",
    "cat.jpg",
    "_vf",
    ".",
    "..",
    "",
    "%2E%2E",
    "%2F",
    "%00",
    "%FF",
    "%",
    "a+b.jpg",
    "w=10,fm=webp",
]
SEGMENT = st.one_of(st.sampled_from(RAW_SEGMENTS), st.text(min_size=1, max_size=20))


@st.composite
def raw_paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(SEGMENT, min_size=1, max_size=6))
    safe = draw(st.sampled_from(["/", "/%", "/+ ", "/%.,="]))
    return "/" + "/".join(s if s in RAW_SEGMENTS else quote(s, safe=safe) for s in segments)


@st.composite
def raw_queries(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(NAMES, VALUES), max_size=8))
    encode = draw(st.sampled_from([quote, lambda v: quote(v, safe="%+,="), quote_plus]))
    parts = [f"{encode(name)}={encode(value)}" for name, value in pairs]
    return "&".join(parts)


HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "accept": st.one_of(st.text(max_size=100), st.sampled_from(["image/avif,image/webp,*/*", "image/*;q=x"])),
        "if-none-match": st.one_of(st.text(max_size=50), st.just("*")),
    },
).map(lambda h: {k: v.encode("latin-1", "ignore").decode("latin-1") for k, v in h.items()})


def _printable_header(headers: dict[str, str]) -> dict[str, str]:
    return {k: "".join(c for c in v if 0x20 <= ord(c) < 0x7F) for k, v in headers.items()}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=raw_paths(), query=raw_queries(), headers=HEADERS)
def test_any_request_gets_a_typed_answer(open_app: TestClient, path: str, query: str, headers: dict[str, str]) -> None:
    # An absolute URL, so that paths starting with "//" reach the app as paths, not as a host.
    url = f"http://testserver{path}" + (f"?{query}" if query else "")
    response = open_app.get(url, headers=_printable_header(headers))
    check_typed(response)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), query=raw_queries())
def test_any_query_on_a_real_image_gets_a_typed_answer(signed_app: TestClient, key: str, query: str) -> None:
    check_typed(signed_app.get(f"/{quote(key)}?{query}"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    w=st.integers(1, 2000),
    h=st.one_of(st.none(), st.integers(1, 2000)),
    fit=st.sampled_from(["cover", "contain", "fill", "inside", "outside"]),
    fm=st.sampled_from(["auto", "webp", "jpeg", "png", "gif", "avif"]),
    extra=st.sampled_from(["", "&rot=90", "&flip=hv", "&blur=2", "&pos=attention", "&bg=f00", "&enlarge=1"]),
)
def test_valid_requests_succeed(open_app: TestClient, w: int, h: int | None, fit: str, fm: str, extra: str) -> None:
    query = f"w={w}" + (f"&h={h}" if h else "") + f"&fit={fit}&fm={fm}{extra}"
    response = open_app.get(f"/photos/cat.jpg?{query}")
    assert response.status_code == 200, (query, response.text[:200])
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert image.width > 0 and image.height > 0
    if fm != "auto":
        assert response.headers["content-type"] == f"image/{fm}"


# --- explicit cases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/photos/%2E%2E/%2E%2E/etc/passwd?w=10", 400),
        ("/photos/..%2F..%2Fetc%2Fpasswd?w=10", 400),
        ("/%2E%2E%2Fetc%2Fpasswd", 400),
        ("/photos/.%2Fcat.jpg?w=10", 400),
        ("/photos//cat.jpg?w=10", 400),
        ("/photos/cat.jpg%00.png?w=10", 400),
        ("/photos/cat.jpg%0d%0aSet-Cookie:x=1?w=10", 400),  # a control character in the key
        ("/photos/%FF%FE.jpg?w=10", 400),
        ("/_vf/cat.jpg?w=10", 400),
        ("/_vf/info/%2E%2E/%2E%2E/etc/passwd", 400),
        ("/_vf/info/../../etc/passwd", 404),  # the client resolves the dots: the key etc/passwd, not found
        ("/photos/_vf/cat.jpg?w=10", 400),
        ("/photos/cat.jpg/_vf/w=10/extra", 400),
        ("/photos/cat.jpg/_vf/original?w=10", 400),
        ("/photos/cat.jpg?w=10&w=20", 400),
        ("/photos/cat.jpg?w=10&W=20", 400),
        ("/photos/cat.jpg?w=10&&&", 200),
        ("/photos/cat.jpg?=10", 400),
        ("/photos/cat.jpg?w=" + "9" * 5000, 400),
        ("/photos/cat.jpg?bg=" + "f" * 3000, 400),
        ("/" + "a/" * 600 + "x.jpg?w=10", 400),
        ("/" + "é" * 1000 + ".jpg?w=10", 400),
        ("/photos/cat.jpg?w=1%00", 400),
        ("/photos/cat.jpg?w=%C0%AF", 400),
    ],
)
def test_hostile_paths_and_params(open_app: TestClient, url: str, status: int) -> None:
    response = open_app.get(url)
    assert response.status_code == status, response.text[:200]
    check_typed(response)


@pytest.mark.parametrize(
    ("url", "variant"),
    [
        ("/photos%2Fcat.jpg?w=20", "photos/cat.jpg/_vf/w=20"),  # an encoded slash is a slash in the key
        ("/a+b.jpg?w=20", "a~2Bb.jpg/_vf/w=20"),  # '+' in a path is a plus, not a space
        ("/a%2Bb.jpg?w=21", "a~2Bb.jpg/_vf/w=21"),  # stored under the key's origin form (keys.origin_key)
        ("/with%20space.jpg?w=20", "with~20space.jpg/_vf/w=20"),
        ("/unicode/caf%C3%A9%20%E2%98%95.jpg?w=20", "unicode/caf~C3~A9~20~E2~98~95.jpg/_vf/w=20"),
    ],
)
def test_keys_with_special_characters(s3_module: Any, open_app: TestClient, url: str, variant: str) -> None:
    response = open_app.get(url)
    assert response.status_code == 200, response.text
    s3_module.head_object(Bucket=VARIANTS, Key=variant)  # stored under the key the path names


def test_a_key_with_plus_is_not_a_key_with_space(open_app: TestClient) -> None:
    assert open_app.get("/a%20b.jpg?w=20").status_code == 404


def test_unknown_methods_and_huge_headers(open_app: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):  # OPTIONS: no CORS origins configured
        response = open_app.request(method, "/photos/cat.jpg?w=10")
        assert response.status_code == 405, method
        check_typed(response)
    response = open_app.get("/photos/cat.jpg?w=10&fm=auto", headers={"accept": "image/webp;q=0.5," * 4000})
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
    assert pyvips.Image.new_from_buffer(response.content, "").width == 10
    response = open_app.get("/photos/cat.jpg?w=10", headers={"if-none-match": '"x",' * 4000})
    assert response.status_code == 200  # none of the tags matches: the image
    assert pyvips.Image.new_from_buffer(response.content, "").width == 10


def signed(key: str, spec: Spec, kid: str, secret: bytes, expires: int | None = None) -> str:
    return sign(key, spec, kid, secret, expires)


def test_signature_tampering(signed_app: TestClient) -> None:
    key, spec = "photos/cat.jpg", build({"w": "300"})
    good = signed(key, spec, "new", SECRET_NEW)
    assert signed_app.get(f"/photos/cat.jpg?w=300&s={good}").status_code == 200
    kid, digest = good.split(".")
    flipped = digest[:-1] + ("A" if digest[-1] != "A" else "B")
    for query in (
        f"w=300&s={kid}.{flipped}",  # one character changed
        f"w=301&s={good}",  # another spec
        f"w=300&h=10&s={good}",  # a parameter added
        f"w=300&s=other.{digest}",  # another key id
        "w=300",  # none at all
    ):
        response = signed_app.get(f"/photos/cat.jpg?{query}")
        assert response.status_code == 403, query
        check_typed(response)
    assert signed_app.get(f"/deep/a/b/c/d.png?w=300&s={good}").status_code == 403  # another key
    for malformed in (f"{kid}.{digest}x", f"{kid}{digest}", f"{kid}.{digest[:-2]}", f"{kid}.{digest}%00"):
        response = signed_app.get(f"/photos/cat.jpg?w=300&s={malformed}")
        assert response.status_code == 400, malformed  # not KEYID.SIGNATURE: refused before any key is tried
        assert response.json()["param"] == "s"
        check_typed(response)
    assert signed_app.get("/photos/cat.jpg?w=100").status_code == 200  # within the unsigned policy


def test_replay_after_expiry(signed_app: TestClient) -> None:
    key, spec = "photos/cat.jpg", build({"w": "310"})
    soon = int(time.time()) + 60
    valid = signed(key, spec, "new", SECRET_NEW, soon)
    assert signed_app.get(f"/photos/cat.jpg?w=310&exp={soon}&s={valid}").status_code == 200
    past = int(time.time()) - 1
    expired = signed(key, spec, "new", SECRET_NEW, past)
    response = signed_app.get(f"/photos/cat.jpg?w=310&exp={past}&s={expired}")
    assert response.status_code == 403 and response.json()["param"] == "exp"
    # Stretching the expiry of a captured URL breaks its signature.
    assert signed_app.get(f"/photos/cat.jpg?w=310&exp={soon + 3600}&s={valid}").status_code == 403
    # Dropping exp from a URL signed with one is another string to sign.
    assert signed_app.get(f"/photos/cat.jpg?w=310&s={valid}").status_code == 403


def test_rotated_out_keys(s3_module: Any) -> None:
    key, spec = "photos/cat.jpg", build({"w": "320"})
    by_old = signed(key, spec, "old", SECRET_OLD)
    unsigned = UnsignedPolicy(widths=(), heights=())
    both = app_with(s3_module, policy=Policy.create(keys={"old": SECRET_OLD, "new": SECRET_NEW}, unsigned=unsigned))
    assert both.get(f"/photos/cat.jpg?w=320&s={by_old}").status_code == 200  # during the rotation
    rotated = app_with(s3_module, policy=Policy.create(keys={"new": SECRET_NEW}, unsigned=unsigned))
    response = rotated.get(f"/photos/cat.jpg?w=320&s={by_old}")
    assert response.status_code == 403 and response.json()["error"] == "unknown signing key"
    # The old key's id with a signature made by the new secret is no better.
    forged = "old." + signed(key, spec, "new", SECRET_NEW).split(".")[1]
    assert rotated.get(f"/photos/cat.jpg?w=320&s={forged}").status_code == 403
    assert rotated.get(f"/photos/cat.jpg?w=320&s={signed(key, spec, 'new', SECRET_NEW)}").status_code == 200


# ---------------------------------------------------------------------------------------------------
# Unsigned abuse of every parameter: with signing keys, the default allow-list (widths on the ladder,
# fm, fit, named pos, v, presets) and nothing else; each refusal happens before any transform or S3 write.

UNSIGNED_ABUSE = {
    "w": "w=101",
    "h": "w=100&h=100",
    "dpr": "w=100&dpr=1.5",
    "fit": "w=100&h=100&fit=fill",
    "pos": "w=100&h=100&pos=attention",
    "fx": "w=100&h=100&fx=0.2",
    "fy": "w=100&h=100&fy=0.8",
    "enlarge": "w=100&enlarge=1",
    "fm": "fm=avif",  # a full-size re-encode: no w
    "q": "w=100&q=37",
    "blur": "w=100&blur=99.9999",
    "sharpen": "w=100&sharpen=2",
    "rot": "w=100&rot=90",
    "flip": "w=100&flip=hv",
    "bg": "w=100&bg=abcdef",
    "v": "v=abc&blur=5",
    "p": "p=thumb&q=90",
    "rect": "w=100&rect=0,0,50,50",
    "trim": "w=100&trim=10",
}


@pytest.fixture(scope="module")
def allow_list_app(s3_module: Any) -> TestClient:
    policy = Policy.create(
        keys={"new": SECRET_NEW},
        unsigned=UnsignedPolicy(widths=(100,)),
        presets={"thumb": {"w": "64", "h": "64", "q": "60"}},
        prefixes=("photos/", "deep/"),
    )
    return app_with(s3_module, policy=policy)


def test_unsigned_abuse_covers_every_parameter() -> None:
    assert set(UNSIGNED_ABUSE) == ALL_PARAMS - {"s", "exp"}


@pytest.mark.parametrize("name", sorted(UNSIGNED_ABUSE))
def test_unsigned_abuse_of_each_parameter_is_refused(allow_list_app: TestClient, name: str) -> None:
    query = UNSIGNED_ABUSE[name]
    via_dpr = query if "dpr" in query else query.replace("w=100", "w=50&dpr=2")  # the same width, folded
    for path in (f"/photos/cat.jpg?{query}", f"/photos/cat.jpg?{via_dpr}"):
        response = allow_list_app.get(path)
        assert response.status_code == 403, (path, response.text)
        body = response.json()
        assert (body["code"], body["param"]) == ("forbidden", "s") and "needs a signed URL" in body["error"]
        check_typed(response)


def test_what_a_responsive_page_needs_is_served_unsigned(allow_list_app: TestClient) -> None:
    for query, size in (
        ("w=100", (96, 64)),
        ("w=50&dpr=2", (96, 64)),
        ("w=100&fm=webp", (96, 64)),
        ("w=100&fit=contain&pos=top", (96, 64)),  # one side: fit and pos drop out
        ("p=thumb", (64, 64)),
    ):
        response = allow_list_app.get(f"/photos/cat.jpg?{query}")
        assert response.status_code == 200, (query, response.text)
        image = pyvips.Image.new_from_buffer(response.content, "")
        assert (image.width, image.height) == size, query
    assert allow_list_app.get("/photos/cat.jpg").content == small_jpeg()  # the original, as stored
    for query in ("w=100&v=abc123", "p=thumb&v=abc123", "v=abc123"):
        # v passes the policy; the origin then redirects an old version to the current one, also unsigned
        response = allow_list_app.get(f"/photos/cat.jpg?{query}", follow_redirects=False)
        assert response.status_code == 302, (query, response.text)
        assert allow_list_app.get(response.headers["location"]).status_code == 200


def test_signed_urls_may_use_every_parameter(allow_list_app: TestClient) -> None:
    key, spec = "photos/cat.jpg", build({"w": "80", "h": "40", "q": "37", "blur": "2", "flip": "h", "bg": "abcdef"})
    response = allow_list_app.get(
        f"/photos/cat.jpg?w=80&h=40&q=37&blur=2&flip=h&bg=abcdef&s={signed(key, spec, 'new', SECRET_NEW)}"
    )
    assert response.status_code == 200
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert (image.width, image.height) == (80, 40)


def test_keys_outside_the_prefixes_are_not_found(allow_list_app: TestClient) -> None:
    spec = build({"w": "100"})
    for path in (
        "/a+b.jpg?w=100",
        "/a+b.jpg",
        f"/with%20space.jpg?w=100&s={signed('with space.jpg', spec, 'new', SECRET_NEW)}",
        "/a+b.jpg/_vf/w=100",
        "/_vf/info/a+b.jpg",
    ):
        response = allow_list_app.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert allow_list_app.get("/deep/a/b/c/d.png?w=100").status_code == 200
    assert allow_list_app.get("/_vf/info/photos/cat.jpg").status_code == 200


def test_info_and_originals_switches(s3_module: Any) -> None:
    closed = app_with(
        s3_module,
        policy=Policy.create(keys={"new": SECRET_NEW}, unsigned=UnsignedPolicy(originals=False, info=False)),
    )
    assert closed.get("/_vf/info/photos/cat.jpg").status_code == 403
    for path in ("/photos/cat.jpg", "/photos/cat.jpg?v=abc", "/photos/cat.jpg/_vf/original"):
        assert closed.get(path).status_code == 403, path
    original = signed("photos/cat.jpg", Spec(), "new", SECRET_NEW)
    assert closed.get(f"/photos/cat.jpg?s={original}").content == small_jpeg()
    assert closed.get("/photos/cat.jpg?w=640").status_code == 200  # transforms on the ladder still are
    # without signing keys everything is served: the switches belong to the unsigned policy
    open_ = app_with(s3_module, policy=Policy.create(unsigned=UnsignedPolicy(originals=False, info=False)))
    assert open_.get("/photos/cat.jpg").status_code == 200
    assert open_.get("/_vf/info/photos/cat.jpg").status_code == 200


def test_full_size_transforms_need_full_size_or_any_width(s3_module: Any) -> None:
    keys = {"new": SECRET_NEW}
    restricted = app_with(s3_module, policy=Policy.create(keys=keys, unsigned=UnsignedPolicy(widths=(100,))))
    assert restricted.get("/photos/cat.jpg?fm=webp").status_code == 403
    assert restricted.get("/photos/cat.jpg?fm=webp", headers={"sec-ch-width": "90"}).status_code == 200  # hinted
    full = app_with(s3_module, policy=Policy.create(keys=keys, unsigned=UnsignedPolicy(widths=(100,), full_size=True)))
    response = full.get("/photos/cat.jpg?fm=webp")
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
    assert pyvips.Image.new_from_buffer(response.content, "").width == 96
    anywidth = app_with(s3_module, policy=Policy.create(keys=keys, unsigned=UnsignedPolicy(widths=None)))
    assert anywidth.get("/photos/cat.jpg?fm=webp").status_code == 200


def test_health_and_openapi_are_never_cached(open_app: TestClient) -> None:
    for path in ("/_vf/health", "/_vf/openapi.json"):
        response = open_app.get(path)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store", path
    assert "/{path}" in json.dumps(open_app.get("/_vf/openapi.json").json()["paths"])


def test_options_without_cors_is_a_clear_405(open_app: TestClient) -> None:
    response = open_app.options("/photos/cat.jpg", headers={"origin": "https://a.example"})
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert "VIPSFRONT_CORS_ORIGINS" in response.json()["error"]
    check_typed(response)


def test_cors_preflights_for_the_configured_origins(s3_module: Any) -> None:
    app = app_with(s3_module, cors_origins=("https://www.example.com",))
    preflight = {"origin": "https://www.example.com", "access-control-request-method": "GET"}
    response = app.options("/photos/cat.jpg?w=100", headers=preflight)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://www.example.com"
    assert response.headers["access-control-allow-methods"] == "GET, HEAD"
    assert "Origin" in response.headers["vary"]
    for headers in (
        {**preflight, "origin": "https://evil.example"},
        {**preflight, "access-control-request-method": "DELETE"},
    ):
        refused = app.options("/photos/cat.jpg", headers=headers)
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        check_typed(refused)
    image = app.get("/photos/cat.jpg?w=50", headers={"origin": "https://www.example.com"})
    assert image.headers["access-control-allow-origin"] == "https://www.example.com"
    assert "Origin" in image.headers["vary"]
    anyone = app_with(s3_module, cors_origins=("*",))
    assert anyone.get("/photos/cat.jpg?w=50").headers["access-control-allow-origin"] == "*"
