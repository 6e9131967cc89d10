"""The face detector and the HEIC decoder load only when a request needs them: the transform handler's
import chain (its init and the app its first invocation builds) and a plain transform load neither
onnxruntime, numpy, pi-heif nor Pillow, so the cold start of a request without faces is unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("onnxruntime", "numpy", "pi_heif", "PIL")

CHAIN = """
import json, sys
import handler, vipsfront.web.app
from vipsfront.engine.run import transform
from vipsfront.url.spec import Position, Spec
import pyvips
jpeg = (pyvips.Image.black(64, 48) + [90, 120, 200]).cast("uchar").copy(interpretation="srgb").jpegsave_buffer()
transform(jpeg, Spec(w=32, h=32, pos=Position.ATTENTION))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_handler_chain_and_a_transform_load_no_face_or_heic_library() -> None:
    paths = [str(ROOT / "shared"), str(ROOT / "functions" / "transform")]
    env = {"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHAIN], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "vipsfront" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded.intersection(HEAVY))
