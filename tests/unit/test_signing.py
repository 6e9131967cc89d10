"""Signatures and the unsigned policy, checked against an independent HMAC computation."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from vipsfront.errors import SignatureError
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.query import parse_query
from vipsfront.url.signing import parse_keys, sign, string_to_sign, verify
from vipsfront.url.spec import Spec

SECRET = b"a-secret-of-some-length"


def test_signature_is_hmac_sha256_of_path_and_canonical_spec() -> None:
    spec = parse_query("h=100&w=200&fm=auto", accept="image/avif").spec
    message = "/photos/caf%C3%A9.jpg?w=200,h=100,fm=auto&exp=123"
    assert string_to_sign("photos/café.jpg", spec, 123) == message
    mac = hmac.new(SECRET, message.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert sign("photos/café.jpg", spec, "k1", SECRET, 123) == f"k1.{expected}"


def test_verify_accepts_any_configured_key_and_refuses_others() -> None:
    spec = Spec(w=300)
    keys = {"old": b"old-secret-0123456789", "new": b"new-secret-0123456789"}
    for kid, secret in keys.items():
        verify("a.jpg", spec, sign("a.jpg", spec, kid, secret), keys, expires=None, now=0)
    with pytest.raises(SignatureError, match="unknown"):
        verify("a.jpg", spec, sign("a.jpg", spec, "gone", b"x" * 20), keys, expires=None, now=0)
    with pytest.raises(SignatureError, match="does not match"):
        verify("b.jpg", spec, sign("a.jpg", spec, "new", keys["new"]), keys, expires=None, now=0)


def test_expiry_is_signed_and_enforced() -> None:
    spec, keys = Spec(w=300), {"k": SECRET}
    signature = sign("a.jpg", spec, "k", SECRET, expires=1000)
    verify("a.jpg", spec, signature, keys, expires=1000, now=999)
    with pytest.raises(SignatureError) as caught:
        verify("a.jpg", spec, signature, keys, expires=1000, now=1001)
    assert caught.value.param == "exp"
    with pytest.raises(SignatureError):
        verify("a.jpg", spec, signature, keys, expires=2000, now=999)


def test_parse_keys() -> None:
    assert parse_keys("a:0123456789abcdef, b:fedcba9876543210") == {
        "a": b"0123456789abcdef",
        "b": b"fedcba9876543210",
    }
    assert parse_keys("") == {}
    for bad in ("nocolon", "a:short", "bad id:0123456789abcdef"):
        with pytest.raises(ValueError):
            parse_keys(bad)


def test_without_keys_everything_is_allowed() -> None:
    Policy.create().authorize("a.jpg", Spec(w=8192, h=8192), signature=None, expires=None, now=0)


def test_unsigned_policy() -> None:
    policy = Policy.create(
        keys={"k": SECRET},
        unsigned=UnsignedPolicy(widths=(320, 640), heights=(), max_side=500),
        presets={"thumb": {"w": "100", "h": "100"}},
    )
    policy.authorize("a.jpg", Spec(w=320), signature=None, expires=None, now=0)
    policy.authorize("a.jpg", Spec(w=100, h=100), signature=None, expires=None, now=0)  # the preset
    policy.authorize("a.jpg", Spec(), signature=None, expires=None, now=0)  # the original
    for spec in (Spec(w=321), Spec(w=320, h=100), Spec(w=640), Spec(h=320)):
        with pytest.raises(SignatureError):
            policy.authorize("a.jpg", spec, signature=None, expires=None, now=0)
    signed = sign("a.jpg", Spec(w=641), "k", SECRET)
    policy.authorize("a.jpg", Spec(w=641), signature=signed, expires=None, now=0)


def test_presets_only() -> None:
    policy = Policy.create(keys={"k": SECRET}, unsigned=UnsignedPolicy(presets_only=True), presets={"t": {"w": "100"}})
    policy.authorize("a.jpg", Spec(w=100), signature=None, expires=None, now=0)
    with pytest.raises(SignatureError):
        policy.authorize("a.jpg", Spec(w=101), signature=None, expires=None, now=0)
