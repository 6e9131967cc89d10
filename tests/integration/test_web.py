"""What web pages use: /_vf/info placeholders (cached beside the variants), client hints, the demo page."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pyvips
from test_app import ORIGINALS, VARIANTS, Origin, decode, photo

from vipsfront.config.settings import Settings

CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"


def make(s3: Any, **settings: Any) -> Origin:
    made = Origin(s3, replace(Settings(), **settings))
    made.put("photos/cat.jpg", photo())
    return made


def test_info_has_a_placeholder_cached_as_a_variant(s3: Any) -> None:
    origin = make(s3)
    first = origin.client.get("/_vf/info/photos/cat.jpg")
    assert first.status_code == 200 and first.headers["x-vipsfront-variant"] == "miss"
    body = first.json()
    hint = body["placeholder"]
    assert len(base64.b64decode(hint["thumbhash"])) <= 25
    assert hint["color"].startswith("#") and len(hint["color"]) == 7
    png = pyvips.Image.new_from_buffer(base64.b64decode(hint["data_url"].split(",", 1)[1]), "")
    assert png.width == 32 and png.height < 32
    assert origin.variants() == ["photos/cat.jpg/_vf/info.json"]  # listed and purged with the variants
    stored = s3.get_object(Bucket=VARIANTS, Key="photos/cat.jpg/_vf/info.json")
    assert stored["ContentType"] == "application/json"

    s3.delete_object(Bucket=ORIGINALS, Key="photos/cat.jpg")  # the second answer needs only the cached JSON
    second = origin.client.get("/_vf/info/photos/cat.jpg")
    assert second.headers["x-vipsfront-variant"] == "hit"
    assert second.json() == body


def test_info_json_is_not_a_variant_url(s3: Any) -> None:
    origin = make(s3)
    origin.client.get("/_vf/info/photos/cat.jpg")
    response = origin.client.get("/photos/cat.jpg/_vf/info.json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_spec"


def test_width_hint_sizes_the_image_and_varies(s3: Any) -> None:
    origin = make(s3)
    response = origin.client.get("/photos/cat.jpg?fm=auto", headers={"accept": CHROME_ACCEPT, "sec-ch-width": "600"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/avif"
    assert response.headers["vary"] == "Accept, Sec-CH-Width"
    assert decode(response.content).width == 640  # rounded up to the ladder
    assert origin.variants() == ["photos/cat.jpg/_vf/w=640,fm=auto-avif-webp"]
    # the same variant through its canonical URL: hints never leave the canonical form
    assert (
        origin.client.get("/photos/cat.jpg?w=640&fm=auto", headers={"accept": CHROME_ACCEPT}).headers[
            "x-vipsfront-variant"
        ]
        == "hit"
    )


def test_dpr_auto(s3: Any) -> None:
    origin = make(s3)
    response = origin.client.get("/photos/cat.jpg?w=300&dpr=auto&fm=webp", headers={"sec-ch-dpr": "2"})
    assert decode(response.content).width == 600
    assert response.headers["vary"] == "Sec-CH-DPR"
    plain = origin.client.get("/photos/cat.jpg?w=300&fm=webp", headers={"sec-ch-dpr": "2"})
    assert decode(plain.content).width == 300 and "vary" not in plain.headers


def test_client_hints_can_be_turned_off(s3: Any) -> None:
    origin = make(s3, client_hints=False)
    response = origin.client.get("/photos/cat.jpg?w=300&dpr=auto&fm=webp", headers={"sec-ch-dpr": "2"})
    assert decode(response.content).width == 300 and "vary" not in response.headers


def test_demo_page(s3: Any) -> None:
    origin = make(s3, demo=True)
    origin.put("photos/notes.txt", b"not an image", "text/plain")
    page = origin.client.get("/_vf/demo")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["accept-ch"] == "Sec-CH-DPR, Sec-CH-Width"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert html.count('<figure class="card"') == 1  # the text file is left out
    assert '<link rel="icon" href="data:,">' in html  # no /favicon.ico request (a 404 in the console)
    assert "background-image:url(data:image/png;base64," in html
    assert 'srcset="/photos/cat.jpg?w=320&amp;h=240&amp;fm=auto&amp;q=70 320w' in html
    assert '<source media="(max-width: 640px)"' in html and "sizes=" in html
    assert 'src="/photos/cat.jpg?fm=auto&amp;q=70" sizes="320px"' in html  # the client-hints example
    for name, kind in (("demo.js", "text/javascript"), ("demo.css", "text/css")):
        asset = origin.client.get(f"/_vf/demo/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    assert origin.client.get("/_vf/demo/static/nope.js").status_code == 404
    escape = origin.client.get("/_vf/demo/static/..%2Fapp.py")  # not a static file: a key under /_vf/
    assert escape.status_code == 400 and escape.json()["code"] == "invalid_key"


def test_demo_page_signs_its_urls_in_signed_mode(s3: Any) -> None:
    from vipsfront.url.policy import Policy, UnsignedPolicy

    policy = Policy.create(keys={"k1": b"0123456789abcdef0123"}, unsigned=UnsignedPolicy(widths=()))
    origin = make(s3, demo=True, policy=policy)
    html = origin.client.get("/_vf/demo").text
    assert "&amp;s=k1." in html and 'class="hints"' not in html
    first = html.split('src="', 2)[2].split('"', 1)[0].replace("&amp;", "&")
    assert first.startswith("/photos/cat.jpg?w=640&h=480&")
    served = origin.client.get(first)
    assert served.status_code == 200
    image = decode(served.content)
    assert (image.width, image.height) == (640, 480)


def test_demo_is_off_by_default(s3: Any) -> None:
    origin = make(s3)
    assert origin.client.get("/_vf/demo").status_code == 400  # a reserved path, not a key
