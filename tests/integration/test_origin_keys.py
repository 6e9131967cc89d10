"""The URI the edge writes for a key (``vipsfront.url.keys.origin_key``), as the two origins behind it see it.

* The Lambda Function URL, behind origin access control: CloudFront signs the request with SigV4 and Lambda
  checks it against its own canonical request. SigV4's canonical URI URI-encodes every byte but the
  unreserved ``A-Z a-z 0-9 - _ . ~`` (each segment twice for services other than S3). Signers differ on
  what they do first: decode the path or not, read ``+`` as a space or not, encode ``!'()*`` or not (as
  ``encodeURIComponent``). A rewritten URI must give one canonical URI whichever they do.
* S3, reached first: its REST API names the object by the URI's path, percent-decoded. Run here on moto's
  server (an S3 implementation over real HTTP): every variant key of the shared vectors is found at its URI.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

import boto3
import pytest

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
BUCKET = "variants"


def rewritten() -> list[Any]:
    """Every (variant key, URI) the shared vectors expect, across all files."""
    params = []
    for file in sorted(VECTORS.glob("*.json")):
        for case in json.loads(file.read_text())["cases"]:
            if "uri" in case["expect"]:
                expect = case["expect"]
                params.append(pytest.param(expect["variant_key"], expect["uri"], id=f"{file.stem}: {case['name']}"))
    return params


REWRITTEN = rewritten()


def uri_encode(path: str, *, twice: bool) -> str:
    """SigV4's canonical URI of ``path``: every byte but the unreserved ones as %XX, per segment."""
    once = "/".join(quote(segment, safe="-_.~") for segment in path.split("/"))
    return "/".join(quote(segment, safe="-_.~") for segment in once.split("/")) if twice else once


def js_encode(path: str) -> str:
    """What a signer built on ``encodeURIComponent`` makes of a path: it leaves ``!'()*`` unescaped."""
    return "/".join(quote(segment, safe="-_.~!'()*") for segment in path.split("/"))


def canonical_forms(uri: str, *, twice: bool) -> set[str]:
    """The canonical URIs different signers derive from one request URI."""
    readings = {uri, unquote(uri), unquote_plus(uri)}  # as sent, decoded first, form-decoded first
    forms = {uri_encode(reading, twice=twice) for reading in readings}
    if not twice:
        forms |= {js_encode(reading) for reading in readings}
    return forms


@pytest.mark.parametrize(("variant_key", "uri"), REWRITTEN)
def test_every_signer_derives_one_canonical_uri(variant_key: str, uri: str) -> None:
    assert len(canonical_forms(uri, twice=False)) == 1  # S3's rule
    assert len(canonical_forms(uri, twice=True)) == 1  # Lambda's and other services'
    assert uri == "/" + variant_key  # and S3 needs nothing decoded to find the key


def test_the_viewer_form_of_such_a_key_does_not() -> None:
    # the percent-encoded form the edge used to write: signers disagree, hence the 403s
    for uri in ("/photos/my%20cat.jpg/_vf/w=400", "/a%2Bb.jpg/_vf/w=400", "/it's%20(1).jpg/_vf/w=400"):
        assert len(canonical_forms(uri, twice=True)) > 1, uri


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_s3_finds_every_variant_at_its_uri(s3_endpoint: str) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    # read without signing, as a plain HTTP GET of the URI (behind CloudFront, OAC signs it)
    read = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [read]}))
    pairs = {param.values[0]: param.values[1] for param in REWRITTEN}
    for variant_key in pairs:
        client.put_object(Bucket=BUCKET, Key=variant_key, Body=variant_key.encode())
    for variant_key, uri in pairs.items():
        with urllib.request.urlopen(f"{s3_endpoint}/{BUCKET}{uri}", timeout=10) as answer:  # noqa: S310 (loopback)
            assert answer.read() == variant_key.encode(), uri
