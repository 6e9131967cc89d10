"""The request's time budget: slow encodes fall back to a cheaper effort or fail cleanly, never run late.

An AVIF encode cannot be stopped once libaom has the pixels (libvips' kill flag only stops pixel
generation), so the engine picks the effort for the time left and refuses a result that is ready only
after the deadline. Through the app, a blown budget is a 503 ``deadline_exceeded`` with ``no-store`` and
nothing stored; the next request with time to spare succeeds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import pyvips
from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.engine import encode
from vipsfront.engine.limits import Limits
from vipsfront.engine.run import transform
from vipsfront.errors import DeadlineExceededError
from vipsfront.stores.s3 import S3Store
from vipsfront.url.spec import Fm, Spec
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
HANG = 10  # times a budget: elapsed times are bounded only to catch a hang (speed is for benchmarks/)


def gradient_jpeg(width: int, height: int) -> bytes:
    xy = pyvips.Image.xyz(width, height)
    image = (xy[0] * 255 / width).bandjoin([xy[1] * 255 / height, 128]).cast("uchar")
    return bytes(image.copy(interpretation="srgb").jpegsave_buffer(Q=90))


def test_avif_effort_follows_the_time_left() -> None:
    pixels = 2000 * 1500
    assert encode.avif_effort_for(pixels, 2, None) == 2  # no deadline: the configured effort
    assert encode.avif_effort_for(pixels, 2, 60.0) == 2
    assert encode.avif_effort_for(pixels, 2, 1.5) == 1  # effort 2 would not fit, effort 1 does
    assert encode.avif_effort_for(pixels, 2, 0.5) == 0
    with pytest.raises(DeadlineExceededError):
        encode.avif_effort_for(pixels, 2, 0.1)
    assert encode.avif_effort_for(pixels, 9, 1e9) == 9


def test_a_slow_avif_falls_back_to_a_lower_effort(caplog: pytest.LogCaptureFixture) -> None:
    source = gradient_jpeg(2000, 1500)
    spec = Spec(w=2000, fm=Fm.AVIF)
    caplog.set_level(logging.INFO, logger="vipsfront.engine.encode")
    started = time.monotonic()
    result = transform(source, spec, Limits(avif_effort=2), deadline=started + 1.5)
    assert time.monotonic() - started < HANG * 1.5
    assert (result.width, result.height, result.media_type) == (2000, 1500, "image/avif")
    assert "AVIF effort 1 instead of 2" in caplog.text
    caplog.clear()
    transform(source, spec, Limits(avif_effort=2), deadline=time.monotonic() + 60)
    assert "instead of" not in caplog.text  # with time to spare the configured effort is kept


def test_an_avif_that_cannot_fit_fails_before_encoding() -> None:
    source = gradient_jpeg(400, 300)
    spec = Spec(w=4000, fm=Fm.AVIF, enlarge=True)  # 12 MP of output from a small file
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        transform(source, spec, Limits(avif_effort=2), deadline=started + 0.5)
    assert time.monotonic() - started < HANG * 0.5


def test_a_result_ready_after_the_deadline_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_encode = encode.encode

    def late(*args: Any, **kwargs: Any) -> encode.Encoded:
        encoded = slow_encode(*args, **kwargs)
        time.sleep(0.3)  # an encoder that overran its estimate
        return encoded

    monkeypatch.setattr(encode, "encode", late)
    with pytest.raises(DeadlineExceededError):
        transform(gradient_jpeg(64, 64), Spec(w=32), deadline=time.monotonic() + 0.2)


# Pixels flow only during the write: a 2000 px output blurred at sigma 100 keeps libvips evaluating for
# seconds (5.6 s on a 2-vCPU machine) after a set-up of a few ms, so a 0.5 s deadline passes mid-write.
SLOW_SPEC = Spec(w=2000, enlarge=True, blur=100, fm=Fm.PNG)
SLOW_BUDGET_S = 0.5


def kill_records(caplog: pytest.LogCaptureFixture) -> list[int]:
    """How far each libvips evaluation had got (percent) when the engine stopped it at the deadline."""
    return [record.stopped_at_percent for record in caplog.records if hasattr(record, "stopped_at_percent")]


def test_the_deadline_stops_a_running_libvips_evaluation(caplog: pytest.LogCaptureFixture) -> None:
    source = gradient_jpeg(200, 150)
    caplog.set_level(logging.INFO, logger="vipsfront.engine.run")
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="while encoding"):
        transform(source, SLOW_SPEC, deadline=started + SLOW_BUDGET_S)
    elapsed = time.monotonic() - started
    (percent,) = kill_records(caplog)  # stopped once, from libvips' eval signal, not between steps
    assert 0 <= percent < 100  # cut short: the evaluation had not finished
    assert elapsed < 10 * SLOW_BUDGET_S  # only to catch a kill that does not stop libvips
    caplog.clear()
    result = transform(source, Spec(w=200, blur=100, fm=Fm.PNG), deadline=time.monotonic() + 60)
    assert (result.width, result.height, result.format) == (200, 150, Fm.PNG)  # libvips still works
    assert kill_records(caplog) == []


@pytest.fixture
def app_on(s3: Any) -> Any:
    def make(budget: float) -> TestClient:
        app = create_app(Settings(request_budget_s=budget), S3Store(s3, ORIGINALS, VARIANTS))
        return TestClient(app)

    s3.put_object(Bucket=ORIGINALS, Key="big.jpg", Body=gradient_jpeg(400, 300), ContentType="image/jpeg")
    return make


def variants(s3: Any) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=VARIANTS).get("Contents", [])]


def test_an_encode_stopped_at_the_deadline_is_a_503_and_stores_nothing(
    s3: Any, app_on: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vipsfront.engine.run")
    response = app_on(SLOW_BUDGET_S).get("/big.jpg?w=2000&enlarge=1&blur=100&fm=png")
    assert response.status_code == 503
    assert response.json()["code"] == "deadline_exceeded"
    assert response.headers["cache-control"] == "no-store"
    assert len(kill_records(caplog)) == 1
    assert variants(s3) == []


def test_a_blown_budget_is_a_clean_503_and_stores_nothing(s3: Any, app_on: Any) -> None:
    url = "/big.jpg?w=4000&enlarge=1&fm=avif"
    started = time.monotonic()
    response = app_on(0.5).get(url)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["code"] == "deadline_exceeded"
    assert response.headers["cache-control"] == "no-store"
    assert elapsed < HANG * 0.5
    assert variants(s3) == []
    retried = app_on(60).get(url)  # the same request with time to spare
    assert retried.status_code == 200 and retried.headers["content-type"] == "image/avif"
    assert variants(s3) == ["big.jpg/_vf/w=4000,enlarge=1,fm=avif"]
