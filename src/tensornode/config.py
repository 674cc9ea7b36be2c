"""Settings: one object, built once at the edge (CLI or test) and passed down.

Every field can be set by an environment variable with the prefix ``TENSORNODE_``
(nested sections use ``__``: ``TENSORNODE_MINER__MAX_TOKENS=256``). Nothing reads the
environment at import time: call :func:`load_settings` or build ``Settings(...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".tensornode"


class MinerSettings(BaseModel):
    """Limits and switches of the reference miner (``tensornode miner serve``)."""

    max_tokens: int = Field(512, ge=1, description="largest max_tokens a request may ask for")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="largest request body")
    batching: bool = True
    batch_window_ms: float = Field(5.0, ge=0.0)
    max_batch_size: int = Field(16, ge=1)
    cache: bool = True
    cache_size: int = Field(1024, ge=1)
    max_queue: int = Field(256, ge=1, description="waiting requests before 503")


class Settings(BaseSettings):
    """TensorNode's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="TENSORNODE_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    dev_mode: bool = Field(
        False, description="accept a bare walletAddress and loopback URLs; never in production"
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    miner: MinerSettings = Field(default_factory=MinerSettings)

    def ensure_data_dir(self) -> Path:
        """Create the data directory (0700) and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
