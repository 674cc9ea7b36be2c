"""A ``/v1/chat/completions`` body as the gateway acts on it: :class:`CompletionCall`.

:func:`completion_call` validates a body as ``ChatCompletionRequest`` and then the miner's
``ChatRequest`` would (openai_compat.py), with their words for what is wrong. The hot
path's version: a body that plainly satisfies both (string messages, every field of
exactly its type and in range: what OpenAI clients send) is checked by hand, without
building the models. After an idle moment the machine's caches are cold, and on the
bench machine the models' validation then cost ~160 µs of a stream's time to first token
where this costs ~85 µs (``bench/gateway_streaming.py``); anything else (an error to
word, a value pydantic would coerce, content parts) goes through the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tensornode.contracts.miner import ChatRequest
from tensornode.gateway.plain_chat import plainly_valid
from tensornode.openai_compat import (
    completion_object,
    parse_completion_body,
    render_turns,
    to_chat_request,
)

DEFAULT_MAX_TOKENS: int = ChatRequest.model_fields["max_tokens"].default


@dataclass(frozen=True, slots=True)
class CompletionCall:
    """What a chat completion asks for."""

    model: str
    stream: bool
    include_usage: bool
    fields: dict[str, Any]
    """The miner request's fields the user set (``ChatRequest``'s, JSON-ready)."""

    @property
    def max_tokens(self) -> int:
        """The most tokens the miner is to generate."""
        sent: int | None = self.fields.get("max_tokens")
        return DEFAULT_MAX_TOKENS if sent is None else sent

    def chat_request(self) -> ChatRequest:
        return ChatRequest.model_validate(self.fields)


def completion_call(raw: bytes) -> CompletionCall:
    """The call a body makes; InvalidInput (400, OpenAI's words) for a bad one."""
    data = completion_object(raw)
    plain = plain_call(data)
    return plain if plain is not None else models_call(data)


def models_call(data: dict[str, Any]) -> CompletionCall:
    """The call, as the models judge it (InvalidInput naming the first bad field)."""
    body = parse_completion_body(data)
    request = to_chat_request(body)
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    fields = request.model_dump(mode="json", exclude_unset=True)
    return CompletionCall(body.model, body.stream, include_usage, fields)


def plain_call(data: dict[str, Any]) -> CompletionCall | None:
    """The call, when every field is plainly valid; None to let the models judge."""
    get = data.get
    model, messages = get("model"), get("messages")
    if type(model) is not str or type(messages) is not list or not messages:
        return None
    turns: list[tuple[str, str]] = []
    for message in messages:
        if type(message) is not dict:
            return None
        role, content = message.get("role"), message.get("content")
        if type(role) is not str or type(content) is not str:
            return None
        turns.append((role, content))
    for name in ("max_tokens", "max_completion_tokens"):  # both are checked, as the models do
        value = get(name)
        if value is not None and (type(value) is not int or value < 1):
            return None
    chosen = {
        "prompt": render_turns(turns),
        "max_tokens": get("max_completion_tokens") or get("max_tokens"),
        "temperature": get("temperature"),
        "seed": get("seed"),
        "stop": get("stop"),
    }
    fields = {name: value for name, value in chosen.items() if value is not None}
    stream, n, options = get("stream", False), get("n"), get("stream_options")
    if not plainly_valid(fields) or type(stream) is not bool:
        return None
    if n is not None and (type(n) is not int or n != 1):
        return None
    if options is not None and (
        type(options) is not dict or type(options.get("include_usage", False)) is not bool
    ):
        return None
    if "temperature" in fields:
        fields["temperature"] = float(fields["temperature"])
    if type(fields.get("stop")) is str:
        fields["stop"] = [fields["stop"]]
    include_usage = options is not None and options.get("include_usage", False)
    return CompletionCall(model, stream, include_usage, fields)
