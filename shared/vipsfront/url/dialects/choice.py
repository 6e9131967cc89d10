"""Which dialect reads a request: chosen by path prefix, never guessed.

``VIPSFRONT_DIALECTS`` maps path prefixes to dialects, ``{"/": "imgix", "/thumbor/": "thumbor"}``; a
value is a dialect's name or ``{"dialect": name, "secret": ..., "buckets": {bucket: key prefix}}``. The
longest matching prefix wins and is not part of the key; ``"/"`` is the default; a path no prefix
matches, or one mapped to ``native``, is read as our own URL. The canonical path form
(``/{key}/_vf/{spec}``, what the edge rewrites to) is always our own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vipsfront.url.dialects import aws_sample, dit, imgix, thumbor
from vipsfront.url.dialects.base import Options, Translation
from vipsfront.url.keys import VARIANT_SEGMENT
from vipsfront.url.signing import check_secret

Translate = Callable[..., Translation]
NATIVE = "native"
TRANSLATORS: dict[str, Translate] = {
    "imgix": imgix.translate,
    "aws-sample": aws_sample.translate,
    "dit": dit.translate,
    "thumbor": thumbor.translate,
    "imagor": lambda path, query, options, *, now: thumbor.translate(
        path, query, options, now=now, flavour=thumbor.IMAGOR
    ),
}
NAMES = (NATIVE, *TRANSLATORS)


@dataclass(frozen=True, slots=True)
class Dialects:
    """Path prefix → dialect options, validated; empty: every request is native."""

    prefixes: Mapping[str, Options] = field(default_factory=dict)

    def choose(self, raw_path: str) -> tuple[Options, str] | None:
        """The options of the longest prefix of ``raw_path`` and the path after it (``/``-led), or
        ``None`` when no prefix matches or the path is the canonical path form."""
        if f"/{VARIANT_SEGMENT}/" in raw_path:
            return None
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            if raw_path.startswith(prefix):
                return self.prefixes[prefix], "/" + raw_path[len(prefix) :]
        return None

    def translate(self, options: Options, path: str, query: str, *, now: float) -> Translation:
        return TRANSLATORS[options.dialect](path, query, options, now=now)

    def to_config(self) -> dict[str, Any]:
        """The inverse of ``parse_dialects`` (secrets included: this is a setting's value)."""
        config: dict[str, Any] = {}
        for prefix, options in self.prefixes.items():
            if options.secret is None and not options.buckets:
                config[prefix] = options.dialect
                continue
            entry: dict[str, Any] = {"dialect": options.dialect}
            if options.secret is not None:
                entry["secret"] = options.secret.decode()
            if options.buckets:
                entry["buckets"] = dict(options.buckets)
            config[prefix] = entry
        return config


def _options(prefix: str, value: Any) -> Options:
    if isinstance(value, str):
        value = {"dialect": value}
    if not isinstance(value, Mapping) or set(value) - {"dialect", "secret", "buckets"}:
        raise ValueError(f'dialect of {prefix!r}: a name or {{"dialect", "secret", "buckets"}}')
    name = value.get("dialect")
    if name not in NAMES:
        raise ValueError(f"dialect of {prefix!r}: {name!r} is not one of {', '.join(NAMES)}")
    secret = value.get("secret")
    buckets = value.get("buckets") or {}
    if not isinstance(buckets, Mapping) or not all(
        isinstance(b, str) and isinstance(p, str) and (p == "" or (p.endswith("/") and not p.startswith("/")))
        for b, p in buckets.items()
    ):
        raise ValueError(f"dialect of {prefix!r}: buckets map bucket names to key prefixes like 'legacy/' (or '')")
    try:
        return Options(name, None if secret is None else check_secret(secret), dict(buckets))
    except ValueError as error:
        raise ValueError(f"dialect of {prefix!r}: {error}") from None


def parse_dialects(raw: str | Mapping[str, Any]) -> Dialects:
    """``VIPSFRONT_DIALECTS`` (JSON text or its parsed value) as ``Dialects``; ``ValueError`` saying why."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError('dialects must be a JSON object like {"/": "imgix", "/thumbor/": "thumbor"}') from None
    if not isinstance(raw, Mapping):
        raise ValueError('dialects must be a JSON object like {"/": "imgix", "/thumbor/": "thumbor"}')
    prefixes: dict[str, Options] = {}
    for prefix, value in raw.items():
        if not isinstance(prefix, str) or not prefix.startswith("/") or not prefix.endswith("/"):
            raise ValueError(f"a dialect's path prefix starts and ends with '/': {prefix!r}")
        if f"/{VARIANT_SEGMENT}/" in prefix:
            raise ValueError(f"a dialect's path prefix may not contain /{VARIANT_SEGMENT}/: {prefix!r}")
        prefixes[prefix] = _options(prefix, value)
    return Dialects(prefixes)
