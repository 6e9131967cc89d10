"""The S3 client of ``vipsfront.stores.s3.s3_client`` reads botocore's data files lean (``S3DataFiles``: no
documentation, the endpoints table's S3 entries only) and still makes the requests and finds the
endpoints botocore's own client does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.session import get_session

from vipsfront.stores import s3 as storage
SIGNED = {"authorization", "x-amz-date", "user-agent", "amz-sdk-invocation-id", "amz-sdk-request"}
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_object", {"Bucket": "originals", "Key": "photos/a b.jpg"}),
    ("head_object", {"Bucket": "originals", "Key": "photos/cat.jpg"}),
    (
        "put_object",
        {
            "Bucket": "variants",
            "Key": "photos/cat.jpg/_vf/w=400,fm=webp",
            "Body": b"RIFF....WEBP",
            "ContentType": "image/webp",
            "CacheControl": "public, max-age=31536000, immutable",
            "Metadata": {"width": "400", "height": "300"},
        },
    ),
    ("list_objects_v2", {"Bucket": "originals", "Prefix": "photos/", "MaxKeys": 100}),
    ("delete_objects", {"Bucket": "variants", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True}}),
]


class Sent(Exception):
    """Raised by the before-send hook: the request is captured, nothing reaches the network."""


def _requests(client: Any) -> list[tuple[str, str, dict[str, str], bytes]]:
    captured: list[tuple[str, str, dict[str, str], bytes]] = []

    def capture(request: Any, **_: Any) -> None:
        headers = {k.lower(): str(v) for k, v in request.headers.items() if k.lower() not in SIGNED}
        body = request.body.read() if hasattr(request.body, "read") else request.body
        captured.append((request.method, request.url, headers, bytes(body or b"")))
        raise Sent

    client.meta.events.register("before-send.s3", capture)
    for name, params in CALLS:
        with pytest.raises(Sent):
            getattr(client, name)(**params)
    return captured


def _botocore_client(endpoint_url: str | None, region: str) -> Any:
    """The client botocore makes with its own data files, configured as ``s3_client`` configures it."""
    config = storage.s3_config(endpoint_url)
    return get_session().create_client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.parametrize("endpoint_url", [None, "http://127.0.0.1:9000"])
def test_the_lean_client_sends_what_botocores_own_sends(endpoint_url: str | None) -> None:
    ours = _requests(storage.s3_client(endpoint_url, "eu-west-1"))
    theirs = _requests(_botocore_client(endpoint_url, "eu-west-1"))
    assert [request[:2] for request in ours] == [request[:2] for request in theirs]
    assert ours == theirs
    assert len(ours) == len(CALLS) and b"RIFF....WEBP" in ours[2][3]


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"])
def test_the_lean_client_finds_botocores_endpoints(region: str) -> None:
    ours, theirs = storage.s3_client(None, region), _botocore_client(None, region)
    assert ours.meta.endpoint_url == theirs.meta.endpoint_url
    assert ours.meta.partition == theirs.meta.partition
    assert _requests(ours)[0][1] == _requests(theirs)[0][1]


def test_the_data_files_keep_what_s3_needs_and_drop_documentation() -> None:
    loader = get_session().get_component("data_loader")
    full = loader.load_data("endpoints")
    lean = storage.S3DataFiles().load_file(loader.load_data_with_path("endpoints")[1])
    assert [p["partition"] for p in lean["partitions"]] == [p["partition"] for p in full["partitions"]]
    for ours, theirs in zip(lean["partitions"], full["partitions"], strict=True):
        assert ours["services"] == {"s3": theirs["services"]["s3"]}
        assert {k: v for k, v in ours.items() if k != "services"} == {
            k: v for k, v in theirs.items() if k != "services"
        }
    model = storage.S3DataFiles().load_file(
        loader.load_data_with_path("s3/" + loader.determine_latest_version("s3", "service-2") + "/service-2")[1]
    )
    assert model["operations"]["GetObject"]["documentation"] == ""
    assert set(model["operations"]) == set(loader.load_service_model("s3", "service-2")["operations"])
