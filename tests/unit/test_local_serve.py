"""How the commands find a running ``vipsfront serve``, and what they say without any S3."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vipsfront.cli import local_serve
from vipsfront.cli.local_serve import LocalServe
from vipsfront.config.settings import ConfigError
from vipsfront.errors import StorageError
from vipsfront.stores import s3
from vipsfront.stores.s3 import S3Store, s3_client


def serve_on(port: int, pid: int | None = None) -> LocalServe:
    return LocalServe(port, pid or os.getpid(), f"http://127.0.0.1:{port + 1}", "o", "v", {"AWS_ACCESS_KEY_ID": "x"})


def test_a_running_serve_is_found_and_a_dead_one_forgotten(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    assert local_serve.find(env) is None
    path = local_serve.write(serve_on(8080), env)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert local_serve.find(env) == serve_on(8080)
    assert local_serve.find(env).environment()["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:8081"  # type: ignore[union-attr]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = local_serve.write(serve_on(9090, int(dead.stdout)), env)
    assert local_serve.find(env) == serve_on(8080)
    assert not stale.exists()


def test_several_servers_need_a_port(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    local_serve.write(serve_on(8080), env)
    local_serve.write(serve_on(8090), env)
    with pytest.raises(ConfigError, match=r"several local vipsfront serve run \(ports 8080, 8090\): pass --serve-port"):
        local_serve.find(env)
    assert local_serve.find(env, 8090) == serve_on(8090)
    with pytest.raises(ConfigError, match=r"--serve-port 7000: no local vipsfront serve on that port"):
        local_serve.find(env, 7000)


def test_any_s3_variable_means_the_environment_is_used() -> None:
    assert not local_serve.configures_s3({"HOME": "/home/me"})
    assert local_serve.configures_s3({"AWS_PROFILE": "prod"})
    assert local_serve.configures_s3({"VIPSFRONT_ORIGINALS_BUCKET": "mine"})


def test_missing_credentials_are_named_not_unreachable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(s3, "_SESSION", None)  # botocore's session keeps the credentials it found first
    store = S3Store(s3_client("http://127.0.0.1:9", "us-east-1"), "o", "v")
    with pytest.raises(StorageError) as missing:
        store.get_original("a.jpg", 1000)
    assert missing.value.message == (
        "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
    assert missing.value.code == "storage_error"
