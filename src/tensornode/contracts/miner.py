"""The miner API (../shared/reference/contracts.md): what every miner serves on port 3000.

``ChatRequest`` ignores unknown fields; ``seed``, ``stop``, ``logprobs`` and ``ignore_eos``
are our extensions. Limits that depend on the server (max_tokens
ceiling, context length) are checked by the server, not here.
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


class HealthResponse(BaseModel):
    status: str
    model_loaded: bool
    uptime: str
    uptime_seconds: float | None = None
    queue_depth: int | None = None
    version: str | None = None


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
