"""``vipsfront serve`` as a user runs it: a subprocess on a free port, fetched over HTTP."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import pyvips

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
def test_workers_come_back_and_stop_together(seed: Path) -> None:
    """``--workers 2`` against an S3 of its own: two worker processes each answer misses, and the miss is
    stored before its answer, so the repeat right after it is a hit whichever worker takes it; a worker
    that dies is replaced; SIGTERM stops the server and every worker."""
    with s3_with_wide(seed) as env:
        process, base = start(["--workers", "2", "--watch", "0"], env)
        try:
            workers = worker_pids(process.pid)
            assert len(workers) == 2
            for width in (300, 301, 302, 303):  # each a new connection: both workers' share
                status, headers, body = fetch(f"{base}/wide.jpg?w={width}&fm=webp")
                assert status == 200, body
                assert headers["x-vipsfront-variant"] == "miss"
                assert pyvips.Image.new_from_buffer(body, "").width == width
                status, headers, again = fetch(f"{base}/wide.jpg?w={width}&fm=webp")
                assert headers["x-vipsfront-variant"] == "hit"
                assert again == body

            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 60
            while workers[0] in worker_pids(process.pid) or len(worker_pids(process.pid)) < 2:
                assert time.monotonic() < deadline, "the dead worker was not replaced"
                time.sleep(0.2)
            for width in (304, 305):
                status, _, body = fetch(f"{base}/wide.jpg?w={width}&fm=webp")
                assert status == 200, body
                assert pyvips.Image.new_from_buffer(body, "").width == width
            last = worker_pids(process.pid)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            output = stop(process) if process.poll() is None else (process.stdout.read() if process.stdout else "")
    assert "Traceback" not in output, output
    assert not any(Path(f"/proc/{pid}").exists() and not zombie(pid) for pid in last)


def worker_pids(pid: int) -> list[int]:
    """The server's worker processes: its children that are not multiprocessing's resource tracker."""
    return [child for child in children(pid) if "resource_tracker" not in " ".join(command_line(child))]


def zombie(pid: int) -> bool:
    """``pid`` has exited but not been reaped (its state in ``/proc/PID/stat`` is Z)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


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


# ---------------------------------------------------------------------------------------------------
# The first hour: the README's lifecycle lines, seeded examples that work, a clear stop without S3

ROOT = Path(__file__).resolve().parents[2]
README_HOST = "127.0.0.1:8080"


def readme_lifecycle_lines() -> list[str]:
    """The README's shell block that puts, replaces and purges an original, line by line."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S) if "vipsfront originals put" in b]
    assert len(blocks) == 1, "the README has one lifecycle example"
    return blocks[0].strip().splitlines()


def solid_jpeg(path: Path, rgb: tuple[int, int, int]) -> None:
    (pyvips.Image.black(640, 480) + list(rgb)).cast("uchar").copy(interpretation="srgb").jpegsave(str(path))


def mean_rgb(path: Path) -> list[float]:
    image = pyvips.Image.new_from_file(str(path))
    return [image.extract_band(band).avg() for band in range(3)]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's example uses curl, which is not installed")
def test_the_readme_lifecycle_runs_against_a_real_serve(tmp_path: Path) -> None:
    """From a second shell, as the README says: the commands find the server by themselves, the
    replaced original's next request serves the new pixels, and the server's state file goes with it."""
    env = {**clean_env(), "XDG_RUNTIME_DIR": str(tmp_path)}  # this server's state file, found by the commands
    work = tmp_path / "work"
    work.mkdir()
    solid_jpeg(work / "photo.jpg", (220, 30, 30))
    solid_jpeg(work / "photo-2.jpg", (30, 30, 220))
    process, base = start(["--watch", "0"], env)  # no poll: the replace itself must purge
    try:
        assert list((tmp_path / "vipsfront").glob("serve-*.json"))
        for line in readme_lifecycle_lines():
            command = line.replace(f"http://{README_HOST}", base).replace(
                "vipsfront ", f"{sys.executable} -m vipsfront.cli.main ", 1
            )
            result = subprocess.run(command, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (line, result.stdout, result.stderr)
            assert "CloudFront" not in result.stderr, (line, result.stderr)  # no CDN in front of a local serve
    finally:
        output = stop(process)
    red, blue = mean_rgb(work / "before.webp"), mean_rgb(work / "after.webp")
    assert red[0] > 180 and red[2] < 60, red
    assert blue[2] > 180 and blue[0] < 60, blue
    assert not list((tmp_path / "vipsfront").glob("serve-*.json")), "the state file outlived the server"
    assert "Traceback" not in output, output


def test_seeded_examples_are_only_urls_that_work(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "a-truncated.jpg").write_bytes(pyvips.Image.black(400, 300).jpegsave_buffer()[:300])
    solid_jpeg(seed / "good.jpg", (30, 160, 30))
    process, base = start(["--seed", str(seed), "--watch", "0"], clean_env())
    try:
        deadline = time.monotonic() + 60
        while fetch(f"{base}/good.jpg?w=400&fm=webp")[1].get("x-vipsfront-variant") != "hit":
            assert time.monotonic() < deadline, "the examples were not checked"
            time.sleep(0.2)
    finally:
        output = stop(process)
    assert "uploaded 2 originals" in output
    assert f"{base}/good.jpg?w=400&fm=webp" in output
    assert f"{base}/a-truncated.jpg?w=400&fm=webp" not in output
    assert "not shown, as they do not answer 200: a-truncated.jpg (422 undecodable_image)" in output


def test_one_original_is_counted_as_one(tmp_path: Path) -> None:
    solid_jpeg(tmp_path / "only.jpg", (30, 160, 30))
    process, _ = start(["--seed", str(tmp_path), "--watch", "0"], clean_env())
    output = stop(process)
    assert "uploaded 1 original\n" in output


def test_serve_against_s3_without_credentials_stops_before_serving(tmp_path: Path) -> None:
    env = {
        **clean_env(),
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "vipsfront.cli.main", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "serving on" not in result.stdout
    assert result.stderr.startswith("vipsfront: error: no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID")
