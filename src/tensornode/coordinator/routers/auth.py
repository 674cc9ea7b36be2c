"""``/auth``: wallet sign-in (challenge → verify), sessions, logout, dev registration.

Thin: :class:`~tensornode.auth.service.AuthService` does the work; this module maps
HTTP to it and sets the cookies. :func:`install_auth` wires the service, the session
resolver and these routes into an app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response, status

from tensornode.auth.csrf import own_origin
from tensornode.auth.http import (
    auth_service,
    clear_session_cookies,
    client_ip,
    session_credential,
    set_session_cookies,
)
from tensornode.auth.models import AuthSession
from tensornode.auth.service import AuthService
from tensornode.contracts.auth import (
    ChallengePublic,
    ChallengeRequest,
    LogoutPublic,
    RegisterRequest,
    RegistrationPublic,
    SessionInfo,
    SessionPublic,
    VerifyRequest,
)
from tensornode.coordinator.core import Coordinator
from tensornode.coordinator.deps import CoordinatorDep
from tensornode.errors import Unauthenticated

router = APIRouter(prefix="/auth", tags=["auth"])
AuthDep = Annotated[AuthService, Depends(auth_service)]


async def current_session(request: Request, core: CoordinatorDep) -> AuthSession:
    """The caller's session (bearer ``tns_…`` or cookie, CSRF-checked); 401 without one."""
    if await session_credential(request, core) is None:
        raise Unauthenticated("no session: sign in with POST /auth/challenge and /auth/verify")
    row: AuthSession = request.state.auth_session
    return row


SessionDep = Annotated[AuthSession, Depends(current_session)]


@router.post("/challenge")
async def challenge(body: ChallengeRequest, request: Request, auth: AuthDep) -> ChallengePublic:
    """A one-time message for the account's wallet to sign (expires after a few minutes)."""
    issued = await auth.challenge(body.account_id, url=own_origin(request), ip=client_ip(request))
    return ChallengePublic(
        challenge_id=issued.id,
        account_id=issued.account_id,
        message=issued.message,
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
    )


@router.post("/verify")
async def verify(
    body: VerifyRequest, request: Request, response: Response, auth: AuthDep
) -> SessionPublic:
    """Check the signed challenge; a session as cookies (browser) and a bearer token (CLI)."""
    new = await auth.verify(
        account_id=body.account_id,
        signature=body.signature,
        challenge_id=body.challenge_id,
        message=body.message,
        public_key=body.public_key,
        ip=client_ip(request),
    )
    set_session_cookies(response, request, auth.settings, new)
    response.headers["Cache-Control"] = "no-store"  # the body carries the bearer token
    return SessionPublic(
        account_id=new.account_id,
        token=new.token,
        csrf_token=new.csrf_token,
        expires_at=new.expires_at,
    )


@router.get("/session")
async def session_info(request: Request, row: SessionDep) -> SessionInfo:
    """Who the current session belongs to, and until when."""
    return SessionInfo(
        account_id=row.account_id, expires_at=row.expires_at, via=request.state.auth_via
    )


@router.post("/logout")
async def logout(
    request: Request, response: Response, row: SessionDep, auth: AuthDep
) -> LogoutPublic:
    """Revoke the current session and clear its cookies."""
    await auth.logout(row)
    clear_session_cookies(response, request, auth.settings)
    return LogoutPublic(revoked=True)


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: RegisterRequest, request: Request, auth: AuthDep) -> RegistrationPublic:
    """Dev mode: register a wallet's public key on the local ledger, funded by the faucet."""
    done = await auth.register(body.public_key, body.account_id, ip=client_ip(request))
    return RegistrationPublic(
        account_id=done.account_id,
        key_type=done.key.type,
        public_key=done.key.hex,
        public_key_der=done.key.der_hex,
        created=done.created,
        funded=done.funded,
        balance=done.balance,
        unit=auth.settings.rewards.unit,
    )


def install_auth(app: FastAPI, core: Coordinator) -> AuthService:
    """Add sign-in to a coordinator app: its service, its session resolver, its routes."""
    service = AuthService.for_coordinator(core.settings, core.db, core.http)
    app.state.auth = service
    app.state.credential_resolvers.insert(0, session_credential)
    app.include_router(router)
    return service
