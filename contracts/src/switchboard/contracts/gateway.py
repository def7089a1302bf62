"""Payloads the gateway publishes: console presence. Routing turns a disconnect that outlasts the
inactivity threshold into a logout that requeues the agent's conversations."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from switchboard.contracts.envelope import Payload


class PresenceHeartbeat(Payload):
    """An agent's console is connected and alive."""

    agent_id: UUID = Field(description="The agent; also the partition key")
    session_id: UUID = Field(description="The console session, as in agent.logged_in")
    at: AwareDatetime = Field(description="When the gateway last heard from the console")


class DisconnectReason(StrEnum):
    """How the gateway lost the console."""

    SOCKET_CLOSED = "socket_closed"
    HEARTBEAT_MISSED = "heartbeat_missed"


class PresenceDisconnected(Payload):
    """An agent's console went away without logging out; the inactivity countdown starts."""

    agent_id: UUID = Field(description="The agent")
    session_id: UUID = Field(description="The console session lost")
    last_seen_at: AwareDatetime = Field(description="Last time the console was heard from")
    reason: DisconnectReason = Field(description="How the console was lost")
