"""Schema snapshots: the checked-in ones match, and ``check`` tells breaking changes from compatible ones."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import pytest
from pydantic import Field

from switchboard.contracts import REGISTRY, EventSpec, Payload, Registry, TopicSpec
from switchboard.contracts.compat import DEFAULT_FOLDER, check, main, snapshot, stale

SNAPSHOTS = Path(__file__).resolve().parents[1] / "schemas"


def test_checked_in_snapshots_have_no_breaking_changes_and_none_missing() -> None:
    assert DEFAULT_FOLDER == SNAPSHOTS
    assert check(REGISTRY, SNAPSHOTS) == []


def test_checked_in_snapshots_are_current() -> None:
    assert stale(REGISTRY, SNAPSHOTS) == []


class Colour(StrEnum):
    """Colours, version one."""

    RED = "red"
    GREEN = "green"


class FewerColours(StrEnum):
    """Colours, one dropped."""

    RED = "red"


class MoreColours(StrEnum):
    """Colours, one added."""

    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Part(Payload):
    """A nested part."""

    size: int = Field(description="Size")


class Original(Payload):
    """The payload as first published."""

    name: str = Field(description="Name")
    count: int = Field(description="Count")
    colour: Colour = Field(description="Colour")
    note: str | None = Field(default=None, description="Note")
    parts: tuple[Part, ...] = Field(default=(), description="Parts")


def _registry(payload: type[Payload]) -> Registry:
    event = EventSpec("thing.changed", 1, payload, "A thing changed.")
    topic = TopicSpec(
        name="switchboard.test.things.v1", owner="routing", description="t", key="id", events=(event,)
    )
    return Registry((topic,))


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    assert snapshot(_registry(Original), tmp_path) == [tmp_path / "thing.changed.v1.json"]
    return tmp_path


def test_an_unchanged_model_is_compatible_and_not_rewritten(baseline: Path) -> None:
    assert check(_registry(Original), baseline) == []
    assert stale(_registry(Original), baseline) == []
    assert snapshot(_registry(Original), baseline) == []


def test_a_missing_snapshot_is_reported(tmp_path: Path) -> None:
    assert check(_registry(Original), tmp_path) == ["thing.changed.v1: no snapshot: run make schemas"]


def test_a_snapshot_without_its_event_is_reported(baseline: Path) -> None:
    empty = Registry(
        (TopicSpec(name="switchboard.test.things.v1", owner="routing", description="t", key="id", events=()),)
    )

    assert check(empty, baseline) == [
        "thing.changed.v1: event removed from the registry (its snapshot remains)"
    ]


def test_removing_a_field_is_breaking(baseline: Path) -> None:
    class Changed(Payload):
        """Count removed."""

        name: str = Field(description="Name")
        colour: Colour = Field(description="Colour")
        note: str | None = Field(default=None, description="Note")
        parts: tuple[Part, ...] = Field(default=(), description="Parts")

    assert check(_registry(Changed), baseline) == ["thing.changed.v1.count: field removed"]


def test_retyping_a_field_is_breaking(baseline: Path) -> None:
    class Changed(Payload):
        """Count became a string."""

        name: str = Field(description="Name")
        count: str = Field(description="Count")
        colour: Colour = Field(description="Colour")
        note: str | None = Field(default=None, description="Note")
        parts: tuple[Part, ...] = Field(default=(), description="Parts")

    assert check(_registry(Changed), baseline) == [
        "thing.changed.v1.count: type changed from integer to string"
    ]


def test_retyping_a_nested_field_is_breaking(baseline: Path) -> None:
    class BiggerPart(Payload):
        """Size became fractional."""

        size: float = Field(description="Size")

    class Changed(Payload):
        """Parts changed."""

        name: str = Field(description="Name")
        count: int = Field(description="Count")
        colour: Colour = Field(description="Colour")
        note: str | None = Field(default=None, description="Note")
        parts: tuple[BiggerPart, ...] = Field(default=(), description="Parts")

    assert check(_registry(Changed), baseline) == [
        "thing.changed.v1.parts[].size: type changed from integer to number"
    ]


def test_adding_a_required_field_is_breaking(baseline: Path) -> None:
    class Changed(Payload):
        """Priority added, required."""

        name: str = Field(description="Name")
        count: int = Field(description="Count")
        colour: Colour = Field(description="Colour")
        note: str | None = Field(default=None, description="Note")
        parts: tuple[Part, ...] = Field(default=(), description="Parts")
        priority: int = Field(description="Priority")

    assert check(_registry(Changed), baseline) == ["thing.changed.v1.priority: new required field"]


def test_making_a_field_required_is_breaking(baseline: Path) -> None:
    class Changed(Payload):
        """Note now required (and no longer nullable)."""

        name: str = Field(description="Name")
        count: int = Field(description="Count")
        colour: Colour = Field(description="Colour")
        note: str = Field(description="Note")
        parts: tuple[Part, ...] = Field(default=(), description="Parts")

    assert check(_registry(Changed), baseline) == [
        "thing.changed.v1.note: field became required",
        "thing.changed.v1.note: type changed from null | string to string",
    ]


def test_dropping_an_enum_value_is_breaking(baseline: Path) -> None:
    class Changed(Payload):
        """Green is gone."""

        name: str = Field(description="Name")
        count: int = Field(description="Count")
        colour: FewerColours = Field(description="Colour")
        note: str | None = Field(default=None, description="Note")
        parts: tuple[Part, ...] = Field(default=(), description="Parts")

    assert check(_registry(Changed), baseline) == ['thing.changed.v1.colour: enum lost value(s) "green"']


def test_adding_an_optional_field_or_an_enum_value_is_compatible(baseline: Path) -> None:
    class Changed(Payload):
        """Blue and a tag added."""

        name: str = Field(description="Name")
        count: int = Field(description="Count")
        colour: MoreColours = Field(description="Colour")
        note: str | None = Field(default=None, description="Note")
        parts: tuple[Part, ...] = Field(default=(), description="Parts")
        tag: str | None = Field(default=None, description="Tag")

    registry = _registry(Changed)

    assert check(registry, baseline) == []
    assert stale(registry, baseline) == ["thing.changed.v1: snapshot is out of date: run make schemas"]
    assert snapshot(registry, baseline) == [baseline / "thing.changed.v1.json"]
    assert stale(registry, baseline) == []
    assert "tag" in json.loads((baseline / "thing.changed.v1.json").read_text())["properties"]


def test_snapshot_never_overwrites_a_baseline_with_a_breaking_change(baseline: Path) -> None:
    class Changed(Payload):
        """Everything but the name removed."""

        name: str = Field(description="Name")

    before = (baseline / "thing.changed.v1.json").read_text()

    assert snapshot(_registry(Changed), baseline) == []
    assert (baseline / "thing.changed.v1.json").read_text() == before
    assert len(check(_registry(Changed), baseline)) == 4


def test_an_unreadable_snapshot_is_reported(baseline: Path) -> None:
    (baseline / "thing.changed.v1.json").write_text("[1, 2", encoding="utf-8")

    assert check(_registry(Original), baseline) == [
        "thing.changed.v1: snapshot thing.changed.v1.json is not a JSON object"
    ]


def test_command_line_check_fails_on_missing_snapshots_and_write_adds_them(tmp_path: Path) -> None:
    assert main(["--check", "--folder", str(tmp_path)]) == 1
    assert main(["--write", "--folder", str(tmp_path)]) == 0
    assert main(["--check", "--folder", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.json"))) == len(REGISTRY.events())
