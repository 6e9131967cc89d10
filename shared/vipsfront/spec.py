"""The URL transform spec: parse a query, check it, and write its canonical form.

One table of parameters (``PARAMS``) drives parsing; ``Spec.canonical()`` and ``parse_canonical`` are
inverse, so the CloudFront cache key, the S3 variant key and the signature always agree. The JavaScript
twin in ``functions/edge`` implements the same grammar; ``tests/vectors/*.json`` keeps them equal.

Canonical form: ``name=value`` pairs joined by ``,`` in the fixed order of ``CANONICAL_ORDER``, defaults
dropped, ``dpr`` folded into ``w``/``h``, aliases normalised, parameters that cannot change the image
dropped (``fit``/``pos`` need both ``w`` and ``h``; ``fx``/``fy`` only act with ``fit=cover``).
``fm=auto`` resolves, from the ``Accept`` header, to one of the ``auto*`` tokens: the output format also
depends on the source (alpha, animation), which only the origin knows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote, unquote, unquote_plus

from vipsfront.errors import InvalidKeyError, InvalidSpecError

E = TypeVar("E", bound=StrEnum)

MAX_SIDE = 8192
MAX_QUERY_LENGTH = 2048
MAX_KEY_BYTES = 900
VARIANT_SEGMENT = "_vf"
ORIGINAL_TOKEN = "original"
INFO_TOKEN = "info.json"  # no "=": never a canonical spec, so it sits safely beside the variants


class Fit(StrEnum):
    COVER = "cover"
    CONTAIN = "contain"
    FILL = "fill"
    INSIDE = "inside"
    OUTSIDE = "outside"


class Position(StrEnum):
    CENTER = "center"
    TOP = "top"
    BOTTOM = "bottom"
    LEFT = "left"
    RIGHT = "right"
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"
    ATTENTION = "attention"
    ENTROPY = "entropy"


class Format(StrEnum):
    """Concrete output formats."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"

    @property
    def media_type(self) -> str:
        return f"image/{self.value}"


class Fm(StrEnum):
    """What a request asks for: a concrete format, or ``auto`` resolved to what the client accepts."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"
    AUTO = "auto"  # auto, and the client takes neither AVIF nor WebP (or not yet negotiated)
    AUTO_WEBP = "auto-webp"
    AUTO_AVIF = "auto-avif"
    AUTO_AVIF_WEBP = "auto-avif-webp"

    @property
    def is_auto(self) -> bool:
        return self.value.startswith("auto")

    @property
    def accepts_avif(self) -> bool:
        return self in (Fm.AUTO_AVIF, Fm.AUTO_AVIF_WEBP)

    @property
    def accepts_webp(self) -> bool:
        return self in (Fm.AUTO_WEBP, Fm.AUTO_AVIF_WEBP)


class Flip(StrEnum):
    H = "h"
    V = "v"
    HV = "hv"


@dataclass(frozen=True, slots=True)
class Spec:
    """A transform, in output pixels (``dpr`` already folded). ``Spec()`` is the identity."""

    w: int | None = None
    h: int | None = None
    fit: Fit = Fit.COVER
    pos: Position = Position.CENTER
    fx: float | None = None
    fy: float | None = None
    enlarge: bool = False
    fm: Fm | None = None
    q: int | None = None
    blur: float | None = None
    sharpen: float | None = None
    rot: int = 0
    flip: Flip | None = None
    bg: str | None = None

    @property
    def is_identity(self) -> bool:
        return self == IDENTITY

    @property
    def negotiated(self) -> bool:
        """True when the output format depends on the client's ``Accept`` header."""
        return self.fm is not None and self.fm.is_auto

    def canonical(self) -> str:
        """The deterministic ``name=value,...`` form; ``""`` for the identity."""
        parts: list[str] = []
        for name in CANONICAL_ORDER:
            value = getattr(self, name)
            if value is None or value == _DEFAULTS[name]:
                continue
            parts.append(f"{name}={_format_value(value)}")
        return ",".join(parts)

    def signing_canonical(self) -> str:
        """The canonical form with any ``auto*`` format collapsed to ``auto``: what a signature covers."""
        if self.fm is not None and self.fm.is_auto:
            return replace(self, fm=Fm.AUTO).canonical()
        return self.canonical()

    def with_accept(self, accept: str | None) -> Spec:
        """Resolve ``fm=auto`` (any ``auto*`` token) from an ``Accept`` header; other specs are unchanged."""
        if self.fm is None or not self.fm.is_auto:
            return self
        return replace(self, fm=negotiate(accept))


IDENTITY = Spec()
CANONICAL_ORDER: tuple[str, ...] = tuple(f.name for f in fields(Spec))
_DEFAULTS = {f.name: f.default for f in fields(Spec)}


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request query: the spec plus what travels beside it."""

    spec: Spec
    signature: str | None = None
    expires: int | None = None
    preset: str | None = None


# ---------------------------------------------------------------------------------------------------
# value grammar: strict, so that the JavaScript twin can match it exactly

_INT = re.compile(r"[0-9]{1,6}")
_DEC = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4})?")
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_PRESET = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
SIGNATURE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{43}")

_POS_ALIASES = {
    "centre": "center",
    "north": "top",
    "south": "bottom",
    "east": "right",
    "west": "left",
    "northeast": "top-right",
    "northwest": "top-left",
    "southeast": "bottom-right",
    "southwest": "bottom-left",
}
_FM_ALIASES = {"jpg": "jpeg"}
_FLIP_ALIASES = {"vh": "hv"}
_BOOLS = {"0": False, "1": True, "false": False, "true": True}


def _int(name: str, raw: str, lo: int, hi: int) -> int:
    if not _INT.fullmatch(raw):
        raise InvalidSpecError(f"{name} must be a whole number from {lo} to {hi}", param=name)
    value = int(raw)
    if not lo <= value <= hi:
        raise InvalidSpecError(f"{name} must be from {lo} to {hi}", param=name)
    return value


def _dec(name: str, raw: str, lo: float, hi: float) -> float:
    if not _DEC.fullmatch(raw):
        raise InvalidSpecError(
            f"{name} must be a number from {_format_value(lo)} to {_format_value(hi)} with at most 4 decimals",
            param=name,
        )
    value = float(raw)
    if not lo <= value <= hi:
        raise InvalidSpecError(f"{name} must be from {_format_value(lo)} to {_format_value(hi)}", param=name)
    return value


def _choice(name: str, raw: str, enum: type[E], aliases: Mapping[str, str] | None = None) -> E:
    value = (aliases or {}).get(raw, raw)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidSpecError(f"{name} must be one of: {allowed}", param=name) from None


def _bool(name: str, raw: str) -> bool:
    if raw not in _BOOLS:
        raise InvalidSpecError(f"{name} must be 0 or 1", param=name)
    return _BOOLS[raw]


def _rot(name: str, raw: str) -> int:
    if raw not in ("0", "90", "180", "270"):
        raise InvalidSpecError(f"{name} must be 0, 90, 180 or 270", param=name)
    return int(raw)


def _bg(name: str, raw: str) -> str:
    match = _HEX.fullmatch(raw)
    if not match:
        raise InvalidSpecError(f"{name} must be a hex colour: rgb, rrggbb or rrggbbaa", param=name)
    value = match.group(1).lower()
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) == 8 and value.endswith("ff"):
        value = value[:6]
    return value


def _format_value(value: object) -> str:
    """Numbers print like JavaScript's ``String(n)``: ``1`` not ``1.0``, ``0.25`` not ``.25``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "w": lambda raw: _int("w", raw, 1, MAX_SIDE),
    "h": lambda raw: _int("h", raw, 1, MAX_SIDE),
    "dpr": lambda raw: 1.0 if raw == "auto" else _dec("dpr", raw, 1, 4),  # auto: Sec-CH-DPR, see edge
    "fit": lambda raw: _choice("fit", raw, Fit),
    "pos": lambda raw: _choice("pos", raw, Position, _POS_ALIASES),
    "fx": lambda raw: _dec("fx", raw, 0, 1),
    "fy": lambda raw: _dec("fy", raw, 0, 1),
    "enlarge": lambda raw: _bool("enlarge", raw),
    "fm": lambda raw: _choice("fm", raw, Fm, _FM_ALIASES),
    "q": lambda raw: _int("q", raw, 1, 100),
    "blur": lambda raw: _dec("blur", raw, 0.3, 100),
    "sharpen": lambda raw: _dec("sharpen", raw, 0.3, 10),
    "rot": lambda raw: _rot("rot", raw),
    "flip": lambda raw: _choice("flip", raw, Flip, _FLIP_ALIASES),
    "bg": lambda raw: _bg("bg", raw),
}
SPEC_PARAMS = frozenset(_PARSERS)
REQUEST_PARAMS = frozenset({"p", "s", "exp"})
ALL_PARAMS = SPEC_PARAMS | REQUEST_PARAMS


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def build(params: Mapping[str, str]) -> Spec:
    """Build a spec from already split, decoded ``name -> raw value`` pairs (no ``p``, ``s``, ``exp``)."""
    for name in params:
        if name not in SPEC_PARAMS:
            raise InvalidSpecError(f"unknown parameter {name!r}", param=name)
    values: dict[str, Any] = {name: _PARSERS[name](raw) for name, raw in params.items()}

    dpr = values.pop("dpr", 1.0)
    w, h = values.get("w"), values.get("h")
    if dpr != 1.0:
        if w is None and h is None:
            raise InvalidSpecError("dpr needs w or h", param="dpr")
        for name, side in (("w", w), ("h", h)):
            if side is not None:
                folded = _round_half_up(side * dpr)
                if folded > MAX_SIDE:
                    raise InvalidSpecError(f"{name} times dpr must be at most {MAX_SIDE}", param=name)
                values[name] = folded

    both = values.get("w") is not None and values.get("h") is not None
    fit = values.get("fit", Fit.COVER)
    if not both:
        # With one side the other follows from the aspect ratio: every fit gives the same image.
        for name in ("fit", "pos", "fx", "fy"):
            values.pop(name, None)
    else:
        if fit not in (Fit.COVER, Fit.CONTAIN):
            values.pop("pos", None)
        if fit != Fit.COVER:
            values.pop("fx", None)
            values.pop("fy", None)
        elif "fx" in values or "fy" in values:
            values.setdefault("fx", 0.5)
            values.setdefault("fy", 0.5)
            values.pop("pos", None)  # the focal point wins over pos
    return Spec(**values)


# ---------------------------------------------------------------------------------------------------
# query strings


def split_query(query: str) -> dict[str, str]:
    """Split and decode a raw query string; duplicated or nameless parameters are errors."""
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidSpecError(f"query longer than {MAX_QUERY_LENGTH} characters", param=None)
    pairs: dict[str, str] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, raw = piece.partition("=")
        try:
            name = unquote_plus(name, errors="strict")
            raw = unquote_plus(raw, errors="strict")
        except UnicodeDecodeError:
            raise InvalidSpecError("query is not valid UTF-8", param=None) from None
        if not name:
            raise InvalidSpecError("parameter without a name", param=None)
        if name not in ALL_PARAMS:
            raise InvalidSpecError(f"unknown parameter {name[:40]!r}", param=name[:40])
        if name in pairs:
            raise InvalidSpecError(f"parameter {name!r} given more than once", param=name)
        pairs[name] = raw
    return pairs


def parse_params(
    params: Mapping[str, str],
    *,
    presets: Mapping[str, Mapping[str, str]] | None = None,
    accept: str | None = None,
) -> Request:
    """Parse decoded query parameters: expand the preset, build the spec, resolve ``fm=auto``."""
    params = dict(params)
    preset = params.pop("p", None)
    signature = params.pop("s", None)
    expires_raw = params.pop("exp", None)
    for name in params:
        if name not in SPEC_PARAMS:
            raise InvalidSpecError(f"unknown parameter {name[:40]!r}", param=name[:40])
    if preset is not None:
        if not _PRESET.fullmatch(preset) or preset not in (presets or {}):
            raise InvalidSpecError("unknown preset", param="p")
        params = {**(presets or {})[preset], **params}
    if signature is not None and not SIGNATURE_PATTERN.fullmatch(signature):
        raise InvalidSpecError("s must be KEYID.SIGNATURE (base64url HMAC-SHA256)", param="s")
    expires = None
    if expires_raw is not None:
        if not re.fullmatch(r"[0-9]{1,12}", expires_raw):
            raise InvalidSpecError("exp must be a Unix time in seconds", param="exp")
        expires = int(expires_raw)
    spec = build(params).with_accept(accept)
    return Request(spec=spec, signature=signature, expires=expires, preset=preset)


def parse_query(
    query: str,
    *,
    presets: Mapping[str, Mapping[str, str]] | None = None,
    accept: str | None = None,
) -> Request:
    """Parse a raw query string as a browser sends it."""
    return parse_params(split_query(query), presets=presets, accept=accept)


def parse_canonical(text: str) -> Spec:
    """Parse a canonical form; anything not exactly canonical is rejected (one URL per variant)."""
    if text == ORIGINAL_TOKEN:
        return IDENTITY
    params: dict[str, str] = {}
    for piece in text.split(","):
        name, sep, raw = piece.partition("=")
        if not sep or name not in SPEC_PARAMS or name in params or name == "dpr":
            raise InvalidSpecError("malformed canonical spec", param=name if name in ALL_PARAMS else None)
        params[name] = raw
    spec = build(params)
    if spec.canonical() != text:
        raise InvalidSpecError("spec is not in canonical form", param=None)
    return spec


def check_presets(presets: Mapping[str, Mapping[str, str]]) -> None:
    """Validate configured presets up front, so a bad one fails at start-up and not per request."""
    for name, params in presets.items():
        if not _PRESET.fullmatch(name):
            raise InvalidSpecError(f"preset name {name!r} must match {_PRESET.pattern}", param="p")
        if set(params) & REQUEST_PARAMS:
            raise InvalidSpecError(f"preset {name!r} may not set p, s or exp", param="p")
        build(params)


# ---------------------------------------------------------------------------------------------------
# content negotiation


def _accepted(accept: str | None) -> set[str]:
    types: set[str] = set()
    for item in (accept or "").lower().split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            types.add(media)
    return types


def negotiate(accept: str | None) -> Fm:
    """The ``auto*`` token for an ``Accept`` header: which modern formats the client takes.

    Only explicit ``image/avif`` / ``image/webp`` count; ``*/*`` (curl, old browsers) does not.
    """
    types = _accepted(accept)
    avif, webp = "image/avif" in types, "image/webp" in types
    if avif and webp:
        return Fm.AUTO_AVIF_WEBP
    if avif:
        return Fm.AUTO_AVIF
    if webp:
        return Fm.AUTO_WEBP
    return Fm.AUTO


def output_format(fm: Fm | None, source: str, *, alpha: bool, animated: bool) -> Format:
    """The concrete format to encode: explicit ``fm``, else ``auto*`` by traits, else the source's.

    ``source`` is the loader's format name (``jpeg``, ``png``, ``webp``, ``heif``, ``gif``, ``tiff``...).
    AVIF first, then WebP, then JPEG (PNG when the image has alpha); animation keeps WebP, else GIF.
    """
    if fm is not None and not fm.is_auto:
        return Format(fm.value)
    if fm is not None:
        if animated:
            return Format.WEBP if fm.accepts_webp else Format.GIF
        if fm.accepts_avif:
            return Format.AVIF
        if fm.accepts_webp:
            return Format.WEBP
        return Format.PNG if alpha else Format.JPEG
    if source in {f.value for f in Format}:
        return Format(source)
    return Format.PNG if alpha else Format.JPEG


# ---------------------------------------------------------------------------------------------------
# keys and paths


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
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError("key has an empty, '.' or '..' segment", param="key")
        if segment == VARIANT_SEGMENT:
            raise InvalidKeyError(f"key may not contain a {VARIANT_SEGMENT!r} segment", param="key")
    return key


def variant_prefix(key: str) -> str:
    """The prefix under which every variant of ``key`` is stored."""
    return f"{key}/{VARIANT_SEGMENT}/"


def variant_key(key: str, spec: Spec) -> str:
    """The S3 key of one variant; the identity spec maps to ``.../_vf/original``."""
    return variant_prefix(key) + (spec.canonical() or ORIGINAL_TOKEN)


def info_key(key: str) -> str:
    """The S3 key of an original's cached ``/_vf/info`` answer, listed and purged with its variants."""
    return variant_prefix(key) + INFO_TOKEN


def encode_key(key: str) -> str:
    """Percent-encode a key for a URL path: every byte but ``A-Za-z0-9-._~`` and ``/``."""
    return quote(key, safe="/")


def variant_path(key: str, spec: Spec) -> str:
    """The canonical URL path of a variant, as the edge rewrites it and S3 stores it."""
    return "/" + encode_key(variant_prefix(key)) + (spec.canonical() or ORIGINAL_TOKEN)


@dataclass(frozen=True, slots=True)
class Path:
    """A request path: the original's key and, for the canonical path form, its spec."""

    key: str
    canonical: Spec | None = None


def parse_path(raw_path: str) -> Path:
    """Split a percent-encoded URL path into key and optional canonical spec (``/{key}/_vf/{spec}``)."""
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidKeyError("path is not valid UTF-8", param="key") from None
    path = path.removeprefix("/")
    marker = f"/{VARIANT_SEGMENT}/"
    head, sep, tail = path.partition(marker)
    if sep and "/" not in tail:
        return Path(key=check_key(head), canonical=parse_canonical(tail))
    return Path(key=check_key(path))


def to_query(spec: Spec) -> str:
    """A query string that parses back to ``spec`` (the canonical pairs joined by ``&``)."""
    return spec.canonical().replace(",", "&")
