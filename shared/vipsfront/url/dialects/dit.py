"""The Serverless Image Handler's requests (Dynamic Image Transformation for Amazon CloudFront).

Three forms, as the solution reads them: a base64-encoded JSON request (``/{base64}``: ``bucket``,
``key``, ``edits``), a thumbor-style path without ``unsafe`` (``/fit-in/200x200/filters:format(webp)/
key``; ``rotate`` turns clockwise there, as in sharp) and the query parameters that override either
(``format``, ``fit``, ``width``, ``height``, ``rotate``, ``flip``, ``flop``).

Edits that map: ``resize`` (``width``, ``height``, sharp's ``fit``, ``background``, ``withoutEnlargement``
- only ``false`` enlarges -, ``position``), ``toFormat``, the output format's ``quality``
(``jpeg: {quality}``...), ``rotate`` (multiples of 90), ``flip``, ``flop``, ``blur``, ``sharpen``,
``flatten`` (its background), ``extract``/``crop`` (a source rectangle: before any resize). A ``bucket``
must be one the dialect's settings map to a key prefix. A signature is the solution's: ``signature`` =
hex HMAC-SHA256 of the path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from vipsfront.url.dialects.base import (
    MAX_PATH_LENGTH,
    Options,
    Translation,
    checked,
    decimal,
    key_of,
    no_equivalent,
    refuse,
    split_pairs,
    verify,
)
from vipsfront.url.dialects.thumbor import Flavour, read_path
from vipsfront.url.grammar import position_name

NAME = "dit"
FLAVOUR = Flavour(NAME, signed_paths=False, clockwise=True)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_HEXSIG = re.compile(r"[0-9a-f]{64}")
_FORMATS = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png", "webp": "webp", "avif": "avif", "gif": "gif"}
_FITS = frozenset({"cover", "contain", "fill", "inside", "outside"})
_POSITIONS = {  # sharp's two-word forms; every other name as the native grammar reads it (``position_name``)
    "right top": "top-right",
    "right bottom": "bottom-right",
    "left top": "top-left",
    "left bottom": "bottom-left",
}
_QUERY = frozenset({"format", "fit", "width", "height", "rotate", "flip", "flop", "signature"})
_TRUE = frozenset({"true", "True", "1"})


def _int(name: str, value: Any, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= 99999:
        raise refuse(NAME, name, f"{name} must be a whole number from {lo}")
    return value


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10000:
        raise refuse(NAME, name, f"{name} must be a number")
    return float(value)


def _colour(name: str, value: Any) -> str:
    """sharp's colour: ``#rrggbb`` text or ``{r, g, b, alpha}`` (alpha 0..1)."""
    if isinstance(value, str) and re.fullmatch(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})", value):
        return value.removeprefix("#")
    if isinstance(value, dict) and set(value) <= {"r", "g", "b", "alpha"}:
        r, g, b = (_int(name, value.get(c, 0)) for c in "rgb")
        alpha = _number(name, value.get("alpha", 1))
        if max(r, g, b) > 255 or alpha > 1:
            raise refuse(NAME, name, f"{name} channels are 0..255 and alpha 0..1")
        return f"{r:02x}{g:02x}{b:02x}{round(alpha * 255):02x}"
    raise refuse(NAME, name, f"{name} must be a hex colour or {{r, g, b, alpha}}")


def _sigma(name: str, value: Any, top: float) -> str | None:
    if value is True:
        return "1"
    if value is False or value is None:
        return None
    if isinstance(value, dict):
        value = value.get("sigma")
    return decimal(min(top, max(0.3, _number(name, value))))


def _resize(resize: Any, values: dict[str, str]) -> None:
    if not isinstance(resize, dict):
        raise refuse(NAME, "resize", "resize must be an object")
    for name, value in resize.items():
        if name in ("width", "height"):
            if value is not None and _int(f"resize.{name}", value):
                values[name[0]] = str(value)
        elif name == "fit":
            if not isinstance(value, str) or value not in _FITS:
                raise refuse(NAME, "resize.fit", f"resize.fit {str(value)[:40]!r} has no equivalent here")
            values["fit"] = value
        elif name == "background":
            values["bg"] = _colour("resize.background", value)
        elif name == "withoutEnlargement":
            values["enlarge"] = "0" if value else "1"
        elif name == "position":
            position = _POSITIONS.get(value) or position_name(value) if isinstance(value, str) else None
            if position is None:
                raise refuse(NAME, "resize.position", f"resize.position {str(value)[:40]!r} has no equivalent here")
            values["pos"] = position
        else:
            raise no_equivalent(NAME, "resize option", f"resize.{name}")


def _edits(edits: Any, values: dict[str, str]) -> None:
    if not isinstance(edits, dict):
        raise refuse(NAME, "edits", "edits must be an object")
    qualities: dict[str, Any] = {}
    resized = False
    for name, value in edits.items():
        if name == "resize":
            _resize(value, values)
            resized = True
        elif name in ("extract", "crop"):
            if resized:
                raise refuse(NAME, name, f"{name} after resize has no equivalent here (put it first)")
            if not isinstance(value, dict) or set(value) != {"left", "top", "width", "height"}:
                raise refuse(NAME, name, f"{name} takes left, top, width and height")
            values["rect"] = ",".join(
                str(_int(f"{name}.{side}", value[side])) for side in ("left", "top", "width", "height")
            )
        elif name == "toFormat":
            if not isinstance(value, str) or value not in _FORMATS:
                raise refuse(NAME, "toFormat", f"toFormat {str(value)[:40]!r} has no equivalent here")
            values["fm"] = _FORMATS[value]
        elif name in _FORMATS and name != "jpg":
            if not isinstance(value, dict) or set(value) - {"quality"}:
                raise refuse(NAME, name, f"{name} takes only quality here")
            qualities[_FORMATS[name]] = value.get("quality")
        elif name == "rotate":
            if value is not None and value not in (0, 90, 180, 270):
                raise refuse(NAME, "rotate", "rotate takes 0, 90, 180 or 270 (other angles have no equivalent)")
            if value:
                values["rot"] = str(value)
        elif name in ("flip", "flop"):
            if value:
                values["flip"] = "".join(sorted({*values.get("flip", ""), "v" if name == "flip" else "h"}))
        elif name in ("blur", "sharpen"):
            sigma = _sigma(name, value, 100 if name == "blur" else 10)
            if sigma:
                values[name] = sigma
        elif name == "flatten":
            if isinstance(value, dict) and "background" in value:
                values["bg"] = _colour("flatten.background", value["background"])
        else:
            raise no_equivalent(NAME, "edit", name)
    fm = values.get("fm")
    quality = qualities.get(fm) if fm else next(iter(qualities.values())) if len(qualities) == 1 else None
    if quality is not None:
        values["q"] = str(_int("quality", quality, 1))


def _request(segment: str) -> dict[str, Any] | None:
    """The decoded JSON request, or ``None`` when ``segment`` is not base64 JSON (then it is a key)."""
    if not _BASE64.fullmatch(segment):
        return None
    try:
        text = base64.b64decode(segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4), validate=True)
        request = json.loads(text)
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(request, dict):
        raise refuse(NAME, "request", "the base64 request must be a JSON object")
    return request


def translate(path: str, query: str, options: Options, *, now: float) -> Translation:
    """The native parameters of a Serverless Image Handler URL (``path`` after the dialect's prefix)."""
    if len(path) > MAX_PATH_LENGTH:
        raise refuse(NAME, "key", f"path longer than {MAX_PATH_LENGTH} characters")
    pairs = dict(split_pairs(NAME, query))
    values: dict[str, str] = {}
    segments = path.removeprefix("/").split("/")
    request = _request(segments[0]) if len(segments) == 1 else None
    if request is not None:
        unknown = sorted(set(request) - {"bucket", "key", "edits"})
        if unknown:
            raise no_equivalent(NAME, "request field", unknown[0])
        if not isinstance(request.get("key"), str):
            raise refuse(NAME, "key", "the request needs a key")
        bucket = request.get("bucket")
        if bucket is not None and not isinstance(bucket, str):
            raise refuse(NAME, "bucket", "bucket must be a name")
        _edits(request.get("edits") or {}, values)
        key = key_of(NAME, request["key"].replace("%", "%25"), options, bucket)
    else:
        key_segments = read_path(FLAVOUR, segments, values)
        bucket = None
        if key_segments[0].startswith("s3:"):
            bucket = key_segments[0].removeprefix("s3:")
            key_segments = key_segments[1:]
        key = key_of(NAME, "/".join(key_segments), options, bucket)
    _query(pairs, values)
    return Translation(key, checked(NAME, values), _signed(path, pairs.get("signature"), options))


def _query(pairs: dict[str, str], values: dict[str, str]) -> None:
    """The query parameters, over what the path asked for."""
    for name, raw in pairs.items():
        if name not in _QUERY:
            raise no_equivalent(NAME, "parameter", name)
        if name == "format":
            if raw not in _FORMATS:
                raise refuse(NAME, "format", f"format {raw[:40]!r} has no equivalent here")
            values["fm"] = _FORMATS[raw]
        elif name == "fit":
            values["fit"] = raw
        elif name in ("width", "height"):
            if raw != "0":
                values[name[0]] = raw
        elif name == "rotate":
            if raw not in ("", "0", "90", "180", "270"):
                raise refuse(NAME, "rotate", "rotate takes 0, 90, 180 or 270 (other angles have no equivalent)")
            if raw and raw != "0":
                values["rot"] = raw
        elif name in ("flip", "flop") and raw in _TRUE:
            values["flip"] = "".join(sorted({*values.get("flip", ""), "v" if name == "flip" else "h"}))


def _signed(path: str, signature: str | None, options: Options) -> bool:
    """Whether ``signature`` is the solution's for ``path`` (``False`` without one or without a secret)."""
    if signature is None or options.secret is None:
        return False
    if not _HEXSIG.fullmatch(signature):
        raise refuse(NAME, "signature", "signature must be 64 hex digits (HMAC-SHA256)")
    verify(NAME, hmac.new(options.secret, path.encode(), hashlib.sha256).hexdigest(), signature)
    return True
