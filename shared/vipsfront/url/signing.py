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
from vipsfront.url.grammar import KEY_ID
from vipsfront.url.keys import encode_key
from vipsfront.url.spec import Spec

MIN_SECRET_CHARS = 16


def check_key_id(kid: str) -> str:
    """``kid`` if it is a valid key id, else ``ValueError``."""
    if not KEY_ID.fullmatch(kid):
        raise ValueError(f"a signing key id must match {KEY_ID.pattern}, not {kid!r}")
    return kid


def check_secret(secret: object) -> bytes:
    """A signing secret as bytes: ``str`` (UTF-8) or ``bytes`` of 16+ characters, else ``ValueError``.

    The one rule for secrets: the server's keys, ``vipsfront sign``/``url``, ``vipsfront.url.builders`` and the
    JavaScript signer (``clients/js/sign.mjs``) all apply it, with the same messages.
    """
    if isinstance(secret, str):
        data, length = secret.encode(), len(secret)
    elif isinstance(secret, (bytes, bytearray)):
        data, length = bytes(secret), len(secret)
    else:
        raise ValueError(f"a signing secret must be a string or bytes, not {type(secret).__name__}")
    if length < MIN_SECRET_CHARS:
        raise ValueError(f"a signing secret must have {MIN_SECRET_CHARS} or more characters (this one has {length})")
    return data


def parse_keys(text: str) -> dict[str, bytes]:
    """Parse ``kid:secret,kid2:secret2`` (the ``VIPSFRONT_SIGNING_KEYS`` form) into ``{kid: secret}``."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, sep, secret = item.partition(":")
        if not sep or not KEY_ID.fullmatch(kid):
            raise ValueError(
                f"signing keys must be 'kid:secret' pairs: kid {KEY_ID.pattern}, "
                f"secret of {MIN_SECRET_CHARS}+ characters"
            )
        try:
            keys[kid] = check_secret(secret)
        except ValueError as error:
            raise ValueError(f"key {kid!r}: {error}") from None
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


def sign(key: str, spec: Spec, kid: str, secret: str | bytes, expires: int | None = None) -> str:
    """The ``s`` parameter's value for ``key`` transformed by ``spec``; ``ValueError`` for a bad key id
    or secret (``check_secret``)."""
    return f"{check_key_id(kid)}.{digest(check_secret(secret), string_to_sign(key, spec, expires))}"


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
