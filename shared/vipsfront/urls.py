"""Build transform URLs: the canonical query for a key and options, signed when given a key."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from vipsfront.signing import sign
from vipsfront.spec import build, check_key, encode_key, to_query


def url(
    key: str,
    params: Mapping[str, str | int | float] | None = None,
    *,
    base: str = "",
    signing_key: tuple[str, bytes] | None = None,
    expires: int | None = None,
) -> str:
    """``{base}/{key}?{canonical query}``, with ``s`` (and ``exp``) when ``signing_key`` is ``(kid, secret)``.

    ``params`` use the URL API's names (``w``, ``h``, ``fit``, ``fm`` ...); they are checked and written in
    canonical order, so equal options always give equal URLs.
    """
    spec = build({name: str(value) for name, value in (params or {}).items()})
    query = to_query(spec)
    if signing_key is not None:
        kid, secret = signing_key
        signed = [f"s={sign(check_key(key), spec, kid, secret, expires)}"]
        if expires is not None:
            signed.insert(0, f"exp={expires}")
        query = "&".join(filter(None, [query, *signed]))
    path = f"{base.rstrip('/')}/{encode_key(check_key(key))}"
    return f"{path}?{query}" if query else path


def srcset(
    key: str,
    widths: Iterable[int],
    params: Mapping[str, str | int | float] | None = None,
    *,
    base: str = "",
    signing_key: tuple[str, bytes] | None = None,
) -> str:
    """A ``srcset`` attribute value: one URL per width, ``"{url} {w}w"`` joined by commas."""
    return ", ".join(
        f"{url(key, {**(params or {}), 'w': w}, base=base, signing_key=signing_key)} {w}w" for w in widths
    )


def expires_in(seconds: int, *, now: float | None = None) -> int:
    return int((time.time() if now is None else now) + seconds)
