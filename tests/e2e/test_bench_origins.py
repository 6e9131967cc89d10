"""The origin-against-origin rows of ``vipsfront bench`` (``vipsfront_bench.origins``): vipsfront with its
variant lookup, and vipsfront as deployed behind CloudFront, each served by ``vipsfront serve`` on moto.
No timing is asserted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import pyvips
from helpers import photo_jpeg

from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET
from vipsfront.url.route import route
from vipsfront.url.keys import encode_key
from vipsfront.cli.embedded_s3 import ensure_bucket, upload
from vipsfront.url.policy import Policy
from vipsfront_bench import origins, services
from vipsfront_bench.load import Client
from vipsfront_bench.scenarios import OPS

pytestmark = pytest.mark.e2e
KEY = "lfl/0/photos/a photo.jpg"
OP = next(op for op in origins.OPS if op.id == "photo-400-jpeg")


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[services.S3Server, Any]]:
    pytest.importorskip("psutil")
    with services.S3Server() as server:
        client = server.client()
        for bucket in (DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET, origins.DEPLOYED_BUCKET):
            ensure_bucket(client, bucket)
        upload(client, DEFAULT_ORIGINALS_BUCKET, {KEY: photo_jpeg(1600, 1000)})
        yield server, client


def _running(name: str, server: services.S3Server) -> origins.Running:
    return origins.start(name, None, server, workers=1)


def _is_400w_jpeg(data: bytes) -> None:
    image = pyvips.Image.new_from_buffer(data, "")
    assert (image.width, image.height) == (400, 250)
    assert image.get("vips-loader") == "jpegload_buffer"


def test_the_deployed_origin_transforms_every_request_and_its_hit_is_the_stored_variant(
    s3: tuple[services.S3Server, Any],
) -> None:
    server, client = s3
    running = _running(origins.DEPLOYED, server)
    http = Client(running.base)
    try:
        path = running.path(KEY, OP)
        assert path.startswith(f"/{encode_key(KEY)}/_vf/") and "?" not in path  # what CloudFront forwards
        bodies = []
        for _ in range(2):  # the same URL again is still a transform: nothing looks the variant up
            reply = http.get(path)
            assert reply.status == 200, reply.body[:200]
            assert reply.headers["x-vipsfront-variant"] == "miss"
            timing = reply.server_timing()
            assert "s3-variant" not in timing
            assert {"s3-read", "transform", "s3-write"} <= set(timing)  # stored before it answered
            _is_400w_jpeg(reply.body)
            bodies.append(reply.body)
        assert running.stored_hit is not None
        stored = running.stored_hit(KEY, OP)
        variant_key = route(f"/{encode_key(KEY)}", OP.query(), "*/*", Policy.create(), now=time.time()).variant_key
        assert stored == client.get_object(Bucket=origins.DEPLOYED_BUCKET, Key=variant_key)["Body"].read()
        assert stored == bodies[-1]
    finally:
        http.close()
        services.stop(running.process)


def test_the_lookup_origin_answers_the_second_request_from_its_stored_variant(
    s3: tuple[services.S3Server, Any],
) -> None:
    server, client = s3
    key = "lfl/1/photos/a photo.jpg"
    upload(client, DEFAULT_ORIGINALS_BUCKET, {key: photo_jpeg(1600, 1000)})
    running = _running("vipsfront", server)
    http = Client(running.base)
    try:
        assert running.stored_hit is None
        first = http.get(running.path(key, OP))
        assert first.headers["x-vipsfront-variant"] == "miss" and "s3-variant" in first.server_timing()
        _is_400w_jpeg(first.body)
        for _ in range(100):  # serve stores a miss after its response
            second = http.get(running.path(key, OP))
            if second.headers["x-vipsfront-variant"] == "hit":
                break
        assert second.headers["x-vipsfront-variant"] == "hit"
        assert second.body == first.body
    finally:
        http.close()
        services.stop(running.process)


def test_every_origin_crops_at_the_centre_while_the_engine_rows_keep_attention() -> None:
    crops = [op for op in origins.OPS if op.height]
    assert crops and all(op.position == "center" and "pos=center" in op.query() for op in crops)
    assert all("attention" not in op.id + op.label for op in origins.OPS)
    assert [op.id for op in OPS if op.position == "attention"] == ["photo-cover-attention"]
    assert len(origins.OPS) == len(OPS)


def test_the_origins_take_turns_each_first_as_often() -> None:
    names = ["a", "b", "c"]
    runnings = [origins.Running(name, None, "", origins.sample_path) for name in names]  # type: ignore[arg-type]
    orders = [[r.name for r in origins._turns(runnings, turn)] for turn in range(6)]
    assert all(sorted(order) == names for order in orders)
    assert [order[0] for order in orders] == ["a", "b", "c", "a", "b", "c"]
