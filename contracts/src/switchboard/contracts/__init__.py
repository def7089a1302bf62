"""Switchboard event contracts: envelope, payloads, topic registry, AsyncAPI export"""

from switchboard.contracts.envelope import ContractError, Envelope, Payload, make_envelope
from switchboard.contracts.registry import EventSpec, Registry, TopicSpec, dlq_name
from switchboard.contracts.topics import (
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
)

__all__ = [
    "ACW_INTERACTIONS",
    "EMAIL_MESSAGES",
    "GATEWAY_PRESENCE",
    "MESSAGING_CONVERSATIONS",
    "MESSAGING_MESSAGES",
    "MESSAGING_TYPING",
    "REGISTRY",
    "ROUTING_AGENTS",
    "ROUTING_INTERACTIONS",
    "SERVICES",
    "VOICE_CALLS",
    "ContractError",
    "Envelope",
    "EventSpec",
    "Payload",
    "Registry",
    "TopicSpec",
    "dlq_name",
    "make_envelope",
]
