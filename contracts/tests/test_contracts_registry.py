"""The topic registry and the payload models registered in it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import Enum
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from switchboard.contracts import (
    ACW_INTERACTIONS,
    EMAIL_MESSAGES,
    GATEWAY_PRESENCE,
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    MESSAGING_TYPING,
    REGISTRY,
    ROUTING_AGENTS,
    ROUTING_INTERACTIONS,
    SERVICES,
    VOICE_CALLS,
    ContractError,
    EventSpec,
    Payload,
    Registry,
    TopicSpec,
    dlq_name,
    make_envelope,
)
from switchboard.contracts.acw import AcwMode, AcwStarted
from switchboard.contracts.email import EmailAddress, EmailSent
from switchboard.contracts.messaging import ChatMessageSent, SenderRole
from switchboard.contracts.routing import (
    AgentStatus,
    AgentStatusChanged,
    CustomStatusTag,
    InteractionTransferRequested,
    StatusChangeReason,
    TransferTarget,
)

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ALL_TOPICS = (
    ROUTING_AGENTS,
    ROUTING_INTERACTIONS,
    MESSAGING_CONVERSATIONS,
    MESSAGING_MESSAGES,
    MESSAGING_TYPING,
    ACW_INTERACTIONS,
    VOICE_CALLS,
    EMAIL_MESSAGES,
    GATEWAY_PRESENCE,
)


class _Thing(Payload):
    """A test payload."""

    n: int


def _topic(name: str, *events: EventSpec) -> TopicSpec:
    return TopicSpec(name=name, owner="routing", description="test", key="id", events=events)


def test_registry_rejects_a_topic_registered_twice() -> None:
    topic = _topic("switchboard.test.things.v1")

    with pytest.raises(ValueError, match="registered twice"):
        Registry((topic, topic))


def test_registry_rejects_an_event_on_two_topics() -> None:
    event = EventSpec("thing.happened", 1, _Thing, "A thing happened.")

    with pytest.raises(ValueError, match=r"thing\.happened\.v1 registered on two topics"):
        Registry((_topic("switchboard.test.a.v1", event), _topic("switchboard.test.b.v1", event)))


class _ThingV2(Payload):
    name: str
    size: int


def test_the_same_type_may_have_several_versions() -> None:
    registry = Registry(
        (
            _topic(
                "switchboard.test.things.v1",
                EventSpec("thing.happened", 1, _Thing, "v1"),
                EventSpec("thing.happened", 2, _ThingV2, "v2"),
            ),
        )
    )

    assert registry.event("thing.happened", 2).description == "v2"
    assert registry.event_for(_ThingV2).version == 2


def test_one_payload_class_cannot_carry_two_events() -> None:
    # The outbox infers the event from the payload's class, so the class must name one event.
    with pytest.raises(ValueError, match="carries two events"):
        Registry(
            (
                _topic(
                    "switchboard.test.things.v1",
                    EventSpec("thing.happened", 1, _Thing, "v1"),
                    EventSpec("thing.happened", 2, _Thing, "v2"),
                ),
            )
        )


def test_event_for_an_unregistered_payload_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="not the payload of any registered event"):
        Registry(()).event_for(_ThingV2)


@pytest.mark.parametrize(
    "name",
    [
        "routing.agents.v1",
        "switchboard.routing.agents",
        "switchboard.routing.agents.v0",
        "switchboard.Routing.agents.v1",
        "switchboard.routing.agents.v1.dlq",
        "other.routing.agents.v1",
        "",
    ],
)
def test_topic_names_must_follow_the_convention(name: str) -> None:
    with pytest.raises(ValueError, match=r"switchboard\.<domain>\.<stream>\.v<N>"):
        _topic(name)


def test_unknown_topic_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="unknown topic"):
        REGISTRY.topic("switchboard.nothing.here.v1")


def test_every_topic_constant_is_registered_once() -> None:
    assert sorted(topic.name for topic in REGISTRY.topics) == sorted(ALL_TOPICS)
    assert REGISTRY.topic(ROUTING_AGENTS).dlq == dlq_name(ROUTING_AGENTS) == f"{ROUTING_AGENTS}.dlq"


@pytest.mark.parametrize("topic", REGISTRY.topics, ids=lambda t: t.name)
def test_topic_metadata_is_complete(topic: TopicSpec) -> None:
    domain = topic.name.split(".")[1]
    assert topic.owner == domain
    assert topic.owner in SERVICES
    assert topic.consumers
    assert set(topic.consumers) <= set(SERVICES)
    assert topic.owner not in topic.consumers
    assert topic.partitions >= 1
    assert topic.retention_ms > 0
    assert topic.events
    assert topic.description
    assert topic.key


def test_ephemeral_topics_are_short_lived() -> None:
    for topic in REGISTRY.topics:
        if topic.ephemeral:
            assert topic.retention_ms <= 3600 * 1000
    assert REGISTRY.topic(MESSAGING_TYPING).ephemeral


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and every model nested in its fields."""
    found = [model]
    for field in model.model_fields.values():
        for arg in _type_args(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found.extend(m for m in _models(arg) if m not in found)
    return found


def _type_args(annotation: object) -> list[object]:
    args = list(getattr(annotation, "__args__", ()))
    return [annotation, *(nested for arg in args for nested in _type_args(arg))]


@pytest.mark.parametrize("event", REGISTRY.events(), ids=lambda e: e.name)
def test_every_payload_is_documented(event: EventSpec) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", event.type)
    assert event.description.endswith(".")
    assert issubclass(event.payload, Payload)
    for model in _models(event.payload):
        assert (model.__doc__ or "").strip(), f"{model.__name__} has no docstring"
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize("event", REGISTRY.events(), ids=lambda e: e.name)
def test_every_enum_in_a_payload_is_documented(event: EventSpec) -> None:
    for model in _models(event.payload):
        for field in model.model_fields.values():
            for arg in _type_args(field.annotation):
                if isinstance(arg, type) and issubclass(arg, Enum):
                    assert arg.__doc__ not in (None, "", Enum.__doc__), f"{arg.__name__} has no docstring"


def test_payload_classes_are_not_shared_between_events() -> None:
    # The outbox checks a payload's class against its event type; sharing would defeat that check.
    payloads = [event.payload for event in REGISTRY.events()]
    assert len(payloads) == len(set(payloads))


def test_custom_status_needs_its_label_and_tag() -> None:
    agent_id = uuid4()
    custom = AgentStatusChanged(
        agent_id=agent_id,
        status=AgentStatus.CUSTOM,
        custom_label="Coaching",
        custom_tag=CustomStatusTag.AWAY,
        reason=StatusChangeReason.AGENT_CHOICE,
    )
    assert custom.custom_tag is CustomStatusTag.AWAY

    with pytest.raises(ValidationError, match="custom_label and custom_tag"):
        AgentStatusChanged(
            agent_id=agent_id, status=AgentStatus.CUSTOM, reason=StatusChangeReason.AGENT_CHOICE
        )
    with pytest.raises(ValidationError, match="custom_label and custom_tag"):
        AgentStatusChanged(
            agent_id=agent_id,
            status=AgentStatus.AWAY,
            custom_label="Coaching",
            reason=StatusChangeReason.AGENT_CHOICE,
        )


def test_transfer_destination_must_match_its_target() -> None:
    ids = {"interaction_id": uuid4(), "transfer_id": uuid4(), "from_agent_id": uuid4()}
    InteractionTransferRequested(**ids, target=TransferTarget.QUEUE, to_queue_id=uuid4())

    with pytest.raises(ValidationError, match="queue transfer needs to_queue_id"):
        InteractionTransferRequested(**ids, target=TransferTarget.QUEUE, to_agent_id=uuid4())
    with pytest.raises(ValidationError, match="agent transfer needs to_agent_id"):
        InteractionTransferRequested(**ids, target=TransferTarget.AGENT, to_queue_id=uuid4())


def test_timed_acw_needs_a_deadline_and_only_timed_acw_has_one() -> None:
    ids = {"interaction_id": uuid4(), "agent_id": uuid4()}
    AcwStarted(**ids, mode=AcwMode.TIMED, deadline=WHEN + timedelta(minutes=2))
    AcwStarted(**ids, mode=AcwMode.IMMEDIATE)

    with pytest.raises(ValidationError, match="deadline is required"):
        AcwStarted(**ids, mode=AcwMode.TIMED)
    with pytest.raises(ValidationError, match="deadline is required"):
        AcwStarted(**ids, mode=AcwMode.DISABLED, deadline=WHEN)


def test_a_chat_message_needs_text_or_an_attachment() -> None:
    fields = {
        "message_id": uuid4(),
        "client_id": "c-1",
        "interaction_id": uuid4(),
        "seq": 1,
        "sender_role": SenderRole.AGENT,
        "sender_id": uuid4(),
        "sent_at": WHEN,
    }
    assert ChatMessageSent(**fields, attachment_ids=(uuid4(),)).text == ""

    with pytest.raises(ValidationError, match="needs text or at least one attachment"):
        ChatMessageSent(**fields, text="   ")


def test_email_sender_is_called_from_on_the_wire() -> None:
    sent = EmailSent(
        interaction_id=uuid4(),
        email_id=uuid4(),
        thread_id=uuid4(),
        message_id="<abc@switchboard.example>",
        from_=EmailAddress(address="agent@example.com", name="Ana"),
        to=(EmailAddress(address="customer@example.org"),),
        subject="Your appointment",
        agent_id=uuid4(),
    )
    envelope = make_envelope(
        sent, type="email.sent", version=1, source="email", key=str(sent.interaction_id), occurred_at=WHEN
    )

    raw = envelope.to_bytes()
    parsed = REGISTRY.parse(raw, topic=EMAIL_MESSAGES)

    assert b'"from":{"address":"agent@example.com"' in raw
    assert b"bcc" not in raw
    assert parsed.data == sent


def test_email_addresses_are_checked() -> None:
    with pytest.raises(ValidationError):
        EmailAddress(address="not an address")
