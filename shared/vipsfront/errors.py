"""Domain errors that carry their HTTP meaning.

Every failure a client can cause or observe is one of these. The HTTP adapter renders them as
``{"error": message, "param": param}`` with ``status``; the CLI prints the message and exits non-zero.
Only the standard library is used so the pure core stays free of web and AWS imports.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import ClassVar


class VipsfrontError(Exception):
    """Base of every error vipsfront raises on purpose; ``message`` is safe to show to a client."""

    status: ClassVar[HTTPStatus] = HTTPStatus.INTERNAL_SERVER_ERROR
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.message, "code": self.code, "param": self.param}


class InvalidSpecError(VipsfrontError):
    """A query parameter is unknown, malformed or out of range."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid_spec"


class InvalidKeyError(VipsfrontError):
    """The original's key is empty, reserved or otherwise unusable."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid_key"


class SignatureError(VipsfrontError):
    """The signature is missing, malformed, expired, made with an unknown key or does not match."""

    status = HTTPStatus.FORBIDDEN
    code = "forbidden"


class OriginalNotFoundError(VipsfrontError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class InputTooLargeError(VipsfrontError):
    """The original exceeds the byte, pixel or frame limits."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "input_too_large"


class OutputTooLargeError(VipsfrontError):
    """The transform would make an image over the output side limit (an enlargement, or the original's
    size kept): the request asks for too much, whatever the original; ``param`` names the side over it."""

    status = HTTPStatus.BAD_REQUEST
    code = "output_too_large"


class UnsupportedInputError(VipsfrontError):
    """The original is in a format vipsfront does not (or is configured not to) read."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_input"


class UndecodableImageError(VipsfrontError):
    """The original claims a supported format but cannot be decoded (corrupt, truncated)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "undecodable_image"


class DeadlineExceededError(VipsfrontError):
    """The transform could not finish within the request's time budget."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "deadline_exceeded"


class StorageError(VipsfrontError):
    """The object store failed or answered with something unexpected."""

    status = HTTPStatus.BAD_GATEWAY
    code = "storage_error"


class StorageUnavailableError(StorageError):
    """The object store is throttling or unreachable; retrying later may succeed."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "storage_unavailable"
