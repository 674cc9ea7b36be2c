"""Fetching a Dockerfile by URL: SSRF refusals, redirects, size and time limits.

A real HTTP server on loopback stands in for the user's server; where a test needs a
"public" first hop, a fake resolver and httpx's MockTransport stand in for DNS and the
remote server, so nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tensornode.errors import InvalidInput, PayloadTooLarge
from tensornode.net.safe_fetch import IPAddress, address_refusal, check_url_allowed
from tensornode.runtimes.dockerfile import fetch_dockerfile

DOCKERFILE = b'FROM python:3.11-slim\nCMD ["python3", "-m", "http.server", "3000"]\n'

Route = Callable[[asyncio.StreamWriter], Awaitable[None]]


class LoopbackServer:
    """A raw HTTP/1.1 server on 127.0.0.1 whose answers each test scripts by path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:  # a stalling route would otherwise outlive the test
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *headers = head.decode().split("\r\n")
            path = request_line.split()[1]
            host = next(
                (h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("host:")), ""
            )
            self.requests.append((path, host))
            await self.routes.get(path, not_found)(writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up (size cap, timeout): nothing to answer
        finally:
            writer.close()
            self._handlers.discard(task)


def respond(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    async def route(writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return route


not_found = respond("404 Not Found", b"nope")


class Body(httpx.AsyncByteStream):
    """A response body the fake remote streams, as a real server's is."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    srv = LoopbackServer()
    await srv.start()
    yield srv
    await srv.close()


async def no_dns(host: str, port: int) -> list[IPAddress]:
    raise AssertionError(f"resolved {host}: a literal address must need no DNS")


def fake_dns(table: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


# -- the loopback server: allowed only in dev mode ---------------------------------------


async def test_a_loopback_dockerfile_is_fetched_in_dev_mode(server: LoopbackServer) -> None:
    server.routes["/Dockerfile"] = respond("200 OK", DOCKERFILE)
    assert await fetch_dockerfile(f"{server.url}/Dockerfile", allow_private=True) == DOCKERFILE
    assert server.requests == [("/Dockerfile", f"127.0.0.1:{server.port}")]


async def test_a_loopback_url_is_refused_outside_dev_mode(server: LoopbackServer) -> None:
    server.routes["/Dockerfile"] = respond("200 OK", DOCKERFILE)
    with pytest.raises(InvalidInput) as caught:
        await fetch_dockerfile(f"{server.url}/Dockerfile", allow_private=False)
    assert caught.value.message == (
        "Dockerfile URL refused: 127.0.0.1 resolves to 127.0.0.1 is a loopback address"
    )
    assert server.requests == []  # refused before connecting


async def test_localhost_by_name_is_refused(server: LoopbackServer) -> None:
    with pytest.raises(InvalidInput, match=r"refused: localhost resolves to .* loopback address"):
        await fetch_dockerfile(f"http://localhost:{server.port}/Dockerfile", allow_private=False)
    assert server.requests == []


async def test_redirects_are_followed_and_rechecked(server: LoopbackServer) -> None:
    server.routes["/old"] = respond("301 Moved", headers={"Location": "/Dockerfile"})
    server.routes["/Dockerfile"] = respond("200 OK", DOCKERFILE)
    assert await fetch_dockerfile(f"{server.url}/old", allow_private=True) == DOCKERFILE
    assert [path for path, _ in server.requests] == ["/old", "/Dockerfile"]


async def test_a_redirect_loop_stops(server: LoopbackServer) -> None:
    server.routes["/loop"] = respond("302 Found", headers={"Location": "/loop"})
    with pytest.raises(InvalidInput, match="refused: more than 3 redirects"):
        await fetch_dockerfile(f"{server.url}/loop", allow_private=True)
    assert len(server.requests) == 4


async def test_http_errors_are_reported(server: LoopbackServer) -> None:
    with pytest.raises(InvalidInput, match="Dockerfile URL answered HTTP 404, not 200"):
        await fetch_dockerfile(f"{server.url}/missing", allow_private=True)


async def test_a_page_that_is_not_a_dockerfile_is_refused(server: LoopbackServer) -> None:
    server.routes["/page"] = respond("200 OK", b"<html>Sign in to GitHub</html>\n")
    with pytest.raises(InvalidInput, match="first instruction must be FROM, but line 1 is <HTML>"):
        await fetch_dockerfile(f"{server.url}/page", allow_private=True)


async def test_an_oversize_body_is_refused(server: LoopbackServer) -> None:
    server.routes["/big"] = respond("200 OK", DOCKERFILE + b"#" * 300_000)
    with pytest.raises(PayloadTooLarge, match="larger than 262144 bytes"):
        await fetch_dockerfile(f"{server.url}/big", allow_private=True)


async def test_an_oversize_body_without_length_is_cut_off(server: LoopbackServer) -> None:
    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + DOCKERFILE)
        for _ in range(100):  # 6.4 MB if nobody stops reading
            writer.write(b"#" * 65536 + b"\n")
            await writer.drain()

    server.routes["/stream"] = endless
    with pytest.raises(PayloadTooLarge):
        await fetch_dockerfile(f"{server.url}/stream", allow_private=True, max_bytes=100_000)


async def test_a_slow_server_times_out(server: LoopbackServer) -> None:
    async def stall(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nFROM")
        await writer.drain()
        await asyncio.sleep(60)

    server.routes["/slow"] = stall
    with pytest.raises(InvalidInput) as caught:
        await fetch_dockerfile(f"{server.url}/slow", allow_private=True, timeout=0.5)
    assert caught.value.message == "fetching Dockerfile URL timed out after 0.5 s"


# -- refusals that need no network at all -------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("10.1.2.3", "10.1.2.3 is a private address"),
        ("172.16.0.1", "172.16.0.1 is a private address"),
        ("192.168.1.1", "192.168.1.1 is a private address"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),  # cloud metadata
        ("100.64.0.1", "100.64.0.1 is not a globally routable address"),  # CGNAT
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("240.0.0.1", "240.0.0.1 is a reserved address"),
        ("[::1]", "::1 is a loopback address"),
        ("[::]", ":: is an unspecified address"),
        ("[fe80::1]", "fe80::1 is a link-local address"),
        ("[fc00::1]", "fc00::1 is a private address"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1 embeds 127.0.0.1 is a loopback address"),
        ("[::ffff:10.0.0.1]", "::ffff:a00:1 embeds 10.0.0.1 is a private address"),
        ("[2002:7f00:1::]", "2002:7f00:1:: embeds 127.0.0.1 is a loopback address"),  # 6to4
        ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe embeds 169.254.169.254 is a link-local"),
    ],
)
async def test_literal_private_addresses_are_refused_without_dns(host: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await check_url_allowed(
            f"http://{host}:8080/Dockerfile", allow_private=False, resolver=no_dns
        )
    assert caught.value.message.startswith("URL refused: ")
    assert reason in caught.value.message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "URL must be http or https, not 'file'"),
        ("ftp://example.com/Dockerfile", "URL must be http or https, not 'ftp'"),
        ("gopher://127.0.0.1:6379/_INFO", "URL must be http or https, not 'gopher'"),
        ("Dockerfile", "URL must be http or https, not 'relative'"),
        ("https://user:pw@example.com/Dockerfile", "URL must not carry credentials"),
        ("http:///Dockerfile", "URL has no host"),
    ],
)
async def test_other_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await check_url_allowed(url, allow_private=True, resolver=no_dns)
    assert caught.value.message == message


async def test_a_public_literal_address_passes_the_check() -> None:
    vetted = await check_url_allowed(
        "https://93.184.216.34/D", allow_private=False, resolver=no_dns
    )
    assert vetted.addresses == (ipaddress.ip_address("93.184.216.34"),)


async def test_every_address_of_a_name_is_checked() -> None:
    dns = fake_dns({"mixed.example": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(InvalidInput, match=r"mixed\.example resolves to 10\.0\.0\.7 is a private"):
        await check_url_allowed("https://mixed.example/D", allow_private=False, resolver=dns)
    vetted = await check_url_allowed("https://mixed.example/D", allow_private=True, resolver=dns)
    assert len(vetted.addresses) == 2


def test_public_addresses_have_no_refusal() -> None:
    for ip in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "2002:5db8:d822::"):
        assert address_refusal(ipaddress.ip_address(ip)) is None


# -- a public first hop (fake DNS and remote), then a redirect ------------------------------


async def test_a_redirect_to_loopback_is_refused(server: LoopbackServer) -> None:
    seen: list[httpx.Request] = []

    def remote(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": f"{server.url}/Dockerfile"})

    server.routes["/Dockerfile"] = respond("200 OK", DOCKERFILE)
    with pytest.raises(InvalidInput) as caught:
        await fetch_dockerfile(
            "https://files.example/Dockerfile",
            allow_private=False,
            resolver=fake_dns({"files.example": ["93.184.216.34"]}),
            transport=httpx.MockTransport(remote),
        )
    assert caught.value.message == (
        "Dockerfile URL refused: 127.0.0.1 resolves to 127.0.0.1 is a loopback address"
    )
    assert server.requests == []
    # the first hop went to the vetted address, with the name in Host and TLS SNI
    assert [str(r.url) for r in seen] == ["https://93.184.216.34/Dockerfile"]
    assert seen[0].headers["Host"] == "files.example"
    assert seen[0].extensions["sni_hostname"] == "files.example"


async def test_dns_rebinding_cannot_move_the_connection() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    seen: list[str] = []

    def remote(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200, stream=Body(DOCKERFILE))

    content = await fetch_dockerfile(
        "http://rebind.example/Dockerfile",
        allow_private=False,
        resolver=rebinding,
        transport=httpx.MockTransport(remote),
    )
    assert content == DOCKERFILE
    assert seen == ["93.184.216.34"]  # resolved once, connected to what was checked


async def test_an_unresolvable_name_is_refused() -> None:
    async def nxdomain(host: str, port: int) -> list[IPAddress]:
        raise OSError("Name or service not known")

    with pytest.raises(InvalidInput, match=r"cannot resolve nowhere\.example: Name or service"):
        await check_url_allowed("https://nowhere.example/", allow_private=False, resolver=nxdomain)
