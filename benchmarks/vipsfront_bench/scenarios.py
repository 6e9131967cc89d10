"""The operations every engine runs on the same files, and how each peer spells them.

Qualities are explicit (JPEG 80, WebP 80, AVIF 50), so "the same operation" does not depend on any
engine's defaults; WebP effort 4 and the AVIF effort of the engine's ``Limits`` (with 4:2:0 chroma)
everywhere.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from vipsfront.engine.limits import Limits

QUALITY = {"jpeg": 80, "webp": 80, "avif": 50, "png": None}


@dataclass(frozen=True)
class Op:
    id: str
    label: str
    role: str
    width: int
    format: str
    height: int | None = None
    position: str | None = None  # cover crop: center or attention
    scored: bool = True  # SSIM against the reference resize (not for smart crops: each engine crops elsewhere)

    @property
    def quality(self) -> int | None:
        return QUALITY[self.format]

    def params(self) -> dict[str, str]:
        """vipsfront URL parameters."""
        params = {"w": str(self.width)}
        if self.height:
            params.update(h=str(self.height), fit="cover", pos=self.position or "center")
        params["fm"] = self.format
        if self.quality:
            params["q"] = str(self.quality)
        return params

    def query(self) -> str:
        return urlencode(self.params())

    def thumbor_path(self, key: str) -> str:
        """thumbor's URL: ``/unsafe/{w}x{h}/filters:...``; cover crops centred (smart needs detectors)."""
        size = f"{self.width}x{self.height or 0}"
        filters = [f"format({self.format})"]
        if self.quality:
            filters.append(f"quality({self.quality})")
        return f"/unsafe/{size}/filters:{':'.join(filters)}/{key}"

    def sample_path(self, key: str) -> str:
        """The AWS sample's path form (its ``url-rewrite.js``): ``/{key}/format=..,quality=..,width=..``."""
        parts = [f"format={self.format}"]
        if self.quality:
            parts.append(f"quality={self.quality}")
        parts.append(f"width={self.width}")
        if self.height:
            parts.append(f"height={self.height}")
        return f"/{key}/{','.join(parts)}"

    def job(self, files: list[Path], **extra: Any) -> dict[str, Any]:
        """The op as a worker job entry (see ``worker.py`` and ``benchmarks/peers/sharp/worker.mjs``)."""
        limits = Limits()
        return {
            "id": self.id,
            "files": [str(f) for f in files],
            "width": self.width,
            "height": self.height,
            "position": self.position,
            "format": self.format,
            "quality": self.quality,
            "webp_effort": limits.webp_effort,
            "avif_effort": limits.avif_effort,
            "params": self.params(),
            **extra,
        }


OPS: tuple[Op, ...] = (
    Op("photo-400-jpeg", "photo → 400w JPEG q80", "photo", 400, "jpeg"),
    Op("photo-400-webp", "photo → 400w WebP q80", "photo", 400, "webp"),
    Op("photo-400-avif", "photo → 400w AVIF q50", "photo", 400, "avif"),
    Op("photo-1200-jpeg", "photo → 1200w JPEG q80", "photo", 1200, "jpeg"),
    Op("photo-1200-webp", "photo → 1200w WebP q80", "photo", 1200, "webp"),
    Op("photo-1200-avif", "photo → 1200w AVIF q50", "photo", 1200, "avif"),
    Op("large-1200-jpeg", "14.7 MP JPEG → 1200w JPEG q80", "large_jpeg", 1200, "jpeg"),
    Op("largepng-1200-webp", "14.7 MP PNG → 1200w WebP q80", "large_png", 1200, "webp"),
    Op(
        "photo-cover-attention",
        "photo → 400x400 cover, pos=attention, JPEG q80",
        "photo",
        400,
        "jpeg",
        height=400,
        position="attention",
        scored=False,
    ),
    Op("rgba-800-webp", "RGBA PNG → 800w WebP q80", "rgba_png", 800, "webp"),
)


def centred(op: Op) -> Op:
    """``op`` as every origin can make it: a cover crop at the centre (thumbor-aws' smart crop needs
    detectors, the AWS sample has no position parameter)."""
    if op.position in (None, "center"):
        return op
    return replace(
        op,
        id=op.id.replace(op.position, "center"),
        label=op.label.replace(f"pos={op.position}", "pos=center"),
        position="center",
    )


CENTRED_OPS: tuple[Op, ...] = tuple(centred(op) for op in OPS)  # origin against origin
QUICK_OPS = ("photo-400-jpeg", "rgba-800-webp")  # --quick: a photo and an image with alpha


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--corpus`` and ``--ops``, for the subcommands that run the ops on the corpus."""
    parser.add_argument("--corpus", type=Path, help="folder of images (default ../shared/corpus, else samples)")
    parser.add_argument("--ops", help="comma list of op ids (default: all; --quick: a photo and an RGBA PNG)")


def select(ids: str | None, quick: bool, ops: tuple[Op, ...] = OPS) -> tuple[Op, ...]:
    """The ops of ``ops`` named in ``ids`` (a comma list), else :data:`QUICK_OPS` with ``quick``, else all."""
    wanted = ids.split(",") if ids else (list(QUICK_OPS) if quick else [op.id for op in ops])
    unknown = set(wanted) - {op.id for op in ops}
    if unknown:
        known = ", ".join(op.id for op in ops)
        raise SystemExit(f"vipsfront bench: unknown op {', '.join(sorted(unknown))}; the ops: {known}")
    return tuple(op for op in ops if op.id in wanted)


# Bytes at matched quality: photos at this width, each format encoded at these qualities.
MATCHED_WIDTH = 1200
MATCHED_QUALITIES = (30, 45, 60, 75, 90)  # SSIMULACRA2 about 60 to 85 for each format
MATCHED_FORMATS = ("jpeg", "webp", "avif")
DEFAULT_JPEG_QUALITY = {"engine": 80, "pillow": 75, "pillow-simd": 75, "sharp": 80, "thumbor": 80}
