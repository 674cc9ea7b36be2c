"""``tensornode miner serve``: run the reference miner (contracts.md's miner API).

The server listens at once and prints its URL; models load in the background (``/health``
answers 503 until they are ready). ``--port 0`` picks a free port (the printed URL says
which).
"""

from __future__ import annotations

import socket
from pathlib import Path

import typer
import uvicorn
from pydantic import ValidationError

from tensornode.cli.common import cli_settings, console, one_line_errors
from tensornode.config import MinerSettings, Settings
from tensornode.errors import ConfigurationError

DEFAULT_PORT = 3000


class _AnnouncingServer(uvicorn.Server):
    """uvicorn, printing the URL once the socket listens."""

    def __init__(self, config: uvicorn.Config, host: str) -> None:
        super().__init__(config)
        self._host = host

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then print the URL (with the real port when 0 was asked)."""
        await super().startup(sockets)
        if not self.started:
            return
        port = self.config.port
        for server in self.servers:
            for sock in server.sockets:
                port = sock.getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        console.print(f"TensorNode miner listening on http://{host}:{port}", highlight=False)
        console.file.flush()  # a supervisor reads this line through a pipe


def serve_settings(
    settings: Settings,
    *,
    batching: bool = True,
    cache: bool = True,
    max_tokens: int | None = None,
    batch_window_ms: float | None = None,
    max_batch_size: int | None = None,
) -> Settings:
    """``settings`` with the serve flags applied on top (flags left as None keep settings)."""
    updates: dict[str, object] = {
        k: v
        for k, v in {
            "max_tokens": max_tokens,
            "batch_window_ms": batch_window_ms,
            "max_batch_size": max_batch_size,
        }.items()
        if v is not None
    }
    if not batching:
        updates["batching"] = False
    if not cache:
        updates["cache"] = False
    try:
        miner = MinerSettings.model_validate({**settings.miner.model_dump(), **updates})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"--{field.replace('_', '-')}: {first['msg']}") from None
    return settings.model_copy(update={"miner": miner})


def serve(
    host: str = typer.Option("0.0.0.0", help="interface to listen on"),
    port: int = typer.Option(
        DEFAULT_PORT, envvar="PORT", help="port to listen on ($PORT, else 3000; 0: any free)"
    ),
    model: list[str] = typer.Option(
        ["llm=tiny"],
        "--model",
        "-m",
        help="TYPE=BACKEND[:TARGET], repeatable: llm=tiny, code=transformers:PATH_OR_HUB_ID, "
        "llm=openai:http://host:8000/v1#model-name, llm=openai-completions:URL, llm=echo",
    ),
    no_batching: bool = typer.Option(False, "--no-batching", help="one request at a time"),
    no_cache: bool = typer.Option(False, "--no-cache", help="no LRU of deterministic answers"),
    max_tokens: int | None = typer.Option(None, help="largest max_tokens a request may ask"),
    batch_window_ms: float | None = typer.Option(None, help="how long a batch may wait"),
    max_batch_size: int | None = typer.Option(None, help="most requests in one batch"),
    data_dir: Path | None = typer.Option(None, help="where models are cached"),
    log_level: str | None = typer.Option(None, help="DEBUG, INFO, WARNING, ..."),
) -> None:
    """Serve the reference miner: POST /api/chat (and /api/chat/TYPE), GET /health, GET /info."""
    from tensornode.miner.app import build_miner_app
    from tensornode.miner.service import MinerService

    with one_line_errors():
        settings = serve_settings(
            cli_settings(data_dir=data_dir, log_level=log_level),
            batching=not no_batching,
            cache=not no_cache,
            max_tokens=max_tokens,
            batch_window_ms=batch_window_ms,
            max_batch_size=max_batch_size,
        )
        settings.ensure_data_dir()
        service = MinerService.from_specs(settings, model)
        app = build_miner_app(settings, service)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # our logging, configured by cli_settings
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        _AnnouncingServer(config, host).run()
