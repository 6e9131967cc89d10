"""The origin reports ``q=auto``'s search in ``Server-Timing``: its time, choice, and a deadline fallback."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import photo_jpeg

from vipsfront.engine import autoquality
from vipsfront.web.app import create_app
from vipsfront.config.settings import Settings
from vipsfront.stores.s3 import S3Store

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"


@pytest.fixture
def client(s3: Any) -> TestClient:
    s3.put_object(Bucket=ORIGINALS, Key="photos/cat.jpg", Body=photo_jpeg(600, 400), ContentType="image/jpeg")
    return TestClient(create_app(Settings(), S3Store(s3, ORIGINALS, VARIANTS)))


def test_server_timing_says_what_q_auto_chose(client: TestClient) -> None:
    response = client.get("/photos/cat.jpg?w=300&fm=webp&q=auto")
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
    timing = response.headers["server-timing"]
    assert re.search(r'qauto;dur=[0-9.]+;desc="q=[0-9]+ n=[0-9]+"', timing), timing
    assert client.get("/photos/cat.jpg/_vf/w=300,fm=webp,q=auto").content == response.content


def test_server_timing_reports_the_deadline_fallback(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    real = autoquality.choose

    def hurried(*args: Any, **kwargs: Any) -> Any:
        kwargs["deadline"] = time.monotonic()
        return real(*args, **kwargs)

    monkeypatch.setattr(autoquality, "choose", hurried)
    response = client.get("/photos/cat.jpg?w=300&fm=jpeg&q=auto")
    assert response.status_code == 200
    assert "qauto;dur=" in response.headers["server-timing"]
    assert 'desc="q=80 n=1 fallback=deadline"' in response.headers["server-timing"]
