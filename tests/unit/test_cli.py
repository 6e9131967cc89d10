"""``vipsfront sign`` and ``vipsfront url``: the URLs they print pass the edge's checks."""

from __future__ import annotations

import pytest

from vipsfront.cli import main
from vipsfront.edge import route
from vipsfront.policy import Policy, UnsignedPolicy

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
        (["url", "a.jpg", "--w", "0"], "w must be from 1 to 8192"),
        (["url", "a/../b.jpg", "--w", "10"], "segment"),
        (["sign", "a.jpg?w=10"], "no signing key"),
        (["sign", "a.jpg?zoom=2", "--secret", SECRET], "unknown parameter"),
    ],
)
def test_bad_input_is_a_message_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err
