"""OpenAI chat completions over the miner API: schemas and translation, no I/O.

Shared by the gateway's ``/v1/chat/completions`` and the reference miner's own.

Request → miner ``ChatRequest``:

- ``model`` names a model type (subnet): ``llm`` or ``tensornode/llm``.
- ``messages`` become one prompt. A lone user message is sent as it is (so
  ``/v1/chat/completions`` and ``/api/chat`` answer the same prompt the same way);
  anything else is rendered one message per block, ``Role: content``, blocks separated
  by a blank line, ending with ``Assistant:`` for the model to continue::

      System: You are terse.

      User: What is 2+2?

      Assistant:

  Content may be a string or a list of ``{"type": "text", "text": ...}`` parts (joined);
  other part types are refused (400).
- ``max_completion_tokens`` (or the older ``max_tokens``), ``temperature``, ``seed``,
  ``stop`` pass through; ``n`` must be 1; other fields are ignored.

Answer → ``chat.completion`` with ``usage`` (zeros when the miner reports none) and our
``miner_id``. ``stream: true`` answers with server-sent events in OpenAI's chunk format
(:class:`CompletionChunks`) as the text is generated: a role chunk, a chunk per piece
of text, a finish chunk, a usage chunk when ``stream_options.include_usage``, then
``data: [DONE]``.

Errors under ``/v1`` use OpenAI's shape ``{"error": {"message", "type", "code"}}``, so
OpenAI clients raise their usual exceptions; the rest of the coordinator keeps ours.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from tensornode.contracts.miner import ChatRequest, ChatResponse
from tensornode.errors import InvalidInput
from tensornode.gateway.fastjson import UnsafeJSON, loads

MODEL_PREFIX = "tensornode/"


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: StrictStr
    content: StrictStr | list[TextPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The parts of OpenAI's chat completion request the gateway understands."""

    model_config = ConfigDict(extra="ignore")

    model: StrictStr
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = None
    stop: StrictStr | list[StrictStr] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1)


def model_type_of(model: str) -> str:
    """``tensornode/llm`` → ``llm``."""
    return model.removeprefix(MODEL_PREFIX)


def _text_of(message: ChatMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    texts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise InvalidInput(f"only text content is supported, not {part.type!r}")
        texts.append(part.text)
    return "\n".join(texts)


def render_prompt(messages: list[ChatMessage]) -> str:
    """One prompt from the chat (the rendering in this module's docstring)."""
    return render_turns([(m.role, _text_of(m)) for m in messages])


def render_turns(turns: list[tuple[str, str]]) -> str:
    """One prompt from (role, text) turns (the rendering in this module's docstring)."""
    if len(turns) == 1 and turns[0][0] == "user":
        return turns[0][1]
    blocks = [f"{role.capitalize()}: {text}" for role, text in turns]
    return "\n\n".join([*blocks, "Assistant:"])


def to_chat_request(body: ChatCompletionRequest) -> ChatRequest:
    """The miner request for a chat completion; InvalidInput as the miner API words it."""
    if body.n not in (None, 1):
        raise InvalidInput("n: only n=1 is supported")
    fields: dict[str, Any] = {"prompt": render_prompt(body.messages)}
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None:
        fields["max_tokens"] = max_tokens
    if body.temperature is not None:
        fields["temperature"] = body.temperature
    if body.seed is not None:
        fields["seed"] = body.seed
    if body.stop is not None:
        fields["stop"] = body.stop
    try:
        return ChatRequest.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        reason = str(first["msg"]).removeprefix("Value error, ")
        if field == "prompt":
            field = "messages"
        raise InvalidInput(f"{field}: {reason}", status=400) from None


def parse_completion_request(raw: bytes) -> ChatCompletionRequest:
    """Validate a ``/v1/chat/completions`` body; InvalidInput names the first bad field."""
    return parse_completion_body(completion_object(raw))


def completion_object(raw: bytes) -> dict[str, Any]:
    """A ``/v1/chat/completions`` body's JSON object; InvalidInput when it is none."""
    try:
        data = loads(raw)
    except UnsafeJSON as exc:
        raise InvalidInput(str(exc)) from None
    except ValueError:
        raise InvalidInput("malformed JSON body") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    return data


def parse_completion_body(data: dict[str, Any]) -> ChatCompletionRequest:
    """Validate a ``/v1/chat/completions`` body's object (see parse_completion_request)."""
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"{field}: {first['msg']}") from None


def _usage(response: ChatResponse) -> dict[str, int]:
    usage = response.usage
    if usage is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def finish_reason(response: ChatResponse, request: ChatRequest) -> Literal["stop", "length"]:
    """``length`` when the miner used the whole token budget (as far as it says)."""
    usage = response.usage
    if usage is not None and usage.completion_tokens >= request.max_tokens:
        return "length"
    return "stop"


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def completion_body(
    response: ChatResponse, request: ChatRequest, *, model: str, miner_id: str | None
) -> dict[str, Any]:
    """A ``chat.completion`` object (with the ``miner_id`` that answered, at the gateway)."""
    body: dict[str, Any] = {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": response.response},
                "finish_reason": finish_reason(response, request),
                "logprobs": None,
            }
        ],
        "usage": _usage(response),
    }
    if miner_id is not None:
        body["miner_id"] = miner_id
    return body


def openai_finish_reason(finish: str | None, completion_tokens: int, max_tokens: int) -> str:
    """OpenAI's finish reason for ours (the miner's, when it says; else from the usage)."""
    if finish in ("length", "context"):
        return "length"
    if finish is None and completion_tokens >= max_tokens:
        return "length"
    return "stop"


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"


_CONTENT_HEAD = b'"choices":[{"index":0,"delta":{"content":'
_CONTENT_TAIL = b'},"finish_reason":null,"logprobs":null}]}\n\n'


class CompletionChunks:
    """The events of one streamed chat completion, in OpenAI's chunk format."""

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        head = {
            "id": completion_id(),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self._prefix = b"data: " + orjson.dumps(head)[:-1] + b","  # one chunk a token: cheap

    def _chunk(self, delta: dict[str, str], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return self._prefix + orjson.dumps({"choices": [choice]})[1:] + b"\n\n"

    def role(self) -> bytes:
        """The first chunk: the assistant's role."""
        return self._chunk({"role": "assistant", "content": ""}, None)

    def content(self, text: str) -> bytes:
        """A piece of the answer's text (one a token: written as bytes around the text,
        which is what ``_chunk`` would make of it)."""
        return self._prefix + _CONTENT_HEAD + orjson.dumps(text) + _CONTENT_TAIL

    def finish(self, reason: str, usage: dict[str, int] | None) -> bytes:
        """The finish chunk, the usage chunk if asked for, and ``[DONE]``."""
        out = self._chunk({}, reason)
        if self.include_usage:
            body = json.loads(self._prefix.removeprefix(b"data: ")[:-1] + b"}")
            body.update(choices=[], usage=usage or usage_body(0, 0))
            out += _event(body)
        return out + DONE_EVENT


OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", "invalid_request"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    503: ("service_unavailable", "no_miner_available"),
}


def openai_error_body(status: int, message: str) -> dict[str, Any]:
    """``{"error": {"message", "type", "code"}}`` for a status."""
    default = ("api_error", "upstream_error" if status in (502, 504) else "internal_error")
    kind, code = OPENAI_ERROR_TYPES.get(status, default)
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}
