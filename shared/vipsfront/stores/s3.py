"""``ImageStore`` on S3 (``vipsfront.stores.base`` holds the protocol): botocore's answers become the domain's errors.

How S3's answers map, so that only what is sure to be missing is cached as missing:

* ``NoSuchKey``: the bucket is there and the key is not: ``OriginalNotFoundError`` (404, cached like
  any client error); for a variant lookup, no variant (``None``).
* ``NoSuchBucket``, ``AccessDenied`` and any other 4xx: a deployment fault, not the viewer's:
  ``StorageError`` (502, ``no-store``). A HEAD's bare 404 carries no code (S3 sends no body), so it cannot
  tell a missing key from a missing bucket and is a 502 too. S3 answers ``AccessDenied`` instead of
  ``NoSuchKey`` when the caller may not list the bucket: the function's role needs ``s3:ListBucket`` on
  the originals bucket (the stack's ``grant_read`` gives it) for a missing original to be a 404.
* Throttling, ``RequestTimeout``, any 5xx, and connection errors or timeouts: ``StorageUnavailableError``
  (503, ``no-store``).
* No credentials, or half of them: ``StorageError`` naming what is missing and how to set it.

Each call takes the request's deadline (``time.monotonic()``) as an argument and ends by it: botocore's
bounded retries (standard mode, 3 retries, exponential backoff) never start an attempt after it, and a
call still waiting on S3 then is abandoned with a 503 (``storage_unavailable``; ``deadline_exceeded``
when the time was gone before the call), so a slow or hung S3 cannot outlast the request's budget
(connect and read timeouts alone would allow 4 attempts x 12 s per call, plus backoff).

A request's work as a whole (the app's hit or miss: S3 calls and transform) runs through ``run_by``: in
one worker thread, abandoned at the deadline, with its S3 calls made in that same thread (the bound is
the caller's, so no hand-off per call).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from vipsfront.errors import (
    DeadlineExceededError,
    InputTooLargeError,
    OriginalNotFoundError,
    StorageError,
    StorageUnavailableError,
)
from vipsfront.stores.base import ListedOriginal, Original, StoredVariant
from vipsfront.url.keys import variant_prefix

log = logging.getLogger(__name__)
T = TypeVar("T")
DELETE_BATCH = 1000  # keys per DeleteObjects, S3's maximum

# The deadline of the S3 call running in this context. Set only by ``_bounded``, inside the private
# context it runs one call in, for the ``before-send`` hook (botocore passes a hook nothing per call).
_CALL_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("vipsfront_s3_deadline", default=None)
_CALLS: concurrent.futures.ThreadPoolExecutor | None = None
# True inside ``run_by``'s worker thread: the caller gives up on the whole work at its deadline, so an S3
# call runs in the thread making it (the before-send hook still refuses attempts after the deadline).
_CALLER_BOUNDED: contextvars.ContextVar[bool] = contextvars.ContextVar("vipsfront_caller_bounded", default=False)
_WORK: concurrent.futures.ThreadPoolExecutor | None = None
# How long past its deadline ``run_by`` still waits for work that is not in an S3 call: it ends itself by
# the deadline (transform slots and the engine check it) with its own error, or is finishing its answer.
RUN_BY_GRACE_S = 0.25


def _out_of_time() -> StorageUnavailableError:
    return StorageUnavailableError("storage did not answer within the request's time, try again")


def _no_attempt_after_deadline(**_: Any) -> None:
    """botocore ``before-send`` hook: no first attempt or retry starts once the call's deadline has passed."""
    at = _CALL_DEADLINE.get()
    if at is not None and time.monotonic() >= at:
        raise _out_of_time()  # not retryable for botocore: it ends the call at once


def _bounded(call: Callable[[], T], deadline: float | None) -> T:
    """Run ``call`` (a whole S3 call, body read included), giving up on it at ``deadline``."""
    global _CALLS
    if deadline is None:
        return call()
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceededError("request ran out of time before reaching storage")
    if _CALLER_BOUNDED.get():
        token = _CALL_DEADLINE.set(deadline)
        try:
            return call()
        finally:
            _CALL_DEADLINE.reset(token)
    if _CALLS is None:
        _CALLS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="vipsfront-s3")
    context = contextvars.copy_context()
    context.run(_CALL_DEADLINE.set, deadline)
    future = _CALLS.submit(context.run, call)
    try:
        return future.result(timeout=remaining)
    except concurrent.futures.TimeoutError:
        # The abandoned call ends by itself: its next attempt is stopped by the hook above.
        raise _out_of_time() from None


async def run_by(deadline: float, work: Callable[[], T]) -> T:
    """Run ``work`` (blocking: S3 calls through an ``S3Store``, transforms) in a worker thread, giving up
    on it at ``deadline`` (``time.monotonic()``): one thread hand-off for a whole request.

    The work's S3 calls run in its own thread, each still given the deadline (no attempt starts after
    it). Work waiting on S3 at the deadline is abandoned then, with ``StorageUnavailableError``, as a
    ``_bounded`` call is; other work gets ``RUN_BY_GRACE_S`` more to answer (its own error, usually),
    then is abandoned with ``DeadlineExceededError``. Abandoned work ends by itself, its answer unread.
    """
    global _WORK
    if _WORK is None:
        _WORK = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="vipsfront-work")
    context = contextvars.copy_context()
    context.run(_CALLER_BOUNDED.set, True)
    future = asyncio.get_running_loop().run_in_executor(_WORK, context.run, work)
    done, _ = await asyncio.wait({future}, timeout=max(0.0, deadline - time.monotonic()))
    if not done and context.get(_CALL_DEADLINE) is None:
        done, _ = await asyncio.wait({future}, timeout=RUN_BY_GRACE_S)
    if future in done:
        return future.result()
    future.cancel()  # not started yet: it never will; started: it ends by itself
    if context.get(_CALL_DEADLINE) is not None:
        raise _out_of_time()
    raise DeadlineExceededError("request ran out of time")


NO_CREDENTIALS = "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
_NOT_FOUND = {"NoSuchKey"}
_UNAVAILABLE = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "ServiceUnavailable",
    "InternalError",
}


def _translate(error: Exception, what: str) -> Exception:
    """Map a botocore error to the domain error a client should see (see the module's docstring)."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _NOT_FOUND:
            return OriginalNotFoundError(f"{what} not found", param="key")
        if code in _UNAVAILABLE or status >= 500:
            return StorageUnavailableError("storage is unavailable, try again")
        return StorageError("storage failed")
    if isinstance(error, NoCredentialsError):  # a setup fault: retrying cannot help
        return StorageError(NO_CREDENTIALS)
    if isinstance(error, PartialCredentialsError):
        return StorageError(f"incomplete AWS credentials: {error.kwargs.get('cred_var')} is not set")
    if isinstance(error, BotoCoreError):  # connection refused, timeouts, ...
        return StorageUnavailableError("storage is unreachable, try again")
    return error


class S3Store:
    """``ImageStore`` on two S3 buckets through a boto3 client the caller builds (moto in tests)."""

    def __init__(self, client: Any, originals: str, variants: str) -> None:
        self.client = client
        self.originals = originals
        self.variants = variants
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is not None:
            events.register("before-send.s3", _no_attempt_after_deadline, unique_id="vipsfront-deadline")

    def get_original(self, key: str, max_bytes: int, *, deadline: float | None = None) -> Original:
        """The original, or ``InputTooLargeError`` if S3 says it is over ``max_bytes``.

        One GET: its ``Content-Length`` arrives before the body, so an oversized original is refused
        without downloading it and without a separate HEAD round trip.
        """

        def fetch() -> Original:
            obj = self.client.get_object(Bucket=self.originals, Key=key)
            if int(obj.get("ContentLength", 0)) > max_bytes:
                obj["Body"].close()
                raise InputTooLargeError(f"original is larger than {max_bytes} bytes", param="key")
            data = bytes(obj["Body"].read(max_bytes + 1))
            if len(data) > max_bytes:  # a store that did not say its length up front
                raise InputTooLargeError(f"original is larger than {max_bytes} bytes", param="key")
            return Original(data, obj.get("ContentType"), obj.get("ETag"), obj.get("VersionId"))

        try:
            return _bounded(fetch, deadline)  # one hand-off per call: the GET and its body read together
        except InputTooLargeError:
            raise
        except Exception as error:
            raise _translate(error, "original") from error

    def get_variant(self, key: str, *, deadline: float | None = None) -> StoredVariant | None:
        def fetch() -> StoredVariant:
            obj = self.client.get_object(Bucket=self.variants, Key=key)
            data = bytes(obj["Body"].read())
            content_type = obj.get("ContentType", "application/octet-stream")
            return StoredVariant(data, content_type, obj.get("Metadata", {}), obj.get("ETag"))

        try:
            return _bounded(fetch, deadline)
        except Exception as error:
            translated = _translate(error, "variant")
            if isinstance(translated, OriginalNotFoundError):
                return None
            raise translated from error

    def put_variant(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str,
        metadata: dict[str, str],
        deadline: float | None = None,
    ) -> None:
        # A single PutObject is atomic: readers see the whole variant or none of it (also when it is
        # abandoned at the deadline and completes later).
        try:
            _bounded(
                lambda: self.client.put_object(
                    Bucket=self.variants,
                    Key=key,
                    Body=data,
                    ContentType=content_type,
                    CacheControl=cache_control,
                    Metadata=metadata,
                ),
                deadline,
            )
        except Exception as error:
            raise _translate(error, "variant") from error

    def list_originals(self, prefix: str = "", limit: int = 100) -> list[str]:
        """Up to ``limit`` keys of originals under ``prefix``, in S3's (lexicographic) order."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(
                Bucket=self.originals, Prefix=prefix, PaginationConfig={"MaxItems": limit, "PageSize": min(limit, 1000)}
            ):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as error:
            raise _translate(error, "original") from error
        return keys[:limit]

    def list_variants(self, key: str) -> list[str]:
        """Every stored key under ``{key}/_vf/`` (variants and the info document), all pages."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.variants, Prefix=variant_prefix(key)):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as error:
            raise _translate(error, "variant") from error
        return keys

    def delete_variants(self, keys: Sequence[str]) -> int:
        """Delete ``keys`` from the variants bucket, 1,000 per ``DeleteObjects``; a key already gone counts
        as deleted (S3 does not tell). Any key S3 reports as failed raises ``StorageError`` naming it."""
        deleted = 0
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.variants, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except Exception as error:
                raise _translate(error, "variant") from error
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"could not delete {len(errors)} variants, first {first.get('Key')!r}: {first.get('Code')}"
                )
            deleted += len(batch)
        return deleted

    def scan_originals(self, prefix: str = "") -> Iterator[ListedOriginal]:
        """Every original under ``prefix`` with its ETag, page by page (1,000 a page)."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.originals, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ListedOriginal(item["Key"], item.get("ETag", ""), int(item.get("Size", 0)))
        except Exception as error:
            raise _translate(error, "original") from error


_SESSION: Any = None
_SESSION_LOCK = threading.Lock()  # botocore sessions are not thread-safe while they make clients


def s3_config(endpoint_url: str | None = None) -> Config:
    """The S3 client's configuration: short timeouts, bounded retries, path-style on an endpoint of its own."""
    return Config(
        connect_timeout=2,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=32,
        s3={"addressing_style": "path"} if endpoint_url else None,
    )


def s3_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    """An S3 client with short timeouts and bounded retries (standard mode, with backoff).

    Made with botocore itself: the same client boto3 makes, without importing boto3 and its transfer
    manager, which the Lambda's cold start would pay for and no request uses.
    """
    config = s3_config(endpoint_url)
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:  # one per process (as boto3's default session), so service models load once
            from botocore.session import get_session

            _SESSION = get_session()
        return _SESSION.create_client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
