"""The demo page in a real browser: headless Chromium (Debian's package) driven by Playwright.

Playwright's own browser downloads are never used: the test launches the system ``chromium`` through
``executable_path``, with the network features that would reach outside the machine turned off.
A real ``vipsfront serve`` runs as a subprocess on a free port.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_serve import clean_env, start, stop

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOT = ROOT / "docs" / "demo.png"

if CHROMIUM is None:
    pytest.skip("chromium is not installed (CI installs Debian's package: see .ci/run)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, base = start([], clean_env())
    try:
        yield base
    finally:
        output = stop(process)
        assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def width_of(url: str) -> int:
    match = re.search(r"[?&]w=(\d+)", url)
    assert match, url
    return int(match[1])


def test_demo_page_in_chromium(server: str, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=2)
    page = context.new_page()
    responses: dict[str, Any] = {}
    page.on("response", lambda response: responses.__setitem__(response.url, response))
    # Hold every image until the placeholders have been seen, so "placeholder first" is not a race.
    held: list[Any] = []
    page.route(re.compile(r"/samples/"), lambda route: held.append(route))

    page.goto(f"{server}/_vf/demo", wait_until="domcontentloaded")
    page.wait_for_function("() => window.vfDemo && window.vfDemo.placeholdersPaintedAt !== null")
    cards = page.locator(".card")
    count = cards.count()
    assert count == 4
    assert page.evaluate("() => window.vfDemo.placeholders") == count
    assert page.evaluate("() => Object.keys(window.vfDemo.loads).length") == 0
    page.screenshot(path=str(tmp_path / "placeholders.png"))
    # the painted placeholder has the card's dominant colour near the top left (a 2x screenshot)
    for index in range(count):
        colour = cards.nth(index).get_attribute("data-color")
        assert re.fullmatch(r"#[0-9a-f]{6}", colour or "")
    page.wait_for_timeout(200)
    assert held, "the gallery's images were requested"
    for route in held:
        route.continue_()
    page.unroute(re.compile(r"/samples/"))

    page.wait_for_function(
        "() => [...document.querySelectorAll('.card img')].every(img => img.complete && img.naturalWidth > 0)",
        timeout=60_000,
    )
    page.wait_for_function(f"() => Object.keys(window.vfDemo.loads).length === {count}")
    page.wait_for_timeout(500)  # the fade-in
    page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
    if os.environ.get("VFTEST_SCREENSHOT"):
        page.screenshot(path=str(README_SCREENSHOT), scale="css", type="png")

    facts = page.evaluate(
        """() => [...document.querySelectorAll('.card img')].map(img => ({
            key: img.closest('.card').dataset.key,
            natural: img.naturalWidth,
            current: img.currentSrc,
            layout: img.getBoundingClientRect().width,
            loadedAt: window.vfDemo.loads[img.closest('.card').dataset.key],
        }))"""
    )
    painted = page.evaluate("() => window.vfDemo.placeholdersPaintedAt")
    for fact in facts:
        assert fact["natural"] > 0, fact  # decoded
        assert fact["layout"] == 320, fact
        assert width_of(fact["current"]) == 2 * fact["layout"], fact  # the 2x candidate at dpr 2
        assert painted < fact["loadedAt"], fact  # the placeholder was on screen first
        response = responses[fact["current"]]
        content_type = response.headers["content-type"]
        if fact["key"].endswith(".gif"):
            assert content_type == "image/webp"  # animation: WebP, which keeps it animated
        else:
            assert content_type == "image/avif", fact  # from Chromium's own Accept
        assert "Accept" in response.headers["vary"]
    context.close()


def test_client_hints_and_playground(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{server}/_vf/demo", wait_until="load")
    hinted = page.locator("img.hinted")
    hinted.evaluate("img => img.decode()")
    assert hinted.evaluate("img => img.naturalWidth") == 640  # Sec-CH-Width 640 at 2x, from Accept-CH

    page.select_option("select[name=key]", "samples/landscape.jpg")
    page.fill("input[name=w]", "300")
    page.select_option("select[name=fm]", "webp")
    page.click("#play button")
    page.wait_for_function("() => document.querySelector('#play-facts').textContent.includes('size')", timeout=30_000)
    text = page.locator("#play-facts").inner_text()
    assert "image/webp" in text and "300×200" in text
    assert "transform" in text and "total" in text  # Server-Timing, read from the response
    context.close()
