"""The network's one HTTP client to miners: pooled keep-alive connections, our errors.

The gateway (users' requests) and the validator (probes) both send chat requests
through :class:`MinerUpstream` with bodies from :func:`chat_body` and the coordinator's
signature header (:mod:`tensornode.net.signing`), so a miner receives the same bytes
from either and cannot serve validators better than users.

:class:`MinerUpstream` (the default) sends plain ``http://`` requests on the lean
keep-alive pool of :mod:`.http1` and anything else (``https://``) on one shared
``httpx.AsyncClient`` (:class:`HttpxUpstream`). Every transport problem becomes
:class:`~tensornode.gateway.failover.AttemptFailed` (``timeout=True`` for timeouts), so
no httpx or socket exception reaches the router. Tests can pass any :class:`Upstream`.

:meth:`Upstream.open_stream` is the streaming request: it returns once the miner's answer
head is in, and its :class:`UpstreamStream` reads the body as it arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any, Protocol

import httpx
import orjson

from tensornode.gateway.failover import AttemptFailed
from tensornode.gateway.http1 import Http1Pool, Http1Stream

MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""A miner's answer larger than this is a failure, not something to buffer."""
_HEADERS = {"content-type": "application/json", "accept": "application/json"}
_BACKGROUND: set[asyncio.Task[None]] = set()
"""Closes of abandoned httpx responses in progress (kept referenced until done)."""


class UpstreamStream(Protocol):
    """A miner's answer being received: status and content type, then the body's bytes."""

    status: int
    content_type: str

    async def read(self) -> bytes:
        """The next bytes as they arrive; b"" at the end; AttemptFailed when it breaks."""
        ...

    def close(self) -> None:
        """Abandon the answer (the connection closes, so the miner sees it); idempotent."""
        ...


async def read_all(stream: UpstreamStream, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The rest of a stream's body (AttemptFailed past ``limit`` bytes)."""
    data = bytearray()
    while chunk := await stream.read():
        data += chunk
        if len(data) > limit:
            stream.close()
            raise AttemptFailed("answer is too large")
    return bytes(data)


CHAT_FIELDS = ("prompt", "temperature", "max_tokens", "seed", "stream")
"""A chat body's known fields, in the order every request to a miner carries them."""


def chat_body(data: Mapping[str, Any]) -> bytes:
    """The bytes of a chat request to a miner: compact JSON, known fields first in a
    fixed order, then the rest by name, so how a user's client wrote its body (spacing,
    key order) never shows, and a probe reads like any user's request."""
    ordered = {k: data[k] for k in CHAT_FIELDS if k in data}
    ordered.update((k, data[k]) for k in sorted(data) if k not in ordered)
    return orjson.dumps(ordered)


def header_lines(headers: Mapping[str, str] | None) -> bytes:
    """``Name: value`` CRLF lines for :mod:`.http1` (values are ours: no CR or LF)."""
    if not headers:
        return b""
    return b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items())


class Upstream(Protocol):
    """Sends one request to a miner; raises AttemptFailed when it gets no HTTP answer."""

    async def post_json(
        self, url: str, body: bytes, *, timeout: float, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]: ...

    async def open_stream(
        self,
        url: str,
        body: bytes,
        *,
        timeout: float,
        idle_timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamStream:
        """POST ``body``; the answer once its head is in (within ``timeout``), each later
        read within ``idle_timeout``."""
        ...

    async def get_json(self, url: str, *, timeout: float) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


def _describe(exc: httpx.HTTPError) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class HttpxUpstream:
    """:class:`Upstream` over one shared ``httpx.AsyncClient`` (keep-alive pools)."""

    def __init__(
        self, *, max_connections: int = 1024, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        )
        self._client = httpx.AsyncClient(
            limits=limits, transport=transport, follow_redirects=False, trust_env=False
        )

    async def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        try:
            request = self._client.build_request(
                method,
                url,
                content=body,
                headers={**_HEADERS, **headers} if headers else _HEADERS,
                timeout=timeout,
            )
            response = await self._client.send(request, stream=True)
            try:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                    raise AttemptFailed(f"answer of {declared} bytes is too large")
                data = bytearray()
                async for chunk in response.aiter_raw():
                    data.extend(chunk)
                    if len(data) > MAX_ANSWER_BYTES:
                        raise AttemptFailed("answer is too large")
                return response.status_code, bytes(data)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise AttemptFailed(f"no answer within {timeout:g}s", timeout=True) from exc
        except httpx.HTTPError as exc:
            raise AttemptFailed(_describe(exc)) from exc

    async def post_json(
        self, url: str, body: bytes, *, timeout: float, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        return await self._send("POST", url, body, timeout, headers)

    async def open_stream(
        self,
        url: str,
        body: bytes,
        *,
        timeout: float,
        idle_timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamStream:
        timeouts = httpx.Timeout(timeout, read=idle_timeout)
        try:
            request = self._client.build_request(
                "POST",
                url,
                content=body,
                headers={**_HEADERS, **headers} if headers else _HEADERS,
                timeout=timeouts,
            )
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise AttemptFailed(f"no answer within {timeout:g}s", timeout=True) from exc
        except httpx.HTTPError as exc:
            raise AttemptFailed(_describe(exc)) from exc
        return _HttpxStream(response, idle_timeout)

    async def get_json(self, url: str, *, timeout: float) -> tuple[int, bytes]:
        return await self._send("GET", url, None, timeout)

    async def aclose(self) -> None:
        await self._client.aclose()


class _HttpxStream:
    """:class:`UpstreamStream` over an httpx streaming response."""

    def __init__(self, response: httpx.Response, idle_timeout: float) -> None:
        self.status = response.status_code
        self.content_type = response.headers.get("content-type", "").lower()
        self._response = response
        self._chunks: AsyncIterator[bytes] = response.aiter_raw()
        self._idle_timeout = idle_timeout
        self._closed = False

    async def read(self) -> bytes:
        if self._closed:
            return b""
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            self.close()
            return b""
        except httpx.TimeoutException as exc:
            self.close()
            raise AttemptFailed(
                f"the answer stalled for {self._idle_timeout:g}s", timeout=True
            ) from exc
        except httpx.HTTPError as exc:
            self.close()
            raise AttemptFailed(_describe(exc)) from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # aclose on an unread response closes its connection (never reused unread)
            task = asyncio.get_running_loop().create_task(self._response.aclose())
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)


class MinerUpstream:
    """Plain http on the lean pool (:mod:`.http1`), https on httpx."""

    def __init__(self) -> None:
        self._plain = Http1Pool(max_answer_bytes=MAX_ANSWER_BYTES)
        self._tls = HttpxUpstream()

    def post_json(
        self, url: str, body: bytes, *, timeout: float, headers: Mapping[str, str] | None = None
    ) -> Coroutine[Any, Any, tuple[int, bytes]]:
        # a plain function handing over the right coroutine: one frame less per request
        if url.startswith("http://"):
            extra = header_lines(headers)
            return self._plain.request("POST", url, body, timeout=timeout, extra=extra)
        return self._tls.post_json(url, body, timeout=timeout, headers=headers)

    def open_stream(
        self,
        url: str,
        body: bytes,
        *,
        timeout: float,
        idle_timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> Coroutine[Any, Any, UpstreamStream]:
        if url.startswith("http://"):
            return self._open_plain(url, body, timeout, idle_timeout, header_lines(headers))
        return self._tls.open_stream(
            url, body, timeout=timeout, idle_timeout=idle_timeout, headers=headers
        )

    async def _open_plain(
        self, url: str, body: bytes, timeout: float, idle_timeout: float, extra: bytes
    ) -> Http1Stream:
        return await self._plain.stream(
            "POST", url, body, timeout=timeout, idle_timeout=idle_timeout, extra=extra
        )

    async def get_json(self, url: str, *, timeout: float) -> tuple[int, bytes]:
        if url.startswith("http://"):
            return await self._plain.request("GET", url, None, timeout=timeout)
        return await self._tls.get_json(url, timeout=timeout)

    async def aclose(self) -> None:
        self._plain.close()
        await self._tls.aclose()
