"""The origin hands a large transform's freed heap back to the OS (``vipsfront.cli.heap``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import pytest
from helpers import photo_jpeg

from vipsfront.cli import heap
from vipsfront.config.settings import Settings
from vipsfront.origin.serving import TRIM_AFTER_MEGAPIXELS, Origin
from vipsfront.url.spec import Fm, Spec
from vipsfront.stores.base import ImageStore, Original
from vipsfront.telemetry import RequestRecord


def _render(origin: Origin, data: bytes) -> None:
    origin.render(data, Spec(w=100, fm=Fm.JPEG), RequestRecord(key="k"), deadline=time.monotonic() + 60)


def test_the_origin_trims_after_large_transforms_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "trim", lambda: calls.append(1) or True)
    origin = Origin(Settings(), store=cast(ImageStore, None))
    assert 2400 * 1800 / 1e6 >= TRIM_AFTER_MEGAPIXELS > 800 * 600 / 1e6
    _render(origin, photo_jpeg(800, 600))
    assert calls == []
    _render(origin, photo_jpeg(2400, 1800))
    assert calls == [1]
    with pytest.raises(Exception):  # noqa: B017 (any typed error: the point is the trim)
        _render(origin, photo_jpeg(800, 600)[:2000])
    assert calls == [1, 1]


def test_trim_is_safe_to_call() -> None:
    assert heap.trim() in (True, False)


def test_settle_collects_garbage_cycles_then_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a serve worker does once set up: its set-up's garbage cycles are freed, then the heap trimmed."""
    import gc
    import weakref

    class Node:
        other: object = None

    calls: list[int] = []
    monkeypatch.setattr(heap, "trim", lambda: calls.append(gc.collect()) or True)
    gc.disable()
    try:
        first, second = Node(), Node()
        first.other, second.other = second, first  # a cycle only the collector frees
        gone = weakref.ref(first)
        del first, second
        assert gone() is not None
        assert heap.settle() is True
    finally:
        gc.enable()
    assert gone() is None and calls == [0]  # collected before the trim, nothing left for it


# A child process, as a server worker runs (one libvips thread): RSS after a warm-up transform, then after
# a transform of a progressive 4:4:4 12 MP JPEG, whose decode alone holds 72 MB of DCT coefficients.
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import pyvips
from helpers import photo
from vipsfront.config.settings import Settings
from vipsfront.origin.serving import Origin
from vipsfront.url.spec import Fm, Spec
from vipsfront.telemetry import RequestRecord

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

big = bytes(photo(4000, 3000).jpegsave_buffer(Q=90, interlace=True, subsample_mode="off"))
small = bytes(photo(800, 600).jpegsave_buffer(Q=90))
origin = Origin(Settings(), store=None)
def render(data):
    origin.render(data, Spec(w=400, fm=Fm.JPEG), RequestRecord(key="k"), deadline=time.monotonic() + 120)
from vipsfront.cli import heap
real_trim, heap.trim = heap.trim, lambda: True  # the origin's trim, held back to see what it frees
render(small)
before = rss_mb()
render(big)
kept = rss_mb()
real_trim()
print(json.dumps({"before": before, "untrimmed": kept, "after": rss_mb()}))
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists() or heap._libc() is None, reason="needs Linux and glibc")
def test_a_large_transform_leaves_no_copy_behind() -> None:
    """After the progressive JPEG, the trim hands back the tens of MB glibc kept (measured with the origin's own
    trim held back, then run)."""
    tests = Path(__file__).resolve().parents[1]
    # One arena: with two (as workers run), the decode's memory lands in the main arena or in the second one
    # depending on which thread allocates first, and malloc_trim cannot shrink the top of a second arena's
    # heap, so the trim handed back 4-5 MB instead of ~75 in about a third of the runs (module docstring).
    env = {"MALLOC_ARENA_MAX": "1", "VIPS_CONCURRENCY": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tests)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # glibc keeps most of what the decode freed; the trim hands it back (tens of MB), whatever the baseline
    assert figures["untrimmed"] - figures["after"] > 15, figures
    assert figures["after"] - figures["before"] < figures["untrimmed"] - figures["before"], figures


class _Keeps:
    """A stand-in store with one original, that keeps what is put."""

    def __init__(self, original: bytes) -> None:
        self.original = original
        self.put: list[str] = []

    def get_original(self, key: str, max_bytes: int, *, deadline: float | None = None) -> Original:
        return Original(self.original, "image/jpeg", '"e"')

    def put_variant(self, key: str, data: bytes, **_: object) -> None:
        self.put.append(key)


def test_a_miss_stored_after_its_response_trims_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trim is off the response's path: it runs with the store put off until after the response."""
    from vipsfront.url.route import route
    from vipsfront.url.policy import Policy

    events: list[str] = []
    monkeypatch.setattr(heap, "trim", lambda: events.append("trim") or True)
    store = _Keeps(photo_jpeg(2400, 1800))
    origin = Origin(Settings(variant_lookup=False), store=cast(ImageStore, store))
    routed = route("/a.jpg", "w=100", None, Policy.create(), now=time.time())
    served = origin.serve(routed, RequestRecord(), deadline=time.monotonic() + 60, defer_store=True)
    assert served.pending is not None and events == [] and store.put == []
    served.pending.store()
    assert store.put == ["a.jpg/_vf/w=100"] and events == ["trim"]
    assert decode_width(served.data) == 100
    # stored before the answer (as in Lambda): trimmed once, before serve returns
    served = origin.serve(routed, RequestRecord(), deadline=time.monotonic() + 60)
    assert served.pending is None and events == ["trim", "trim"]


def decode_width(data: bytes) -> int:
    import pyvips

    return int(pyvips.Image.new_from_buffer(data, "").width)
