"""``vipsfront sign`` and ``vipsfront url``: the URLs they print pass the edge's checks."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vipsfront.cli.main import main
from vipsfront.config.settings import ConfigError
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.route import route

SECRET = "0123456789abcdef-cli"
POLICY = Policy.create(keys={"k2": SECRET.encode()}, unsigned=UnsignedPolicy(widths=()))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_sign_prints_a_url_the_edge_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sign", "photos/cat.jpg?h=100&w=500&fm=auto", "--key-id", "k2", "--secret", SECRET)
    assert code == 0
    assert out.startswith("/photos/cat.jpg?w=500&h=100&fm=auto&s=k2.")
    path, _, query = out.partition("?")
    assert route(path, query, "image/webp", POLICY, now=0).spec.canonical() == "w=500,h=100,fm=auto-webp"


def test_sign_with_keys_from_the_environment_and_expiry(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIPSFRONT_SIGNING_KEYS", f"k2:{SECRET}")
    code, out, _ = run(capsys, "sign", "/a.jpg?w=10", "--expires-in", "60", "--base", "https://cdn.example.com")
    assert code == 0 and out.startswith("https://cdn.example.com/a.jpg?w=10&exp=")
    path, _, query = out.removeprefix("https://cdn.example.com").partition("?")
    routed = route(path, query, None, POLICY, now=0)
    assert routed.expires is not None


def test_url_builds_the_canonical_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "url", "photos/a b.jpg", "--w", "300", "--dpr", "2", "--fm", "jpg")
    assert (code, out) == (0, "/photos/a%20b.jpg?w=600&fm=jpeg")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["url", "a.jpg", "--w", "0"], "w must be a whole number from 1 to 8192"),
        (["url", "a/../b.jpg", "--w", "10"], "segment"),
        (["sign", "a.jpg?w=10"], "no signing key"),
        (["sign", "a.jpg?zoom=2", "--secret", SECRET], "unknown parameter"),
    ],
)
def test_bad_input_is_a_message_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------------
# Errors a new user meets: one secret rule, a busy port, non-images in --seed, --version, help


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (("sign", "a.jpg?w=300", "--secret", "short"), {}, "--secret: a signing secret must have 16 or more"),
        (("url", "a.jpg", "--w", "300", "--sign"), {"VIPSFRONT_SIGNING_KEYS": "k1:short"}, "VIPSFRONT_SIGNING_KEYS"),
        (("sign", "a.jpg?w=300", "--secret", SECRET, "--key-id", "bad id"), {}, "--key-id"),
    ],
)
def test_bad_secrets_are_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], env: dict, says: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run(capsys, *argv)
    assert code == 2 and not out
    assert err.startswith("vipsfront: error: ") and says in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_one_secret_rule_for_the_library() -> None:
    from vipsfront.url.builders import url
    from vipsfront.url.signing import check_secret, parse_keys

    assert url("a.jpg", {"w": 300}, signing_key=("k2", SECRET)) == url(
        "a.jpg", {"w": 300}, signing_key=("k2", SECRET.encode())
    )
    for bad, says in ((b"short", "16 or more characters (this one has 5)"), (1234, "a string or bytes, not int")):
        with pytest.raises(ValueError, match=r"a signing secret must") as caught:
            url("a.jpg", {"w": 300}, signing_key=("k1", bad))  # type: ignore[arg-type]
        assert says in str(caught.value)
        with pytest.raises(ValueError, match=re.escape(says)):
            check_secret(bad)
    with pytest.raises(ValueError, match="key 'k1': a signing secret must have 16"):
        parse_keys("k1:short")


def test_serve_on_a_busy_port_says_so_before_printing_urls(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run(capsys, "serve", "--port", str(port))
    assert code == 2 and out == ""
    assert err == f"vipsfront: error: port {port} on 127.0.0.1 is in use: stop what holds it or pass --port"


def test_seed_skips_non_images_with_a_note(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import pyvips

    from vipsfront.cli.main import seed_files

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(pyvips.Image.black(4, 4).pngsave_buffer())
    (tmp_path / "notes.txt").write_text("not an image")
    assert list(seed_files(tmp_path)) == ["photos/a.png"]
    assert "skipped 1 files that are not images: notes.txt" in capsys.readouterr().err
    (tmp_path / "photos" / "a.png").unlink()
    with pytest.raises(ConfigError, match="holds no images"):
        seed_files(tmp_path)


def test_version_and_help_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    from vipsfront import __version__
    from vipsfront.cli.main import parser

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"vipsfront {__version__}"
    top = parser()
    for sub in top._subparsers._group_actions[0].choices.values():  # type: ignore[union-attr]
        for action in sub._actions:
            if action.dest in ("help", "bench_args"):
                continue
            assert action.help, (sub.prog, action.dest)
    serve_help = " ".join(top._subparsers._group_actions[0].choices["serve"].format_help().split())  # type: ignore[union-attr]
    assert "(default: 8080)" in serve_help and "(default: 127.0.0.1)" in serve_help
    with pytest.raises(SystemExit) as done:
        main(["serve", "--port", "-1"])
    assert done.value.code == 2
    assert "a port is a whole number from 0 to 65535" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# The first hour: no abbreviations, presets in url, key ids that exist, watch intervals, a busy S3 port


def test_options_are_never_abbreviated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["url", "a.jpg", "--po", "top"])
    assert done.value.code == 2
    assert "unrecognized arguments: --po" in capsys.readouterr().err


def test_url_expands_a_preset_under_the_options(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIPSFRONT_PRESETS", '{"thumb": {"w": "200", "h": "200", "fm": "webp"}}')
    code, out, _ = run(capsys, "url", "a.jpg", "--p", "thumb", "--h", "100")
    assert (code, out) == (0, "/a.jpg?w=200&h=100&fm=webp")
    code, out, err = run(capsys, "url", "a.jpg", "--p", "hero")
    assert (code, out) == (2, "")
    assert "unknown preset" in err


def test_sign_refuses_a_key_id_it_does_not_have(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIPSFRONT_SIGNING_KEYS", f"k1:{SECRET},k2:{SECRET}-2")
    code, out, err = run(capsys, "sign", "a.jpg?w=10", "--key-id", "k9")
    assert (code, out) == (2, "")
    assert err == "vipsfront: error: --key-id k9: VIPSFRONT_SIGNING_KEYS has no such key; its ids: k1, k2"
    code, out, _ = run(capsys, "sign", "a.jpg?w=10", "--key-id", "k2")
    assert code == 0 and "&s=k2." in out
    code, out, _ = run(capsys, "sign", "a.jpg?w=10")
    assert code == 0 and "&s=k1." in out


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_a_watch_interval_below_zero_is_an_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--watch", value])
    assert done.value.code == 2
    assert f"--watch: must be 0 (off) or a number of seconds, not {value!r}" in capsys.readouterr().err


def test_serve_on_a_busy_s3_port_exits_at_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as busy, socket.socket() as free:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        free.bind(("127.0.0.1", 0))
        port, web_port = busy.getsockname()[1], free.getsockname()[1]
        free.close()
        code, out, err = run(capsys, "serve", "--port", str(web_port), "--s3-port", str(port))
    assert code == 2 and out == ""
    assert err == f"vipsfront: error: port {port} on 127.0.0.1 is in use: stop what holds it or pass --s3-port"


def test_bench_help_without_the_bench_extra_is_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from vipsfront.cli.main import BENCH_MISSING

    monkeypatch.setitem(sys.modules, "vipsfront_bench.cli", None)  # as without the bench extra installed
    code, out, err = run(capsys, "bench", "--help")
    assert code == 0 and err == ""
    assert out.startswith("usage: vipsfront bench") and "pip install -e '.[bench]'" in out
    code, out, err = run(capsys, "bench", "--quick")
    assert code == 2 and out == ""
    assert err == f"vipsfront: error: {BENCH_MISSING}"
