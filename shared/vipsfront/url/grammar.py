"""The URL grammar: one table of parameters, their values, and the canonical form read back.

``PARAMS`` drives parsing; ``build`` turns decoded ``name -> raw value`` pairs into a ``Spec`` (``dpr``
folded into ``w``/``h``, aliases normalised, parameters that cannot change the image dropped: ``fit``/
``pos`` need both ``w`` and ``h``; ``fx``/``fy`` only act with ``fit=cover``). ``parse_canonical`` reads
back exactly what ``Spec.canonical()`` writes. The JavaScript twin in ``functions/edge`` implements the
same grammar; ``tests/vectors/*.json`` keeps them equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from vipsfront.errors import InvalidSpecError
from vipsfront.url.rounding import times_half_up
from vipsfront.url.spec import FACE_CANONICAL, IDENTITY, MAX_SIDE, Fit, Flip, Fm, Position, Rect, Spec, format_value
from vipsfront.url.version import check_version

E = TypeVar("E", bound=StrEnum)

ORIGINAL_TOKEN = "original"  # the canonical text of the identity, where a path needs one

# value grammar: strict, so that the JavaScript twin can match it exactly
_INT = re.compile(r"[0-9]{1,6}")
_DEC = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4})?")
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
PRESET_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # a signing key's id, as in VIPSFRONT_SIGNING_KEYS and in s=
SIGNATURE_PATTERN = re.compile(KEY_ID.pattern + r"\.[A-Za-z0-9_-]{43}")
EXPIRES_PATTERN = re.compile(r"[0-9]{1,12}")
MAX_SOURCE_SIDE = 65535  # a ``rect`` lies within a source, which may be larger than an output
_RECT = re.compile(r"([0-9]{1,5})[,:]([0-9]{1,5})[,:]([0-9]{1,5})[,:]([0-9]{1,5})")
DPR_AUTO = "auto"  # dpr=auto: the ratio comes from a Sec-CH-DPR hint (vipsfront.url.route), else 1

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
    FACE_CANONICAL: "face",  # the canonical form names the detector (``Spec.canonical``)
}
_FM_ALIASES = {"jpg": "jpeg"}
FM_WRITTEN = "jpeg, png, webp, avif, gif, auto"  # what a URL says (and jpg); auto-* are auto resolved
_FLIP_ALIASES = {"vh": "hv"}
_BOOLS = {"0": False, "1": True, "false": False, "true": True}


def _int(name: str, raw: str, lo: int, hi: int) -> int:
    """One rule, one message: ``w=9000`` and ``w=400.5`` break the same rule."""
    if not _INT.fullmatch(raw) or not lo <= int(raw) <= hi:
        raise InvalidSpecError(f"{name} must be a whole number from {lo} to {hi}", param=name)
    return int(raw)


def _dec(name: str, raw: str, lo: float, hi: float) -> float:
    if not _DEC.fullmatch(raw) or not lo <= float(raw) <= hi:
        raise InvalidSpecError(
            f"{name} must be a number from {format_value(lo)} to {format_value(hi)} with at most 4 decimals",
            param=name,
        )
    return float(raw)


def _choice(
    name: str, raw: str, enum: type[E], aliases: Mapping[str, str] | None = None, written: str | None = None
) -> E:
    """``raw`` (or its alias) as ``enum``; the error lists ``written``, what a user writes, when the enum
    holds more than that (``fm``'s negotiated forms)."""
    value = (aliases or {}).get(raw, raw)
    try:
        return enum(value)
    except ValueError:
        allowed = written or ", ".join(m.value for m in enum)
        raise InvalidSpecError(f"{name} must be one of: {allowed}", param=name) from None


def position_name(raw: str) -> str | None:
    """The canonical ``pos`` value ``raw`` names (sharp's compass aliases such as ``north`` resolved), or
    ``None`` when it names none: what a dialect checks a foreign position against."""
    value = _POS_ALIASES.get(raw, raw)
    return value if value in {m.value for m in Position} else None


def _bool(name: str, raw: str) -> bool:
    if raw not in _BOOLS:
        raise InvalidSpecError(f"{name} must be 0 or 1", param=name)
    return _BOOLS[raw]


def _rot(name: str, raw: str) -> int:
    if raw not in ("0", "90", "180", "270"):
        raise InvalidSpecError(f"{name} must be 0, 90, 180 or 270", param=name)
    return int(raw)


def _bg(name: str, raw: str) -> str:
    """A hex colour (``rgb``, ``rrggbb``, ``rrggbbaa``, optional ``#``) in canonical form: six or eight
    lower-case digits, an opaque alpha dropped. ``Spec.background`` reads it back as RGBA."""
    match = _HEX.fullmatch(raw)
    if not match:
        raise InvalidSpecError(f"{name} must be a hex colour: rgb, rrggbb or rrggbbaa", param=name)
    value = match.group(1).lower()
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) == 8 and value.endswith("ff"):
        value = value[:6]
    return value


def _rect(raw: str) -> Rect:
    """``rect``: ``left,top,width,height`` in source pixels (``:`` between them in the canonical form)."""
    match = _RECT.fullmatch(raw)
    left, top, width, height = (int(part) for part in match.groups()) if match else (-1, -1, 0, 0)
    if not (0 <= min(left, top) and 1 <= min(width, height) and max(left + width, top + height) <= MAX_SOURCE_SIDE):
        raise InvalidSpecError(f"rect must be left,top,width,height within {MAX_SOURCE_SIDE}", param="rect")
    return left, top, width, height


def _dpr(raw: str) -> float:
    return 1.0 if raw == DPR_AUTO else _dec("dpr", raw, 1, 4)  # auto without a hint is 1


PARAMS: dict[str, Callable[[str], Any]] = {
    "w": lambda raw: _int("w", raw, 1, MAX_SIDE),
    "h": lambda raw: _int("h", raw, 1, MAX_SIDE),
    "dpr": _dpr,
    "fit": lambda raw: _choice("fit", raw, Fit),
    "pos": lambda raw: _choice("pos", raw, Position, _POS_ALIASES),
    "fx": lambda raw: _dec("fx", raw, 0, 1),
    "fy": lambda raw: _dec("fy", raw, 0, 1),
    "enlarge": lambda raw: _bool("enlarge", raw),
    "fm": lambda raw: _choice("fm", raw, Fm, _FM_ALIASES, FM_WRITTEN),
    "q": lambda raw: _int("q", raw, 1, 100),
    "blur": lambda raw: _dec("blur", raw, 0.3, 100),
    "sharpen": lambda raw: _dec("sharpen", raw, 0.3, 10),
    "rot": lambda raw: _rot("rot", raw),
    "flip": lambda raw: _choice("flip", raw, Flip, _FLIP_ALIASES),
    "bg": lambda raw: _bg("bg", raw),
    "rect": _rect,
    "trim": lambda raw: _int("trim", raw, 0, 255),
    "v": check_version,  # the original's version: last in the canonical form, signed like the rest
}
SPEC_PARAMS = frozenset(PARAMS)
REQUEST_PARAMS = frozenset({"p", "s", "exp"})  # preset, signature, expiry: beside the spec, not in it
ALL_PARAMS = SPEC_PARAMS | REQUEST_PARAMS


def check_names(names: Iterable[str], allowed: frozenset[str] = SPEC_PARAMS) -> None:
    """Raise ``InvalidSpecError`` for the first name not in ``allowed`` (named, cut to 40 characters)."""
    for name in names:
        if name not in allowed:
            raise InvalidSpecError(f"unknown parameter {name[:40]!r}", param=name[:40])


def build(params: Mapping[str, str]) -> Spec:
    """Build a spec from split, decoded ``name -> raw value`` pairs (no ``p``, ``s``, ``exp``)."""
    check_names(params)
    values: dict[str, Any] = {name: PARAMS[name](raw) for name, raw in params.items()}

    dpr = values.pop("dpr", 1.0)
    w, h = values.get("w"), values.get("h")
    if dpr != 1.0:
        if w is None and h is None:
            raise InvalidSpecError("dpr needs w or h", param="dpr")
        for name, side in (("w", w), ("h", h)):
            if side is not None:
                folded = times_half_up(side, dpr)
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


def to_query(spec: Spec) -> str:
    """A query string that parses back to ``spec`` (the canonical pairs joined by ``&``)."""
    return spec.canonical().replace(",", "&")
