"""How the coordinator app is served: stock uvicorn (uvloop and httptools where installed),
no access log, no ``server`` header, logging left to ours; the heap built at start-up
kept out of the garbage collector's full passes while it serves (:func:`heap_frozen`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Serve with the objects that exist now (the app, its routes and models, the ORM's
    mappings, imported modules: some 170 000) moved out of the collector's generations.

    A full collection walks every tracked object: on the 2-core bench machine that was
    ~110 ms with the whole loop stopped, so each one stalled every stream in flight (the
    64-stream p99 and jitter). Frozen, those objects are never walked; a full pass
    covers only what was made since (``gc.freeze``, the standard library's way to do
    this; it costs no pass of its own, so start-up stays fast). On exit the objects are
    handed back, so an app built and stopped many times in one process (the tests) holds
    nothing frozen.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
