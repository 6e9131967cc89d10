"""The running ``vipsfront serve``, as the other commands find it: one state file per port.

``serve`` on the embedded S3 writes ``serve-{port}.json`` (its S3 endpoint, the two buckets and the
embedded S3's dummy credentials) in a folder of the user's own, ``$XDG_RUNTIME_DIR/vipsfront`` or else
``{temp dir}/vipsfront-{uid}``, and removes it when it stops (Ctrl-C, SIGTERM). ``purge``, ``backfill``
and ``originals`` read it when no S3 is configured, so they act on what that server serves. A file whose
server is no longer running (killed) is ignored and removed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vipsfront.config.settings import ConfigError

# What configures an S3 of its own: with any of these set, the commands use it, not a local serve.
S3_VARIABLES = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "VIPSFRONT_ORIGINALS_BUCKET",
    "VIPSFRONT_VARIANTS_BUCKET",
)


@dataclass(frozen=True, slots=True)
class LocalServe:
    """A ``vipsfront serve`` on this machine and the embedded S3 it serves from."""

    port: int
    pid: int
    endpoint: str
    originals: str
    variants: str
    credentials: Mapping[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The variables that point botocore and the settings at this server's S3."""
        return {
            **self.credentials,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "VIPSFRONT_ORIGINALS_BUCKET": self.originals,
            "VIPSFRONT_VARIANTS_BUCKET": self.variants,
        }


def configures_s3(env: Mapping[str, str]) -> bool:
    """True when the environment names an S3 (endpoint, credentials or buckets) for the commands to use."""
    return any(env.get(name) for name in S3_VARIABLES)


def state_dir(env: Mapping[str, str]) -> Path:
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "vipsfront"
    return Path(tempfile.gettempdir()) / f"vipsfront-{os.getuid()}"


def state_file(env: Mapping[str, str], port: int) -> Path:
    return state_dir(env) / f"serve-{port}.json"


def write(serve: LocalServe, env: Mapping[str, str]) -> Path:
    """Write ``serve``'s state file, readable by this user only; its path (the caller removes it)."""
    folder = state_dir(env)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = state_file(env, serve.port)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(serve) | {"credentials": dict(serve.credentials)}), encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)  # whole or not at all: a reader never sees half a file
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(env: Mapping[str, str]) -> list[LocalServe]:
    """The servers whose state files name a live process, by port; stale files are removed."""
    found: list[LocalServe] = []
    folder = state_dir(env)
    for path in sorted(folder.glob("serve-*.json")) if folder.is_dir() else ():
        try:
            serve = LocalServe(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue  # being written, or not ours
        if _alive(serve.pid):
            found.append(serve)
        else:
            path.unlink(missing_ok=True)
    return sorted(found, key=lambda serve: serve.port)


def find(env: Mapping[str, str], port: int | None = None) -> LocalServe | None:
    """The local serve to act on: the one running, or the one on ``port``; ``None`` when none runs.

    ``ConfigError`` when ``port`` names none, or several run and no ``port`` says which."""
    servers = running(env)
    if port is not None:
        chosen = [serve for serve in servers if serve.port == port]
        if not chosen:
            ports = ", ".join(str(serve.port) for serve in servers) or "none"
            raise ConfigError(f"--serve-port {port}: no local vipsfront serve on that port (running: {ports})")
        return chosen[0]
    if len(servers) > 1:
        ports = ", ".join(str(serve.port) for serve in servers)
        raise ConfigError(f"several local vipsfront serve run (ports {ports}): pass --serve-port")
    return servers[0] if servers else None
