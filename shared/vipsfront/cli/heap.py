"""Handing freed heap back to the operating system (glibc's ``malloc_trim``); a no-op elsewhere.

A large transform frees tens of MB at its end (a progressive 14.7 MP JPEG alone needs 88 MB of DCT
coefficients while it decodes), but glibc keeps freed memory in its heaps for reuse, so a worker's RSS
stays at its largest transform's and, across workers, those peaks add up. ``trim`` returns the free
pages: 2 ms of CPU after a transform of a baseline 14.7 MP JPEG, 3-11 ms after a progressive one (the
README's Benchmarks, "Memory of the server tree"). ``malloc_trim`` returns every free page of glibc's main
arena, but in its other arenas (``MALLOC_ARENA_MAX=2`` in workers and the Lambda) not the free space at
the top of the heap, which stays until reused, so after a large transform whose decode ran
there a worker keeps up to ~45 MB over its resting size (measured on a 12 MP progressive JPEG, about one
run in three).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim() -> bool:
    """Return this process's free heap pages to the operating system; ``False`` when that cannot be done."""
    malloc_trim = _libc()
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


def settle() -> bool:
    """Collect the garbage cycles, then ``trim``: a server process does it once set up, before it serves,
    so its imports' and set-up's garbage does not stay in its RSS (about 1.5 MB of a ``serve`` worker)."""
    gc.collect()
    return trim()
