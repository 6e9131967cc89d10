"""The process model of ``vipsfront serve --workers N``: a light supervisor and N uvicorn workers.

The supervisor holds the shared listening socket, starts each worker as a fresh interpreter
(``python -m vipsfront.cli.workers FD LOG_LEVEL``) with the socket's descriptor, restarts a worker that dies
and stops them all on Ctrl-C (SIGINT) or SIGTERM. It imports the standard library only: no uvicorn,
FastAPI, botocore or pyvips (the workers import those), and no ``multiprocessing``, whose spawn start
method adds a resource-tracker process to the tree (uvicorn's own supervisor uses it). When nothing else
lives in ``vipsfront serve``'s process (no embedded S3, no watcher), that process becomes the supervisor
by ``exec`` (``exec_supervisor``), so not even its set-up's imports stay. Against uvicorn's supervisor
this takes about 30 MB off the server tree's RSS at rest (measured in the README's Benchmarks).

The tree shares one transform limit (``TreeSlots``, one lock file per slot in a directory ``vipsfront
serve`` makes): each worker's transform gate takes one of its slots besides its own, and the supervisor
removes the directory when it stops. A worker builds the app from the environment
(``vipsfront.web.app.ServeFront``) with that gate and serves the inherited socket; the socket keeps its
protocol (``IPPROTO_TCP``), so asyncio sets TCP_NODELAY on what it accepts.
"""

from __future__ import annotations

import fcntl
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# A worker that exits by itself this soon after its start failed to start (the app did not import, the
# socket is gone): restarting it would only repeat that, so the supervisor stops and says so. One killed
# by a signal (the OOM killer, a crash) is replaced whenever it dies.
START_GRACE_S = 5.0
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1  # prctl(2): the signal the kernel sends a process when its parent dies


class TreeSlots:
    """A semaphore of ``count`` slots shared by every process that opens ``directory``: one lock file per
    slot, held with ``flock`` while in use, so a process that dies frees its slots with it.

    The workers of ``serve --workers N`` each take connections as they come (one may hold both of two
    clients' connections while another idles), so a per-process transform limit either wastes cores or,
    set to one per core in each worker, lets N times the cores' worth of transforms (and of decoded images)
    run at once. A transform that holds one of the tree's slots bounds the whole tree at ``count``
    (measured with 2 workers, 2 slots, 8 clients on the 14.7 MP JPEG sweep: peak RSS 422 MB against
    580-616 MB with per-process slots only). ``acquire(timeout=...)`` and ``release()`` as
    ``threading.BoundedSemaphore``; the thread that acquired releases. A wait polls every 5 ms. Each
    worker's transform gate (``vipsfront.origin.serving.TransformGate``) takes one for every transform.
    """

    POLL_S = 0.005

    def __init__(self, directory: str | Path, count: int) -> None:
        self.directory = str(directory)
        self.paths = [str(Path(directory) / f"slot-{index}") for index in range(count)]
        self._held = threading.local()

    @classmethod
    def create(cls, directory: str | Path, count: int) -> TreeSlots:
        """Make the slot files (the supervisor does, once)."""
        for index in range(count):
            (Path(directory) / f"slot-{index}").touch()
        return cls(directory, count)

    def remove(self) -> None:
        """Delete the slot files and their directory (the supervisor does, once stopped); what is gone
        already is no error."""
        for path in self.paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.directory)
        except FileNotFoundError:
            pass

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        start = random.randrange(len(self.paths))  # spread the first tries over the slots
        while True:
            for index in range(len(self.paths)):
                fd = os.open(self.paths[(start + index) % len(self.paths)], os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                self._held.fds = [*getattr(self._held, "fds", []), fd]
                return True
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(self.POLL_S)

    def release(self) -> None:
        fds = getattr(self._held, "fds", [])
        if not fds:
            raise ValueError("release() of a slot this thread does not hold")
        os.close(fds.pop())  # closing the only descriptor of the lock releases it


def threads_per_worker(workers: int) -> int:
    """The libvips threads each of ``workers`` processes gets (``VIPS_CONCURRENCY``): its share of the cores."""
    return max(1, (os.cpu_count() or 1) // workers)


def tree_arguments(slots: TreeSlots | None) -> list[str]:
    """``slots`` on a command line: its directory and count (nothing without a tree limit)."""
    return [] if slots is None else [slots.directory, str(len(slots.paths))]


def worker_command(fd: int, log_level: str, *tree: str) -> list[str]:
    """The command line of one worker serving the listening socket ``fd`` (``tree``: the directory and
    count of the tree's transform slots)."""
    return [sys.executable, "-m", "vipsfront.cli.workers", str(fd), log_level, *tree]


class Supervisor:
    """Runs ``count`` workers on ``sock`` until stopped; ``run`` returns the exit status (0, or 1 when a
    worker could not start). ``slots``: the tree's transform limit, passed to each worker and removed
    once they have stopped."""

    def __init__(
        self,
        sock: socket.socket,
        count: int,
        log_level: str = "info",
        command: Callable[..., list[str]] = worker_command,
        slots: TreeSlots | None = None,
    ) -> None:
        self.sock = sock
        self.count = count
        self.log_level = log_level
        self.command = command
        self.slots = slots
        self.workers: list[tuple[subprocess.Popen[bytes], float]] = []
        self._stop = threading.Event()

    def start_worker(self) -> tuple[subprocess.Popen[bytes], float]:
        fd = self.sock.fileno()
        process = subprocess.Popen(self.command(fd, self.log_level, *tree_arguments(self.slots)), pass_fds=(fd,))
        return process, time.monotonic()

    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {signum: signal.signal(signum, self.stop) for signum in handled}
        status = 0
        try:
            self.workers = [self.start_worker() for _ in range(self.count)]
            while not self._stop.wait(0.2):
                status = self._replace_exited()
                if status:
                    break
        finally:
            self._stop_workers()
            if self.slots is not None:
                self.slots.remove()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return status

    def _replace_exited(self) -> int:
        for index, (process, started) in enumerate(self.workers):
            code = process.poll()
            if code is None:
                continue
            if code >= 0 and time.monotonic() - started < START_GRACE_S:
                print(f"vipsfront: a worker exited at start (status {code}): stopping", file=sys.stderr, flush=True)
                return 1
            print(
                f"vipsfront: worker {process.pid} exited (status {code}): starting another", file=sys.stderr, flush=True
            )
            self.workers[index] = self.start_worker()
        return 0

    def _stop_workers(self) -> None:
        for process, _ in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # uvicorn finishes the requests in flight, then exits
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process, _ in self.workers:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def worker_app(slots: TreeSlots | None) -> object:
    """The app of one worker (``vipsfront.web.app.ServeFront``: FastAPI only once a request other than an
    image or the health check comes): settings from the environment, transforms bounded by ``slots``
    across the tree as well as by the settings' limit in this process. The garbage of its imports and set-up goes
    back to the OS before it serves (``heap.settle``)."""
    from vipsfront.cli import heap
    from vipsfront.web.app import ServeFront, image_requests
    from vipsfront.config.settings import Settings
    from vipsfront.origin.serving import TransformGate

    settings = Settings.load()
    app = ServeFront(image_requests(settings, gate=TransformGate.for_settings(settings, tree=slots)))
    heap.settle()
    return app


def die_with_parent() -> None:
    """Linux: have the kernel send this process SIGTERM when its parent (the supervisor) dies, even by
    SIGKILL, so no worker is left serving the port on its own; elsewhere nothing happens."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            return
    except (OSError, AttributeError):  # no prctl: not Linux
        return
    if os.getppid() != parent:  # the parent died before the request was in place
        os.kill(os.getpid(), signal.SIGTERM)


def serve_socket(fd: int, log_level: str, slots: TreeSlots | None = None) -> None:
    """One worker: the app from the environment, served on the inherited listening socket ``fd``; it stops
    when the supervisor dies (``die_with_parent``)."""
    import uvicorn

    die_with_parent()

    sock = socket.socket(fileno=fd)  # family, type and protocol read from the descriptor
    # no WebSocket protocol: the origin has no WebSocket route, and uvicorn's "auto" imports one (0.7 MB)
    config = uvicorn.Config(functools.partial(worker_app, slots), factory=True, log_level=log_level, ws="none")
    uvicorn.Server(config).run(sockets=[sock])


def supervise(fd: int, count: int, log_level: str, slots: TreeSlots | None = None) -> int:
    """The supervisor as a process of its own, on the inherited listening socket ``fd``."""
    sock = socket.socket(fileno=fd)
    try:
        return Supervisor(sock, count, log_level, slots=slots).run()
    finally:
        sock.close()


def exec_supervisor(sock: socket.socket, count: int, log_level: str, slots: TreeSlots | None = None) -> None:
    """Replace this process (same id, same parent, same signals) by a fresh interpreter running only the
    supervisor: ``python -S`` on this file, so nothing but the standard library is loaded (about 11 MB of
    RSS, against 22 MB for ``vipsfront serve``'s own interpreter after its set-up). Does not return."""
    sock.set_inheritable(True)
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, "-S", __file__, "supervise", str(sock.fileno()), str(count), log_level]
    command += tree_arguments(slots)
    os.execv(sys.executable, command)


def slots_from(args: Sequence[str]) -> TreeSlots | None:
    """The tree's transform slots from a command line's ``DIRECTORY COUNT`` (``tree_arguments``), if any."""
    return TreeSlots(args[0], int(args[1])) if args else None


def main(argv: Sequence[str] | None = None) -> int:
    """``FD LOG_LEVEL [SLOTS_DIR SLOTS]``: one worker; ``supervise FD COUNT LOG_LEVEL [SLOTS_DIR SLOTS]``:
    the supervisor."""
    args = list(argv if argv is not None else sys.argv[1:])
    if args[0] == "supervise":
        return supervise(int(args[1]), int(args[2]), args[3], slots_from(args[4:]))
    # Ctrl-C reaches the process group: uvicorn stops the worker gracefully
    serve_socket(int(args[0]), args[1], slots_from(args[2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
