"""Routing's tables: configuration (queues, skills, agents, memberships, custom statuses, external
contacts, agent settings), runtime state (agent status, interactions) and the routing lock.

Configuration rows keep the admin API's validated document in ``spec`` (JSON): the domain value
objects are rebuilt from it on load, so one schema (the API model) describes a queue everywhere.
Runtime rows have a column per field the domain's ``Router.restore`` needs.

``routing_lock`` holds one row. Every routing command locks it (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers) and replaces its ``token``, so
a replica whose in-memory router was built from an older token knows to reload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from switchboard.runtime.db import UTCDateTime

ID = 36  # canonical UUID text
NAME = 200


def _json(nullable: bool = False) -> Any:
    return sa.Column(sa.JSON, nullable=nullable)


def _time(nullable: bool = True) -> Any:
    return sa.Column(UTCDateTime, nullable=nullable)


class RoutingLockRow(SQLModel, table=True):
    __tablename__ = "routing_lock"

    id: int = Field(primary_key=True)
    token: str = Field(max_length=32)
    counter: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))


class SettingsRow(SQLModel, table=True):
    """The tenant's agent settings (one row); external contacts live in their own table."""

    __tablename__ = "routing_settings"

    id: int = Field(primary_key=True)
    spec: dict[str, Any] = Field(sa_column=_json())
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class QueueRow(SQLModel, table=True):
    __tablename__ = "routing_queues"

    id: str = Field(primary_key=True, max_length=ID)
    name: str = Field(max_length=NAME, index=True)
    spec: dict[str, Any] = Field(sa_column=_json())
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class SkillRow(SQLModel, table=True):
    __tablename__ = "routing_skills"

    name: str = Field(primary_key=True, max_length=100)
    description: str = Field(default="", max_length=1000)
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class AgentRow(SQLModel, table=True):
    """An agent's configuration: name, skills with levels, capacity per channel."""

    __tablename__ = "routing_agents"

    id: str = Field(primary_key=True, max_length=ID)
    name: str = Field(max_length=NAME)
    spec: dict[str, Any] = Field(sa_column=_json())
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class MembershipRow(SQLModel, table=True):
    __tablename__ = "routing_memberships"

    agent_id: str = Field(primary_key=True, max_length=ID)
    queue_id: str = Field(primary_key=True, max_length=ID, index=True)


class CustomStatusRow(SQLModel, table=True):
    __tablename__ = "routing_custom_statuses"

    id: str = Field(primary_key=True, max_length=NAME)
    name: str = Field(max_length=NAME)
    tag: str = Field(max_length=20)
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class ExternalContactRow(SQLModel, table=True):
    __tablename__ = "routing_external_contacts"

    id: str = Field(primary_key=True, max_length=NAME)
    name: str = Field(max_length=NAME)
    number: str = Field(max_length=20)
    updated_at: datetime = Field(sa_column=_time(nullable=False))


class AgentStateRow(SQLModel, table=True):
    """An agent's routing session: status, prompt, console presence, fairness timestamps."""

    __tablename__ = "routing_agent_state"

    agent_id: str = Field(primary_key=True, max_length=ID)
    status_kind: str = Field(max_length=20)
    custom_status_id: str | None = Field(default=None, max_length=NAME)
    status_since: datetime | None = Field(default=None, sa_column=_time())
    prompt_pending: bool = False
    connected: bool = False
    available_since: datetime = Field(sa_column=_time(nullable=False))
    last_routed_at: datetime | None = Field(default=None, sa_column=_time())
    session_id: str | None = Field(default=None, max_length=ID)


class InteractionRow(SQLModel, table=True):
    """One interaction's routing state; ``Router.restore`` rebuilds slots and indexes from these."""

    __tablename__ = "routing_interactions"
    __table_args__ = (sa.Index("ix_routing_interactions_open", "status", "ended_at"),)

    id: str = Field(primary_key=True, max_length=ID)
    channel: str = Field(max_length=20)
    queue_id: str = Field(max_length=ID)
    customer_id: str = Field(max_length=ID)
    customer_name: str | None = Field(default=None, max_length=NAME)
    intent: str | None = Field(default=None, max_length=NAME)
    bot_context: dict[str, Any] = Field(sa_column=_json())
    required_skills: dict[str, int] = Field(sa_column=_json())
    priority: int = 0
    created_at: datetime = Field(sa_column=_time(nullable=False))
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    status: str = Field(max_length=20)
    entered_queue_at: datetime | None = Field(default=None, sa_column=_time())
    front: bool = False
    wait_deadline: datetime | None = Field(default=None, sa_column=_time())
    excluded: list[str] = Field(sa_column=_json())
    offer_agent_id: str | None = Field(default=None, max_length=ID)
    offer_at: datetime | None = Field(default=None, sa_column=_time())
    offer_expires_at: datetime | None = Field(default=None, sa_column=_time())
    offer_transfer_from: str | None = Field(default=None, max_length=ID)
    agent_id: str | None = Field(default=None, max_length=ID, index=True)
    slot_holder: str | None = Field(default=None, max_length=ID)
    assigned_at: datetime | None = Field(default=None, sa_column=_time())
    auto_answered: bool = False
    first_reply_sent: bool = False
    reply_due_since: datetime | None = Field(default=None, sa_column=_time())
    snoozed_at: datetime | None = Field(default=None, sa_column=_time())
    snooze_until: datetime | None = Field(default=None, sa_column=_time())
    wake_pending: bool = False
    transfer_pending: bool = False
    transfer_id: str | None = Field(default=None, max_length=ID)
    transfer_target: str | None = Field(default=None, max_length=10)
    transfer_target_id: str | None = Field(default=None, max_length=ID)
    hops: list[dict[str, Any]] = Field(sa_column=_json())
    wait_total_seconds: float = 0.0
    waiting_since: datetime | None = Field(default=None, sa_column=_time())
    handle_total_seconds: float = 0.0
    handling_since: datetime | None = Field(default=None, sa_column=_time())
    sentiment_sum: float = 0.0
    sentiment_count: int = 0
    end_reason: str | None = Field(default=None, max_length=30)
    ended_at: datetime | None = Field(default=None, sa_column=_time())


ROUTING_TABLES: tuple[sa.Table, ...] = tuple(
    model.__table__  # type: ignore[attr-defined,union-attr]
    for model in (
        RoutingLockRow,
        SettingsRow,
        QueueRow,
        SkillRow,
        AgentRow,
        MembershipRow,
        CustomStatusRow,
        ExternalContactRow,
        AgentStateRow,
        InteractionRow,
    )
)
