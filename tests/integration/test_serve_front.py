"""What ``vipsfront serve`` runs (``vipsfront.web.app.ServeFront``): image requests and the health check without
FastAPI, anything else by the origin app made at its first request; the same answers as ``create_app``."""

from __future__ import annotations

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

from vipsfront.web.app import ServeFront, create_app, image_requests
from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store

ROOT = Path(__file__).resolve().parents[2]
ORIGINALS, VARIANTS, VARIANTS_2 = "vipsfront-originals", "vipsfront-variants", "vipsfront-variants-2"
VOLATILE = {"server-timing", "date", "content-length"}

# A child process as a serve worker: the front on a store holding one photo, driven over ASGI by hand.
CHILD = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from helpers import photo_jpeg
from vipsfront.web.app import ServeFront, image_requests
from vipsfront.config.settings import Settings
from vipsfront.stores.base import Original

class Store:
    def get_original(self, key, max_bytes, *, deadline=None):
        return Original(photo_jpeg(800, 600), "image/jpeg", '"e"')
    def put_variant(self, key, data, **_):
        pass

async def call(app, method, path, query=b""):
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query,
             "headers": [], "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80), "http_version": "1.1"}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body

async def main():
    app = ServeFront(image_requests(Settings(variant_lookup=False), store=Store()))
    loaded = lambda: [name for name in ("fastapi", "pydantic") if name in sys.modules]
    image = await call(app, "GET", "/a.jpg", b"w=200&fm=png")
    health = await call(app, "GET", "/_vf/health")
    before = loaded()
    options = await call(app, "OPTIONS", "/a.jpg")
    print(json.dumps({"image": [image[0], image[1].hex()], "health": [health[0], health[1].decode()],
                      "before": before, "options": options[0], "after": loaded()}))

asyncio.run(main())
"""


def test_a_serve_worker_answers_images_and_health_without_fastapi() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "tests")], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    status, body = found["image"]
    image = pyvips.Image.new_from_buffer(bytes.fromhex(body), "")
    assert status == 200 and (image.width, image.height) == (200, 150)
    assert found["health"][0] == 200 and json.loads(found["health"][1])["status"] == "ok"
    assert found["before"] == []  # neither FastAPI nor pydantic for images and health
    assert found["options"] == 405 and found["after"] == ["fastapi", "pydantic"]  # then the origin app answers


REQUESTS = [
    ("GET", "/photos/cat.jpg?w=300&fm=webp"),
    ("GET", "/photos/cat.jpg?fm=webp&w=300"),  # the same variant: a hit
    ("HEAD", "/photos/cat.jpg?w=120&fm=jpeg"),
    ("GET", "/photos/cat.jpg?w=0"),
    ("GET", "/photos/none.jpg?w=100"),
    ("GET", "/_vf/health"),
    ("HEAD", "/_vf/health"),
    ("GET", "/_vf/info/photos/cat.jpg"),
    ("GET", "/_vf/nothing"),
    ("OPTIONS", "/photos/cat.jpg"),
    ("POST", "/photos/cat.jpg"),
]


def _answers(client: TestClient) -> list[tuple[int, dict[str, str], bytes]]:
    answers = []
    for method, path in REQUESTS:
        response = client.request(method, path)
        headers = {k: v for k, v in response.headers.items() if k not in VOLATILE}
        answers.append((response.status_code, headers, response.content))
    return answers


@pytest.mark.parametrize("demo", [False, True])
def test_the_front_answers_as_the_origin_app_does(s3: Any, demo: bool) -> None:
    s3.create_bucket(Bucket=VARIANTS_2)
    s3.put_object(Bucket=ORIGINALS, Key="photos/cat.jpg", Body=photo_jpeg(640, 480), ContentType="image/jpeg")
    settings = Settings(demo=demo)
    with TestClient(create_app(settings, S3Store(s3, ORIGINALS, VARIANTS))) as client:
        theirs = _answers(client)
    with TestClient(ServeFront(image_requests(settings, S3Store(s3, ORIGINALS, VARIANTS_2)))) as client:
        ours = _answers(client)
    assert [answer[0] for answer in ours] == [200, 200, 200, 400, 404, 200, 200, 200, 400, 405, 405]
    assert ours == theirs
    demo_page = TestClient(ServeFront(image_requests(settings, S3Store(s3, ORIGINALS, VARIANTS_2)))).get("/_vf/demo")
    assert demo_page.status_code == (200 if demo else 400)
    image = pyvips.Image.new_from_buffer(ours[0][2], "")
    assert (image.width, image.height) == (300, 225)
