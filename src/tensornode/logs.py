"""Structured logging: ``key=value`` text for people, one JSON object a line for machines.

Pass context as ``extra={"vm_id": ..., "miner_id": ...}``; it is rendered with the event.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
}


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        ctx = " ".join(f"{k}={v}" for k, v in _context(record).items())
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if ctx:
            line = f"{line} {ctx}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted.

    ``logging.StreamHandler(sys.stderr)`` keeps the stream it was given; a caller that swaps
    stderr for a while (typer's CliRunner, pytest's capture) closes that stream afterwards,
    and every later record then fails to write.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # closed or broken stream: logging's own policy
            self.handleError(record)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Route all logging to stderr in the chosen format (idempotent)."""
    handler = StderrHandler()
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
