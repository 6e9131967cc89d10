"""The lifecycle Lambda: originals' S3 events from a queue and the backfill's batches, to ``vipsfront.lifecycle``.

Two event shapes reach it (``tests/fixtures/aws/`` holds AWS's own examples of each):

* SQS (``{"Records": [...]}``), each message an EventBridge event from the originals bucket
  (``"detail-type": "Object Created"`` or ``"Object Deleted"``, ``detail.object.key`` not URL-encoded).
  All keys of a batch are purged together (one invalidation plan), then the created ones ingested. The
  answer lists the messages of the keys that failed in ``batchItemFailures`` (the event source mapping
  has ``ReportBatchItemFailures``), so only those are retried, and after the queue's ``maxReceiveCount``
  they end in the dead-letter queue with their key. A message that is not such an event is logged with
  its id and reported alone; its neighbours go on.
  An ``Object Deleted`` event with ``deletion-type`` ``Permanently Deleted`` and a ``version-id`` may be
  about an old version (a noncurrent version expiring): it purges only when the deleted ETag is the
  version the info document was made from (or when there is no info document to tell).
* The backfill's Distributed Map with an item batcher (``{"Items": [{"Key", "Etag", "LastModified",
  "Size", ...}], "BatchInput": {...}}``: items from an S3 listing, ``Etag`` quoted as S3 writes it).
  Originals whose info document is at their version are skipped; the answer holds a result per key. An
  item without a key is failed alone. If any key failed, after every other key is done, the invocation
  raises ``BackfillBatchError`` naming them, so the map counts the batch against its tolerated failures
  and its result writer keeps the keys and reasons.

An event of neither shape is logged with the invocation's request id and raised as ``MalformedEventError``:
its one item, the invocation, fails. The time left in the invocation bounds CloudFront's retries, so a
throttled purge is reported before Lambda's timeout would fail the whole batch.

Everything is built once per execution environment, at import.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vipsfront.config.settings import Settings
from vipsfront.lifecycle.changes import Change, KeyResult, Kind, Lifecycle, Status, summarise
from vipsfront.observability import logger
from vipsfront.stores.base import ListedOriginal

KINDS = {"Object Created": Kind.CREATED, "Object Deleted": Kind.DELETED}
PERMANENTLY_DELETED = "Permanently Deleted"  # S3's deletion-type for a version deleted for good
REPORT_MARGIN_S = 10.0  # stop retrying CloudFront this long before Lambda's timeout, to answer in time


class BackfillBatchError(Exception):
    """Some originals of a backfill batch failed (storage, time); the message names them."""


class MalformedEventError(ValueError):
    """An event that is neither an SQS batch nor a backfill batch."""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def change_of(body: str) -> tuple[Change, str | None]:
    """The change an SQS message body (an EventBridge S3 event) describes, and the ETag of the version
    it permanently deleted when it names one (``None`` otherwise); ``ValueError`` if it is no such event."""
    event = json.loads(body)
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    kind = KINDS.get(str(event.get("detail-type", "")))
    detail = _mapping(event.get("detail"))
    obj = _mapping(detail.get("object"))
    if event.get("source") != "aws.s3" or kind is None or not isinstance(obj.get("key"), str) or not obj["key"]:
        raise ValueError(f"not an S3 Object Created/Deleted event: {str(event.get('detail-type'))[:60]!r}")
    revision = obj.get("etag") or obj.get("version-id") or obj.get("sequencer") or event.get("id") or ""
    permanent = kind is Kind.DELETED and detail.get("deletion-type") == PERMANENTLY_DELETED
    deleted_etag = str(obj["etag"]) if permanent and obj.get("version-id") and obj.get("etag") else None
    return Change(obj["key"], kind, str(revision)), deleted_etag


def handle_sqs(lifecycle: Lifecycle, records: list[Any], *, deadline: float | None = None) -> dict[str, Any]:
    changes: dict[str, Change] = {}  # message id -> change
    failures: list[dict[str, str]] = []
    skipped: list[KeyResult] = []
    for index, record in enumerate(records):
        message_id = str(record.get("messageId", f"record-{index}")) if isinstance(record, dict) else f"record-{index}"
        try:
            change, deleted_etag = change_of(record["body"])
            if deleted_etag is not None and lifecycle.is_old_version(change.key, deleted_etag):
                old = ListedOriginal(change.key, deleted_etag)
                skipped.append(KeyResult(change.key, Status.SKIPPED, old.version))
                continue
            changes[message_id] = change
        except Exception as error:  # anything unreadable fails this message alone
            reason = f"{type(error).__name__}: {error}"
            logger.error("unreadable lifecycle message", message_id=message_id, error=reason)
            failures.append({"itemIdentifier": message_id})
    results = lifecycle.apply(changes.values(), deadline=deadline) if changes else []
    failed = {r.key for r in results if r.status is Status.FAILED}
    failures += [{"itemIdentifier": mid} for mid, change in changes.items() if change.key in failed]
    logger.info("lifecycle batch", **summarise(results + skipped))
    return {"batchItemFailures": failures}


def listed(item: Any) -> ListedOriginal:
    """One Distributed Map item from an S3 listing (``Etag``, quoted, as Step Functions writes it; boto3's
    ``ETag`` too); ``ValueError`` without a key."""
    if not isinstance(item, dict) or not isinstance(item.get("Key"), str) or not item["Key"]:
        raise ValueError("an item without a Key")
    return ListedOriginal(item["Key"], str(item.get("Etag") or item.get("ETag") or ""), int(item.get("Size") or 0))


def handle_batch(lifecycle: Lifecycle, items: list[Any]) -> dict[str, Any]:
    originals: list[ListedOriginal] = []
    unreadable: list[KeyResult] = []
    for index, item in enumerate(items):
        try:
            originals.append(listed(item))
        except (ValueError, TypeError) as error:
            logger.error("unreadable backfill item", item=index, error=str(error))
            error_doc = {"error": str(error), "code": "malformed_event", "param": None}
            unreadable.append(KeyResult(f"item-{index}", Status.FAILED, error=error_doc))
    results = lifecycle.backfill(originals) + unreadable
    summary = summarise(results)
    logger.info("backfill batch", **summary)
    failed = [r.to_dict() for r in results if r.status is Status.FAILED]
    if failed:
        raise BackfillBatchError(json.dumps({"failed": failed})[:30000])
    return {"results": [r.to_dict() for r in results], "counts": summary["counts"]}


lifecycle = Lifecycle.from_settings(Settings.load())


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - REPORT_MARGIN_S
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return handle_sqs(lifecycle, event["Records"], deadline=deadline)
    if isinstance(event, dict) and isinstance(event.get("Items"), list):
        return handle_batch(lifecycle, event["Items"])
    shape = sorted(event)[:10] if isinstance(event, dict) else type(event).__name__
    logger.error("malformed lifecycle event", request_id=context.aws_request_id, shape=shape)
    raise MalformedEventError(f"expected an SQS batch (Records) or a backfill batch (Items), got {shape}")
