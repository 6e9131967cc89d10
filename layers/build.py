"""Build the transform Lambda's code folder without Docker.

The folder holds ``functions/transform/*`` at its root (so the handler is ``handler.handler``),
``functions/lifecycle/*`` in ``lifecycle/`` (the lifecycle function's ``lifecycle/handler.handler``), the
``vipsfront`` package from ``shared/vipsfront`` (the runtime only: the benchmarks live in ``benchmarks/``
and the tests in ``tests/``, and :func:`check` refuses an asset that holds either) and the runtime
dependencies: pyproject's ``[project] dependencies``, less what the Lambda runtime provides, installed by
pip for the Lambda's architecture and Python version with ``--platform ... --only-binary=:all:``.
pyvips-binary brings libvips itself, so no system library is needed.

pyvips 3.x is published as an sdist only (``--only-binary`` would silently pick a 2019 release), so
its pure-Python wheel is built first and handed to pip with ``--find-links``. boto3 and botocore are in
the Lambda runtime and are not bundled.

The folder ships compiled bytecode, written by an interpreter of the Lambda's Python version (found on
``PATH`` as ``python3.12``, or passed with ``--python``): ``/var/task`` is read-only, so without it every
cold start compiles FastAPI, pydantic and Powertools again. Without one, the folder holds the sources only
and a warning says so.

The CDK construct calls :func:`build` through local bundling; by hand::

    python3 layers/build.py --arch arm64 --out build/lambda-arm64
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.12"
PLATFORMS = {
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}
ELF_MACHINES = {"arm64": 0xB7, "x86_64": 0x3E}
NO_BYTECODE = (
    "no Python {version} interpreter (the Lambda's) on PATH as python{version}: the asset ships without "
    "bytecode, so each cold start compiles its modules again"
)
# Lambda rejects a function whose unzipped code is larger than this.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
# Our own budget per architecture, well under it: pruned, with the face detector (onnxruntime, numpy) and the
# HEIC decoder (pi-heif, Pillow), the arm64 asset measured 120.5 MiB and the x86_64 one 146 MiB (numpy's x86
# OpenBLAS and onnxruntime's x86 kernels are larger); growth past this is a decision, not drift.
ASSET_BUDGET_BYTES = {"arm64": 128 * 1024 * 1024, "x86_64": 152 * 1024 * 1024}
# Parts of dependencies the runtime never loads, removed after the install (a path or glob under the
# folder). Checked by running a face detection and a HEIC decode on an install pruned the same way:
# onnxruntime's Python module carries the runtime itself (its C API library is for other languages) and
# needs neither its model tools nor protobuf and flatbuffers; pi-heif uses Pillow's core only (no fonts,
# colour management, WebP or AVIF plugins, nor the libraries only those link).
NOT_LOADED = (
    "onnxruntime/backend", "onnxruntime/datasets", "onnxruntime/quantization", "onnxruntime/tools",
    "onnxruntime/transformers", "onnxruntime/capi/libonnxruntime.so.*",
    "google/protobuf", "google/_upb", "protobuf-*.dist-info", "flatbuffers", "flatbuffers-*.dist-info",
    "numpy/f2py", "numpy/_pyinstaller", "numpy/_core/include",
    "PIL/_avif.*", "PIL/_imagingft.*", "PIL/_imagingcms.*", "PIL/_webp.*", "PIL/_imagingtk.*", "PIL/_imagingmath.*",
    "PIL/_imagingmorph.*", "pillow.libs/libavif-*", "pillow.libs/libfreetype-*", "pillow.libs/libharfbuzz-*",
    "pillow.libs/libbrotli*", "pillow.libs/libpng16-*", "pillow.libs/liblcms2-*", "pillow.libs/libwebp*",
    "pillow.libs/libsharpyuv-*",
)  # fmt: skip

# Published as an sdist only: build a wheel first.
SDIST_ONLY = frozenset({"pyvips"})
# Provided by the Lambda runtime: left out of the install, and removed where a dependency pulled them in.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
SKIP_DIRS = frozenset({"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache"})
# Our code that must never ship: the benchmark harness and tests (a path segment or module name).
NOT_RUNTIME = re.compile(r"(^|/)((bench|benchmarks?|vipsfront_bench|tests?|conftest)(\.py)?|test_[^/]*\.py)(/|$)")


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirements(root: Path = ROOT) -> list[str]:
    """What the Lambda ships: pyproject's ``[project] dependencies`` less what the Lambda runtime provides."""
    listed: list[str] = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    return [req for req in listed if requirement_name(req) not in RUNTIME_PROVIDED]


def _files(folder: Path) -> Iterable[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(folder).parts):
            if path.suffix not in {".pyc", ".pyo"}:
                yield path


def source_folders(root: Path = ROOT) -> dict[str, Path]:
    """Destination in the asset -> source folder: the handler at the root, the package beside it."""
    return {
        ".": root / "functions" / "transform",
        "lifecycle": root / "functions" / "lifecycle",  # the lifecycle function: lifecycle/handler.handler
        "vipsfront": root / "shared" / "vipsfront",
    }


def source_files(root: Path = ROOT) -> dict[str, Path]:
    """Path in the asset (``/``-separated) -> source file, for the code of ours the asset holds."""
    return {
        (Path(dest) / path.relative_to(folder)).as_posix(): path
        for dest, folder in source_folders(root).items()
        if folder.is_dir()
        for path in _files(folder)
    }


def not_runtime(paths: Iterable[str]) -> list[str]:
    """The paths among ``paths`` (relative, ``/``-separated) that are benchmarks or tests."""
    return sorted(path for path in paths if NOT_RUNTIME.search(path))


def fingerprint(
    arch: str, *, deps: bool = True, bytecode: bool = True, root: Path = ROOT, python_version: str = PYTHON_VERSION
) -> str:
    """A hash of everything that goes into the folder, so CDK rebuilds only when an input changed
    (``bytecode``: whether an interpreter of the version is there to compile it)."""
    digest = hashlib.sha256(f"{arch}|{python_version}|deps={deps}|bytecode={bytecode}".encode())
    if deps:
        digest.update("\n".join(requirements(root)).encode())
    digest.update(Path(__file__).read_bytes())
    for dest, path in source_files(root).items():
        digest.update(dest.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")


def install_dependencies(out: Path, arch: str, reqs: list[str], python_version: str = PYTHON_VERSION) -> None:
    with tempfile.TemporaryDirectory(prefix="vipsfront-wheels-") as wheels:
        for req in reqs:
            if requirement_name(req) in SDIST_ONLY:
                bare = re.sub(r"\[[^\]]*\]", "", req)
                _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", wheels, bare)
        platforms = [arg for platform in PLATFORMS[arch] for arg in ("--platform", platform)]
        _pip(
            "install", "--quiet", "--no-compile", "--no-warn-conflicts", "--upgrade", "--target", str(out),
            *platforms, "--only-binary=:all:", "--python-version", python_version,
            "--implementation", "cp", "--find-links", wheels, *reqs,
        )  # fmt: skip


def prune(out: Path) -> None:
    """Drop what the runtime provides or never runs: boto3/botocore, scripts, caches, test suites and
    ``NOT_LOADED``."""
    for pattern in NOT_LOADED:
        for path in sorted(out.glob(pattern)):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    for name in RUNTIME_PROVIDED:
        shutil.rmtree(out / name, ignore_errors=True)
        for info in out.glob(f"{name}-*.dist-info"):
            shutil.rmtree(info)
    shutil.rmtree(out / "bin", ignore_errors=True)
    for path in sorted(out.rglob("*"), reverse=True):
        if path.is_dir() and path.name in SKIP_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (path.suffix in {".pyc", ".pyo"} or path.name == "RECORD"):
            path.unlink()


def python_version_of(python: str) -> str | None:
    """``"3.12"`` for a Python 3.12 interpreter; None when ``python`` does not run (a version manager's shim
    can be on ``PATH`` with no interpreter behind it)."""
    try:
        asked = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2], sep='.')"], capture_output=True)
    except OSError:
        return None
    return asked.stdout.decode().strip() if asked.returncode == 0 else None


def python_for(version: str, python: str | None = None) -> str | None:
    """An interpreter of Python ``version`` to compile the asset with: ``python`` if given (an error if it
    is another version: a ``.pyc`` serves one version, any other is ignored in Lambda), else this one or
    ``python3.12`` on ``PATH``; None when there is none."""
    if python:
        if python_version_of(python) != version:
            raise ValueError(f"--python {python} is not a Python {version} interpreter (the Lambda's)")
        return python
    found = [sys.executable, shutil.which(f"python{version}")]
    return next((candidate for candidate in found if candidate and python_version_of(candidate) == version), None)


def compile_bytecode(out: Path, python: str) -> None:
    """Write every module's ``__pycache__/*.pyc`` with ``python`` (a ``.pyc`` serves one Python version).

    Unchecked hashes: the folder never changes once built, and the zip CDK makes of it resets every file's
    date, so a timestamp-checked ``.pyc`` would not match its source and would be compiled again at import.
    """
    cmd = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")


def copy_sources(out: Path, root: Path = ROOT) -> None:
    for dest, path in source_files(root).items():
        target = out / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def folder_size(out: Path) -> int:
    return sum(path.stat().st_size for path in out.rglob("*") if path.is_file())


def _size(path: Path) -> int:
    return folder_size(path) if path.is_dir() else path.stat().st_size


def libvips_files(out: Path) -> list[Path]:
    return sorted(path for path in out.rglob("libvips*.so*") if path.is_file())


def elf_machine(path: Path) -> int:
    """The ``e_machine`` field of an ELF file (0xB7 AArch64, 0x3E x86-64)."""
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def check(out: Path, arch: str, *, deps: bool = True) -> None:
    """Raise unless the folder can run on Lambda for ``arch`` and holds no benchmarks or tests of ours."""
    ours = [path.relative_to(out).as_posix() for path in out.glob("*.py")]
    ours += [path.relative_to(out).as_posix() for path in (out / "vipsfront").rglob("*") if path.is_file()]
    if unwanted := not_runtime(ours):
        raise RuntimeError(f"benchmarks or tests in the asset: {unwanted[:5]}")
    size = folder_size(out)
    if size > MAX_UNZIPPED_BYTES:
        raise RuntimeError(f"the asset is {size / 2**20:.0f} MB unzipped, over Lambda's 250 MB limit")
    budget = ASSET_BUDGET_BYTES[arch]
    if size > budget:
        largest = sorted(out.iterdir(), key=lambda path: -_size(path))[:5]
        raise RuntimeError(
            f"the {arch} asset is {size / 2**20:.0f} MiB unzipped, over its {budget / 2**20:.0f} MiB budget "
            f"(layers/build.py); largest: {', '.join(f'{p.name} {_size(p) / 2**20:.0f} MiB' for p in largest)}"
        )
    if deps:
        libs = libvips_files(out)
        if not libs:
            raise RuntimeError("no libvips shared library in the asset")
        wrong = [lib for lib in libs if elf_machine(lib) != ELF_MACHINES[arch]]
        if wrong:
            raise RuntimeError(f"libvips built for another architecture than {arch}: {wrong}")


def build(
    out: Path,
    arch: str = "arm64",
    *,
    deps: bool = True,
    root: Path = ROOT,
    python_version: str = PYTHON_VERSION,
    python: str | None = None,
) -> Path:
    """Fill ``out`` with the Lambda's code and its bytecode, compiled by :func:`python_for` the version;
    ``deps=False`` copies the sources only (fast, not deployable).

    Without an interpreter of that version the asset ships its sources only: it runs, but each cold start
    compiles its modules again (a warning says so).
    """
    if arch not in PLATFORMS:
        raise ValueError(f"arch must be one of {sorted(PLATFORMS)}, not {arch!r}")
    compiler = python_for(python_version, python) if deps else None
    if deps and compiler is None:
        print(f"layers/build.py: warning: {NO_BYTECODE.format(version=python_version)}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    if deps:
        install_dependencies(out, arch, requirements(root), python_version)
        prune(out)
    copy_sources(out, root)
    if compiler:
        compile_bytecode(out, compiler)
    check(out, arch, deps=deps)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--python-version", default=PYTHON_VERSION)
    parser.add_argument("--out", type=Path, required=True, help="folder to fill (emptied first)")
    parser.add_argument("--python", help="interpreter of that version to compile with (default: python3.12 on PATH)")
    parser.add_argument("--no-deps", action="store_true", help="copy the sources only")
    args = parser.parse_args(argv)
    shutil.rmtree(args.out, ignore_errors=True)
    out = build(args.out, args.arch, deps=not args.no_deps, python_version=args.python_version, python=args.python)
    libs = ", ".join(str(lib.relative_to(out)) for lib in libvips_files(out)) or "none"
    print(f"{out}: {folder_size(out) / 2**20:.1f} MB unzipped, libvips: {libs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
