"""The lifecycle commands on moto, as a user runs them: ``originals put | delete | ls``, ``purge`` and
``backfill`` say what they did, and say so when there was nothing to act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pyvips

from vipsfront.cli.main import main

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"


@pytest.fixture
def configured(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's S3 configured as a user configures a real one: credentials and both buckets."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "VIPSFRONT_ORIGINALS_BUCKET": ORIGINALS,
        "VIPSFRONT_VARIANTS_BUCKET": VARIANTS,
    }.items():
        monkeypatch.setenv(name, value)
    return s3


def image(tmp_path: Path, name: str, rgb: tuple[int, int, int]) -> Path:
    path = tmp_path / name
    (pyvips.Image.black(64, 48) + list(rgb)).cast("uchar").copy(interpretation="srgb").jpegsave(str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_put_replace_and_delete_an_original(
    configured: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "originals", "put", str(image(tmp_path, "red.jpg", (200, 20, 20))), "photos/cat.jpg")
    assert code == 0 and '"status": "ingested"' in out
    configured.put_object(Bucket=VARIANTS, Key="photos/cat.jpg/_vf/w=10", Body=b"an old variant")
    code, out, _ = run(capsys, "originals", "put", str(image(tmp_path, "blue.jpg", (20, 20, 200))), "photos/cat.jpg")
    assert code == 0 and '"status": "ingested"' in out
    listed = configured.list_objects_v2(Bucket=VARIANTS, Prefix="photos/cat.jpg/_vf/w=10").get("Contents", [])
    assert listed == []  # the old variant went with the replace, before the command returned
    body = configured.get_object(Bucket=ORIGINALS, Key="photos/cat.jpg")["Body"].read()
    assert pyvips.Image.new_from_buffer(body, "").extract_band(2).avg() > 150  # the blue one
    assert run(capsys, "originals", "ls", "photos/")[1].endswith("photos/cat.jpg")
    code, out, _ = run(capsys, "originals", "delete", "photos/cat.jpg")
    assert code == 0 and '"status": "purged"' in out
    code, _, err = run(capsys, "originals", "delete", "photos/cat.jpg")
    assert code == 1
    assert err == "vipsfront: no original 'photos/cat.jpg': nothing deleted"


def test_purge_of_a_key_that_never_existed_says_nothing_was_found(
    configured: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "purge", "photos/never.jpg")
    assert code == 1
    assert "vipsfront: nothing found for 'photos/never.jpg': no original and no stored variant" in err


def test_backfill_of_a_prefix_that_matches_nothing_says_so(configured: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "backfill", "--prefix", "nothing/", "--workers", "1")
    assert code == 1 and out == ""
    assert err == "backfill: no originals under the prefix 'nothing/' in s3://vipsfront-originals: nothing to do"


def test_a_missing_bucket_is_named(
    configured: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIPSFRONT_VARIANTS_BUCKET", "no-such-bucket")
    code, out, err = run(capsys, "purge", "photos/cat.jpg")
    assert code == 2 and out == ""
    assert err == "vipsfront: error: bucket 'no-such-bucket' (VIPSFRONT_VARIANTS_BUCKET) does not exist at AWS"
