"""The demo page (``/_vf/demo``, on with ``VIPSFRONT_DEMO=1``, which ``vipsfront serve`` sets).

A responsive gallery of the originals, written the way a page should use vipsfront: ``<picture>`` with an
art-directed square crop for narrow screens, ``srcset``/``sizes`` with ``fm=auto``, and the placeholder
from ``/_vf/info`` (dominant colour and ThumbHash) painted as the figure's background before the image
arrives. A playground builds a URL, fetches it, and shows the result, its bytes and its ``Server-Timing``.
It lists the originals bucket, so it is meant for a local server, not for production.
"""

from __future__ import annotations

import logging
from html import escape
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vipsfront.config.settings import Settings
from vipsfront.errors import VipsfrontError
from vipsfront.origin.serving import Origin
from vipsfront.stores.base import ImageStore
from vipsfront.url.builders import sizes, url
from vipsfront.url.keys import check_key

log = logging.getLogger(__name__)

GALLERY_WIDTHS = (320, 480, 640, 960, 1280, 1920)
GALLERY_LIMIT = 24
ACCEPT_CH = "Sec-CH-DPR, Sec-CH-Width"
# The card is 320 CSS px wide on a wide screen, half the page in between, the whole page on a phone.
CARD_SIZES = sizes(
    [("(max-width: 640px)", "calc(100vw - 32px)"), ("(max-width: 1100px)", "calc(50vw - 40px)")], "320px"
)
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STATIC = {"demo.css": "text/css; charset=utf-8", "demo.js": "text/javascript; charset=utf-8"}

router = APIRouter()


def _signing_key(settings: Settings) -> tuple[str, bytes] | None:
    """The page signs its own URLs with the first key, so the demo works in signed mode too."""
    keys = settings.policy.keys
    return next(iter(keys.items())) if keys else None


def _widths(settings: Settings) -> tuple[int, ...]:
    # without signing keys every width is served; with them, the unsigned ladder (the page signs the rest)
    return (settings.policy.signed and settings.policy.unsigned.widths) or GALLERY_WIDTHS


def card(key: str, info: dict[str, Any], widths: tuple[int, ...], signing_key: tuple[str, bytes] | None) -> str:
    """One gallery figure: placeholder background, ``<picture>`` with a square crop for phones."""
    hint = info.get("placeholder") or {}
    color = hint.get("color", "#ddd")
    background = f"background-color:{color}"
    if hint.get("data_url"):
        background += f";background-image:url({hint['data_url']})"
    params: dict[str, str | int | float] = {"fm": "auto", "q": 70}

    def candidate(w: int, h: int) -> str:
        return url(key, {**params, "w": w, "h": h}, signing_key=signing_key)

    # 4:3 crops for the card (each candidate with its own height), squares for phones
    landscape = [f"{candidate(w, round(w * 3 / 4))} {w}w" for w in widths]
    square = [f"{candidate(w, w)} {w}w" for w in widths]
    middle = widths[min(2, len(widths) - 1)]
    fallback = candidate(middle, round(middle * 3 / 4))
    caption = f"{info['width']}×{info['height']} {info['format']}, {info['bytes'] / 1024:.0f} KB"
    return f"""<figure class="card" data-key="{escape(key)}" data-color="{escape(color)}" style="{escape(background)}">
  <picture>
    <source media="(max-width: 640px)" srcset="{escape(", ".join(square))}" sizes="calc(100vw - 32px)">
    <img src="{escape(fallback)}" srcset="{escape(", ".join(landscape))}" sizes="{escape(CARD_SIZES)}"
      width="320" height="240" alt="{escape(key)}" decoding="async">
  </picture>
  <figcaption><code>{escape(key)}</code> {escape(caption)}</figcaption>
</figure>"""


def render(items: list[tuple[str, dict[str, Any]]], settings: Settings) -> str:
    """The whole page for ``items`` (key, ``/_vf/info`` body)."""
    signing_key = _signing_key(settings)
    widths = _widths(settings)
    cards = "\n".join(card(key, info, widths, signing_key) for key, info in items)
    options = "".join(f"<option>{escape(key)}</option>" for key, _ in items)
    hints = ""
    still = next((key for key, info in items if not info.get("animated")), None)
    if still is not None and settings.client_hints and signing_key is None:
        hinted = url(still, {"fm": "auto", "q": 70})
        hints = f"""<section class="hints">
  <h2>Client hints</h2>
  <p>No <code>w</code> in this URL: <code>{escape(hinted)}</code>. With <code>sizes</code>, the browser sends
  <code>Sec-CH-Width</code> (the page asked for it with <code>Accept-CH</code>) and the origin picks the width.</p>
  <img class="hinted" src="{escape(hinted)}" sizes="320px" width="320" height="213" alt="sized by client hints">
  <p class="hinted-result"></p>
</section>"""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Accept-CH" content="{ACCEPT_CH}">
<title>vipsfront demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/_vf/demo/static/demo.css">
<script src="/_vf/demo/static/demo.js"></script>
</head>
<body>
<header>
  <h1>vipsfront</h1>
  <p>{len(items)} originals, each a <code>&lt;picture&gt;</code> with <code>srcset</code>, <code>sizes</code> and
  <code>fm=auto</code>. The colour and blurred shape behind each image are its placeholder from
  <code>/_vf/info</code>, painted before the image arrives.</p>
</header>
<main>
<section class="gallery">
{cards}
</section>
{hints}
<section class="playground">
  <h2>Playground</h2>
  <form id="play">
    <label>image <select name="key">{options}</select></label>
    <label>w <input name="w" type="number" min="1" max="8192" value="480"></label>
    <label>h <input name="h" type="number" min="1" max="8192"></label>
    <label>dpr <input name="dpr" type="number" min="1" max="4" step="0.25"></label>
    <label>fit <select name="fit"><option></option><option>cover</option><option>contain</option>
      <option>fill</option><option>inside</option><option>outside</option></select></label>
    <label>pos <select name="pos"><option></option><option>attention</option><option>entropy</option>
      <option>face</option><option>top</option><option>bottom</option><option>left</option><option>right</option></select></label>
    <label>fm <select name="fm"><option>auto</option><option>avif</option><option>webp</option>
      <option>jpeg</option><option>png</option><option>gif</option><option></option></select></label>
    <label>q <input name="q" type="number" min="1" max="100"></label>
    <label>blur <input name="blur" type="number" min="0.3" max="100" step="0.1"></label>
    <label>bg <input name="bg" placeholder="rrggbb"></label>
    <button>Fetch</button>
  </form>
  <div class="result">
    <img id="play-image" alt="result">
    <dl id="play-facts"></dl>
  </div>
</section>
</main>
</body>
</html>
"""


@router.get("/_vf/demo", response_class=HTMLResponse)
async def demo_page(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    store: ImageStore = request.app.state.store
    origin = Origin(settings, store)

    def gather() -> list[tuple[str, dict[str, Any]]]:
        items = []
        for key in store.list_originals("", GALLERY_LIMIT):
            try:
                info, _ = origin.describe(check_key(key))
            except VipsfrontError as error:  # not an image, too large, a reserved key: not in the gallery
                log.info("demo: skipping %s: %s", key, error.message)
                continue
            items.append((key, info))
        return items

    html = render(await run_in_threadpool(gather), settings)
    headers = {
        "accept-ch": ACCEPT_CH,
        "cache-control": "no-store",
        "content-security-policy": PAGE_CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }
    return HTMLResponse(html, headers=headers)


@router.get("/_vf/demo/", include_in_schema=False)
async def demo_slash() -> RedirectResponse:
    """``/_vf/demo/`` (a trailing slash typed or pasted): the page itself."""
    return RedirectResponse("/_vf/demo", status_code=301)


@router.get("/_vf/demo/static/{name}")
async def demo_static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404, headers={"cache-control": "no-store"})
    body = (files("vipsfront.web") / "static" / name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"cache-control": "public, max-age=300"})
