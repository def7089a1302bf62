"""The topic registry: the single source of truth for every topic, its key rule and its events.

Topics are named ``switchboard.<domain>.<stream>.v<N>``. A deployment may prefix every name (tests do,
to isolate themselves on a shared broker); the registry always speaks of the unprefixed names.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from switchboard.contracts.envelope import ContractError, Envelope, _summarise, parse_raw_envelope

TOPIC_NAME = re.compile(r"^switchboard\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*$")
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class EventSpec:
    type: str
    version: int
    # builtins.type: inside this class body, a bare ``type`` would name the field above.
    payload: builtins.type[BaseModel]
    description: str

    @property
    def name(self) -> str:
        return f"{self.type}.v{self.version}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    description: str
    key: str
    events: tuple[EventSpec, ...]
    partitions: int = 6
    retention_ms: int = 7 * DAY_MS
    ephemeral: bool = False
    consumers: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not TOPIC_NAME.match(self.name):
            raise ValueError(f"topic name {self.name!r} is not switchboard.<domain>.<stream>.v<N>")

    @property
    def dlq(self) -> str:
        return dlq_name(self.name)


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


class Registry:
    def __init__(self, topics: tuple[TopicSpec, ...]) -> None:
        self.topics = topics
        self._by_topic: dict[str, TopicSpec] = {}
        self._by_event: dict[tuple[str, int], tuple[TopicSpec, EventSpec]] = {}
        self._by_payload: dict[builtins.type[BaseModel], EventSpec] = {}
        for spec in topics:
            if spec.name in self._by_topic:
                raise ValueError(f"topic {spec.name} registered twice")
            self._by_topic[spec.name] = spec
            for event in spec.events:
                if (event.type, event.version) in self._by_event:
                    raise ValueError(f"event {event.name} registered on two topics")
                self._by_event[(event.type, event.version)] = (spec, event)
                if event.payload in self._by_payload:
                    raise ValueError(f"payload {event.payload.__name__} carries two events")
                self._by_payload[event.payload] = event

    def topic(self, name: str) -> TopicSpec:
        try:
            return self._by_topic[name]
        except KeyError:
            raise KeyError(f"unknown topic {name!r}") from None

    def event(self, type: str, version: int) -> EventSpec:
        return self._lookup(type, version)[1]

    def topic_of(self, type: str, version: int) -> TopicSpec:
        return self._lookup(type, version)[0]

    def event_for(self, payload: builtins.type[BaseModel]) -> EventSpec:
        """The one event a payload class carries (each event has a payload class of its own)."""
        try:
            return self._by_payload[payload]
        except KeyError:
            raise ContractError(f"{payload.__name__} is not the payload of any registered event") from None

    def events(self) -> list[EventSpec]:
        return [event for _, event in self._by_event.values()]

    def _lookup(self, type: str, version: int) -> tuple[TopicSpec, EventSpec]:
        try:
            return self._by_event[(type, version)]
        except KeyError:
            raise ContractError(f"unknown event type {type} v{version}") from None

    def parse(self, raw: bytes, *, topic: str | None = None) -> Envelope[Any]:
        """Parse bytes from a topic into an envelope whose ``data`` is the registered payload model.

        Raises :class:`ContractError` with a readable reason for anything that is not a valid event:
        the caller sends such bytes to the dead-letter topic.
        """
        envelope = parse_raw_envelope(raw)
        spec_topic, spec = self._lookup(envelope.type, envelope.version)
        if topic is not None and spec_topic.name != topic:
            raise ContractError(f"event {spec.name} does not belong on topic {topic}")
        try:
            data = spec.payload.model_validate(envelope.data)
        except ValidationError as exc:
            raise ContractError(f"invalid {spec.name} payload: {_summarise(exc)}") from exc
        return Envelope[Any].model_construct(**{**dict(envelope), "data": data})
