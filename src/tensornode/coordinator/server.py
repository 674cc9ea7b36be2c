"""How the coordinator app is served: stock uvicorn (uvloop and httptools where installed),
no access log, no ``server`` header, logging left to ours."""

from __future__ import annotations

from typing import Any

import uvicorn


def server_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the coordinator app (``options``: host, port, ...)."""
    settings: dict[str, Any] = {
        "loop": "auto",
        "http": "auto",
        "access_log": False,
        "server_header": False,
        "log_config": None,
    }
    return uvicorn.Config(app, **{**settings, **options})
