"""The one envelope every message on every Switchboard topic travels in (DESIGN.md §4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

DataT = TypeVar("DataT")

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


class ContractError(ValueError):
    """Bytes that are not a valid envelope, or an envelope whose payload breaks its contract.

    The message is the reason a dead-letter entry carries, so it must be readable on its own.
    """


class Payload(BaseModel):
    """Base of every event payload.

    Unknown fields are ignored when parsing, so a consumer built against an older revision of the same
    version keeps working when a producer adds an optional field (the additive change that
    ``compat.check`` allows). A producer cannot send undeclared fields: it builds the model, and a
    model only serialises the fields it declares.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(BaseModel, Generic[DataT]):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID = Field(description="UUID of the event; the consumer's dedupe key")
    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=100, description="e.g. interaction.offered")
    version: int = Field(ge=1, le=1000, description="payload schema version")
    occurred_at: AwareDatetime = Field(description="UTC, when the fact happened")
    source: str = Field(min_length=1, max_length=50, description="service that wrote it")
    key: str = Field(min_length=1, max_length=200, description="partition key")
    correlation_id: str | None = Field(
        default=None, max_length=200, description="Request that started the chain of events"
    )
    causation_id: UUID | None = Field(default=None, description="Id of the event that caused this one")
    data: DataT = Field(description="The typed payload registered for this type and version")

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def make_envelope(
    data: BaseModel,
    *,
    type: str,
    version: int,
    source: str,
    key: str,
    occurred_at: datetime,
    correlation_id: str | None = None,
    causation_id: UUID | None = None,
    id: UUID | None = None,
) -> Envelope[Any]:
    return Envelope[Any](
        id=id or uuid4(),
        type=type,
        version=version,
        occurred_at=occurred_at,
        source=source,
        key=key,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=data,
    )


# Parametrising a generic model builds a class; build it once, not per consumed event.
RawEnvelope = Envelope[dict[str, Any]]


def parse_raw_envelope(raw: bytes) -> Envelope[dict[str, Any]]:
    """Parse the envelope without looking at the payload's contract."""
    try:
        decoded = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"not JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise ContractError("envelope must be a JSON object")
    try:
        return RawEnvelope.model_validate(decoded)
    except ValidationError as exc:
        raise ContractError(f"invalid envelope: {_summarise(exc)}") from exc


def _summarise(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
