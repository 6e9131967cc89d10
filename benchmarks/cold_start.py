"""Cold start of the transform Lambda's handler, from fresh processes against moto's S3.

Each run is a new Python process that imports ``functions/transform/handler.py`` (as the Lambda runtime
does at init) and then invokes it once with a Function URL event for a miss: a corpus photo (4 MP JPEG)
to 800 px WebP. Reported, as the median of ``--runs`` processes:

* interpreter start (``python -c pass``), for scale;
* the handler's import: wall time and CPU time (user + system, less sensitive to a busy machine);
* the first invocation (the first image), wall and CPU;
* process start to first image, as the parent measures it;
* which heavy modules the import loaded (a request that never needs them should not pay for them).

Usage: ``python benchmarks/cold_start.py [--runs 7] [--json out.json]``. Never used to assert anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
try:
    import vipsfront  # noqa: F401
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(ROOT / "shared"))

from vipsfront_bench import services  # noqa: E402

HANDLER_DIR = ROOT / "functions" / "transform"
CORPUS = ROOT.parent / "shared" / "corpus"  # ../shared/corpus from the repository
PHOTO = CORPUS / "photos" / "bythewater.jpg"
KEY, QUERY = "photos/bythewater.jpg", "w=800&fm=webp"
ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
WATCHED = (  # modules worth knowing about when the import loads them
    "fastapi",
    "fastapi.openapi.models",
    "boto3",
    "botocore",
    "s3transfer",
    "aws_xray_sdk.core",
    "pyvips",
    "vipsfront.engine.run",
    "vipsfront.web.app",
    "mangum",
    "vipsfront.web.demo",
)

CHILD = r"""
import json, resource, sys, time

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

wall, used = time.perf_counter(), cpu()
sys.path.insert(0, HANDLER_DIR)
import handler
imported_wall, imported_cpu = time.perf_counter() - wall, cpu() - used
loaded = [name for name in WATCHED if name in sys.modules]

class Context:
    function_name, function_version, memory_limit_in_mb = "vipsfront-transform", "$LATEST", 1024
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:vipsfront-transform"
    log_group_name, log_stream_name = "/aws/lambda/vipsfront-transform", "bench"
    def get_remaining_time_in_millis(self):
        return 30000

event = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/" + KEY, "rawQueryString": QUERY,
    "headers": {"accept": "image/webp,*/*", "host": "bench.lambda-url.us-east-1.on.aws"},
    "requestContext": {
        "http": {"method": "GET", "path": "/" + KEY, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7",
                 "userAgent": "bench"},
        "requestId": "bench", "routeKey": "$default", "stage": "$default", "accountId": "anonymous",
        "apiId": "bench", "domainName": "bench.lambda-url.us-east-1.on.aws", "domainPrefix": "bench",
        "timeEpoch": 0,
    },
    "isBase64Encoded": False,
}
wall, used = time.perf_counter(), cpu()
response = handler.handler(event, Context())
first_wall, first_cpu = time.perf_counter() - wall, cpu() - used
print("\n" + json.dumps({
    "import_s": imported_wall, "import_cpu_s": imported_cpu,
    "first_request_s": first_wall, "first_request_cpu_s": first_cpu,
    "status": response["statusCode"], "variant": response["headers"].get("x-vipsfront-variant"),
    "loaded_at_import": loaded,
}))
"""


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure(endpoint: str, runs: int) -> dict[str, Any]:
    """Median figures of ``runs`` fresh processes; the variant is deleted before each, so each is a miss."""
    env = services.clean_env(
        AWS_ENDPOINT_URL_S3=endpoint,
        AWS_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME="vipsfront-transform",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="vipsfront-bench",
        VIPSFRONT_ORIGINALS_BUCKET=ORIGINALS,
        VIPSFRONT_VARIANTS_BUCKET=VARIANTS,
    )
    code = f"HANDLER_DIR, KEY, QUERY, WATCHED = {str(HANDLER_DIR)!r}, {KEY!r}, {QUERY!r}, {WATCHED!r}\n" + CHILD
    from vipsfront.stores.s3 import s3_client

    client = s3_client(endpoint, "us-east-1")
    interpreter: list[float] = []
    rows: list[dict[str, Any]] = []
    spawn_to_image: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        interpreter.append(time.perf_counter() - started)
        for item in client.list_objects_v2(Bucket=VARIANTS).get("Contents", []):
            client.delete_object(Bucket=VARIANTS, Key=item["Key"])
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
        spawn_to_image.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"the handler failed: {done.stderr.strip()[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        if row["status"] != 200 or row["variant"] != "miss":
            raise RuntimeError(f"expected a 200 miss, got {row}")
        rows.append(row)
    return {
        "runs": runs,
        "request": f"/{KEY}?{QUERY} (a miss)",
        "interpreter_start_s": _median(interpreter),
        "handler_import_s": _median([r["import_s"] for r in rows]),
        "handler_import_cpu_s": _median([r["import_cpu_s"] for r in rows]),
        "first_request_s": _median([r["first_request_s"] for r in rows]),
        "first_request_cpu_s": _median([r["first_request_cpu_s"] for r in rows]),
        "spawn_to_first_image_s": _median(spawn_to_image),
        "loaded_at_import": rows[-1]["loaded_at_import"] if rows else [],
    }


def render(figures: dict[str, Any]) -> str:
    lines = [
        f"Cold start of functions/transform/handler.py, median of {figures['runs']} fresh processes, "
        f"first request {figures['request']}:",
        "",
        "| step | wall s | CPU s |",
        "|---|---|---|",
        f"| interpreter start (python -c pass) | {figures['interpreter_start_s']:.3f} | |",
        f"| import handler | {figures['handler_import_s']:.3f} | {figures['handler_import_cpu_s']:.3f} |",
        f"| first request (first image) | {figures['first_request_s']:.3f} | {figures['first_request_cpu_s']:.3f} |",
        f"| process start to first image | {figures['spawn_to_first_image_s']:.3f} | |",
        "",
        "Loaded by the import: " + (", ".join(figures["loaded_at_import"]) or "none of the watched modules"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if not PHOTO.exists():
        print(f"the corpus photo {PHOTO.name} is missing: ../shared/corpus is needed", file=sys.stderr)
        return 2
    with services.S3Server() as s3:
        client = s3.client()
        for bucket in (ORIGINALS, VARIANTS):
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=ORIGINALS, Key=KEY, Body=PHOTO.read_bytes(), ContentType="image/jpeg")
        figures = measure(s3.endpoint, args.runs)
    print(render(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
