"""The default ladder of output widths: what unsigned URLs may ask for and what width hints round up to.

The deployment's unsigned policy takes this list unless configured otherwise (``cdk/`` imports it from
here), and a ``Sec-CH-Width`` hint rounds up to it when the policy has no list (``vipsfront.url.route``).
Next.js's default ``deviceSizes`` plus ``imageSizes``, so its loader's widths are all on the ladder.
"""

from __future__ import annotations

BREAKPOINT_WIDTHS: tuple[int, ...] = (
    16, 32, 48, 64, 96, 128, 256, 384, 640, 750, 828, 1080, 1200, 1920, 2048, 3840,
)  # fmt: skip
