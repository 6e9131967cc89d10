"""The original's version token: what the ``v`` URL parameter carries (standard library only).

A token names one version of an original. It is derived from what S3 says about the object: the ETag,
which is the same for the same bytes uploaded the same way (a single PUT, or multipart with the same part
size), else the VersionId of a versioned bucket (new on every upload, even of the same bytes). The token is
short and URL-safe, so it costs little in every URL, and opaque: nothing about the object can be read
back from it. It only has to differ between versions of one key, so 66 bits of a SHA-256 are plenty.

``check_version`` is the grammar of the ``v`` parameter, for the URL parser and the builders: any short
URL-safe string, so a team may also write its own tokens (a CMS revision, a date).
"""

from __future__ import annotations

import base64
import hashlib
import re

from vipsfront.errors import InvalidSpecError

__all__ = ["MAX_VERSION_LENGTH", "TOKEN_LENGTH", "VERSION_PATTERN", "check_version", "version_token"]

TOKEN_LENGTH = 11  # base64url characters: 66 bits
MAX_VERSION_LENGTH = 32
VERSION_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_VERSION_LENGTH}}}")


def _normalise_etag(etag: str) -> str:
    """S3 answers ``"abc"`` (quoted) in HEAD/GET and ``abc`` in events and listings; both mean the same."""
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').lower()


def version_token(*, etag: str | None = None, version_id: str | None = None) -> str:
    """The ``v`` token for an original, from its ETag (preferred: stable for the same bytes) or VersionId.

    Raises ``ValueError`` when neither is given (a programming error: every S3 object has an ETag).
    """
    if etag is not None and _normalise_etag(etag):
        material = "etag:" + _normalise_etag(etag)
    elif version_id:
        material = "version:" + version_id.strip()
    else:
        raise ValueError("a version token needs an ETag or a VersionId")
    digest = hashlib.sha256(material.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:TOKEN_LENGTH]


def check_version(raw: str) -> str:
    """Return ``raw`` if it is a valid ``v`` value, else raise ``InvalidSpecError`` naming ``v``."""
    if not VERSION_PATTERN.fullmatch(raw):
        raise InvalidSpecError(
            f"v must be 1 to {MAX_VERSION_LENGTH} characters of A-Z, a-z, 0-9, '-' and '_'", param="v"
        )
    return raw
