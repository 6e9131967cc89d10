"""imgix's rendering API (``?w=800&h=600&fit=crop&auto=format``), read into native parameters.

What maps: ``w``, ``h``, ``dpr``, ``q``, ``fit`` (``clip``, the default, and ``max`` fit inside; ``crop``
and ``min`` cover; ``fill`` and ``fillmax`` pad with ``fill-color``; ``scale`` stretches), ``crop``
(compass lists; ``entropy``; ``edges`` as saliency, ``attention``; ``faces`` as ``face``; ``focalpoint`` with
``fp-x``/``fp-y``), ``auto`` (``format``: ``fm=auto`` unless ``fm`` is given; ``compress`` and the rest
ignored: the default qualities are calibrated per format already), ``fm`` (``pjpg`` is plain JPEG;
``png8``/``png32`` are PNG), ``blur`` (0..2000, sigma = value / 20), ``sharp`` (0..100, sigma = value / 10),
``rot`` (multiples of 90), ``flip``, ``bg`` and ``fill-color`` (imgix's ARGB order), ``rect``, ``expires``;
``ixlib``/``ixid`` ignored.
imgix enlarges with ``clip``, ``crop``, ``fill`` and ``scale``; here nothing is enlarged (the unsigned
policy refuses ``enlarge``). A signature is imgix's: ``s`` = MD5 of the secret, the path and the query
without ``s``, hex.
"""

from __future__ import annotations

import hashlib
import re

from vipsfront.errors import SignatureError
from vipsfront.url.dialects.base import (
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

NAME = "imgix"
_FIT = {
    "clip": "inside",
    "max": "inside",
    "crop": "cover",
    "min": "cover",
    "fill": "contain",
    "fillmax": "contain",
    "scale": "fill",
}
_FM = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "pjpg": "jpeg",
    "png": "png",
    "png8": "png",
    "png32": "png",
    "webp": "webp",
    "avif": "avif",
    "gif": "gif",
}
_SMART = {"entropy": "entropy", "edges": "attention", "faces": "face"}
_COMPASS = {"top", "bottom", "left", "right", "center"}
_PASSED = {"w": "w", "h": "h", "dpr": "dpr", "q": "q", "flip": "flip", "rect": "rect"}
_IGNORED = frozenset({"ixlib", "ixid", "s", "expires"})
_HEX = re.compile(r"#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_NUMBER = re.compile(r"[0-9]{1,4}(\.[0-9]{1,6})?")
_MD5 = re.compile(r"[0-9a-f]{32}")


def colour(name: str, raw: str) -> str:
    """imgix's ``rgb``, ``argb``, ``rrggbb`` or ``aarrggbb`` as the native ``rrggbbaa``."""
    match = _HEX.fullmatch(raw)
    if not match:
        raise refuse(NAME, name, f"{name} must be a hex colour: rgb, argb, rrggbb or aarrggbb")
    digits = match.group(1).lower()
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits)
    return digits[2:] + digits[:2] if len(digits) == 8 else digits


def _number(name: str, raw: str, hi: float) -> float:
    if not _NUMBER.fullmatch(raw) or float(raw) > hi:
        raise refuse(NAME, name, f"{name} must be a number from 0 to {decimal(hi)}")
    return float(raw)


def _sigma(name: str, raw: str, hi: float, scale: float, top: float) -> str | None:
    value = _number(name, raw, hi)
    return None if value == 0 else decimal(min(top, max(0.3, value / scale)))


def _crop(values: dict[str, str], raw: str, pairs: dict[str, str]) -> None:
    """``crop``: the first smart mode named, else a compass position, else the focal point."""
    modes = raw.split(",")
    unknown = [m for m in modes if m not in _COMPASS and m not in _SMART and m != "focalpoint"]
    if unknown:
        raise refuse(NAME, "crop", f"crop {unknown[0][:40]!r} has no equivalent here")
    if "focalpoint" in modes:
        values["fx"] = decimal(_number("fp-x", pairs.get("fp-x", "0.5"), 1))
        values["fy"] = decimal(_number("fp-y", pairs.get("fp-y", "0.5"), 1))
        return
    smart = [_SMART[m] for m in modes if m in _SMART]
    if smart:
        values["pos"] = smart[0]
        return
    vertical = next((m for m in modes if m in ("top", "bottom")), "")
    horizontal = next((m for m in modes if m in ("left", "right")), "")
    values["pos"] = "-".join(filter(None, (vertical, horizontal))) or "center"


def translate(path: str, query: str, options: Options, *, now: float) -> Translation:
    """The native parameters of an imgix URL (``path`` after the dialect's prefix, ``query`` raw)."""
    key = key_of(NAME, path, options)
    pairs = dict(split_pairs(NAME, query))
    values: dict[str, str] = {}
    fill_colour = None
    for name, raw in pairs.items():
        if name in _PASSED:
            values[_PASSED[name]] = raw
        elif name == "fit":
            if raw not in _FIT:
                raise refuse(NAME, "fit", f"fit {raw[:40]!r} has no equivalent here")
            values["fit"] = _FIT[raw]
        elif name == "fm":
            if raw == "json":
                raise refuse(NAME, "fm", "fm=json: the image's information is at /_vf/info/{key}")
            if raw not in _FM:
                raise refuse(NAME, "fm", f"fm {raw[:40]!r} has no equivalent here")
            values["fm"] = _FM[raw]
        elif name == "blur":
            sigma = _sigma("blur", raw, 2000, 20, 100)
            values.update({"blur": sigma} if sigma else {})
        elif name == "sharp":
            sigma = _sigma("sharp", raw, 100, 10, 10)
            values.update({"sharpen": sigma} if sigma else {})
        elif name == "rot":
            if raw not in ("0", "90", "180", "270"):
                raise refuse(NAME, "rot", "rot must be 0, 90, 180 or 270 (other angles have no equivalent here)")
            values["rot"] = raw
        elif name == "bg":
            values["bg"] = colour(name, raw)
        elif name == "fill-color":
            fill_colour = colour(name, raw)
        elif name == "fill":
            if raw != "solid":
                raise refuse(NAME, "fill", f"fill {raw[:40]!r} has no equivalent here")
        elif name not in _IGNORED and name not in ("auto", "crop", "fp-x", "fp-y"):
            raise no_equivalent(NAME, "parameter", name)
    values.setdefault("fit", "inside")  # imgix's default, clip
    if fill_colour is not None and values["fit"] == "contain":
        values.setdefault("bg", fill_colour)
    if "crop" in pairs and values["fit"] == "cover":
        _crop(values, pairs["crop"], pairs)
    if "format" in pairs.get("auto", "").split(","):
        values.setdefault("fm", "auto")
    if "expires" in pairs:
        if not re.fullmatch(r"[0-9]{1,12}", pairs["expires"]):
            raise refuse(NAME, "expires", "expires must be a Unix time in seconds")
        if now > int(pairs["expires"]):
            raise SignatureError(f"{NAME}: the URL has expired", param="expires")
    return Translation(key, checked(NAME, values, {"sharpen": "sharp"}), _signed(path, query, pairs.get("s"), options))


def _signed(path: str, query: str, signature: str | None, options: Options) -> bool:
    """Whether the URL carries a valid imgix signature (``False`` without one, or without a secret)."""
    if signature is None or options.secret is None:
        return False
    if not _MD5.fullmatch(signature):
        raise refuse(NAME, "s", "s must be 32 hex digits (imgix's MD5 signature)")
    rest = "&".join(piece for piece in query.split("&") if piece.partition("=")[0] != "s")
    message = options.secret + path.encode() + (b"?" + rest.encode() if rest else b"")
    verify(NAME, hashlib.md5(message, usedforsecurity=False).hexdigest(), signature)
    return True
