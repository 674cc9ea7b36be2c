"""Pages load nothing from other hosts: no CDN, no external fonts, no tracking."""

from __future__ import annotations

import re
from pathlib import Path

from tensornode.web import STATIC_DIR, TEMPLATES_DIR

URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'<>)]*""")
ALLOWED = ("http://www.w3.org/2000/svg",)  # the SVG namespace name, never fetched
TEXT_SUFFIXES = {".html", ".js", ".css", ".svg"}


def _web_files() -> list[Path]:
    files = [p for d in (TEMPLATES_DIR, STATIC_DIR) for p in d.rglob("*") if p.is_file()]
    return sorted(p for p in files if p.suffix in TEXT_SUFFIXES)


def test_there_are_templates_scripts_and_styles() -> None:
    suffixes = {p.suffix for p in _web_files()}
    assert {".html", ".js", ".css"} <= suffixes


def test_no_url_to_another_host_in_templates_or_static() -> None:
    found = []
    for path in _web_files():
        for match in URL.finditer(path.read_text(encoding="utf-8")):
            if not match.group(0).startswith(ALLOWED):
                found.append(f"{path.name}: {match.group(0)}")
    assert found == []


def test_no_css_import_or_font_face_from_elsewhere() -> None:
    for path in _web_files():
        text = path.read_text(encoding="utf-8")
        assert "@import" not in text, path
        assert "@font-face" not in text, path


def test_scripts_never_parse_html_from_data() -> None:
    for path in STATIC_DIR.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.name} uses {sink}"
