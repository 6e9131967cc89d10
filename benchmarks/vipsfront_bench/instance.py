"""One instance of the transform Lambda, in a process of its own: ``functions/transform/handler.py``
loaded from its file as the Lambda runtime loads it at init, then invoked with Function URL events.

    python -m vipsfront_bench.instance serve HANDLER PORT   # HTTP on 127.0.0.1:PORT, one request at a time
    python -m vipsfront_bench.instance once HANDLER PATH QUERY   # import, one invocation, JSON figures

``serve`` turns each GET into the event a Function URL sends and the handler's answer back into HTTP, on
one thread: like a Lambda instance, it runs one request at a time. ``GET /_bench/instance`` answers, from
this front and not the handler, the handler's import time, libvips' threads and the process's peak RSS.
``once`` is the cold start: the handler's import and its first invocation, wall and CPU time, and which
heavy modules the import loaded. The settings come from the environment, as in Lambda.
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
from urllib.parse import urlsplit

WATCHED = (  # modules worth knowing about when the import loads them
    "fastapi",
    "starlette",
    "pydantic",
    "boto3",
    "botocore",
    "aws_xray_sdk.core",
    "pyvips",
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
    """A Function URL (payload 2.0) GET event."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "bench.lambda-url.us-east-1.on.aws", **headers},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7"},
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "accountId": "anonymous",
            "apiId": "bench",
            "domainName": "bench.lambda-url.us-east-1.on.aws",
            "domainPrefix": "bench",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }


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
    response = handler.handler(event(path, query, {"accept": "image/webp,*/*"}), Context())
    return {
        "import_s": import_s,
        "import_cpu_s": import_cpu_s,
        "first_request_s": time.perf_counter() - wall,
        "first_request_cpu_s": cpu_s() - cpu,
        "status": response["statusCode"],
        "variant": response.get("headers", {}).get("x-vipsfront-variant"),
        "loaded_at_import": loaded,
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
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = handler.handler(event(url.path, url.query, headers), Context())
            body = response.get("body") or ""
            data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
            self.answer(response["statusCode"], response.get("headers") or {}, data)

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
        print("\n" + json.dumps(figures))  # the last line: Powertools prints its metrics before it
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
