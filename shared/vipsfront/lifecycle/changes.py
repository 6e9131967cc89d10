"""The life of an original: purge what was made from it when it changes, ingest it when it arrives.

A shell around the pure pieces: ``invalidation.plan`` decides what CloudFront must forget, ``info``
makes the info document, the engine (through ``Origin``) makes the eager variants; this module reads and
writes through a ``LifecycleStore`` and submits the plan through an ``Invalidator``
(``cloudfront.CloudFrontInvalidator``). The Lambda shell (``functions/lifecycle/handler.py``), ``vipsfront
purge``, ``vipsfront backfill`` and the local server's change poller all run these same steps:

* ``Lifecycle.apply(changes)``: for originals created, replaced or deleted together: list each one's
  stored objects under ``{key}/_vf/``, delete them (1,000 per request), submit one invalidation plan
  for all of them (exact canonical paths, a wildcard per original when long), then ingest each original
  that was created. Deleting before invalidating means that CloudFront, once it forgets, can only find
  the new original's pixels.
* ``Lifecycle.ingest(key)``: read the original once; write its info document (metadata, placeholder,
  version) and the eager presets' variants (each in every format ``fm=auto`` can resolve to, under the
  unversioned and the versioned key). A hostile or broken original gets an info document holding its
  typed error: that is an outcome, not a failure, so nothing retries it forever.
* ``Lifecycle.backfill(items)``: ingest each listed original whose info document is not at its current
  version (so a second run skips everything).

Each result says ``failed`` only for what may succeed on a retry (storage, CloudFront, time): the
caller reports those keys (to SQS as batch item failures, on to the dead-letter queue), never drops them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from vipsfront.config.settings import Settings
from vipsfront.engine import info
from vipsfront.engine.plan import output_format
from vipsfront.errors import (
    InputTooLargeError,
    OriginalNotFoundError,
    OutputTooLargeError,
    UndecodableImageError,
    UnsupportedInputError,
    VipsfrontError,
)
from vipsfront.lifecycle.invalidation import InvalidationLimits, OriginalChange, plan
from vipsfront.origin.serving import Origin
from vipsfront.stores.base import LifecycleStore, ListedOriginal, Original
from vipsfront.telemetry import RequestRecord
from vipsfront.url.grammar import build
from vipsfront.url.keys import info_key, variant_key
from vipsfront.url.spec import Fm, Spec

__all__ = ["Change", "Kind", "KeyResult", "Lifecycle", "Status", "summarise"]

log = logging.getLogger(__name__)

# What a bad original is: recorded in its info document, never retried.
BAD_IMAGE = (UnsupportedInputError, UndecodableImageError, InputTooLargeError)
AUTO_FORMATS = (Fm.AUTO, Fm.AUTO_WEBP, Fm.AUTO_AVIF, Fm.AUTO_AVIF_WEBP)  # what fm=auto resolves to


class Kind(StrEnum):
    CREATED = "created"  # created or replaced
    DELETED = "deleted"


class Status(StrEnum):
    INGESTED = "ingested"  # info document and eager variants written
    REJECTED = "rejected"  # a bad original: its info document holds the typed error
    PURGED = "purged"  # deleted original: variants gone, CloudFront told
    GONE = "gone"  # created, but deleted again before it could be read
    SKIPPED = "skipped"  # backfill: the info document is already at this version
    FAILED = "failed"  # storage, CloudFront or time: a retry may succeed


@dataclass(frozen=True, slots=True)
class Change:
    """One event about an original. ``revision`` names it (ETag, VersionId or the event's sequencer), so
    a redelivered event gives the same invalidation ``CallerReference``."""

    key: str
    kind: Kind = Kind.CREATED
    revision: str = ""


@dataclass(frozen=True, slots=True)
class KeyResult:
    key: str
    status: Status
    version: str | None = None
    error: dict[str, Any] | None = None  # the typed error, ``{"error", "code", "param"}``
    variants_deleted: int = 0
    eager: int = 0  # variants stored at ingest
    document: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "status": self.status.value, "version": self.version}
        if self.error is not None:
            out["error"] = self.error
        if self.variants_deleted:
            out["variants_deleted"] = self.variants_deleted
        if self.eager:
            out["eager"] = self.eager
        return out


class Invalidator(Protocol):
    def submit(self, plan: Any, *, deadline: float | None = None) -> tuple[Any, ...]: ...


def _error(error: Exception) -> dict[str, Any]:
    if isinstance(error, VipsfrontError):
        return dict(error.to_dict())
    return {"error": f"{type(error).__name__}: {error}"[:300], "code": "internal_error", "param": None}


class Lifecycle:
    def __init__(self, settings: Settings, store: LifecycleStore, invalidator: Invalidator | None = None) -> None:
        self.settings = settings
        self.store = store
        self.invalidator = invalidator
        self.origin = Origin(settings, store)
        self.limits = InvalidationLimits(wildcard_above=settings.invalidation_wildcard_above)

    @classmethod
    def from_settings(cls, settings: Settings, *, s3: Any = None, cloudfront: Any = None) -> Lifecycle:
        """On S3 (``s3``: a boto3 client, else one from the settings), invalidating the settings'
        distribution when there is one (``cloudfront``: a boto3 client, else a new one)."""
        from vipsfront.stores.s3 import S3Store, s3_client

        store = S3Store(s3 or s3_client(settings.s3_endpoint, settings.region), *_buckets(settings))
        invalidator = None
        if settings.distribution_id:
            import boto3

            from vipsfront.lifecycle.cloudfront import CloudFrontInvalidator

            invalidator = CloudFrontInvalidator(cloudfront or boto3.client("cloudfront"), settings.distribution_id)
        return cls(settings, store, invalidator)

    # -- purge ---------------------------------------------------------------------------------------

    def apply(self, changes: Iterable[Change], *, deadline: float | None = None) -> list[KeyResult]:
        """Purge every changed original's variants and cached paths, then ingest the created ones.

        One result per key (a key changed twice in the batch is purged once, then ingested if created).
        ``deadline`` (``time.monotonic()``) bounds the invalidator's waits, so failures are reported in time.
        """
        kinds: dict[str, set[Kind]] = {}
        revisions: dict[str, list[str]] = {}
        for change in changes:
            kinds.setdefault(change.key, set()).add(change.kind)
            revisions.setdefault(change.key, []).append(change.revision)
        failed: dict[str, Exception] = {}
        listings: dict[str, list[str]] = {}
        for key in kinds:
            try:
                listings[key] = self.store.list_variants(key)
                self.store.delete_variants(listings[key])
            except VipsfrontError as error:
                failed[key] = error
        if self.invalidator is not None and listings:
            cached = [OriginalChange(k, tuple(v), "\x00".join(revisions[k])) for k, v in listings.items()]
            try:
                self.invalidator.submit(plan(cached, self.limits), deadline=deadline)
            except VipsfrontError as error:  # cloudfront.InvalidationError: the originals still cached
                for key in getattr(error, "pending_keys", tuple(listings)):
                    failed.setdefault(key, error)
        results: list[KeyResult] = []
        for key, key_kinds in kinds.items():
            deleted = len(listings.get(key, ()))
            if key in failed:
                log.warning("purge of %s failed: %s", key, failed[key])
                results.append(KeyResult(key, Status.FAILED, error=_error(failed[key]), variants_deleted=deleted))
            elif Kind.CREATED in key_kinds:
                results.append(replace(self.ingest(key), variants_deleted=deleted))
            else:
                results.append(KeyResult(key, Status.PURGED, variants_deleted=deleted))
        return results

    # -- ingest --------------------------------------------------------------------------------------

    def ingest(self, key: str, *, known_version: str | None = None) -> KeyResult:
        """Write ``key``'s info document and eager variants; never raises (see ``Status``)."""
        deadline = time.monotonic() + self.settings.request_budget_s
        record = RequestRecord(key=key)
        version = known_version
        try:
            original = self.origin.read_original(key, record, deadline=deadline)
            version = original.version or known_version
            try:
                document = self.origin.document(key, original, deadline=deadline)
                eager = self._eager(key, original, document, deadline)
            except BAD_IMAGE as error:
                self.origin.put_info(key, info.failed(key, version, error), deadline=None)
                return KeyResult(key, Status.REJECTED, version, error=_error(error))
            self.origin.put_info(key, document, deadline=None)
            return KeyResult(key, Status.INGESTED, version, eager=eager, document=document)
        except OriginalNotFoundError:
            return KeyResult(key, Status.GONE, version)
        except InputTooLargeError as error:  # refused by size before reading: recorded like a bad image
            try:
                self.origin.put_info(key, info.failed(key, version, error), deadline=None)
            except VipsfrontError as put_error:
                return KeyResult(key, Status.FAILED, version, error=_error(put_error))
            return KeyResult(key, Status.REJECTED, version, error=_error(error))
        except Exception as error:  # storage, time, or a bug: reported, retried by the caller
            log.warning("ingest of %s failed: %s", key, error, exc_info=not isinstance(error, VipsfrontError))
            return KeyResult(key, Status.FAILED, version, error=_error(error))

    def eager_specs(self) -> list[Spec]:
        """The eager presets' specs, each ``fm=auto`` expanded to every resolution of it."""
        specs: list[Spec] = []
        for name in self.settings.eager_presets:
            spec = build(self.settings.policy.presets[name])
            specs.extend([replace(spec, fm=fm) for fm in AUTO_FORMATS] if spec.negotiated else [spec])
        return specs

    def _eager(self, key: str, original: Original, document: dict[str, Any], deadline: float) -> int:
        """Make and store the eager variants; one encode per distinct output (``auto-avif`` and
        ``auto-avif-webp`` are one AVIF), stored under the unversioned and the versioned key."""
        made: dict[tuple[Spec, str], tuple[bytes, str, RequestRecord]] = {}
        stored = 0
        for spec in self.eager_specs():
            fmt = output_format(
                spec.fm, str(document["format"]), alpha=bool(document["alpha"]), animated=bool(document["animated"])
            )
            same = (replace(spec, fm=None), fmt.value)
            if same not in made:
                record = RequestRecord(key=key)
                try:
                    data, media_type = self.origin.render(original.data, spec, record, deadline=deadline)
                except OutputTooLargeError as error:  # this original is too large for this preset: a viewer's 400 too
                    log.info("eager %s of %s skipped: %s", spec.canonical(), key, error.message)
                    continue
                made[same] = (data, media_type, record)
            data, media_type, record = made[same]
            for target in (spec, replace(spec, v=original.version)) if original.version else (spec,):
                self.origin.keep(
                    variant_key(key, target),
                    target,
                    data,
                    media_type,
                    record,
                    source_bytes=len(original.data),
                    deadline=None,
                )
                stored += 1
        return stored

    # -- backfill ------------------------------------------------------------------------------------

    def stored_document(self, key: str) -> dict[str, Any] | None:
        stored = self.store.get_variant(info_key(key))
        if stored is None:
            return None
        try:
            document = json.loads(stored.data)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def is_old_version(self, key: str, etag: str) -> bool:
        """Whether the version of ``key`` with this ETag (deleted for good: a noncurrent version expiring)
        is not the one its info document, and so its variants, were made from: then the current original,
        and what CloudFront holds of it, stay. Without an info document nothing tells: ``False``."""
        document = self.stored_document(key)
        return document is not None and document.get("version") != ListedOriginal(key, etag).version

    def backfill(self, items: Iterable[ListedOriginal], *, force: bool = False) -> list[KeyResult]:
        """Ingest each listed original unless its info document is already at its version."""
        results: list[KeyResult] = []
        for item in items:
            version = item.version
            try:
                stored = None if force else self.stored_document(item.key)
            except VipsfrontError as error:
                results.append(KeyResult(item.key, Status.FAILED, version, error=_error(error)))
                continue
            if info.is_current(stored, version):
                recorded = stored.get("error") if stored else None
                results.append(KeyResult(item.key, Status.SKIPPED, version, error=recorded, document=stored))
            else:
                results.append(self.ingest(item.key, known_version=version))
        return results


class Watcher:
    """Polls the originals' listing and runs ``Lifecycle.apply`` on what changed (``vipsfront serve``:
    moto sends no bucket events). A new or changed ETag is a created original, a vanished key a deleted
    one; the first listing is the baseline, so nothing is done for what was already there."""

    def __init__(self, lifecycle: Lifecycle, interval_s: float = 2.0, prefix: str = "") -> None:
        self.lifecycle, self.interval_s, self.prefix = lifecycle, interval_s, prefix
        self.seen: dict[str, str] | None = None
        self._stop = threading.Event()

    def listing(self) -> dict[str, str]:
        return {item.key: item.etag for item in self.lifecycle.store.scan_originals(self.prefix)}

    def poll(self) -> list[KeyResult]:
        """One look at the listing; the results of what changed since the last look."""
        now = self.listing()
        before, self.seen = self.seen, now
        if before is None:
            return []
        changes = [Change(k, Kind.CREATED, etag) for k, etag in now.items() if before.get(k) != etag]
        changes += [Change(k, Kind.DELETED, "gone:" + before[k]) for k in before.keys() - now.keys()]
        results = self.lifecycle.apply(changes) if changes else []
        for result in results:
            log.warning(
                "original %s %s: %s",
                result.key,
                "changed" if result.status is not Status.PURGED else "deleted",
                result.to_dict(),
            )
        return results

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # a failed look is logged and tried again at the next tick
                log.exception("polling the originals failed")
            self._stop.wait(self.interval_s)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="vipsfront-watch", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()


def _buckets(settings: Settings) -> tuple[str, str]:
    return settings.originals_bucket, settings.variants_bucket


def summarise(results: Sequence[KeyResult]) -> dict[str, Any]:
    """Counts per status and the failed and rejected keys with their reasons."""
    counts = {status.value: 0 for status in Status}
    for result in results:
        counts[result.status.value] += 1
    problems = [r.to_dict() for r in results if r.status in (Status.FAILED, Status.REJECTED)]
    return {"counts": counts, "problems": problems}
