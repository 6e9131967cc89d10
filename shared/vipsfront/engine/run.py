"""The image engine: bytes and a ``Spec`` in, encoded variant out (pyvips and the standard library only).

Pipeline, written down once (``STEPS``; the deadline is checked between steps and, while pixels flow,
from libvips' ``eval`` signal)::

    probe (header only: format, limits) → plan (all geometry, before any pixel is decoded)
    → load with shrink-on-load, EXIF auto-orientation, ICC → sRGB (thumbnail)
    → 8-bit sRGB → flip → rot → crop (cover) → pad (contain) → blur → sharpen → flatten → encode

Order of operations as in sharp: EXIF orientation first, then the resize (``fit`` is worked out on the
rotated size), ``flip`` mirrors the image before ``rot`` turns it, the ``cover`` crop and the ``contain``
padding are placed in the output frame (after ``rot``), effects last.

pyvips is lazy: pixels are decoded, resized and encoded together during the final write, so the
``encode`` timing includes decoding and resizing.

Decisions (measured on the team corpus, 2560x1600 photos → 400 px, libvips 8.18, see
``benchmarks/engine_bench.py``):

* JPEG decode scale. libvips' ``thumbnail`` keeps a factor of two after JPEG shrink-on-load (2560 → 1280
  for a 400 px target); Pillow's ``draft()`` and sharp's default ``fastShrinkOnLoad`` decode at 1/4.
  The engine decodes at the largest 1/2, 1/4, 1/8 scale that still leaves the decoded image at least
  ``JPEG_SHRINK_MARGIN`` (1.5) times the target, then resizes with libvips' lanczos3 (``reduce`` for a
  plain upright sRGB or grey image, the same pixels as ``thumbnail_image``, which does the rest).
  SSIM (luma, 11x11 gaussian window) against a full-resolution lanczos3 reference, 8 photos:
  ``thumbnail_buffer`` (1/2) 0.9976; this engine at 400 px (1/4, margin 1.6) 0.9951, worst 0.9907;
  at the margin limit (426 px, margin 1.5) 0.9924; Pillow ``draft`` + LANCZOS 0.9926. Decoding below
  the target (margin < 1) costs far more (1/8 at 400 px: 0.869), so it is never done. The margin is
  checked on the decoded size as libvips rounds it (down), so a 3-row JPEG asked for 1 row decodes all 3.
* Geometry as in sharp: a ``cover`` crop at the centre leaves ceil(space/2) before the box, ``contain``
  padding floor(space/2). ``max_output_side`` bounds the output; a ``cover`` whose resized image would be
  larger (a 4097x3 strip to 100x100) cuts the source to the box first and resizes only that.
* JPEG: q 80, ``optimize_coding`` on, baseline (not interlaced). The libjpeg here is mozjpeg:
  ``trellis_quant`` saves ~12 % bytes but costs ~5x encode time at 400 px (7.8 ms vs 1.5 ms), so off.
* WebP: q 80, ``effort = Limits.webp_effort`` (4). AVIF: ``heifsave`` av1, q 50, ``effort =
  Limits.avif_effort`` (2: 400 px in ~40 ms; effort 4 is 6x slower for <10 % fewer bytes).
* PNG: lossless, zlib level 6 (level 9 is 1-2 % smaller at twice the time; level 3 is 20 %
  larger on alpha images). With ``q`` given: 8-bit palette, ``Q = q``, quantiser effort 4 (half the
  time of the default 7, ~15 % larger). GIF: quantiser effort 4 (up to 2x faster than 7).
* Metadata: every saver runs with ``keep="none"``: no EXIF, XMP, IPTC, GPS and no ICC profile. Pixels
  are converted to sRGB first, which is what browsers assume for an untagged image.
* Animation: GIF/WebP in and GIF/WebP out keeps every frame (with ``delay`` and ``loop``); other
  outputs get the first frame. Smart crop (``attention``/``entropy``) on a kept animation crops at the
  centre instead (one box for every frame; sharp refuses such a request). ``max_input_pixels`` bounds
  one frame and, for an animation, all frames together (as imgproxy does): a 1.2 KB GIF of 50 frames
  of 4000x4000 would otherwise decode 800 MP.
* Deadline: an AVIF encode (libheif/aom) cannot be interrupted once libvips has handed it the pixels, so
  the effort is chosen for the time left (``avif_effort_for``): the configured effort when its estimated
  encode time fits, else a lower one, else ``DeadlineExceededError`` before starting. A result that is
  only ready after the deadline is refused too, so a late variant is never stored.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pyvips

from vipsfront.engine import autoquality
from vipsfront.errors import (
    DeadlineExceededError,
    InputTooLargeError,
    UndecodableImageError,
    UnsupportedInputError,
)
from vipsfront.engine.limits import Limits
from vipsfront.url.rounding import round_half_up
from vipsfront.url.spec import Fit, Flip, Fm, Format, Position, Quality, Rgba, Spec

__all__ = [
    "ImageInfo",
    "Limits",
    "TransformResult",
    "output_format",
    "probe",
    "transform",
]

log = logging.getLogger(__name__)

# libvips' operation cache only helps repeated identical calls; each request is one-shot.
pyvips.cache_set_max(0)

JPEG_SHRINK_MARGIN = 1.5
JPEG_QUALITY = 80
WEBP_QUALITY = 80
AVIF_QUALITY = 50
PNG_COMPRESSION = 6
PNG_PALETTE_EFFORT = 4
GIF_EFFORT = 4
# AVIF encode cost in microseconds per output pixel, by effort (0..9): measured here at 1000x750 to
# 4000x3000 (effort 0: 0.05-0.07, 1: 0.06-0.08, 2: 0.2-0.4, 3: 0.16-0.24), doubled or more for slower CPUs;
# efforts above 3 follow the DESIGN's "effort 4 is 4x effort 2" and double from there.
AVIF_US_PER_PIXEL = (0.15, 0.2, 0.8, 0.8, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4)

_FAIL_ON = "truncated"
_ANIMATED_FORMATS = frozenset({"gif", "webp"})
_ALPHA_FORMATS = frozenset({Format.PNG, Format.WEBP, Format.AVIF, Format.GIF})

# libvips loader class name fragment → (format name, source loader operation). The loaders read the input
# through a memory source (``_open``): a ``bytes`` argument to a buffer loader is copied into libvips first,
# the whole input once more for as long as the image lives (4 MB of a 14.7 MP JPEG's transform, up to
# ``Limits.max_input_bytes``).
_LOADERS: tuple[tuple[str, str, str], ...] = (
    ("uhdr", "jpeg", "uhdrload_source"),
    ("jpeg", "jpeg", "jpegload_source"),
    ("png", "png", "pngload_source"),
    ("webp", "webp", "webpload_source"),
    ("heif", "heif", "heifload_source"),
    ("gif", "gif", "gifload_source"),
    ("tiff", "tiff", "tiffload_source"),
    ("svg", "svg", "svgload_source"),
    ("pdf", "pdf", "pdfload_source"),
)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says. ``width``/``height`` as stored (one frame), ``oriented_*`` after EXIF."""

    width: int
    height: int
    oriented_width: int
    oriented_height: int
    format: str  # jpeg, png, webp, heif (AVIF/HEIC), gif, tiff, svg, pdf
    alpha: bool
    pages: int
    orientation: int  # EXIF 1..8
    bytes: int
    animated: bool  # several frames of a GIF or WebP


@dataclass(frozen=True, slots=True)
class TransformResult:
    data: bytes
    format: Format
    media_type: str
    width: int
    height: int  # one frame
    pages: int
    input_info: ImageInfo
    timings: dict[str, float] = field(default_factory=dict)  # ms: probe, pipeline, encode, transform, qauto
    notes: dict[str, str] = field(default_factory=dict)  # a timing's description: qauto -> "q=65 n=3"


# ---------------------------------------------------------------------------------------------------
# probe


def _loader(data: bytes, limits: Limits) -> tuple[str, str]:
    """(format name, loader operation) for ``data``, or ``UnsupportedInputError``."""
    if not data:
        raise UnsupportedInputError("empty input")
    pointer = pyvips.vips_lib.vips_foreign_find_load_buffer(data, len(data))
    if pointer == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()
        raise UnsupportedInputError("unsupported image format")
    name = pyvips.ffi.string(pointer).decode("ascii", "replace").lower()
    found = next(((fmt, op) for fragment, fmt, op in _LOADERS if fragment in name), None)
    if found is None:
        raise UnsupportedInputError("unsupported image format")
    fmt, operation = found
    if (fmt == "svg" and not limits.allow_svg) or (fmt == "pdf" and not limits.allow_pdf):
        raise UnsupportedInputError(f"{fmt} input is disabled")
    return fmt, operation


def _open(operation: str, data: bytes, **options: Any) -> Any:
    """The loader ``operation`` on ``data`` as a memory source: libvips reads ``data`` in place, no copy (the
    image keeps a reference to it)."""
    return pyvips.Operation.call(operation, pyvips.Source.new_from_memory(data), **options)


def _header(data: bytes, operation: str, shrink: int = 1) -> Any:
    try:
        return _open(operation, data, **_load_options(shrink))
    except pyvips.Error as exc:
        log.info("header unreadable: %s", exc)
        raise UndecodableImageError("image header could not be read") from None


def _load_options(shrink: int) -> dict[str, Any]:
    options: dict[str, Any] = {"access": "sequential", "fail_on": _FAIL_ON}
    if shrink > 1:
        options["shrink"] = shrink
    return options


# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic)
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's start-of-frame marker (segments before it skipped by their length,
    an EXIF thumbnail with them), or ``None`` when the stream does not reach one."""
    if data[:2] != b"\xff\xd8":
        return None
    i, end = 2, len(data)
    while i + 4 <= end:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        if marker in _JPEG_SOF:
            if i + 9 > end:
                return None
            height, width = int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(data[i + 7 : i + 9], "big")
            return (width, height) if width and height else None
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _likely_jpeg_shrink(data: bytes, spec: Spec, limits: Limits) -> tuple[int, tuple[int, int] | None]:
    """The shrink-on-load the plan will choose for this JPEG if it has no EXIF rotation (most photos), from
    its frame header's size, and that size; 1 when it cannot be told. Opening the loader at that shrink
    for the probe lets the load reuse the header instead of reading it (and the EXIF) again."""
    size = _jpeg_size(data)
    if size is None or size[0] * size[1] > limits.max_input_pixels:
        return 1, None
    width, height = size
    upright = ImageInfo(width, height, width, height, "jpeg", False, 1, 1, len(data), False)
    try:
        return make_plan(upright, spec, limits).jpeg_shrink, size
    except InputTooLargeError:
        return 1, None


def _int_field(image: Any, name: str, default: int) -> int:
    if image.get_typeof(name) == 0:
        return default
    try:
        return int(image.get(name))
    except (pyvips.Error, TypeError, ValueError):
        return default


def probe(data: bytes, limits: Limits = Limits()) -> ImageInfo:  # noqa: B008 (frozen default)
    """Read the header (never the pixels) and check the byte, pixel and frame limits."""
    return _probe(data, limits)[0]


def _probe(data: bytes, limits: Limits) -> tuple[ImageInfo, str]:
    """``probe``, plus the libvips loader operation to decode with."""
    info, operation, _, _ = _probe_header(data, limits)
    return info, operation


def _probe_header(data: bytes, limits: Limits, spec: Spec | None = None) -> tuple[ImageInfo, str, Any, int]:
    """``_probe``, plus the header image itself and the JPEG shrink it was opened at: not decoded yet, so
    ``load`` can decode from it when it would open the loader with the same options. With ``spec``, a
    JPEG's header is opened at the shrink its plan will likely choose (``_likely_jpeg_shrink``)."""
    if len(data) > limits.max_input_bytes:
        raise InputTooLargeError(f"input is larger than {limits.max_input_bytes} bytes")
    fmt, operation = _loader(data, limits)
    shrink, size = 1, None
    if spec is not None and operation == "jpegload_source":
        shrink, size = _likely_jpeg_shrink(data, spec, limits)
    header = _header(data, operation, shrink)
    if size is not None and shrink > 1:
        # the header is of the shrunk image; the frame header gave the full size (checked against it)
        width, height = size
        if not all(
            int(got) in (full // shrink, -(-full // shrink))
            for got, full in zip((header.width, header.height), size, strict=True)
        ):
            shrink, header = 1, _header(data, operation)
            width, height = int(header.width), int(header.height)
    else:  # opened at full size (shrink is 1)
        width, height = int(header.width), int(header.height)
    pages = max(1, _int_field(header, "n-pages", 1))
    orientation = _int_field(header, "orientation", 1)
    if not 1 <= orientation <= 8:
        orientation = 1
    animated = fmt in _ANIMATED_FORMATS and pages > 1
    if width * height > limits.max_input_pixels:
        raise InputTooLargeError(f"input is {width}x{height} pixels, more than {limits.max_input_pixels} per frame")
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
        format=fmt,
        alpha=bool(header.hasalpha()),
        pages=pages,
        orientation=orientation,
        bytes=len(data),
        animated=animated,
    )
    return info, operation, header, shrink


# ---------------------------------------------------------------------------------------------------
# plan: all geometry, from the header alone


def _round(value: float) -> int:
    return max(1, round_half_up(value))


@dataclass(frozen=True, slots=True)
class Geometry:
    """Sizes in the output frame (after EXIF orientation and ``rot``), per animation frame."""

    resize: tuple[int, int]  # size after the resize step
    crop: tuple[int, int] | None = None  # cover: crop box
    pad: tuple[int, int] | None = None  # contain: canvas

    @property
    def output(self) -> tuple[int, int]:
        return self.crop or self.pad or self.resize


def geometry(width: int, height: int, spec: Spec) -> Geometry:
    """Output sizes for a ``width`` x ``height`` source, with sharp's ``fit`` semantics.

    Both ``w`` and ``h``: ``cover`` scales to fill the box then crops the overflow; ``contain`` scales to
    fit inside then pads to the box; ``fill`` stretches to the box; ``inside`` fits within the box
    (no padding); ``outside`` covers the box (no cropping). One side only: keep the aspect ratio.

    ``enlarge=False`` is sharp's ``withoutEnlargement``: no axis is scaled up (each scale is capped
    at 1). So ``cover`` crops the unenlarged image to at most the box (output may be smaller than the
    box), ``contain`` pads the unenlarged image to exactly the box (as sharp does: its canvas is
    ``max(image, box)``), ``inside``/``outside``/``fill``/one side return the image unenlarged.
    """
    w, h = spec.w, spec.h
    if w is None and h is None:
        return Geometry(resize=(width, height))
    hshrink = vshrink = 1.0
    fit = spec.fit
    if w is not None and h is not None:
        hshrink, vshrink = width / w, height / h
        if fit in (Fit.COVER, Fit.OUTSIDE):
            hshrink = vshrink = min(hshrink, vshrink)
        elif fit in (Fit.CONTAIN, Fit.INSIDE):
            hshrink = vshrink = max(hshrink, vshrink)
    elif w is not None:
        hshrink = vshrink = width / w
    elif h is not None:
        hshrink = vshrink = height / h
    if not spec.enlarge:
        hshrink, vshrink = max(1.0, hshrink), max(1.0, vshrink)
    resize = (_round(width / hshrink), _round(height / vshrink))
    if w is None or h is None:
        return Geometry(resize=resize)
    if fit == Fit.COVER:
        return Geometry(resize=resize, crop=(min(w, resize[0]), min(h, resize[1])))
    if fit == Fit.CONTAIN:
        return Geometry(resize=resize, pad=(max(w, resize[0]), max(h, resize[1])))
    return Geometry(resize=resize)


def _offset(space: int, gravity: float, *, pad: bool = False) -> int:
    """Where a box starts along an axis with ``space`` to spare: sharp leaves ceil(space/2) before a
    centred crop (``CalculateCrop``) and floor(space/2) before centred padding (``CalculateEmbedPosition``)."""
    if gravity <= 0.0:
        return 0
    if gravity >= 1.0:
        return space
    return space // 2 if pad else (space + 1) // 2


_GRAVITY: dict[Position, tuple[float, float]] = {
    Position.CENTER: (0.5, 0.5),
    Position.TOP: (0.5, 0.0),
    Position.BOTTOM: (0.5, 1.0),
    Position.LEFT: (0.0, 0.5),
    Position.RIGHT: (1.0, 0.5),
    Position.TOP_LEFT: (0.0, 0.0),
    Position.TOP_RIGHT: (1.0, 0.0),
    Position.BOTTOM_LEFT: (0.0, 1.0),
    Position.BOTTOM_RIGHT: (1.0, 1.0),
}


def crop_origin(size: tuple[int, int], box: tuple[int, int], spec: Spec) -> tuple[int, int]:
    """Top-left corner of the ``cover`` box in the resized image: focal point, else ``pos`` (smart crop
    positions count as centre here)."""
    (width, height), (cw, ch) = size, box
    if spec.fx is not None or spec.fy is not None:
        fx = 0.5 if spec.fx is None else spec.fx
        fy = 0.5 if spec.fy is None else spec.fy
        left = min(max(0, round(fx * width - cw / 2)), width - cw)
        top = min(max(0, round(fy * height - ch / 2)), height - ch)
        return left, top
    gx, gy = _GRAVITY.get(spec.pos, (0.5, 0.5))
    return _offset(width - cw, gx), _offset(height - ch, gy)


def _source_cut(geo: Geometry, spec: Spec) -> tuple[float, float, float, float]:
    """The ``cover`` box (output frame, after ``flip`` then ``rot``) as fractions of the oriented source."""
    assert geo.crop is not None
    (rw, rh), (cw, ch) = geo.resize, geo.crop
    left, top = crop_origin(geo.resize, geo.crop, spec)
    x, y, w, h = left, top, cw, ch
    width, height = rw, rh  # undo rot: back to the frame before it
    if spec.rot == 90:
        x, y, w, h, width, height = top, rw - left - cw, ch, cw, rh, rw
    elif spec.rot == 180:
        x, y = rw - left - cw, rh - top - ch
    elif spec.rot == 270:
        x, y, w, h, width, height = rh - top - ch, left, ch, cw, rh, rw
    if spec.flip in (Flip.H, Flip.HV):  # undo flip
        x = width - x - w
    if spec.flip in (Flip.V, Flip.HV):
        y = height - y - h
    return x / width, y / height, (x + w) / width, (y + h) / height


def _jpeg_shrink(source: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest JPEG decode shrink (1, 2, 4, 8) keeping ``JPEG_SHRINK_MARGIN`` x the target."""
    for shrink in (8, 4, 2):
        if all(s // shrink >= JPEG_SHRINK_MARGIN * t for s, t in zip(source, target, strict=True)):
            return shrink
    return 1


def output_format(fm: Fm | None, source: str, *, alpha: bool, animated: bool) -> Format:
    """The concrete format to encode: explicit ``fm``, else ``auto*`` by the source's traits, else the source's.

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


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a step needs, decided before any pixel is decoded."""

    spec: Spec
    info: ImageInfo
    format: Format
    animated: bool  # the output keeps every frame
    geometry: Geometry
    load_size: tuple[int, int]  # resize target in the EXIF-oriented frame (before ``rot``)
    jpeg_shrink: int
    load_scale: float  # WebP, SVG, PDF: scale applied by the loader
    bg: Rgba | None
    # cover with a resized image over ``max_output_side``: the box, as fractions (left, top, right,
    # bottom) of the EXIF-oriented source, cut before the resize (``load_size`` is then the box)
    cut: tuple[float, float, float, float] | None = None

    @property
    def keeps_alpha(self) -> bool:
        return self.format in _ALPHA_FORMATS


def make_plan(info: ImageInfo, spec: Spec, limits: Limits = Limits()) -> Plan:  # noqa: B008
    """Decide output format and every size; refuse outputs over ``limits.max_output_side``."""
    fmt = output_format(spec.fm, info.format, alpha=info.alpha, animated=info.animated)
    animated = info.animated and fmt in (Format.GIF, Format.WEBP)
    turned = spec.rot in (90, 270)
    ow, oh = info.oriented_width, info.oriented_height
    source = (oh, ow) if turned else (ow, oh)
    geo = geometry(*source, spec)
    if max(geo.output) > limits.max_output_side:
        raise InputTooLargeError(
            f"output would be {geo.output[0]}x{geo.output[1]}, more than {limits.max_output_side} pixels a side"
        )
    load_size = (geo.resize[1], geo.resize[0]) if turned else geo.resize
    cut = None
    if geo.crop is not None and max(geo.resize) > limits.max_output_side:
        cut = _source_cut(geo, spec)
        load_size = (geo.crop[1], geo.crop[0]) if turned else geo.crop
    shrink, scale = 1, 1.0
    ratio = max(load_size[0] / ow, load_size[1] / oh)
    if info.format == "jpeg":
        shrink = _jpeg_shrink((ow, oh), load_size)
    elif info.format in ("svg", "pdf"):
        scale = ratio  # vector: render at the output resolution
    elif info.format == "webp" and ratio * JPEG_SHRINK_MARGIN <= 0.5:
        scale = ratio * JPEG_SHRINK_MARGIN
    return Plan(
        spec=spec,
        info=info,
        format=fmt,
        animated=animated,
        geometry=geo,
        load_size=load_size,
        jpeg_shrink=shrink,
        load_scale=scale,
        bg=spec.background,
        cut=cut,
    )


# ---------------------------------------------------------------------------------------------------
# steps

Step = Callable[[Any, Plan], Any]


def load(data: bytes, plan: Plan, operation: str, header: Any = None, header_shrink: int = 1) -> Any:
    """Decode with shrink-on-load and resize to ``plan.load_size`` (EXIF auto-orientation included).

    The loader is called directly rather than through ``thumbnail_buffer``, which does not pass
    ``fail_on`` to it (a truncated file would render grey). JPEG decodes at ``1/plan.jpeg_shrink``;
    WebP, SVG and PDF at ``plan.load_scale``. ``header``: the probe's image, opened at ``header_shrink``;
    decoding from it when the load needs the same options saves opening the loader a second time (0.4-0.5
    ms of CPU for a JPEG photo's header and EXIF).
    """
    width, height = plan.load_size
    options = _load_options(plan.jpeg_shrink)
    if plan.load_scale != 1.0:
        options["scale"] = plan.load_scale
    if plan.animated:
        options["n"] = -1
    if header is not None and options == _load_options(header_shrink):
        image = header
    else:
        image = _open(operation, data, **options)
    if plan.cut is not None:
        image = _cut(image, plan)
    image = _resize(image, width, height)
    if image.width != width or _page_height(image) != height:  # defensive: rounding in libvips
        image = _frames(image, plan, lambda f: f.resize(width / f.width, vscale=height / f.height))
    return image


def _resize(image: Any, width: int, height: int) -> Any:
    """Resize to ``width`` x ``height`` with lanczos3, as ``thumbnail_image(size="force")`` does.

    A plain image (one frame of 8-bit sRGB or grey, no alpha, upright, shrunk on both axes: every photo
    from a JPEG without EXIF rotation) goes straight to ``reduce`` with the shrinks and the ``gap`` that
    ``thumbnail_image`` hands its ``resize``: the same pixels (checked on 384 sizes of the team photos,
    sRGB and grey, every JPEG shrink) without building the colourspace, ``resize`` and copy operations
    around them, 0.2-0.4 ms of CPU a photo. Anything else (alpha to premultiply, EXIF rotation, another
    colourspace or depth, frames, an enlargement) keeps ``thumbnail_image``."""
    hshrink, vshrink = image.width / width, image.height / height
    plain = (
        hshrink > 1.0
        and vshrink > 1.0
        and image.format == "uchar"
        and (image.bands, image.interpretation) in ((3, "srgb"), (1, "b-w"))
        and image.coding == "none"
        and _int_field(image, "orientation", 1) == 1
        and _page_height(image) == image.height
        and not any(image.get_typeof(name) for name in _RESIZE_EXTRAS)
    )
    if plain:
        return image.reduce(hshrink, vshrink, kernel="lanczos3", gap=_RESIZE_GAP)
    return image.thumbnail_image(width, height=height, size="force")


_RESIZE_GAP = 2.0  # libvips resize's default: a box shrink by floor(shrink / 2) first, then lanczos3
# metadata thumbnail_image acts on: a gain map it resizes too, CICP signals it leaves unconverted
_RESIZE_EXTRAS = ("gainmap", "cicp-transfer-characteristics")


def _cut(image: Any, plan: Plan) -> Any:
    """Cut ``plan.cut`` out of the decoded source (EXIF orientation applied first), so the resize that
    follows makes only the ``cover`` box, never the oversized image around it."""
    assert plan.cut is not None
    if plan.info.orientation != 1 and not plan.animated:
        image = image.copy_memory().autorot()
    width, height = image.width, _page_height(image)
    x0, y0, x1, y1 = plan.cut
    left, top = min(width - 1, int(x0 * width)), min(height - 1, int(y0 * height))
    right, bottom = max(left + 1, min(width, math.ceil(x1 * width))), max(top + 1, min(height, math.ceil(y1 * height)))
    return _frames(image, plan, lambda f: f.extract_area(left, top, right - left, bottom - top))


def _page_height(image: Any) -> int:
    if image.get_typeof("page-height") != 0:
        page_height = int(image.get("page-height"))
        if 0 < page_height <= image.height and image.height % page_height == 0:
            return page_height
    return int(image.height)


def _frames(image: Any, plan: Plan, step: Callable[[Any], Any]) -> Any:
    """Apply ``step`` to each frame of an animation (a vertical strip of ``page-height`` frames)."""
    page_height = _page_height(image)
    if not plan.animated or page_height == image.height:
        return step(image)
    count = image.height // page_height
    frames = [step(image.crop(0, i * page_height, image.width, page_height)) for i in range(count)]
    joined = pyvips.Image.arrayjoin(frames, across=1).copy()
    joined.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    for name in ("delay", "loop", "gif-delay"):
        if image.get_typeof(name) != 0 and joined.get_typeof(name) == 0:
            joined.set_type(image.get_typeof(name), name, image.get(name))
    return joined


# An embedded profile no larger than this is checked once for being sRGB already (results cached).
_SRGB_CHECK_MAX_BYTES = 64 * 1024
_SRGB_TOLERANCE = 2  # levels of 255: what lcms' round trip of sRGB through libvips' own sRGB leaves


@functools.cache
def _srgb_grid() -> Any:
    """16 levels per channel, 4096 colours: the probe an embedded profile is compared on."""
    levels = range(0, 256, 17)
    pixels = bytes(v for r in levels for g in levels for b in levels for v in (r, g, b))
    return pyvips.Image.new_from_memory(pixels, 64, 64, 3, "uchar").copy(interpretation="srgb")


@functools.lru_cache(maxsize=64)
def _is_srgb_profile(profile: bytes) -> bool:
    """Whether transforming from ``profile`` to sRGB changes no colour by more than ``_SRGB_TOLERANCE``.

    Cameras and editors embed sRGB IEC61966-2.1 in many JPEGs (3 of the 8 team photos); transforming
    from it to sRGB changes nothing visible but costs 4-7 ms of CPU on a 400 px output (the check
    itself ~20 ms, once per distinct profile).
    """
    if len(profile) < 20 or profile[16:20] != b"RGB ":
        return False
    grid = _srgb_grid()
    tagged = grid.copy()
    tagged.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
    try:
        out = tagged.icc_transform("srgb", embedded=True, intent="perceptual", depth=8)
        return bool((out.cast("int") - grid.cast("int")).abs().max() <= _SRGB_TOLERANCE)
    except pyvips.Error:
        return False


def _needs_icc_transform(image: Any) -> bool:
    if image.get_typeof("icc-profile-data") == 0 or image.interpretation in ("b-w", "grey16"):
        return False
    profile = bytes(image.get("icc-profile-data"))
    return len(profile) > _SRGB_CHECK_MAX_BYTES or not _is_srgb_profile(profile)


def to_srgb(image: Any, plan: Plan) -> Any:
    """8-bit sRGB (or 8-bit grey): what every encoder and later step expects.

    An embedded ICC profile is applied (perceptual intent) on the resized image, unless it is sRGB
    already (``_is_srgb_profile``, checked once per profile); the variant is then written without a
    profile, so browsers read it as sRGB. A broken profile is ignored.
    """
    if _needs_icc_transform(image):
        try:
            image = image.icc_transform("srgb", embedded=True, intent="perceptual", depth=8)
        except pyvips.Error as exc:
            log.info("embedded ICC profile ignored: %s", exc)
    interpretation = image.interpretation
    if interpretation in ("b-w", "grey16"):
        if interpretation == "grey16" or image.format != "uchar":
            image = image.colourspace("b-w")
    elif interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


_ROT = {90: "d90", 180: "d180", 270: "d270"}


def rotate(image: Any, plan: Plan) -> Any:
    """``rot``: clockwise, after EXIF auto-orientation."""
    if plan.spec.rot not in _ROT:
        return image
    angle = _ROT[plan.spec.rot]
    # Rotation reads out of order: materialise the (already resized) image first.
    return _frames(image.copy_memory(), plan, lambda f: f.rot(angle))


def flip(image: Any, plan: Plan) -> Any:
    """``flip``: ``h`` mirrors left-right, ``v`` top-bottom, ``hv`` both."""
    how = plan.spec.flip
    if how is None:
        return image
    if how in (Flip.V, Flip.HV):
        image = _frames(image.copy_memory(), plan, lambda f: f.flip("vertical"))
    if how in (Flip.H, Flip.HV):
        image = _frames(image, plan, lambda f: f.flip("horizontal"))
    return image


def crop(image: Any, plan: Plan) -> Any:
    """``cover``: cut the box out of the resized image, at the focal point, ``pos`` or smart crop."""
    box = plan.geometry.crop
    if box is None:
        return image
    width, height = image.width, _page_height(image)
    cw, ch = box
    if (cw, ch) == (width, height):
        return image
    spec = plan.spec
    if spec.pos in (Position.ATTENTION, Position.ENTROPY) and not plan.animated:
        return image.copy_memory().smartcrop(cw, ch, interesting=spec.pos.value, premultiplied=False)
    left, top = crop_origin((width, height), box, spec)
    return _frames(image, plan, lambda f: f.extract_area(left, top, cw, ch))


def pad(image: Any, plan: Plan) -> Any:
    """``contain``: place the resized image on the ``w`` x ``h`` canvas at ``pos`` with ``bg``.

    Default background: transparent when the output format has alpha, else white.
    """
    canvas = plan.geometry.pad
    if canvas is None:
        return image
    width, height = image.width, _page_height(image)
    cw, ch = canvas
    if (cw, ch) == (width, height):
        return image
    r, g, b, a = plan.bg or ((0, 0, 0, 0) if plan.keeps_alpha else (255, 255, 255, 255))
    if not plan.keeps_alpha:
        a = 255
    if image.bands < 3 and not r == g == b:
        image = image.colourspace("srgb")
    if a < 255 and not image.hasalpha():
        image = image.bandjoin_const([255])
    colour: list[float] = [r, g, b] if image.bands >= 3 else [r]
    if image.hasalpha():
        colour.append(a)
    gx, gy = _GRAVITY.get(plan.spec.pos, (0.5, 0.5))
    left, top = _offset(cw - width, gx, pad=True), _offset(ch - height, gy, pad=True)
    return _frames(image, plan, lambda f: f.embed(left, top, cw, ch, extend="background", background=colour))


def blur(image: Any, plan: Plan) -> Any:
    """Gaussian blur with ``sigma = spec.blur``, premultiplied so edges of transparency stay clean."""
    sigma = plan.spec.blur
    if not sigma:
        return image

    def one(frame: Any) -> Any:
        if frame.hasalpha():
            return frame.premultiply().gaussblur(sigma).unpremultiply().cast("uchar")
        return frame.gaussblur(sigma)

    return _frames(image, plan, one)


def sharpen(image: Any, plan: Plan) -> Any:
    """libvips ``sharpen`` (unsharp mask on L*) with ``sigma = spec.sharpen``."""
    sigma = plan.spec.sharpen
    if not sigma:
        return image
    return _frames(image, plan, lambda f: f.sharpen(sigma=sigma))


def flatten(image: Any, plan: Plan) -> Any:
    """Drop alpha onto ``bg`` (white by default) when the output format has no alpha."""
    if plan.keeps_alpha or not image.hasalpha():
        return image
    r, g, b, _ = plan.bg or (255, 255, 255, 255)
    if image.bands == 2:
        if r == g == b:
            return image.flatten(background=[r])
        image = image.colourspace("srgb")
    return image.flatten(background=[r, g, b])


STEPS: tuple[Step, ...] = (to_srgb, flip, rotate, crop, pad, blur, sharpen, flatten)


JPEG_TUNED: dict[str, Any] = {"quant_table": 3, "interlace": True}  # the only format q=auto encodes differently
DEFAULT_QUALITY: dict[Format, int] = {Format.JPEG: JPEG_QUALITY, Format.WEBP: WEBP_QUALITY, Format.AVIF: AVIF_QUALITY}


def lossy_encoder(fmt: Format, limits: Limits, *, tuned: bool = False) -> Callable[[Any, int], bytes]:
    """``(image, quality) -> bytes`` for JPEG, WebP or AVIF. ``tuned``: the ``q=auto`` settings, fewer bytes
    for the same SSIMULACRA2 (``benchmarks/quality_auto.py``): JPEG with quantisation table 3 (which looks
    better per byte than the standard table) and progressive scans, at no encode time. Trellis
    quantisation saves no more at the same look and costs 4-7x the encode; WebP's effort 6 and AVIF's
    effort 3 save 3-5 % for 1.7-2x the encode, so WebP and AVIF keep their settings."""
    if fmt == Format.JPEG:
        extra: dict[str, Any] = dict(JPEG_TUNED) if tuned else {}
        return lambda image, q: bytes(image.jpegsave_buffer(Q=q, optimize_coding=True, keep="none", **extra))
    if fmt == Format.WEBP:
        return lambda image, q: bytes(image.webpsave_buffer(Q=q, effort=limits.webp_effort, keep="none"))
    if fmt == Format.AVIF:
        return lambda image, q: bytes(
            image.heifsave_buffer(Q=q, compression="av1", effort=limits.avif_effort, bitdepth=8, keep="none")
        )
    raise ValueError(f"{fmt} has no lossy quality")


def searches_quality(plan: Plan) -> bool:
    """``q=auto`` runs its search: a still JPEG, WebP or AVIF output. An animation is encoded at the
    format's default quality, a PNG losslessly (``q=auto`` never makes a palette), a GIF as always."""
    return isinstance(plan.spec.q, Quality) and plan.format in DEFAULT_QUALITY and not plan.animated


def encode(image: Any, plan: Plan, limits: Limits) -> bytes:
    """Write the variant at ``plan.spec.q`` (or the format's default); ``keep="none"`` strips EXIF, XMP,
    IPTC and ICC. ``q=auto`` reaches here only where it does not search (see ``searches_quality``)."""
    q = plan.spec.q if isinstance(plan.spec.q, int) else None
    fmt = plan.format
    if fmt in DEFAULT_QUALITY:
        return lossy_encoder(fmt, limits)(image, q or DEFAULT_QUALITY[fmt])
    if fmt == Format.PNG:
        if q is not None:
            return bytes(image.pngsave_buffer(palette=True, Q=q, effort=PNG_PALETTE_EFFORT, keep="none"))
        return bytes(image.pngsave_buffer(compression=PNG_COMPRESSION, keep="none"))
    return bytes(image.gifsave_buffer(effort=GIF_EFFORT, keep="none"))


def encode_auto(
    image: Any, plan: Plan, limits: Limits, deadline: float | None, *, slower: bool = True
) -> autoquality.AutoQualityResult:
    """``q=auto`` (``vipsfront.engine.autoquality``): the level's calibrated quality with the tuned encoder
    settings, lower for an image with nothing visible to lose; a JPEG keeps the fixed default where that is
    not larger (an image that is not detailed) or has less colour error, so a detailed JPEG may be a few
    percent larger than the fixed default, at a higher SSIMULACRA2. ``slower``: a small detailed WebP or
    AVIF may use ``autoquality.EFFORT`` (never below the configured effort; off when the AVIF effort was
    already lowered for the deadline). The fixed default, said so in the result, when the deadline has
    passed."""
    assert isinstance(plan.spec.q, Quality)
    slower_encode = None
    if slower and plan.format in (Format.WEBP, Format.AVIF):
        slower_limits = replace(
            limits,
            webp_effort=max(limits.webp_effort, autoquality.EFFORT["webp"]),
            avif_effort=max(limits.avif_effort, autoquality.EFFORT["avif"]),
        )
        slower_encode = lossy_encoder(plan.format, slower_limits, tuned=True)
    return autoquality.choose(
        image,
        plan.format.value,
        lossy_encoder(plan.format, limits, tuned=True),
        default_quality=DEFAULT_QUALITY[plan.format],
        level=plan.spec.q,
        deadline=deadline,
        reference_encode=lossy_encoder(plan.format, limits) if plan.format == Format.JPEG else None,
        slower_encode=slower_encode,
    )


# ---------------------------------------------------------------------------------------------------
# transform


def avif_effort_for(pixels: int, preferred: int, remaining_s: float | None) -> int:
    """The highest AVIF effort up to ``preferred`` whose estimated encode of ``pixels`` fits the time left.

    Raises ``DeadlineExceededError`` when not even effort 0 fits: failing now is cheaper than an encode
    that cannot be stopped and would end after the deadline.
    """
    if remaining_s is None:
        return preferred
    for effort in range(min(preferred, len(AVIF_US_PER_PIXEL) - 1), -1, -1):
        if AVIF_US_PER_PIXEL[effort] * pixels / 1e6 <= remaining_s:
            return effort
    raise DeadlineExceededError("not enough time left to encode AVIF")


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceededError("transform deadline exceeded")


@dataclass(slots=True)
class _Watch:
    """Where libvips' evaluation was stopped at the deadline (``None``: it was not)."""

    stopped_at_percent: int | None = None


def _watch(image: Any, deadline: float | None) -> _Watch:
    """Kill the evaluation from libvips' progress signal once the deadline has passed."""
    watch = _Watch()
    if deadline is None:
        return watch

    def on_eval(target: Any, progress: Any) -> None:
        if watch.stopped_at_percent is None and time.monotonic() > deadline:
            watch.stopped_at_percent = int(progress.percent)
            target.set_kill(True)

    image.set_progress(True)
    image.signal_connect("eval", on_eval)
    return watch


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)


def transform(
    data: bytes,
    spec: Spec,
    limits: Limits = Limits(),  # noqa: B008 (frozen default)
    *,
    deadline: float | None = None,
) -> TransformResult:
    """Apply ``spec`` to the image in ``data``.

    ``deadline`` is an absolute ``time.monotonic()`` value: the result is returned only if it is ready
    by then (AVIF effort is lowered to fit it). Raises ``UnsupportedInputError``,
    ``UndecodableImageError``, ``InputTooLargeError`` or ``DeadlineExceededError``; nothing else.
    """
    started = time.perf_counter()
    _check_deadline(deadline)
    if limits.threads > 0 and pyvips.concurrency_get() != limits.threads:
        pyvips.concurrency_set(limits.threads)
    info, operation, header, header_shrink = _probe_header(data, limits, spec)
    the_plan = make_plan(info, spec, limits)
    timings = {"probe": _ms(started)}
    notes: dict[str, str] = {}
    step_started = time.perf_counter()
    watch = _Watch()
    try:
        _check_deadline(deadline)
        image = load(data, the_plan, operation, header, header_shrink)
        for step in STEPS:
            _check_deadline(deadline)
            image = step(image, the_plan)
        _check_deadline(deadline)
        timings["pipeline"] = _ms(step_started)
        encode_started = time.perf_counter()
        effort_lowered = False
        if the_plan.format == Format.AVIF and deadline is not None:
            width, height = the_plan.geometry.output
            pixels = width * height * (the_plan.info.pages if the_plan.animated else 1)
            effort = avif_effort_for(pixels, limits.avif_effort, deadline - time.monotonic())
            if effort != limits.avif_effort:
                log.info("AVIF effort %d instead of %d to meet the deadline", effort, limits.avif_effort)
                limits, effort_lowered = replace(limits, avif_effort=effort), True
        watch = _watch(image, deadline)
        if searches_quality(the_plan):
            chosen = encode_auto(image, the_plan, limits, deadline, slower=not effort_lowered)
            out, notes["qauto"] = chosen.data, chosen.description
            timings["qauto"] = chosen.ms
        else:
            out = encode(image, the_plan, limits)
        timings["encode"] = _ms(encode_started)
        _check_deadline(deadline)
    except pyvips.Error as exc:
        if watch.stopped_at_percent is not None:
            log.info(
                "libvips stopped at %d %% of the evaluation: the deadline passed",
                watch.stopped_at_percent,
                extra={"stopped_at_percent": watch.stopped_at_percent},
            )
            raise DeadlineExceededError("transform deadline exceeded while encoding") from None
        _check_deadline(deadline)
        log.info("transform failed in libvips: %s", exc)
        raise UndecodableImageError("image could not be decoded") from None
    height = the_plan.geometry.output[1]
    pages = image.height // height if the_plan.animated else 1
    timings["transform"] = _ms(started)
    return TransformResult(
        data=out,
        format=the_plan.format,
        media_type=the_plan.format.media_type,
        width=int(image.width),
        height=int(_page_height(image)) if the_plan.animated else int(image.height),
        pages=int(pages),
        input_info=info,
        timings=timings,
        notes=notes,
    )
