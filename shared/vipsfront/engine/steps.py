"""The libvips operations that carry out a plan: the load (with its resize), then ``STEPS`` in order.

Pipeline, written down once::

    load: shrink-on-load, EXIF auto-orientation, the ``rect``/``trim`` region, the ``cover`` cut of an
          oversized resize, lanczos3 resize
    → 8-bit sRGB → flip → rot → crop (cover) → pad (contain) → blur → sharpen → flatten

pyvips is lazy: pixels are decoded, resized and encoded together during the final write.

Animation: each step applies per frame (a vertical strip of ``page-height`` frames). Smart crop
(``attention``/``entropy``) on a kept animation crops at the centre instead (one box for every frame;
sharp refuses such a request).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

import pyvips

from vipsfront.engine import loaders
from vipsfront.engine.plan import Plan, crop_origin, pad_origin, source_rect
from vipsfront.engine.probe import Header
from vipsfront.url.spec import Flip, Position, Rect, Spec

log = logging.getLogger(__name__)

Step = Callable[[Any, Plan], Any]


def load(data: bytes, plan: Plan, header: Header) -> Any:
    """Decode ``data`` with shrink-on-load and resize to ``plan.load_size`` (EXIF auto-orientation included).

    JPEG decodes at ``1/plan.jpeg_shrink``; WebP, SVG and PDF at ``plan.load_scale``; an animation kept in
    the output with all its frames. Without any of those (nor ``trim``, which has read it) the probe's
    ``header`` image is decoded.
    """
    options = loaders.load_options(shrink=plan.jpeg_shrink, scale=plan.load_scale, all_frames=plan.animated)
    if options == loaders.load_options() and plan.spec.trim is None:  # trim_region has read the header's
        image = header.image
    else:
        image = loaders.open_image(data, header.loader, **options)
    if plan.region is not None:
        left, top, width, height = plan.region
        image = _frames(_oriented(image, plan), lambda f: f.extract_area(left, top, width, height))
    if plan.cut is not None:
        image = _cut(image, plan)
    return resize(image, *plan.load_size)


def resize(image: Any, width: int, height: int) -> Any:
    """Resize to ``width`` x ``height`` (per frame, for a kept animation) with libvips' ``thumbnail_image``:
    lanczos3, EXIF auto-orientation, alpha premultiplied, colourspace kept."""
    image = image.thumbnail_image(width, height=height, size="force")
    if image.width != width or page_height(image) != height:  # defensive: rounding in libvips
        image = _frames(image, lambda f: f.resize(width / f.width, vscale=height / f.height))
    return image


def _oriented(image: Any, plan: Plan) -> Any:
    """``image`` turned by its EXIF orientation (an animation's frames are left as they are)."""
    if plan.info.orientation != 1 and not plan.animated:
        return image.copy_memory().autorot()
    return image


def trim_region(header: Header, spec: Spec) -> Rect | None:
    """``trim``: the box, in the EXIF-oriented source, left when a border of the top-left pixel's colour
    is removed from ``rect`` (or the whole image) with ``spec.trim`` as libvips' ``find_trim`` threshold.
    A uniform image keeps its size. Reads the pixels of the first frame."""
    if spec.trim is None:
        return None
    info = header.info
    left, top, width, height = source_rect(info, spec) or (0, 0, info.oriented_width, info.oriented_height)
    image = header.image
    if info.orientation != 1:
        image = image.copy_memory().autorot()
    area = image.extract_area(left, top, width, min(height, page_height(image) - top))
    if area.hasalpha():
        area = area.flatten(background=[255] * (area.bands - 1))
    found = area.find_trim(threshold=spec.trim, background=area.getpoint(0, 0))
    x, y, w, h = (int(v) for v in found)
    return (left + x, top + y, w, h) if w > 0 and h > 0 else (left, top, width, height)


def _cut(image: Any, plan: Plan) -> Any:
    """Cut ``plan.cut`` out of the decoded source (EXIF orientation applied first), so the resize that
    follows makes only the ``cover`` box, never the oversized image around it."""
    assert plan.cut is not None
    image = _oriented(image, plan)
    width, height = image.width, page_height(image)
    x0, y0, x1, y1 = plan.cut
    left, top = min(width - 1, int(x0 * width)), min(height - 1, int(y0 * height))
    right, bottom = max(left + 1, min(width, math.ceil(x1 * width))), max(top + 1, min(height, math.ceil(y1 * height)))
    return _frames(image, lambda f: f.extract_area(left, top, right - left, bottom - top))


def page_height(image: Any) -> int:
    """The height of one frame (the image's height unless it is a strip of animation frames)."""
    if image.get_typeof("page-height") != 0:
        height = int(image.get("page-height"))
        if 0 < height <= image.height and image.height % height == 0:
            return height
    return int(image.height)


def _frames(image: Any, step: Callable[[Any], Any]) -> Any:
    """Apply ``step`` to each frame of a kept animation (a vertical strip of ``page-height`` frames; a
    still image, or the first frame of an animation, is one)."""
    height = page_height(image)
    if height == image.height:
        return step(image)
    count = image.height // height
    frames = [step(image.crop(0, i * height, image.width, height)) for i in range(count)]
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
def is_srgb_profile(profile: bytes) -> bool:
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
    return len(profile) > _SRGB_CHECK_MAX_BYTES or not is_srgb_profile(profile)


def to_srgb(image: Any, plan: Plan) -> Any:
    """8-bit sRGB (or 8-bit grey): what every encoder and later step expects.

    An embedded ICC profile is applied (perceptual intent) on the resized image, unless it is sRGB
    already (``is_srgb_profile``, checked once per profile); the variant is then written without a
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
    return _frames(image.copy_memory(), lambda f: f.rot(angle))


def flip(image: Any, plan: Plan) -> Any:
    """``flip``: ``h`` mirrors left-right, ``v`` top-bottom, ``hv`` both."""
    how = plan.spec.flip
    if how is None:
        return image
    if how in (Flip.V, Flip.HV):
        image = _frames(image.copy_memory(), lambda f: f.flip("vertical"))
    if how in (Flip.H, Flip.HV):
        image = _frames(image, lambda f: f.flip("horizontal"))
    return image


def crop(image: Any, plan: Plan) -> Any:
    """``cover``: cut the box out of the resized image, at the focal point, ``pos`` or smart crop."""
    box = plan.geometry.crop
    if box is None:
        return image
    size = (image.width, page_height(image))
    if box == size:
        return image
    spec = plan.spec
    cw, ch = box
    if spec.pos in (Position.ATTENTION, Position.ENTROPY) and not plan.animated:
        return image.copy_memory().smartcrop(cw, ch, interesting=spec.pos.value, premultiplied=False)
    left, top = crop_origin(size, box, spec)
    return _frames(image, lambda f: f.extract_area(left, top, cw, ch))


def pad(image: Any, plan: Plan) -> Any:
    """``contain``: place the resized image on the ``w`` x ``h`` canvas at ``pos`` with ``bg``.

    Default background: transparent when the output format has alpha, else white.
    """
    canvas = plan.geometry.pad
    if canvas is None:
        return image
    size = (image.width, page_height(image))
    if canvas == size:
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
    (cw, ch), (left, top) = canvas, pad_origin(size, canvas, plan.spec)
    return _frames(image, lambda f: f.embed(left, top, cw, ch, extend="background", background=colour))


def blur(image: Any, plan: Plan) -> Any:
    """Gaussian blur with ``sigma = spec.blur``, premultiplied so edges of transparency stay clean."""
    sigma = plan.spec.blur
    if not sigma:
        return image

    def one(frame: Any) -> Any:
        if frame.hasalpha():
            return frame.premultiply().gaussblur(sigma).unpremultiply().cast("uchar")
        return frame.gaussblur(sigma)

    return _frames(image, one)


def sharpen(image: Any, plan: Plan) -> Any:
    """libvips ``sharpen`` (unsharp mask on L*) with ``sigma = spec.sharpen``."""
    sigma = plan.spec.sharpen
    if not sigma:
        return image
    return _frames(image, lambda f: f.sharpen(sigma=sigma))


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
