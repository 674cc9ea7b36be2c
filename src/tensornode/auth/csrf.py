"""CSRF defence for cookie sessions: a state-changing request must prove it is ours.

A cookie travels with any cross-site form post; a bearer token does not, so only
cookie-authenticated unsafe methods are checked. Two proofs are accepted:

- ``X-CSRF-Token`` equal to the session's CSRF token (the double-submit ``tn_csrf``
  cookie, readable only by pages of our origin);
- an ``Origin`` header naming our own origin (or one in ``auth.allowed_origins``).

SameSite=Lax on the session cookie is a third, browser-side layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request

from tensornode.auth.models import AuthSession
from tensornode.auth.sessions import CSRF_HEADER, csrf_matches
from tensornode.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origin(request: Request) -> str:
    """The origin this request was addressed to."""
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}".lower()


def check_csrf(request: Request, row: AuthSession, trusted_origins: Iterable[str]) -> None:
    """Forbidden unless a cookie-authenticated unsafe request carries a CSRF proof."""
    if request.method.upper() in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER)
    if token is not None:
        if not csrf_matches(row, token):
            raise Forbidden(f"CSRF check failed: {CSRF_HEADER} does not match this session")
        return
    origin = request.headers.get("origin")
    trusted = {own_origin(request), *(origin_of(o) for o in trusted_origins)}
    if origin is not None and origin.lower() in trusted:
        return
    raise Forbidden(
        f"CSRF check failed: a cookie-authenticated {request.method} needs the {CSRF_HEADER}"
        " header (the tn_csrf cookie's value) or a same-origin Origin header"
    )
