"""An internal service for gateway tests: echoes what it got, hashes large bodies as they
stream, produces large bodies on demand, and can be slow."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


async def _echo(request: Request) -> Response:
    body = await request.body()
    return Response(
        body,
        status_code=int(request.query_params.get("status", "200")),
        media_type=request.headers.get("content-type", "application/octet-stream"),
        headers={
            "x-echo-method": request.method,
            "x-echo-path": request.url.path,
            "x-echo-query": request.url.query,
            "x-echo-custom": request.headers.get("x-custom", ""),
            "x-echo-authorization": request.headers.get("authorization", ""),
            "x-echo-client": request.headers.get("x-road-client", ""),
            "x-echo-userid": request.headers.get("x-road-userid", ""),
        },
    )


async def _digest(request: Request) -> JSONResponse:
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse({"size": size, "sha256": digest.hexdigest()})


async def _produce(request: Request) -> StreamingResponse:
    size = int(request.query_params["size"])
    block = bytes(range(256)) * 256  # 64 KiB

    async def body() -> AsyncIterator[bytes]:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            left -= len(piece)
            yield piece

    return StreamingResponse(
        body(), media_type="application/octet-stream", headers={"content-length": str(size)}
    )


async def _slow(request: Request) -> JSONResponse:
    await asyncio.sleep(float(request.query_params.get("seconds", "3")))
    return JSONResponse({"late": True})


async def _empty(request: Request) -> Response:
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/digest", _digest, methods=["POST", "PUT"]),
        Route("/produce", _produce),
        Route("/slow", _slow),
        Route("/empty", _empty, methods=["DELETE"]),
        Route("/{rest:path}", _echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    ]
)
