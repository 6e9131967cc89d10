"""HTTP client loops: sequential requests and a bounded concurrent load, with keep-alive connections."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    ms: float

    def server_timing(self) -> dict[str, float]:
        """``Server-Timing`` durations by name (ms)."""
        timings = {}
        for part in self.headers.get("server-timing", "").split(","):
            name, _, rest = part.strip().partition(";dur=")
            if name and rest:
                timings[name] = float(rest)
        return timings


class Client:
    """One keep-alive connection to ``base``; reconnects once when the server closed it."""

    def __init__(self, base: str, timeout: float = 120) -> None:
        url = urlsplit(base)
        self.host, self.port, self.timeout = url.hostname or "127.0.0.1", url.port or 80, timeout
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        for attempt in (0, 1):
            started = time.perf_counter()
            try:
                self.connection.request("GET", path, headers=headers or {})
                response = self.connection.getresponse()
                body = response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
                continue
            ms = (time.perf_counter() - started) * 1000
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body, ms)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    latency_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def images_per_s(self) -> float:
        return len(self.latency_ms) / self.seconds if self.seconds else 0.0


def concurrent(
    base: str, path_of: Callable[[int], str], concurrency: int, seconds: float, max_requests: int
) -> LoadResult:
    """``concurrency`` clients, each with its own connection, sending ``path_of(i)`` for i = 0, 1, ...
    until ``seconds`` pass or ``max_requests`` were sent. Non-200 answers count as errors."""
    lock = threading.Lock()
    counter = iter(range(max_requests))
    result = LoadResult(concurrency, 0.0)
    clients = [Client(base) for _ in range(concurrency)]
    end = time.perf_counter() + seconds

    def loop(client: Client) -> None:
        while time.perf_counter() < end:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            reply = client.get(path_of(index))
            with lock:
                if reply.status == 200:
                    result.latency_ms.append(reply.ms)
                else:
                    result.errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(loop, clients))
    result.seconds = time.perf_counter() - started
    for client in clients:
        client.close()
    return result
