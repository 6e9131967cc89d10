from __future__ import annotations

from vipsfront.url.builders import srcset, url
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.route import route

SECRET = b"0123456789abcdef-secret"


def test_url_is_canonical() -> None:
    assert url("photos/a b.jpg", {"h": 100, "w": 200, "fit": "cover"}) == "/photos/a%20b.jpg?w=200&h=100"
    assert url("a.jpg", base="https://cdn.example.com/") == "https://cdn.example.com/a.jpg"


def test_signed_url_passes_the_edge() -> None:
    policy = Policy.create(keys={"k1": SECRET}, unsigned=UnsignedPolicy(widths=()))
    signed = url("photos/é.jpg", {"w": 333, "fm": "auto"}, signing_key=("k1", SECRET), expires=2000)
    path, _, query = signed.partition("?")
    routed = route(path, query, "image/webp", policy, now=1000)
    assert routed.spec.canonical() == "w=333,fm=auto-webp"
    assert routed.expires == 2000


def test_srcset() -> None:
    assert srcset("a.jpg", [320, 640], {"fm": "auto"}) == "/a.jpg?w=320&fm=auto 320w, /a.jpg?w=640&fm=auto 640w"
