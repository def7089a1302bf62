"""The checked-in AsyncAPI document matches the contracts and is a coherent AsyncAPI 3.0 document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from switchboard.contracts import REGISTRY
from switchboard.contracts.asyncapi import DEFAULT_OUTPUT, build_asyncapi, main, render

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_checked_in_document_is_current() -> None:
    assert DEFAULT_OUTPUT == DOCUMENT
    current = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else ""
    assert current == render(REGISTRY), "docs/asyncapi.yaml is stale: run make asyncapi"


def test_check_mode_reports_a_stale_document(tmp_path: Path) -> None:
    output = tmp_path / "asyncapi.yaml"
    output.write_text("asyncapi: 3.0.0\n", encoding="utf-8")

    assert main(["--output", str(output), "--check"]) == 1
    assert main(["--output", str(output)]) == 0
    assert main(["--output", str(output), "--check"]) == 0


def test_rendering_is_deterministic() -> None:
    assert render(REGISTRY) == render(REGISTRY)
    assert yaml.safe_load(render(REGISTRY)) == build_asyncapi(REGISTRY)


def test_document_shape_follows_asyncapi_3() -> None:
    document = build_asyncapi(REGISTRY)

    assert document["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= set(document["info"])
    server = document["servers"]["kafka"]
    assert server["protocol"] == "kafka"
    assert "{bootstrap}" in server["host"]
    assert "bootstrap" in server["variables"]
    for ref in _refs(document):
        _resolve(document, ref)
    assert "$defs" not in render(REGISTRY)


def test_every_topic_is_a_channel_with_its_events() -> None:
    document = build_asyncapi(REGISTRY)

    for topic in REGISTRY.topics:
        channel = document["channels"][topic.name]
        assert channel["address"] == topic.name
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        assert channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == topic.retention_ms
        assert set(channel["messages"]) == {event.name for event in topic.events}


def test_every_event_is_a_message_carrying_its_envelope() -> None:
    document = build_asyncapi(REGISTRY)

    for event in REGISTRY.events():
        topic = REGISTRY.topic_of(event.type, event.version)
        message = document["components"]["messages"][event.name]
        assert message["name"] == event.type
        assert message["title"] == f"{event.type} v{event.version}"
        assert message["summary"] == event.description
        assert message["contentType"] == "application/json"
        assert message["bindings"]["kafka"]["key"]["description"] == topic.key
        payload = message["payload"]
        assert {"id", "type", "version", "occurred_at", "source", "key", "data"} <= set(payload["required"])
        for name, prop in payload["properties"].items():
            assert prop.get("description"), f"envelope field {name} is undocumented"
        assert payload["properties"]["type"]["const"] == event.type
        assert payload["properties"]["version"]["const"] == event.version
        data = _resolve(document, payload["properties"]["data"]["$ref"])
        assert data["title"] == event.payload.__name__


def test_owner_sends_and_each_consumer_receives() -> None:
    document = build_asyncapi(REGISTRY)
    operations = document["operations"]

    for topic in REGISTRY.topics:
        channel_ref = f"#/channels/{topic.name}"
        senders = [
            op
            for op in operations.values()
            if op["channel"]["$ref"] == channel_ref and op["action"] == "send"
        ]
        receivers = {
            op["tags"][0]["name"]
            for op in operations.values()
            if op["channel"]["$ref"] == channel_ref and op["action"] == "receive"
        }
        assert [op["tags"][0]["name"] for op in senders] == [topic.owner]
        assert receivers == set(topic.consumers)
    for operation in operations.values():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel_ref}/messages/")
