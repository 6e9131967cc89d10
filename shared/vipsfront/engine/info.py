"""The info document: what ``/_vf/info/{key}`` answers about an original, and what ingest stores (pure).

One document per original, at ``keys.info_key(key)`` in the variants bucket: the header facts (size,
format, orientation, alpha, frames), the placeholder (ThumbHash, dominant colour), the version token
(``v``), and the extracted metadata (capture time, camera, colour space, ICC description, perceptual
hash; GPS and personal fields only when the caller opts in), and the faces ``pos=face`` crops aim at
(``faces``: the detector's id and boxes as fractions of the oriented original, found once here so a
crop reuses them). The placeholder and the perceptual hash share one 32 px shrink-on-load thumbnail;
the faces are found in a decode of at most ``faces.DETECT_SIDE`` px.

An original that cannot be read (hostile, truncated, too large, unsupported) gets a document too, with
its typed error instead of the facts (``failed``): ingest and backfill record it and move on, and a
backfill does not try it again until the original changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pyvips

from vipsfront.engine import faces, metadata, placeholder
from vipsfront.engine.limits import Limits
from vipsfront.engine.probe import Header, open_header
from vipsfront.errors import VipsfrontError

__all__ = ["describe", "failed", "is_current", "known_faces"]

log = logging.getLogger(__name__)


def describe(
    key: str,
    source: bytes,
    version: str | None,
    limits: Limits,
    *,
    include_gps: bool = False,
    include_personal: bool = False,
    deadline: float | None = None,
) -> dict[str, Any]:
    """The info document of an original's bytes; raises the engine's typed errors for a bad image."""
    header = open_header(source, limits)
    found = header.info
    thumbnail = placeholder.thumbnail_rgba(source, limits, deadline=deadline)
    hint = placeholder.from_rgba(*thumbnail)
    meta = metadata.extract(
        source,
        limits,
        include_gps=include_gps,
        include_personal=include_personal,
        thumbnail=thumbnail,
        deadline=deadline,
    )
    return {
        "key": key,
        "version": version,
        "width": found.oriented_width,
        "height": found.oriented_height,
        "stored_width": found.width,
        "stored_height": found.height,
        "format": found.format,
        "bytes": found.bytes,
        "alpha": found.alpha,
        "frames": found.pages,
        "animated": found.animated,
        "orientation": found.orientation,
        "placeholder": {"thumbhash": hint.thumbhash, "color": hint.color, "data_url": hint.data_url()},
        "metadata": meta.to_dict(),
        **_faces(source, header),
    }


def _faces(source: bytes, header: Header) -> dict[str, Any]:
    """``{"faces": {"detector", "boxes"}}``, or nothing for an animation or when the detector fails (a
    crop then detects for itself)."""
    if header.info.animated:
        return {}
    try:
        found = faces.detect(source, header)
    except (faces.DetectorError, pyvips.Error) as exc:
        log.warning("faces not recorded: %s", exc)
        return {}
    return {"faces": {"detector": faces.DETECTOR, "boxes": [face.to_list() for face in found]}}


def known_faces(document: Mapping[str, Any] | None, version: str | None) -> tuple[faces.Face, ...] | None:
    """The faces an info document recorded for ``version`` of its original with this detector, else
    ``None`` (no document, another version or detector, a malformed entry)."""
    if not isinstance(document, Mapping) or document.get("version") != version:
        return None
    entry = document.get("faces")
    if not isinstance(entry, Mapping) or entry.get("detector") != faces.DETECTOR:
        return None
    try:
        return tuple(faces.Face.from_list(box) for box in entry["boxes"])
    except (KeyError, TypeError, ValueError):
        return None


def failed(key: str, version: str | None, error: VipsfrontError) -> dict[str, Any]:
    """The document of an original that could not be read: its version and the typed error."""
    return {"key": key, "version": version, "error": error.to_dict()}


def is_current(document: dict[str, Any] | None, version: str) -> bool:
    """True when ``document`` (a stored info document, or ``None``) describes ``version`` of its original."""
    return isinstance(document, dict) and document.get("version") == version
