"""Notes on interactions: author-only edits, no deletion, the customer's earlier notes in the listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.acw import domain
from switchboard.acw.domain import Emit, Note, NoteKind, add_note, edit_note, notes_for_interaction

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def note(
    note_id: str,
    seconds: float,
    *,
    interaction_id: str = "i-1",
    customer_id: str = "c-1",
    author_id: str = "a-1",
    kind: NoteKind = NoteKind.GENERAL,
    text: str = "text",
) -> Note:
    created, _ = add_note(
        note_id=note_id,
        interaction_id=interaction_id,
        customer_id=customer_id,
        author_id=author_id,
        kind=kind,
        text=text,
        now=at(seconds),
    )
    return created


def test_add_note_records_author_time_and_kind() -> None:
    created, decisions = add_note(
        note_id="n-1",
        interaction_id="i-1",
        customer_id="c-1",
        author_id="a-1",
        kind=NoteKind.NEXT_ACTION,
        text="  Call back on Monday  ",
        now=at(5),
    )
    assert created == Note("n-1", "i-1", "c-1", "a-1", NoteKind.NEXT_ACTION, "Call back on Monday", at(5))
    assert decisions == [Emit(domain.EVENT_NOTE_ADDED, "i-1", created)]


def test_note_kinds() -> None:
    assert {k.value for k in NoteKind} == {
        "customer_feedback",
        "key_points",
        "next_action",
        "suggestion",
        "general",
    }


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 2001])
def test_note_text_is_required_and_limited(text: str) -> None:
    with pytest.raises(domain.InvalidNote) as err:
        note("n-1", 0, text=text)
    assert (err.value.slug, err.value.status) == ("invalid-note", 422)


def test_note_may_be_two_thousand_characters() -> None:
    assert len(note("n-1", 0, text="x" * 2000).text) == 2000


def test_only_the_author_edits() -> None:
    original = note("n-1", 0, text="first")
    edited, decisions = edit_note(original, "a-1", "second", at(60), kind=NoteKind.KEY_POINTS)
    assert (edited.text, edited.kind, edited.edited_at, edited.created_at) == (
        "second",
        NoteKind.KEY_POINTS,
        at(60),
        at(0),
    )
    assert decisions == [Emit(domain.EVENT_NOTE_EDITED, "i-1", edited)]
    with pytest.raises(domain.NotNoteAuthor) as err:
        edit_note(edited, "a-2", "hijack", at(70))
    assert (err.value.slug, err.value.status) == ("not-note-author", 403)
    with pytest.raises(domain.InvalidNote):
        edit_note(edited, "a-1", " ", at(70))


def test_unchanged_edit_is_a_no_op() -> None:
    original = note("n-1", 0, text="same")
    assert edit_note(original, "a-1", " same ", at(60)) == (original, [])


def test_notes_cannot_be_deleted() -> None:
    assert not [name for name in dir(domain) if "delete" in name.lower() or "remove" in name.lower()]


def test_listing_includes_the_customers_earlier_notes_newest_first() -> None:
    notes = [
        note("n-old", 0, interaction_id="i-0", author_id="a-2"),
        note("n-mine", 100),
        note("n-own-earlier", 50, interaction_id="i-0", author_id="a-1"),
        note("n-other-customer", 200, interaction_id="i-9", customer_id="c-9"),
        note("n-latest", 300, author_id="a-3"),
    ]
    listed = notes_for_interaction(notes, "i-1", "c-1")
    assert [n.note_id for n in listed] == ["n-latest", "n-mine", "n-own-earlier", "n-old"]


def test_listing_ties_are_stable() -> None:
    notes = [note("n-a", 10), note("n-b", 10)]
    assert [n.note_id for n in notes_for_interaction(notes, "i-1", "c-1")] == ["n-b", "n-a"]


def test_naive_time_is_refused() -> None:
    with pytest.raises(domain.NaiveDatetime):
        add_note(
            note_id="n",
            interaction_id="i",
            customer_id="c",
            author_id="a",
            kind=NoteKind.GENERAL,
            text="t",
            now=datetime(2025, 1, 1),
        )
