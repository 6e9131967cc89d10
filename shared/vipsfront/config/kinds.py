"""Kinds of setting: how a variable's text becomes its value, and the value its text again.

Each parser takes the stripped, non-empty text of a variable and raises ``ValueError`` saying what is
wrong; the reader (``vipsfront.config.settings``) puts the variable's name in front. ``parse_presets``
and ``parse_sizes`` also take parsed JSON values: the CDK checks its context with them.

Pure: no engine, no libvips, no AWS SDK, so the CDK can import it at synth.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vipsfront.config.cost import Architecture
from vipsfront.errors import VipsfrontError
from vipsfront.url.dialects.choice import parse_dialects
from vipsfront.url.policy import UnsignedPolicy, check_params, check_prefixes
from vipsfront.url.query import check_presets
from vipsfront.url.signing import format_keys, parse_keys
from vipsfront.url.spec import MAX_SIDE


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of setting: its parser, its renderer (``parse(render(v)) == v``) and what it takes, in words."""

    parse: Callable[[str], Any]
    render: Callable[[Any], str]
    takes: str


def parse_presets(raw: str | Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Presets from JSON text (or its parsed value), each checked by the URL grammar.

    ``{"thumb": {"w": "200", "h": "200"}}``; numbers are accepted for values. Raise ``ValueError``.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError('presets must be a JSON object like {"thumb": {"w": "200", "h": "200"}}') from None
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        raise ValueError('presets must look like {"thumb": {"w": "200", "h": "200"}}')
    presets = {str(name): {str(k): _preset_value(v) for k, v in params.items()} for name, params in raw.items()}
    for name, params in presets.items():
        try:
            check_presets({name: params})
        except (ValueError, VipsfrontError) as error:
            raise ValueError(f"preset {name!r}: {error}") from None
    return presets


def _preset_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"preset values must be strings or numbers, not {value!r}")
    return str(value)


def parse_sizes(raw: str | list[Any] | tuple[Any, ...]) -> tuple[int, ...] | None:
    """A size list: ``"640,320"`` or a list of numbers, sorted; ``""``/``"*"``: any size; ``"none"``: none."""
    if isinstance(raw, str):
        text = raw.strip()
        if text in ("", "*"):
            return None
        if text == "none":
            return ()
        raw = text.split(",")
    try:
        sizes = tuple(sorted({int(str(v).strip()) for v in raw if str(v).strip()}))
    except ValueError:
        raise ValueError(f"must be a comma list of pixel sizes from 1 to {MAX_SIDE}") from None
    UnsignedPolicy(widths=sizes)  # the policy's own range check
    return sizes


def _parse_params(raw: str | Mapping[str, Any]) -> dict[str, tuple[str, ...] | None] | None:
    """The unsigned parameters' allow-list from JSON text (or its parsed value); ``"*"``: every one.

    ``{"fit": "*", "pos": ["center", "top"], "fm": "*", "q": ["60", "90"]}``: a parameter absent is refused
    unsigned; ``"*"`` allows each of its values. Raise ``ValueError``.
    """
    if isinstance(raw, str):
        if raw.strip() == "*":
            return None
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError('must be "*" or a JSON object like {"fm": "*", "q": ["60", "90"]}') from None
    if not isinstance(raw, Mapping):
        raise ValueError('must be "*" or a JSON object like {"fm": "*", "q": ["60", "90"]}')
    params = check_params(raw)
    return None if params is None else dict(params)


def _parse_prefixes(raw: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...] | None:
    """Key prefixes: ``"public/,shop/"`` or a list; ``""``/``"*"``: every key. Raise ``ValueError``."""
    if isinstance(raw, str):
        if raw.strip() in ("", "*"):
            return None
        raw = raw.split(",")
    return check_prefixes(str(p).strip() for p in raw if str(p).strip())


def _parse_origins(raw: str) -> tuple[str, ...]:
    """CORS origins: ``"*"`` or a comma list of ``scheme://host[:port]``; ``""``: none."""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            raise ValueError(f"must be '*' or origins like https://www.example.com, not {origin!r}")
    return origins


def _render_number(value: float) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _render_sizes(sizes: tuple[int, ...] | None) -> str:
    if sizes is None:
        return "*"
    return ",".join(map(str, sizes)) if sizes else "none"


def _render_params(params: Mapping[str, tuple[str, ...] | None] | None) -> str:
    if params is None:
        return "*"
    return _json({name: "*" if values is None else list(values) for name, values in params.items()})


def _parse_flag(raw: str) -> bool:
    text = raw.lower()
    if text not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"must be 0 or 1, not {raw!r}")
    return text in ("1", "true", "yes")


def _range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"from {lo:,} to {hi:,}"
    if lo is not None:
        return f"of at least {lo:,}"
    return f"of at most {hi:,}" if hi is not None else ""


def integer(lo: int | None = None, hi: int | None = None) -> Kind:
    """A whole number within ``lo..hi`` (either end open when ``None``)."""
    said = f"a whole number {_range(lo, hi)}".strip()

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ValueError(f"must be {said}, not {raw!r}")
        return value

    return Kind(parse, str, said)


def number(hi: float) -> Kind:
    """A positive finite number up to ``hi``."""
    said = f"a positive number up to {_render_number(hi)}"

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not 0 < value <= hi:
            raise ValueError(f"must be {said}, not {raw!r}")
        return value

    return Kind(parse, _render_number, said)


def _parse_usd(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number of USD, not {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"must be a non-negative number of USD, not {raw!r}")
    return value


def _render_usd(usd: float) -> str:
    """Positional rather than scientific (``0.0000133334``, not ``1.33334e-05``) when that reads back exactly."""
    text = f"{usd:.16f}".rstrip("0").rstrip(".")
    return text if float(text) == usd else repr(usd)


def _parse_names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


TEXT = Kind(str, str, "text")
FLAG = Kind(_parse_flag, lambda value: "1" if value else "0", "`0` or `1`")
USD = Kind(_parse_usd, _render_usd, "a non-negative number of USD")
KEYS = Kind(parse_keys, format_keys, "`kid:secret,kid2:secret2`, secrets of 16+ characters")
PRESETS = Kind(
    parse_presets, lambda presets: _json({k: dict(v) for k, v in presets.items()}), "JSON: name to parameters"
)
SIZES = Kind(parse_sizes, _render_sizes, "comma list of pixel sizes (1-8192), `*` (any) or `none`")
PARAMS = Kind(_parse_params, _render_params, "JSON: parameter to `*` or a list of values; `*` alone: all")
PREFIXES = Kind(
    _parse_prefixes, lambda prefixes: "*" if prefixes is None else ",".join(prefixes), "comma list of `folder/`"
)
ORIGINS = Kind(_parse_origins, ",".join, "`*` or comma list of `https://host[:port]`")
ARCHITECTURE = Kind(Architecture.parse, lambda arch: arch.value, "`arm64` or `x86_64`")
NAMES = Kind(_parse_names, ",".join, "comma list of names")
DIALECTS = Kind(
    parse_dialects, lambda dialects: _json(dialects.to_config()), "JSON: path prefix to dialect (`docs/migrating.md`)"
)
