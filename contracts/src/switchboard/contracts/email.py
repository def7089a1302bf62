"""Payloads email publishes: mail received from and sent to customers, threaded into interactions.

BCC recipients never appear on a topic: anyone may subscribe, and a blind copy must stay blind.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict, Field

from switchboard.contracts.common import MAX_ATTACHMENTS
from switchboard.contracts.envelope import Payload

MAX_RECIPIENTS = 100


class EmailAddress(Payload):
    """One mailbox."""

    address: str = Field(
        max_length=320, pattern=r"^[^@\s<>]+@[^@\s<>]+$", description="The address, e.g. ana@example.com"
    )
    name: str | None = Field(default=None, max_length=200, description="Display name, when given")


class _EmailFields(Payload):
    # "from" is the header's name and what mail people expect on the wire, but a Python keyword.
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    interaction_id: UUID = Field(description="The email interaction (one per thread); the partition key")
    email_id: UUID = Field(description="The stored email")
    thread_id: UUID = Field(description="The thread, built from Message-ID / In-Reply-To / References")
    message_id: str = Field(min_length=3, max_length=998, description="The Message-ID header")
    in_reply_to: str | None = Field(default=None, max_length=998, description="The In-Reply-To header")
    references: tuple[str, ...] = Field(
        default=(), max_length=100, description="Message-IDs from the References header, oldest first"
    )
    from_: EmailAddress = Field(alias="from", description="The sender")
    to: tuple[EmailAddress, ...] = Field(max_length=MAX_RECIPIENTS, description="To recipients")
    cc: tuple[EmailAddress, ...] = Field(default=(), max_length=MAX_RECIPIENTS, description="Cc recipients")
    subject: str = Field(default="", max_length=998, description="The Subject header")
    snippet: str = Field(default="", max_length=300, description="Start of the plain-text body, for the tray")
    attachment_ids: tuple[UUID, ...] = Field(
        default=(), max_length=MAX_ATTACHMENTS, description="Attachments stored by email"
    )


class EmailReceived(_EmailFields):
    """A customer's email arrived (the customer side of the thread)."""

    new_thread: bool = Field(description="True when it starts a thread, so routing queues a new interaction")


class EmailSent(_EmailFields):
    """An agent's email was handed to the relay (the agent side of the thread)."""

    agent_id: UUID = Field(description="The agent who sent it")
