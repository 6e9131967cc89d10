"""The peers, each installed (or found) and run its own way: the engines of ``engines.py`` and the
origins of ``origins.py``.

* ``bare``: pyvips ``thumbnail_buffer`` + save, the engine's limit (``worker.py``, this interpreter);
* ``engine``: ``vipsfront.engine.run.transform`` alone, no HTTP or S3 (``worker.py``);
* ``pillow``: Pillow with ``draft()`` + LANCZOS (``worker.py``, this interpreter);
* ``pillow-simd``: the same code under Pillow-SIMD, built from source into its own venv;
* ``sharp``: node + sharp from ``benchmarks/peers/sharp`` (its own lockfile);
* ``thumbor``: thumbor 7.8 in its own venv, served over HTTP by one process with a file loader;
* ``thumbor-aws``: the same thumbor with thumbor-aws' S3 loader and result storage (an origin, ``origins.py``);
* ``aws-sample``: the AWS sample's Lambda handler under node (an origin, ``origins.py``), its sharp and
  AWS SDK from ``benchmarks/peers/aws-sample`` (its own lockfile).

A peer that cannot be installed or started is skipped with the reason, never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("worker.py")


def peers_dir() -> Path:
    """``benchmarks/peers`` of the checkout: beside this package, else from the working directory."""
    beside = Path(__file__).resolve().parents[1] / "peers"
    return beside if beside.is_dir() else Path.cwd() / "benchmarks" / "peers"


@dataclass
class Peer:
    name: str
    kind: str  # worker (a process per op), http (a server) or origin (S3 in, S3 out: ``origins.py``)
    command: list[str] = field(default_factory=list)  # worker command, before the job file
    version: str | None = None
    skipped: str | None = None
    venv: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # set for the worker process, over the environment

    def run(self, ops: list[dict[str, Any]], outdir: Path, timeout: float) -> list[dict[str, Any]]:
        """Run ``ops`` in one worker process; the per-op results."""
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job:
            json.dump({"engine": self.name, "ops": ops, "outdir": str(outdir)}, job)
        try:
            done = subprocess.run(
                [*self.command, job.name],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env={**os.environ, **self.env} if self.env else None,
            )
        finally:
            Path(job.name).unlink(missing_ok=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{self.name} worker failed: {tail[0][:300]}")
        results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
        return results


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _venv(path: Path, requirements: Path, install: bool, timeout: float) -> tuple[Path | None, str | None]:
    """A virtual environment with ``requirements`` installed; (python, None) or (None, reason)."""
    python = path / "bin" / "python"
    marker = path / ".installed"  # holds the requirements it was installed from: a change reinstalls
    wanted = requirements.read_text() if requirements.exists() else ""
    if marker.exists() and python.exists() and marker.read_text() == wanted:
        return python, None
    if not install:
        return None, f"not installed in {path.name}/ (run without --no-install, or --peers {path.name})"
    if not requirements.exists():
        return None, f"{requirements} is missing"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True, capture_output=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"install failed: {error}"
    if done.returncode != 0:
        return None, f"pip install failed: {_tail(done.stderr)}"
    marker.write_text(wanted)
    return python, None


def _node() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().lstrip("v")


def _python_version(python: Path, code: str) -> str | None:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


def aws_sample_handler() -> Path:
    """The AWS sample's handler, read-only team material beside the checkout (never copied into it)."""
    return peers_dir().parents[1].parent / "shared" / "peers" / "aws-image-optimization" / "index.mjs"


def aws_sample_settings(s3_endpoint: str, originals: str, transformed: str) -> dict[str, str]:
    """The sample handler's environment as the sample deploys it (``SOURCES.md``), against ``s3_endpoint``."""
    return {
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_REGION": "us-east-1",
        "originalImageBucketName": originals,
        "transformedImageBucketName": transformed,
        "transformedImageCacheTTL": "max-age=31622400",
        "maxImageSize": "4700000",
    }


def aws_sample_instance() -> Path:
    """``benchmarks/peers/aws-sample/instance.mjs``: one instance of the sample's handler under node."""
    return peers_dir() / "aws-sample" / "instance.mjs"


def _npm_ci(folder: Path, install: bool, package: str) -> str | None:
    """Why ``folder``'s node packages are not there (after ``npm ci`` when allowed), or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not on PATH"
    if (folder / "node_modules" / package).is_dir():
        return None
    if not install:
        return f"{package} is not installed (npm ci in benchmarks/peers/{folder.name})"
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, capture_output=True, text=True, check=False
    )
    return None if done.returncode == 0 else f"npm ci failed: {_tail(done.stderr)}"


def prepare(name: str, venvs: Path, install: bool, timeout: float = 900) -> Peer:
    """Find or install one peer; ``Peer.skipped`` says why it cannot run."""
    worker = [sys.executable, str(WORKER)]
    if name in ("bare", "engine"):
        return Peer(name, "worker", worker)
    if name == "pillow":
        try:
            import PIL
        except ImportError:
            return Peer(name, "worker", skipped="Pillow is not installed (pip install -e '.[bench]')")
        return Peer(name, "worker", worker, version=f"Pillow {PIL.__version__}")
    here = peers_dir()
    if name == "pillow-simd":
        python, reason = _venv(venvs / "pillow-simd", here / "pillow-simd" / "requirements.txt", install, timeout)
        if python is None:
            return Peer(name, "worker", skipped=reason)
        version = _python_version(python, "import PIL; print(PIL.__version__)")
        if not version or "post" not in version:
            return Peer(name, "worker", skipped=f"the venv holds Pillow {version}, not Pillow-SIMD")
        return Peer(name, "worker", [str(python), str(WORKER)], version=f"Pillow-SIMD {version}")
    if name == "sharp":
        folder = here / "sharp"
        reason = _npm_ci(folder, install, "sharp")
        if reason:
            return Peer(name, "worker", skipped=reason)
        node = shutil.which("node") or "node"
        probe = subprocess.run(
            [node, "-e", "const s=require('sharp');console.log(s.versions.sharp+' '+s.versions.vips)"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            return Peer(name, "worker", skipped=f"sharp does not load: {_tail(probe.stderr)}")
        sharp, vips = probe.stdout.split()
        return Peer(name, "worker", [node, str(folder / "worker.mjs")], version=f"sharp {sharp}, libvips {vips}")
    if name in ("thumbor", "thumbor-aws"):
        kind = "http" if name == "thumbor" else "origin"
        python, reason = _venv(venvs / "thumbor", here / "thumbor" / "requirements.txt", install, timeout)
        if python is None:
            return Peer(name, kind, skipped=reason)
        code = "import thumbor, PIL; print(f'thumbor {thumbor.__version__}, Pillow {PIL.__version__}')"
        if name == "thumbor-aws":
            code = (
                "import thumbor, PIL, importlib.metadata as m; print(f'thumbor {thumbor.__version__}, "
                'thumbor-aws {m.version("thumbor-aws")}, Pillow {PIL.__version__}\')'
            )
        version = _python_version(python, code)
        if version is None:
            return Peer(name, kind, skipped="thumbor-aws does not import in the thumbor venv")
        return Peer(name, kind, version=version, venv=venvs / "thumbor")
    if name == "aws-sample":
        handler = aws_sample_handler()
        if not handler.exists():
            return Peer(name, "origin", skipped=f"the sample's handler is not at {handler}")
        folder = here / "aws-sample"
        reason = _npm_ci(folder, install, "sharp")
        if reason:
            return Peer(name, "origin", skipped=reason)
        probe = subprocess.run(
            [
                "node",
                "-e",
                "const s=require('sharp');const p=require('@aws-sdk/client-s3/package.json');"
                "console.log(`sharp ${s.versions.sharp}, libvips ${s.versions.vips}, client-s3 ${p.version}`)",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            return Peer(name, "origin", skipped=f"sharp or the AWS SDK does not load: {_tail(probe.stderr)}")
        return Peer(name, "origin", version=f"aws-samples/image-optimization; {probe.stdout.strip()}, node {_node()}")
    return Peer(name, "worker", skipped=f"unknown peer {name!r}")
