"""The FastAPI routes of the model server. FastAPI reads the annotations of the route
functions at runtime, so this module imports FastAPI at the top."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

if TYPE_CHECKING:
    from headrace.serving.app import ModelServer


#: An oversized body is read (and dropped) up to this size before the 413 is sent, so a
#: client still sending sees the answer instead of a reset connection.
DRAIN_BYTES = 64 * 1024 * 1024
INLINE_BYTES = 64 * 1024  # bodies larger than this are predicted in a worker thread


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"the body is larger than {limit} bytes"},
        status_code=413,
        headers={"connection": "close"},
    )


async def _drain(request: Request, seen: int) -> None:
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > DRAIN_BYTES:
            break


def create_app(server: "ModelServer") -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        server.start()
        try:
            yield
        finally:
            server.stop()

    app = FastAPI(
        title=f"headrace: {server.model}@{server.alias}",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    limit = server.max_body_bytes
    from starlette.concurrency import run_in_threadpool

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            server.metrics.observe(413, None)
            if declared.isdigit() and int(declared) <= DRAIN_BYTES:
                await _drain(request, 0)
            return _too_large(limit)
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                server.metrics.observe(413, None)
                await _drain(request, size)
                return _too_large(limit)
            chunks.append(chunk)
        body = b"".join(chunks)
        if size > INLINE_BYTES:
            # A large batch would hold the event loop (and /health, /metrics) for its whole
            # prediction; small requests stay inline, where a thread hop would cost more
            # than the prediction itself.
            status, answer = await run_in_threadpool(server.handle_predict, body)
        else:
            status, answer = server.handle_predict(body)
        return JSONResponse(answer, status_code=status)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return server.health()

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        logger = server.logger
        text = server.metrics.render(
            server.current, server.alias, logger.written, logger.failures, logger.dropped
        )
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app
