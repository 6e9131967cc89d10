"""thumbor's (and imagor's) path, read into native parameters.

``/{unsafe|signature}/[trim[:top-left][:tolerance]/][AxB:CxD/][fit-in/][-]Wx[-]H/[halign/][valign/]
[smart/][filters:name(args):.../]{key}``: ``trim`` (tolerance 0..442, as the native threshold up to 255),
``AxB:CxD`` (a source rectangle), ``fit-in`` (fit inside; with ``fill``, pad), a size (``0`` or nothing
follows the other side; a minus sign flips), ``halign``/``valign`` (the crop position), ``smart``
(faces first, else saliency: ``face``) and the filters ``format``, ``quality``, ``blur`` (its sigma), ``sharpen``
(its radius as the sigma), ``rotate`` (multiples of 90, counter-clockwise as in thumbor), ``fill``,
``background_color``, ``upscale``, ``no_upscale``, ``stretch``, ``strip_exif`` and ``strip_icc``
(variants never keep metadata). Without ``upscale`` nothing is enlarged. The signature is thumbor's:
base64url HMAC-SHA1 of the path after it. The Serverless Image Handler reads the same paths without the
first segment and turns ``rotate`` clockwise (``vipsfront.url.dialects.dit``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from vipsfront.url.dialects.base import (
    MAX_PATH_LENGTH,
    Options,
    Translation,
    checked,
    decimal,
    key_of,
    no_equivalent,
    refuse,
    verify,
)

_SIGNATURE = re.compile(r"[A-Za-z0-9_=-]{27,28}")
_TRIM = re.compile(r"trim(:top-left)?(?::([0-9]{1,3}))?")
_RECT = re.compile(r"([0-9]{1,5})x([0-9]{1,5}):([0-9]{1,5})x([0-9]{1,5})")
_SIZE = re.compile(r"(-?)([0-9]{0,5})x(-?)([0-9]{0,5})")
_FILTER = re.compile(r"([a-z_]{1,32})\(([^()]{0,200})\)")
_HALIGN = {"left": "left", "right": "right", "center": ""}
_VALIGN = {"top": "top", "bottom": "bottom", "middle": ""}
_FORMATS = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png", "webp": "webp", "avif": "avif", "gif": "gif"}
_COLOURS = {"white": "ffffff", "black": "000000", "transparent": "ffffff00"}
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_NUMBER = re.compile(r"[0-9]{1,4}(\.[0-9]{1,6})?")
_NOTHING = frozenset({"strip_exif", "strip_icc"})  # variants never keep metadata


@dataclass(frozen=True, slots=True)
class Flavour:
    """What tells one thumbor-style reader from another: its name, whether the path starts with
    ``unsafe`` or a signature, and which way ``rotate`` turns."""

    name: str
    signed_paths: bool = True
    clockwise: bool = False


THUMBOR = Flavour("thumbor")
IMAGOR = Flavour("imagor")


def _colour(flavour: Flavour, name: str, raw: str) -> str:
    if raw in _COLOURS:
        return _COLOURS[raw]
    match = _HEX.fullmatch(raw)
    if not match:
        raise refuse(flavour.name, name, f"{name} colour {raw[:40]!r} has no equivalent here")
    return match.group(1)


def _number(flavour: Flavour, name: str, raw: str) -> float:
    if not _NUMBER.fullmatch(raw):
        raise refuse(flavour.name, name, f"{name} takes a number, not {raw[:40]!r}")
    return float(raw)


def _filters(flavour: Flavour, segment: str, values: dict[str, str]) -> None:
    """``filters:name(args):name(args)``, each mapped onto ``values`` or refused by name."""
    text = segment.removeprefix("filters:")
    position = 0
    while position < len(text):
        match = _FILTER.match(text, position)
        if not match:
            raise refuse(flavour.name, "filters", f"malformed filters at {text[position : position + 40]!r}")
        name, args = match.group(1), [a.strip() for a in match.group(2).split(",")] if match.group(2) else []
        _filter(flavour, name, args, values)
        position = match.end()
        if position < len(text):
            if text[position] != ":":
                raise refuse(flavour.name, "filters", "filters are separated by ':'")
            position += 1


def _filter(flavour: Flavour, name: str, args: list[str], values: dict[str, str]) -> None:
    first = args[0] if args else ""
    if name == "format":
        if first not in _FORMATS:
            raise refuse(flavour.name, "format", f"format {first[:40]!r} has no equivalent here")
        values["fm"] = _FORMATS[first]
    elif name == "quality":
        values["q"] = first
    elif name == "blur":
        sigma = _number(flavour, "blur", args[1] if len(args) > 1 else first)
        if sigma:
            values["blur"] = decimal(min(100.0, max(0.3, sigma)))
    elif name == "sharpen":
        radius = _number(flavour, "sharpen", args[1] if len(args) > 1 else "1")
        values["sharpen"] = decimal(min(10.0, max(0.3, radius)))
    elif name == "rotate":
        if first not in ("0", "90", "180", "270"):
            raise refuse(flavour.name, "rotate", "rotate takes 0, 90, 180 or 270 (other angles have no equivalent)")
        turn = int(first) if flavour.clockwise else (360 - int(first)) % 360
        if turn:
            values["rot"] = str(turn)
    elif name in ("fill", "background_color"):
        values["bg"] = _colour(flavour, name, first)
    elif name in ("upscale", "no_upscale"):
        values["enlarge"] = "1" if name == "upscale" else "0"
    elif name == "stretch":
        values["fit"] = "fill"
    elif name not in _NOTHING:
        raise no_equivalent(flavour.name, "filter", name)


def read_path(flavour: Flavour, segments: list[str], values: dict[str, str]) -> list[str]:
    """Map the option segments at the head of ``segments`` onto ``values``; return the key's segments."""
    rest = list(segments)

    def take(pattern: re.Pattern[str]) -> re.Match[str] | None:
        match = pattern.fullmatch(rest[0]) if len(rest) > 1 else None
        if match:
            rest.pop(0)
        return match

    if len(rest) > 1 and rest[0] == "meta":
        raise no_equivalent(flavour.name, "option", "meta")
    if trim := take(_TRIM):
        values["trim"] = str(min(255, int(trim.group(2) or 0)))
    if rect := take(_RECT):
        left, top, right, bottom = (int(v) for v in rect.groups())
        if right <= left or bottom <= top:
            raise refuse(flavour.name, "rect", "the crop AxB:CxD needs C above A and D above B")
        values["rect"] = f"{left},{top},{right - left},{bottom - top}"
    fit_in = len(rest) > 1 and rest[0] in ("fit-in", "adaptive-fit-in", "full-fit-in")
    if fit_in:
        if rest[0] != "fit-in":
            raise no_equivalent(flavour.name, "option", rest[0])
        rest.pop(0)
    if size := take(_SIZE):
        flip_h, width, flip_v, height = size.groups()
        values.update({name: side for name, side in (("w", width), ("h", height)) if side and side != "0"})
        flips = ("h" if flip_h else "") + ("v" if flip_v else "")
        if flips:
            values["flip"] = flips
    halign = rest.pop(0) if len(rest) > 1 and rest[0] in _HALIGN else ""
    valign = rest.pop(0) if len(rest) > 1 and rest[0] in _VALIGN else ""
    position = "-".join(filter(None, (_VALIGN.get(valign, ""), _HALIGN.get(halign, ""))))
    if len(rest) > 1 and rest[0] == "smart":
        rest.pop(0)
        position = "face"  # thumbor's smart crop finds faces first, then features: pos=face falls back to attention
    if position:
        values["pos"] = position
    if len(rest) > 1 and rest[0].startswith("filters:"):
        _filters(flavour, rest.pop(0), values)
    if "fit" not in values:  # stretch() sets it
        values["fit"] = ("contain" if "bg" in values else "inside") if fit_in else "cover"
    return rest


def translate(path: str, query: str, options: Options, *, now: float, flavour: Flavour = THUMBOR) -> Translation:
    """The native parameters of a thumbor path (after the dialect's prefix); thumbor takes no query."""
    if len(path) > MAX_PATH_LENGTH:
        raise refuse(flavour.name, "key", f"path longer than {MAX_PATH_LENGTH} characters")
    if query:
        raise refuse(flavour.name, query.partition("=")[0] or "query", "thumbor URLs take no query")
    segments = path.removeprefix("/").split("/")
    signed = False
    if flavour.signed_paths:
        head = segments.pop(0) if len(segments) > 1 else ""
        if head != "unsafe":
            if not _SIGNATURE.fullmatch(head):
                raise refuse(flavour.name, "signature", "the path starts with /unsafe/ or a signature")
            signed = _signed(flavour, "/".join(segments), head, options)
    values: dict[str, str] = {}
    key_segments = read_path(flavour, segments, values)
    return Translation(key_of(flavour.name, "/".join(key_segments), options), checked(flavour.name, values), signed)


def _signed(flavour: Flavour, rest: str, signature: str, options: Options) -> bool:
    """Whether ``signature`` is thumbor's for ``rest`` (``False`` without a secret: the unsigned policy
    then judges the request)."""
    if options.secret is None:
        return False
    mac = hmac.new(options.secret, rest.encode(), hashlib.sha1).digest()
    verify(flavour.name, base64.urlsafe_b64encode(mac).decode(), signature)
    return True
