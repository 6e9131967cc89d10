"""Hostile originals through the app on moto: the right 4xx, fast, in bounded memory, losing nothing.

Every case of ``hostile_images.cases()`` is uploaded as an original and requested once. For each: the
status is the one that is right for it (a bomb is 413, a file no loader takes 415, a broken one 422, a
bit-flipped one whose flips the decoder reads as noise 200), it answers within a time bound, nothing is
stored for a 4xx (and a stored 200 carries no hostile payload), the original is byte-for-byte untouched
and the next, healthy request succeeds. Peak memory is measured in a separate process over the whole
batch (``ru_maxrss``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyvips
from fastapi.testclient import TestClient
from hostile_images import (
    ORIGINALS,
    VARIANTS,
    Case,
    Listener,
    Outcome,
    cases,
    gif_frame_bomb,
    run_cases,
    svg_external,
)

from vipsfront.config.settings import Settings
from vipsfront.engine.limits import Limits
from vipsfront.engine.probe import probe
from vipsfront.engine.run import transform
from vipsfront.errors import InputTooLargeError
from vipsfront.stores.s3 import S3Store
from vipsfront.url.spec import Spec
from vipsfront.web.app import create_app

HERE = Path(__file__).parent
TIME_BOUND_MS = 2000  # every hostile request answers well within this (they take ~10-40 ms here)
RSS_GROWTH_BOUND_MB = 150  # peak RSS over the batch, above the process's peak after a warm-up


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("svg") / "secret.txt"
    path.write_text("TOPSECRET " * 20)
    return path


@pytest.fixture(scope="module")
def catalogue(listener: Listener, secret_file: Path) -> list[Case]:
    return list(cases(listener.url, str(secret_file)))


@pytest.fixture(scope="module")
def world(catalogue: list[Case]) -> Iterator[tuple[Any, dict[str, Outcome]]]:
    from moto import mock_aws

    from vipsfront.stores.s3 import s3_client

    with mock_aws():
        s3 = s3_client(region="us-east-1")
        for bucket in (ORIGINALS, VARIANTS):
            s3.create_bucket(Bucket=bucket)

        def make_client(allow_svg: bool) -> TestClient:
            settings = Settings(limits=Limits(allow_svg=allow_svg))
            return TestClient(create_app(settings, S3Store(s3, ORIGINALS, VARIANTS)))

        _, outcomes = run_cases(s3, make_client, catalogue)
        yield s3, {outcome.name: outcome for outcome in outcomes}


CASE_NAMES = [case.name for case in cases("http://127.0.0.1:9", "/nonexistent")]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_original(name: str, world: tuple[Any, dict[str, Outcome]], catalogue: list[Case]) -> None:
    s3, outcomes = world
    case = next(c for c in catalogue if c.name == name)
    outcome = outcomes[name]
    assert outcome.status == case.expect, (outcome.status, outcome.code, outcome.body)
    assert outcome.ms < TIME_BOUND_MS
    assert outcome.original_intact
    assert outcome.next_ok
    if case.expect != 200:
        assert outcome.stored == []
        assert outcome.cache_control == "public, max-age=60"  # a client error, briefly cacheable
        body = json.loads(outcome.body)
        assert set(body) == {"error", "code", "param"}
        assert body["code"] in {"input_too_large", "unsupported_input", "undecodable_image"}
    else:
        assert len(outcome.stored) == 1
        stored = s3.get_object(Bucket=VARIANTS, Key=outcome.stored[0])["Body"].read()
        image = pyvips.Image.new_from_buffer(stored, "")
        assert image.width <= 200
        assert not any(image.get_typeof(name) for name in ("exif-data", "icc-profile-data", "xmp-data"))
        if case.stored_must_not_contain:
            assert case.stored_must_not_contain not in stored


def test_the_bombs_are_refused_from_the_header(world: tuple[Any, dict[str, Outcome]]) -> None:
    _, outcomes = world
    bombs = [o for name, o in outcomes.items() if ("bomb" in name or "frames" in name) and "iCCP" not in name]
    assert len(bombs) == 8  # five formats, two long animations, one animation of huge frames
    assert all(o.status == 413 and o.code == "input_too_large" for o in bombs)


def test_no_hostile_svg_reaches_the_network_or_the_disk(
    world: tuple[Any, dict[str, Outcome]], listener: Listener, secret_file: Path, s3: Any
) -> None:
    """With SVG enabled, librsvg renders without fetching URLs or reading files the SVG names."""
    assert listener.paths == []  # neither entity, script, XInclude, image, use nor @import fetched it
    app = create_app(Settings(limits=Limits(allow_svg=True)), S3Store(s3, ORIGINALS, VARIANTS))
    client = TestClient(app)

    def render(key: str, svg: bytes) -> bytes:
        s3.put_object(Bucket=ORIGINALS, Key=key, Body=svg)
        response = client.get(f"/{key}?w=200&fm=png")
        assert response.status_code == 200
        return response.content

    svg = svg_external(listener.url, str(secret_file))
    with_file = render("a.svg", svg)
    missing = str(secret_file.parent / "missing.txt")
    without_file = render("b.svg", svg_external(listener.url, missing))
    assert with_file == without_file  # the file's text was never included
    # Control: text does render here, so an included file would have changed the pixels.
    assert render("c.svg", svg_external(listener.url, missing, inline_text="TOPSECRET")) != without_file
    assert listener.paths == []


def test_animation_pixels_are_bounded_in_all_frames() -> None:
    """50 frames of 4000x4000 in 1.2 KB: each frame is under 100 MP, all of them are 800 MP."""
    bomb = gif_frame_bomb()
    assert len(bomb) < 1500
    with pytest.raises(InputTooLargeError, match="pixels in all"):
        probe(bomb)
    assert probe(bomb, Limits(max_input_pixels=800_000_000)).pages == 50


def test_polyglots_are_served_with_nosniff_even_unchanged(s3: Any) -> None:
    """A GIF/JS polyglot asked for unchanged is the original bytes, typed as an image, never sniffable."""
    from hostile_images import gif_js_polyglot

    s3.put_object(Bucket=ORIGINALS, Key="poly.gif", Body=gif_js_polyglot())
    response = TestClient(create_app(Settings(), S3Store(s3, ORIGINALS, VARIANTS))).get("/poly.gif")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.content == gif_js_polyglot()  # the original's bytes, the script included


def test_peak_memory_over_the_batch_is_bounded(tmp_path: Path) -> None:
    """The whole batch in a fresh process: its peak RSS above the warmed-up peak (``ru_maxrss``)."""
    script = textwrap.dedent(
        """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        from fastapi.testclient import TestClient
        from moto import mock_aws
        import hostile_images as h
        from vipsfront.web.app import create_app
        from vipsfront.config.settings import Settings
        from vipsfront.engine.limits import Limits
        from vipsfront.stores.s3 import S3Store, s3_client

        with mock_aws():
            s3 = s3_client(region="us-east-1")
            for bucket in (h.ORIGINALS, h.VARIANTS):
                s3.create_bucket(Bucket=bucket)
            store = S3Store(s3, h.ORIGINALS, h.VARIANTS)
            def make(svg):
                return TestClient(create_app(Settings(limits=Limits(allow_svg=svg)), store))
            warm, outcomes = h.run_cases(s3, make, list(h.cases()))
            wrong = [o.name for o in outcomes if not o.expected]
            print(json.dumps({"warm": warm, "peak": h.max_rss_mb(), "wrong": wrong}))
        """
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(HERE)], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["wrong"] == []  # every case answered its one right status here too
    assert figures["peak"] - figures["warm"] < RSS_GROWTH_BOUND_MB, figures


def test_a_legitimately_huge_image_is_read_in_bounded_memory() -> None:
    """100 MP (at the limit) of PNG in ~100 KB: shrink-on-load and sequential access keep it small."""
    script = textwrap.dedent(
        """
        import json, resource, time
        import pyvips
        from vipsfront.engine.run import transform
        from vipsfront.url.spec import Spec
        big = pyvips.Image.black(10000, 10000).pngsave_buffer(compression=9)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        result = transform(big, Spec(w=100), deadline=time.monotonic() + 20)
        print(json.dumps({"bytes": len(big), "width": result.width, "s": time.perf_counter() - started,
                          "before": before, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["width"] == 100
    assert figures["peak"] - figures["before"] < 200, figures  # a full decode would be 100+ MB per band


def test_engine_refuses_the_frame_bomb_before_decoding() -> None:
    with pytest.raises(InputTooLargeError):
        transform(gif_frame_bomb(), Spec(w=4000))
