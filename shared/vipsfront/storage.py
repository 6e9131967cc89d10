"""Where originals and variants live: an ``ImageStore`` protocol and its S3 implementation.

Originals and variants sit in separate buckets (thumbor's storage / result storage split); originals are
only ever read. The S3 adapter turns botocore's errors into the domain's: a missing original is a 404, a
throttled or unreachable S3 a 503, anything else from S3 a 502.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vipsfront.errors import OriginalNotFoundError, StorageError, StorageUnavailableError

log = logging.getLogger(__name__)

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_UNAVAILABLE = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "ServiceUnavailable",
    "503",
    "InternalError",
    "500",
}


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class StoredVariant:
    data: bytes
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)


class ImageStore(Protocol):
    def head_original(self, key: str) -> ObjectInfo: ...

    def get_original(self, key: str) -> bytes: ...

    def get_variant(self, key: str) -> StoredVariant | None: ...

    def put_variant(
        self, key: str, data: bytes, *, content_type: str, cache_control: str, metadata: dict[str, str]
    ) -> None: ...

    def list_originals(self, prefix: str = "", limit: int = 100) -> list[str]: ...


def _translate(error: Exception, what: str) -> Exception:
    """Map a botocore error to the domain error a client should see."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _NOT_FOUND or status == 404:
            return OriginalNotFoundError(f"{what} not found", param="key")
        if code in _UNAVAILABLE or status in (500, 503):
            return StorageUnavailableError("storage is unavailable, try again")
        return StorageError("storage failed")
    if isinstance(error, BotoCoreError):  # connection refused, timeouts, ...
        return StorageUnavailableError("storage is unreachable, try again")
    return error


class S3Store:
    """``ImageStore`` on two S3 buckets through a boto3 client the caller builds (moto in tests)."""

    def __init__(self, client: Any, originals: str, variants: str) -> None:
        self.client = client
        self.originals = originals
        self.variants = variants

    def head_original(self, key: str) -> ObjectInfo:
        try:
            head = self.client.head_object(Bucket=self.originals, Key=key)
        except Exception as error:
            raise _translate(error, "original") from error
        return ObjectInfo(size=int(head["ContentLength"]), content_type=head.get("ContentType"))

    def get_original(self, key: str) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=self.originals, Key=key)["Body"].read())
        except Exception as error:
            raise _translate(error, "original") from error

    def get_variant(self, key: str) -> StoredVariant | None:
        try:
            obj = self.client.get_object(Bucket=self.variants, Key=key)
            data = bytes(obj["Body"].read())
        except Exception as error:
            translated = _translate(error, "variant")
            if isinstance(translated, OriginalNotFoundError):
                return None
            raise translated from error
        return StoredVariant(data, obj.get("ContentType", "application/octet-stream"), obj.get("Metadata", {}))

    def put_variant(
        self, key: str, data: bytes, *, content_type: str, cache_control: str, metadata: dict[str, str]
    ) -> None:
        # A single PutObject is atomic: readers see the whole variant or none of it.
        try:
            self.client.put_object(
                Bucket=self.variants,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=cache_control,
                Metadata=metadata,
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

    def list_variants(self, prefix: str) -> list[str]:
        """Keys of the stored variants under ``prefix`` (see ``spec.variant_prefix``)."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.variants, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as error:
            raise _translate(error, "variant") from error
        return keys


def s3_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A boto3 S3 client with short timeouts and bounded retries (standard mode, with backoff)."""
    config = Config(
        connect_timeout=2,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=32,
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
