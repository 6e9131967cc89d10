"""What every dialect returns and the checks they share."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from vipsfront.errors import InvalidKeyError, InvalidSpecError, SignatureError
from vipsfront.url.grammar import build
from vipsfront.url.keys import check_key
from vipsfront.url.query import decoded_pairs

MAX_PATH_LENGTH = 4096  # a base64 request or a thumbor path, as received


@dataclass(frozen=True, slots=True)
class Options:
    """One prefix's dialect settings: its name, the secret of its own signatures (``None``: signatures
    are not checked, every request meets the unsigned policy) and the buckets a request may name,
    each mapped to the key prefix its originals live under."""

    dialect: str
    secret: bytes | None = field(default=None, repr=False)
    buckets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Translation:
    """A dialect URL, read: the original's key, the native parameters (raw values, as a query would
    carry them) and whether a signature of the dialect's own was verified."""

    key: str
    values: Mapping[str, str]
    signed: bool = False


def refuse(dialect: str, name: str, message: str) -> InvalidSpecError:
    """A 400 naming the dialect's parameter (cut to 40 characters) and what is wrong with it."""
    return InvalidSpecError(f"{dialect}: {message}", param=name[:40])


def no_equivalent(dialect: str, kind: str, name: str) -> InvalidSpecError:
    return refuse(dialect, name, f"{kind} {name[:40]!r} has no equivalent here")


def checked(dialect: str, values: Mapping[str, str], names: Mapping[str, str] | None = None) -> dict[str, str]:
    """``values`` if the native grammar builds them; its error otherwise, with the dialect named and the
    parameter by the dialect's name for it (``names``: native name -> the dialect's)."""
    try:
        build(values)
    except InvalidSpecError as error:
        param = (names or {}).get(error.param or "", error.param)
        raise InvalidSpecError(f"{dialect}: {error.message}", param=param) from None
    return dict(values)


def split_pairs(dialect: str, query: str) -> list[tuple[str, str]]:
    """A query's decoded pairs in order; a repeated name or bad UTF-8 is a 400."""
    pairs: list[tuple[str, str]] = []
    for name, raw in decoded_pairs(query, label=f"{dialect}: "):
        if any(name == seen for seen, _ in pairs):
            raise refuse(dialect, name, f"parameter {name[:40]!r} given more than once")
        pairs.append((name, raw))
    return pairs


def key_of(dialect: str, raw: str, options: Options, bucket: str | None = None) -> str:
    """A checked key from a percent-encoded path piece, under the prefix ``bucket`` maps to (a bucket
    not in ``options.buckets`` is refused)."""
    if len(raw) > MAX_PATH_LENGTH:
        raise InvalidKeyError(f"{dialect}: path longer than {MAX_PATH_LENGTH} characters", param="key")
    try:
        key = unquote(raw, errors="strict").removeprefix("/")
    except UnicodeDecodeError:
        raise InvalidKeyError(f"{dialect}: path is not valid UTF-8", param="key") from None
    if bucket is not None:
        if bucket not in options.buckets:
            raise refuse(dialect, "bucket", f"bucket {bucket[:40]!r} is not served here")
        key = options.buckets[bucket] + key
    return check_key(key)


def verify(dialect: str, expected: str, given: str) -> None:
    """Constant-time comparison of a dialect's signature; a mismatch is a 403."""
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureError(f"{dialect}: signature does not match", param="signature")


def decimal(value: float) -> str:
    """A number as the native grammar takes it: at most 4 decimals, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"
