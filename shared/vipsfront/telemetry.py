"""What one request did, as plain values: the origin fills it in, adapters log and meter it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    HIT = "hit"  # the stored variant was served
    MISS = "miss"  # transformed (or copied, for the original) and stored
    NOT_MODIFIED = "not-modified"
    MOVED = "moved"  # the URL named an old version: redirected to the current one, nothing made
    ERROR = "error"


@dataclass(slots=True)
class RequestRecord:
    """Figures of one image request; durations in milliseconds, sizes in bytes."""

    key: str = ""
    variant_key: str = ""
    outcome: Outcome = Outcome.ERROR
    status: int = 500
    format: str = ""
    input_bytes: int = 0
    input_megapixels: float = 0.0
    output_bytes: int = 0
    width: int = 0
    height: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # s3-read, transform, s3-write, total
    notes: dict[str, str] = field(default_factory=dict)  # a timing's Server-Timing desc: faces -> "cached"
    error_code: str | None = None


Observer = Callable[[RequestRecord], None]


def ignore(record: RequestRecord) -> None:
    """The default observer: records go nowhere."""
