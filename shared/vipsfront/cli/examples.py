"""The example URLs ``vipsfront serve`` prints: only those that answer 200, checked once it is up.

Seeded originals can be anything (a decompression bomb answers 413, a truncated JPEG 422), so the server
asks itself for each candidate, as a user would, and prints the first few that work, saying which
originals it left out and why. Each check is a miss that stores its variant, so the printed URLs are
then hits.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from vipsfront.url.keys import encode_key

QUERY = "w=400&fm=webp"
SHOWN = 4  # example URLs printed
CHECKED = 12  # candidates asked for at most
UP_WITHIN_S = 60.0


def status_of(url: str) -> tuple[int, str]:
    """The status of a GET of ``url`` and, for an error, its JSON ``code``."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status, ""
    except urllib.error.HTTPError as error:
        try:
            code = str(json.loads(error.read()).get("code", ""))
        except ValueError:
            code = ""
        return error.code, code


def wait_until_up(base: str, within_s: float = UP_WITHIN_S) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if status_of(f"{base}/_vf/health")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def report(base: str, keys: Sequence[str]) -> list[str]:
    """The lines to print: up to ``SHOWN`` URLs that answered 200, then the originals left out."""
    working: list[str] = []
    left_out: list[str] = []
    for key in keys[:CHECKED]:
        url = f"{base}/{encode_key(key)}?{QUERY}"
        try:
            status, code = status_of(url)
        except OSError as error:
            status, code = 0, str(error)
        if status == 200:
            working.append(url)
        else:
            left_out.append(f"{key} ({status} {code})".rstrip())
        if len(working) == SHOWN:
            break
    lines = [f"  {url}" for url in working]
    if working:
        first = working[0].removesuffix(f"?{QUERY}")
        lines.append(f"  {first}?w=800&h=400&fit=cover&pos=attention&fm=auto")
        lines.append(f"  {base}/_vf/info/{first.removeprefix(base + '/')}")
    if left_out:
        lines.append(f"  not shown, as they do not answer 200: {', '.join(left_out)}")
    if not working:
        lines.append(f"  none of the first {len(keys[:CHECKED])} originals answered 200 to ?{QUERY}")
    return lines


def print_when_up(base: str, keys: Sequence[str]) -> threading.Thread:
    """Print the example lines once the server answers, from a thread (the server runs in this one)."""

    def run() -> None:
        if wait_until_up(base):
            print("\n".join(["vipsfront: examples, each checked:", *report(base, keys)]), flush=True)

    thread = threading.Thread(target=run, name="vipsfront-examples", daemon=True)
    thread.start()
    return thread
