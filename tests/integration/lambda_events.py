"""Lambda Function URL events (payload format 2.0), a stand-in ``LambdaContext``, and the handler loader.

The events have the shape a Function URL delivers when CloudFront (with origin access control) is the
caller: path and query still percent-encoded, lower-case headers, ``requestContext.http`` set.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AWS_FIXTURES = ROOT / "tests" / "fixtures" / "aws"
HANDLER_PATH = ROOT / "functions" / "transform" / "handler.py"

FUNCTION_NAME = "vipsfront-transform"
ACCOUNT = "123456789012"
REGION = "us-east-1"
URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def aws_fixture(name: str) -> dict[str, Any]:
    """One of AWS's documented events (``tests/fixtures/aws/<name>.json``, its page in the folder's README)."""
    document: dict[str, Any] = json.loads((AWS_FIXTURES / f"{name}.json").read_text())
    return document


def function_url_event(
    raw_path: str,
    raw_query: str = "",
    *,
    method: str = "GET",
    accept: str = BROWSER_ACCEPT,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A ``GET`` (or ``HEAD``) as a Function URL hands it to the function; ``raw_path`` percent-encoded."""
    domain = f"{URL_ID}.lambda-url.{REGION}.on.aws"
    now = time.time()
    all_headers = {
        "accept": accept,
        "accept-encoding": "gzip",
        "host": domain,
        "user-agent": "Amazon CloudFront",
        "via": "2.0 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)",
        "x-amz-cf-id": "Zr5jzn0bA6h8Qa1wkQK4Xk8w5jWAB1vXh0M2Ygq0NkzqX2Y8Z3E5Ag==",
        "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **(headers or {}),
    }
    query_parameters: dict[str, str] = {}
    for piece in filter(None, raw_query.split("&")):
        name, _, value = piece.partition("=")
        query_parameters[name] = f"{query_parameters[name]},{value}" if name in query_parameters else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": domain,
            "domainPrefix": URL_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "Amazon CloudFront",
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if query_parameters:
        event["queryStringParameters"] = query_parameters
    return event


@dataclass
class FakeLambdaContext:
    """What the runtime passes as ``context``; the remaining time counts down from construction."""

    function_name: str = FUNCTION_NAME
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 2048
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_ms: int = 30_000
    log_group_name: str = f"/aws/lambda/{FUNCTION_NAME}"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.timeout_ms - (time.monotonic() - self.started) * 1000))


def body_bytes(response: dict[str, Any]) -> bytes:
    """The response body as bytes, decoding base64 when the response says so."""
    body = response.get("body", "")
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every JSON object printed one per line (Powertools logs and EMF documents)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def emf_documents(text: str, namespace: str = "Vipsfront") -> list[dict[str, Any]]:
    """The CloudWatch EMF documents of ``namespace`` in captured stdout."""
    return [
        doc
        for doc in json_lines(text)
        if any(d.get("Namespace") == namespace for d in doc.get("_aws", {}).get("CloudWatchMetrics", []))
    ]


def load_handler(name: str = "vipsfront_transform_handler") -> ModuleType:
    """Import ``functions/transform/handler.py`` afresh (it builds the app and S3 client at import)."""
    sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, HANDLER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
