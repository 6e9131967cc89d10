"""``pos=face`` through the app on moto S3: detected by the first crop, recorded once in the info document,
reused by every later crop; Server-Timing says which faces (or ``attention``) aimed the crop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from vipsfront.config.settings import Settings
from vipsfront.engine.faces import DETECTOR
from vipsfront.stores.s3 import S3Store
from vipsfront.web.app import create_app

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"


def faces_timing(response: Any) -> str:
    entry = next(part for part in response.headers["server-timing"].split(",") if part.strip().startswith("faces"))
    return entry.split('desc="')[1].rstrip('"')


def test_the_info_document_holds_the_faces_and_crops_reuse_them(s3: Any) -> None:
    import matplotlib  # the dev extra's

    portrait = (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()
    s3.put_object(Bucket=ORIGINALS, Key="people/grace.jpg", Body=portrait, ContentType="image/jpeg")
    client = TestClient(create_app(Settings(), S3Store(s3, ORIGINALS, VARIANTS)))

    first = client.get("/people/grace.jpg?w=512&h=120&pos=face")
    assert first.status_code == 200
    assert faces_timing(first) == "faces=1 resized"

    info = client.get("/_vf/info/people/grace.jpg")
    assert info.status_code == 200
    recorded = info.json()["faces"]
    assert recorded["detector"] == DETECTOR and len(recorded["boxes"]) == 1

    later = client.get("/people/grace.jpg?w=300&h=80&pos=face")
    assert later.status_code == 200
    assert faces_timing(later) == "faces=1 cached"
