"""The envelope on the wire: what round-trips, and what is refused with a readable reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from switchboard.contracts import (
    REGISTRY,
    ROUTING_AGENTS,
    ROUTING_INTERACTIONS,
    ContractError,
    Envelope,
    make_envelope,
)
from switchboard.contracts.common import Channel
from switchboard.contracts.routing import InteractionQueued

WHEN = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)


def _queued() -> InteractionQueued:
    return InteractionQueued(
        interaction_id=uuid4(),
        channel=Channel.CHAT,
        queue_id=uuid4(),
        customer_id=uuid4(),
        intent="mortgage appointment",
        required_skills=("mortgages", "english"),
        priority=5,
    )


def _envelope(data: InteractionQueued | None = None) -> Envelope[Any]:
    payload = data or _queued()
    return make_envelope(
        payload,
        type="interaction.queued",
        version=1,
        source="routing",
        key=str(payload.interaction_id),
        occurred_at=WHEN,
        correlation_id="req-42",
        causation_id=uuid4(),
    )


def _raw(**overrides: Any) -> bytes:
    body = json.loads(_envelope().to_bytes())
    body.update(overrides)
    return json.dumps(body).encode()


def test_round_trip_gives_back_the_typed_payload() -> None:
    sent = _envelope()

    received = REGISTRY.parse(sent.to_bytes(), topic=ROUTING_INTERACTIONS)

    assert received == sent
    assert isinstance(received.data, InteractionQueued)
    assert received.data.required_skills == ("mortgages", "english")


def test_occurred_at_is_normalised_to_utc() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=5, minutes=30)))
    envelope = make_envelope(
        _queued(), type="interaction.queued", version=1, source="routing", key="k", occurred_at=local
    )

    assert envelope.occurred_at.utcoffset() == timedelta(0)
    assert envelope.occurred_at == WHEN


def test_make_envelope_assigns_a_fresh_id_unless_given() -> None:
    given = UUID(int=7)

    assert _envelope().id != _envelope().id
    assert (
        make_envelope(_queued(), type="a.b", version=1, source="s", key="k", occurred_at=WHEN, id=given).id
        == given
    )


def test_consumers_ignore_fields_added_by_a_newer_producer() -> None:
    body = json.loads(_envelope().to_bytes())
    body["data"]["added_later"] = "value"

    received = REGISTRY.parse(json.dumps(body).encode())

    assert isinstance(received.data, InteractionQueued)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2, 3]", "envelope must be a JSON object"),
        (b'"a string"', "envelope must be a JSON object"),
        (b"null", "envelope must be a JSON object"),
    ],
)
def test_parse_refuses_bytes_that_are_not_an_object(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        REGISTRY.parse(raw)


def test_parse_names_every_missing_field() -> None:
    with pytest.raises(ContractError) as caught:
        REGISTRY.parse(b'{"type": "interaction.queued"}')

    message = str(caught.value)
    assert message.startswith("invalid envelope:")
    for field in ("id", "version", "occurred_at", "source", "key"):
        assert f"{field}: Field required" in message


def test_parse_refuses_a_malformed_type() -> None:
    with pytest.raises(ContractError, match=r"invalid envelope: type: String should match pattern"):
        REGISTRY.parse(_raw(type="Interaction Queued"))


def test_parse_refuses_a_naive_timestamp() -> None:
    with pytest.raises(ContractError, match="occurred_at"):
        REGISTRY.parse(_raw(occurred_at="2026-03-01T09:30:15"))


def test_parse_refuses_unknown_fields_on_the_envelope() -> None:
    with pytest.raises(ContractError, match="smuggled"):
        REGISTRY.parse(_raw(smuggled=True))


def test_parse_refuses_an_unknown_event_type_or_version() -> None:
    with pytest.raises(ContractError, match=r"unknown event type interaction\.vanished v1"):
        REGISTRY.parse(_raw(type="interaction.vanished"))
    with pytest.raises(ContractError, match=r"unknown event type interaction\.queued v9"):
        REGISTRY.parse(_raw(version=9))


def test_parse_refuses_an_event_on_the_wrong_topic() -> None:
    with pytest.raises(
        ContractError, match=rf"interaction\.queued\.v1 does not belong on topic {ROUTING_AGENTS}"
    ):
        REGISTRY.parse(_envelope().to_bytes(), topic=ROUTING_AGENTS)


def test_parse_refuses_a_payload_that_breaks_its_contract() -> None:
    body = json.loads(_envelope().to_bytes())
    body["data"]["priority"] = 11
    del body["data"]["queue_id"]

    with pytest.raises(ContractError) as caught:
        REGISTRY.parse(json.dumps(body).encode())

    message = str(caught.value)
    assert message.startswith("invalid interaction.queued.v1 payload:")
    assert "priority: Input should be less than or equal to 10" in message
    assert "queue_id: Field required" in message


def test_parse_refuses_a_payload_that_is_not_an_object() -> None:
    with pytest.raises(ContractError, match=r"invalid envelope: data: Input should be a valid dictionary"):
        REGISTRY.parse(_raw(data=[1, 2]))
