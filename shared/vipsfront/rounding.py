"""Half-up rounding, as JavaScript's ``Math.round`` does it (Python's ``round`` rounds halves to even).

The one rounding rule of the URL grammar (``dpr`` folding), the engine's geometry and the ThumbHash
encoder, so the Python and JavaScript twins agree on every ``.5``.
"""

from __future__ import annotations

import math


def round_half_up(value: float) -> int:
    """The nearest integer, halves up: ``2.5 -> 3``, ``-2.5 -> -2``."""
    return math.floor(value + 0.5)
