"""Schema compatibility: topics are a public API and must never break silently (DESIGN.md §1, §4).

Every registered event has a checked-in JSON Schema snapshot, ``contracts/schemas/<type>.v<version>.json``.
:func:`check` compares the current payload models with those snapshots and reports what would break a
consumer or a retained message: a field removed, a field's type changed, an enum losing a value, a new
required field, a field becoming required. Adding an optional field or an enum value is compatible.
A breaking change needs a new event type or version, not an edited snapshot.

    uv run python -m switchboard.contracts.compat --write   # add missing and compatible snapshots
    uv run python -m switchboard.contracts.compat --check   # exit 1 on breaking, missing or stale ones
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from switchboard.contracts.registry import EventSpec, Registry
from switchboard.contracts.topics import REGISTRY

DEFAULT_FOLDER = Path(__file__).resolve().parents[3] / "schemas"

MAX_DEPTH = 32

JsonObject = dict[str, Any]


def event_schema(event: EventSpec) -> JsonObject:
    """The payload's standalone JSON Schema, as snapshotted (validation mode: what a reader accepts)."""
    return event.payload.model_json_schema()


def snapshot_path(folder: Path, event: EventSpec) -> Path:
    return folder / f"{event.name}.json"


def render_schema(schema: JsonObject) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def snapshot(registry: Registry, folder: Path) -> list[Path]:
    """Write missing snapshots and refresh compatible ones; return the files written.

    A snapshot whose update would be breaking, or that cannot be read, is left alone so that
    :func:`check` keeps reporting it: the baseline is only ever replaced by a compatible successor.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for event in _sorted(registry):
        path = snapshot_path(folder, event)
        schema = event_schema(event)
        text = render_schema(schema)
        if path.exists():
            current = path.read_text(encoding="utf-8")
            if current == text:
                continue
            old = _load(path)
            if old is None or compare(old, schema, event.name):
                continue
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check(registry: Registry, folder: Path) -> list[str]:
    """Breaking differences between the registry's payload models and the snapshots in ``folder``."""
    problems: list[str] = []
    for event in _sorted(registry):
        path = snapshot_path(folder, event)
        if not path.exists():
            problems.append(f"{event.name}: no snapshot: run make schemas")
            continue
        old = _load(path)
        if old is None:
            problems.append(f"{event.name}: snapshot {path.name} is not a JSON object")
            continue
        problems.extend(compare(old, event_schema(event), event.name))
    registered = {event.name for event in registry.events()}
    for path in sorted(folder.glob("*.json")):
        if path.stem not in registered:
            problems.append(f"{path.stem}: event removed from the registry (its snapshot remains)")
    return problems


def stale(registry: Registry, folder: Path) -> list[str]:
    """Snapshots that differ from the models without breaking anything.

    They still fail ``--check``: a stale baseline would let a later change (removing the field just
    added, say) slip through as compatible.
    """
    return [
        f"{event.name}: snapshot is out of date: run make schemas"
        for event in _sorted(registry)
        if snapshot_path(folder, event).exists()
        and snapshot_path(folder, event).read_text(encoding="utf-8") != render_schema(event_schema(event))
    ]


def compare(old: JsonObject, new: JsonObject, where: str) -> list[str]:
    """Breaking changes from the ``old`` schema to the ``new`` one, each prefixed with the field's path."""
    problems: list[str] = []
    _Comparison(old, new, problems).node(old, new, where)
    return problems


class _Comparison:
    """Walks two schemas side by side, resolving each one's ``$ref`` against its own ``$defs``.

    References are compared by what they point to, not by name: renaming a model changes nothing on
    the wire.
    """

    def __init__(self, old_root: JsonObject, new_root: JsonObject, problems: list[str]) -> None:
        self.old_defs: JsonObject = old_root.get("$defs", {})
        self.new_defs: JsonObject = new_root.get("$defs", {})
        self.problems = problems

    def node(self, old: JsonObject, new: JsonObject, path: str) -> None:
        # A recursive model would otherwise be walked forever; real payloads nest far less deeply.
        if path.count(".") + path.count("[]") > MAX_DEPTH:
            return
        old_variants = _keyed([_resolve(v, self.old_defs) for v in _variants(_resolve(old, self.old_defs))])
        new_variants = _keyed([_resolve(v, self.new_defs) for v in _variants(_resolve(new, self.new_defs))])
        if set(old_variants) != set(new_variants):
            self.problems.append(
                f"{path}: type changed from {_describe(old_variants)} to {_describe(new_variants)}"
            )
            return
        for key, old_variant in old_variants.items():
            new_variant = new_variants[key]
            kind = key[0]
            if kind == "enum":
                lost = [v for v in _enum_values(old_variant) if v not in _enum_values(new_variant)]
                if lost:
                    self.problems.append(f"{path}: enum lost value(s) {', '.join(map(json.dumps, lost))}")
            elif kind == "object":
                self.object(old_variant, new_variant, path)
            elif kind == "array":
                self.node(old_variant.get("items", {}), new_variant.get("items", {}), f"{path}[]")
            elif kind == "map":
                old_values, new_values = (
                    old_variant["additionalProperties"],
                    new_variant["additionalProperties"],
                )
                if isinstance(old_values, dict) and isinstance(new_values, dict):
                    self.node(old_values, new_values, f"{path}{{}}")

    def object(self, old: JsonObject, new: JsonObject, path: str) -> None:
        old_props: JsonObject = old.get("properties", {})
        new_props: JsonObject = new.get("properties", {})
        old_required = set(old.get("required", []))
        for name in sorted(set(new.get("required", [])) - old_required):
            if name in old_props:
                self.problems.append(f"{path}.{name}: field became required")
            else:
                self.problems.append(f"{path}.{name}: new required field")
        for name, old_prop in old_props.items():
            if name not in new_props:
                self.problems.append(f"{path}.{name}: field removed")
            else:
                self.node(old_prop, new_props[name], f"{path}.{name}")


def _resolve(schema: JsonObject, defs: JsonObject) -> JsonObject:
    hops = 0
    while "$ref" in schema and hops < 50:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**defs.get(name, {}), **siblings}
        hops += 1
    return schema


def _variants(schema: JsonObject) -> list[JsonObject]:
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return [v for option in schema[combinator] for v in _variants(option)]
    if isinstance(schema.get("type"), list):
        return [{**schema, "type": t} for t in schema["type"]]
    return [schema]


def _kind(schema: JsonObject) -> tuple[str, ...]:
    json_type = schema.get("type")
    if "enum" in schema or "const" in schema:
        return ("enum", str(json_type))
    if json_type == "object":
        return ("map",) if "properties" not in schema and "additionalProperties" in schema else ("object",)
    if json_type == "array":
        return ("array",)
    fmt = schema.get("format")
    return (str(json_type),) if fmt is None else (str(json_type), str(fmt))


def _keyed(variants: list[JsonObject]) -> dict[tuple[str, ...], JsonObject]:
    keyed: dict[tuple[str, ...], JsonObject] = {}
    kinds = [_kind(v) for v in variants]
    for kind, variant in zip(kinds, variants, strict=True):
        # Several objects (or enums) in one union are told apart by title; a lone one needs no name.
        key = (*kind, str(variant.get("title"))) if kinds.count(kind) > 1 else kind
        keyed[key] = variant
    return keyed


def _enum_values(schema: JsonObject) -> list[Any]:
    return list(schema["enum"]) if "enum" in schema else [schema.get("const")]


def _describe(variants: dict[tuple[str, ...], JsonObject]) -> str:
    return " | ".join(sorted(":".join(key) for key in variants)) or "anything"


def _load(path: Path) -> JsonObject | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _sorted(registry: Registry) -> list[EventSpec]:
    return sorted(registry.events(), key=lambda e: e.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Snapshot or check the JSON Schemas of all event payloads.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="add missing and compatible snapshots")
    mode.add_argument("--check", action="store_true", help="exit 1 on breaking, missing or stale snapshots")
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="where the snapshots live")
    args = parser.parse_args(argv)
    folder: Path = args.folder
    if args.write:
        for path in snapshot(REGISTRY, folder):
            print(f"wrote {path}")
        problems = check(REGISTRY, folder)
    else:
        problems = check(REGISTRY, folder) + stale(REGISTRY, folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and args.write:
        print("breaking changes need a new event type or version, not a new snapshot", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
