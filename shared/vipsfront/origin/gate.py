"""How many transforms run at once in one process: ``TransformGate``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from vipsfront.config.settings import Settings
from vipsfront.errors import DeadlineExceededError
from vipsfront.telemetry import RequestRecord

BUSY = "the server is busy: no transform slot before the deadline"


class TransformGate:
    """At most ``slots`` transforms at once in this process; a request waits for one until its deadline.

    Transforms are CPU-bound (libvips has its own threads): beyond one per core they only add memory
    (each holds a decoded image) and tail latency. Hits and S3 I/O never wait here.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)

    @classmethod
    def for_settings(cls, settings: Settings) -> TransformGate:
        """``settings.max_concurrent_transforms`` slots, or one per CPU core when it is 0."""
        return cls(settings.transform_slots)

    @contextmanager
    def slot(self, deadline: float, record: RequestRecord) -> Iterator[None]:
        started = time.perf_counter()
        if not self._free.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise DeadlineExceededError(BUSY)
        waited = (time.perf_counter() - started) * 1000
        if waited >= 1:
            record.timings["queue"] = record.timings.get("queue", 0.0) + waited
        try:
            yield
        finally:
            self._free.release()
