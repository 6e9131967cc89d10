"""The light supervisor of ``vipsfront serve --workers N`` (``vipsfront.cli.workers``), with stand-in workers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vipsfront.cli import workers
from vipsfront.cli.workers import Supervisor, TreeSlots

HEAVY = ["pyvips", "uvicorn", "fastapi", "starlette", "botocore", "boto3", "moto", "multiprocessing", "vipsfront.web.app"]


def test_the_supervisor_loads_the_standard_library_only() -> None:
    """What ``python -S vipsfront/workers.py supervise ...`` holds: no image, web or AWS library, and no
    ``multiprocessing`` (whose spawn start method adds a resource-tracker process to the tree)."""
    code = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1], run_name='vipsfront_workers'); "
        "print(json.dumps([name for name in sys.argv[2:] if name in sys.modules]))"
    )
    # -S leaves site-packages off the path: an import of anything but the standard library would fail
    script = [sys.executable, "-S", "-c", code, workers.__file__, *HEAVY]
    result = subprocess.run(script, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def sleeper(seconds: float) -> list[str]:
    return [sys.executable, "-c", f"import time; time.sleep({seconds})"]


@pytest.fixture
def sock() -> socket.socket:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    yield listening
    listening.close()


def run_in_thread(supervisor: Supervisor) -> tuple[threading.Thread, list[int]]:
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(supervisor.run()))
    thread.start()
    return thread, status


def wait_for(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time (a hang)"
        time.sleep(0.05)


def test_a_worker_that_cannot_start_stops_the_supervisor(sock: socket.socket) -> None:
    supervisor = Supervisor(sock, 2, command=lambda fd, level, *_: [sys.executable, "-c", "raise SystemExit(3)"])
    assert supervisor.run() == 1  # on this (the main) thread: it installs its SIGINT handler
    assert all(process.poll() is not None for process, _ in supervisor.workers)


def test_a_worker_that_dies_later_is_replaced_and_stop_ends_every_worker(
    sock: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "START_GRACE_S", 0.0)
    monkeypatch.setattr(workers.signal, "signal", lambda *args: None)  # the supervisor runs off the main thread
    supervisor = Supervisor(sock, 2, command=lambda fd, level, *_: sleeper(60))
    thread, status = run_in_thread(supervisor)
    wait_for(lambda: len(supervisor.workers) == 2)
    first = [process.pid for process, _ in supervisor.workers]
    supervisor.workers[0][0].kill()
    wait_for(lambda: supervisor.workers[0][0].pid != first[0] and supervisor.workers[0][0].poll() is None)
    assert supervisor.workers[1][0].pid == first[1]
    supervisor.stop()
    thread.join(timeout=30)
    assert not thread.is_alive() and status == [0]
    assert all(process.poll() is not None for process, _ in supervisor.workers)


def test_workers_get_the_listening_socket(sock: socket.socket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker receives the descriptor and sees the same bound TCP socket (port, protocol)."""
    monkeypatch.setattr(workers.signal, "signal", lambda *args: None)
    out = tmp_path / "seen"
    code = (
        "import socket, sys; s = socket.socket(fileno=int(sys.argv[1])); "
        "open(sys.argv[2], 'w').write(f'{s.getsockname()[1]} {s.proto}'); import time; time.sleep(60)"
    )
    supervisor = Supervisor(sock, 1, command=lambda fd, level, *_: [sys.executable, "-c", code, str(fd), str(out)])
    thread, _ = run_in_thread(supervisor)
    wait_for(lambda: out.exists() and out.read_text())
    supervisor.stop()
    thread.join(timeout=30)
    port, proto = out.read_text().split()
    assert int(port) == sock.getsockname()[1]
    assert int(proto) == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only on what IPPROTO_TCP sockets accept


def test_tree_slots_bound_holders_across_processes_and_free_a_dead_holders(tmp_path: Path) -> None:
    slots = TreeSlots.create(tmp_path, 2)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from vipsfront.cli.workers import TreeSlots; "
            "assert TreeSlots(sys.argv[1], 2).acquire(timeout=10); print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert slots.acquire(timeout=0.5)  # the second of two
        assert not slots.acquire(timeout=0.1)  # none left in the tree
        other = TreeSlots(tmp_path, 2)  # another holder in this process competes too
        assert not other.acquire(blocking=False)
        holder.kill()
        holder.wait(timeout=30)
        assert other.acquire(timeout=10)  # the dead process's slot is free again
        slots.release()
        other.release()
        assert slots.acquire(blocking=False) and slots.acquire(blocking=False)
        slots.release()
        slots.release()
        with pytest.raises(ValueError):
            slots.release()
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_workers_get_the_tree_slots_and_the_supervisor_removes_them(
    sock: socket.socket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker's command line names the tree's slot directory and count (what ``vipsfront.cli.workers``
    reads back into the same ``TreeSlots``); once the workers stop, the directory is gone."""
    monkeypatch.setattr(workers.signal, "signal", lambda *args: None)
    (tmp_path / "slots").mkdir()
    slots = TreeSlots.create(tmp_path / "slots", 3)
    assert len(list((tmp_path / "slots").iterdir())) == 3
    seen: list[list[str]] = []

    def command(fd: int, level: str, *tree: str) -> list[str]:
        line = workers.worker_command(fd, level, *tree)
        seen.append(line)
        return sleeper(60)

    supervisor = Supervisor(sock, 2, command=command, slots=slots)
    thread, status = run_in_thread(supervisor)
    wait_for(lambda: len(supervisor.workers) == 2)
    supervisor.stop()
    thread.join(timeout=30)
    assert not thread.is_alive() and status == [0]
    assert len(seen) == 2 and all(line[-2:] == [str(tmp_path / "slots"), "3"] for line in seen)
    again = workers.slots_from(seen[0][-2:])
    assert again is not None and again.paths == slots.paths
    assert workers.slots_from([]) is None
    assert not (tmp_path / "slots").exists()
    slots.remove()  # twice is no error
