"""Fetching a user-given URL without letting the user aim us at our own network (SSRF).

Rules (every refusal is an :class:`~tensornode.errors.InvalidInput` naming the reason):

- ``http`` and ``https`` only, no credentials in the URL;
- the host name is resolved and *every* address checked: loopback, private, shared
  (CGNAT), link-local, multicast, reserved and unspecified addresses are refused, for
  IPv4 and IPv6, including IPv4 embedded in IPv6 (mapped, 6to4, NAT64) — unless
  ``allow_private`` (dev mode);
- the connection goes to an address that was checked (the URL's host travels in the
  ``Host`` header and TLS SNI), so a DNS answer that changes between check and connect
  (rebinding) changes nothing;
- redirects are followed by hand, at most ``max_redirects``, each re-checked;
- the body is streamed with a size cap (``PayloadTooLarge``) under one overall deadline;
  no proxy from the environment, no compressed transfer (the cap counts real bytes).

``resolver`` and ``transport`` are injectable, so tests can stand in for DNS and for the
remote server without any network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from tensornode.errors import InvalidInput, PayloadTooLarge

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""``(host, port) -> addresses``; the default asks the system resolver."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHECKS: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "an unspecified"),
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
    ("is_private", "a private"),
)


def address_refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched from ("127.0.0.1 is a loopback address"), or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and (reason := address_refusal(embedded)):
            return f"{ip} embeds {reason}"
    for attribute, kind in _CHECKS:
        if getattr(ip, attribute):
            return f"{ip} is {kind} address"
    if not ip.is_global:
        return f"{ip} is not a globally routable address"
    return None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


@dataclass(frozen=True)
class VettedURL:
    """A URL whose host resolved to ``addresses``, all of them allowed."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]


async def check_url_allowed(
    url: str | httpx.URL,
    *,
    allow_private: bool,
    what: str = "URL",
    resolver: Resolver | None = None,
) -> VettedURL:
    """Check ``url`` against the rules above (resolving its host); InvalidInput if refused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidInput(f"{what} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput(f"{what} must be http or https, not {parsed.scheme or 'relative'!r}")
    if parsed.userinfo:
        raise InvalidInput(f"{what} must not carry credentials")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise InvalidInput(f"{what} has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, port, what, resolver or system_resolver)
    if not allow_private:
        for ip in addresses:
            if reason := address_refusal(ip):
                raise InvalidInput(f"{what} refused: {host} resolves to {reason}")
    return VettedURL(parsed, tuple(addresses))


def pinned_url(vetted: VettedURL) -> str:
    """The URL to connect to from now on: an ``http`` URL's host name replaced by the
    first address it was checked at, so later requests never resolve it again (a DNS
    answer that changes after the check, rebinding, changes nothing). ``https`` keeps its
    name: the certificate binds it, so a rebound address fails verification."""
    url = vetted.url
    if url.scheme != "http" or not vetted.addresses:
        return str(url).rstrip("/")
    address = vetted.addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    return str(url.copy_with(host=host)).rstrip("/")


async def _resolve(host: str, port: int, what: str, resolver: Resolver) -> list[IPAddress]:
    try:
        addresses = await resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(f"{what} refused: cannot resolve {host}: {exc}") from None
    if not addresses:
        raise InvalidInput(f"{what} refused: {host} has no address")
    return addresses


async def fetch_limited(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    timeout: float,
    max_redirects: int = 3,
    what: str = "URL",
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """GET ``url`` under the rules above and return its body (at most ``max_bytes``)."""
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(
                transport=transport,
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(timeout),
            ) as client,
        ):
            current: str | httpx.URL = url
            for _ in range(max_redirects + 1):
                vetted = await check_url_allowed(
                    current, allow_private=allow_private, what=what, resolver=resolver
                )
                body, location = await _get(client, vetted, max_bytes, what)
                if location is None:
                    return body
                current = vetted.url.join(location)
            raise InvalidInput(f"{what} refused: more than {max_redirects} redirects")
    except (TimeoutError, httpx.TimeoutException):
        raise InvalidInput(f"fetching {what} timed out after {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise InvalidInput(f"cannot fetch {what}: {exc}") from None


async def _get(
    client: httpx.AsyncClient, vetted: VettedURL, max_bytes: int, what: str
) -> tuple[bytes, str | None]:
    """One request to a checked address: (body, None) or (b"", redirect location)."""
    url = vetted.url
    headers = {"Host": url.netloc.decode("ascii"), "Accept-Encoding": "identity"}
    host = url.raw_host.decode("ascii")
    named = all(host != str(ip) for ip in vetted.addresses)  # a name, not a literal address
    extensions = {"sni_hostname": host} if url.scheme == "https" and named else {}
    last_error: httpx.TransportError | None = None
    for ip in vetted.addresses:
        request = client.build_request(
            "GET", url.copy_with(host=str(ip)), headers=headers, extensions=extensions
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError as exc:  # try the host's next address
            last_error = exc
            continue
        try:
            return await _read(response, max_bytes, what)
        finally:
            await response.aclose()
    raise InvalidInput(f"cannot fetch {what}: {host}: {last_error}")


async def _read(response: httpx.Response, max_bytes: int, what: str) -> tuple[bytes, str | None]:
    if response.status_code in _REDIRECTS:
        location = response.headers.get("location")
        if not location:
            raise InvalidInput(f"{what} answered HTTP {response.status_code} without Location")
        return b"", location
    if response.status_code != 200:
        raise InvalidInput(f"{what} answered HTTP {response.status_code}, not 200")
    too_large = PayloadTooLarge(f"{what}: the response is larger than {max_bytes} bytes")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise
    except httpx.TransportError as exc:
        raise InvalidInput(f"cannot fetch {what}: {exc}") from None
    return b"".join(chunks), None
