"""Reading a request's query: split it, expand its preset, check what travels beside the spec.

One pass: ``split_query`` decodes the pairs, ``read_params`` expands the preset once (explicit parameters
win) and checks ``s`` and ``exp``, giving ``Params``: the spec's raw values plus the request's own. Those
values are built into a ``Spec`` once (``Params.spec``); the edge folds client hints into them as values
before that build (``vipsfront.url.route``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from vipsfront.errors import InvalidSpecError
from vipsfront.url.grammar import (
    ALL_PARAMS,
    EXPIRES_PATTERN,
    PRESET_PATTERN,
    REQUEST_PARAMS,
    SIGNATURE_PATTERN,
    build,
    check_names,
)
from vipsfront.url.negotiation import with_accept
from vipsfront.url.spec import Spec

MAX_QUERY_LENGTH = 2048

Presets = Mapping[str, Mapping[str, str]]  # name -> raw spec parameters


def decoded_pairs(query: str, label: str = "") -> Iterator[tuple[str, str]]:
    """Each non-empty ``name=value`` piece of a raw query, decoded (``+`` a space), in order; an over-long
    query, bad UTF-8 or a nameless piece is an ``InvalidSpecError`` whose message starts with ``label``
    (a dialect's ``"imgix: "``), raised when the reader reaches it."""
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidSpecError(f"{label}query longer than {MAX_QUERY_LENGTH} characters", param=None)
    for piece in filter(None, query.split("&")):
        name, _, raw = piece.partition("=")
        try:
            name, raw = unquote_plus(name, errors="strict"), unquote_plus(raw, errors="strict")
        except UnicodeDecodeError:
            raise InvalidSpecError(f"{label}query is not valid UTF-8", param=None) from None
        if not name:
            raise InvalidSpecError(f"{label}parameter without a name", param=None)
        yield name, raw


def split_query(query: str) -> dict[str, str]:
    """Split and decode a raw query string; unknown, duplicated or nameless parameters are errors."""
    pairs: dict[str, str] = {}
    for name, raw in decoded_pairs(query):
        check_names([name], ALL_PARAMS)
        if name in pairs:
            raise InvalidSpecError(f"parameter {name!r} given more than once", param=name)
        pairs[name] = raw
    return pairs


@dataclass(frozen=True, slots=True)
class Params:
    """A query, read: the spec's raw values (preset expanded) and what travels beside the spec."""

    values: Mapping[str, str] = field(default_factory=dict)
    signature: str | None = None
    expires: int | None = None
    preset: str | None = None

    def spec(self, accept: str | None = None) -> Spec:
        """Build the spec from ``values``, with ``fm=auto`` resolved from ``accept``."""
        return with_accept(build(self.values), accept)


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request query: the spec plus what travels beside it."""

    spec: Spec
    signature: str | None = None
    expires: int | None = None
    preset: str | None = None


def read_params(pairs: Mapping[str, str], presets: Presets | None = None) -> Params:
    """Take ``p``, ``s`` and ``exp`` out of decoded pairs and expand the preset under the rest."""
    values = dict(pairs)
    preset = values.pop("p", None)
    signature = values.pop("s", None)
    expires_raw = values.pop("exp", None)
    if preset is not None:
        if not PRESET_PATTERN.fullmatch(preset) or preset not in (presets or {}):
            raise InvalidSpecError("unknown preset", param="p")
        values = {**(presets or {})[preset], **values}
    if signature is not None and not SIGNATURE_PATTERN.fullmatch(signature):
        raise InvalidSpecError("s must be KEYID.SIGNATURE (base64url HMAC-SHA256)", param="s")
    expires = None
    if expires_raw is not None:
        if not EXPIRES_PATTERN.fullmatch(expires_raw):
            raise InvalidSpecError("exp must be a Unix time in seconds", param="exp")
        expires = int(expires_raw)
    return Params(values, signature, expires, preset)


def parse_params(pairs: Mapping[str, str], *, presets: Presets | None = None, accept: str | None = None) -> Request:
    """Parse decoded query parameters: expand the preset, build the spec, resolve ``fm=auto``."""
    params = read_params(pairs, presets)
    return Request(params.spec(accept), params.signature, params.expires, params.preset)


def parse_query(query: str, *, presets: Presets | None = None, accept: str | None = None) -> Request:
    """Parse a raw query string as a browser sends it."""
    return parse_params(split_query(query), presets=presets, accept=accept)


def check_presets(presets: Presets) -> None:
    """Validate configured presets up front, so a bad one fails at start-up and not per request."""
    for name, params in presets.items():
        if not PRESET_PATTERN.fullmatch(name):
            raise InvalidSpecError(f"preset name {name!r} must match {PRESET_PATTERN.pattern}", param="p")
        if set(params) & REQUEST_PARAMS:
            raise InvalidSpecError(f"preset {name!r} may not set p, s or exp", param="p")
        build(params)
