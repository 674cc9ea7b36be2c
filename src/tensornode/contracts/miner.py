"""The miner API (../shared/reference/contracts.md): what every miner serves on port 3000.

``ChatRequest`` ignores unknown fields; ``seed``, ``stop``, ``logprobs``, ``ignore_eos``
and ``stream`` are our extensions. Limits that depend on the server (max_tokens
ceiling, context length) are checked by the server, not here.

Streaming (``stream: true``): a miner that streams answers ``200`` with
``Content-Type: text/event-stream``: server-sent events ``data: {json}`` (each ended by
a blank line), one :class:`ChatStreamEvent` per piece of new text as it is generated,
a last one with ``done: true`` and the answer's metadata, then ``data: [DONE]``. An
error after the answer began is an event ``{"error": "..."}`` and the stream ends
without ``[DONE]``. A miner that does not stream ignores the field and answers JSON, as
the guide's miners do; clients accept either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

ANSWER_KEYS = ("response", "text", "message", "answer", "output")
"""Keys a validator or the gateway accepts for a miner's answer, the guide's first."""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: StrictStr
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.7
    max_tokens: Annotated[int, Field(ge=1)] = 100
    seed: int | None = None
    stop: list[StrictStr] | None = None
    logprobs: bool = False
    ignore_eos: bool = False  # vLLM's extension: generate exactly max_tokens (benchmarks)
    stream: bool = False  # answer as server-sent events (the module docstring)

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt must not be empty")
        return v

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_list(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    response: str
    model: str
    timestamp: datetime
    processing_time: float
    usage: Usage | None = None


class ChatStreamEvent(BaseModel):
    """One event of a streamed answer: new text; the last one (``done``) has the rest."""

    response: str
    done: bool = False
    model: str | None = None
    timestamp: datetime | None = None
    processing_time: float | None = None
    usage: Usage | None = None
    finish_reason: str | None = None  # stop, length, context


class HealthResponse(BaseModel):
    status: str
    model_loaded: bool
    uptime: str
    uptime_seconds: float | None = None
    queue_depth: int | None = None
    version: str | None = None
    nonce: str | None = Field(
        None, description="the deployment nonce the coordinator gave (TENSORNODE_MINER__NONCE)"
    )


class InfoResponse(BaseModel):
    model_name: str
    model_type: str
    version: str
    capabilities: list[str]
    max_context_length: int
    max_concurrency: int | None = None
    weights_sha256: str | None = None
    quantization: str | None = None
    device: str | None = None
    models: list[str] | None = None
