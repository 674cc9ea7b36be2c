"""Fuzzing the HTTP we parse ourselves: the gateway's miner client (gateway/http1.py)
against a loopback server answering arbitrary and mangled HTTP. Whatever a miner sends,
a request ends in (status, body within the limit) or AttemptFailed, in time."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensornode.gateway.failover import AttemptFailed
from tensornode.gateway.http1 import Http1Pool

from .test_http1 import _read_request, raw_server

LIMIT = 4096
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

_token = st.binary(min_size=0, max_size=40)
_header = st.tuples(
    st.sampled_from(
        [b"Content-Length", b"Transfer-Encoding", b"Connection", b"Content-Type", b"X-Y"]
    )
    | _token,
    st.sampled_from([b"0", b"5", b"-1", b"99999999999999999999", b"chunked", b"close"]) | _token,
)


@st.composite
def answers(draw: st.DrawFn) -> list[bytes]:
    """An HTTP answer, well-formed or mangled, split into arbitrary writes."""
    if draw(st.booleans()):
        raw = draw(st.binary(max_size=600))
    else:
        status = draw(st.sampled_from([b"200", b"500", b"99", b"abc", b"2000", b""]))
        version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"XTTP/1.1"]))
        headers = b"".join(k + b": " + v + b"\r\n" for k, v in draw(st.lists(_header, max_size=6)))
        body = draw(st.binary(max_size=LIMIT + 200))
        if draw(st.booleans()):
            size = draw(st.integers(0, len(body) + 10))
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (size, body)
        raw = version + b" " + status + b" OK\r\n" + headers + b"\r\n" + body
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=4)))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


async def _exchange(writes: list[bytes], close: bool) -> object:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        for chunk in writes:
            writer.write(chunk)
            await writer.drain()
        if not close:
            await asyncio.sleep(1.0)  # hold the connection open: the client's timeout ends it

    pool = Http1Pool(max_answer_bytes=LIMIT)
    async with raw_server(handler) as (url, _):
        try:
            return await pool.request("POST", f"{url}/api/chat", b"{}", timeout=0.3)
        except AttemptFailed as failed:
            return failed
        finally:
            pool.close()


@FUZZ
@given(writes=answers(), close=st.booleans())
def test_any_answer_ends_in_a_result_or_attempt_failed(writes: list[bytes], close: bool) -> None:
    outcome = asyncio.run(asyncio.wait_for(_exchange(writes, close), timeout=5))
    if isinstance(outcome, AttemptFailed):
        assert outcome.reason
        return
    assert isinstance(outcome, tuple)
    status, body = outcome
    assert isinstance(status, int) and isinstance(body, bytes)
    assert len(body) <= LIMIT
