"""The ``openai`` backends: forward to an OpenAI-compatible server (vLLM, Ollama, llama.cpp).

``openai`` posts to ``/chat/completions`` (the server applies its chat template),
``openai-completions`` to ``/completions`` (raw prompt). The spec's target is the base
URL including ``/v1``, optionally followed by ``#model-name``; without a name the first
model of ``GET /models`` is used. The upstream batches by itself, so requests go out one
per call, several at a time. Failures become :mod:`tensornode.errors` exceptions here.

Answers stream: each request asks the upstream for ``stream: true`` (with usage in the
last chunk where the server offers it) and hands the text to the miner's sink as the
chunks arrive, so a streaming client of the miner sees the upstream's tokens as they are
made. When the sink says nobody waits any more, the upstream connection is closed, which
stops the generation there (vLLM, Ollama and llama.cpp abort a request whose client left).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from tensornode.errors import BackendError, ConfigurationError, InvalidInput, ServiceUnavailable
from tensornode.miner.backends.base import (
    BackendInfo,
    GenerationRequest,
    GenerationResult,
    TextSink,
)

DEFAULT_CONTEXT = 4096
_FINISH = {"stop": "stop", "length": "length", "eos": "stop"}


def parse_target(target: str) -> tuple[str, str | None]:
    """``http://host:8000/v1#model`` → (base URL, model name or None)."""
    base, _, model = target.partition("#")
    base = base.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(f"the openai backend needs an http(s) base URL, got {target!r}")
    return base, model or None


def _upstream_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error or body)[:200]


@contextmanager
def _translated(base_url: str) -> Iterator[None]:
    """httpx errors and upstream statuses → our errors, naming the upstream."""
    try:
        yield
    except httpx.HTTPStatusError as exc:
        status, message = exc.response.status_code, _upstream_message(exc.response)
        if status in (429, 503):
            retry = exc.response.headers.get("retry-after", "1")
            seconds = float(retry) if retry.replace(".", "", 1).isdigit() else 1.0
            raise ServiceUnavailable(
                f"upstream {base_url} is busy: {message}", retry_after=seconds
            ) from None
        if 400 <= status < 500:
            raise InvalidInput(f"upstream rejected the request: {message}", status=422) from None
        raise BackendError(f"upstream {base_url} answered {status}: {message}") from None
    except httpx.HTTPError as exc:
        raise BackendError(f"upstream {base_url} failed: {type(exc).__name__}: {exc}") from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BackendError(f"upstream {base_url} sent an unexpected answer: {exc}") from None


class OpenAIUpstreamBackend:
    """Answers by calling an OpenAI-compatible server."""

    name = "openai"
    max_batch_size = 1
    streams = True

    def __init__(
        self,
        target: str,
        *,
        chat: bool = True,
        max_concurrency: int = 16,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url, self.model = parse_target(target)
        self.chat = chat
        self.name = "openai" if chat else "openai-completions"
        self.max_concurrency = max_concurrency
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None
        self._info: BackendInfo | None = None

    def load(self) -> None:
        """Check the upstream answers ``GET /models`` and pick the model name."""
        client = httpx.Client(
            base_url=self.base_url, timeout=self._timeout, transport=self._transport
        )
        with _translated(self.base_url):
            response = client.get("/models")
            response.raise_for_status()
            models: list[dict[str, Any]] = response.json().get("data", [])
        entry = next((m for m in models if m.get("id") == self.model), None)
        if self.model is None:
            if not models:
                client.close()
                raise ConfigurationError(f"upstream {self.base_url} lists no models")
            entry = models[0]
            self.model = str(entry["id"])
        context = (entry or {}).get("max_model_len") or (entry or {}).get("context_length")
        self._client = client
        self._info = BackendInfo(
            model_name=self.model,
            context_length=int(context) if isinstance(context, int) else DEFAULT_CONTEXT,
            device=f"upstream {self.base_url}",
        )

    def info(self) -> BackendInfo:
        """The upstream model's description."""
        if self._info is None:
            raise BackendError("upstream is not loaded")
        return self._info

    def count_tokens(self, prompt: str) -> int | None:
        """Unknown here: the upstream checks its own context."""
        return None

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if self.chat:
            body["messages"] = [{"role": "user", "content": request.prompt}]
        else:
            body["prompt"] = request.prompt
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if request.ignore_eos:
            body["ignore_eos"] = True  # vLLM's extension; others ignore unknown fields
        return body

    def _one(self, row: int, request: GenerationRequest, sink: TextSink | None) -> GenerationResult:
        client = self._client
        if client is None:
            raise BackendError("upstream is not loaded")
        path = "/chat/completions" if self.chat else "/completions"
        body = {**self._body(request), "stream": True, "stream_options": {"include_usage": True}}
        with _translated(self.base_url), client.stream("POST", path, json=body) as response:
            if response.is_error:
                response.read()
                response.raise_for_status()
            if "text/event-stream" not in response.headers.get("content-type", ""):
                return self._whole(response.read())  # a server that does not stream
            return self._streamed(row, response, sink)

    def _whole(self, raw: bytes) -> GenerationResult:
        body = json.loads(raw)
        choice = body["choices"][0]
        text = choice["message"]["content"] if self.chat else choice["text"]
        usage = body.get("usage") or {}
        return GenerationResult(
            text=str(text or ""),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=_FINISH.get(str(choice.get("finish_reason")), "stop"),
        )

    def _streamed(
        self, row: int, response: httpx.Response, sink: TextSink | None
    ) -> GenerationResult:
        """Read the upstream's chunks, telling ``sink`` the text so far after each."""
        text, pieces, finish = "", 0, "stop"
        usage: dict[str, Any] = {}
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # comments, event names, blank separators
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise BackendError(f"upstream {self.base_url} failed mid-answer: {chunk['error']}")
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or ():
                delta = (choice.get("delta") or {}) if self.chat else choice
                piece = delta.get("content") if self.chat else delta.get("text")
                if choice.get("finish_reason"):
                    finish = _FINISH.get(str(choice["finish_reason"]), "stop")
                if piece:
                    text, pieces = text + str(piece), pieces + 1
                    if sink is not None and not sink(row, text):  # closing stops the upstream
                        prompt_tokens = int(usage.get("prompt_tokens", 0))
                        return GenerationResult("", prompt_tokens, 0, "cancelled")
        return GenerationResult(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", pieces)),
            finish_reason=finish,
        )

    def generate_batch(
        self, requests: Sequence[GenerationRequest], sink: TextSink | None = None
    ) -> list[GenerationResult]:
        """One upstream call per request (the batcher sends one at a time), streamed."""
        return [self._one(i, r, sink) for i, r in enumerate(requests)]

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None
