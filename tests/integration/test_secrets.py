"""Secrets stay secret: signing keys never reach a log or a response; error bodies never show internals.

The app runs signed, on moto, and is made to fail in every way a client can cause or observe (bad, tampered,
expired and unknown signatures, bad specs and keys, missing, too large, unsupported and undecodable
originals, S3 unreachable, S3 errors, a deadline, an unexpected exception). Every log record (all loggers,
DEBUG, tracebacks included) and every response are searched for the secret and for internals.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
import pyvips
from botocore.exceptions import ClientError, EndpointConnectionError
from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store
from vipsfront.url.signing import sign
from vipsfront.url.spec import Spec
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
SECRET = "Sup3r-secret-signing-key-0042"
OLD_SECRET = "0ld-secret-signing-key-0041"
INTERNALS = re.compile(
    r"Traceback|File \"|\.py\b|/usr/|/home/|/root/|/tmp/|site-packages|botocore|boto3|ClientError|"
    r"EndpointConnection|pyvips|libvips|vips_|Exception|Error:|0x[0-9a-f]{6,}|arn:aws|internal-endpoint",
)


class Faulty:
    """A boto3 client that fails as told: ``mode`` is none, unreachable, s3-error or crash."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.mode = "none"

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name not in ("get_object", "head_object", "put_object") or self.mode == "none":
            return attribute

        def fail(**kwargs: Any) -> Any:
            if self.mode == "unreachable":
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/internal-endpoint")
            if self.mode == "s3-error":
                error = {"Code": "AccessDenied", "Message": "denied for arn:aws:iam::123456789012:role/internal"}
                raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}, name)
            raise RuntimeError("unexpected failure in /srv/app/vipsfront/storage.py")

        return fail


def jpeg(width: int = 64, height: int = 48) -> bytes:
    return bytes(pyvips.Image.xyz(width, height)[0].cast("uchar").jpegsave_buffer())


def test_secrets_never_logged_and_errors_never_show_internals(s3: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings.from_env(
        {
            "VIPSFRONT_SIGNING_KEYS": f"k1:{SECRET}",
            "VIPSFRONT_UNSIGNED_WIDTHS": "100",
            "VIPSFRONT_MAX_INPUT_BYTES": "200000",
        }
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings.policy)
    faulty = Faulty(s3)
    client = TestClient(create_app(settings, S3Store(faulty, ORIGINALS, VARIANTS)), raise_server_exceptions=False)
    s3.put_object(Bucket=ORIGINALS, Key="ok.jpg", Body=jpeg())
    s3.put_object(Bucket=ORIGINALS, Key="big.jpg", Body=b"\xff\xd8" + bytes(300_000))
    s3.put_object(Bucket=ORIGINALS, Key="pixels.png", Body=pyvips.Image.black(20000, 10000).pngsave_buffer())
    s3.put_object(Bucket=ORIGINALS, Key="text.jpg", Body=b"hello " * 50)
    s3.put_object(Bucket=ORIGINALS, Key="broken.jpg", Body=jpeg(640, 480)[:2000])

    good = sign("ok.jpg", Spec(w=200), "k1", SECRET.encode())
    kid, digest = good.split(".")
    past = int(time.time()) - 10
    expired = sign("ok.jpg", Spec(w=200), "k1", SECRET.encode(), past)
    by_old = sign("ok.jpg", Spec(w=200), "k0", OLD_SECRET.encode())
    requests = [
        ("/ok.jpg?w=200", 403),  # unsigned outside the policy
        (f"/ok.jpg?w=200&s={kid}.{digest[::-1]}", 403),  # tampered
        (f"/ok.jpg?w=201&s={good}", 403),  # another spec
        (f"/ok.jpg?w=200&exp={past}&s={expired}", 403),  # expired
        (f"/ok.jpg?w=200&s={by_old}", 403),  # unknown (rotated-out) key
        (f"/ok.jpg?w=200&s={SECRET}", 400),  # the secret itself as a signature
        ("/ok.jpg?w=0", 400),
        ("/%2E%2E/ok.jpg?w=100", 400),
        ("/_vf/x", 400),
        ("/missing.jpg?w=100", 404),
        ("/big.jpg?w=100", 413),
        ("/pixels.png?w=100", 413),
        ("/text.jpg?w=100", 415),
        ("/broken.jpg?w=100", 422),
        ("/ok.jpg?w=100", 200),
    ]
    responses = [(url, expected, client.get(url)) for url, expected in requests]
    for mode, expected in (("unreachable", 503), ("s3-error", 502), ("crash", 500)):
        faulty.mode = mode
        responses.append((mode, expected, client.get("/ok.jpg?w=100&fm=webp")))
        responses.append((mode, expected, client.get(f"/ok.jpg?w=200&s={good}")))
    faulty.mode = "none"
    store = S3Store(s3, ORIGINALS, VARIANTS)
    slow = TestClient(create_app(Settings(request_budget_s=0.0, policy=settings.policy), store))
    responses.append(("deadline", 503, slow.get("/ok.jpg?w=100")))
    responses.append(("post", 405, client.post("/ok.jpg")))

    for url, expected, response in responses:
        assert response.status_code == expected, (url, response.text)
        text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert SECRET not in text and OLD_SECRET not in text
        assert digest not in text  # nor a valid signature echoed back
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error", "code", "param"}
            assert not INTERNALS.search(response.text), (url, response.text)
            assert len(response.text) < 300
    logged = "\n".join(
        record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))  # the test's own HTTP client
    )
    assert "unexpected failure" in logged  # the 500's traceback is logged (and only logged)
    assert SECRET not in logged and OLD_SECRET not in logged
    assert digest not in logged  # the app logs no signature either (an access log would show URLs)
