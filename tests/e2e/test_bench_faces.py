"""``vipsfront bench faces`` on its labelled set, when the two wheels it reads are at hand (they come from
the registry: ``pip download --no-deps insightface==2.1 scikit-image==0.26.0 -d build/faces-wheels``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "build" / "faces-wheels"


@pytest.mark.e2e
def test_faces_reports_recall_speed_and_crops(tmp_path: Path) -> None:
    if not (list(WHEELS.glob("insightface-*.whl")) and list(WHEELS.glob("scikit_image-*.whl"))):
        pytest.skip(f"the labelled set's wheels are not in {WHEELS}")
    command = [
        sys.executable,
        "-m",
        "vipsfront_bench",
        "faces",
        "--quick",
        "--out",
        str(tmp_path),
        "--wheels",
        str(WHEELS),
    ]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    results = json.loads((tmp_path / "faces.json").read_text())
    for side in (480, 640):
        at = results[f"at_{side}"]
        assert sum(total for _, total in at["recall"].values()) > 100 and at["median_ms"] > 0
    kept, held = results["crops_keeping_every_face"]["face"]
    assert 0 < held and 0 <= kept <= held
    assert results["sources"]["t1 group"]["faces"] == 6
