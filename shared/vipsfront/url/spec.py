"""The transform spec: what a variant is, and its canonical text.

A ``Spec`` holds output pixels (``dpr`` already folded) and only what can change the image; building one
from a query is ``vipsfront.url.grammar``'s job, reading a request's query ``vipsfront.url.query``'s, and the
keys and paths that name a variant ``vipsfront.url.keys``'s.

Canonical form: ``name=value`` pairs joined by ``,`` in the fixed order of ``CANONICAL_ORDER``, defaults
dropped. ``Spec.canonical()`` and ``grammar.parse_canonical`` are inverse, so the CloudFront cache key,
the S3 variant key and the signature always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum

MAX_SIDE = 8192


class Fit(StrEnum):
    COVER = "cover"
    CONTAIN = "contain"
    FILL = "fill"
    INSIDE = "inside"
    OUTSIDE = "outside"


class Position(StrEnum):
    CENTER = "center"
    TOP = "top"
    BOTTOM = "bottom"
    LEFT = "left"
    RIGHT = "right"
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"
    ATTENTION = "attention"
    ENTROPY = "entropy"
    FACE = "face"


# ``pos=face`` in the canonical form (the cache key and the variant key) names the face detector's
# generation, so a new model or threshold makes new variants; a signature covers plain ``face`` and
# outlives the model. ``vipsfront.engine.faces.GENERATIONS`` maps each detector to its generation (the
# edge function writes the same text; bump both, and the vectors, with the detector).
FACE_CANONICAL = "face-1"


class Format(StrEnum):
    """Concrete output formats."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"


class Fm(StrEnum):
    """What a request asks for: a concrete format, or ``auto`` resolved to what the client accepts.

    The output format also depends on the source (alpha, animation), which only the engine knows.
    """

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"
    AUTO = "auto"  # auto, and the client takes neither AVIF nor WebP (or not yet negotiated)
    AUTO_WEBP = "auto-webp"
    AUTO_AVIF = "auto-avif"
    AUTO_AVIF_WEBP = "auto-avif-webp"

    @property
    def is_auto(self) -> bool:
        return self.value.startswith("auto")

    @property
    def accepts_avif(self) -> bool:
        return self in (Fm.AUTO_AVIF, Fm.AUTO_AVIF_WEBP)

    @property
    def accepts_webp(self) -> bool:
        return self in (Fm.AUTO_WEBP, Fm.AUTO_AVIF_WEBP)


class Flip(StrEnum):
    H = "h"
    V = "v"
    HV = "hv"


Rgba = tuple[int, int, int, int]
Rect = tuple[int, int, int, int]  # left, top, width, height


@dataclass(frozen=True, slots=True)
class Spec:
    """A transform, in output pixels (``dpr`` already folded). ``Spec()`` is the identity.

    ``bg`` is canonical hex: ``rrggbb`` or ``rrggbbaa``, lower case, no ``#`` (the grammar writes it so).
    ``rect`` is written ``left:top:width:height`` (``,`` separates the canonical form's pairs).
    """

    w: int | None = None
    h: int | None = None
    fit: Fit = Fit.COVER
    pos: Position = Position.CENTER
    fx: float | None = None
    fy: float | None = None
    enlarge: bool = False
    fm: Fm | None = None
    q: int | None = None  # 1..100
    blur: float | None = None
    sharpen: float | None = None
    rot: int = 0
    flip: Flip | None = None
    bg: str | None = None
    rect: Rect | None = None  # a source rectangle (EXIF-oriented pixels), cut before anything else
    trim: int | None = None  # remove a uniform border (libvips find_trim) with this threshold, after ``rect``
    v: str | None = None  # the original's version token: names the source, never changes the pixels

    @property
    def is_identity(self) -> bool:
        """True when the pixels are the original's: no parameter, or only ``v``."""
        return self == IDENTITY or (self.v is not None and replace(self, v=None) == IDENTITY)

    @property
    def unversioned(self) -> Spec:
        """This spec without ``v`` (what a policy or a preset compares)."""
        return self if self.v is None else replace(self, v=None)

    @property
    def negotiated(self) -> bool:
        """True when the output format depends on the client's ``Accept`` header."""
        return self.fm is not None and self.fm.is_auto

    @property
    def background(self) -> Rgba | None:
        """``bg`` as ``(r, g, b, a)``, 0..255 (alpha 255 when ``bg`` has six digits)."""
        if not self.bg:
            return None
        digits = self.bg if len(self.bg) == 8 else self.bg + "ff"
        r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
        return r, g, b, a

    def canonical(self) -> str:
        """The deterministic ``name=value,...`` form; ``""`` for the identity."""
        return self._text(signing=False)

    def signing_canonical(self) -> str:
        """The canonical form with any ``auto*`` format collapsed to ``auto`` and ``pos=face`` without
        its detector: what a signature covers."""
        if self.fm is not None and self.fm.is_auto:
            return replace(self, fm=Fm.AUTO)._text(signing=True)
        return self._text(signing=True)

    def _text(self, *, signing: bool) -> str:
        parts: list[str] = []
        for name in CANONICAL_ORDER:
            value = getattr(self, name)
            if value is None or value == _DEFAULTS[name]:
                continue
            text = FACE_CANONICAL if value is Position.FACE and not signing else format_value(value)
            parts.append(f"{name}={text}")
        return ",".join(parts)


IDENTITY = Spec()
CANONICAL_ORDER: tuple[str, ...] = tuple(f.name for f in fields(Spec))
_DEFAULTS = {f.name: f.default for f in fields(Spec)}


def format_value(value: object) -> str:
    """Numbers print like JavaScript's ``String(n)``: ``1`` not ``1.0``, ``0.25`` not ``.25``; a rectangle
    as ``left:top:width:height``."""
    if isinstance(value, tuple):
        return ":".join(str(part) for part in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)
