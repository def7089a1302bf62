"""The gateway's HTTP surface beyond authentication: the widget's start, and every service call.

``/api/{service}/{path}`` reaches routing, messaging or acw after the authorisation table allows it;
the service's own answer (or problem) comes back unchanged. ``/widget/chats`` is the one call a
customer makes without a token: it starts a conversation and returns the token scoped to it.
"""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any
from urllib.parse import quote
from uuid import uuid4

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field

from switchboard.gateway.access import authorise
from switchboard.gateway.auth import Principal, Role, requires
from switchboard.gateway.upstream import Upstreams
from switchboard.runtime.errors import Problem
from switchboard.runtime.logs import get_logger

log = get_logger(__name__)
router = APIRouter()

SERVICES = ("routing", "messaging", "acw")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
MAX_PATH = 500


class BotTurnIn(BaseModel):
    role: str = Field(pattern=r"^(bot|customer)$")
    text: str = Field(min_length=1, max_length=4000)
    at: str | None = Field(default=None, max_length=40)


class StartChat(BaseModel):
    customer_name: str | None = Field(default=None, min_length=1, max_length=100)
    intent: str | None = Field(default=None, min_length=1, max_length=100)
    queue_hint: str | None = Field(default=None, min_length=1, max_length=200)
    bot_transcript: list[BotTurnIn] = Field(default_factory=list, max_length=200)


class ChatStarted(BaseModel):
    conversation_id: str
    customer_id: str
    token: str
    expires_in: int
    conversation: dict[str, Any]


def _upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


@router.post(
    "/widget/chats",
    response_model=ChatStarted,
    status_code=201,
    tags=["chat widget"],
    summary="Start a chat from the widget; returns a token that reaches only this conversation",
    responses={429: {"description": "too many chats from this address"}},
)
async def start_chat(body: StartChat, request: Request) -> ChatStarted:
    client = request.client.host if request.client else "unknown"
    request.app.state.login_limiter.check(f"widget:{client}")
    customer_id, conversation_id = str(uuid4()), str(uuid4())
    customer = Principal(
        subject=customer_id, roles=frozenset({Role.CUSTOMER}), conversation_id=conversation_id
    )
    payload = {**body.model_dump(exclude_none=True), "interaction_id": conversation_id}
    # The widget may leave out when a bot line was written; messaging's contract needs an aware time,
    # and the hand-off moment is the best the gateway knows.
    handed_over = request.app.state.runtime.clock.now().isoformat()
    for turn in payload.get("bot_transcript", []):
        turn.setdefault("at", handed_over)
    upstream = await _upstreams(request).call(
        "messaging",
        "POST",
        "/conversations",
        principal=customer,
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    if upstream.status_code not in (200, 201):
        return_problem = upstream.json() if upstream.headers.get("content-type", "").endswith("json") else {}
        raise Problem(
            upstream.status_code if upstream.status_code < 500 else 502,
            str(return_problem.get("type", "upstream-error")).rsplit("/", 1)[-1],
            detail=str(return_problem.get("detail", "The chat could not be started.")),
        )
    token, ttl = request.app.state.tokens.issue(
        customer, lifetime=request.app.state.gateway_settings.customer_token_seconds
    )
    return ChatStarted(
        conversation_id=conversation_id,
        customer_id=customer_id,
        token=token,
        expires_in=ttl,
        conversation=upstream.json(),
    )


@router.api_route(
    "/api/{service}/{path:path}",
    methods=METHODS,
    # Documented operation by operation instead: see merged_openapi.
    include_in_schema=False,
    tags=["services"],
    summary="Call routing, messaging or acw as the token's holder (see each service's operations)",
    responses={
        401: {"description": "no or invalid token"},
        403: {"description": "the role may not make this call"},
        404: {"description": "no such route, or not yours to see"},
        429: {"description": "rate limited"},
        502: {"description": "the service failed"},
        503: {"description": "the service is not reachable"},
        504: {"description": "the service did not answer in time"},
    },
)
async def call_service(
    service: str,
    path: str,
    request: Request,
    principal: Annotated[Principal, Depends(requires())],
) -> Response:
    if service not in SERVICES:
        raise Problem(404, "not-found", detail=f"No service {service!r}.")
    if len(path) > MAX_PATH or ".." in path or "//" in path:
        raise Problem(404, "not-found", detail="No such route.")
    upstream_path = "/" + path
    authorise(principal, service, request.method, upstream_path)
    # The path arrives decoded; encode it again so that whatever it holds reaches the service as data.
    upstream_path = quote(upstream_path, safe="/:@!$&'()*+,;=-._~")
    body = await request.body()
    headers = {}
    if content_type := request.headers.get("content-type"):
        headers["Content-Type"] = content_type
    return await _upstreams(request).forward(
        service,
        request.method,
        upstream_path,
        principal=principal,
        params=dict(request.query_params),
        content=body or None,
        headers=headers,
    )


async def merged_openapi(app: FastAPI, upstreams: Upstreams) -> dict[str, Any]:
    """The gateway's own document plus every service operation under ``/api/{service}``, with the
    bearer scheme and the gateway's problem responses; services that do not answer are left out."""
    document = copy.deepcopy(app.openapi())
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    paths = document.setdefault("paths", {})
    paths.pop("/api/{service}/{path}", None)
    for service in SERVICES:
        try:
            response = await upstreams.call(service, "GET", "/openapi.json", principal=None)
            upstream = response.json()
        except (Problem, ValueError):
            log.warning("service OpenAPI not available", service=service)
            continue
        schemas = upstream.get("components", {}).get("schemas", {})
        renamed = {name: f"{service}_{name}" for name in schemas}
        text = json.dumps(upstream.get("paths", {}))
        for name, new in renamed.items():
            text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{new}"')
        for name, schema in schemas.items():
            body = json.dumps(schema)
            for old, new in renamed.items():
                body = body.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
            components.setdefault("schemas", {})[renamed[name]] = json.loads(body)
        for path, item in json.loads(text).items():
            if path in ("/healthz", "/readyz", "/openapi.json"):
                continue
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                operation["security"] = [{"bearer": []}]
                operation["tags"] = [f"{service}: {t}" for t in operation.get("tags", ["api"])]
                operation["operationId"] = f"{service}_{operation.get('operationId', uuid4().hex)}"
                # Actor headers are the gateway's business, never the caller's.
                operation["parameters"] = [
                    p
                    for p in operation.get("parameters", [])
                    if not str(p.get("name", "")).lower().startswith("x-")
                ]
                for status, description in (
                    ("401", "no or invalid token"),
                    ("403", "not allowed"),
                    ("429", "rate limited"),
                ):
                    operation["responses"].setdefault(status, {"description": description})
            paths[f"/api/{service}{path}"] = item
    return document


def install_openapi(app: FastAPI) -> None:
    cache: dict[str, Any] = {}

    # Replace FastAPI's own route: the published document is the merged one.
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/openapi.json"]

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> dict[str, Any]:
        if "document" not in cache or len(cache.get("services", ())) < len(SERVICES):
            merged = await merged_openapi(app, _upstreams(request))
            cache["document"] = merged
            cache["services"] = {p.split("/")[2] for p in merged["paths"] if p.startswith("/api/")}
        document: dict[str, Any] = cache["document"]
        return document
