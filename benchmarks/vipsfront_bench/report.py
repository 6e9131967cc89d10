"""What a run prints and writes: progress on stderr, the machine it ran on, Markdown tables, and the
results as ``{name}.json`` and ``{name}.md`` in the folder given with ``--out``."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def say(text: str) -> None:
    print(f"vipsfront bench: {text}", file=sys.stderr, flush=True)


def progress(iterable: Iterable[Any], desc: str) -> Iterable[Any]:
    """tqdm's progress bar on stderr when tqdm is installed, else the plain iterable."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, file=sys.stderr, dynamic_ncols=True, leave=False)


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS and the Python and libvips versions of this machine."""
    import psutil
    import pyvips

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "pyvips": pyvips.__version__,
        "libvips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
    }


def heading(results: dict[str, Any], title: str) -> list[str]:
    """The report's title and the line saying how and where it was measured."""
    m = results["machine"]
    return [
        f"# {title}",
        "",
        f"`{results['command']}` on {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, "
        f"Python {m['python']}, pyvips {m['pyvips']}, libvips {m['libvips']}; {results['seconds']:.0f} s.",
    ]


def number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def scores_table(labelled: Iterable[tuple[str, dict[str, Any]]], names: Sequence[str]) -> list[str]:
    """Each output's mean bytes (KB) and mean SSIMULACRA2 by engine or origin, a row per labelled op
    (``label, {name: {"bytes_mean", "ssimulacra2_mean"}}``); ``–`` where one made none."""
    rows = [
        [
            label,
            *(
                "–" if n not in per else f"{per[n]['bytes_mean'] / 1024:.1f}, {per[n]['ssimulacra2_mean']:.1f}"
                for n in names
            ),
        ]
        for label, per in labelled
    ]
    return table(["op", *names], rows)


def write(out: Path, name: str, results: dict[str, Any], markdown: list[str]) -> list[Path]:
    """``out/{name}.json`` and ``out/{name}.md``, and the Markdown summary on stdout; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.json", out / f"{name}.md"]
    paths[0].write_text(json.dumps(results, indent=1, default=str) + "\n")
    paths[1].write_text("\n".join(markdown) + "\n")
    print("\n".join(markdown), flush=True)
    say(f"{name}: {', '.join(map(str, paths))}")
    return paths


def save_output(folder: Path, index: int, fmt: str, data: bytes) -> str:
    """One output image as ``folder/{index}.{ext}``, kept for scoring and for the tests to decode."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{index}.{'jpg' if fmt == 'jpeg' else fmt}"
    path.write_bytes(data)
    return str(path)
