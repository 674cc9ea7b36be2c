"""The pages render with their landmarks, labelled fields and a strict CSP."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

PAGES = {
    "/": ("Network overview", ["leaderboard", "miners", "stat-healthy", "stat-epoch"]),
    "/ui/miner": ("Miner", ["instances", "deploy-form", "estimate", "progress", "logs-dialog"]),
    "/ui/validator": ("Validator", ["rounds", "results", "manual-form"]),
    "/ui/rewards": ("Rewards", ["epochs", "payouts", "earnings-chart"]),
    "/ui/playground": ("Playground", ["chat-form", "chat-log"]),
}


class Outline(HTMLParser):
    """What a test needs from a page: ids, labels, form fields, h1, script and style URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.fields: list[dict[str, str | None]] = []
        self.h1: list[str] = []
        self.current: list[str] = []
        self.assets: list[str] = []
        self._in_h1 = False
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea"):
            self.fields.append({**a, "_wrapped": "yes" if self._label_depth else None})
        if tag == "h1":
            self._in_h1 = True
        if a.get("aria-current") == "page":
            self.current.append(str(a.get("href")))
        if tag == "script" and a.get("src"):
            self.assets.append(str(a["src"]))
        if tag == "link" and a.get("href"):
            self.assets.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_h1 and data.strip():
            self.h1.append(data.strip())


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("path", list(PAGES))
async def test_page_renders_with_landmarks(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = outline(resp.text)
    heading, ids = PAGES[path]
    assert page.h1 == [heading]
    assert {"main", "wallet", "wallet-create", "wallet-signin", "wallet-account"} <= page.ids
    assert set(ids) <= page.ids, set(ids) - page.ids
    assert '<nav class="tabs" aria-label="Main">' in resp.text
    assert page.current == [path]
    assert "/static/js/header.js" in page.assets and "/static/css/app.css" in page.assets


@pytest.mark.parametrize("path", list(PAGES))
async def test_every_form_field_has_a_label(client: httpx.AsyncClient, path: str) -> None:
    page = outline((await client.get(path)).text)
    for field in page.fields:
        if field.get("type") == "hidden":
            continue
        labelled = field.get("id") in page.label_for or field["_wrapped"] or field.get("aria-label")
        assert labelled, f"{path}: unlabelled field {field}"


@pytest.mark.parametrize("path", list(PAGES))
async def test_pages_load_only_own_scripts_and_styles(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path)
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", resp.text), "inline script"
    assert " style=" not in resp.text, "inline style (blocked by the CSP)"
    for asset in outline(resp.text).assets:
        assert asset.startswith("/static/"), asset
        assert (await client.get(asset)).status_code == 200, asset


async def test_miner_form_offers_the_guides_choices(client: httpx.AsyncClient) -> None:
    html = (await client.get("/ui/miner")).text
    for method in ("builtin", "url", "upload"):
        assert f'name="method" value="{method}"' in html
    assert 'id="port" name="port" type="number" min="1" max="65535" value="3000"' in html
    assert "Create &amp; Deploy" in html


async def test_dev_mode_is_told_to_the_page(
    client: httpx.AsyncClient, production_client: httpx.AsyncClient
) -> None:
    dev = (await client.get("/")).text
    prod = (await production_client.get("/")).text
    assert 'data-dev-mode="true"' in dev and "Dev network" in dev
    assert 'data-dev-mode="false"' in prod and "Dev network" not in prod


async def test_static_files_have_their_types(client: httpx.AsyncClient) -> None:
    js = await client.get("/static/js/app.js")
    css = await client.get("/static/css/app.css")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await client.get("/static/js/nope.js")).status_code == 404


async def test_unknown_ui_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ui/nope")
    assert resp.status_code == 404
    assert resp.json() == {"error": "not found: GET /ui/nope"}
