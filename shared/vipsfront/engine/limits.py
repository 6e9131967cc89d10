"""What the engine accepts: plain values, built once from settings by the shell (the engine reads no env).

A module of its own so that the settings (and the CDK, which validates with them) need not import the
engine and libvips.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """What the engine accepts; built once from settings by the shell (the engine reads no env)."""

    max_input_pixels: int = 100_000_000  # per frame
    max_input_bytes: int = 50 * 1024 * 1024
    max_output_side: int = 8192  # output pixels a side (a larger cover resize is cut from the source first)
    max_frames: int = 100  # an animation with more frames is refused (InputTooLargeError)
    allow_svg: bool = False
    allow_pdf: bool = False
    avif_effort: int = 2
    webp_effort: int = 4
    threads: int = 0  # libvips worker threads; 0 leaves libvips' default
