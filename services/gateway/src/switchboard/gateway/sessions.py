"""Authentication routes: password login for a local install, and single-use WebSocket tickets."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlmodel import col

from switchboard.gateway.auth import Principal, Role, requires, role_names
from switchboard.gateway.models import WsTicket
from switchboard.gateway.users import authenticate
from switchboard.runtime.errors import Problem
from switchboard.runtime.service import ServiceRuntime

router = APIRouter(tags=["authentication"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="seconds")
    roles: list[str]
    agent_id: str | None = None


class Me(BaseModel):
    subject: str
    name: str
    roles: list[str]
    agent_id: str | None
    conversation_id: str | None
    queues: list[str]


class TicketOut(BaseModel):
    ticket: str
    expires_in: int
    url: str = Field(description="where to open the socket: add after=<last event id> to resume")


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Log in with a username and password (local installs)",
    responses={401: {"description": "wrong credentials"}, 429: {"description": "too many attempts"}},
)
async def login(body: Login, request: Request) -> TokenOut:
    client = request.client.host if request.client else "unknown"
    request.app.state.login_limiter.check(f"login:{client}:{body.username.lower()}")
    async with _runtime(request).transaction() as session:
        principal = await authenticate(session, body.username, body.password)
    if principal is None:
        raise Problem(401, "invalid-credentials", detail="Unknown user or wrong password.")
    token, ttl = request.app.state.tokens.issue(principal)
    return TokenOut(
        access_token=token, expires_in=ttl, roles=role_names(principal.roles), agent_id=principal.agent_id
    )


@router.get("/me", response_model=Me, summary="Who the token belongs to")
async def me(principal: Annotated[Principal, Depends(requires())]) -> Me:
    return Me(
        subject=principal.subject,
        name=principal.name,
        roles=role_names(principal.roles),
        agent_id=principal.agent_id,
        conversation_id=principal.conversation_id,
        queues=sorted(principal.queues),
    )


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


@router.post("/ws/tickets", response_model=TicketOut, summary="A single-use ticket to open the WebSocket")
async def ticket(
    request: Request,
    principal: Annotated[
        Principal, Depends(requires(Role.AGENT, Role.SUPERVISOR, Role.CUSTOMER, Role.ADMIN))
    ],
) -> TicketOut:
    runtime = _runtime(request)
    value = secrets.token_urlsafe(32)
    lifetime = request.app.state.gateway_settings.ws_ticket_seconds
    claims = {
        "subject": principal.subject,
        "roles": role_names(principal.roles),
        "name": principal.name,
        "agent_id": principal.agent_id,
        "conversation_id": principal.conversation_id,
        "queues": sorted(principal.queues),
    }
    async with runtime.transaction() as session:
        session.add(
            WsTicket(
                ticket_hash=_hash(value),
                claims=json.dumps(claims),
                expires_at=runtime.clock.now() + timedelta(seconds=lifetime),
            )
        )
    return TicketOut(ticket=value, expires_in=lifetime, url=f"/ws?ticket={value}")


async def redeem(runtime: ServiceRuntime, value: str) -> Principal | None:
    """Use a ticket up: it opens one socket, once, before it expires."""
    now = runtime.clock.now()
    async with runtime.transaction() as session:
        result = await session.execute(
            update(WsTicket)
            .where(
                col(WsTicket.ticket_hash) == _hash(value),
                col(WsTicket.used_at).is_(None),
                col(WsTicket.expires_at) > now,
            )
            .values(used_at=now)
        )
        if not getattr(result, "rowcount", 0):
            return None
        row = await session.get(WsTicket, _hash(value))
        assert row is not None
        claims = json.loads(row.claims)
    return Principal(
        subject=claims["subject"],
        roles=frozenset(Role(r) for r in claims["roles"]),
        name=claims["name"],
        agent_id=claims["agent_id"],
        conversation_id=claims["conversation_id"],
        queues=frozenset(claims["queues"]),
    )
