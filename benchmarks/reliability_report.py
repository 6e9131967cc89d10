"""Measure what the README's Reliability section reports and print it as Markdown.

    python benchmarks/reliability_report.py [--soak-seconds 30] [--clients 4]

Hostile originals (the catalogue of ``tests/integration/hostile_images.py``) through the app on moto, in
this process: status, time, peak RSS of the process (``ru_maxrss``, monotonic, so each row is the peak so
far) and what was stored. S3 faults and deadlines through the app on moto's server (127.0.0.1), with
failures injected as in ``tests/integration/test_s3_faults.py``. Then the short soak of
``benchmarks/soak.py``. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "benchmarks"))
for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
    os.environ.setdefault(name, value)
for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
    os.environ.pop(name, None)

import hostile_images  # noqa: E402
import soak  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from vipsfront.web.app import create_app  # noqa: E402
from vipsfront.config.settings import Settings  # noqa: E402
from vipsfront.engine.run import Limits  # noqa: E402
from vipsfront.cli.embedded_s3 import free_port  # noqa: E402
from vipsfront.stores.s3 import S3Store, s3_client  # noqa: E402


def hostile_rows() -> tuple[float, list[str]]:
    from moto import mock_aws

    listener = hostile_images.Listener()
    with tempfile.TemporaryDirectory() as tmp, mock_aws():
        secret = Path(tmp) / "secret.txt"
        secret.write_text("TOPSECRET " * 20)
        s3 = s3_client(region="us-east-1")
        for bucket in (hostile_images.ORIGINALS, hostile_images.VARIANTS):
            s3.create_bucket(Bucket=bucket)
        store = S3Store(s3, hostile_images.ORIGINALS, hostile_images.VARIANTS)

        def make(allow_svg: bool) -> TestClient:
            return TestClient(create_app(Settings(limits=Limits(allow_svg=allow_svg)), store))

        warm, outcomes = hostile_images.run_cases(s3, make, list(hostile_images.cases(listener.url, str(secret))))
    fetched = len(listener.paths)
    listener.close()
    rows = []
    for o in outcomes:
        stored = "none" if not o.stored else "clean variant"
        flags = "" if o.original_intact and o.next_ok else " (original changed or next request failed!)"
        code = f" {o.code}" if o.code else ""
        rows.append(f"| {o.name} | {o.status}{code} | {o.ms:.0f} ms | {o.peak_rss_mb:.0f} MB | {stored}{flags} |")
    rows.append(f"| (SVG listener on 127.0.0.1: requests received) | {fetched} | | | |")
    return warm, rows


def fault_rows() -> list[str]:
    import test_s3_faults as faults
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    rows = []
    try:
        world = faults.World(f"http://127.0.0.1:{port}")

        def measure(label: str, key: str, url: str, budget: float, stored_prefix: str | None = None) -> None:
            started = time.monotonic()
            response = world.app(request_budget_s=budget).get(url)
            took = (time.monotonic() - started) * 1000
            code = response.json().get("code") if response.status_code >= 400 else ""
            sends = sum(world.injector.sends.values())
            world.injector.reset()
            time.sleep(0.3)
            stored = "none" if not world.variants(stored_prefix or key) else "whole variant"
            cache = response.headers.get("cache-control", "")
            rows.append(
                f"| {label} | {response.status_code} {code} | {took:.0f} ms (budget {budget:g} s) |"
                f" {cache} | {sends} | {stored} |"
            )

        for fault in faults.FAULTS:
            for where, operations in faults.OPERATIONS.items():
                key = f"r/{where.replace(' ', '-')}/{fault.replace(' ', '-')}.jpg"
                world.put(key, faults.jpeg())
                world.injector.fail(operations, faults.FAULTS[fault])
                measure(f"{fault}, every {where} call", key, f"/{key}?w=100", 1.5)
                measure("... then S3 healthy again (same app)", key, f"/{key}?w=100", 1.5)
        world.put("r/transient.jpg", faults.jpeg())
        world.injector.fail(("GetObject",), faults.FAULTS["SlowDown 503"], times=2)
        measure("SlowDown twice, then healthy", "r/transient.jpg", "/r/transient.jpg?w=100", 25)
        world.put("r/bounded.jpg", faults.jpeg())
        world.injector.fail(("GetObject",), faults.FAULTS["SlowDown 503"])
        measure("SlowDown on every call, 25 s budget", "r/bounded.jpg", "/r/bounded.jpg?w=100", 25)
        world.put("r/slow.jpg", faults.jpeg())
        world.injector.delay_s = 0.4
        measure("every S3 call takes 400 ms", "r/slow.jpg", "/r/slow.jpg?w=100", 1.0)
        big = faults.jpeg(400, 300)
        world.put("r/avif.jpg", big)
        measure("AVIF 4000x3000 output, 0.5 s budget", "r/avif.jpg", "/r/avif.jpg?w=4000&enlarge=1&fm=avif", 0.5)
        measure("AVIF 2000x1500 output, 1.5 s budget", "r/avif.jpg", "/r/avif.jpg?w=2000&enlarge=1&fm=avif", 1.5)
    finally:
        moto.stop()

    # S3 stopped and restarted mid-run, and a hung S3 (accepts, never answers).
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    world = faults.World(f"http://127.0.0.1:{port}")
    world.put("r/restart.jpg", faults.jpeg())
    world.app().get("/r/restart.jpg?w=100")
    moto.stop()
    started = time.monotonic()
    down = world.app(request_budget_s=1.5).get("/r/restart.jpg?w=101")
    rows.append(
        f"| S3 server stopped | {down.status_code} {down.json()['code']} | "
        f"{(time.monotonic() - started) * 1000:.0f} ms (budget 1.5 s) | {down.headers['cache-control']} | | none |"
    )
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        back = world.app().get("/r/restart.jpg?w=101")
        hit = world.app().get("/r/restart.jpg?w=100")
        rows.append(
            f"| ... S3 restarted (same client, no restart of the app) | {back.status_code} miss, earlier variant"
            f" {hit.headers.get('x-vipsfront-variant')} | | | | whole variant |"
        )
    finally:
        moto.stop()
    import socket

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    try:
        store = S3Store(s3_client(f"http://127.0.0.1:{hung.getsockname()[1]}", "us-east-1"), "o", "v")
        started = time.monotonic()
        response = TestClient(create_app(Settings(request_budget_s=1.5), store)).get("/x.jpg?w=100")
        rows.append(
            f"| hung S3 (TCP accepted, never answered) | {response.status_code} {response.json()['code']} |"
            f" {(time.monotonic() - started) * 1000:.0f} ms (budget 1.5 s) | {response.headers['cache-control']} |"
            " | none |"
        )
    finally:
        hung.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description="Print the README's reliability figures as Markdown.")
    parser.add_argument("--soak-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    warm, hostile = hostile_rows()
    print(f"### Hostile originals (app on moto; process peak RSS after warm-up: {warm:.0f} MB)\n")
    print("| input | status | time | peak RSS so far | stored |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(hostile))
    print("\n### S3 faults and deadlines (app on moto's server, 127.0.0.1)\n")
    print("| fault | status | time | cache-control | S3 attempts seen | stored |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(fault_rows()))
    print(f"\n### Load: `vipsfront serve`, {args.soak_seconds:g} s, {args.clients} clients\n")
    summary: dict[str, Any] = soak.soak(args.soak_seconds, args.clients)
    print(soak.markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
