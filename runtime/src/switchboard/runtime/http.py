"""HTTP edge shared by every service: the correlation id of each request.

Server spans come from FastAPI's native OpenTelemetry support (it continues the caller's
``traceparent``); this middleware only carries the correlation id: taken from ``X-Correlation-ID`` when
the caller sent a sane one, made up otherwise, echoed on the response and attached to every event the
request causes.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.runtime.context import correlation_id, new_correlation_id
from switchboard.runtime.errors import problem_response

CORRELATION_HEADER = b"x-correlation-id"
_MAX_CORRELATION_CHARS = 100


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(CORRELATION_HEADER)
        text = incoming.decode("latin-1") if incoming else ""
        corr = text if text and _sane(text) else new_correlation_id()
        token = correlation_id.set(corr)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (CORRELATION_HEADER, corr.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)


INTERNAL_TOKEN_HEADER = "x-internal-token"  # noqa: S105 - a header name
_OPEN_PATHS = ("/healthz", "/readyz")


class InternalOnly:
    """Lets through only requests that carry the deployment's internal token (the gateway's)."""

    def __init__(self, app: ASGIApp, token: str, type_base: str) -> None:
        self.app = app
        self.token = token.encode()
        self.type_base = type_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path", "") in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = dict(scope.get("headers") or []).get(INTERNAL_TOKEN_HEADER.encode(), b"")
        if hmac.compare_digest(presented, self.token):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = problem_response(
            401,
            "unauthenticated",
            detail="This service is reached through the gateway only.",
            type_base=self.type_base,
        )
        await response(scope, receive, send)


def _sane(value: str) -> bool:
    return len(value) <= _MAX_CORRELATION_CHARS and all(
        c.isascii() and (c.isalnum() or c in "-_.:") for c in value
    )
