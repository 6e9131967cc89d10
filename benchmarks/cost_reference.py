"""Cost per million of the reference operation: a 4 MP JPEG -> 800 px WebP, on arm64 Lambda.

Measured here: the engine's CPU time per image (``vipsfront.engine.run.transform``, one libvips thread, the
corpus photos, 2560x1600), median of ``--repeats`` passes. Scaled to Lambda with stated assumptions:

* Lambda gives a function ``memory / 1769 MB`` vCPUs of CPU time; the transform is CPU-bound. Its JPEG
  decode and its WebP encode each run on one thread in libvips (measured below, ~90 % of its CPU), only
  the rest (the resize, in strips) spreads over libvips' threads, so its duration there is
  ``serial / min(vcpus, 1) + rest / min(vcpus, threads)`` (threads: what the handler gives libvips, one
  per started vCPU): above 1769 MB, memory buys this operation almost no speed;
* one arm64 (Graviton) vCPU does this work at ``--arm-factor`` times the speed of one core of this
  machine (default 1.0: an assumption, not a measurement; pass e.g. 0.8 if arm64 is 20 % slower);
* the request also waits on S3 (GET of the original, PUT of the variant): ``--s3-ms`` (default 40 ms,
  an assumption for a 1 MB GET and a small PUT in the same region), billed like compute.

Printed, per memory size: the Lambda duration, the compute-only cost per million (GB-seconds, billed per
1 ms, from ``vipsfront.config.cost``'s prices), the per-request fee, and apart from them S3 requests and
CloudFront egress of the bytes made. The goal for compute alone is $1.50 per million; each row also says
how much CPU per image the goal leaves at that memory (after the S3 waits).

Also measured, to say what no change around the codecs can remove: the CPU of the decode at the engine's
JPEG scale (1/2 for 800 px) and of the WebP encode, each on its own in memory right after each transform
(medians per image, so they share its load), and the cost of that floor alone. ``--webp-effort`` prices
another encoder effort (the engine's default is ``Limits.webp_effort``); effort changes bytes and look, so
that row is a trade-off, not a free saving.

Usage: ``python benchmarks/cost_reference.py [--memory 1024,1769] [--repeats 3] [--arm-factor 1.0]
[--s3-ms 40] [--webp-effort N] [--json out.json]``. Never used to assert anything.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import vipsfront  # noqa: F401
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(ROOT / "shared"))

from vipsfront.engine import run as engine  # noqa: E402
from vipsfront.config.cost import CostModel, per_million  # noqa: E402
from vipsfront.engine.run import WEBP_QUALITY, Format, Limits, make_plan, transform  # noqa: E402
from vipsfront.url.spec import Fm, Spec  # noqa: E402
from vipsfront.telemetry import Outcome, RequestRecord  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "corpus" / "photos"  # ../shared/corpus/photos: 2560x1600 JPEGs
SPEC = Spec(w=800, fm=Fm("webp"))
LAMBDA_MB_PER_VCPU = 1769
GOAL_USD = 1.50
STACK_MEMORY_MB = 1769  # the stack's default memory (cdk/vipsfront_cdk/config.py)


def sources() -> list[bytes]:
    found = [path.read_bytes() for path in sorted(PHOTOS.glob("*.jpg"))]
    if not found:
        raise SystemExit("no ../shared/corpus/photos/*.jpg: the corpus is needed")
    return found


@dataclass(frozen=True, slots=True)
class Measured:
    cpu_s: float  # median CPU seconds of one transform
    decode_s: float  # median CPU seconds of the JPEG decode at the engine's scale, realised in memory
    encode_s: float  # median CPU seconds of the WebP encode of the resized image, from memory
    output_bytes: int  # median
    images: int
    shrinks: list[int]


def measure(repeats: int, limits: Limits) -> Measured:
    """One libvips thread; each photo in turn is transformed, then decoded and encoded on their own, so
    the three medians share the machine's load."""
    photos = sources()
    transform(photos[0], SPEC, limits)  # warm up libvips
    probed = [engine._probe(data, limits) for data in photos]  # (info, loader operation)
    plans = [make_plan(info, SPEC, limits) for info, _ in probed]
    operations = [operation for _, operation in probed]
    resized = [
        engine.load(data, plan, operation).copy_memory()
        for data, plan, operation in zip(photos, plans, operations, strict=True)
    ]
    encode = engine.lossy_encoder(Format.WEBP, limits)
    times: list[float] = []
    decodes: list[float] = []
    encodes: list[float] = []
    sizes: list[int] = []
    for _ in range(repeats):
        for data, plan, operation, image in zip(photos, plans, operations, resized, strict=True):
            started = time.process_time()
            result = transform(data, SPEC, limits)
            times.append(time.process_time() - started)
            sizes.append(len(result.data))
            started = time.process_time()
            engine._open(operation, data, **engine._load_options(plan.jpeg_shrink)).copy_memory()
            decodes.append(time.process_time() - started)
            started = time.process_time()
            encode(image, WEBP_QUALITY)
            encodes.append(time.process_time() - started)
    return Measured(
        cpu_s=statistics.median(times),
        decode_s=statistics.median(decodes),
        encode_s=statistics.median(encodes),
        output_bytes=int(statistics.median(sizes)),
        images=len(times),
        shrinks=sorted({plan.jpeg_shrink for plan in plans}),
    )


def lambda_seconds_per_cpu_second(memory_mb: int, serial_share: float) -> float:
    """Lambda duration per second of CPU here when ``serial_share`` of it runs on one thread."""
    vcpus = memory_mb / LAMBDA_MB_PER_VCPU
    threads = max(1, math.ceil(vcpus))
    return serial_share / min(vcpus, 1.0) + (1.0 - serial_share) / min(vcpus, threads)


def goal_cpu_ms(memory_mb: int, arm_factor: float, s3_ms: float, serial_share: float) -> float:
    """The most CPU per image (ms, on this machine) whose compute cost meets ``GOAL_USD`` at ``memory_mb``."""
    model = CostModel(memory_mb=memory_mb)
    usd_per_ms = (memory_mb / 1024) * model.prices.lambda_gb_s(model.architecture) / 1000 * 1_000_000
    return (GOAL_USD / usd_per_ms - s3_ms) * arm_factor / lambda_seconds_per_cpu_second(memory_mb, serial_share)


def lambda_figures(
    cpu_s: float, serial_s: float, output_bytes: int, memory_mb: int, arm_factor: float, s3_ms: float
) -> dict[str, Any]:
    vcpus = memory_mb / LAMBDA_MB_PER_VCPU
    serial_share = min(1.0, serial_s / cpu_s)
    duration_ms = cpu_s * lambda_seconds_per_cpu_second(memory_mb, serial_share) / arm_factor * 1000
    model = CostModel(memory_mb=memory_mb)
    record = RequestRecord(outcome=Outcome.MISS, status=200, output_bytes=output_bytes)
    record.timings["total"] = duration_ms + s3_ms
    cost = per_million(model.estimate(record))
    transform_only = RequestRecord(outcome=Outcome.MISS, status=200, output_bytes=output_bytes)
    transform_only.timings["total"] = duration_ms
    return {
        "memory_mb": memory_mb,
        "vcpus": round(vcpus, 3),
        "transform_ms": duration_ms,
        "billed_ms": duration_ms + s3_ms,
        "compute_usd_per_million": cost.lambda_compute,
        "compute_transform_only_usd_per_million": per_million(model.estimate(transform_only)).lambda_compute,
        "request_fee_usd_per_million": cost.lambda_request,
        "s3_requests_usd_per_million": cost.s3_get + cost.s3_put,
        "egress_usd_per_million": cost.egress,
        "goal_met": cost.lambda_compute <= GOAL_USD,
        "goal_cpu_ms": goal_cpu_ms(memory_mb, arm_factor, s3_ms, serial_share),
    }


def render(figures: dict[str, Any]) -> str:
    floor = figures["floor"]
    lines = [
        f"Reference operation: 4 MP JPEG -> 800 px WebP (effort {figures['webp_effort']}); CPU here "
        f"{figures['cpu_ms']:.0f} ms per image (one thread, median of {figures['images']}), "
        f"{figures['output_bytes']:,} bytes out; arm64 at {figures['arm_factor']}x this machine's core (assumed), "
        f"S3 waits {figures['s3_ms']:.0f} ms (assumed); load average {figures['load_average']}.",
        f"Codec floor: decode at 1/{'/'.join(map(str, floor['shrinks']))} {floor['decode_ms']:.1f} ms + WebP encode "
        f"{floor['encode_ms']:.1f} ms = {floor['decode_ms'] + floor['encode_ms']:.1f} ms of CPU (each alone, in "
        f"memory, median); the rest of the transform (resize, pipeline, probe) "
        f"{figures['cpu_ms'] - floor['decode_ms'] - floor['encode_ms']:.1f} ms.",
        "",
        "| memory MB | vCPUs | transform ms | billed ms | compute $/M | (transform only) | codec floor $/M "
        "| CPU ms for $1.50 | request fee $/M | S3 requests $/M | egress $/M | compute <= $1.50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row, floor_row in zip(figures["memory"], floor["memory"], strict=True):
        lines.append(
            f"| {row['memory_mb']} | {row['vcpus']:.2f} | {row['transform_ms']:.0f} | {row['billed_ms']:.0f} "
            f"| {row['compute_usd_per_million']:.2f} | {row['compute_transform_only_usd_per_million']:.2f} "
            f"| {floor_row['compute_usd_per_million']:.2f} | {max(0.0, row['goal_cpu_ms']):.0f} "
            f"| {row['request_fee_usd_per_million']:.2f} | {row['s3_requests_usd_per_million']:.2f} "
            f"| {row['egress_usd_per_million']:.2f} | {'met' if row['goal_met'] else 'not met'} |"
        )
    return "\n".join(lines)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", default=f"1024,{STACK_MEMORY_MB}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arm-factor", type=float, default=1.0)
    parser.add_argument("--s3-ms", type=float, default=40.0)
    parser.add_argument("--webp-effort", type=int, default=Limits().webp_effort)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    limits = Limits(threads=1, webp_effort=args.webp_effort)
    measured = measure(args.repeats, limits)
    cpu_s, output_bytes, images = measured.cpu_s, measured.output_bytes, measured.images
    decode_s, encode_s, shrinks = measured.decode_s, measured.encode_s, measured.shrinks
    memory = [int(m) for m in args.memory.split(",")]
    figures = {
        "cpu_ms": cpu_s * 1000,
        "images": images,
        "output_bytes": output_bytes,
        "webp_effort": args.webp_effort,
        "arm_factor": args.arm_factor,
        "s3_ms": args.s3_ms,
        "load_average": load_average(),
        "memory": [
            lambda_figures(cpu_s, decode_s + encode_s, output_bytes, m, args.arm_factor, args.s3_ms) for m in memory
        ],
        "floor": {
            "decode_ms": decode_s * 1000,
            "encode_ms": encode_s * 1000,
            "shrinks": shrinks,
            "memory": [
                lambda_figures(decode_s + encode_s, decode_s + encode_s, output_bytes, m, args.arm_factor, args.s3_ms)
                for m in memory
            ],
        },
    }
    print(render(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
