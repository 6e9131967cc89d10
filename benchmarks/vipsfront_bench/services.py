"""The processes a run starts (moto's S3, the origin, thumbor, the AWS sample) and the sampling of their memory.

Every process is started here and stopped here, by its own id and its children's; servers listen on
127.0.0.1 only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from vipsfront.cli.embedded_s3 import LOCAL_CREDENTIALS, ServerProcess, free_port

# ``vipsfront serve`` set up as the transform function behind CloudFront (``cdk/vipsfront_cdk/config.py`` and the
# Lambda handler): no variant lookup (CloudFront's origin group asks the variants bucket first), the canonical
# path form trusted (the CloudFront Function checked it), and a miss stored before it is answered (Lambda
# freezes the environment once the handler returns, so the handler stores first)
AS_DEPLOYED = {
    "VIPSFRONT_VARIANT_LOOKUP": "0",
    "VIPSFRONT_TRUST_PATH_FORM": "1",
    "VIPSFRONT_STORE_AFTER_RESPONSE": "0",
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    env.update(LOCAL_CREDENTIALS)
    env.update(extra)
    return env


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """Poll ``url`` until it answers 200; the seconds it took. Raise if the process dies first."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    response.read()
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def ready(process: subprocess.Popen[bytes], url: str) -> float:
    """:func:`wait_http` on a server just started; stop it when it never answers."""
    try:
        return wait_http(url, process)
    except BaseException:  # SIGTERM and Ctrl-C too: the caller holds no handle on it yet
        stop(process)
        raise


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a process we started, and its children: SIGINT, then SIGKILL after a grace period."""
    if process is None or process.poll() is not None:
        return
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass


class S3Server(ServerProcess):
    """moto's S3 server in a child process (``python -m vipsfront.cli.embedded_s3``), with local credentials."""

    def __init__(self, log: Path | None = None) -> None:
        super().__init__(env=clean_env(), log=log)

    def client(self):  # type: ignore[no-untyped-def]
        from vipsfront.stores.s3 import s3_client

        for name, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        return s3_client(self.endpoint, "us-east-1")


def start_origin(
    s3_endpoint: str, workers: int, settings: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, float]:
    """``vipsfront serve --workers N`` against the given S3, with ``VIPSFRONT_*`` ``settings``;
    (process, base URL, seconds until healthy)."""
    port = free_port()
    env = clean_env(AWS_ENDPOINT_URL_S3=s3_endpoint, **(settings or {}))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vipsfront.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--watch",
            "0",  # as in Lambda (and like thumbor): no S3 polling in the supervisor, whose tree RSS is measured
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    seconds = ready(process, f"{base}/_vf/health")
    return process, base, seconds


def start_thumbor(
    venv: Path, config: Path, settings: dict[str, str], processes: int
) -> tuple[subprocess.Popen[bytes], str]:
    """thumbor from ``venv`` with ``config`` (which reads ``settings`` from the environment)."""
    port = free_port()
    env = clean_env(**settings)
    process = subprocess.Popen(
        [
            str(venv / "bin" / "thumbor"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--conf",
            str(config),
            "--processes",
            str(processes),
            "--log-level",
            "error",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    ready(process, f"{base}/healthcheck")
    return process, base


def start_aws_sample(handler: Path, settings: dict[str, str], processes: int) -> tuple[subprocess.Popen[bytes], str]:
    """The AWS sample's handler behind ``benchmarks/peers/aws-sample/server.mjs`` (``processes`` workers)."""
    from vipsfront_bench.peers import peers_dir

    port = free_port()
    process = subprocess.Popen(
        ["node", str(peers_dir() / "aws-sample" / "server.mjs"), str(handler), str(port), str(processes)],
        env=clean_env(**settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    ready(process, f"{base}/healthcheck")
    return process, base


# One reading of a process tree: (role, RSS MB, PSS MB) for each of its processes.
Reading = list[tuple[str, float, float]]


def tree_processes(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants (none once ``pid`` has gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def rss_reading(pid: int) -> Reading:
    """Each process of ``pid``'s tree with its RSS (from psutil: no role, no PSS)."""
    rows = []
    for process in tree_processes(pid):
        try:
            rows.append(("process", process.memory_info().rss / 2**20, 0.0))
        except psutil.Error:
            pass  # exited between the listing and the read
    return rows


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """(sum of RSS of ``pid`` and its descendants in MB, number of processes)."""
    rows = rss_reading(pid)
    return _rss(rows), len(rows)


def _rss(reading: Reading) -> float:
    return sum(row[1] for row in reading)


def _pss(reading: Reading) -> float:
    return sum(row[2] for row in reading)


class RssSampler:
    """Samples a process tree on a thread (``read``: one reading of it, its processes' RSS by default);
    ``window()`` gives the peak of the tree's summed RSS during a block and its last sum. At the end of
    each window ``last_window`` holds the reading at that peak and the highest summed PSS (with a
    ``read`` that gives PSS, such as ``benchmarks/memory_peak.py``'s)."""

    def __init__(self, pid: int, interval: float = 0.02, read: Callable[[int], Reading] = rss_reading) -> None:
        self.pid = pid
        self.interval = interval
        self.read = read
        self.current: Reading = []
        self._peak: Reading = []
        self._peak_pss = 0.0
        self.last_window: tuple[Reading, float] = ([], 0.0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            reading = self.read(self.pid)
            with self._lock:
                self.current = reading
                if _rss(reading) > _rss(self._peak):
                    self._peak = reading
                self._peak_pss = max(self._peak_pss, _pss(reading))
            self._stop.wait(self.interval)

    @contextmanager
    def window(self) -> Iterator[dict[str, float]]:
        with self._lock:
            self._peak, self._peak_pss = self.current, _pss(self.current)
        figures: dict[str, float] = {}
        yield figures
        time.sleep(self.interval * 2)
        with self._lock:
            figures["peak_mb"] = _rss(self._peak)
            figures["end_mb"] = _rss(self.current)
            self.last_window = (self._peak, self._peak_pss)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
