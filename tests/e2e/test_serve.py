"""``vipsfront serve`` as a user runs it: a subprocess on a free port, fetched over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import pyvips

from vipsfront.cli.main import listening_socket
from vipsfront.cli.embedded_s3 import LOCAL_CREDENTIALS, ServerProcess, free_port

pytestmark = pytest.mark.e2e


def fetch(url: str, accept: str = "*/*") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vipsfront.cli.main", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"vipsfront serve exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if fetch(f"{base}/_vf/health")[0] == 200:
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("vipsfront serve did not answer within 60 s")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("vipsfront serve did not stop on Ctrl-C") from None
    return out


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    return env


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seed = tmp_path_factory.mktemp("seed")
    (seed / "photos").mkdir()
    photo = pyvips.Image.xyz(1600, 900)[0].cast("uchar").bandjoin([128, 64]).copy(interpretation="srgb")
    (seed / "photos" / "wide.jpg").write_bytes(photo.jpegsave_buffer())
    (seed / "logo.png").write_bytes(pyvips.Image.black(64, 64).bandjoin(255).pngsave_buffer())
    return seed


@pytest.fixture(scope="module")
def seeded(seed: Path) -> Iterator[str]:
    process, base = start(["--seed", str(seed)], clean_env())
    try:
        yield base
    finally:
        output = stop(process)
        assert "Traceback" not in output, output


def test_seeded_images_are_served(seeded: str) -> None:
    status, headers, body = fetch(f"{seeded}/photos/wide.jpg?w=400&fm=webp")
    assert status == 200
    assert headers["content-type"] == "image/webp"
    image = pyvips.Image.new_from_buffer(body, "")
    assert (image.width, image.height) == (400, 225)

    for _ in range(50):  # serve stores a miss's variant just after answering it
        status, headers, _ = fetch(f"{seeded}/photos/wide.jpg?fm=webp&w=400")
        if headers["x-vipsfront-variant"] == "hit":
            break
        time.sleep(0.1)
    assert headers["x-vipsfront-variant"] == "hit"

    status, headers, body = fetch(f"{seeded}/logo.png?w=32&fm=auto", accept="image/avif,image/webp")
    assert status == 200 and headers["content-type"] == "image/avif"
    assert pyvips.Image.new_from_buffer(body, "").width == 32


def keep_alive_hits(base: str, path: str, count: int = 15) -> float:
    """Median seconds of ``count`` cache hits of a small variant on one keep-alive connection."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    times: list[float] = []
    try:
        for _ in range(count + 1):  # the first request stores the variant
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            times.append(time.perf_counter() - started)
            assert response.status == 200 and len(body) < 4000, (response.status, len(body))
    finally:
        connection.close()
    assert response.getheader("x-vipsfront-variant") == "hit"
    return statistics.median(times[1:])


def test_the_shared_listening_socket_has_tcp_nodelay() -> None:
    sock = listening_socket("127.0.0.1", 0)
    sock.listen()
    client = socket.create_connection(sock.getsockname()[:2])
    try:
        accepted, _ = sock.accept()
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on what it accepts from it
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        accepted.close()
    finally:
        client.close()
        sock.close()


def test_keep_alive_hits_with_two_workers_are_as_quick_as_with_one(seed: Path, seeded: str) -> None:
    """Nagle's algorithm on the workers' shared socket held each small response for ~40 ms."""
    path = "/logo.png?w=16&fm=webp"
    one = keep_alive_hits(seeded, path)
    process, base = start(["--seed", str(seed), "--workers", "2"], clean_env())
    try:
        two = keep_alive_hits(base, path)
    finally:
        stop(process)
    assert two < one + 0.025, f"median hit {two * 1000:.1f} ms with 2 workers, {one * 1000:.1f} ms with 1"


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def command_line(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().decode().split("\0")[:-1]


@contextmanager
def s3_with_wide(seed: Path, more: dict[str, bytes] | None = None) -> Iterator[dict[str, str]]:
    """An S3 of its own (as in the benchmark, so ``serve`` starts none) holding the seed's wide.jpg (and
    ``more`` originals by key); yields the environment that points ``serve`` at it."""
    from vipsfront.stores.s3 import s3_client

    with ServerProcess() as s3:
        client = s3_client(s3.endpoint, "us-east-1")
        for bucket in ("vipsfront-originals", "vipsfront-variants"):
            client.create_bucket(Bucket=bucket)
        client.put_object(
            Bucket="vipsfront-originals", Key="wide.jpg", Body=(seed / "photos" / "wide.jpg").read_bytes()
        )
        for key, data in (more or {}).items():
            client.put_object(Bucket="vipsfront-originals", Key=key, Body=data)
        yield {**clean_env(), **LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL_S3": s3.endpoint}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc (Linux)")
def test_workers_run_under_a_light_supervisor(seed: Path) -> None:
    """Against an S3 (as in the benchmark): the serve process becomes a standard-library-only supervisor
    and its children are the workers, no resource tracker; a worker that dies is replaced."""
    with s3_with_wide(seed) as env:
        process, base = start(["--workers", "2", "--watch", "0"], env)
        try:
            supervisor = command_line(process.pid)
            assert "-S" in supervisor and "supervise" in supervisor  # python -S: site-packages off its path
            with open(f"/proc/{process.pid}/maps") as maps:
                assert "site-packages" not in maps.read()  # no pyvips, uvicorn, FastAPI or botocore library
            workers = children(process.pid)
            assert len(workers) == 2
            assert all(command_line(pid)[1:3] == ["-m", "vipsfront.cli.workers"] for pid in workers)

            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 60
            while set(children(process.pid)) & {workers[0]} or len(children(process.pid)) < 2:
                assert time.monotonic() < deadline, "the dead worker was not replaced"
                time.sleep(0.2)
            for width in (300, 301, 302, 303):  # both workers' connections (each a new one)
                status, headers, body = fetch(f"{base}/wide.jpg?w={width}&fm=webp")
                assert status == 200, body
                assert pyvips.Image.new_from_buffer(body, "").width == width
            last = children(process.pid)
        finally:
            output = stop(process)
    assert "Traceback" not in output, output
    assert not any(Path(f"/proc/{pid}").exists() for pid in last)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc (Linux)")
def test_workers_stop_when_their_supervisor_is_killed(seed: Path) -> None:
    """A supervisor killed outright (SIGKILL: no chance to stop them) takes its workers with it, instead of
    leaving them serving the port; the next start is not refused by orphans."""
    with s3_with_wide(seed) as env:
        process, base = start(["--workers", "2", "--watch", "0"], env)
        try:
            workers = children(process.pid)
            assert len(workers) == 2
            slots = command_line(process.pid)[-2]  # the supervisor removes it on a stop, not on SIGKILL
            status, _, body = fetch(f"{base}/wide.jpg?w=120&fm=webp")
            assert status == 200 and pyvips.Image.new_from_buffer(body, "").width == 120
            process.kill()
            process.wait(timeout=10)
            deadline = time.monotonic() + 30
            while any(Path(f"/proc/{pid}").exists() and not zombie(pid) for pid in workers):
                assert time.monotonic() < deadline, "the workers outlived their supervisor"
                time.sleep(0.2)
            shutil.rmtree(slots)
        finally:
            if process.poll() is None:
                stop(process)


def zombie(pid: int) -> bool:
    """``pid`` has exited but not been reaped (its state in ``/proc/PID/stat`` is Z)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def suppress_errors(call: Callable[..., object], *args: object) -> None:
    """``call(*args)``, whatever it raises (a request whose server is killed under it)."""
    try:
        call(*args)
    except Exception:
        pass


def slot_holders(path: str) -> list[int]:
    """The processes holding a ``flock`` on ``path``, from ``/proc/locks``."""
    inode = os.stat(path).st_ino
    with open("/proc/locks") as locks:
        return [
            int(fields[4])
            for fields in (line.split() for line in locks)
            if fields[1] == "FLOCK" and int(fields[5].rsplit(":", 1)[1]) == inode
        ]


@pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="reads the process tree and locks from /proc (Linux)")
def test_workers_share_one_transform_limit(seed: Path) -> None:
    """With ``--workers 2`` and a limit of 1, the limit is the tree's: while its one slot is held (here by
    the test, as a third process would), a miss waits on any worker and is a 503 JSON past its budget,
    though each worker's own slot is free; once let go, misses are served. A worker killed in the middle
    of a transform frees the slot. Stopping removes the slots."""
    from vipsfront.cli.workers import TreeSlots

    noise = pyvips.Image.gaussnoise(4000, 3000).cast("uchar").bandjoin([128, 64]).copy(interpretation="srgb")
    with s3_with_wide(seed, {"slow.jpg": noise.jpegsave_buffer()}) as env:
        env.update(VIPSFRONT_MAX_CONCURRENT_TRANSFORMS="1", VIPSFRONT_REQUEST_BUDGET_S="2")
        process, base = start(["--workers", "2", "--watch", "0"], env)
        try:
            lines = [command_line(pid) for pid in children(process.pid)]
            assert len(lines) == 2 and lines[0][-2:] == lines[1][-2:]  # the same slots for both workers
            directory, count = lines[0][-2:]
            assert count == "1" and Path(directory, "slot-0").is_file()
            held = TreeSlots(directory, 1)
            assert held.acquire(timeout=10)
            try:
                for width in (310, 311, 312):  # new connections: both workers' share
                    status, headers, body = fetch(f"{base}/wide.jpg?w={width}&fm=webp")
                    assert status == 503, (status, body[:200])
                    assert json.loads(body)["code"] == "deadline_exceeded"
            finally:
                held.release()
            for width in (310, 311, 312):
                status, headers, body = fetch(f"{base}/wide.jpg?w={width}&fm=webp")
                assert status == 200, body[:200]
                assert pyvips.Image.new_from_buffer(body, "").width == width

            # a long transform (a large blur) holds the slot; its worker is killed while it does
            slow = threading.Thread(target=lambda: suppress_errors(fetch, f"{base}/slow.jpg?w=4000&blur=60"))
            slow.start()
            slot = str(Path(directory, "slot-0"))
            deadline = time.monotonic() + 30
            while not (holders := slot_holders(slot)):
                assert time.monotonic() < deadline, "no worker took the slot for the slow transform"
                time.sleep(0.01)
            assert holders[0] in children(process.pid)
            os.kill(holders[0], signal.SIGKILL)
            slow.join(timeout=30)
            assert held.acquire(timeout=10)  # the dead worker's slot is free again
            held.release()
            status, headers, body = fetch(f"{base}/wide.jpg?w=314&fm=webp")
            assert status == 200 and pyvips.Image.new_from_buffer(body, "").width == 314
        finally:
            output = stop(process)
    assert "unexpected error" not in output and " 500 " not in output, output  # 503s log their cause
    assert not Path(directory).exists()


def test_errors_over_http(seeded: str) -> None:
    status, headers, body = fetch(f"{seeded}/photos/wide.jpg?w=99999")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert b'"param":"w"' in body
    assert fetch(f"{seeded}/photos/none.jpg?w=10")[0] == 404


def test_default_serve_prints_working_urls() -> None:
    process, base = start([], clean_env())
    try:
        status, headers, body = fetch(f"{base}/samples/landscape.jpg?w=400&fm=webp")
        assert status == 200 and headers["content-type"] == "image/webp"
        assert pyvips.Image.new_from_buffer(body, "").width == 400
    finally:
        output = stop(process)
    assert "embedded S3 (moto)" in output
    assert f"{base}/samples/landscape.jpg?w=400&fm=webp" in output


def test_bad_seed_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vipsfront.cli.main", "serve", "--seed", str(tmp_path / "missing")],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "is not a directory" in result.stderr
    assert "Traceback" not in result.stderr
