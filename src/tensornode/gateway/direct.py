"""The gateway's chat endpoints as direct routes of the coordinator's HTTP protocol.

Under ``tensornode coordinator`` (coordinator/serving.py) a POST to ``/api/chat``,
``/api/chat/{model_type}`` or ``/v1/chat/completions`` whose target is a plain path (no
query, no percent-escapes) is answered by :class:`GatewayDirect` straight from the
protocol, without an ASGI scope or cycle; a user who disconnects cancels the request
(the protocol cancels its task, which closes the connection to the miner). Any other
request, and any the protocol does not take directly, reaches the same behaviour through
the raw ASGI fast path (asgi.py): both end in :func:`~tensornode.gateway.http_api.serve_route`,
so the answers are the same but for the ``date`` header's second.
"""

from __future__ import annotations

from functools import partial

from tensornode.coordinator.serving import DirectHandler, DirectRequest, DirectResponse
from tensornode.gateway.http_api import (
    Incoming,
    Reply,
    body_too_large,
    chat_route,
    reply_headers,
    route_error_reply,
    serve_route,
)
from tensornode.gateway.service import Gateway

POST = b"POST"
MAX_ROUTES = 256
"""Request targets whose handler is remembered (the chat paths, model types in use)."""


class GatewayDirect:
    """Routes and serves the chat endpoints for the coordinator's HTTP protocol."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._handlers: dict[bytes, DirectHandler] = {}

    def handler(self, method: bytes, url: bytes) -> DirectHandler | None:
        """The handler of a POST to a chat endpoint, else None."""
        if method != POST:
            return None
        found = self._handlers.get(url)
        if found is None:
            if b"?" in url or b"%" in url:
                return None
            route = chat_route(url.decode("latin-1"))
            if route is None:
                return None
            found = partial(self._serve, route)
            if len(self._handlers) < MAX_ROUTES:
                self._handlers[url] = found
        return found

    def _incoming(self, request: DirectRequest) -> Incoming | None:
        """What the chat endpoints need of the request; None when its body is too large."""
        if len(request.body) > self.gateway.config.max_body_bytes:
            return None
        authorization = None
        for key, value in request.headers:
            if key == b"authorization":
                authorization = value.decode("latin-1")
                break
        client = request.client
        return Incoming(authorization, client[0] if client else None, request.body, None)

    async def _serve(self, route: str, request: DirectRequest) -> DirectResponse:
        incoming = self._incoming(request)
        if incoming is None:
            limit = self.gateway.config.max_body_bytes
            return _response(route_error_reply(route, body_too_large(limit)))
        return _response(await serve_route(self.gateway, route, incoming))


def _response(reply: Reply) -> DirectResponse:
    return DirectResponse(reply.status, reply_headers(reply), reply.body)
