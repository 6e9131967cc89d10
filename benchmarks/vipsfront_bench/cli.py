"""The benchmark's one entry point: ``python -m vipsfront_bench SUBCOMMAND`` or ``vipsfront bench SUBCOMMAND``.

Each subcommand writes ``{name}.json`` and ``{name}.md`` into ``--out`` (default ``build/bench``):

* ``lambda``: the deployed shape: one instance of the built Lambda asset beside the AWS sample's, cold
  start, warm misses split by Server-Timing, peak RSS, cost, and the goals met or not (``deployed.py``);
* ``engines``: the engine against bare pyvips, Pillow, Pillow-SIMD, sharp and thumbor on the same files
  and ops: latency, throughput, peak RSS, SSIMULACRA2, bytes at matched quality (``engines.py``);
* ``stages``: the engine's CPU per stage (probe, plan, decode, resize, steps, encode) through its public
  API, beside the streamed pipeline and ``transform`` (``stages.py``);
* ``origins``: origin against origin on one S3: vipsfront's Lambda instance, thumbor-aws, the AWS
  sample (``origins.py``);
* ``backfill``: originals per second of the backfill step on the corpus (``backfill.py``);
* ``soak``: ``vipsfront serve`` under misses and hits, its RSS and latency over time (``soak.py``);
* ``faces``: the face detector's recall, false positives and speed on a labelled set from registry
  packages, and the crops ``pos=face`` and ``attention`` make (``faces.py``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from vipsfront_bench import backfill, calibrate, deployed, engines, faces, origins, soak, stages

SUBCOMMANDS: dict[str, ModuleType] = {
    "lambda": deployed,
    "engines": engines,
    "stages": stages,
    "origins": origins,
    "backfill": backfill,
    "soak": soak,
    "calibrate": calibrate,
    "faces": faces,
}
DEFAULT_OUT = Path("build") / "bench"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vipsfront bench", description="Benchmarks of vipsfront, side by side on moto.")
    commands = p.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for name, module in SUBCOMMANDS.items():
        doc = (module.__doc__ or "").split("\n\n")[0].split(": ", 1)[-1].replace("``", "")
        sub = commands.add_parser(
            name, help=doc, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where results go (default {DEFAULT_OUT})")
        sub.add_argument("--quick", action="store_true", help="a few files, few repeats (the CI smoke run)")
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return p


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    if threading.current_thread() is threading.main_thread():
        # stopped with SIGTERM (``kill``, a CI timeout), the run unwinds like Ctrl-C: its ``finally``
        # blocks stop the servers it started instead of orphaning them
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    args.argv = argv[1:]
    if hasattr(args, "out"):
        args.out.mkdir(parents=True, exist_ok=True)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)
