"""Ending interactions and the three ACW modes, with explicit times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from switchboard.acw import domain
from switchboard.acw.domain import (
    AcwError,
    AcwExpired,
    AcwMode,
    AcwStarted,
    CancelTimer,
    Catalogue,
    Channel,
    ClosedBy,
    Decision,
    Emit,
    EndCause,
    InteractionAcw,
    InteractionClosed,
    InteractionEnded,
    InteractionEndRequested,
    Party,
    QueueAcwSettings,
    ReleaseSlot,
    ScheduleTimer,
    Status,
    add_code,
    add_field,
    assign,
    cancel_end,
    confirm_end,
    default_catalogue,
    end_from_event,
    expire,
    new_disposition_set,
    open_interaction,
    record_agent_reply,
    record_snooze,
    request_end,
    save_draft,
    submit_dispositions,
    transfer,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def build_catalogue() -> Catalogue:
    sales = add_field(
        new_disposition_set("sales", "Sales"),
        "reason",
        "Reason",
        required=True,
        codes=[("billing", "Billing"), ("upgrade", "Upgrade")],
    )
    sales = add_field(sales, "product", "Product", codes=[("phone", "Phone")])
    support = add_code(new_disposition_set("support", "Support"), "status", "escalated", "Escalated")
    cat = default_catalogue().with_set(sales).with_set(support)
    cat = cat.with_queue("q-immediate", QueueAcwSettings(AcwMode.IMMEDIATE, "sales"))
    cat = cat.with_queue("q-timed", QueueAcwSettings(AcwMode.TIMED, "sales", timeout=timedelta(seconds=60)))
    cat = cat.with_queue("q-off", QueueAcwSettings(AcwMode.DISABLED, "support"))
    return cat.with_queue("q-support", QueueAcwSettings(AcwMode.IMMEDIATE, "support"))


CAT = build_catalogue()
FULL_SALES = {"status": "resolved", "reason": "billing"}


def chat(queue: str = "q-immediate", *, auto_answer: bool = False, iid: str = "i-1") -> InteractionAcw:
    return open_interaction(
        interaction_id=iid,
        customer_id="c-1",
        channel=Channel.CHAT,
        queue_id=queue,
        agent_id="a-1",
        assigned_at=T0,
        auto_answer=auto_answer,
    )


def end(ix: InteractionAcw, seconds: float = 60, agent: str = "a-1") -> tuple[InteractionAcw, list[Decision]]:
    ix, _ = request_end(ix, agent, at(seconds - 1))
    return confirm_end(ix, CAT, agent, at(seconds))


def emitted(decisions: list[Decision], event_type: str) -> list[Emit]:
    return [d for d in decisions if isinstance(d, Emit) and d.event_type == event_type]


def closing(decisions: list[Decision]) -> InteractionClosed:
    [event] = emitted(decisions, domain.EVENT_INTERACTION_CLOSED)
    assert isinstance(event.payload, InteractionClosed)
    return event.payload


def releases(decisions: list[Decision]) -> list[ReleaseSlot]:
    return [d for d in decisions if isinstance(d, ReleaseSlot)]


# --- two-step end -----------------------------------------------------------------------------------


def test_request_end_changes_nothing_until_confirmed() -> None:
    ix = chat()
    requested, decisions = request_end(ix, "a-1", at(10))
    assert decisions == []
    assert requested.status is Status.LIVE
    assert requested.ended_at is None
    assert requested.end_requested_by == "a-1"


def test_cancel_then_confirm_is_refused() -> None:
    ix, _ = request_end(chat(), "a-1", at(10))
    ix, decisions = cancel_end(ix, "a-1")
    assert decisions == []
    assert ix == chat()
    with pytest.raises(domain.EndNotRequested) as err:
        confirm_end(ix, CAT, "a-1", at(11))
    assert (err.value.slug, err.value.status) == ("end-not-requested", 409)


def test_confirm_without_request_is_refused() -> None:
    with pytest.raises(domain.EndNotRequested):
        confirm_end(chat(), CAT, "a-1", at(5))


def test_cancel_without_request_is_harmless() -> None:
    assert cancel_end(chat(), "a-1") == (chat(), [])


def test_confirm_ends_and_moves_to_acw() -> None:
    ix, decisions = end(chat())
    assert ix.status is Status.ACW
    assert ix.ended_at == at(60)
    assert ix.end_cause is EndCause.AGENT
    assert ix.end_requested_by is None
    assert [d.event_type for d in decisions if isinstance(d, Emit)] == [
        domain.EVENT_END_REQUESTED,
        domain.EVENT_INTERACTION_ENDED,
        domain.EVENT_ACW_STARTED,
    ]
    [terminate] = emitted(decisions, domain.EVENT_END_REQUESTED)
    assert terminate.payload == InteractionEndRequested("i-1", "a-1", Channel.CHAT)
    [ended] = emitted(decisions, domain.EVENT_INTERACTION_ENDED)
    assert isinstance(ended.payload, InteractionEnded)
    assert ended.key == "i-1"
    assert (ended.payload.end_cause, ended.payload.ended_by) == (EndCause.AGENT, Party.AGENT)
    [started] = emitted(decisions, domain.EVENT_ACW_STARTED)
    assert started.payload == AcwStarted("i-1", "a-1", AcwMode.IMMEDIATE, None, "sales", "q-immediate")


@pytest.mark.parametrize("step", ["request", "confirm", "cancel"])
def test_only_the_assigned_agent_can_end(step: str) -> None:
    ix, _ = request_end(chat(), "a-1", at(1))
    attempts: dict[str, Callable[[], object]] = {
        "request": lambda: request_end(ix, "a-2", at(2)),
        "confirm": lambda: confirm_end(ix, CAT, "a-2", at(2)),
        "cancel": lambda: cancel_end(ix, "a-2"),
    }
    with pytest.raises(domain.NotAssignedAgent) as err:
        attempts[step]()
    assert (err.value.slug, err.value.status) == ("not-assigned-agent", 403)


def test_auto_answer_needs_the_assigned_agents_first_reply() -> None:
    ix = chat(auto_answer=True)
    with pytest.raises(domain.FirstReplyRequired) as err:
        request_end(ix, "a-1", at(1))
    assert (err.value.slug, err.value.status) == ("first-reply-required", 409)
    ix, _ = record_agent_reply(ix, "a-2")
    with pytest.raises(domain.FirstReplyRequired):
        request_end(ix, "a-1", at(2))
    ix, _ = record_agent_reply(ix, "a-1")
    ix, _ = request_end(ix, "a-1", at(3))
    ix, _ = confirm_end(ix, CAT, "a-1", at(4))
    assert ix.status is Status.ACW


def test_without_auto_answer_end_is_allowed_before_any_reply() -> None:
    ix, _ = end(chat())
    assert ix.status is Status.ACW


@pytest.mark.parametrize("cause", [EndCause.CUSTOMER, EndCause.HANG_UP, EndCause.EXTERNAL_TRANSFER])
def test_remote_end_needs_no_confirmation_and_ignores_first_reply(cause: EndCause) -> None:
    ix, decisions = end_from_event(chat(auto_answer=True), CAT, cause, at(30))
    assert ix.status is Status.ACW
    assert ix.end_cause is cause
    assert len(emitted(decisions, domain.EVENT_INTERACTION_ENDED)) == 1
    # Only an agent's End asks the channel to terminate; here the channel told us.
    assert emitted(decisions, domain.EVENT_END_REQUESTED) == []


@pytest.mark.parametrize(
    ("cause", "given", "expected"),
    [
        (EndCause.CUSTOMER, None, Party.CUSTOMER),
        (EndCause.HANG_UP, None, Party.CUSTOMER),
        (EndCause.HANG_UP, Party.SYSTEM, Party.SYSTEM),
        (EndCause.EXTERNAL_TRANSFER, None, Party.AGENT),
    ],
)
def test_who_ended_comes_from_the_event(cause: EndCause, given: Party | None, expected: Party) -> None:
    ix, decisions = end_from_event(chat(), CAT, cause, at(30), ended_by=given)
    [ended] = emitted(decisions, domain.EVENT_INTERACTION_ENDED)
    assert isinstance(ended.payload, InteractionEnded)
    assert ended.payload.ended_by is expected
    assert ix.ended_by is expected


def test_remote_end_twice_ends_once() -> None:
    ix, _ = end_from_event(chat(), CAT, EndCause.CUSTOMER, at(30))
    again, decisions = end_from_event(ix, CAT, EndCause.HANG_UP, at(31))
    assert (again, decisions) == (ix, [])


def test_remote_end_cannot_claim_the_agent_ended() -> None:
    with pytest.raises(domain.InvalidEndCause):
        end_from_event(chat(), CAT, EndCause.AGENT, at(1))


def test_agent_end_after_customer_left_is_refused() -> None:
    ix, _ = request_end(chat(), "a-1", at(1))
    ix, _ = end_from_event(ix, CAT, EndCause.CUSTOMER, at(2))
    with pytest.raises(domain.AlreadyEnded):
        confirm_end(ix, CAT, "a-1", at(3))
    ix, _ = submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(4))
    with pytest.raises(domain.AlreadyClosed):
        request_end(ix, "a-1", at(5))


# --- immediate slot release -------------------------------------------------------------------------


def test_immediate_release_frees_the_slot_at_end_and_sets_no_timer() -> None:
    ix, decisions = end(chat("q-immediate"))
    assert releases(decisions) == [ReleaseSlot("a-1", "i-1", Channel.CHAT)]
    assert not [d for d in decisions if isinstance(d, ScheduleTimer)]
    assert ix.acw_due_at is None
    assert ix.time_left(at(100)) is None


def test_immediate_close_needs_every_required_field() -> None:
    ix, _ = end(chat("q-immediate"))
    with pytest.raises(domain.DispositionsIncomplete) as err:
        submit_dispositions(ix, CAT, "a-1", {"product": "phone"}, None, at(70))
    assert (err.value.slug, err.value.status) == ("dispositions-incomplete", 422)
    assert err.value.missing_fields == ("status", "reason")
    assert "status" in err.value.detail
    assert "reason" in err.value.detail


def test_immediate_close_has_no_time_limit_and_closes_once() -> None:
    ix, _ = end(chat("q-immediate"))
    a_day_later = at(60 + 24 * 3600)
    assert expire(ix, CAT, a_day_later) == (ix, [])
    closed, decisions = submit_dispositions(ix, CAT, "a-1", FULL_SALES, "Card replaced", a_day_later)
    assert closed.status is Status.CLOSED
    assert releases(decisions) == []
    event = closing(decisions)
    assert event.closed_by is ClosedBy.AGENT
    assert [(d.field, d.code, d.label) for d in event.codes] == [
        ("status", "resolved", "Resolved"),
        ("reason", "billing", "Billing"),
    ]
    assert event.description == "Card replaced"
    assert event.acw_seconds == 24 * 3600
    with pytest.raises(domain.AlreadyClosed) as err:
        submit_dispositions(closed, CAT, "a-1", FULL_SALES, None, a_day_later)
    assert (err.value.slug, err.value.status) == ("already-closed", 409)


def test_submit_on_a_live_interaction_is_refused() -> None:
    with pytest.raises(domain.NotEnded):
        submit_dispositions(chat(), CAT, "a-1", FULL_SALES, None, at(5))


def test_submit_by_another_agent_is_refused() -> None:
    ix, _ = end(chat())
    with pytest.raises(domain.NotAssignedAgent):
        submit_dispositions(ix, CAT, "a-2", FULL_SALES, None, at(70))


# --- timed slot release -----------------------------------------------------------------------------


def test_timed_release_schedules_a_visible_deadline_and_keeps_the_slot() -> None:
    ix, decisions = end(chat("q-timed"), seconds=100)
    due = at(160)
    assert ix.acw_due_at == due
    assert ScheduleTimer(domain.TIMER_ACW_EXPIRY, "i-1", due) in decisions
    assert releases(decisions) == []
    [started] = emitted(decisions, domain.EVENT_ACW_STARTED)
    assert isinstance(started.payload, AcwStarted)
    assert (started.payload.mode, started.payload.deadline) == (AcwMode.TIMED, due)
    assert ix.time_left(at(130)) == timedelta(seconds=30)
    assert ix.time_left(at(999)) == timedelta(0)


def test_timed_submit_frees_the_slot_and_cancels_the_timer() -> None:
    ix, _ = end(chat("q-timed"), seconds=100)
    closed, decisions = submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(120))
    assert decisions[0] == CancelTimer(domain.TIMER_ACW_EXPIRY, "i-1")
    assert releases(decisions) == [ReleaseSlot("a-1", "i-1", Channel.CHAT)]
    assert closing(decisions).acw_seconds == 20
    assert expire(closed, CAT, at(160)) == (closed, [])


def test_expiry_fills_empty_required_fields_and_closes_by_system() -> None:
    ix, _ = end(chat("q-timed"), seconds=100)
    ix, _ = save_draft(ix, CAT, "a-1", {"product": "phone"}, "half done", at(110))
    closed, decisions = expire(ix, CAT, at(160))
    assert closed.status is Status.CLOSED
    assert closed.closed_by is ClosedBy.SYSTEM
    assert releases(decisions) == [ReleaseSlot("a-1", "i-1", Channel.CHAT)]
    event = closing(decisions)
    assert event.closed_by is ClosedBy.SYSTEM
    assert [(d.field, d.code, d.system_generated) for d in event.codes] == [
        ("status", domain.SYSTEM_GENERATED_CODE, True),
        ("reason", domain.SYSTEM_GENERATED_CODE, True),
        ("product", "phone", False),
    ]
    assert event.description == "half done"
    assert event.acw_seconds == 60
    [message] = emitted(decisions, domain.EVENT_ACW_EXPIRED)
    assert isinstance(message.payload, AcwExpired)
    assert message.payload.system_generated_fields == ("status", "reason")
    assert (message.payload.agent_id, message.payload.deadline) == ("a-1", at(160))
    assert message.payload.message == domain.EXPIRY_MESSAGE


def test_expiry_is_idempotent_and_later_submit_is_already_closed() -> None:
    ix, _ = end(chat("q-timed"), seconds=100)
    closed, _ = expire(ix, CAT, at(160))
    assert expire(closed, CAT, at(161)) == (closed, [])
    with pytest.raises(domain.AlreadyClosed):
        submit_dispositions(closed, CAT, "a-1", FULL_SALES, None, at(162))


def test_early_timer_fire_puts_the_timer_back() -> None:
    ix, _ = end(chat("q-timed"), seconds=100)
    same, decisions = expire(ix, CAT, at(159))
    assert same == ix
    assert decisions == [ScheduleTimer(domain.TIMER_ACW_EXPIRY, "i-1", at(160))]


def test_submit_wins_until_the_timer_has_fired() -> None:
    # The durable timer is the one authority on expiry: a submit that reaches the database first wins.
    ix, _ = end(chat("q-timed"), seconds=100)
    closed, decisions = submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(165))
    assert closing(decisions).closed_by is ClosedBy.AGENT
    assert expire(closed, CAT, at(166)) == (closed, [])


def test_default_timeout_is_thirty_seconds() -> None:
    cat = CAT.with_queue("q-default-timed", QueueAcwSettings(AcwMode.TIMED, "sales"))
    ix, _ = request_end(chat("q-default-timed"), "a-1", at(9))
    ix, _ = confirm_end(ix, cat, "a-1", at(10))
    assert ix.acw_due_at == at(40)


@pytest.mark.parametrize(
    ("seconds", "valid"),
    [(9, False), (9.999, False), (10, True), (30, True), (900, True), (900.5, False), (3600, False)],
)
@pytest.mark.parametrize("mode", list(AcwMode))
def test_timeout_bounds(seconds: float, valid: bool, mode: AcwMode) -> None:
    timeout = timedelta(seconds=seconds)
    if valid:
        assert QueueAcwSettings(mode, "sales", timeout=timeout).timeout == timeout
    else:
        with pytest.raises(domain.InvalidAcwConfig) as err:
            QueueAcwSettings(mode, "sales", timeout=timeout)
        assert err.value.status == 422


# --- ACW disabled -----------------------------------------------------------------------------------


def test_disabled_closes_at_end_without_dispositions() -> None:
    ix, decisions = end(chat("q-off"))
    assert ix.status is Status.CLOSED
    assert releases(decisions) == [ReleaseSlot("a-1", "i-1", Channel.CHAT)]
    event = closing(decisions)
    assert event.codes == ()
    assert event.closed_by is ClosedBy.SYSTEM
    assert event.acw_seconds == 0
    assert event.acw_mode is AcwMode.DISABLED
    [started] = emitted(decisions, domain.EVENT_ACW_STARTED)
    assert isinstance(started.payload, AcwStarted)
    assert (started.payload.mode, started.payload.disposition_set_id) == (AcwMode.DISABLED, None)
    with pytest.raises(domain.AlreadyClosed):
        submit_dispositions(ix, CAT, "a-1", {"status": "resolved"}, None, at(61))


# --- transfers --------------------------------------------------------------------------------------


def test_final_queues_mode_applies_after_transfer() -> None:
    ix, _ = transfer(chat("q-off"), at(10), to_queue_id="q-timed", to_agent_id="a-1")
    ix, decisions = end(ix, seconds=100)
    assert ix.acw_mode is AcwMode.TIMED
    assert ix.acw_due_at == at(160)
    assert releases(decisions) == []


def test_final_queues_disposition_set_applies_after_transfer() -> None:
    ix, _ = transfer(chat("q-immediate"), at(10), to_queue_id="q-support", to_agent_id="a-1")
    ix, _ = end(ix)
    with pytest.raises(domain.UnknownDispositionField):
        submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(70))
    with pytest.raises(domain.CodeNotInSet):
        submit_dispositions(ix, CAT, "a-1", {"status": "billing"}, None, at(70))
    closed, decisions = submit_dispositions(ix, CAT, "a-1", {"status": "escalated"}, None, at(70))
    assert [d.code for d in closing(decisions).codes] == ["escalated"]
    assert closed.disposition_set_id == "support"


def test_mode_is_read_from_the_catalogue_at_end_time() -> None:
    ix = chat("q-later")
    cat = CAT.with_queue("q-later", QueueAcwSettings(AcwMode.DISABLED, "support"))
    ix, _ = request_end(ix, "a-1", at(1))
    ix, _ = confirm_end(ix, cat, "a-1", at(2))
    assert ix.status is Status.CLOSED


def test_unconfigured_queue_uses_the_default() -> None:
    ix, _ = end(chat("q-nobody-configured"))
    assert ix.acw_mode is AcwMode.IMMEDIATE
    assert ix.disposition_set_id == domain.DEFAULT_SET_ID


def test_transfer_to_another_agent_hands_over_end_rights() -> None:
    ix, _ = request_end(chat(), "a-1", at(1))
    ix, _ = transfer(ix, at(5), to_agent_id="a-2", auto_answer=True)
    assert ix.end_requested_by is None
    assert ix.assigned_at == at(5)
    with pytest.raises(domain.NotAssignedAgent):
        confirm_end(ix, CAT, "a-1", at(6))
    with pytest.raises(domain.FirstReplyRequired):
        request_end(ix, "a-2", at(6))
    ix, _ = record_agent_reply(ix, "a-2")
    ix, decisions = end(ix, seconds=65, agent="a-2")
    assert releases(decisions) == [ReleaseSlot("a-2", "i-1", Channel.CHAT)]


def test_queue_transfer_waits_unassigned_until_accepted() -> None:
    ix, _ = transfer(chat(), at(5), to_queue_id="q-timed")
    assert ix.agent_id is None
    with pytest.raises(domain.NotAssignedAgent):
        request_end(ix, "a-1", at(6))
    ix, _ = assign(ix, "a-2", at(20))
    assert assign(ix, "a-2", at(21)) == (ix, [])
    ix, _ = end(ix, seconds=80, agent="a-2")
    assert ix.acw_mode is AcwMode.TIMED
    assert ix.agent_id == "a-2"


def test_customer_leaving_mid_transfer_closes_with_no_acw_and_no_slot() -> None:
    ix, _ = transfer(chat(), at(5), to_queue_id="q-timed")
    ix, decisions = end_from_event(ix, CAT, EndCause.CUSTOMER, at(8))
    assert ix.status is Status.CLOSED
    assert releases(decisions) == []
    assert emitted(decisions, domain.EVENT_ACW_STARTED) == []
    assert closing(decisions).agent_id is None
    assert closing(decisions).handle_time_seconds == 0


def test_transfer_needs_a_destination_and_a_live_interaction() -> None:
    with pytest.raises(domain.InvalidTransfer):
        transfer(chat(), at(5))
    ix, _ = end(chat())
    with pytest.raises(domain.AlreadyEnded):
        transfer(ix, at(70), to_queue_id="q-timed")
    with pytest.raises(domain.AlreadyEnded):
        assign(ix, "a-2", at(70))


# --- linked calls -----------------------------------------------------------------------------------


def test_call_from_chat_and_chat_close_separately() -> None:
    chat_ix = chat("q-immediate", iid="chat-1")
    call = open_interaction(
        interaction_id="call-1",
        customer_id="c-1",
        channel=Channel.VOICE,
        queue_id="q-support",
        agent_id="a-1",
        assigned_at=at(30),
        linked_interaction_id="chat-1",
    )
    call, call_end = end_from_event(call, CAT, EndCause.HANG_UP, at(90))
    assert releases(call_end) == [ReleaseSlot("a-1", "call-1", Channel.VOICE)]
    call, call_close = submit_dispositions(call, CAT, "a-1", {"status": "escalated"}, None, at(100))
    call_event = closing(call_close)
    assert (call_event.interaction_id, call_event.linked_interaction_id) == ("call-1", "chat-1")
    assert all(getattr(d, "key", "call-1") == "call-1" for d in call_end + call_close)
    assert chat_ix.status is Status.LIVE

    chat_ix, _ = end(chat_ix, seconds=200)
    chat_ix, chat_close = submit_dispositions(chat_ix, CAT, "a-1", FULL_SALES, None, at(210))
    assert closing(chat_close).interaction_id == "chat-1"
    assert [d.code for d in closing(chat_close).codes] == ["resolved", "billing"]


def test_external_blind_transfer_ends_the_call_into_acw() -> None:
    call = open_interaction(
        interaction_id="call-2",
        customer_id="c-1",
        channel=Channel.VOICE,
        queue_id="q-timed",
        agent_id="a-1",
        assigned_at=T0,
    )
    call, decisions = end_from_event(call, CAT, EndCause.EXTERNAL_TRANSFER, at(45))
    assert call.status is Status.ACW
    assert ScheduleTimer(domain.TIMER_ACW_EXPIRY, "call-2", at(105)) in decisions
    _, closed = submit_dispositions(call, CAT, "a-1", FULL_SALES, None, at(50))
    assert closing(closed).end_cause is EndCause.EXTERNAL_TRANSFER


def test_interaction_cannot_link_to_itself() -> None:
    with pytest.raises(domain.InvalidInteraction):
        open_interaction(
            interaction_id="x",
            customer_id="c",
            channel=Channel.VOICE,
            queue_id="q",
            agent_id="a",
            assigned_at=T0,
            linked_interaction_id="x",
        )


def test_voicemail_holds_no_slot_to_release() -> None:
    vm = open_interaction(
        interaction_id="vm-1",
        customer_id="c-1",
        channel=Channel.VOICEMAIL,
        queue_id="q-off",
        agent_id="a-1",
        assigned_at=T0,
        consumes_slot=False,
    )
    vm, decisions = end(vm)
    assert vm.status is Status.CLOSED
    assert releases(decisions) == []


# --- handle time and ACW time -----------------------------------------------------------------------


def test_handle_time_subtracts_snoozes_once_and_only_inside_the_handled_span() -> None:
    ix = chat()
    ix, _ = record_snooze(ix, at(-30), at(10))  # before assignment: only 10 s count
    ix, _ = record_snooze(ix, at(100), at(200))
    ix, _ = record_snooze(ix, at(100), at(200))  # redelivered
    ix, _ = record_snooze(ix, at(150), at(250))  # overlaps the previous one
    ix, _ = record_snooze(ix, at(550), at(700))  # spans the end at 600
    ix, _ = record_snooze(ix, at(5), at(5))  # empty
    ix, _ = end(ix, seconds=600)
    _, decisions = submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(645))
    event = closing(decisions)
    assert event.handle_time_seconds == 600 - 10 - 150 - 50
    assert event.acw_seconds == 45
    assert event.ended_at == at(600)
    assert event.closed_at == at(645)


def test_handle_time_is_the_closing_agents() -> None:
    ix, _ = transfer(chat(), at(100), to_agent_id="a-2")
    ix, _ = end(ix, seconds=160, agent="a-2")
    _, decisions = submit_dispositions(ix, CAT, "a-2", FULL_SALES, None, at(170))
    assert closing(decisions).handle_time_seconds == 60


def test_late_snooze_report_during_acw_still_counts() -> None:
    ix, _ = end(chat(), seconds=100)
    ix, _ = record_snooze(ix, at(20), at(40))
    _, decisions = submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(110))
    assert closing(decisions).handle_time_seconds == 80


def test_close_never_precedes_end_even_with_a_skewed_clock() -> None:
    ix, _ = end_from_event(chat(), CAT, EndCause.CUSTOMER, at(100))
    _, decisions = submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(99))
    event = closing(decisions)
    assert event.closed_at == event.ended_at
    assert event.acw_seconds == 0


def test_closed_interactions_ignore_late_facts() -> None:
    ix, _ = end(chat())
    closed, _ = submit_dispositions(ix, CAT, "a-1", FULL_SALES, None, at(70))
    assert record_snooze(closed, at(1), at(2)) == (closed, [])
    assert record_agent_reply(closed, "a-1") == (closed, [])
    assert end_from_event(closed, CAT, EndCause.CUSTOMER, at(80)) == (closed, [])
    assert expire(closed, CAT, at(80)) == (closed, [])


# --- inputs and errors ------------------------------------------------------------------------------


def test_naive_and_offset_datetimes() -> None:
    with pytest.raises(domain.NaiveDatetime) as err:
        request_end(chat(), "a-1", datetime(2025, 3, 3, 9, 0))
    assert err.value.status == 422
    ix, _ = request_end(chat(), "a-1", at(1))
    plus_two = timezone(timedelta(hours=2))
    ix, _ = confirm_end(ix, CAT, "a-1", datetime(2025, 3, 3, 11, 1, tzinfo=plus_two))
    assert ix.ended_at == at(60)
    assert ix.ended_at.tzinfo is UTC


def test_every_error_has_a_stable_distinct_slug_and_an_http_status() -> None:
    def subclasses(cls: type[AcwError]) -> list[type[AcwError]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    errors = subclasses(AcwError)
    slugs = [e.slug for e in errors]
    assert len(slugs) == len(set(slugs))
    assert {e.status for e in errors} <= {403, 404, 409, 422}
    for error in errors:
        assert error.slug.replace("-", "").isalpha()
        assert error.slug == error.slug.lower()


def test_emit_data_is_a_plain_dict_for_the_contract_model() -> None:
    ix, _ = end(chat())
    _, decisions = submit_dispositions(ix, CAT, "a-1", FULL_SALES, "ok", at(70))
    [event] = emitted(decisions, domain.EVENT_INTERACTION_CLOSED)
    data = event.data()
    assert data["codes"][0] == {
        "field": "status",
        "code": "resolved",
        "label": "Resolved",
        "system_generated": False,
    }
    assert data["closed_by"] == "agent"
    assert data["closed_at"] == at(70)
