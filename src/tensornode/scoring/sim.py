"""Scripted miners: real HTTP servers on loopback with known behaviour (tests, bench).

A :class:`MinerFarm` hosts any number of miners in one event loop, one listening port
each, speaking just enough HTTP/1.1 (keep-alive, Content-Length bodies) to serve
``POST /api/chat[/<type>]``, ``GET /health`` and ``GET /info``; it costs far less than a
web framework per request, so a thousand of them fit beside a validator on two cores.

A :class:`ScriptedMiner` answers with a function of the prompt (:data:`BEHAVIOURS`:
``correct`` solves every generated challenge with the families' own solvers and answers
open questions with the reference), under a chosen answer key, after a delay, failing
every n-th request if asked. ``python -m tensornode.scoring.sim N`` serves a bench
farm in its own process (prints ``{"miners": {id: url}}`` and serves until stdin closes).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tensornode.errors import Unauthenticated
from tensornode.net.signing import HEADER, RequestVerifier
from tensornode.scoring.challenges import solve_prompt
from tensornode.scoring.challenges.open_questions import find_question

WRONG_ANSWER = "Bananas are berries, botanically speaking, while strawberries are not."


def correct(prompt: str) -> str:
    """The right answer to any generated challenge (reference text for open ones)."""
    return solve_prompt(prompt) or "I do not know."


def paraphrasing(prompt: str) -> str:
    """Right answers, with open questions answered in other words than the reference."""
    item = find_question(prompt)
    return item.paraphrase if item else correct(prompt)


def copying(prompt: str) -> str:
    """What a copy ring answers: right on verifiable tasks, one shared text on open ones."""
    item = find_question(prompt)
    if item is None:
        return correct(prompt)
    return f"Here is what I found: {item.paraphrase} Hope that helps!"


def verbose(prompt: str) -> str:
    """A chatty model: restates the task, explains, finishes with the answer."""
    answer = correct(prompt)
    if find_question(prompt):
        return answer
    return f"Let me work through this step by step.\nThe task was clear.\nAnswer: {answer}"


def signed(behaviour: Callable[[str], str], tag: str) -> Callable[[str], str]:
    """``behaviour`` with open answers in the miner's own wording (a tag appended), as
    honest miners sampling their own text never give the same long answer."""

    def answer(prompt: str) -> str:
        reply = behaviour(prompt)
        return f"{reply} ({tag})" if find_question(prompt) else reply

    return answer


BEHAVIOURS: dict[str, Callable[[str], str]] = {
    "correct": correct,
    "paraphrase": paraphrasing,
    "copier": copying,
    "verbose": verbose,
    "wrong": lambda prompt: WRONG_ANSWER,
    "echo": lambda prompt: prompt,
    "empty": lambda prompt: "",
}


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """A request a recording miner received, as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    head: bytes = b""  # the request line and headers exactly as received


Reply = tuple[int, dict[str, Any]]
Handler = Callable[[Mapping[str, Any], Mapping[str, str], bytes], Awaitable[Reply]]
"""A custom chat handler: (parsed body, lower-cased headers, raw body) -> (status, JSON)."""


@dataclass
class ScriptedMiner:
    """A miner with known behaviour; ``fail_every=2`` fails every second request (500).

    ``token_delay_s`` adds a delay per word of the answer, as a real model's decoding
    does; ``verifier`` refuses chat requests the coordinator did not sign for this miner
    (401, as the reference miner with ``miner.coordinator_key``); ``handler`` replaces
    the chat behaviour altogether (relays, broken backends).
    """

    answer: Callable[[str], str] = correct
    key: str = "response"
    delay_s: float = 0.0
    token_delay_s: float = 0.0
    fail_every: int = 0
    record: bool = False
    verifier: RequestVerifier | None = None
    handler: Handler | None = None
    requests: int = 0
    seen: list[SeenRequest] = field(default_factory=list)

    async def chat(
        self,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        raw: bytes = b"",
    ) -> Reply:
        """The reply to one ``/api/chat`` request body."""
        self.requests += 1
        if self.verifier is not None:
            try:
                self.verifier.check((headers or {}).get(HEADER.lower()), raw)
            except Unauthenticated as exc:
                return 401, {"error": exc.message}
        if self.handler is not None:
            return await self.handler(body, headers or {}, raw)
        prompt = str(body.get("prompt", ""))
        reply = self.answer(prompt)
        delay = self.delay_s + self.token_delay_s * len(reply.split())
        if delay:
            await asyncio.sleep(delay)
        if self.fail_every and self.requests % self.fail_every == 0:
            return 500, {"error": "backend failed"}
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return 200, {
            self.key: reply,
            "model": "scripted",
            "timestamp": stamp,
            "processing_time": delay,
        }


class MinerFarm:
    """Many scripted miners, one loopback port each, in the current event loop."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.miners: dict[str, ScriptedMiner] = {}
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def add(self, miner_id: str, miner: ScriptedMiner) -> str:
        """Serve ``miner`` on a fresh port; its base URL."""
        server = await asyncio.start_server(
            lambda r, w: self._connection(miner, r, w), "127.0.0.1", 0, backlog=64
        )
        port = server.sockets[0].getsockname()[1]
        self._servers.append(server)
        self.miners[miner_id] = miner
        self.urls[miner_id] = f"http://127.0.0.1:{port}"
        return self.urls[miner_id]

    def add_down(self, miner_id: str) -> str:
        """A URL on a port nothing listens on (a miner that is down)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.urls[miner_id] = f"http://127.0.0.1:{port}"
        return self.urls[miner_id]

    async def close(self) -> None:
        """Stop every server and drop their connections."""
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def __aenter__(self) -> MinerFarm:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connection(
        self, miner: ScriptedMiner, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                if miner.record:
                    miner.seen.append(SeenRequest(method, path, headers, body, head))
                status, payload = await _route(miner, method, path, headers, body)
                data = json.dumps(payload).encode()
                reason = "OK" if status == 200 else "Error"
                head_out = (
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                writer.write(head_out.encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return  # the client went away or sent garbage: nothing to answer
        except asyncio.CancelledError:
            return  # the farm is closing (ending quietly avoids 3.11's callback traceback)
        finally:
            if task is not None:
                self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()


async def _route(
    miner: ScriptedMiner, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    if method == "POST" and path.startswith("/api/chat"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return 400, {"error": "body is not JSON"}
        return await miner.chat(parsed if isinstance(parsed, dict) else {}, headers, body)
    if method == "GET" and path == "/health":
        return 200, {"status": "healthy", "model_loaded": True, "uptime": "0h 0m 1s"}
    if method == "GET" and path == "/info":
        info = {"model_name": "scripted", "model_type": "llm", "version": "1.0.0"}
        return 200, {**info, "capabilities": ["qa"], "max_context_length": 4096}
    return 404, {"error": "not found"}


def bench_mix(count: int) -> dict[str, ScriptedMiner]:
    """The benchmark's population: mostly honest (each in its own wording), some wrong,
    echoing, flaky, answering under old keys, and a copy ring."""
    kinds = ["correct"] * 13 + ["paraphrase", "verbose", "wrong", "echo", "flaky", "old_keys"]
    kinds.append("copier")
    out = {}
    for i in range(count):
        kind = kinds[i % len(kinds)]
        behaviour = BEHAVIOURS.get(kind, correct)
        honest = kind not in ("wrong", "echo", "copier")
        miner = ScriptedMiner(answer=signed(behaviour, f"node {i}") if honest else behaviour)
        if kind == "flaky":
            miner.fail_every = 2
        elif kind == "old_keys":
            miner.key = ("text", "message", "answer", "output")[i % 4]
        out[f"m{i:04d}-{kind}"] = miner
    return out


async def _serve_bench(count: int) -> None:
    farm = MinerFarm()
    for miner_id, miner in bench_mix(count).items():
        await farm.add(miner_id, miner)
    print(json.dumps({"miners": farm.urls}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # serve until the parent closes stdin
    await farm.close()


if __name__ == "__main__":
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_serve_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
