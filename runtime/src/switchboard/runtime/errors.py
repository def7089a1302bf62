"""RFC 9457 problem details for every HTTP error, with a stable ``type`` per refusal.

Services raise :class:`Problem` (or a subclass) from their routes; validation errors, unknown routes,
oversized bodies and anything unexpected are turned into problem+json too, so a client never sees a
bare 500 or a stack trace.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.runtime.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
DEFAULT_TYPE_BASE = "https://switchboard.dev/errors/"

_STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}

_TITLES = {
    "bad-request": "Bad request",
    "unauthenticated": "Authentication required",
    "forbidden": "Not allowed",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflict",
    "payload-too-large": "Request body too large",
    "validation-error": "Invalid request",
    "internal-error": "Internal error",
    "unavailable": "Service unavailable",
}


class Problem(Exception):
    """A refusal with a stable type, e.g. ``Problem(409, "logout-blocked", detail=..., open=[...])``."""

    def __init__(
        self,
        status: int,
        slug: str,
        *,
        title: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title or slug)
        self.status = status
        self.slug = slug
        self.title = title or _TITLES.get(slug) or slug.replace("-", " ").capitalize()
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_body(
    status: int,
    slug: str,
    *,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    type_base: str = DEFAULT_TYPE_BASE,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_base + slug,
        "title": title or _TITLES.get(slug) or slug.replace("-", " ").capitalize(),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return body


def problem_response(
    status: int, slug: str, *, headers: dict[str, str] | None = None, **kwargs: Any
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, slug, **kwargs), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
        errors.append({"field": ".".join(loc) or "body", "message": str(error.get("msg", "invalid"))})
    return errors[:50]


def install_problem_handlers(app: FastAPI, *, type_base: str = DEFAULT_TYPE_BASE) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.slug,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            type_base=type_base,
            headers=exc.headers,
            **exc.extensions,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            422,
            "validation-error",
            detail=f"invalid fields: {fields}",
            instance=request.url.path,
            type_base=type_base,
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = _STATUS_SLUGS.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _TITLES.get(slug) else None
        return problem_response(
            exc.status_code,
            slug,
            detail=detail,
            instance=request.url.path,
            type_base=type_base,
            headers=dict(exc.headers or {}),
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid4().hex
        log.exception("unhandled error", incident=incident, path=request.url.path)
        return problem_response(
            500,
            "internal-error",
            detail=f"An unexpected error occurred; incident {incident} is logged.",
            instance=request.url.path,
            type_base=type_base,
            incident=incident,
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` with 413 problem+json, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, type_base: str = DEFAULT_TYPE_BASE) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.type_base = type_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload-too-large",
            detail=f"The request body exceeds {self.max_bytes} bytes.",
            instance=scope.get("path"),
            type_base=self.type_base,
            max_bytes=self.max_bytes,
        )
        await response(scope, receive, send)


class _BodyTooLarge(HTTPException):
    # An HTTPException, because FastAPI turns any other error while reading the body into a 400.
    def __init__(self) -> None:
        super().__init__(413, "The request body exceeds the size limit.")
