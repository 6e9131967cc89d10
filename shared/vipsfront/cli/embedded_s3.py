"""S3 on this machine: moto's server on 127.0.0.1, its credentials, buckets and uploads.

Used by ``vipsfront serve`` (moto in-process), the benchmarks and the soak (moto in a process of its own,
``python -m vipsfront.cli.embedded_s3 PORT``, so its request handling stays off the caller's interpreter lock)
and the tests. moto is imported only when a server is started, so the Lambda never loads it.
"""

from __future__ import annotations

import logging
import mimetypes
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
LOCAL_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def endpoint(port: int) -> str:
    """The S3 endpoint URL of a server on ``port`` of 127.0.0.1."""
    return f"http://{HOST}:{port}"


def ensure_bucket(client: Any, bucket: str) -> None:
    """Create ``bucket`` unless it exists."""
    try:
        client.head_bucket(Bucket=bucket)
    except Exception:
        client.create_bucket(Bucket=bucket)


def upload(client: Any, bucket: str, files: Mapping[str, bytes]) -> None:
    """Put every ``{key: bytes}`` into ``bucket``, with the content type its extension implies."""
    for key, data in files.items():
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


def start_server(port: int = 0) -> Any:
    """moto's ``ThreadedMotoServer`` on 127.0.0.1, started in this process (``port`` 0: the OS picks one).

    The caller stops it with ``.stop()``; :func:`server_endpoint` gives its URL.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    return server


def server_endpoint(server: Any) -> str:
    """The S3 endpoint URL of a server :func:`start_server` started."""
    return endpoint(int(server.get_host_and_port()[1]))


class ServerProcess:
    """moto's S3 server in a child process; it stops when ``close()`` closes its standard input.

    ``env`` is the child's environment (default: this one).
    """

    def __init__(self, env: Mapping[str, str] | None = None, log: Path | None = None) -> None:
        self.port = free_port()
        self.endpoint = endpoint(self.port)
        self.log = log  # the server's own stderr (werkzeug's request errors), else this process's stderr
        self._log_file = open(log, "ab") if log is not None else None  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vipsfront.cli.embedded_s3", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=None if env is None else dict(env),
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            self.close()
            raise RuntimeError("moto's S3 server did not start")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m vipsfront.cli.embedded_s3 PORT``: serve until standard input closes; print ``ready``
    once listening."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m vipsfront.cli.embedded_s3 PORT", file=sys.stderr)
        return 2
    server = start_server(int(args[0]))
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
