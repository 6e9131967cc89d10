"""The AWS sample ``image-optimization``'s query (``?format=auto&width=300``), read into native parameters.

``format`` (``auto``, ``jpeg``, ``webp``, ``avif``, ``png``, ``gif``), ``width``, ``height`` (sharp's
``cover``, the native default) and ``quality``. The sample has no signatures.
"""

from __future__ import annotations

from vipsfront.url.dialects.base import Options, Translation, checked, key_of, no_equivalent, refuse, split_pairs

NAME = "aws-sample"
_NAMES = {"width": "w", "height": "h", "quality": "q", "format": "fm"}
_FORMATS = frozenset({"auto", "jpeg", "jpg", "webp", "avif", "png", "gif"})


def translate(path: str, query: str, options: Options, *, now: float) -> Translation:
    """The native parameters of an AWS sample URL (``path`` after the dialect's prefix, ``query`` raw)."""
    values: dict[str, str] = {}
    for name, raw in split_pairs(NAME, query):
        if name not in _NAMES:
            raise no_equivalent(NAME, "parameter", name)
        if name == "format" and raw not in _FORMATS:
            raise refuse(NAME, "format", f"format {raw[:40]!r} has no equivalent here")
        values[_NAMES[name]] = raw
    native_names = {native: name for name, native in _NAMES.items()}
    return Translation(key_of(NAME, path, options), checked(NAME, values, native_names))
