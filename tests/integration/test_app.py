"""The origin app through HTTP (FastAPI's test client) on moto's S3: the request path as users see it."""

from __future__ import annotations

import importlib.metadata
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import pyvips
from fastapi.testclient import TestClient
from helpers import photo_jpeg as photo

from vipsfront.config.settings import Settings
from vipsfront.engine.limits import Limits
from vipsfront.errors import DeadlineExceededError
from vipsfront.stores.s3 import S3Store
from vipsfront.telemetry import Outcome, RequestRecord
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.route import route
from vipsfront.url.signing import sign
from vipsfront.url.spec import Fm, Spec
from vipsfront.url.version import version_token
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"


def decode(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


class Origin:
    """The app on moto with its records, so tests can look at S3 and at what was metered."""

    def __init__(self, s3: Any, settings: Settings) -> None:
        self.s3 = s3
        self.records: list[RequestRecord] = []
        self.app = create_app(settings, S3Store(s3, ORIGINALS, VARIANTS), observer=self.records.append)
        self.client = TestClient(self.app)

    def put(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.s3.put_object(Bucket=ORIGINALS, Key=key, Body=data, ContentType=content_type)

    def variants(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=VARIANTS)
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture
def origin(s3: Any) -> Iterator[Origin]:
    made = Origin(s3, Settings())
    made.put("photos/cat.jpg", photo())
    yield made


def test_miss_then_hit(origin: Origin) -> None:
    first = origin.client.get("/photos/cat.jpg?w=400&fm=webp")
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/webp"
    assert first.headers["x-vipsfront-variant"] == "miss"
    image = decode(first.content)
    assert (image.width, image.height) == (400, 267)
    assert origin.variants() == ["photos/cat.jpg/_vf/w=400,fm=webp"]
    timing = first.headers["server-timing"]
    for name in ("s3-variant", "s3-read", "transform", "s3-write", "total"):
        assert f"{name};dur=" in timing  # the variant is stored before the answer

    second = origin.client.get("/photos/cat.jpg?fm=webp&w=400")  # same variant, other order
    assert second.status_code == 200
    assert second.headers["x-vipsfront-variant"] == "hit"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    stored = origin.s3.head_object(Bucket=VARIANTS, Key="photos/cat.jpg/_vf/w=400,fm=webp")
    assert second.headers["etag"] == stored["ETag"]  # the hit answers S3's ETag, hashing nothing
    assert "transform;dur" not in second.headers["server-timing"]
    assert [r.outcome for r in origin.records] == [Outcome.MISS, Outcome.HIT]
    assert origin.records[0].output_bytes == len(first.content)
    assert origin.records[0].input_megapixels == pytest.approx(0.96)


def test_canonical_path_form_reaches_the_same_variant(origin: Origin) -> None:
    query = origin.client.get("/photos/cat.jpg?w=300&h=300&fm=jpg")
    path = origin.client.get("/photos/cat.jpg/_vf/w=300,h=300,fm=jpeg")
    assert query.headers["x-vipsfront-variant"] == "miss"
    assert path.headers["x-vipsfront-variant"] == "hit"
    assert path.content == query.content
    assert (decode(path.content).width, decode(path.content).height) == (300, 300)


def test_headers_cache_and_etag(origin: Origin) -> None:
    response = origin.client.get("/photos/cat.jpg?w=200")
    assert response.headers["cache-control"] == "public, max-age=3600, s-maxage=604800"  # unversioned
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "vary" not in response.headers
    etag = response.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = origin.client.get("/photos/cat.jpg?w=200", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


def test_format_negotiation_varies_on_accept(origin: Origin) -> None:
    chrome = origin.client.get("/photos/cat.jpg?w=320&fm=auto", headers={"Accept": CHROME_ACCEPT})
    curl = origin.client.get("/photos/cat.jpg?w=320&fm=auto", headers={"Accept": "*/*"})
    assert chrome.headers["content-type"] == "image/avif"
    assert chrome.headers["vary"] == "Accept"
    assert decode(chrome.content).width == 320
    assert curl.headers["content-type"] == "image/jpeg"
    assert curl.headers["vary"] == "Accept"
    assert sorted(origin.variants()) == [
        "photos/cat.jpg/_vf/w=320,fm=auto",
        "photos/cat.jpg/_vf/w=320,fm=auto-avif-webp",
    ]


def test_head_has_headers_and_no_body(origin: Origin) -> None:
    response = origin.client.head("/photos/cat.jpg?w=100")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0
    assert response.headers["content-type"] == "image/jpeg"


def test_no_params_returns_the_original_unchanged(origin: Origin) -> None:
    original = origin.s3.get_object(Bucket=ORIGINALS, Key="photos/cat.jpg")["Body"].read()
    response = origin.client.get("/photos/cat.jpg")
    assert response.status_code == 200
    assert response.content == original
    assert response.headers["content-type"] == "image/jpeg"
    assert origin.variants() == ["photos/cat.jpg/_vf/original"]


def error_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)
    assert set(body) == {"error", "code", "param"}
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("url", "status", "param"),
    [
        ("/photos/cat.jpg?w=0", 400, "w"),
        ("/photos/cat.jpg?width=10", 400, "width"),
        ("/photos/cat.jpg?fit=squash&w=1&h=1", 400, "fit"),
        ("/photos/%2E%2E/etc/passwd?w=10", 400, "key"),
        ("/photos/cat.jpg/_vf/h=1,w=1", 400, None),
        ("/photos/missing.jpg?w=10", 404, "key"),
    ],
)
def test_client_errors_are_json_and_store_nothing(origin: Origin, url: str, status: int, param: str | None) -> None:
    response = origin.client.get(url)
    assert response.status_code == status
    assert error_of(response)["param"] == param
    assert response.headers["cache-control"] == "public, max-age=60"
    assert origin.variants() == []


def test_unsupported_and_undecodable_originals(origin: Origin) -> None:
    origin.put("notes/readme.jpg", b"this is a text file with an image name\n" * 20)
    truncated = photo()
    origin.put("photos/truncated.jpg", truncated[: len(truncated) // 2])
    assert origin.client.get("/notes/readme.jpg?w=10").status_code == 415
    assert origin.client.get("/notes/readme.jpg").status_code == 415  # not served even unchanged
    response = origin.client.get("/photos/truncated.jpg?w=10")
    assert response.status_code == 422
    assert error_of(response)["code"] == "undecodable_image"
    assert origin.variants() == []
    assert origin.client.get("/photos/cat.jpg?w=10").status_code == 200  # and the next one succeeds


def test_too_large_originals(s3: Any) -> None:
    origin = Origin(s3, Settings(limits=Limits(max_input_bytes=10_000, max_input_pixels=500_000)))
    origin.put("big-bytes.jpg", photo(600, 400))  # > 10 kB
    origin.put("big-pixels.png", pyvips.Image.black(1000, 1000).pngsave_buffer())  # tiny file, 1 MP
    assert origin.client.get("/big-bytes.jpg?w=10").status_code == 413
    response = origin.client.get("/big-pixels.png?w=10")
    assert response.status_code == 413
    assert error_of(response)["code"] == "input_too_large"
    assert origin.variants() == []


def test_large_variants_are_stored_then_redirected(s3: Any) -> None:
    origin = Origin(s3, Settings(payload_limit=2_000))
    origin.put("photos/cat.jpg", photo())
    response = origin.client.get("/photos/cat.jpg?w=600&fm=png", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/photos/cat.jpg/_vf/w=600,fm=png"
    assert response.headers["cache-control"] == "no-store"
    assert origin.variants() == ["photos/cat.jpg/_vf/w=600,fm=png"]
    followed = origin.client.get(response.headers["location"])
    assert followed.status_code == 200
    assert followed.headers["x-vipsfront-variant"] == "hit"
    assert decode(followed.content).width == 600


def test_signed_mode(s3: Any) -> None:
    secret = b"0123456789abcdef0123"
    policy = Policy.create(keys={"k1": secret}, unsigned=UnsignedPolicy(widths=(320,), heights=()))
    origin = Origin(s3, Settings(policy=policy))
    origin.put("photos/cat.jpg", photo())
    assert origin.client.get("/photos/cat.jpg?w=320").status_code == 200
    refused = origin.client.get("/photos/cat.jpg?w=321")
    assert refused.status_code == 403
    assert error_of(refused)["param"] == "s"
    signature = sign("photos/cat.jpg", Spec(w=321), "k1", secret)
    assert origin.client.get(f"/photos/cat.jpg?w=321&s={signature}").status_code == 200
    assert origin.client.get(f"/photos/cat.jpg?w=322&s={signature}").status_code == 403
    assert origin.client.get("/photos/cat.jpg/_vf/w=321").status_code == 403  # path form checked too
    assert origin.client.get(f"/photos/cat.jpg/_vf/w=321?s={signature}").status_code == 200
    assert sorted(origin.variants()) == ["photos/cat.jpg/_vf/w=320", "photos/cat.jpg/_vf/w=321"]


def test_trusted_path_form_behind_the_edge(s3: Any) -> None:
    policy = Policy.create(keys={"k1": b"0123456789abcdef0123"}, unsigned=UnsignedPolicy(widths=()))
    origin = Origin(s3, Settings(policy=policy, trust_path_form=True, variant_lookup=False))
    origin.put("photos/cat.jpg", photo())
    assert origin.client.get("/photos/cat.jpg?w=321").status_code == 403  # query form still checked
    first = origin.client.get("/photos/cat.jpg/_vf/w=321")
    second = origin.client.get("/photos/cat.jpg/_vf/w=321")
    assert first.status_code == second.status_code == 200
    assert second.headers["x-vipsfront-variant"] == "miss"  # no lookup: CloudFront's S3 origin did it


class Unreachable:
    """A boto3 client whose GETs fail as if S3 went away mid-request (HEAD still answers)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_object(self, **kwargs: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


def test_storage_faults_are_503_no_store(s3: Any) -> None:
    s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=photo(64, 64))
    app = create_app(Settings(), S3Store(Unreachable(s3), ORIGINALS, VARIANTS))
    response = TestClient(app).get("/a.jpg?w=10")
    assert response.status_code == 503
    assert response.headers["cache-control"] == "no-store"
    assert error_of(response)["code"] == "storage_unavailable"


def test_unknown_bucket_is_a_gateway_error(s3: Any) -> None:
    """A missing bucket is the deployment's fault, not a missing image: 502, never cached."""
    s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=photo(64, 64))
    for originals, variants in (("no-such-bucket", VARIANTS), (ORIGINALS, "no-such-bucket")):
        app = create_app(Settings(), S3Store(s3, originals, variants))
        for path in ("/a.jpg?w=10", "/_vf/info/a.jpg"):
            response = TestClient(app).get(path)
            assert response.status_code == 502, (originals, variants, path)
            assert response.headers["cache-control"] == "no-store"
            assert error_of(response) == {"error": "storage failed", "code": "storage_error", "param": None}


def test_a_missing_original_is_a_cacheable_404(s3: Any) -> None:
    response = TestClient(create_app(Settings(), S3Store(s3, ORIGINALS, VARIANTS))).get("/none.jpg?w=10")
    assert response.status_code == 404
    assert response.headers["cache-control"] == Settings().error_cache_control != "no-store"
    assert error_of(response) == {"error": "original not found", "code": "not_found", "param": "key"}


def test_health_and_info(origin: Origin) -> None:
    health = origin.client.get("/_vf/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": importlib.metadata.version("vipsfront")}
    info = origin.client.get("/_vf/info/photos/cat.jpg").json()
    stored_bytes = origin.s3.head_object(Bucket=ORIGINALS, Key="photos/cat.jpg")["ContentLength"]
    placeholder = info.pop("placeholder")  # its pixels: tests/integration/test_web.py
    etag = origin.s3.head_object(Bucket=ORIGINALS, Key="photos/cat.jpg")["ETag"]
    assert info.pop("version") == version_token(etag=etag)
    assert set(info.pop("metadata")) >= {"captured_at", "camera_make", "color_space", "phash"}
    assert info.pop("faces")["boxes"] == []  # pos=face's boxes: tests/integration/test_faces_served.py
    assert info == {
        "key": "photos/cat.jpg",
        "width": 1200,
        "height": 800,
        "stored_width": 1200,
        "stored_height": 800,
        "format": "jpeg",
        "bytes": stored_bytes,
        "alpha": False,
        "frames": 1,
        "animated": False,
        "orientation": 1,
    }
    assert set(placeholder) == {"thumbhash", "color", "data_url"}
    assert re.fullmatch(r"#[0-9a-f]{6}", placeholder["color"])
    assert placeholder["data_url"].startswith("data:image/png;base64,")
    assert origin.client.get("/_vf/info/photos/none.jpg").status_code == 404
    assert origin.client.get("/_vf/nothing").status_code == 400  # reserved prefix, not a key


def test_methods_other_than_get_and_head(origin: Origin) -> None:
    response = origin.client.post("/photos/cat.jpg?w=10")
    assert response.status_code == 405
    error_of(response)


def test_large_signed_variant_redirect_stays_signed_behind_the_edge(s3: Any) -> None:
    """The edge strips s/exp from the rewritten request and passes them in headers for this 307."""
    secret = b"0123456789abcdef0123"
    policy = Policy.create(keys={"k1": secret}, unsigned=UnsignedPolicy(widths=()))
    origin = Origin(s3, Settings(policy=policy, trust_path_form=True, variant_lookup=False, payload_limit=2_000))
    origin.put("photos/cat.jpg", photo())
    signature = sign("photos/cat.jpg", Spec(w=600, fm=Fm.PNG), "k1", secret, expires=4_000_000_000)
    response = origin.client.get(
        "/photos/cat.jpg/_vf/w=600,fm=png",
        headers={"x-vipsfront-signature": signature, "x-vipsfront-expires": "4000000000"},
        follow_redirects=False,
    )
    assert response.status_code == 307
    location = response.headers["location"]
    assert location == f"/photos/cat.jpg/_vf/w=600,fm=png?s={signature}&exp=4000000000"
    # Without trust in the path form (the local server), the signature must be in the URL itself.
    path, _, query = location.partition("?")
    assert route(path, query, None, policy, now=0).spec == Spec(w=600, fm=Fm.PNG)


def test_transforms_wait_for_a_slot_and_give_up_at_the_deadline(s3: Any) -> None:
    """With one transform slot taken, a miss waits; past its budget it is a 503, and nothing is stored."""
    from vipsfront.origin.serving import TransformGate
    from vipsfront.telemetry import RequestRecord as Record

    gate = TransformGate(1)
    settings = Settings(request_budget_s=0.3, max_concurrent_transforms=1)
    app = create_app(settings, S3Store(s3, ORIGINALS, VARIANTS))
    s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=photo(200, 100))
    client = TestClient(app)
    # The gate itself: a second taker gives up at its deadline.
    with gate.slot(time.monotonic() + 1, Record()):
        with pytest.raises(DeadlineExceededError):
            with gate.slot(time.monotonic() + 0.05, Record()):
                pass
    assert client.get("/a.jpg?w=50").status_code == 200  # the app's gate is free
    busy = app.state.transform_gate
    assert busy.slots == 1
    with busy.slot(time.monotonic() + 5, Record()):
        response = client.get("/a.jpg?w=60")
        hit = client.get("/a.jpg?w=50")  # hits never wait for a slot
    assert response.status_code == 503
    assert response.json()["code"] == "deadline_exceeded"
    assert response.headers["cache-control"] == "no-store"
    assert hit.status_code == 200 and hit.headers["x-vipsfront-variant"] == "hit"
    listing = s3.list_objects_v2(Bucket=VARIANTS).get("Contents", [])
    assert [item["Key"] for item in listing] == ["a.jpg/_vf/w=50"]


def test_a_middleware_added_to_the_app_sees_image_requests(s3: Any) -> None:
    s3.put_object(Bucket=ORIGINALS, Key="a.jpg", Body=photo(64, 48))
    app = create_app(Settings(), S3Store(s3, ORIGINALS, VARIANTS))
    seen: list[str] = []

    @app.middleware("http")
    async def note(request: Any, call_next: Any) -> Any:
        seen.append(request.url.path)
        return await call_next(request)

    response = TestClient(app).get("/a.jpg?w=32")
    assert response.status_code == 200 and decode(response.content).width == 32
    assert seen == ["/a.jpg"]


def test_an_unexpected_error_is_a_500_json_without_internals(s3: Any) -> None:
    class Broken(S3Store):
        def get_variant(self, key: str, *, deadline: float | None = None) -> Any:
            raise RuntimeError("internal detail")

    client = TestClient(create_app(Settings(), Broken(s3, ORIGINALS, VARIANTS)), raise_server_exceptions=False)
    response = client.get("/a.jpg?w=10")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error", "code": "internal_error", "param": None}
    assert response.headers["cache-control"] == "no-store"
    assert "internal detail" not in response.text
