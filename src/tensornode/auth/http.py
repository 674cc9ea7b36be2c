"""Sessions over HTTP: the credential resolver and the cookies.

:func:`session_credential` plugs into ``app.state.credential_resolvers`` (see
coordinator/deps.py), ahead of the API-key resolver:

- ``Authorization: Bearer tns_…``: a session token (the CLI); no CSRF check. Any other
  bearer is an API key and is left to the next resolver.
- else the ``tn_session`` cookie (a browser): unsafe methods must pass the CSRF check.

The resolved session is kept on ``request.state.auth_session`` (``auth_via``: how).
"""

from __future__ import annotations

import ipaddress

from fastapi import Request, Response

from tensornode.auth.csrf import check_csrf
from tensornode.auth.models import AuthSession
from tensornode.auth.service import AuthService
from tensornode.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, NewSession, is_session_token
from tensornode.config import Settings
from tensornode.coordinator.core import Coordinator


def auth_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth
    return service


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def session_credential(request: Request, core: Coordinator) -> str | None:
    """The account of a session token (bearer) or session cookie; None when neither."""
    service = auth_service(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not is_session_token(token):
            return None  # an API key, or a malformed header: the API-key resolver answers
        row = await service.session(token)
        _remember(request, row, "bearer")
        return row.account_id
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    row = await service.session(cookie)
    trusted = list(service.config.allowed_origins)
    if service.config.public_url:
        trusted.append(service.config.public_url)
    check_csrf(request, row, trusted)
    _remember(request, row, "cookie")
    return row.account_id


def _remember(request: Request, row: AuthSession, via: str) -> None:
    request.state.auth_session = row
    request.state.auth_via = via


def secure_cookies(request: Request, settings: Settings) -> bool:
    """Secure unless configured otherwise, in dev mode, or served on loopback."""
    if settings.auth.secure_cookies is not None:
        return settings.auth.secure_cookies
    return not (settings.dev_mode or _is_loopback(request.url.hostname))


def set_session_cookies(
    response: Response, request: Request, settings: Settings, new: NewSession
) -> None:
    """The HttpOnly session cookie and the readable CSRF cookie, both SameSite=Lax."""
    secure = secure_cookies(request, settings)
    max_age = settings.auth.session_ttl_s  # the session's expiry, counted from now
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        new.csrf_token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="lax",
    )


def clear_session_cookies(response: Response, request: Request, settings: Settings) -> None:
    secure = secure_cookies(request, settings)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", secure=secure, httponly=name == SESSION_COOKIE, samesite="lax"
        )
