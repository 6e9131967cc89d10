"""What the origin needs from storage: the ``ImageStore`` protocol and the objects it returns.

Originals and variants sit apart (thumbor's storage / result storage split); originals are only ever
read. No AWS here: ``vipsfront.storage`` holds the S3 implementation; the origin knows only this protocol.

Every call takes the request's ``deadline`` (an absolute ``time.monotonic()`` value, ``None`` for no
bound): an implementation ends the call by then, with ``StorageUnavailableError`` when storage did not
answer in time or ``DeadlineExceededError`` when the time was gone before the call started.
Errors are the domain's: ``OriginalNotFoundError`` (404) only when the store is sure the object is not
there; any other refusal is ``StorageError`` (502), a transient failure ``StorageUnavailableError`` (503).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Original:
    data: bytes
    content_type: str | None = None


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
