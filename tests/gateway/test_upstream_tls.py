"""The https upstream (miners with TLS endpoints): streams relayed chunk by chunk over a
real TLS server on loopback, stalls and closes handled, an untrusted certificate refused."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loopback import ThreadedServer
from tensornode.gateway.failover import AttemptFailed
from tensornode.gateway.upstream import HttpxUpstream


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class EventMiner:
    """An ASGI miner that sends one event, then each next one when ``release`` is set."""

    release: threading.Event = field(default_factory=threading.Event)
    client_left: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            continue  # the request body, read whole
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'data: {"response": "one"}\n\n',
                    "more_body": True})  # fmt: skip
        waiting = asyncio.ensure_future(asyncio.to_thread(self.release.wait, 5))
        left = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({waiting, left}, return_when=asyncio.FIRST_COMPLETED)
        if left in done:
            self.client_left.set()
            return
        left.cancel()
        await send({"type": "http.response.body", "body": b'data: {"response": "two"}\n\n'})


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, EventMiner]]:
    cert, key = _certificate(tmp_path_factory.mktemp("tls"))
    miner = EventMiner()
    server = ThreadedServer(miner, ssl_certfile=str(cert), ssl_keyfile=str(key), lifespan="off")
    server.start()
    try:
        yield f"https://127.0.0.1:{server.port}", cert, miner
    finally:
        miner.release.set()
        server.stop()


def _trusting(cert: Path) -> HttpxUpstream:
    context = ssl.create_default_context(cafile=str(cert))
    return HttpxUpstream(transport=httpx.AsyncHTTPTransport(verify=context))


async def test_an_https_stream_is_read_event_by_event(tls: tuple[str, Path, EventMiner]) -> None:
    url, cert, miner = tls
    miner.release.clear()
    upstream = _trusting(cert)
    try:
        stream = await upstream.open_stream(url + "/api/chat", b"{}", timeout=5, idle_timeout=5)
        assert (stream.status, stream.content_type) == (200, "text/event-stream")
        first = await stream.read()  # while the miner still holds the second event back
        assert first == b'data: {"response": "one"}\n\n'
        miner.release.set()
        rest = b""
        while chunk := await stream.read():
            rest += chunk
        assert rest == b'data: {"response": "two"}\n\n'
    finally:
        await upstream.aclose()


async def test_a_stalled_https_stream_fails_and_a_closed_one_leaves_the_miner(
    tls: tuple[str, Path, EventMiner],
) -> None:
    url, cert, miner = tls
    miner.release.clear()
    miner.client_left.clear()
    upstream = _trusting(cert)
    try:
        stream = await upstream.open_stream(url + "/api/chat", b"{}", timeout=5, idle_timeout=0.3)
        assert await stream.read()
        with pytest.raises(AttemptFailed, match="stalled") as stalled:
            await stream.read()
        assert stalled.value.timeout
        assert await stream.read() == b""  # closed: nothing more
        left = await asyncio.to_thread(miner.client_left.wait, 5)
        assert left  # closing the stream closed the miner's connection
    finally:
        await upstream.aclose()


async def test_an_untrusted_certificate_is_refused(tls: tuple[str, Path, EventMiner]) -> None:
    url, _, _ = tls
    upstream = HttpxUpstream()  # the system's trust store: a self-signed miner is refused
    try:
        with pytest.raises(AttemptFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            await upstream.open_stream(url + "/api/chat", b"{}", timeout=5, idle_timeout=5)
    finally:
        await upstream.aclose()
