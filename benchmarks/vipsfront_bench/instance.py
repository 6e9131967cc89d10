"""One instance of the transform Lambda, in a process of its own: ``functions/transform/handler.py``
loaded from its file as the Lambda runtime loads it at init, then invoked with Function URL events.

    python -m vipsfront_bench.instance serve HANDLER PORT   # HTTP on 127.0.0.1:PORT, one request at a time
    python -m vipsfront_bench.instance once HANDLER PATH QUERY   # import, one invocation, JSON figures

The standard library only, so that it also runs as a file beside the built Lambda asset alone
(``python3.12 -S -P instance.py ...`` with the asset and the runtime's boto3 on ``PYTHONPATH``).

``serve`` turns each GET into the event a Function URL sends and the handler's answer back into HTTP, on
one thread: like a Lambda instance, it runs one request at a time. Each answer carries the handler call's
wall time in ``x-bench-handler-ms`` (what Lambda bills). ``GET /_bench/instance`` answers, from this front
and not the handler, the handler's import time, libvips' threads and the process's peak RSS.
``once`` is the cold start: the handler's import and its first invocation, wall and CPU time, and which
heavy modules the import loaded, printed as one ``BENCH {json}`` line. The settings come from the
environment, as in Lambda.

The event is the Function URL request payload 2.0 (Lambda's "Invoking Lambda function URLs" page) as
CloudFront sends it through an origin access control (CloudFront's "Restrict access to an AWS Lambda
function URL origin" page): a SigV4-signed GET, so an IAM authorizer block; CloudFront's own headers (its
user agent, ``via``, ``x-amz-cf-id``, ``x-forwarded-*``); no body, no cookies and no query string, which
the stack's origin request policy does not forward.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import resource
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

WATCHED = (  # modules worth knowing about when the import loads them
    "fastapi",
    "starlette",
    "pydantic",
    "boto3",
    "botocore",
    "aws_xray_sdk.core",
    "pyvips",
    "numpy",
    "onnxruntime",
    "mangum",
    "vipsfront.engine.run",
    "vipsfront.web.app",
)


class Context:
    """The parts of Lambda's context object the handler and Powertools read."""

    function_name = "vipsfront-transform"
    function_version = "$LATEST"
    memory_limit_in_mb = 1769
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:vipsfront-transform"
    log_group_name = "/aws/lambda/vipsfront-transform"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def event(path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
    """A Function URL (payload 2.0) GET event as CloudFront sends it with an origin access control."""
    domain = "bench0123456789abcdef.lambda-url.us-east-1.on.aws"
    received = {
        "host": domain,
        "user-agent": "Amazon CloudFront",
        "via": "2.0 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)",
        "x-amz-cf-id": "Zr5jzn0bA6h8Qa1wkQK4Xk8w5jWAB1vXh0M2Ygq0NkzqX2Y8Z3E5Ag==",
        "x-amzn-trace-id": "Root=1-5f84c7a9-0e5b1e1f7e7f9f1d6e0f5c2a",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **headers,
    }
    shape: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": received,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench0123456789abcdef",
            "authentication": None,
            "authorizer": {
                "iam": {
                    "accessKey": "ASIA0000000000000000",
                    "accountId": "123456789012",
                    "callerId": "AROA0000000000000000:cloudfront",
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": "arn:aws:sts::123456789012:assumed-role/cloudfront/cloudfront",
                    "userId": "AROA0000000000000000:cloudfront",
                }
            },
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "Amazon CloudFront",
            },
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": False,
    }
    if query:
        shape["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    return shape


def load(path: str) -> ModuleType:
    """The handler module from its file, as the runtime's init imports it."""
    spec = importlib.util.spec_from_file_location("handler", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no handler module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def libvips_threads() -> int | None:
    pyvips = sys.modules.get("pyvips")
    return int(pyvips.concurrency_get()) if pyvips else None


def once(handler_path: str, path: str, query: str) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), cpu_s()
    handler = load(handler_path)
    import_s, import_cpu_s = time.perf_counter() - wall, cpu_s() - cpu
    loaded = [name for name in WATCHED if name in sys.modules]
    wall, cpu = time.perf_counter(), cpu_s()
    response = handler.handler(event(path, query, {}), Context())
    loaded_later = [name for name in WATCHED if name in sys.modules and name not in loaded]
    return {
        "import_s": import_s,
        "import_cpu_s": import_cpu_s,
        "first_request_s": time.perf_counter() - wall,
        "first_request_cpu_s": cpu_s() - cpu,
        "status": response["statusCode"],
        "variant": response.get("headers", {}).get("x-vipsfront-variant"),
        "loaded_at_import": loaded,
        "loaded_by_first_request": loaded_later,
        "peak_rss_mb": peak_rss_mb(),
    }


def serve(handler_path: str, port: int) -> None:
    started = time.perf_counter()
    handler = load(handler_path)
    import_s = time.perf_counter() - started

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as CloudFront holds connections to the origin
        disable_nagle_algorithm = True  # the headers and the body go out at once, not 40 ms apart

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            if url.path == "/_bench/instance":
                figures = {"import_s": import_s, "libvips_threads": libvips_threads(), "peak_rss_mb": peak_rss_mb()}
                self.answer(200, {"content-type": "application/json"}, json.dumps(figures).encode())
                return
            headers = {name.lower(): value for name, value in self.headers.items() if name.lower() != "host"}
            call = event(url.path, url.query, headers)
            started = time.perf_counter()
            response = handler.handler(call, Context())
            handler_ms = (time.perf_counter() - started) * 1000
            body = response.get("body") or ""
            data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
            answer = {**(response.get("headers") or {}), "x-bench-handler-ms": f"{handler_ms:.3f}"}
            self.answer(response["statusCode"], answer, data)

        def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            pass

    HTTPServer(("127.0.0.1", port), Front).serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "serve":
        serve(argv[2], int(argv[3]))
        return 0
    if len(argv) == 5 and argv[1] == "once":
        figures = once(argv[2], argv[3], argv[4])
        print("\nBENCH " + json.dumps(figures), flush=True)  # Powertools prints its metrics on stdout too
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
