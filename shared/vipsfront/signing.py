"""URL signatures: HMAC-SHA256 over the path and the canonical spec, with key ids and expiry.

The string to sign is ``/{percent-encoded key}?{signing canonical}`` followed by ``&exp={unix}`` when the
URL expires. The signing canonical keeps ``fm=auto`` unresolved, so one signature covers every format
the edge may negotiate. A signature travels as ``s={kid}.{base64url digest}``: several keys can be
valid at once, which is how keys rotate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from vipsfront.errors import SignatureError
from vipsfront.grammar import KEY_ID
from vipsfront.keys import encode_key
from vipsfront.spec import Spec

MIN_SECRET_CHARS = 16


def check_key_id(kid: str) -> str:
    """``kid`` if it is a valid key id, else ``ValueError``."""
    if not KEY_ID.fullmatch(kid):
        raise ValueError(f"a signing key id must match {KEY_ID.pattern}, not {kid!r}")
    return kid


def parse_keys(text: str) -> dict[str, bytes]:
    """Parse ``kid:secret,kid2:secret2`` (the ``VIPSFRONT_SIGNING_KEYS`` form) into ``{kid: secret}``."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, sep, secret = item.partition(":")
        if not sep or not KEY_ID.fullmatch(kid) or len(secret) < MIN_SECRET_CHARS:
            raise ValueError(
                f"signing keys must be 'kid:secret' pairs: kid {KEY_ID.pattern}, "
                f"secret of {MIN_SECRET_CHARS}+ characters"
            )
        keys[kid] = secret.encode()
    return keys


def format_keys(keys: Mapping[str, bytes]) -> str:
    """The inverse of ``parse_keys``."""
    return ",".join(f"{kid}:{secret.decode()}" for kid, secret in keys.items())


def string_to_sign(key: str, spec: Spec, expires: int | None = None) -> str:
    message = f"/{encode_key(key)}?{spec.signing_canonical()}"
    return message if expires is None else f"{message}&exp={expires}"


def digest(secret: bytes, message: str) -> str:
    mac = hmac.new(secret, message.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign(key: str, spec: Spec, kid: str, secret: bytes, expires: int | None = None) -> str:
    """The ``s`` parameter's value for ``key`` transformed by ``spec``."""
    return f"{kid}.{digest(secret, string_to_sign(key, spec, expires))}"


def verify(
    key: str,
    spec: Spec,
    signature: str,
    keys: Mapping[str, bytes],
    *,
    expires: int | None,
    now: float,
) -> None:
    """Raise ``SignatureError`` unless ``signature`` is valid now; the comparison is constant-time."""
    kid, _, given = signature.partition(".")
    secret = keys.get(kid)
    if secret is None:
        raise SignatureError("unknown signing key", param="s")
    expected = digest(secret, string_to_sign(key, spec, expires))
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureError("signature does not match", param="s")
    if expires is not None and now > expires:
        raise SignatureError("signed URL has expired", param="exp")
