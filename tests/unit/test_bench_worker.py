"""The benchmark worker's throughput loop spreads the work over every file, whatever the threads' timing."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from vipsfront_bench.peers import Peer
from vipsfront_bench.worker import throughput


def test_throughput_loop_transforms_every_file() -> None:
    seen: Counter[bytes] = Counter()
    lock = threading.Lock()
    pause = {b"slow": 0.006, b"fast": 0.001}

    def run(data: bytes) -> bytes:
        with lock:
            seen[data] += 1
        time.sleep(pause[data])
        return data

    for files in ([b"slow", b"fast"], [b"fast", b"slow"]):
        seen.clear()
        result = throughput(run, files, concurrency=2, seconds=5.0, limit=40)
        assert result["images"] == 40
        assert seen[b"slow"] == seen[b"fast"] == 20, (files, seen)


def test_a_peer_worker_runs_with_its_own_environment(tmp_path: Path) -> None:
    """The engine peer gets the libvips threads of one origin worker: ``Peer.env`` reaches the process."""
    script = "import json, os; print(json.dumps({'results': [{'threads': os.environ.get('VIPS_CONCURRENCY')}]}))"
    peer = Peer("engine", "worker", [sys.executable, "-c", script], env={"VIPS_CONCURRENCY": "1"})
    assert peer.run([], tmp_path, timeout=60) == [{"threads": "1"}]
    peer.env.clear()
    inherited = os.environ.get("VIPS_CONCURRENCY")
    assert peer.run([], tmp_path, timeout=60) == [{"threads": inherited}]
