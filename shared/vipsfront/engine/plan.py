"""Every size of a transform, decided from the header alone (pure: no libvips, so it is tested without it).

Order of operations as in sharp: EXIF orientation first, then the resize (``fit`` is worked out on the
rotated size), ``flip`` mirrors the image before ``rot`` turns it, the ``cover`` crop and the ``contain``
padding are placed in the output frame (after ``rot``).

* Geometry as in sharp: a ``cover`` crop at the centre leaves ceil(space/2) before the box, ``contain``
  padding floor(space/2). ``max_output_side`` bounds the output; a ``cover`` whose resized image would be
  larger (a 4097x3 strip to 100x100) cuts the source to the box first and resizes only that.
* JPEG decode scale. libvips' ``thumbnail`` keeps a factor of two after JPEG shrink-on-load (2560 → 1280
  for a 400 px target); Pillow's ``draft()`` and sharp's default ``fastShrinkOnLoad`` decode at 1/4.
  The engine decodes at the largest 1/2, 1/4, 1/8 scale that still leaves the decoded image at least
  ``JPEG_SHRINK_MARGIN`` (1.5) times the target, then resizes with libvips' lanczos3. SSIM (luma, 11x11
  gaussian window) against a full-resolution lanczos3 reference, 8 photos: ``thumbnail_buffer`` (1/2)
  0.9976; this engine at 400 px (1/4, margin 1.6) 0.9951, worst 0.9907; at the margin limit (426 px,
  margin 1.5) 0.9924; Pillow ``draft`` + LANCZOS 0.9926. Decoding below the target (margin < 1) costs far
  more (1/8 at 400 px: 0.869), so it is never done. The margin is checked on the decoded size as libvips
  rounds it (down), so a 3-row JPEG asked for 1 row decodes all 3.
* Animation: an output format that has animation (``encode.FORMATS``) keeps every frame of an animated
  source; other outputs get the first frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from vipsfront.engine.encode import FORMATS
from vipsfront.engine.limits import Limits
from vipsfront.errors import InvalidSpecError, OutputTooLargeError
from vipsfront.url.rounding import round_half_up
from vipsfront.url.spec import Fit, Flip, Fm, Format, Position, Rect, Rgba, Spec

JPEG_SHRINK_MARGIN = 1.5


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
class Geometry:
    """Sizes in the output frame (after EXIF orientation and ``rot``), per animation frame."""

    resize: tuple[int, int]  # size after the resize step
    crop: tuple[int, int] | None = None  # cover: crop box
    pad: tuple[int, int] | None = None  # contain: canvas

    @property
    def output(self) -> tuple[int, int]:
        return self.crop or self.pad or self.resize


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a step needs, decided before any pixel is decoded."""

    spec: Spec
    info: ImageInfo
    format: Format
    animated: bool  # the output keeps every frame
    keeps_alpha: bool  # the output format has alpha
    geometry: Geometry
    load_size: tuple[int, int]  # resize target in the EXIF-oriented frame (before ``rot``)
    jpeg_shrink: int  # JPEG: decode at 1/jpeg_shrink
    load_scale: float  # WebP, SVG, PDF: scale applied by the loader
    bg: Rgba | None
    # cover with a resized image over ``max_output_side``: the box, as fractions (left, top, right,
    # bottom) of the EXIF-oriented source, cut before the resize (``load_size`` is then the box)
    cut: tuple[float, float, float, float] | None = None
    # ``rect`` (clipped to the source) and ``trim`` (found in the pixels): the part of the EXIF-oriented
    # source everything else applies to; the source is then decoded whole (no shrink-on-load)
    region: Rect | None = None


def _round(value: float) -> int:
    return max(1, round_half_up(value))


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


GRAVITY: dict[Position, tuple[float, float]] = {
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


def _offset(space: int, gravity: float, *, pad: bool = False) -> int:
    """Where a box starts along an axis with ``space`` to spare: sharp leaves ceil(space/2) before a
    centred crop (``CalculateCrop``) and floor(space/2) before centred padding (``CalculateEmbedPosition``)."""
    if gravity <= 0.0:
        return 0
    if gravity >= 1.0:
        return space
    return space // 2 if pad else (space + 1) // 2


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
    gx, gy = GRAVITY.get(spec.pos, (0.5, 0.5))
    return _offset(width - cw, gx), _offset(height - ch, gy)


def pad_origin(size: tuple[int, int], canvas: tuple[int, int], spec: Spec) -> tuple[int, int]:
    """Top-left corner of the resized image on the ``contain`` canvas, at ``pos``."""
    (width, height), (cw, ch) = size, canvas
    gx, gy = GRAVITY.get(spec.pos, (0.5, 0.5))
    return _offset(cw - width, gx, pad=True), _offset(ch - height, gy, pad=True)


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


def source_rect(info: ImageInfo, spec: Spec) -> Rect | None:
    """``spec.rect`` clipped to the EXIF-oriented source (as imgix clips it); ``InvalidSpecError`` when
    the rectangle lies wholly outside it."""
    if spec.rect is None:
        return None
    left, top, width, height = spec.rect
    right, bottom = min(left + width, info.oriented_width), min(top + height, info.oriented_height)
    if left >= right or top >= bottom:
        raise InvalidSpecError(
            f"rect lies outside the {info.oriented_width}x{info.oriented_height} original", param="rect"
        )
    return left, top, right - left, bottom - top


def make_plan(
    info: ImageInfo,
    spec: Spec,
    limits: Limits = Limits(),  # noqa: B008 (frozen default)
    region: Rect | None = None,
) -> Plan:
    """Decide output format and every size; refuse outputs over ``limits.max_output_side``.

    ``region``: the part of the source that ``trim`` found (within ``rect``); without it, ``rect`` clipped.
    """
    fmt = output_format(spec.fm, info.format, alpha=info.alpha, animated=info.animated)
    traits = FORMATS[fmt]
    turned = spec.rot in (90, 270)
    region = region or source_rect(info, spec)
    ow, oh = (region[2], region[3]) if region else (info.oriented_width, info.oriented_height)
    geo = geometry(*((oh, ow) if turned else (ow, oh)), spec)
    if max(geo.output) > limits.max_output_side:
        width, height = geo.output
        raise OutputTooLargeError(
            f"output would be {width}x{height}, more than {limits.max_output_side} pixels a side: ask for a"
            " smaller w or h",
            param="w" if width > limits.max_output_side else "h",
        )
    load_size = (geo.resize[1], geo.resize[0]) if turned else geo.resize
    cut = None
    if geo.crop is not None and max(geo.resize) > limits.max_output_side:
        cut = _source_cut(geo, spec)
        load_size = (geo.crop[1], geo.crop[0]) if turned else geo.crop
    shrink, scale = 1, 1.0
    ratio = max(load_size[0] / ow, load_size[1] / oh)
    if region is not None:
        pass  # decoded whole: the region is cut in source pixels
    elif info.format == "jpeg":
        shrink = _jpeg_shrink((ow, oh), load_size)
    elif info.format in ("svg", "pdf"):
        scale = ratio  # vector: render at the output resolution
    elif info.format == "webp" and ratio * JPEG_SHRINK_MARGIN <= 0.5:
        scale = ratio * JPEG_SHRINK_MARGIN
    return Plan(
        spec=spec,
        info=info,
        format=fmt,
        animated=info.animated and traits.animation,
        keeps_alpha=traits.alpha,
        geometry=geo,
        load_size=load_size,
        jpeg_shrink=shrink,
        load_scale=scale,
        bg=spec.background,
        cut=cut,
        region=region,
    )
