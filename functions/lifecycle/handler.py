"""The lifecycle Lambda: originals' S3 events from a queue, and the backfill's batches, to ``vipsfront.lifecycle.changes``.

Two event shapes reach it:

* SQS (``{"Records": [...]}``), each message an EventBridge event from the originals bucket
  (``"detail-type": "Object Created"`` or ``"Object Deleted"``, ``detail.object.key`` not URL-encoded).
  All keys of a batch are purged together (one invalidation plan), then the created ones ingested. The
  answer lists the messages of the keys that failed in ``batchItemFailures`` (the event source mapping
  has ``ReportBatchItemFailures``), so only those are retried, and after the queue's ``maxReceiveCount``
  they end in the dead-letter queue with their key. A message that is not such an event is reported too.
* The backfill's Distributed Map with an item batcher (``{"Items": [{"Key", "ETag", ...}], "BatchInput":
  {...}}``, items from an S3 listing). Originals whose info document is at their version are skipped;
  the answer holds a result per key. If any key failed, after every other key is done, the invocation
  raises ``BackfillBatchError`` naming them, so the map counts the batch against its tolerated failures
  and its result writer keeps the keys and reasons.

Everything is built once per execution environment, at import.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vipsfront.config.settings import Settings
from vipsfront.lifecycle.changes import Change, Kind, Lifecycle, Status, summarise
from vipsfront.observability import logger
from vipsfront.stores.base import ListedOriginal

KINDS = {"Object Created": Kind.CREATED, "Object Deleted": Kind.DELETED}


class BackfillBatchError(Exception):
    """Some originals of a backfill batch failed (storage, time); the message names them."""


def change_of(body: str) -> Change:
    """The change an SQS message body (an EventBridge S3 event) describes; ``ValueError`` if none."""
    event = json.loads(body)
    kind = KINDS.get(event.get("detail-type", ""))
    obj = (event.get("detail") or {}).get("object") or {}
    if kind is None or not isinstance(obj.get("key"), str) or not obj["key"]:
        raise ValueError(f"not an S3 Object Created/Deleted event: {str(event.get('detail-type'))[:60]!r}")
    revision = obj.get("etag") or obj.get("version-id") or obj.get("sequencer") or event.get("id") or ""
    return Change(obj["key"], kind, str(revision))


def handle_sqs(lifecycle: Lifecycle, records: list[dict[str, Any]]) -> dict[str, Any]:
    changes: dict[str, Change] = {}  # message id -> change
    failures: list[dict[str, str]] = []
    for record in records:
        try:
            changes[record["messageId"]] = change_of(record["body"])
        except (ValueError, TypeError, KeyError) as error:
            logger.error("unreadable lifecycle message", message_id=record.get("messageId"), error=str(error))
            failures.append({"itemIdentifier": record.get("messageId", "")})
    results = lifecycle.apply(changes.values())
    failed = {r.key for r in results if r.status is Status.FAILED}
    failures += [{"itemIdentifier": mid} for mid, change in changes.items() if change.key in failed]
    logger.info("lifecycle batch", **summarise(results))
    return {"batchItemFailures": failures}


def handle_batch(lifecycle: Lifecycle, items: list[dict[str, Any]]) -> dict[str, Any]:
    listed = [ListedOriginal(str(item["Key"]), str(item.get("ETag", "")), int(item.get("Size", 0))) for item in items]
    results = lifecycle.backfill(listed)
    summary = summarise(results)
    logger.info("backfill batch", **summary)
    failed = [r.to_dict() for r in results if r.status is Status.FAILED]
    if failed:
        raise BackfillBatchError(json.dumps({"failed": failed})[:30000])
    return {"results": [r.to_dict() for r in results], "counts": summary["counts"]}


lifecycle = Lifecycle.from_settings(Settings.load())


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return handle_sqs(lifecycle, event["Records"])
    if "Items" in event:
        return handle_batch(lifecycle, event["Items"])
    raise ValueError("expected an SQS batch (Records) or a backfill batch (Items)")
