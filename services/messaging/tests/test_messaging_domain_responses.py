"""Standard-response library."""

from __future__ import annotations

import pytest

from switchboard.messaging.domain import (
    InvalidTemplate,
    ResponseChannel,
    ResponseTemplate,
    UnknownPlaceholder,
    category_counts,
    create_template,
    fill_template,
    search_templates,
)

CHAT, EMAIL = ResponseChannel.CHAT, ResponseChannel.EMAIL


def template(
    shortcut: str,
    title: str,
    category: str = "Greetings",
    body: str = "Hi {{customer_name}}!",
    channels: tuple[ResponseChannel, ...] = (CHAT,),
) -> ResponseTemplate:
    return create_template(
        f"t-{shortcut}", category=category, shortcut=shortcut, title=title, body=body, channels=channels
    )


@pytest.fixture
def library() -> list[ResponseTemplate]:
    return [
        template("hello", "Hello and welcome"),
        template("bye", "Goodbye"),
        template("refund", "Refund processed", category="Billing", channels=(CHAT, EMAIL)),
        template("hold", "Please hold", category="billing", channels=(EMAIL,)),
        template("wait", "Thanks for waiting", body="Thanks for holding, {{ customer_name }}."),
    ]


def test_category_counts(library: list[ResponseTemplate]) -> None:
    counts = [(c.name, c.count) for c in category_counts(library)]
    assert counts == [("Billing", 2), ("Greetings", 3)]
    assert [(c.name, c.count) for c in category_counts(library, channel=EMAIL)] == [("Billing", 2)]


def test_slash_search_prefix_case_insensitive(library: list[ResponseTemplate]) -> None:
    assert [t.shortcut for t in search_templates(library, "/HE")] == ["hello"]
    assert [t.shortcut for t in search_templates(library, "/h")] == ["hello", "hold"]
    # Title prefix and title-word prefix match after shortcut matches.
    assert [t.shortcut for t in search_templates(library, "good")] == ["bye"]
    assert [t.shortcut for t in search_templates(library, "proc")] == ["refund"]
    assert [t.shortcut for t in search_templates(library, "w")] == ["wait", "hello"]


def test_slash_alone_lists_everything_and_filters_apply(library: list[ResponseTemplate]) -> None:
    assert len(search_templates(library, "/")) == 5
    assert [t.shortcut for t in search_templates(library, "/", channel=EMAIL)] == ["hold", "refund"]
    assert [t.shortcut for t in search_templates(library, "", category="BILLING")] == ["hold", "refund"]
    assert len(search_templates(library, "", limit=2)) == 2


def test_fill_placeholders_and_fallbacks() -> None:
    t = create_template(
        "t",
        category="c",
        shortcut="x",
        title="x",
        body="Hi {{customer_name}}, I'm {{agent_name}} from {{queue}}.",
        channels=(CHAT,),
    )
    assert t.placeholders == {"customer_name", "agent_name", "queue"}
    filled = fill_template(t, {"customer_name": "Ana", "agent_name": "Sam", "queue": "Billing"})
    assert filled.text == "Hi Ana, I'm Sam from Billing."
    assert filled.missing == ()
    partial = fill_template(t, {"customer_name": "  ", "agent_name": "Sam {{queue}}\x07"})
    assert partial.text == "Hi there, I'm Sam {{queue}} from our team."
    assert partial.missing == ("customer_name", "queue")


def test_unknown_placeholder_refused_at_creation() -> None:
    with pytest.raises(UnknownPlaceholder) as info:
        template("x", "x", body="Hi {{first_name}}")
    assert info.value.slug == "unknown-placeholder"
    assert isinstance(info.value, InvalidTemplate)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"body": "Hi {{customer_name"},
        {"body": ""},
        {"body": "x" * 4001},
        {"title": ""},
        {"title": "x" * 101},
        {"title": "two\nlines"},
        {"category": ""},
        {"category": "c" * 61},
        {"shortcut": "Has Space"},
        {"shortcut": ""},
        {"channels": ()},
    ],
)
def test_template_validation(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "category": "c",
        "shortcut": "ok",
        "title": "t",
        "body": "b",
        "channels": (CHAT,),
    }
    fields.update(kwargs)
    with pytest.raises(InvalidTemplate) as info:
        create_template("t", **fields)  # type: ignore[arg-type]
    assert info.value.status == 422


def test_shortcut_is_normalized() -> None:
    assert template("/Hello", "Hi").shortcut == "hello"
