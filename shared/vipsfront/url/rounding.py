"""Half-up rounding, as JavaScript's ``Math.round`` does it (Python's ``round`` rounds halves to even).

The one rounding rule of the URL grammar (``dpr`` folding), the engine's geometry and the ThumbHash
encoder, so the Python and JavaScript twins agree on every ``.5``.
"""

from __future__ import annotations

import math

FACTOR_UNITS = 10_000  # a factor in the grammar has at most 4 decimals


def round_half_up(value: float) -> int:
    """The nearest integer, halves up: ``2.5 -> 3``, ``-2.5 -> -2``."""
    return math.floor(value + 0.5)


def times_half_up(side: int, factor: float) -> int:
    """``side * factor`` rounded half up in exact decimal arithmetic, for a ``factor`` of at most 4 decimals.

    ``50 * 1.13`` is ``56.49999...`` in floating point (56) but 56.5 in decimal (57). The factor is
    counted in ten-thousandths (exact: ``round`` recovers them from the float) and the rest is integer
    arithmetic. The JavaScript twins compute ``Math.floor((side * Math.round(factor * 1e4) + 5e3) / 1e4)``,
    exact for the same reason (integers far below 2**53; a quotient is a whole number only when exact).
    """
    units = round(factor * FACTOR_UNITS)
    return (2 * side * units + FACTOR_UNITS) // (2 * FACTOR_UNITS)
