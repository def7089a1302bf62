"""Disposition sets (admin CRUD) and the validation of an agent's choices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.acw import domain
from switchboard.acw.domain import (
    AcwMode,
    Catalogue,
    Channel,
    DispositionSet,
    Emit,
    InteractionAcw,
    InteractionClosed,
    QueueAcwSettings,
    Status,
    add_code,
    add_field,
    confirm_end,
    default_catalogue,
    new_disposition_set,
    open_interaction,
    relabel_code,
    relabel_field,
    request_end,
    restore_code,
    retire_code,
    save_draft,
    set_field_required,
    submit_dispositions,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sales_set() -> DispositionSet:
    dset = add_code(new_disposition_set("sales", "Sales"), "status", "callback-booked", "Callback booked")
    dset = add_field(
        dset, "reason", "Reason", required=True, codes=[("billing", "Billing"), ("upgrade", "Upgrade")]
    )
    return add_field(dset, "product", "Product", codes=[("phone", "Phone"), ("tablet", "Tablet")])


def catalogue(sales: DispositionSet | None = None) -> Catalogue:
    other = add_code(new_disposition_set("support", "Support"), "status", "escalated", "Escalated")
    cat = default_catalogue().with_set(sales or sales_set()).with_set(other)
    cat = cat.with_queue("q-sales", QueueAcwSettings(AcwMode.IMMEDIATE, "sales"))
    return cat.with_queue("q-support", QueueAcwSettings(AcwMode.IMMEDIATE, "support"))


def in_acw(cat: Catalogue, queue: str = "q-sales") -> InteractionAcw:
    ix = open_interaction(
        interaction_id="i-1",
        customer_id="c-1",
        channel=Channel.CHAT,
        queue_id=queue,
        agent_id="a-1",
        assigned_at=T0,
    )
    ix, _ = request_end(ix, "a-1", at(10))
    ix, _ = confirm_end(ix, cat, "a-1", at(11))
    return ix


def closed_event(decisions: list[domain.Decision]) -> InteractionClosed:
    [event] = [
        d for d in decisions if isinstance(d, Emit) and d.event_type == domain.EVENT_INTERACTION_CLOSED
    ]
    assert isinstance(event.payload, InteractionClosed)
    return event.payload


# --- set structure ----------------------------------------------------------------------------------


def test_new_set_has_the_required_status_field_with_builtins() -> None:
    dset = new_disposition_set("s", "Set")
    [status] = dset.fields
    assert status.name == domain.STATUS_FIELD
    assert status.required
    assert [(c.code, c.label, c.builtin) for c in status.codes] == [
        ("resolved", "Resolved", True),
        ("abandoned", "Abandoned", True),
        ("pending", "Pending", True),
    ]
    assert dset.required_fields() == ("status",)


def test_custom_codes_and_fields() -> None:
    dset = sales_set()
    assert [f.name for f in dset.fields] == ["status", "reason", "product"]
    assert dset.required_fields() == ("status", "reason")
    found = dset.find_code("callback-booked")
    assert found is not None
    assert found[0].name == "status"
    assert not found[1].builtin


@pytest.mark.parametrize(
    "code",
    ["", "Billing", "has space", "-lead", "trail-", "double--dash", "ümlaut", "a" * 65, "x.y", "a/b"],
)
def test_code_format_is_enforced(code: str) -> None:
    with pytest.raises(domain.InvalidDispositionCode) as err:
        add_code(sales_set(), "reason", code, "Label")
    assert (err.value.slug, err.value.status) == ("invalid-disposition-code", 422)


@pytest.mark.parametrize("code", ["a", "refund_2", "x-y-z", "9", "a" * 64])
def test_valid_code_formats(code: str) -> None:
    dset = add_code(sales_set(), "reason", code, "Label")
    assert dset.find_code(code) is not None


def test_system_generated_code_is_reserved() -> None:
    with pytest.raises(domain.InvalidDispositionCode, match="reserved"):
        add_code(sales_set(), "reason", domain.SYSTEM_GENERATED_CODE, "Mine")


@pytest.mark.parametrize(
    ("field", "code"), [("reason", "billing"), ("product", "billing"), ("reason", "resolved")]
)
def test_codes_are_unique_within_a_set(field: str, code: str) -> None:
    with pytest.raises(domain.DuplicateDispositionCode) as err:
        add_code(sales_set(), field, code, "Again")
    assert err.value.status == 409


def test_same_code_may_exist_in_two_sets() -> None:
    cat = catalogue()
    assert cat.sets["sales"].find_code("resolved") is not None
    assert cat.sets["support"].find_code("resolved") is not None


def test_retired_codes_cannot_be_reused() -> None:
    dset = retire_code(sales_set(), "upgrade")
    with pytest.raises(domain.DuplicateDispositionCode):
        add_code(dset, "product", "upgrade", "Upgrade kit")


@pytest.mark.parametrize("label", ["", "   ", "x" * 81])
def test_label_length_is_enforced(label: str) -> None:
    with pytest.raises(domain.InvalidDispositionLabel) as err:
        add_code(sales_set(), "reason", "other", label)
    assert err.value.status == 422
    with pytest.raises(domain.InvalidDispositionLabel):
        relabel_code(sales_set(), "billing", label)
    with pytest.raises(domain.InvalidDispositionLabel):
        relabel_field(sales_set(), "reason", label)


def test_labels_are_trimmed_and_may_be_eighty_characters() -> None:
    dset = add_code(sales_set(), "reason", "other", "  " + "x" * 80 + " ")
    found = dset.find_code("other")
    assert found is not None
    assert found[1].label == "x" * 80


def test_relabel() -> None:
    dset = relabel_code(sales_set(), "resolved", "Solved")
    dset = relabel_field(dset, "reason", "Why")
    found = dset.find_code("resolved")
    assert found is not None
    assert found[1].label == "Solved"
    reason = dset.field("reason")
    assert reason is not None
    assert reason.label == "Why"


def test_fields_are_unique_and_required_fields_need_a_selectable_code() -> None:
    with pytest.raises(domain.DuplicateDispositionField):
        add_field(sales_set(), "reason", "Reason again")
    with pytest.raises(domain.RequiredFieldWithoutCodes) as err:
        add_field(sales_set(), "channel", "Channel", required=True)
    assert err.value.status == 422
    dset = add_field(sales_set(), "channel", "Channel")
    with pytest.raises(domain.RequiredFieldWithoutCodes):
        set_field_required(dset, "channel", True)
    dset = add_code(dset, "channel", "web", "Web")
    assert set_field_required(dset, "channel", True).required_fields() == ("status", "reason", "channel")


def test_retiring_the_last_code_of_a_required_field_is_refused() -> None:
    dset = retire_code(sales_set(), "billing")
    with pytest.raises(domain.RequiredFieldWithoutCodes):
        retire_code(dset, "upgrade")
    optional = set_field_required(dset, "reason", False)
    assert retire_code(optional, "upgrade").required_fields() == ("status",)


def test_status_field_and_builtins_are_locked() -> None:
    with pytest.raises(domain.BuiltinDispositionLocked):
        set_field_required(sales_set(), "status", False)
    with pytest.raises(domain.BuiltinDispositionLocked):
        retire_code(sales_set(), "pending")
    assert retire_code(sales_set(), "callback-booked").find_code("callback-booked") is not None


def test_sets_refuse_broken_structure() -> None:
    status = new_disposition_set("s", "S").fields[0]
    with pytest.raises(domain.InvalidDispositionSet):
        DispositionSet("", "Name", (status,))
    with pytest.raises(domain.InvalidDispositionSet):
        DispositionSet("s", "Name", ())
    with pytest.raises(domain.InvalidDispositionSet):
        DispositionSet("s", "Name", (domain.DispositionField("status", "Status", True, status.codes[:1]),))


def test_missing_targets_are_404() -> None:
    with pytest.raises(domain.DispositionFieldNotFound) as field_err:
        add_code(sales_set(), "nope", "x", "X")
    with pytest.raises(domain.DispositionCodeNotFound) as code_err:
        retire_code(sales_set(), "nope")
    with pytest.raises(domain.DispositionSetNotFound) as set_err:
        catalogue().disposition_set("nope")
    assert field_err.value.status == code_err.value.status == set_err.value.status == 404


def test_catalogue_refuses_queues_pointing_at_unknown_sets() -> None:
    with pytest.raises(domain.DispositionSetNotFound):
        catalogue().with_queue("q", QueueAcwSettings(AcwMode.TIMED, "nope"))


def test_catalogue_is_read_only() -> None:
    cat = catalogue()
    with pytest.raises(TypeError):
        cat.queues["q-x"] = QueueAcwSettings(AcwMode.TIMED, "sales")  # type: ignore[index]


# --- choosing codes ---------------------------------------------------------------------------------


def test_custom_status_can_be_chosen() -> None:
    cat = catalogue()
    closed, decisions = submit_dispositions(
        in_acw(cat), cat, "a-1", {"status": "callback-booked", "reason": "upgrade"}, None, at(20)
    )
    assert closed.status is Status.CLOSED
    assert [d.label for d in closed_event(decisions).codes] == ["Callback booked", "Upgrade"]


@pytest.mark.parametrize(
    ("choices", "error", "slug"),
    [
        ({"status": "nope", "reason": "billing"}, domain.UnknownDispositionCode, "unknown-disposition-code"),
        (
            {"status": domain.SYSTEM_GENERATED_CODE, "reason": "billing"},
            domain.UnknownDispositionCode,
            "unknown-disposition-code",
        ),
        ({"status": "escalated", "reason": "billing"}, domain.CodeNotInSet, "code-not-in-set"),
        ({"status": "billing", "reason": "billing"}, domain.CodeNotInField, "code-not-in-field"),
        (
            {"status": "resolved", "mood": "happy"},
            domain.UnknownDispositionField,
            "unknown-disposition-field",
        ),
    ],
)
def test_invalid_choices_are_422(choices: dict[str, str], error: type[domain.AcwError], slug: str) -> None:
    cat = catalogue()
    ix = in_acw(cat)
    with pytest.raises(error) as err:
        submit_dispositions(ix, cat, "a-1", choices, None, at(20))
    assert (err.value.slug, err.value.status) == (slug, 422)
    with pytest.raises(error):
        save_draft(ix, cat, "a-1", choices, None, at(20))


def test_retired_code_stays_readable_but_cannot_be_chosen() -> None:
    cat = catalogue()
    ix = in_acw(cat)
    old, _ = submit_dispositions(ix, cat, "a-1", {"status": "resolved", "reason": "upgrade"}, None, at(20))
    cat = cat.with_set(relabel_code(retire_code(cat.sets["sales"], "upgrade"), "upgrade", "Upgrade (old)"))
    with pytest.raises(domain.RetiredDispositionCode) as err:
        submit_dispositions(ix, cat, "a-1", {"status": "resolved", "reason": "upgrade"}, None, at(20))
    assert (err.value.slug, err.value.status) == ("disposition-code-retired", 422)
    assert [(d.code, d.label) for d in old.dispositions] == [("resolved", "Resolved"), ("upgrade", "Upgrade")]
    found = cat.sets["sales"].find_code("upgrade")
    assert found is not None
    assert found[1].retired
    restored = cat.with_set(restore_code(cat.sets["sales"], "upgrade"))
    closed, _ = submit_dispositions(
        ix, restored, "a-1", {"status": "resolved", "reason": "upgrade"}, None, at(21)
    )
    assert closed.status is Status.CLOSED


def test_description_is_optional_trimmed_and_limited() -> None:
    cat = catalogue()
    ix = in_acw(cat)
    full = {"status": "resolved", "reason": "billing"}
    closed, _ = submit_dispositions(ix, cat, "a-1", full, "   ", at(20))
    assert closed.description is None
    closed, _ = submit_dispositions(ix, cat, "a-1", full, " " + "d" * 1000 + " ", at(20))
    assert closed.description == "d" * 1000
    with pytest.raises(domain.DescriptionTooLong) as err:
        submit_dispositions(ix, cat, "a-1", full, "d" * 1001, at(20))
    assert (err.value.slug, err.value.status) == ("description-too-long", 422)


def test_draft_is_merged_into_the_submission() -> None:
    cat = catalogue()
    ix = in_acw(cat)
    ix, decisions = save_draft(ix, cat, "a-1", {"reason": "billing"}, "first thoughts", at(15))
    assert decisions == []
    ix, _ = save_draft(ix, cat, "a-1", {"product": "tablet"}, None, at(16))
    assert ix.draft_choices == {"reason": "billing", "product": "tablet"}
    assert ix.draft_description == "first thoughts"
    closed, decisions = submit_dispositions(ix, cat, "a-1", {"status": "pending"}, None, at(20))
    event = closed_event(decisions)
    assert [d.code for d in event.codes] == ["pending", "billing", "tablet"]
    assert event.description == "first thoughts"
    assert closed.draft == ()


def test_draft_rules() -> None:
    cat = catalogue()
    ix = in_acw(cat)
    with pytest.raises(domain.NotAssignedAgent):
        save_draft(ix, cat, "a-2", {"reason": "billing"}, None, at(15))
    live = open_interaction(
        interaction_id="i-2",
        customer_id="c",
        channel=Channel.CHAT,
        queue_id="q-sales",
        agent_id="a-1",
        assigned_at=T0,
    )
    with pytest.raises(domain.NotEnded) as err:
        save_draft(live, cat, "a-1", {"reason": "billing"}, None, at(15))
    assert err.value.status == 409
    closed, _ = submit_dispositions(ix, cat, "a-1", {"status": "resolved", "reason": "billing"}, None, at(20))
    with pytest.raises(domain.AlreadyClosed):
        save_draft(closed, cat, "a-1", {"reason": "billing"}, None, at(21))
