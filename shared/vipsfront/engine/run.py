"""``transform``: bytes and a ``Spec`` in, the encoded variant out, within the limits and the deadline.

    probe (``probe``: header only, limits) → plan (``plan``: every size, before any pixel is decoded)
    → load and ``STEPS`` (``steps``) → encode (``encode``)

The deadline is checked between the stages and, while pixels flow (pyvips is lazy: they are decoded,
resized and encoded together during the final write, so the ``encode`` timing includes decoding and
resizing), from libvips' ``eval`` signal. A result that is only ready after the deadline is refused too,
so a late variant is never stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyvips

from vipsfront.engine import encode, faces, probe, steps
from vipsfront.engine.limits import Limits
from vipsfront.engine.plan import ImageInfo, Plan, make_plan
from vipsfront.errors import DeadlineExceededError, UndecodableImageError
from vipsfront.url.spec import Flip, Format, Position, Spec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TransformResult:
    data: bytes
    format: Format
    media_type: str
    width: int
    height: int  # one frame
    pages: int
    input_info: ImageInfo
    timings: dict[str, float] = field(default_factory=dict)  # ms: probe, pipeline, encode, transform
    notes: dict[str, str] = field(default_factory=dict)  # a timing's description: faces -> "cached"


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


def _wants_faces(plan: Plan) -> bool:
    """``pos=face`` on a ``cover`` crop that cuts something off, of a still output."""
    crop = plan.geometry.crop
    return (
        plan.spec.pos is Position.FACE
        and plan.spec.fx is None
        and crop is not None
        and crop != plan.geometry.resize
        and not plan.animated
    )


def _aim(plan: Plan, found: Sequence[faces.Face], limits: Limits, how: str) -> tuple[Plan, str]:
    """The plan with its crop aimed at ``found`` (fractions of the oriented source) through the
    focal point, or at libvips' ``attention`` without faces; and what was used, for Server-Timing."""
    spec = plan.spec
    oriented = faces.orient(found, spec.flip in (Flip.H, Flip.HV), spec.flip in (Flip.V, Flip.HV), spec.rot)
    assert plan.geometry.crop is not None
    point = faces.focal_point(oriented, plan.geometry.resize, plan.geometry.crop)
    if point is None:
        attention = replace(spec, pos=Position.ATTENTION)
        return make_plan(plan.info, attention, limits, plan.region), f"attention: no face {how}"
    aimed = replace(spec, fx=point[0], fy=point[1])
    return make_plan(plan.info, aimed, limits, plan.region), f"faces={len(found)} {how}"


def _in_region(found: Sequence[faces.Face], plan: Plan) -> tuple[faces.Face, ...]:
    """Faces (fractions of the oriented source) as fractions of ``plan.region`` (``rect``/``trim``),
    those at least half inside it."""
    if plan.region is None:
        return tuple(found)
    left, top, width, height = plan.region
    ow, oh = plan.info.oriented_width, plan.info.oriented_height
    out = []
    for face in found:
        x0, y0 = (face.left * ow - left) / width, (face.top * oh - top) / height
        x1, y1 = (face.right * ow - left) / width, (face.bottom * oh - top) / height
        inside = (min(x1, 1) - max(x0, 0)) * (min(y1, 1) - max(y0, 0))
        if x1 > 0 and y1 > 0 and x0 < 1 and y0 < 1 and inside >= 0.5 * (x1 - x0) * (y1 - y0):
            out.append(faces.Face(max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1), face.score))
    return tuple(out)


def _fallback(plan: Plan, limits: Limits, exc: Exception) -> tuple[Plan, str]:
    log.warning("face detection failed, cropping by attention: %s", exc)
    attention = replace(plan.spec, pos=Position.ATTENTION)
    return make_plan(plan.info, attention, limits, plan.region), "attention: detector error"


def transform(
    data: bytes,
    spec: Spec,
    limits: Limits = Limits(),  # noqa: B008 (frozen default)
    *,
    deadline: float | None = None,
    known_faces: Sequence[faces.Face] | None = None,
) -> TransformResult:
    """Apply ``spec`` to the image in ``data``.

    ``deadline`` is an absolute ``time.monotonic()`` value: the result is returned only if it is ready
    by then (AVIF effort is lowered to fit it). Raises ``UnsupportedInputError``,
    ``UndecodableImageError``, ``InputTooLargeError`` or ``DeadlineExceededError``; nothing else.

    ``pos=face`` aims the crop at ``known_faces`` (the info document's boxes), else at the faces
    found in the resized image (or, when that is under ``faces.MIN_DETECT_SIDE`` or cut from an
    oversized resize, in a shrink-on-load decode), else at ``attention``. The ``faces`` timing says
    which (its note: ``faces=2 cached``, ``attention: no face``, ...).
    """
    started = time.perf_counter()
    _check_deadline(deadline)
    if limits.threads > 0 and pyvips.concurrency_get() != limits.threads:
        pyvips.concurrency_set(limits.threads)
    header = probe.open_header(data, limits)
    try:
        region = steps.trim_region(header, spec)
    except pyvips.Error:
        raise UndecodableImageError("image could not be decoded") from None
    plan = make_plan(header.info, spec, limits, region)
    timings = {"probe": _ms(started)}
    notes: dict[str, str] = {}
    step_started = time.perf_counter()
    watch = _Watch()
    try:
        _check_deadline(deadline)
        if _wants_faces(plan) and known_faces is not None:
            plan, notes["faces"] = _aim(plan, _in_region(known_faces, plan), limits, "cached")
            timings["faces"] = _ms(step_started)
        elif _wants_faces(plan) and (plan.cut is not None or max(plan.load_size) < faces.MIN_DETECT_SIDE):
            try:
                found = faces.detect(data, header)
            except (faces.DetectorError, pyvips.Error) as exc:
                plan, notes["faces"] = _fallback(plan, limits, exc)
            else:
                plan, notes["faces"] = _aim(plan, _in_region(found, plan), limits, "decoded")
            timings["faces"] = _ms(step_started)
        _check_deadline(deadline)
        image = steps.load(data, plan, header)
        if _wants_faces(plan):  # found in the resized image (of the region, when there is one)
            detect_started = time.perf_counter()
            image = image.copy_memory()  # the resized pixels, shared by the detector and the steps
            try:
                found = faces.detect_pixels(image)
            except faces.DetectorError as exc:
                plan, notes["faces"] = _fallback(plan, limits, exc)
            else:
                plan, notes["faces"] = _aim(plan, found, limits, "resized")
            timings["faces"] = _ms(detect_started)
        for step in steps.STEPS:
            _check_deadline(deadline)
            image = step(image, plan)
        _check_deadline(deadline)
        timings["pipeline"] = _ms(step_started)
        encode_started = time.perf_counter()
        watch = _watch(image, deadline)
        encoded = encode.encode(image, plan.format, spec.q, limits, deadline=deadline)
        timings.update(encoded.timings)
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
    frame_height = steps.page_height(image) if plan.animated else int(image.height)
    timings["transform"] = _ms(started)
    return TransformResult(
        data=encoded.data,
        format=plan.format,
        media_type=encode.FORMATS[plan.format].media_type,
        width=int(image.width),
        height=frame_height,
        pages=int(image.height) // frame_height,
        input_info=header.info,
        timings=timings,
        notes={**notes, **encoded.notes},
    )
