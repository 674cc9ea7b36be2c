"""The web pages: Jinja2 templates, the project's own static JS/CSS, server-drawn SVG charts.

No CDN and no external fonts: everything a page loads comes from ``/static``.
"""

from __future__ import annotations

from pathlib import Path

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
