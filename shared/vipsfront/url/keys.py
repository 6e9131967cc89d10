"""Keys and paths: which original a request names, and where each of its variants is stored.

A variant of ``key`` lives at ``{origin_key(key)}/_vf/{canonical}`` in the variants bucket and at the same
URL path, so the edge can rewrite a query to it, S3 can answer it first, and every variant of an original
can be listed (and purged) by prefix.

``origin_key`` is the key's *origin form*: every byte outside ``A-Z a-z 0-9 - . _`` and ``/`` written
``~XX`` (upper-case hex), ``~`` itself included. The rewritten URI reaches two origins: S3 (which maps the
URI to an object key by percent-decoding it) and the Lambda Function URL through origin access control,
where CloudFront signs the request with SigV4 and Lambda checks the signature against its own canonical
form of the path. Percent-escapes, ``+`` and ``!'()*`` in a path are where signers and verifiers differ
(decode first or not, encode once or twice, ``encodeURIComponent``'s set or SigV4's): signatures then
mismatch and the fallback answers 403. The origin form has none of them: it is made of SigV4's unreserved
characters, which every variant of the canonicalisation leaves as they are, and it needs no decoding, so S3
finds exactly the key the function stored. The canonical spec after ``/_vf/`` adds only ``=``, ``,`` and
``:``, which carry no escape and which every encoder encodes alike. docs/deploy.md gives the references.

Viewers' URLs (``encode_key``, signatures) keep ordinary percent-encoding; only the edge's rewrite, the
stored variants and the invalidation paths use the origin form. ``/_vf/info/{key}`` is rewritten likewise,
to ``info_path(key)``: ``/{origin form}/_vf/info``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from vipsfront.errors import InvalidKeyError
from vipsfront.url.grammar import ORIGINAL_TOKEN, parse_canonical
from vipsfront.url.spec import Spec

MAX_KEY_BYTES = 900  # the key, and its origin form: with "/_vf/" and the longest spec, within S3's 1,024 bytes
VARIANT_SEGMENT = "_vf"
INFO_TOKEN = "info.json"  # no "=": never a canonical spec, so it sits safely beside the variants
INFO_PREFIX = f"/{VARIANT_SEGMENT}/info/"  # the viewer's /_vf/info/{key}, percent-encoded
INFO_SUFFIX = f"/{VARIANT_SEGMENT}/info"  # the edge's /{origin form}/_vf/info: no spec, not the stored info.json


def check_key(key: str) -> str:
    """Return ``key`` if it can name an original, else raise ``InvalidKeyError``.

    Keys have no empty, ``.``, ``..`` or ``_vf`` segments and no control characters, which keeps
    variant keys (``{key}/_vf/{canonical}``) unambiguous and listable by prefix per original.
    """
    if not key:
        raise InvalidKeyError("missing image key", param="key")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"key longer than {MAX_KEY_BYTES} bytes", param="key")
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in key):
        raise InvalidKeyError("key contains control characters", param="key")
    if len(origin_key(key)) > MAX_KEY_BYTES:
        raise InvalidKeyError(
            f"key longer than {MAX_KEY_BYTES} bytes once each byte outside A-Z a-z 0-9 - . _ / is ~XX", param="key"
        )
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError("key has an empty, '.' or '..' segment", param="key")
        if segment == VARIANT_SEGMENT:
            raise InvalidKeyError(f"key may not contain a {VARIANT_SEGMENT!r} segment", param="key")
    return key


def origin_key(key: str) -> str:
    """``key`` in its origin form: each UTF-8 byte outside ``A-Z a-z 0-9 - . _ /`` as ``~XX``."""
    return quote(key, safe="/").replace("~", "%7E").replace("%", "~")


_MALFORMED = re.compile(r"%|~(?![0-9A-F]{2})")


def parse_origin_key(text: str) -> str:
    """The key whose origin form is ``text``; ``InvalidKeyError`` for a ``%``, a ``~`` that is not ``~XX``, or
    bytes that are not UTF-8."""
    if _MALFORMED.search(text):
        raise InvalidKeyError("the canonical path form writes the key's bytes as ~XX, never '%'", param="key")
    try:
        return unquote(text.replace("~", "%"), errors="strict")
    except UnicodeDecodeError:
        raise InvalidKeyError("path is not valid UTF-8", param="key") from None


def variant_prefix(key: str) -> str:
    """The prefix under which every variant of ``key`` is stored (the key in its origin form)."""
    return f"{origin_key(key)}/{VARIANT_SEGMENT}/"


def variant_key(key: str, spec: Spec) -> str:
    """The S3 key of one variant; the identity spec maps to ``.../_vf/original``."""
    return variant_prefix(key) + (spec.canonical() or ORIGINAL_TOKEN)


def info_key(key: str) -> str:
    """The S3 key of an original's cached ``/_vf/info`` answer, listed and purged with its variants."""
    return variant_prefix(key) + INFO_TOKEN


def info_path(key: str) -> str:
    """Where the edge sends ``/_vf/info/{key}``: the key in its origin form, as in a variant's path, so that
    the Function URL behind origin access control reads the path as CloudFront signed it. ``info`` is no
    canonical spec, and the ``_vf`` segment, which no key has, tells this path from the viewer's."""
    return f"/{origin_key(key)}{INFO_SUFFIX}"


def parse_info_path(raw_path: str) -> str:
    """The key of an info path: ``/_vf/info/{key}`` percent-encoded (as a viewer sends it) or
    ``info_path``'s ``/{origin form}/_vf/info``; ``InvalidKeyError`` as ``parse_path`` raises it."""
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidKeyError("path is not valid UTF-8", param="key") from None
    if path.startswith(INFO_PREFIX):
        return check_key(path.removeprefix(INFO_PREFIX))
    return check_key(parse_origin_key(path.removeprefix("/").removesuffix(INFO_SUFFIX)))


def encode_key(key: str) -> str:
    """Percent-encode a key for a URL path: every byte but ``A-Za-z0-9-._~`` and ``/``."""
    return quote(key, safe="/")


def variant_path(key: str, spec: Spec) -> str:
    """The canonical URL path of a variant, as the edge rewrites it and S3 stores it: its S3 key after
    a ``/``, with nothing to percent-encode."""
    return "/" + variant_key(key, spec)


@dataclass(frozen=True, slots=True)
class Path:
    """A request path: the original's key and, for the canonical path form, its spec."""

    key: str
    canonical: Spec | None = None


def parse_path(raw_path: str) -> Path:
    """Split a percent-encoded URL path into key and optional canonical spec: ``/{key}`` (the query form)
    or ``/{origin_key(key)}/_vf/{spec}`` (the canonical path form)."""
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidKeyError("path is not valid UTF-8", param="key") from None
    path = path.removeprefix("/")
    marker = f"/{VARIANT_SEGMENT}/"
    head, sep, tail = path.partition(marker)
    if sep and "/" not in tail:
        return Path(key=check_key(parse_origin_key(head)), canonical=parse_canonical(tail))
    return Path(key=check_key(path))
