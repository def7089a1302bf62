"""The gateway's own tables: users of a local install, WebSocket tickets, the push log and the
projection that says who may see which interaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from switchboard.runtime.db import UTCDateTime


class User(SQLModel, table=True):
    __tablename__ = "gateway_users"

    id: str = Field(primary_key=True, max_length=36)
    username: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=200)
    roles: str = Field(max_length=100, description="comma-separated roles")
    display_name: str = Field(max_length=200)
    agent_id: str | None = Field(default=None, max_length=36)
    queues: str = Field(default="", max_length=4000, description="comma-separated supervised queue ids")
    disabled: bool = False
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class WsTicket(SQLModel, table=True):
    """A single-use, short-lived ticket that opens one WebSocket (browsers cannot send headers there)."""

    __tablename__ = "gateway_ws_tickets"

    ticket_hash: str = Field(primary_key=True, max_length=64)
    claims: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime, nullable=True))


class PushedEvent(SQLModel, table=True):
    """Every event a socket may be shown, numbered, so a reconnecting client resumes after its last id."""

    __tablename__ = "gateway_events"
    __table_args__ = (
        sa.Index("ix_gateway_events_interaction", "interaction_id", "seq"),
        sa.Index("ix_gateway_events_agent", "agent_id", "seq"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    topic: str = Field(max_length=255)
    type: str = Field(max_length=100)
    interaction_id: str | None = Field(default=None, max_length=36)
    agent_id: str | None = Field(default=None, max_length=36)
    queue_id: str | None = Field(default=None, max_length=36)
    occurred_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class Access(SQLModel, table=True):
    """Who holds or is offered an interaction, and its queue: the facts push authorisation needs."""

    __tablename__ = "gateway_access"

    interaction_id: str = Field(primary_key=True, max_length=36)
    agent_id: str | None = Field(default=None, max_length=36)
    offered_agent_id: str | None = Field(default=None, max_length=36)
    queue_id: str | None = Field(default=None, max_length=36)
    customer_id: str | None = Field(default=None, max_length=36)
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class AgentSession(SQLModel, table=True):
    """The console session routing opened at login: presence events must carry its id."""

    __tablename__ = "gateway_agent_sessions"

    agent_id: str = Field(primary_key=True, max_length=36)
    session_id: str | None = Field(default=None, max_length=36)
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


TABLES = (
    AgentSession.__table__,  # type: ignore[attr-defined]
    User.__table__,  # type: ignore[attr-defined]
    WsTicket.__table__,  # type: ignore[attr-defined]
    PushedEvent.__table__,  # type: ignore[attr-defined]
    Access.__table__,  # type: ignore[attr-defined]
)
