"""AsyncAPI 3.0 description of every Switchboard topic, generated from the registry.

The document is what other systems (CRM, WFM, analytics, QA) read to subscribe, so it is generated, never
written by hand, and checked in: a test fails when it no longer matches the contracts.

    uv run python -m switchboard.contracts.asyncapi            # rewrite docs/asyncapi.yaml
    uv run python -m switchboard.contracts.asyncapi --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import inspect
import sys
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from switchboard.contracts.envelope import Envelope
from switchboard.contracts.registry import EventSpec, Registry, TopicSpec
from switchboard.contracts.topics import REGISTRY

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_REF = "#/components/schemas/{model}"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[4] / "docs" / "asyncapi.yaml"

JsonObject = dict[str, Any]


def build_asyncapi(registry: Registry) -> JsonObject:
    """The AsyncAPI 3.0 document for ``registry`` as plain data, ready for YAML or JSON."""
    events = sorted(registry.events(), key=lambda e: e.name)
    refs, schemas = _component_schemas(events)
    messages = {
        event.name: _message(event, registry.topic_of(event.type, event.version), refs) for event in events
    }
    channels: JsonObject = {}
    operations: JsonObject = {}
    for topic in sorted(registry.topics, key=lambda t: t.name):
        channels[topic.name] = _channel(topic)
        operations[_operation_id(topic.owner, "send", topic)] = _operation(topic, topic.owner, "send")
        for consumer in sorted(topic.consumers):
            operations[_operation_id(consumer, "receive", topic)] = _operation(topic, consumer, "receive")
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Switchboard events",
            "version": package_version("switchboard-contracts"),
            "description": (
                "Every event Switchboard services publish to Kafka. Each message is one JSON envelope "
                "(id, type, version, occurred_at, source, key, correlation_id, causation_id) whose `data` "
                "is the event's payload. Consumers deduplicate on `id`; the Kafka key keeps per-interaction "
                "(or per-agent) order. Additive changes keep an event's version; breaking changes add a new "
                "type or version. Events that fail their contract go to `<topic>.dlq`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Kafka cluster; deployments may prefix every topic name.",
                "variables": {
                    "bootstrap": {
                        "default": "127.0.0.1:9092",
                        "description": "A bootstrap server, as in KAFKA_BOOTSTRAP_SERVERS.",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render(registry: Registry) -> str:
    """The document as YAML text; identical input gives byte-identical output."""
    return yaml.safe_dump(
        build_asyncapi(registry), sort_keys=True, allow_unicode=True, default_flow_style=False, width=100
    )


def _component_schemas(events: list[EventSpec]) -> tuple[dict[str, JsonObject], JsonObject]:
    # One combined generation, so pydantic names every model and enum once and disambiguates clashes.
    inputs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(event.payload, "validation") for event in events]
    mapping, definitions = models_json_schema(inputs, ref_template=SCHEMA_REF)
    refs = {event.name: dict(mapping[(event.payload, "validation")]) for event in events}
    return refs, dict(definitions.get("$defs", {}))


def _envelope_schema(event: EventSpec, data_ref: JsonObject) -> JsonObject:
    schema = Envelope[Any].model_json_schema(ref_template=SCHEMA_REF)
    properties = dict(schema["properties"])
    properties["type"] = {**properties["type"], "const": event.type}
    properties["version"] = {**properties["version"], "const": event.version}
    properties["data"] = {**data_ref, "description": properties["data"]["description"]}
    return {**schema, "title": f"{event.name} envelope", "properties": properties}


def _message(event: EventSpec, topic: TopicSpec, refs: dict[str, JsonObject]) -> JsonObject:
    return {
        "name": event.type,
        "title": f"{event.type} v{event.version}",
        "summary": event.description,
        "description": inspect.cleandoc(event.payload.__doc__ or event.description),
        "contentType": "application/json",
        "payload": _envelope_schema(event, refs[event.name]),
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": topic.key},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(topic: TopicSpec) -> JsonObject:
    description = f"{topic.description} Owned by {topic.owner}; failed events go to `{topic.dlq}`."
    if topic.ephemeral:
        description += " Ephemeral: never stored by consumers."
    return {
        "address": topic.name,
        "title": topic.name,
        "description": description,
        "messages": {
            event.name: {"$ref": f"#/components/messages/{event.name}"}
            for event in sorted(topic.events, key=lambda e: e.name)
        },
        "bindings": {
            "kafka": {
                "partitions": topic.partitions,
                "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": topic.retention_ms},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-switchboard-owner": topic.owner,
        "x-switchboard-consumers": sorted(topic.consumers),
        "x-switchboard-dlq": topic.dlq,
        "x-switchboard-ephemeral": topic.ephemeral,
    }


def _operation_id(service: str, action: str, topic: TopicSpec) -> str:
    return f"{service}.{action}.{topic.name}"


def _operation(topic: TopicSpec, service: str, action: str) -> JsonObject:
    verb = "publishes to" if action == "send" else "consumes"
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{topic.name}"},
        "title": f"{service} {verb} {topic.name}",
        "tags": [{"name": service}],
        "messages": [
            {"$ref": f"#/channels/{topic.name}/messages/{event.name}"}
            for event in sorted(topic.events, key=lambda e: e.name)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the AsyncAPI document of all topics.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the YAML goes")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs, write nothing")
    args = parser.parse_args(argv)
    output: Path = args.output
    text = render(REGISTRY)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"{output} is stale: run make asyncapi", file=sys.stderr)
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
