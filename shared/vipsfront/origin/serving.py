"""The origin's work for one routed request: stored variant, or original → engine → stored variant.

No HTTP here: the FastAPI app (and the benchmarks) call ``Origin.serve`` with a ``Route`` from
``vipsfront.url.route`` and a deadline, and get bytes and figures back. Every step is timed into the
request's ``RequestRecord``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from vipsfront.config.settings import Settings
from vipsfront.engine import info, loaders, probe, run
from vipsfront.engine.faces import Face
from vipsfront.errors import (
    DeadlineExceededError,
    OriginalNotFoundError,
    UndecodableImageError,
    UnsupportedInputError,
)
from vipsfront.origin.gate import TransformGate
from vipsfront.stores.base import ImageStore, Original
from vipsfront.telemetry import Outcome, RequestRecord
from vipsfront.url.keys import info_key
from vipsfront.url.route import Route
from vipsfront.url.spec import Position, Spec

log = logging.getLogger(__name__)
T = TypeVar("T")

# Media types of originals served unchanged, by the loader that recognised them.
_ORIGINAL_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "heif": "image/heif",
    "heic": "image/heic",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
}


FALLBACK_HEADER = "x-vipsfront-fallback"  # on a fallback answer: the error code it stands in for


@dataclass(frozen=True, slots=True)
class Served:
    data: bytes
    media_type: str
    outcome: Outcome
    etag: str | None = None  # a hit's stored ETag; a miss's is computed by the app
    version: str | None = None  # ``Outcome.MOVED``: the original's current version token
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # over the app's own (a fallback's lifetime, cause)


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

    def known_faces(self, key: str, version: str | None, *, deadline: float) -> tuple[Face, ...] | None:
        """The faces the stored info document found in this version of ``key`` (``None``: not known yet,
        the transform detects them itself)."""
        cached = self.store.get_variant(info_key(key), deadline=deadline)
        try:
            return info.known_faces(json.loads(cached.data) if cached else None, version)
        except ValueError:
            return None

    def render(
        self,
        source: bytes,
        spec: Spec,
        record: RequestRecord,
        *,
        deadline: float,
        known_faces: tuple[Face, ...] | None = None,
    ) -> tuple[bytes, str]:
        """Make ``spec`` of ``source`` (the original's own bytes for an identity spec): data and media type."""
        limits = self.settings.limits
        if spec.is_identity and loaders.is_svg(source):
            # kept as SVG whether or not rasterising is allowed: the app's nosniff and sandboxing CSP keep
            # its scripts and references inert; nothing here parses it
            record.format = "svg"
            return source, _ORIGINAL_TYPES["svg"]
        if spec.is_identity:
            found = self._timed(record, "transform", lambda: probe.probe(source, limits))
            record.width, record.height, record.format = found.width, found.height, found.format
            record.input_megapixels = found.width * found.height / 1e6
            return source, _ORIGINAL_TYPES.get(found.format, "application/octet-stream")
        with self.gate.slot(deadline, record):
            result = self._timed(
                record,
                "transform",
                lambda: run.transform(source, spec, limits, deadline=deadline, known_faces=known_faces),
            )
        record.width, record.height, record.format = result.width, result.height, result.format.value
        record.input_megapixels = result.input_info.width * result.input_info.height / 1e6
        if "faces" in result.timings:  # pos=face: which faces aimed the crop, or attention
            record.timings["faces"] = result.timings["faces"]
            record.notes["faces"] = result.notes.get("faces", "")
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

    def serve(self, route: Route, record: RequestRecord, *, deadline: float) -> Served:
        """``make``, or, when that fails for a cause ``settings.fallback_for`` names (no original, an
        unsupported or broken one), the fallback original with the request's spec: answered with
        ``fallback_status``, a short lifetime and the real cause in ``FALLBACK_HEADER``, never stored."""
        try:
            return self.make(route, record, deadline=deadline)
        except (OriginalNotFoundError, UnsupportedInputError, UndecodableImageError) as error:
            settings = self.settings
            if settings.fallback_key in (None, route.key) or error.status not in settings.fallback_for:
                raise
            cause = error
        try:
            original = self.read_original(settings.fallback_key, record, deadline=deadline)
            data, media_type = self.render(original.data, route.spec, record, deadline=deadline)
        except (OriginalNotFoundError, UnsupportedInputError, UndecodableImageError) as error:
            log.warning("fallback original %s unusable: %s", settings.fallback_key, error.message)
            raise cause from None
        record.outcome, record.output_bytes = Outcome.MISS, len(data)
        headers = {"cache-control": f"public, max-age={settings.fallback_max_age}", FALLBACK_HEADER: cause.code}
        return Served(data, media_type, Outcome.MISS, status=settings.fallback_status, headers=headers)

    def make(self, route: Route, record: RequestRecord, *, deadline: float) -> Served:
        """Serve ``route``: the stored variant when there is one, else make it and store it before answering
        (as the Lambda must: nothing runs after its response), so a repeat request finds it.

        Nothing, S3 calls included (each is given the deadline), runs past ``deadline`` (``time.monotonic()``).
        Without ``settings.variant_lookup`` (behind CloudFront, whose S3-first origin looked already) only a
        request in the canonical path form skips the lookup: any other form (a dialect's URL on a behaviour
        with no edge function) was looked up by no one.
        """
        record.key, record.variant_key = route.key, route.variant_key
        if self.settings.variant_lookup or not route.path_form:
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
            # Only the current version is made (an unsigned v cannot mint variants without end), but a page
            # cached before the original changed still shows it: the caller redirects to the current one.
            record.outcome = Outcome.MOVED
            return Served(b"", "", Outcome.MOVED, version=original.version)

        known = None
        if route.spec.pos is Position.FACE:
            known = self._timed(
                record, "s3-info", lambda: self.known_faces(route.key, original.version, deadline=deadline)
            )
        data, media_type = self.render(source, route.spec, record, deadline=deadline, known_faces=known)
        if (
            route.spec.is_identity
            and media_type == "image/heif"
            and (original.content_type or "").lower() == "image/avif"
        ):
            media_type = "image/avif"
        if self.settings.store_originals or not route.spec.is_identity:
            self.keep(
                route.variant_key, route.spec, data, media_type, record, source_bytes=len(source), deadline=deadline
            )
        record.outcome, record.output_bytes = Outcome.MISS, len(data)
        return Served(data, media_type, Outcome.MISS)
