"""Origin against origin (``vipsfront_bench.origins``): vipsfront is one instance of the transform
Lambda's handler as deployed, on moto. No timing is asserted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pyvips

from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET
from vipsfront_bench import origins, services
from vipsfront_bench.images import photo_jpeg
from vipsfront_bench.load import Client
from vipsfront_bench.scenarios import CENTRED_OPS, OPS

pytestmark = pytest.mark.e2e
KEY = "lfl/0/photos/a photo.jpg"
OP = next(op for op in CENTRED_OPS if op.id == "photo-400-jpeg")


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[services.S3Server, Any]]:
    pytest.importorskip("psutil")
    pytest.importorskip("mangum")
    with services.S3Server() as server:
        client = server.client()
        for bucket in (DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET):
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=DEFAULT_ORIGINALS_BUCKET, Key=KEY, Body=photo_jpeg(1600, 1000))
        yield server, client


def is_400w_jpeg(data: bytes) -> None:
    image = pyvips.Image.new_from_buffer(data, "")
    assert (image.width, image.height) == (400, 250)
    assert image.get("vips-loader") == "jpegload_buffer"


def test_the_instance_transforms_every_request_and_its_hit_is_the_stored_variant(
    s3: tuple[services.S3Server, Any],
) -> None:
    server, client = s3
    running = origins.start("vipsfront", None, server, memory_mb=1769)
    http = Client(running.base)
    try:
        path = running.path(KEY, OP)
        assert path.startswith("/lfl/0/photos/a") and "/_vf/" in path and "?" not in path  # what CloudFront forwards
        bodies = []
        for _ in range(2):  # the same URL again is still a transform: nothing looks the variant up
            reply = http.get(path)
            assert reply.status == 200, reply.body[:200]
            assert reply.headers["x-vipsfront-variant"] == "miss"
            timing = reply.server_timing()
            assert "s3-variant" not in timing
            assert {"s3-read", "transform", "s3-write"} <= set(timing)  # stored before it answered
            is_400w_jpeg(reply.body)
            bodies.append(reply.body)
        assert running.stored_hit is not None
        stored = running.stored_hit(KEY, OP)
        variant_key = origins.routed(KEY, OP).variant_key
        assert stored == client.get_object(Bucket=DEFAULT_VARIANTS_BUCKET, Key=variant_key)["Body"].read()
        assert stored == bodies[-1]
    finally:
        http.close()
        services.stop(running.process)


def test_every_origin_crops_at_the_centre_while_the_engine_rows_keep_attention() -> None:
    crops = [op for op in CENTRED_OPS if op.height]
    assert crops and all(op.position == "center" and "pos=center" in op.query() for op in crops)
    assert all("attention" not in op.id + op.label for op in CENTRED_OPS)
    assert [op.id for op in OPS if op.position == "attention"] == ["photo-cover-attention"]
    assert len(CENTRED_OPS) == len(OPS)


def test_the_origins_take_turns_each_first_as_often() -> None:
    names = ["a", "b", "c"]
    runnings = [origins.Running(name, None, "", lambda key, op: op.sample_path(key)) for name in names]
    orders = [[r.name for r in origins.turns(runnings, turn)] for turn in range(6)]
    assert all(sorted(order) == names for order in orders)
    assert [order[0] for order in orders] == ["a", "b", "c", "a", "b", "c"]
