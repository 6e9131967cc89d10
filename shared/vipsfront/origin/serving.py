"""The origin's work for one routed request: stored variant, or original → engine → stored variant.

No HTTP here: the FastAPI app (and the benchmarks) call ``Origin.serve`` with a ``Route`` from
``vipsfront.url.route`` and a deadline, and get bytes and figures back. Every step is timed into the
request's ``RequestRecord``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from vipsfront.engine import run as engine

from vipsfront.cli import heap

from vipsfront.engine import info
from vipsfront.config.settings import Settings
from vipsfront.url.route import Route
from vipsfront.errors import DeadlineExceededError, VersionNotFoundError
from vipsfront.url.keys import info_key
from vipsfront.url.spec import Spec
from vipsfront.stores.base import ImageStore, Original
from vipsfront.telemetry import Outcome, RequestRecord

log = logging.getLogger(__name__)
T = TypeVar("T")

# After a transform of a source this large, the freed heap goes back to the OS (``heap.trim``): tens of
# MB each, which would otherwise stay in every worker at its largest transform. Below it the trim
# (~0.5 ms) costs more than the little it returns.
TRIM_AFTER_MEGAPIXELS = 4.0

# Media types of originals served unchanged, by the loader that recognised them.
_ORIGINAL_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "heif": "image/heif",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
}


def trims_after(record: RequestRecord) -> bool:
    """Whether the transform ``record`` describes was large enough to trim the heap after it."""
    return record.input_megapixels >= TRIM_AFTER_MEGAPIXELS


BUSY = "the server is busy: no transform slot before the deadline"


class SharedSlots(Protocol):
    """A limit shared with other processes (``vipsfront.cli.workers.TreeSlots``), held by the thread that
    took it: ``acquire`` and ``release`` as ``threading.BoundedSemaphore``."""

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...


class TransformGate:
    """At most ``slots`` transforms at once in this process, and with ``tree`` one of its slots too; a
    request waits for both until its deadline.

    Transforms are CPU-bound (libvips has its own threads): beyond one per core they only add memory
    (each holds a decoded image) and tail latency. Hits and S3 I/O never wait here. ``tree`` is the
    limit of the whole ``serve --workers N`` tree (its transforms in flight bound its peak memory); it is
    taken after this process's slot and given back before it.
    """

    def __init__(self, slots: int, tree: SharedSlots | None = None) -> None:
        self.slots = slots
        self.tree = tree
        self._free = threading.BoundedSemaphore(slots)

    @classmethod
    def for_settings(cls, settings: Settings, tree: SharedSlots | None = None) -> TransformGate:
        """``settings.max_concurrent_transforms`` slots, or one per CPU core when it is 0."""
        return cls(settings.transform_slots, tree)

    @contextmanager
    def slot(self, deadline: float, record: RequestRecord) -> Iterator[None]:
        started = time.perf_counter()
        if not self._free.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise DeadlineExceededError(BUSY)
        if self.tree is not None and not self.tree.acquire(timeout=max(0.0, deadline - time.monotonic())):
            self._free.release()
            raise DeadlineExceededError(BUSY)
        waited = (time.perf_counter() - started) * 1000
        if waited >= 1:
            record.timings["queue"] = record.timings.get("queue", 0.0) + waited
        try:
            yield
        finally:
            if self.tree is not None:
                self.tree.release()
            self._free.release()


class DeferredStores:
    """Runs the variant stores a caller put off until after its response, and counts how they went.

    A store that fails leaves nothing broken: an S3 PUT is atomic, so the variant is either whole or
    absent, and the next request for it makes it again. The failure is logged and counted, never raised.
    """

    def __init__(self) -> None:
        self.stored = 0
        self.failed = 0
        self._lock = threading.Lock()

    def run(self, pending: PendingStore) -> bool:
        """Store ``pending``'s variant; ``False`` (logged, counted) when it could not be stored."""
        try:
            pending.store()
        except Exception:
            log.warning("variant %s was not stored after the response", pending.variant_key, exc_info=True)
            with self._lock:
                self.failed += 1
            return False
        with self._lock:
            self.stored += 1
        return True


@dataclass(frozen=True, slots=True)
class PendingStore:
    """A made variant not stored yet (``Origin.serve(..., defer_store=True)``): ``store()`` stores it.

    Put off, it runs with a budget of its own (the settings' request budget from when it starts), since
    nobody waits on it: the response has gone.
    """

    origin: Origin
    variant_key: str
    spec: Spec
    data: bytes
    media_type: str
    record: RequestRecord
    source_bytes: int
    trim: bool = False  # the transform was large: hand its freed heap back once stored (``heap.trim``)

    def store(self) -> None:
        """Store the variant within a request budget of its own, starting now."""
        self.store_by(time.monotonic() + self.origin.settings.request_budget_s)

    def store_by(self, deadline: float) -> None:
        try:
            self.origin.keep(
                self.variant_key,
                self.spec,
                self.data,
                self.media_type,
                self.record,
                source_bytes=self.source_bytes,
                deadline=deadline,
            )
        finally:
            if self.trim:
                heap.trim()


@dataclass(frozen=True, slots=True)
class Served:
    data: bytes
    media_type: str
    outcome: Outcome
    etag: str | None = None  # a hit's stored ETag; a miss's is computed by the app
    pending: PendingStore | None = None  # a miss whose store the caller runs (``defer_store``)


class Origin:
    def __init__(self, settings: Settings, store: ImageStore, gate: TransformGate | None = None) -> None:
        self.settings = settings
        self.store = store
        self.gate = gate or TransformGate.for_settings(settings)

    def _timed(self, record: RequestRecord, name: str, step: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return step()
        finally:
            record.timings[name] = record.timings.get(name, 0.0) + (time.perf_counter() - start) * 1000

    def read_original(self, key: str, record: RequestRecord, *, deadline: float | None) -> Original:
        """The original, refused unread if S3 says it is over the byte limit."""
        limit = self.settings.limits.max_input_bytes
        original = self._timed(record, "s3-read", lambda: self.store.get_original(key, limit, deadline=deadline))
        record.input_bytes = len(original.data)
        return original

    def describe(self, key: str, *, deadline: float | None = None) -> tuple[dict[str, object], Outcome]:
        """``/_vf/info``: the info document (``vipsfront.engine.info``), cached in the variants bucket (``info_key``).

        The first call reads the original and makes the document (header, placeholder, metadata and
        the version token); later calls read one small JSON object, until the lifecycle purges it when
        the original changes. A stored document of a bad original is not answered: the typed error is.
        Without a ``deadline`` the request's budget from the settings bounds it.
        """
        at = time.monotonic() + self.settings.request_budget_s if deadline is None else deadline
        cached = self.store.get_variant(info_key(key), deadline=at)
        if cached is not None:
            try:
                document = json.loads(cached.data)
            except ValueError:
                log.warning("cached info for %s is not JSON; computing it again", key)
            else:
                if isinstance(document, dict) and "error" not in document:
                    return document, Outcome.HIT
        original = self.read_original(key, RequestRecord(key=key), deadline=at)
        with self.gate.slot(at, RequestRecord(key=key)):
            body = self.document(key, original, deadline=at)
        self.put_info(key, body, deadline=at)
        return body, Outcome.MISS

    def document(self, key: str, original: Original, *, deadline: float | None) -> dict[str, object]:
        """The info document of ``original`` with the settings' limits and privacy opt-ins."""
        return info.describe(
            key,
            original.data,
            original.version,
            self.settings.limits,
            include_gps=self.settings.metadata_gps,
            include_personal=self.settings.metadata_personal,
            deadline=deadline,
        )

    def put_info(self, key: str, document: dict[str, object], *, deadline: float | None) -> None:
        self.store.put_variant(
            info_key(key),
            json.dumps(document, separators=(",", ":")).encode(),
            content_type="application/json",
            cache_control=self.settings.cache_control_for(versioned=False),
            metadata={},
            deadline=deadline,
        )

    def render(
        self, source: bytes, spec: Spec, record: RequestRecord, *, deadline: float, trim: bool = True
    ) -> tuple[bytes, str]:
        """Make ``spec`` of ``source`` (the original's own bytes for an identity spec): data and media type.

        After a large transform the freed heap goes back to the OS (``heap.trim``, 0.5-3 ms) unless
        ``trim`` is false: then the caller does it, off the response's path (``trims_after``).
        """
        limits = self.settings.limits
        if spec.is_identity:
            found = self._timed(record, "transform", lambda: engine.probe(source, limits))
            record.width, record.height, record.format = found.width, found.height, found.format
            record.input_megapixels = found.width * found.height / 1e6
            return source, _ORIGINAL_TYPES.get(found.format, "application/octet-stream")
        with self.gate.slot(deadline, record):
            try:
                result = self._timed(
                    record, "transform", lambda: engine.transform(source, spec, limits, deadline=deadline)
                )
            except Exception:
                heap.trim()  # it may have decoded much before it failed
                raise
        record.width, record.height, record.format = result.width, result.height, result.format.value
        record.input_megapixels = result.input_info.width * result.input_info.height / 1e6
        if trim and trims_after(record):
            heap.trim()
        if "qauto" in result.timings:  # q=auto's search (part of transform), and what it chose or fell back to
            record.timings["qauto"] = result.timings["qauto"]
            record.notes["qauto"] = result.notes.get("qauto", "")
        return result.data, result.media_type

    def keep(
        self,
        variant_key: str,
        spec: Spec,
        data: bytes,
        media_type: str,
        record: RequestRecord,
        *,
        source_bytes: int,
        deadline: float | None,
    ) -> None:
        """Store a variant with the ``Cache-Control`` its URL gets (the S3-first origin serves it as is)."""
        metadata = {"width": str(record.width), "height": str(record.height), "source-bytes": str(source_bytes)}
        cache_control = self.settings.cache_control_for(versioned=spec.v is not None)
        self._timed(
            record,
            "s3-write",
            lambda: self.store.put_variant(
                variant_key,
                data,
                content_type=media_type,
                cache_control=cache_control,
                metadata=metadata,
                deadline=deadline,
            ),
        )

    def serve(self, route: Route, record: RequestRecord, *, deadline: float, defer_store: bool = False) -> Served:
        """Serve ``route``: the stored variant when there is one, else make and store it.

        Nothing, S3 calls included (each is given the deadline), runs past ``deadline``
        (``time.monotonic()``). With ``defer_store`` a miss is not stored here: ``Served.pending`` holds
        the store, for the caller to run once the response is on its way (``DeferredStores.run``).
        """
        record.key, record.variant_key = route.key, route.variant_key
        if self.settings.variant_lookup:
            stored = self._timed(
                record, "s3-variant", lambda: self.store.get_variant(route.variant_key, deadline=deadline)
            )
            if stored is not None:
                record.outcome, record.output_bytes = Outcome.HIT, len(stored.data)
                record.format = stored.content_type.removeprefix("image/")
                return Served(stored.data, stored.content_type, Outcome.HIT, stored.etag)

        original = self.read_original(route.key, record, deadline=deadline)
        source = original.data
        if time.monotonic() > deadline:
            raise DeadlineExceededError("request ran out of time reading the original")
        if route.spec.v is not None and route.spec.v != original.version:
            # Only the current version is made, so an unsigned v cannot mint variants without end.
            raise VersionNotFoundError("no such version of this image (see /_vf/info for the current one)", param="v")

        # a miss stored after its response also trims the heap then, not before answering
        data, media_type = self.render(source, route.spec, record, deadline=deadline, trim=not defer_store)
        if (
            route.spec.is_identity
            and media_type == "image/heif"
            and (original.content_type or "").lower() == "image/avif"
        ):
            media_type = "image/avif"
        pending = None
        if self.settings.store_originals or not route.spec.is_identity:
            pending = PendingStore(
                self,
                route.variant_key,
                route.spec,
                data,
                media_type,
                record,
                len(source),
                trim=defer_store and trims_after(record),
            )
            if not defer_store:
                pending.store_by(deadline)
                pending = None
        record.outcome, record.output_bytes = Outcome.MISS, len(data)
        return Served(data, media_type, Outcome.MISS, pending=pending)
