"""Backfill a bucket locally: the lifecycle's batch step over a listing, on a process pool.

``run`` lists the originals under a prefix, hands them in batches to worker processes (each builds its
own ``Lifecycle`` from the settings, as the Lambda does), prints a progress line to stderr, and returns
the results; ``vipsfront backfill`` prints the summary and writes the JSON-lines manifest (one object
per original: key, status, version, and the info document's facts and metadata, or the error), the
form Athena and Spark read. In AWS the same ``Lifecycle.backfill`` runs per batch of a Step Functions
Distributed Map (``functions/lifecycle/handler.py``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import IO, Any

from vipsfront.config.settings import Settings
from vipsfront.lifecycle.changes import KeyResult, Lifecycle
from vipsfront.stores.base import ListedOriginal

BATCH = 8  # originals per task: small enough to spread, large enough to amortise the hand-off

_worker: Lifecycle | None = None


def _init(settings: Settings) -> None:
    global _worker
    _worker = Lifecycle.from_settings(settings)


def _batch(items: list[ListedOriginal], force: bool) -> list[KeyResult]:
    assert _worker is not None, "the worker was not initialised"
    return _worker.backfill(items, force=force)


def _chunks(items: Iterator[ListedOriginal], size: int) -> Iterator[list[ListedOriginal]]:
    chunk: list[ListedOriginal] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Progress:
    """A one-line progress report on a terminal (``\\r``), one line per update elsewhere."""

    stream: IO[str]
    started: float
    done: int = 0
    total: int = 0

    def update(self, results: Sequence[KeyResult]) -> None:
        self.done += len(results)
        rate = self.done / max(1e-9, time.perf_counter() - self.started)
        end = "\r" if self.stream.isatty() else "\n"
        self.stream.write(f"backfill: {self.done}/{self.total} originals, {rate:.1f}/s{end}")
        self.stream.flush()


def run(
    settings: Settings, *, prefix: str = "", workers: int = 1, force: bool = False, stream: IO[str] = sys.stderr
) -> tuple[list[KeyResult], float]:
    """Backfill every original under ``prefix``; the results and the wall-clock seconds."""
    started = time.perf_counter()
    listing = list(Lifecycle.from_settings(settings).store.scan_originals(prefix))
    progress = Progress(stream, started, total=len(listing))
    results: list[KeyResult] = []
    if workers <= 1:
        _init(settings)
        for chunk in _chunks(iter(listing), BATCH):
            batch = _batch(chunk, force)
            results += batch
            progress.update(batch)
    else:
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(settings,)) as pool:
            chunks = _chunks(iter(listing), BATCH)
            running: set[Future[list[KeyResult]]] = set()
            for chunk in chunks:  # at most 2 tasks per worker queued: the listing may be millions long
                running.add(pool.submit(_batch, chunk, force))
                if len(running) >= 2 * workers:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        results += future.result()
                        progress.update(future.result())
            for future in running:
                results += future.result()
                progress.update(future.result())
    if stream.isatty():
        stream.write("\n")
    return results, time.perf_counter() - started


def manifest_line(result: KeyResult) -> str:
    """One JSON line per original: its result, and the info document's facts (not the placeholder image)."""
    out: dict[str, Any] = result.to_dict()
    if result.document is not None:
        document = {k: v for k, v in result.document.items() if k not in ("key", "version")}
        placeholder = document.pop("placeholder", None) or {}
        document["thumbhash"], document["color"] = placeholder.get("thumbhash"), placeholder.get("color")
        out.update(document)
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)
