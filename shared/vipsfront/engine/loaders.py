"""Opening an original with libvips: which loader, its options, shrink-on-load, the memory source.

The loaders read the input through a memory source: a ``bytes`` argument to a buffer loader is copied
into libvips first, the whole input once more for as long as the image lives (4 MB of a 14.7 MP JPEG's
transform, up to ``Limits.max_input_bytes``). The loader is called directly rather than through
``thumbnail_buffer``, which does not pass ``fail_on`` to it (a truncated file would render grey).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyvips

from vipsfront.engine import heic
from vipsfront.engine.limits import Limits
from vipsfront.errors import UnsupportedInputError

# libvips' operation cache only helps repeated identical calls; each request is one-shot.
pyvips.cache_set_max(0)

FAIL_ON = "truncated"


@dataclass(frozen=True, slots=True)
class Loader:
    """The format libvips found in an input, and the source loader operation that decodes it."""

    format: str  # jpeg, png, webp, heif (AVIF), heic (HEVC: ``heic``), gif, tiff, svg, pdf
    operation: str  # e.g. jpegload_source; for heic, the module that decodes it


# libvips loader class name fragment → format name, source loader operation
_LOADERS: tuple[tuple[str, Loader], ...] = (
    ("uhdr", Loader("jpeg", "uhdrload_source")),
    ("jpeg", Loader("jpeg", "jpegload_source")),
    ("png", Loader("png", "pngload_source")),
    ("webp", Loader("webp", "webpload_source")),
    ("heif", Loader("heif", "heifload_source")),
    ("gif", Loader("gif", "gifload_source")),
    ("tiff", Loader("tiff", "tiffload_source")),
    ("svg", Loader("svg", "svgload_source")),
    ("pdf", Loader("pdf", "pdfload_source")),
)
HEIC = Loader("heic", "vipsfront.engine.heic")


def _sniff(data: bytes) -> Loader | None:
    """The loader libvips' own sniffing of the first bytes picks (nothing is parsed), if any."""
    if heic.is_heic(data):
        return HEIC
    pointer = pyvips.vips_lib.vips_foreign_find_load_buffer(data, len(data))
    if pointer == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()
        return None
    name = pyvips.ffi.string(pointer).decode("ascii", "replace").lower()
    return next((loader for fragment, loader in _LOADERS if fragment in name), None)


def find(data: bytes, limits: Limits) -> Loader:
    """The loader for ``data`` by libvips' own sniffing of its first bytes (nothing is parsed), or
    ``UnsupportedInputError`` (also for SVG and PDF unless ``limits`` allow them)."""
    if not data:
        raise UnsupportedInputError("empty input")
    loader = _sniff(data)
    if loader is None:
        raise UnsupportedInputError("unsupported image format")
    if (loader.format == "svg" and not limits.allow_svg) or (loader.format == "pdf" and not limits.allow_pdf):
        raise UnsupportedInputError(f"{loader.format} input is disabled")
    return loader


def is_svg(data: bytes) -> bool:
    """Whether ``data`` is an SVG document (by libvips' sniffing), whether or not rasterising is allowed."""
    loader = _sniff(data) if data else None
    return loader is not None and loader.format == "svg"


def load_options(*, shrink: int = 1, scale: float = 1.0, all_frames: bool = False) -> dict[str, Any]:
    """The loader's options: read top to bottom, fail on truncation; ``shrink`` (JPEG: 2, 4, 8) and
    ``scale`` (WebP, SVG, PDF) are shrink-on-load; ``all_frames`` decodes every frame of an animation."""
    options: dict[str, Any] = {"access": "sequential", "fail_on": FAIL_ON}
    if shrink > 1:
        options["shrink"] = shrink
    if scale != 1.0:
        options["scale"] = scale
    if all_frames:
        options["n"] = -1
    return options


def open_image(data: bytes, loader: Loader, **options: Any) -> Any:
    """``loader`` on ``data`` with ``options`` (``load_options``), as a memory source: libvips reads ``data``
    in place, no copy (the image keeps a reference to it). Lazy: only the header is read until pixels are
    asked for. Raises ``pyvips.Error`` for an unreadable header.

    A HEIC original is decoded whole by ``heic.decode`` (no shrink-on-load; ``UndecodableImageError``
    when damaged): check ``heic.header`` against the limits first."""
    if loader is HEIC:
        return heic.decode(data)
    return pyvips.Operation.call(loader.operation, pyvips.Source.new_from_memory(data), **options)
