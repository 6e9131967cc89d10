"""Build transform URLs: the canonical query for a key and options, signed when given a key.

The JavaScript twin is ``clients/js/vipsfront.mjs``; ``tests/vectors/builders/urls.json`` holds the
URLs both must build. Options use the URL API's names (``w``, ``h``, ``fit``, ``fm`` ...) and are
written in canonical order, so equal options always give equal URLs (and one cached variant).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import unquote

from vipsfront.errors import InvalidSpecError
from vipsfront.url.grammar import build, to_query
from vipsfront.url.keys import check_key, encode_key
from vipsfront.url.signing import sign

Value = str | int | float | bool | tuple[int, ...] | list[int]  # a sequence: ``rect``
Params = Mapping[str, Value]


def _raw(value: Value) -> str:
    """A query value as a browser would send it; booleans as ``1``/``0`` (``enlarge=True``), a ``rect``
    sequence as ``left,top,width,height``."""
    if isinstance(value, (tuple, list)):
        return ",".join(str(part) for part in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def url(
    key: str,
    params: Params | None = None,
    *,
    base: str = "",
    signing_key: tuple[str, str | bytes] | None = None,
    expires: int | None = None,
) -> str:
    """``{base}/{key}?{canonical query}``, with ``s`` (and ``exp``) when ``signing_key`` is ``(kid, secret)``.

    ``params`` are checked as the origin checks them (``InvalidSpecError`` names a bad one); the secret is
    a ``str`` or ``bytes`` of 16+ characters (``ValueError`` otherwise, see ``signing.check_secret``).
    """
    spec = build({name: _raw(value) for name, value in (params or {}).items()})
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
    params: Params | None = None,
    *,
    base: str = "",
    signing_key: tuple[str, str | bytes] | None = None,
    expires: int | None = None,
) -> str:
    """A ``srcset`` attribute value: one URL per width, ``"{url} {w}w"`` joined by commas.

    Give ``params`` without ``dpr``: the browser picks the candidate for its pixel ratio itself.
    """
    return ", ".join(
        f"{url(key, {**(params or {}), 'w': w}, base=base, signing_key=signing_key, expires=expires)} {w}w"
        for w in widths
    )


def sizes(rules: Sequence[tuple[str, str]] | Mapping[str, str], fallback: str = "100vw") -> str:
    """A ``sizes`` attribute value: ``[("(min-width: 1100px)", "320px")], "100vw"`` →
    ``"(min-width: 1100px) 320px, 100vw"`` (the browser takes the first media condition that matches)."""
    pairs = rules.items() if isinstance(rules, Mapping) else rules
    return ", ".join([*(f"{media} {size}" for media, size in pairs), fallback])


def loader(
    src: str,
    width: int,
    quality: int | None = None,
    *,
    base: str = "",
    params: Params | None = None,
) -> str:
    """What the Next.js custom loader returns for ``{src, width, quality}``: ``fm=auto`` unless ``params``
    say otherwise; ``src`` is a URL path (``/photos/caf%C3%A9.jpg`` and ``/photos/café.jpg`` are one key),
    optionally with the original's version, ``/photos/cat.jpg?v=TOKEN`` (no other parameter)."""
    path, _, query = src.partition("?")
    version = _src_version(query)
    options: dict[str, Value] = {"fm": "auto", **(params or {}), "w": width}
    if quality is not None:
        options["q"] = quality
    if version is not None:
        options["v"] = version
    return url(unquote(path.lstrip("/"), errors="strict"), options, base=base)


def _src_version(query: str) -> str | None:
    """The ``v`` of a loader's ``src`` query; any other parameter there is refused (it would be lost)."""
    version = None
    for piece in filter(None, query.split("&")):
        name, _, value = piece.partition("=")
        if name != "v":
            raise InvalidSpecError("a loader src may carry only v in its query", param=name[:40] or None)
        version = unquote(value, errors="strict")
    return version


def expires_in(seconds: int, *, now: float | None = None) -> int:
    return int((time.time() if now is None else now) + seconds)
