"""The one HTTP app every service joins: `create_app(router, ...)` mounts routers on a FastAPI app with the limits
that keep a public endpoint alive, and answers every error as `{"error": "<one sentence>"}`.

    app = create_app(tf_serving_router(model))          # + image generation, chat, RAG routers as they come
    Server(app, port=8501).serve_forever()               # uvicorn (see `server`)

Limits, applied before any route runs (`BodyLimits`):
  - a body over `max_body_bytes` gets 413, whether announced by Content-Length or streamed in chunks, and is
    never buffered past the limit;
  - a body that does not arrive within `body_timeout_s` (a Content-Length larger than what is sent, a client
    that stalls) gets 408, so no request waits forever;
  - a malformed Content-Length (`abc`, `-5`) is refused by uvicorn's HTTP parser with 400 before the app sees it.
Routers raise `ApiError(status, message)` for refusals; FastAPI's own errors (unknown path 404, wrong method 405
with an Allow header, path parameters that fail validation) get the same `{"error": ...}` body.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 32 * 2**20  # ~1,800 digit images in TF Serving's JSON; a bigger batch is a mistake or an attack
BODY_TIMEOUT_S = 30.0


class ApiError(Exception):
    """A refused request: HTTP status + one sentence, sent as {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ErrorBody(BaseModel):
    error: str


# Declared on every route, so the OpenAPI schema names each refusal the app can send (and FastAPI's unused 422
# body is left out: it is only added when no 4XX response is declared).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "Refused: malformed or invalid request, unknown model, wrong "
            "method (405), body too large (413) or too slow (408)."},
}


def create_app(*routers: APIRouter, max_body_bytes: int = MAX_BODY_BYTES, body_timeout_s: float = BODY_TIMEOUT_S,
               title: str = "genai-roadmap services") -> FastAPI:
    app = FastAPI(title=title, version="1", redirect_slashes=False,
                  description="Model services of genai-roadmap. Errors are always {\"error\": \"...\"}.")
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(BodyLimits, max_bytes=max_body_bytes, timeout_s=body_timeout_s)
    return app


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": str(exc)}, exc.status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    # Starlette's 404/405 say "Not Found"/"Method Not Allowed"; TF Serving's wording names the request.
    message = f"Malformed request: {request.method} {request.url.path}" if exc.status_code in (404, 405) \
        else str(exc.detail)
    return JSONResponse({"error": message}, exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 400)


class BodyLimits:
    """Reads the whole body under a size cap and a deadline, then hands it to the app. Pure ASGI middleware:
    it runs before routing, so no route can forget it."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope["headers"]).get(b"content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.max_bytes:
            await self._refuse(413, f"request body of {int(announced)} bytes is over the limit of "
                               f"{self.max_bytes} bytes", scope, receive, send)
            return
        body = bytearray()
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        more = True
        while more:
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.0))
            except asyncio.TimeoutError:
                await self._refuse(408, f"request body did not arrive within {self.timeout_s:g} s "
                                   f"({len(body)} bytes came)", scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(413, f"request body is over the limit of {self.max_bytes} bytes",
                                   scope, receive, send)
                return
            more = message.get("more_body", False)

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: waits for the disconnect, as the server's receive does

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
        # Connection: close, since the rest of the body (if any) is never read.
        response = JSONResponse({"error": message}, status, headers={"Connection": "close"})
        await response(scope, receive, send)
