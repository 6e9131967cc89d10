"""Hostile originals, generated in code: what anyone who can write to the originals bucket could upload.

Each ``Case`` names the file, the key it is stored under, the request made for it and the one status
that is right for it. Where an encoder cannot make the file (a header that lies about its size), the bytes
are patched or written by hand. ``run_cases`` runs them through the app on moto and returns measured
outcomes; ``tests/integration/test_hostile_inputs.py`` asserts on them.
"""

from __future__ import annotations

import io
import random
import resource
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyvips

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/helpers.py, also when run by a script
from helpers import photo_jpeg  # noqa: E402

ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
OK, TOO_LARGE, UNSUPPORTED, UNDECODABLE = 200, 413, 415, 422
# A file with flipped bits (seeded, so always the same bits) is 422 unless its flips fall where the decoder
# does not look: in JPEG's and TIFF's pixel data they decode as noise (200); one AVIF's flips enlarge its
# declared size (413). Another libvips may read a flipped file differently: look at it, then update this.
FLIPPED = {("jpeg", 1): OK, ("jpeg", 2): OK, ("tiff", 1): OK, ("tiff", 2): OK, ("avif", 2): TOO_LARGE}


@dataclass(frozen=True)
class Case:
    name: str
    key: str
    data: bytes
    expect: int  # the status that is right for it
    query: str = "w=100"
    what: str = ""  # one line for the report
    allow_svg: bool = False
    stored_must_not_contain: bytes | None = None  # for a 200: a payload the variant must not carry


def _small(fmt: str, width: int = 16, height: int = 16, **options: Any) -> bytes:
    xy = pyvips.Image.xyz(width, height)
    image = (xy[0] * 7 % 256).bandjoin([xy[1] * 5 % 256, 90]).cast("uchar").copy(interpretation="srgb")
    return bytes(image.write_to_buffer(f".{fmt}", **options))


# --- decompression bombs: a few hundred bytes whose header declares billions of pixels ----------------


def png_bomb(width: int = 65000, height: int = 65000) -> bytes:
    """A small PNG with IHDR's width and height (and CRC) patched."""
    data = bytearray(_small("png"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_bomb(width: int = 65000, height: int = 65000) -> bytes:
    """A small baseline JPEG with its SOF0 frame size patched."""
    data = bytearray(_small("jpg"))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif(width: int, height: int, frames: list[tuple[int, int]], lzw: bytes) -> bytes:
    """A GIF89a by hand: 2-colour table, looping, one image descriptor per ``frames`` entry."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0))
    out += b"\x00\x00\x00\xff\xff\xff"
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for frame_w, frame_h in frames:
        out += b"\x21\xf9\x04\x04\x02\x00\x00\x00"  # graphic control: 20 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, frame_w, frame_h, 0)
        out += b"\x02" + lzw + b"\x00"
    return bytes(out + b"\x3b")


# LZW (min code size 2): clear, pixel 0, end, packed LSB-first in 3-bit codes: one pixel of colour 0.
_ONE_PIXEL_LZW = b"\x02\x44\x01"


def gif_bomb(width: int = 65535, height: int = 65535) -> bytes:
    """Logical screen and frame of 65535x65535 in 40 bytes."""
    return _gif(width, height, [(width, height)], _ONE_PIXEL_LZW)


def gif_many_frames(frames: int = 5000) -> bytes:
    """A valid 1x1 animation of thousands of frames."""
    return _gif(1, 1, [(1, 1)] * frames, _ONE_PIXEL_LZW)


def gif_frame_bomb(side: int = 4000, frames: int = 50) -> bytes:
    """Each frame within the per-frame limit (16 MP), 800 MP in all: the frame count times the size."""
    return _gif(side, side, [(side, side)] * frames, _ONE_PIXEL_LZW)


def tiff_bomb(width: int = 1_000_000, height: int = 1_000_000) -> bytes:
    """A hand-written little-endian TIFF whose one IFD claims 10^12 grey pixels in one 8-byte strip."""
    entries = [
        (256, 4, width),  # ImageWidth
        (257, 4, height),  # ImageLength
        (258, 3, 8),  # BitsPerSample
        (259, 3, 1),  # Compression: none
        (262, 3, 1),  # Photometric: min-is-black
        (273, 4, 0),  # StripOffsets (filled below)
        (277, 3, 1),  # SamplesPerPixel
        (278, 4, height),  # RowsPerStrip
        (279, 4, 8),  # StripByteCounts
    ]
    strip_offset = 8 + 2 + len(entries) * 12 + 4
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, value in entries:
        value = strip_offset if tag == 273 else value
        out += struct.pack("<HHIHH", tag, kind, 1, value, 0) if kind == 3 else struct.pack("<HHII", tag, kind, 1, value)
    return bytes(out + struct.pack("<I", 0) + b"\x00" * 8)


def _riff_chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def _webp_animation(canvas: tuple[int, int], frames: int) -> bytes:
    """An animated WebP by hand: VP8X canvas, ANIM, ``frames`` ANMF chunks of one 16x16 lossless frame."""
    still = _small("webp", lossless=True, keep="none")
    assert still[12:16] == b"VP8L"
    vp8l = still[12:]
    width, height = canvas
    vp8x = _riff_chunk(
        b"VP8X", b"\x02\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    anim = _riff_chunk(b"ANIM", b"\x00\x00\x00\x00\x00\x00")
    frame = (0).to_bytes(3, "little") * 2 + (15).to_bytes(3, "little") * 2 + (20).to_bytes(3, "little") + b"\x00"
    anmf = _riff_chunk(b"ANMF", frame + vp8l)
    body = b"WEBP" + vp8x + anim + anmf * frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_bomb() -> bytes:
    """A VP8X canvas of 16383x16383 (the format's largest) around one 16x16 frame."""
    return _webp_animation((16383, 16383), 1)


def webp_many_frames(frames: int = 3000) -> bytes:
    return _webp_animation((16, 16), frames)


# --- broken files -----------------------------------------------------------------------------------


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def bit_flipped(data: bytes, seed: int, flips: int = 8, skip: int = 0) -> bytes:
    """``flips`` random bits flipped after the first ``skip`` bytes (seeded, so every run is the same)."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(flips):
        at = rng.randrange(skip, len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


# --- metadata and polyglots ------------------------------------------------------------------------


def jpeg_with_huge_exif() -> bytes:
    """A JPEG whose APP1 Exif is a 64 KB IFD claiming 65535 entries, orientation 9, offsets past the end."""
    jpeg = _small("jpg", keep="none")
    ifd = struct.pack("<H", 0xFFFF)
    ifd += struct.pack("<HHII", 0x0112, 3, 1, 9)  # orientation 9 (invalid)
    ifd += struct.pack("<HHII", 0x8769, 4, 1, 0x7FFFFFF0)  # Exif sub-IFD far past the end
    ifd += struct.pack("<HHII", 0x010E, 2, 0x7FFFFFFF, 8)  # a 2 GB description
    body = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    body += bytes(65533 - 2 - len(body))
    app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return jpeg[:2] + app1 + jpeg[2:]


def png_with_icc_bomb(inflated: int = 50 * 1024 * 1024) -> bytes:
    """A PNG whose iCCP chunk inflates to ``inflated`` bytes (50 MB of zeros in ~50 KB)."""
    png = _small("png", keep="none")
    compressed = zlib.compress(bytes(inflated), 9)
    payload = b"bomb\x00\x00" + compressed
    chunk = struct.pack(">I", len(payload)) + b"iCCP" + payload
    chunk += struct.pack(">I", zlib.crc32(b"iCCP" + payload))
    return png[:33] + chunk + png[33:]  # right after IHDR


def jpeg_with_garbage_icc(size: int = 60_000) -> bytes:
    """A JPEG with an APP2 ICC_PROFILE of a valid-looking header and random tags."""
    jpeg = _small("jpg", keep="none")
    rng = random.Random(6)
    profile = bytearray(rng.randbytes(size))
    profile[0:4] = struct.pack(">I", size)
    profile[12:20] = b"mntrRGB "
    profile[36:40] = b"acsp"
    profile[128:132] = struct.pack(">I", 5000)  # tag count far past the data
    body = b"ICC_PROFILE\x00\x01\x01" + bytes(profile)
    app2 = b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body
    return jpeg[:2] + app2 + jpeg[2:]


JS_PAYLOAD = b"*/=1;alert(document.domain);//"


def gif_js_polyglot() -> bytes:
    """GIF89a whose width bytes are ``/*`` and whose tail is JavaScript: valid as both."""
    gif = bytearray(_gif(0x2A2F, 10, [(1, 1)], _ONE_PIXEL_LZW))
    return bytes(gif) + JS_PAYLOAD


ZIP_MARKER = b"PK\x03\x04"


def jpeg_zip_polyglot() -> bytes:
    """A real JPEG with a ZIP archive appended (a valid ZIP too: its directory is at the end)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(1)</script>")
    return photo_jpeg(64, 48) + archive.getvalue()


def svg_xxe(http_url: str, file_path: str) -> bytes:
    """SVG with external entities (a local file and a URL) expanded into its text."""
    return f"""<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY file SYSTEM "file://{file_path}">
  <!ENTITY http SYSTEM "{http_url}/entity">
]>
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">
  <rect width="200" height="100" fill="#3a6"/>
  <text x="5" y="20" font-size="12">&file;&http;</text>
</svg>
""".encode()


def svg_external(http_url: str, file_path: str, inline_text: str = "") -> bytes:
    """SVG with script, XInclude, external images, ``use`` and CSS imports of a local file and a URL."""
    return f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:xi="http://www.w3.org/2001/XInclude" width="200" height="100">
  <script>fetch("{http_url}/script")</script>
  <rect width="200" height="100" fill="#3a6"/>
  <text x="5" y="20" font-size="14">{inline_text}</text>
  <text x="5" y="40" font-size="14"><xi:include href="file://{file_path}" parse="text"/></text>
  <text x="5" y="60" font-size="14"><xi:include href="{http_url}/xinclude" parse="text"/></text>
  <image x="0" y="0" width="50" height="50" href="{http_url}/image.png"/>
  <image x="50" y="0" width="50" height="50" xlink:href="file://{file_path}"/>
  <use href="{http_url}/sprite.svg#a"/>
  <style>@import url("{http_url}/style.css"); rect {{ fill: url({http_url}/paint#p) }}</style>
</svg>
""".encode()


def svg_plain() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100"/></svg>'


# --- the catalogue -----------------------------------------------------------------------------------


def cases(listener_url: str | None = None, secret_file: str | None = None) -> Iterator[Case]:
    """Every hostile original, with the status that is right for it.

    With ``listener_url`` and ``secret_file``, also the hostile SVG with SVG input enabled: it must render
    (or be refused) without fetching the URL or reading the file.
    """
    big = TOO_LARGE
    yield Case("png bomb 65000x65000", "bomb/png.png", png_bomb(), big, what="IHDR patched, CRC fixed")
    yield Case("jpeg bomb 65000x65000", "bomb/jpeg.jpg", jpeg_bomb(), big, what="SOF0 patched")
    yield Case("gif bomb 65535x65535", "bomb/gif.gif", gif_bomb(), big, what="screen and frame descriptor")
    yield Case("tiff bomb 10^6x10^6", "bomb/tiff.tif", tiff_bomb(), big, what="hand-written IFD")
    yield Case("webp bomb 16383x16383", "bomb/webp.webp", webp_bomb(), big, what="VP8X canvas")
    yield Case("gif 5000 frames", "anim/frames.gif", gif_many_frames(), big, "w=100&fm=gif")
    yield Case("webp 3000 frames", "anim/frames.webp", webp_many_frames(), big, "w=100&fm=webp")
    yield Case("gif 50 frames of 4000x4000", "anim/frame-bomb.gif", gif_frame_bomb(), big, "w=100&fm=gif")

    samples: dict[str, bytes] = {
        "png": _small("png", 256, 256),
        "jpeg": photo_jpeg(256, 256),
        "webp": _small("webp", 256, 256),
        "gif": _small("gif", 256, 256),
        "tiff": _small("tif", 256, 256),
        "avif": _small("avif", 256, 256),
    }
    for fmt, data in samples.items():
        # libvips recognises a TIFF by opening its directory, which sits past the half: no loader takes it.
        status = UNSUPPORTED if fmt == "tiff" else UNDECODABLE
        yield Case(f"{fmt} truncated at half", f"broken/truncated.{fmt}", truncated(data), status)
    for fmt, data in samples.items():
        for seed in (1, 2):
            yield Case(
                f"{fmt} 8 bits flipped #{seed}",
                f"broken/flipped-{seed}.{fmt}",
                bit_flipped(data, seed, skip=4),
                FLIPPED.get((fmt, seed), UNDECODABLE),
            )
    yield Case("zero bytes", "broken/empty.jpg", b"", UNSUPPORTED)
    yield Case("text named .jpg", "broken/readme.jpg", b"not an image\n" * 100, UNSUPPORTED)
    yield Case("html named .png", "broken/page.png", b"<html><script>alert(1)</script></html>", UNSUPPORTED)

    yield Case("svg (off by default)", "svg/plain.svg", svg_plain(), UNSUPPORTED)
    if listener_url and secret_file:
        yield Case(
            "svg external entities (enabled)",
            "svg/xxe.svg",
            svg_xxe(listener_url, secret_file),
            UNDECODABLE,
            query="w=200&fm=png",
            allow_svg=True,
        )
        yield Case(
            "svg script, XInclude, href, @import (enabled)",
            "svg/external.svg",
            svg_external(listener_url, secret_file),
            OK,
            query="w=200&fm=png",
            allow_svg=True,
            stored_must_not_contain=b"FETCHED",
        )
    yield Case(
        "pdf (off by default)",
        "pdf/doc.pdf",
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        UNSUPPORTED,
    )

    # Metadata is stripped from every variant, so a hostile block must not survive into one.
    yield Case(
        "jpeg 64 KB hostile EXIF",
        "meta/exif.jpg",
        jpeg_with_huge_exif(),
        OK,
        stored_must_not_contain=b"Exif",
    )
    yield Case("png iCCP zlib bomb (50 MB)", "meta/icc-bomb.png", png_with_icc_bomb(), OK)
    yield Case(
        "jpeg 60 KB garbage ICC",
        "meta/icc.jpg",
        jpeg_with_garbage_icc(),
        OK,
        stored_must_not_contain=b"ICC_PROFILE",
    )
    yield Case(
        "gif/js polyglot",
        "poly/gifjs.gif",
        gif_js_polyglot(),
        OK,
        query="w=100&fm=png",
        stored_must_not_contain=b"alert",
    )
    yield Case(
        "jpeg+zip polyglot",
        "poly/jpegzip.jpg",
        jpeg_zip_polyglot(),
        OK,
        stored_must_not_contain=ZIP_MARKER,
    )


# --- running them ------------------------------------------------------------------------------------


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@dataclass
class Outcome:
    name: str
    status: int
    code: str | None
    ms: float
    stored: list[str]
    original_intact: bool
    next_ok: bool
    peak_rss_mb: float
    expected: bool
    body: str = field(repr=False, default="")
    cache_control: str = ""


def variants(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=VARIANTS).get("Contents", []))


def run_case(client: Any, s3: Any, case: Case, healthy_url: str) -> Outcome:
    """Upload ``case``, request it once, and measure everything the issue asks about."""
    s3.put_object(Bucket=ORIGINALS, Key=case.key, Body=case.data, ContentType="application/octet-stream")
    etag = s3.head_object(Bucket=ORIGINALS, Key=case.key)["ETag"]
    before = set(variants(s3))
    started = time.perf_counter()
    response = client.get(f"/{case.key}?{case.query}")
    ms = (time.perf_counter() - started) * 1000
    stored = sorted(set(variants(s3)) - before)
    original = s3.get_object(Bucket=ORIGINALS, Key=case.key)
    intact = original["ETag"] == etag and original["Body"].read() == case.data
    next_ok = client.get(healthy_url).status_code == 200
    code = response.json().get("code") if response.headers.get("content-type") == "application/json" else None
    return Outcome(
        case.name,
        response.status_code,
        code,
        round(ms, 1),
        stored,
        intact,
        next_ok,
        round(max_rss_mb(), 1),
        response.status_code == case.expect,
        response.text if code else "",
        response.headers.get("cache-control", ""),
    )


def run_cases(s3: Any, make_client: Callable[[bool], Any], selected: list[Case]) -> tuple[float, list[Outcome]]:
    """Run ``selected`` (``make_client(allow_svg)`` builds the app's test client) after a warm-up.

    Returns the peak RSS after the warm-up (MB) and one ``Outcome`` per case.
    """
    s3.put_object(Bucket=ORIGINALS, Key="healthy/photo.jpg", Body=photo_jpeg(640, 480), ContentType="image/jpeg")
    clients = {False: make_client(False), True: make_client(True)}
    for warm in ("w=200&fm=webp", "w=200&fm=avif", "w=200&fm=png", "w=200&fm=gif"):
        assert clients[False].get(f"/healthy/photo.jpg?{warm}").status_code == 200
    warm_rss = max_rss_mb()
    outcomes = []
    for number, case in enumerate(selected):
        healthy = f"/healthy/photo.jpg?w={100 + number}"
        outcomes.append(run_case(clients[case.allow_svg], s3, case, healthy))
    return round(warm_rss, 1), outcomes


class Listener:
    """An HTTP server on 127.0.0.1 that records every path asked of it (to prove nothing fetched it)."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                paths.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"FETCHED")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
