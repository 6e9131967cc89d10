"""A miss's variant is stored before its answer, on moto's S3, the same under ``vipsfront serve``, the tests
and the Lambda (which freezes once it has answered): the request right after a miss is a hit, a store
that fails answers 503 with nothing half-written, and the too-big redirect points at a stored copy."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pyvips
from fastapi.testclient import TestClient
from helpers import photo_jpeg

from vipsfront.config.settings import Settings
from vipsfront.errors import StorageUnavailableError
from vipsfront.stores.s3 import S3Store
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
ROOT = Path(__file__).resolve().parents[2]


class WatchedStore(S3Store):
    """S3 that notes each variant PUT in ``events`` (and can fail them)."""

    def __init__(self, s3: Any, events: list[str], fail: bool = False) -> None:
        super().__init__(s3, ORIGINALS, VARIANTS)
        self.events, self.fail = events, fail

    def put_variant(self, key: str, data: bytes, **kwargs: Any) -> None:
        self.events.append(f"put {key}")
        if self.fail:
            raise StorageUnavailableError("storage did not answer within the request's time, try again")
        super().put_variant(key, data, **kwargs)


def call(app: Any, path: str, query: str, events: list[str]) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI app, noting in ``events`` when the response has been sent in full."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver"), (b"accept", b"image/webp")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    status, headers, body = 0, {}, bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                events.append("response sent")

    asyncio.run(app(scope, receive, send))
    return status, headers, bytes(body)


def variants(s3: Any) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=VARIANTS).get("Contents", [])]


@pytest.fixture
def s3_with_photo(s3: Any) -> Any:
    s3.put_object(Bucket=ORIGINALS, Key="cat.jpg", Body=photo_jpeg(), ContentType="image/jpeg")
    return s3


def test_a_miss_is_stored_before_its_answer_and_the_next_request_is_a_hit(s3_with_photo: Any) -> None:
    events: list[str] = []
    app = create_app(Settings(), WatchedStore(s3_with_photo, events))
    status, headers, body = call(app, "/cat.jpg", "w=400&fm=webp", events)
    assert status == 200
    assert headers["x-vipsfront-variant"] == "miss"
    image = pyvips.Image.new_from_buffer(body, "")
    assert (image.width, image.height, image.get("vips-loader")) == (400, 267, "webpload_buffer")
    assert events == ["put cat.jpg/_vf/w=400,fm=webp", "response sent"]
    assert "s3-write;dur=" in headers["server-timing"]
    stored = s3_with_photo.get_object(Bucket=VARIANTS, Key="cat.jpg/_vf/w=400,fm=webp")
    assert stored["Body"].read() == body
    assert stored["ETag"] == headers["etag"]  # the hit that follows answers the same ETag

    hit = TestClient(app).get("/cat.jpg?w=400&fm=webp")
    assert hit.headers["x-vipsfront-variant"] == "hit"
    assert hit.content == body


def test_a_failed_store_answers_503_and_leaves_nothing(s3_with_photo: Any) -> None:
    events: list[str] = []
    store = WatchedStore(s3_with_photo, events, fail=True)
    app = create_app(Settings(), store)
    status, headers, body = call(app, "/cat.jpg", "w=200&fm=jpeg", events)
    assert status == 503
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["code"] == "storage_unavailable"
    assert events == ["put cat.jpg/_vf/w=200,fm=jpeg", "response sent"]
    assert variants(s3_with_photo) == []  # nothing half-written

    store.fail = False  # S3 is back: the next request makes and stores it
    again = TestClient(app).get("/cat.jpg?w=200&fm=jpeg")
    assert again.status_code == 200
    assert pyvips.Image.new_from_buffer(again.content, "").width == 200
    assert variants(s3_with_photo) == ["cat.jpg/_vf/w=200,fm=jpeg"]


def test_the_too_big_redirect_stores_before_it_answers(s3_with_photo: Any) -> None:
    """The 307 points at the stored copy, so that copy is there before the viewer follows it."""
    events: list[str] = []
    app = create_app(Settings(payload_limit=4096), WatchedStore(s3_with_photo, events))
    status, headers, _ = call(app, "/cat.jpg", "w=1200&fm=png", events)
    assert status == 307
    assert events == ["put cat.jpg/_vf/w=1200,fm=png", "response sent"]
    assert variants(s3_with_photo) == ["cat.jpg/_vf/w=1200,fm=png"]


def test_importing_the_handler_loads_no_framework_sdk_or_engine() -> None:
    """The Lambda's init imports what every request needs first; the rest waits for the first one."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'functions' / 'transform')!r})\n"
        "import handler\n"
        "heavy = ('fastapi', 'fastapi.openapi.models', 'starlette', 'mangum', 'boto3', 's3transfer',\n"
        "         'aws_xray_sdk', 'pyvips', 'vipsfront.engine.run', 'vipsfront.web.app', 'vipsfront.web.demo')\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    env.update(AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
