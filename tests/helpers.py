"""Helpers shared by the tests.

The generator of photo-like originals is the benchmark package's (``vipsfront_bench.images``), so the
tests and the soak make the same pixels; a free port and the local S3 come from
``vipsfront.cli.embedded_s3``.
"""

from __future__ import annotations

from vipsfront_bench.images import photo, photo_jpeg

__all__ = ["photo", "photo_jpeg"]
