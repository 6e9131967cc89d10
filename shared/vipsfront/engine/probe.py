"""The header of an original, read by libvips without decoding a pixel, checked against the limits.

``max_input_pixels`` bounds one frame and, for an animation, all frames together (as imgproxy does): a
1.2 KB GIF of 50 frames of 4000x4000 would otherwise decode 800 MP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyvips

from vipsfront.engine import heic, loaders
from vipsfront.engine.limits import Limits
from vipsfront.engine.plan import ImageInfo
from vipsfront.errors import InputTooLargeError, UndecodableImageError

log = logging.getLogger(__name__)

_ANIMATED_FORMATS = frozenset({"gif", "webp"})


@dataclass(frozen=True, slots=True)
class Header:
    """A probed original: its facts, its loader, and the libvips image of its header (opened with the
    default ``loaders.load_options()``, not decoded yet: a load with the same options decodes from it)."""

    info: ImageInfo
    loader: loaders.Loader
    image: Any


def _int_field(image: Any, name: str, default: int) -> int:
    if image.get_typeof(name) == 0:
        return default
    try:
        return int(image.get(name))
    except (pyvips.Error, TypeError, ValueError):
        return default


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_input_pixels:
        raise InputTooLargeError(f"input is {width}x{height} pixels, more than {limits.max_input_pixels} per frame")


def open_header(data: bytes, limits: Limits) -> Header:
    """Read the header (never the pixels) and check the byte, pixel and frame limits.

    Raises ``InputTooLargeError``, ``UnsupportedInputError`` or ``UndecodableImageError``.
    """
    if len(data) > limits.max_input_bytes:
        raise InputTooLargeError(f"input is larger than {limits.max_input_bytes} bytes")
    loader = loaders.find(data, limits)
    if loader is loaders.HEIC:  # decoded whole when opened: its sizes are checked first
        found = heic.header(data)
        _check_pixels(found.width, found.height, limits)
        if found.frames > limits.max_frames:
            raise InputTooLargeError(f"HEIC holds {found.frames} images, more than {limits.max_frames}")
    try:
        image = loaders.open_image(data, loader, **loaders.load_options())
    except pyvips.Error as exc:
        log.info("header unreadable: %s", exc)
        raise UndecodableImageError("image header could not be read") from None
    width, height = int(image.width), int(image.height)
    pages = max(1, _int_field(image, "n-pages", 1))
    orientation = _int_field(image, "orientation", 1)
    if not 1 <= orientation <= 8:
        orientation = 1
    animated = loader.format in _ANIMATED_FORMATS and pages > 1
    _check_pixels(width, height, limits)
    if animated and pages > limits.max_frames:
        raise InputTooLargeError(f"animation has {pages} frames, more than {limits.max_frames}")
    if animated and width * height * pages > limits.max_input_pixels:
        raise InputTooLargeError(
            f"animation is {pages} frames of {width}x{height}, more than {limits.max_input_pixels} pixels in all"
        )
    swapped = orientation >= 5
    info = ImageInfo(
        width=width,
        height=height,
        oriented_width=height if swapped else width,
        oriented_height=width if swapped else height,
        format=loader.format,
        alpha=bool(image.hasalpha()),
        pages=pages,
        orientation=orientation,
        bytes=len(data),
        animated=animated,
    )
    return Header(info=info, loader=loader, image=image)


def probe(data: bytes, limits: Limits = Limits()) -> ImageInfo:  # noqa: B008 (frozen default)
    """What the header of ``data`` says, within ``limits`` (``open_header``)."""
    return open_header(data, limits).info
