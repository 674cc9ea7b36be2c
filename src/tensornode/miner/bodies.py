"""Reading a request body on the miner, its size limit enforced while reading."""

from __future__ import annotations

from fastapi import Request

from tensornode.errors import PayloadTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body; 413 (PayloadTooLarge) once it is larger than ``limit`` bytes."""
    too_large = PayloadTooLarge(f"request body is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large
    return bytes(body)
