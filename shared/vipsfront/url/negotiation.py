"""``fm=auto`` against the ``Accept`` header: which modern formats a client takes.

The answer is one of the ``auto*`` tokens, so it goes into the canonical form and the cache key; the
concrete format also depends on the source (alpha, animation) and is decided by the engine's plan.
"""

from __future__ import annotations

from dataclasses import replace

from vipsfront.url.spec import Fm, Spec


def _accepted(accept: str | None) -> set[str]:
    types: set[str] = set()
    for item in (accept or "").lower().split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            types.add(media)
    return types


def negotiate(accept: str | None) -> Fm:
    """The ``auto*`` token for an ``Accept`` header.

    Only explicit ``image/avif`` / ``image/webp`` count; ``*/*`` (curl, old browsers) does not.
    """
    types = _accepted(accept)
    avif, webp = "image/avif" in types, "image/webp" in types
    if avif and webp:
        return Fm.AUTO_AVIF_WEBP
    if avif:
        return Fm.AUTO_AVIF
    if webp:
        return Fm.AUTO_WEBP
    return Fm.AUTO


def with_accept(spec: Spec, accept: str | None) -> Spec:
    """``spec`` with ``fm=auto`` (any ``auto*`` token) resolved from ``accept``; other specs unchanged."""
    if not spec.negotiated:
        return spec
    return replace(spec, fm=negotiate(accept))
