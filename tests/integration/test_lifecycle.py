"""The life of an original on moto (S3, CloudFront, SQS): purge on change, ingest, backfill, the Lambda shell."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import pyvips
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from hostile_images import png_bomb, truncated
from lambda_events import FakeLambdaContext, aws_fixture

from vipsfront.config.settings import Settings
from vipsfront.lifecycle.changes import Change, Kind, Lifecycle, Status
from vipsfront.lifecycle.cloudfront import CloudFrontInvalidator
from vipsfront.lifecycle.invalidation import RetryPolicy
from vipsfront.stores.base import ListedOriginal
from vipsfront.stores.s3 import S3Store
from vipsfront.url.version import version_token
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
KEY = "photos/cat.jpg"
PRESETS = '{"thumb": {"w": "64", "h": "64", "fm": "auto"}, "card": {"w": "120", "fm": "webp"}}'


def solid(rgb: tuple[int, int, int], width: int = 320, height: int = 200) -> bytes:
    image = (pyvips.Image.black(width, height, bands=3) + list(rgb)).cast("uchar").copy(interpretation="srgb")
    return bytes(image.jpegsave_buffer(Q=95))


def mean_rgb(data: bytes) -> tuple[float, ...]:
    image = pyvips.Image.new_from_buffer(data, "")
    return tuple(image.extract_band(b).avg() for b in range(3))


def close(a: tuple[float, ...], b: tuple[int, ...], tol: float = 8) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


class World:
    """Both buckets and a distribution on moto, the app, and a lifecycle that invalidates it."""

    def __init__(self, s3: Any, env: dict[str, str] | None = None) -> None:
        self.s3 = s3
        self.cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        self.distribution = _distribution(self.cloudfront)
        base = {"VIPSFRONT_DISTRIBUTION_ID": self.distribution, "VIPSFRONT_PRESETS": PRESETS, **(env or {})}
        self.settings = Settings.from_env(base)
        self.store = S3Store(s3, ORIGINALS, VARIANTS)
        invalidator = CloudFrontInvalidator(self.cloudfront, self.distribution, sleep=lambda s: None)
        self.lifecycle = Lifecycle(self.settings, self.store, invalidator)
        self.client = TestClient(create_app(self.settings, self.store))

    def put(self, key: str, data: bytes) -> str:
        return str(self.s3.put_object(Bucket=ORIGINALS, Key=key, Body=data)["ETag"])

    def variants(self, key: str = KEY) -> list[str]:
        return self.store.list_variants(key)

    def invalidated(self) -> list[set[str]]:
        cf, dist = self.cloudfront, self.distribution
        items = cf.list_invalidations(DistributionId=dist)["InvalidationList"].get("Items", [])
        return [
            set(
                cf.get_invalidation(DistributionId=dist, Id=i["Id"])["Invalidation"]["InvalidationBatch"]["Paths"][
                    "Items"
                ]
            )
            for i in items
        ]


def _distribution(client: Any) -> str:
    answer = client.create_distribution(
        DistributionConfig={
            "CallerReference": "vipsfront-lifecycle-test",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "v",
                        "DomainName": f"{VARIANTS}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "v", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )
    return str(answer["Distribution"]["Id"])


@pytest.fixture
def world(s3: Any) -> World:
    return World(s3)


def test_replace_purges_and_the_next_request_has_the_new_pixels(world: World) -> None:
    world.put(KEY, solid((200, 30, 30)))
    first = world.client.get(f"/{KEY}?w=100")
    assert first.status_code == 200 and close(mean_rgb(first.content), (200, 30, 30))
    assert first.headers["cache-control"] == "public, max-age=3600, s-maxage=604800"
    world.client.get(f"/{KEY}?w=50&fm=webp")
    old = set(world.variants())
    assert f"{KEY}/_vf/w=100" in old and f"{KEY}/_vf/w=50,fm=webp" in old

    etag = world.put(KEY, solid((30, 30, 200)))
    [result] = world.lifecycle.apply([Change(KEY, Kind.CREATED, etag)])

    assert result.status is Status.INGESTED and result.variants_deleted == len(old)
    assert not old & set(world.variants()) - {f"{KEY}/_vf/info.json"}  # the old variants are gone
    [paths] = world.invalidated()
    assert paths == {f"/{KEY}/_vf/w=100", f"/{KEY}/_vf/w=50,fm=webp", f"/{KEY}/_vf/info"}
    # the same event again (a redelivery): nothing old is left, so only the info path is invalidated again
    [redelivered] = world.lifecycle.apply([Change(KEY, Kind.CREATED, etag)])
    assert redelivered.status is Status.INGESTED
    assert sorted(world.invalidated(), key=len)[0] == {f"/{KEY}/_vf/info"}
    again = world.client.get(f"/{KEY}?w=100")
    assert again.headers["x-vipsfront-variant"] == "miss"
    assert close(mean_rgb(again.content), (30, 30, 200))


def test_versioned_urls(world: World) -> None:
    etag = world.put(KEY, solid((10, 160, 10)))
    version = world.client.get(f"/_vf/info/{KEY}").json()["version"]
    assert version == version_token(etag=etag)
    ok = world.client.get(f"/{KEY}?w=80&v={version}")
    assert ok.status_code == 200 and ok.headers["cache-control"] == "public, max-age=31536000, immutable"
    head = world.s3.head_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/w=80,v={version}")
    assert head["CacheControl"] == "public, max-age=31536000, immutable"  # what S3-first serves
    stale = world.client.get(f"/{KEY}?w=80&v=notTheVersion", follow_redirects=False)
    assert stale.status_code == 302  # to the current version (tests/integration/test_versions.py)
    assert stale.headers["location"] == f"/{KEY}?w=80&v={version}"
    assert f"{KEY}/_vf/w=80,v=notTheVersion" not in world.variants()  # nothing was made for it
    original = world.client.get(f"/{KEY}?v={version}")
    assert original.status_code == 200 and close(mean_rgb(original.content), (10, 160, 10))


def test_delete_purges_and_answers_404(world: World) -> None:
    world.put(KEY, solid((90, 90, 90)))
    world.client.get(f"/{KEY}?w=100")
    world.client.get(f"/_vf/info/{KEY}")
    world.s3.delete_object(Bucket=ORIGINALS, Key=KEY)
    [result] = world.lifecycle.apply([Change(KEY, Kind.DELETED, "seq-1")])
    assert result.status is Status.PURGED and result.variants_deleted == 2
    assert world.variants() == []
    assert world.client.get(f"/{KEY}?w=100").status_code == 404
    assert world.client.get(f"/_vf/info/{KEY}").status_code == 404


def test_ingest_writes_the_info_document_and_eager_presets(s3: Any) -> None:
    world = World(s3, {"VIPSFRONT_EAGER_PRESETS": "thumb,card"})
    etag = world.put(KEY, solid((250, 200, 0)))
    [result] = world.lifecycle.apply([Change(KEY, Kind.CREATED, etag)])
    version = version_token(etag=etag)
    stored = set(world.variants())
    for canonical in (
        "w=64,h=64,fm=auto",
        "w=64,h=64,fm=auto-webp",
        "w=64,h=64,fm=auto-avif",
        "w=64,h=64,fm=auto-avif-webp",
        "w=120,fm=webp",
    ):
        assert f"{KEY}/_vf/{canonical}" in stored and f"{KEY}/_vf/{canonical},v={version}" in stored
    assert result.eager == 10
    avif = world.s3.get_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/w=64,h=64,fm=auto-avif-webp")
    image = pyvips.Image.new_from_buffer(avif["Body"].read(), "")
    assert (image.width, image.height, image.get("vips-loader")) == (64, 64, "heifload_buffer")
    document = json.loads(world.s3.get_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/info.json")["Body"].read())
    assert document["version"] == version and document["width"] == 320
    assert len(document["metadata"]["phash"]) == 16 and "gps" not in document["metadata"]
    hit = world.client.get(f"/{KEY}?p=card")  # the first viewer finds it made
    assert hit.headers["x-vipsfront-variant"] == "hit"


def test_a_bad_upload_is_recorded_not_retried(world: World) -> None:
    etag = world.put("bad/broken.jpg", truncated(solid((1, 2, 3))))
    [result] = world.lifecycle.apply([Change("bad/broken.jpg", Kind.CREATED, etag)])
    assert result.status is Status.REJECTED and result.error is not None
    document = json.loads(world.s3.get_object(Bucket=VARIANTS, Key="bad/broken.jpg/_vf/info.json")["Body"].read())
    assert document["error"]["code"] == result.error["code"] and document["version"] == version_token(etag=etag)
    info = world.client.get("/_vf/info/bad/broken.jpg")
    assert info.status_code == 422 and info.json()["code"] == result.error["code"] == "undecodable_image"


def test_throttled_invalidation_is_retried(world: World) -> None:
    calls = {"n": 0}
    real = world.cloudfront.create_invalidation

    def throttled(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ClientError(
                {"Error": {"Code": "TooManyInvalidationsInProgress", "Message": "wait"}}, "CreateInvalidation"
            )
        return real(**kwargs)

    world.cloudfront.create_invalidation = throttled  # type: ignore[method-assign]
    world.put(KEY, solid((5, 5, 5)))
    [result] = world.lifecycle.apply([Change(KEY, Kind.DELETED, "seq")])
    assert result.status is Status.PURGED and len(world.invalidated()) == 1  # after two throttled attempts


def test_invalidation_that_keeps_failing_fails_the_key(world: World) -> None:
    def refused(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "TooManyInvalidationsInProgress", "Message": "wait"}}, "CreateInvalidation"
        )

    world.cloudfront.create_invalidation = refused  # type: ignore[method-assign]
    world.lifecycle.invalidator = CloudFrontInvalidator(
        world.cloudfront, world.distribution, retry=RetryPolicy(attempts=2), sleep=lambda s: None
    )
    [result] = world.lifecycle.apply([Change(KEY, Kind.DELETED, "seq")])
    assert result.status is Status.FAILED and result.error is not None
    assert result.error["code"] == "invalidation_throttled"


def test_backfill_with_hostile_files_then_skips_everything(world: World) -> None:
    world.put("a/one.jpg", solid((10, 20, 30)))
    world.put("a/two.jpg", solid((40, 50, 60)))
    world.put("a/bomb.png", png_bomb())
    world.put("a/text.jpg", b"not an image at all")
    listed = list(world.store.scan_originals("a/"))
    results = {r.key: r for r in world.lifecycle.backfill(listed)}
    assert {k: r.status for k, r in results.items()} == {
        "a/one.jpg": Status.INGESTED,
        "a/two.jpg": Status.INGESTED,
        "a/bomb.png": Status.REJECTED,
        "a/text.jpg": Status.REJECTED,
    }
    assert results["a/bomb.png"].error["code"] == "input_too_large"  # type: ignore[index]
    again = world.lifecycle.backfill(world.store.scan_originals("a/"))
    assert {r.status for r in again} == {Status.SKIPPED}
    world.put("a/one.jpg", solid((200, 200, 200)))  # a changed original is done again
    third = {r.key: r.status for r in world.lifecycle.backfill(world.store.scan_originals("a/"))}
    assert third["a/one.jpg"] is Status.INGESTED and third["a/two.jpg"] is Status.SKIPPED


# -- the Lambda shell: SQS events in, partial batch failures out -----------------------------------------


def _event(kind: str, key: str, etag: str = "e1") -> str:
    return json.dumps(
        {
            "source": "aws.s3",
            "detail-type": kind,
            "detail": {"bucket": {"name": ORIGINALS}, "object": {"key": key, "etag": etag, "sequencer": "0A1"}},
        }
    )


@pytest.fixture
def handler_module(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.syspath_prepend(str(root))
    sys.modules.pop("functions.lifecycle.handler", None)
    import functions.lifecycle.handler as module

    yield module
    sys.modules.pop("functions.lifecycle.handler", None)


def test_sqs_batch_reports_only_failed_keys(s3: Any, handler_module: Any) -> None:
    world = World(s3)
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="lifecycle")["QueueUrl"]
    world.put(KEY, solid((0, 0, 0)))
    world.put("bad.jpg", b"garbage")
    for body in (
        _event("Object Created", KEY),
        _event("Object Created", "bad.jpg"),
        _event("Object Deleted", "gone.jpg"),
        "{}",
    ):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
    by_body = {r["body"]: r["messageId"] for r in records}

    class Broken(S3Store):
        def list_variants(self, key: str) -> list[str]:
            if key == "gone.jpg":
                from vipsfront.errors import StorageUnavailableError

                raise StorageUnavailableError("storage is unavailable, try again")
            return super().list_variants(key)

    lifecycle = Lifecycle(world.settings, Broken(s3, ORIGINALS, VARIANTS), world.lifecycle.invalidator)
    answer = handler_module.handle_sqs(lifecycle, records)
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    # the storage failure and the unreadable message are retried (then dead-lettered); the bad image is not
    assert failed == {by_body[_event("Object Deleted", "gone.jpg")], by_body["{}"]}
    assert world.s3.get_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/info.json")  # the good one was ingested


def test_backfill_batch_event_shape(s3: Any, handler_module: Any) -> None:
    world = World(s3)
    etag = world.put(KEY, solid((0, 90, 0)))
    event_items = [{"Key": KEY, "ETag": etag, "Size": 10, "StorageClass": "STANDARD"}]
    answer = handler_module.handle_batch(world.lifecycle, event_items)
    assert answer["counts"]["ingested"] == 1
    assert handler_module.handle_batch(world.lifecycle, event_items)["counts"]["skipped"] == 1
    assert [r.status for r in world.lifecycle.backfill([ListedOriginal(KEY, etag)])] == [Status.SKIPPED]


# -- the shapes AWS sends (tests/fixtures/aws/) -----------------------------------------------------------


def s3_event(name: str, key: str, etag: str, version_id: str | None = None, **detail: str) -> str:
    """AWS's documented EventBridge S3 event ``name``, about ``key`` in the originals bucket."""
    event = aws_fixture(name)
    event["detail"]["bucket"]["name"] = ORIGINALS
    event["detail"]["object"].update({"key": key, "etag": etag.strip('"')})
    if version_id is not None:
        event["detail"]["object"]["version-id"] = version_id
    event["detail"].update(detail)
    return json.dumps(event)


def sqs_records(*bodies: str) -> list[dict[str, Any]]:
    """An SQS batch as Lambda delivers it (AWS's example record), one record per body."""
    template = aws_fixture("sqs_event")["Records"][0]
    return [{**template, "messageId": f"message-{i}", "body": body} for i, body in enumerate(bodies)]


def test_sqs_batch_as_aws_sends_it_ingests_and_fails_only_the_unreadable(s3: Any, handler_module: Any) -> None:
    world = World(s3, {"VIPSFRONT_EAGER_PRESETS": "card"})
    etag = world.put(KEY, solid((0, 0, 200)))
    records = sqs_records(s3_event("s3_object_created", KEY, etag), "test", json.dumps({"source": "aws.s3"}))
    del records[2]["body"]  # a record without a body

    answer = handler_module.handle_sqs(world.lifecycle, records)

    assert answer.keys() == aws_fixture("sqs_batch_response").keys()
    assert [f.keys() for f in answer["batchItemFailures"]] == [{"itemIdentifier"}] * 2
    assert {f["itemIdentifier"] for f in answer["batchItemFailures"]} == {"message-1", "message-2"}
    variant = world.s3.get_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/w=120,fm=webp")["Body"].read()
    assert close(mean_rgb(variant), (0, 0, 200))  # the eager preset, made and decodable


def test_object_deleted_as_aws_sends_it_purges(s3: Any, handler_module: Any) -> None:
    world = World(s3)
    etag = world.put(KEY, solid((9, 9, 9)))
    handler_module.handle_sqs(world.lifecycle, sqs_records(s3_event("s3_object_created", KEY, etag)))
    assert world.variants()
    world.s3.delete_object(Bucket=ORIGINALS, Key=KEY)

    answer = handler_module.handle_sqs(world.lifecycle, sqs_records(s3_event("s3_object_deleted", KEY, etag)))

    assert answer == {"batchItemFailures": []}
    assert world.variants() == []


def test_an_old_version_expiring_keeps_the_current_original(s3: Any, handler_module: Any) -> None:
    s3.put_bucket_versioning(Bucket=ORIGINALS, VersioningConfiguration={"Status": "Enabled"})
    world = World(s3)
    old = s3.put_object(Bucket=ORIGINALS, Key=KEY, Body=solid((200, 0, 0)))
    new = s3.put_object(Bucket=ORIGINALS, Key=KEY, Body=solid((0, 200, 0)))
    handler_module.handle_sqs(world.lifecycle, sqs_records(s3_event("s3_object_created", KEY, new["ETag"])))
    current = set(world.variants())
    invalidations = len(world.invalidated())
    s3.delete_object(Bucket=ORIGINALS, Key=KEY, VersionId=old["VersionId"])  # what noncurrent expiry does
    expired = s3_event(
        "s3_object_deleted_lifecycle", KEY, old["ETag"], old["VersionId"], **{"deletion-type": "Permanently Deleted"}
    )

    assert handler_module.handle_sqs(world.lifecycle, sqs_records(expired)) == {"batchItemFailures": []}
    assert set(world.variants()) == current and len(world.invalidated()) == invalidations

    # the current version deleted for good: the variants were made from it, so they go
    s3.delete_object(Bucket=ORIGINALS, Key=KEY, VersionId=new["VersionId"])
    gone = s3_event("s3_object_deleted", KEY, new["ETag"], new["VersionId"], **{"deletion-type": "Permanently Deleted"})
    handler_module.handle_sqs(world.lifecycle, sqs_records(gone))
    assert world.variants() == []


def test_backfill_batch_as_step_functions_sends_it(s3: Any, handler_module: Any) -> None:
    world = World(s3)
    etag = world.put(KEY, solid((0, 90, 0)))
    batch = aws_fixture("distributed_map_s3_batch")
    [item] = batch["Items"]
    item.update(Key=KEY, Etag=etag)  # S3's quoted ETag, as the Distributed Map writes it

    answer = handler_module.handle_batch(world.lifecycle, batch["Items"])

    assert answer["counts"]["ingested"] == 1
    document = json.loads(world.s3.get_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/info.json")["Body"].read())
    assert document["version"] == version_token(etag=etag)
    assert handler_module.handle_batch(world.lifecycle, batch["Items"])["counts"]["skipped"] == 1


def test_a_backfill_item_without_a_key_fails_alone(s3: Any, handler_module: Any) -> None:
    world = World(s3)
    etag = world.put(KEY, solid((0, 0, 90)))
    items = [{"Key": KEY, "Etag": etag, "Size": 10}, {"Etag": etag}]

    with pytest.raises(handler_module.BackfillBatchError, match="item-1"):
        handler_module.handle_batch(world.lifecycle, items)
    assert world.s3.head_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/info.json")  # its neighbour was ingested


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, {"detail-type": "Object Created"}, []])
def test_an_event_of_no_known_shape_fails_its_invocation(
    handler_module: Any, event: Any, caplog: pytest.LogCaptureFixture
) -> None:
    context = FakeLambdaContext(aws_request_id="request-42")
    with pytest.raises(handler_module.MalformedEventError):
        handler_module.handler(event, context)
    assert [getattr(r, "request_id", None) for r in caplog.records if r.levelname == "ERROR"] == ["request-42"]


def test_throttled_purge_stops_before_the_invocation_ends(world: World) -> None:
    def refused(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "TooManyInvalidationsInProgress", "Message": "wait"}}, "CreateInvalidation"
        )

    waited: list[float] = []
    world.cloudfront.create_invalidation = refused  # type: ignore[method-assign]
    world.lifecycle.invalidator = CloudFrontInvalidator(
        world.cloudfront,
        world.distribution,
        sleep=waited.append,
        rand=lambda: 0.5,  # no jitter
        clock=lambda: 100.0 + sum(waited),
    )
    # the first waits are 5 and 10 s: with 12 s left, one wait fits and the second would not
    [result] = world.lifecycle.apply([Change(KEY, Kind.DELETED, "seq")], deadline=112.0)
    assert result.status is Status.FAILED and result.error is not None
    assert result.error["code"] == "invalidation_throttled"
    assert waited == [5.0]


def test_an_eager_preset_too_large_for_an_original_is_skipped_not_failed(s3: Any) -> None:
    """A preset that would enlarge past the output limit is a viewer's 400 for that original: ingest makes
    the other presets and reports the original ingested, not failed (which would be retried for ever)."""
    presets = '{"thumb": {"w": "64", "h": "64", "fm": "auto"}, "huge": {"w": "400", "enlarge": "1"}}'
    world = World(
        s3, {"VIPSFRONT_PRESETS": presets, "VIPSFRONT_EAGER_PRESETS": "thumb,huge", "VIPSFRONT_MAX_OUTPUT_SIDE": "300"}
    )
    etag = world.put(KEY, solid((0, 90, 200)))
    [result] = world.lifecycle.apply([Change(KEY, Kind.CREATED, etag)])
    assert result.status is Status.INGESTED
    stored = world.variants()
    assert f"{KEY}/_vf/w=64,h=64,fm=auto-avif-webp" in stored
    assert not any("w=400" in key for key in stored)
    thumb = world.s3.get_object(Bucket=VARIANTS, Key=f"{KEY}/_vf/w=64,h=64,fm=auto-webp")["Body"].read()
    assert pyvips.Image.new_from_buffer(thumb, "").width == 64
