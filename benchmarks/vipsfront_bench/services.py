"""The processes a run starts (moto's S3, one Lambda instance, ``vipsfront serve``, thumbor, the AWS
sample) and the sampling of their memory.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from vipsfront.cli.embedded_s3 import LOCAL_CREDENTIALS, ServerProcess, free_port
from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET

HANDLER = Path("functions") / "transform" / "handler.py"  # from the project's root

# The transform function as the stack deploys it behind CloudFront: no variant lookup (the origin group
# asks the variants bucket first) and the canonical path form trusted (the CloudFront Function checked it).
AS_DEPLOYED = {"VIPSFRONT_VARIANT_LOOKUP": "0", "VIPSFRONT_TRUST_PATH_FORM": "1"}


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without AWS or vipsfront settings, with moto's credentials and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_", "POWERTOOLS_"))}
    env.update(LOCAL_CREDENTIALS)
    env.update(extra)
    return env


def lambda_env(s3_endpoint: str, memory_mb: int, **settings: str) -> dict[str, str]:
    """The environment of one transform Lambda instance against moto's S3: the function's memory, the
    settings and allocator bound the stack gives it, Powertools' tracing off (no X-Ray daemon here)."""
    return clean_env(
        AWS_ENDPOINT_URL_S3=s3_endpoint,
        AWS_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME="vipsfront-transform",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory_mb),
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="vipsfront-bench",
        MALLOC_ARENA_MAX="2",
        VIPSFRONT_ORIGINALS_BUCKET=DEFAULT_ORIGINALS_BUCKET,
        VIPSFRONT_VARIANTS_BUCKET=DEFAULT_VARIANTS_BUCKET,
        **AS_DEPLOYED,
        **settings,
    )


def handler_path() -> Path:
    """``functions/transform/handler.py`` from the working directory (the project's root)."""
    path = Path.cwd() / HANDLER
    if not path.is_file():
        raise SystemExit(f"vipsfront bench: {HANDLER} not found: run from the project's root")
    return path


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


def pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps a child, and every thread it starts, on ``cpus`` (None: anywhere)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def started(
    command: list[str], env: dict[str, str], health: str, cpus: set[int] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``command`` (which listens on the port :func:`free_port` gave, passed as ``{port}``), on ``cpus``,
    once ``health`` answers; (process, base URL). Stopped again when it never answers."""
    port = free_port()
    args = [part.replace("{port}", str(port)) for part in command]
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pinned(cpus)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + health, process)
    except BaseException:  # SIGTERM and Ctrl-C too: the caller holds no handle on it yet
        stop(process)
        raise
    return process, base


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

    def client(self) -> Any:
        from vipsfront.stores.s3 import s3_client

        for name, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        return s3_client(self.endpoint, "us-east-1")


def start_instance(
    env: dict[str, str],
    instance: Sequence[str] = (sys.executable, "-m", "vipsfront_bench.instance"),
    handler: Path | None = None,
    cpus: set[int] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """One transform Lambda instance (``instance``, which runs ``instance.py``: this interpreter by
    default) serving ``handler`` (the checkout's by default) with ``env`` (see :func:`lambda_env`)."""
    command = [*instance, "serve", str(handler or handler_path()), "{port}"]
    return started(command, env, "/_vf/health", cpus)


def start_serve(env: dict[str, str], *options: str) -> tuple[subprocess.Popen[bytes], str]:
    """``vipsfront serve`` with ``options``, against the S3 that ``env`` names."""
    command = [sys.executable, "-m", "vipsfront.cli.main", "serve", "--port", "{port}", "--log-level", "warning"]
    return started([*command, *options], env, "/_vf/health")


def start_thumbor(
    venv: Path, config: Path, settings: dict[str, str], processes: int
) -> tuple[subprocess.Popen[bytes], str]:
    """thumbor from ``venv`` with ``config`` (which reads ``settings`` from the environment)."""
    command = [str(venv / "bin" / "thumbor"), "--ip", "127.0.0.1", "--port", "{port}", "--conf", str(config)]
    command += ["--processes", str(processes), "--log-level", "error"]
    return started(command, clean_env(**settings), "/healthcheck")


def start_aws_sample(
    instance: Path, handler: Path, settings: dict[str, str], cpus: set[int] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """One instance of the AWS sample's Lambda ``handler`` (``instance``: ``benchmarks/peers/aws-sample/
    instance.mjs``, serving), with ``settings`` over the environment."""
    command = ["node", str(instance), "serve", str(handler), "{port}"]
    return started(command, clean_env(**settings), "/healthcheck", cpus)


def tree_rss_mb(pid: int) -> float:
    """The summed RSS of ``pid`` and its descendants, in MB (0 once it has gone)."""
    total = 0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass  # exited between the listing and the read
    return total / 2**20


class RssSampler:
    """Samples the RSS of a process tree on a thread; ``window()`` gives its peak during a block."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.current = 0.0
        self._peak = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            reading = tree_rss_mb(self.pid)
            with self._lock:
                self.current = reading
                self._peak = max(self._peak, reading)
            self._stop.wait(self.interval)

    @contextmanager
    def window(self) -> Iterator[dict[str, float]]:
        with self._lock:
            self._peak = self.current
        figures: dict[str, float] = {}
        yield figures
        time.sleep(self.interval * 2)
        with self._lock:
            figures["peak_mb"] = self._peak
            figures["end_mb"] = self.current

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
