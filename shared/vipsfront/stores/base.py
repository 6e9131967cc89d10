"""What the origin needs from storage: the ``ImageStore`` protocol and the objects it returns.

Originals and variants sit apart (thumbor's storage / result storage split); originals are only ever
read. No AWS here: ``vipsfront.stores.s3`` holds the S3 implementation; the origin knows only this protocol.

Every call takes the request's ``deadline`` (an absolute ``time.monotonic()`` value, ``None`` for no
bound): an implementation ends the call by then, with ``StorageUnavailableError`` when storage did not
answer in time or ``DeadlineExceededError`` when the time was gone before the call started.
Errors are the domain's: ``OriginalNotFoundError`` (404) only when the store is sure the object is not
there; any other refusal is ``StorageError`` (502), a transient failure ``StorageUnavailableError`` (503).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vipsfront.url.version import version_token


@dataclass(frozen=True, slots=True)
class Original:
    data: bytes
    content_type: str | None = None
    etag: str | None = None  # as S3 answers it (quoted or not)
    version_id: str | None = None  # on a versioned bucket

    @property
    def version(self) -> str | None:
        """The ``v`` token of these bytes (``None`` when the store names no ETag or VersionId)."""
        if not self.etag and not self.version_id:
            return None
        return version_token(etag=self.etag, version_id=self.version_id)


@dataclass(frozen=True, slots=True)
class ListedOriginal:
    """One original as a bucket listing names it (no body read)."""

    key: str
    etag: str
    size: int = 0

    @property
    def version(self) -> str:
        return version_token(etag=self.etag)


@dataclass(frozen=True, slots=True)
class StoredVariant:
    data: bytes
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # as the store answers it (quoted): the HTTP ETag of a hit, no hashing


class ImageStore(Protocol):
    def get_original(self, key: str, max_bytes: int, *, deadline: float | None = None) -> Original:
        """The original, or ``InputTooLargeError`` when it is over ``max_bytes``."""
        ...

    def get_variant(self, key: str, *, deadline: float | None = None) -> StoredVariant | None:
        """The stored variant, or ``None`` when there is none."""
        ...

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
        """Store a variant whole (readers see all of it or nothing)."""
        ...

    def list_originals(self, prefix: str = "", limit: int = 100) -> list[str]:
        """Up to ``limit`` keys of originals under ``prefix``."""
        ...


class LifecycleStore(ImageStore, Protocol):
    """What purge, ingest and backfill need beyond serving (``vipsfront.lifecycle.changes``); no deadlines:
    they run in the background, bounded by the store's own retries."""

    def list_variants(self, key: str) -> list[str]:
        """Every stored key under ``{key}/_vf/`` (variants and the info document), all pages."""
        ...

    def delete_variants(self, keys: Sequence[str]) -> int:
        """Delete these variant keys in batches; the number deleted. ``StorageError`` if any fails."""
        ...

    def scan_originals(self, prefix: str = "") -> Iterator[ListedOriginal]:
        """Every original under ``prefix``, page by page, in the store's order."""
        ...
