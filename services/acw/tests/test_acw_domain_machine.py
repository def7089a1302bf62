"""Hypothesis state machine over the ACW life cycle: every ended interaction closes exactly once.

The machine plays routing, messaging, voice, the durable-timer poller and agents against the pure
rules, carrying out the decisions the way the service will (timers are upserted by (kind, key) and
consumed when they fire), and checks after every step that the rules' promises hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from switchboard.acw import domain
from switchboard.acw.domain import (
    AcwError,
    AcwMode,
    CancelTimer,
    Catalogue,
    Channel,
    ClosedBy,
    Decision,
    DispositionSet,
    Emit,
    EndCause,
    InteractionAcw,
    InteractionClosed,
    Outcome,
    QueueAcwSettings,
    ReleaseSlot,
    ScheduleTimer,
    Status,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
AGENTS = ("a-1", "a-2")
QUEUES = ("q-immediate", "q-timed", "q-timed-long", "q-off", "q-support", "q-unconfigured")
SUBMIT_KINDS = ("valid", "partial", "unknown", "foreign")


def build_catalogue() -> Catalogue:
    sales = domain.add_field(
        domain.new_disposition_set("sales", "Sales"),
        "reason",
        "Reason",
        required=True,
        codes=[("billing", "Billing"), ("upgrade", "Upgrade")],
    )
    sales = domain.add_field(sales, "product", "Product", codes=[("phone", "Phone")])
    support = domain.add_code(
        domain.new_disposition_set("support", "Support"), "status", "escalated", "Escalated"
    )
    cat = domain.default_catalogue().with_set(sales).with_set(support)
    cat = cat.with_queue("q-immediate", QueueAcwSettings(AcwMode.IMMEDIATE, "sales"))
    cat = cat.with_queue("q-timed", QueueAcwSettings(AcwMode.TIMED, "sales"))
    cat = cat.with_queue("q-timed-long", QueueAcwSettings(AcwMode.TIMED, "support", timedelta(minutes=15)))
    cat = cat.with_queue("q-off", QueueAcwSettings(AcwMode.DISABLED, "sales"))
    return cat.with_queue("q-support", QueueAcwSettings(AcwMode.IMMEDIATE, "support"))


def holds_slot(ix: InteractionAcw) -> bool:
    return ix.agent_id is not None and ix.consumes_slot


def valid_choices(dset: DispositionSet) -> dict[str, str]:
    return {f.name: f.active_codes()[0].code for f in dset.fields if f.required}


def foreign_code(cat: Catalogue, dset: DispositionSet) -> str:
    return next(
        code.code
        for other in cat.sets.values()
        for fld in other.fields
        for code in fld.codes
        if dset.find_code(code.code) is None
    )


class AcwMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cat = build_catalogue()
        self.now = T0
        self.ixs: dict[str, InteractionAcw] = {}
        self.timers: dict[str, datetime] = {}
        self.expired: set[str] = set()
        self.ended: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()
        self.released: Counter[str] = Counter()
        self.closings: dict[str, InteractionClosed] = {}
        self.frozen: dict[str, InteractionAcw] = {}

    # --- plumbing ---------------------------------------------------------------------------------

    def pick(self, index: int) -> str:
        keys = sorted(self.ixs)
        return keys[index % len(keys)]

    def has_interactions(self) -> bool:
        return bool(self.ixs)

    def apply(self, iid: str, outcome: Outcome) -> list[Decision]:
        new, decisions = outcome
        old = self.ixs[iid]
        assert new.interaction_id == iid
        if old.status is Status.CLOSED:
            assert new == old
            assert decisions == []
        for decision in decisions:
            if isinstance(decision, Emit):
                assert decision.key == iid
                if decision.event_type == domain.EVENT_INTERACTION_ENDED:
                    self.ended[iid] += 1
                elif decision.event_type == domain.EVENT_INTERACTION_CLOSED:
                    assert isinstance(decision.payload, InteractionClosed)
                    self.closed[iid] += 1
                    self.closings[iid] = decision.payload
                    event(f"closed by {decision.payload.closed_by} in {decision.payload.acw_mode} mode")
            elif isinstance(decision, ScheduleTimer):
                assert decision.key == iid
                assert decision.kind == domain.TIMER_ACW_EXPIRY
                self.timers[iid] = decision.due_at
            elif isinstance(decision, CancelTimer):
                assert decision.key == iid
                self.timers.pop(iid, None)
            else:
                assert isinstance(decision, ReleaseSlot)
                assert decision.interaction_id == iid
                assert decision.agent_id == new.agent_id
                self.released[iid] += 1
        self.ixs[iid] = new
        if new.status is Status.CLOSED:
            self.frozen.setdefault(iid, new)
        return decisions

    def attempt(self, iid: str, expected: type[AcwError] | None, command: Callable[[], Outcome]) -> bool:
        """Run a command that the model predicts fails with ``expected`` (or succeeds when None)."""
        refusal: AcwError | None = None
        try:
            outcome = command()
        except AcwError as error:
            refusal = error
        if refusal is not None:
            event(f"refused: {refusal.slug}")
            assert type(refusal) is expected, f"expected {expected}, got {refusal!r}"
            return False
        assert expected is None, f"expected {expected}, got success"
        self.apply(iid, outcome)
        return True

    @staticmethod
    def end_refusal(ix: InteractionAcw, agent: str) -> type[AcwError] | None:
        if ix.agent_id != agent:
            return domain.NotAssignedAgent
        if ix.status is Status.CLOSED:
            return domain.AlreadyClosed
        if ix.status is Status.ACW:
            return domain.AlreadyEnded
        if ix.auto_answer and not ix.agent_replied:
            return domain.FirstReplyRequired
        return None

    @staticmethod
    def acw_refusal(ix: InteractionAcw, agent: str) -> type[AcwError] | None:
        if ix.agent_id != agent:
            return domain.NotAssignedAgent
        if ix.status is Status.CLOSED:
            return domain.AlreadyClosed
        if ix.status is Status.LIVE:
            return domain.NotEnded
        return None

    def fire(self, iid: str) -> None:
        """The poller fires the timer row for ``iid``: the row is consumed, the handler runs."""
        self.timers.pop(iid, None)
        before = self.ixs[iid]
        self.apply(iid, domain.expire(before, self.cat, self.now))
        after = self.ixs[iid]
        due = before.acw_due_at
        if before.status is Status.ACW and before.acw_mode is AcwMode.TIMED and due is not None:
            if self.now >= due:
                assert after.status is Status.CLOSED
                assert after.closed_by is ClosedBy.SYSTEM
                self.expired.add(iid)
            else:
                assert after == before
                assert self.timers[iid] == due
        else:
            assert after == before

    # --- routing, messaging, voice ----------------------------------------------------------------

    @rule(
        agent=st.sampled_from(AGENTS),
        queue=st.sampled_from(QUEUES),
        auto_answer=st.booleans(),
        channel=st.sampled_from(list(Channel)),
        link=st.one_of(st.none(), st.integers(0, 50)),
    )
    def open(self, agent: str, queue: str, auto_answer: bool, channel: Channel, link: int | None) -> None:
        iid = f"i-{len(self.ixs)}"
        linked = self.pick(link) if link is not None and self.ixs else None
        self.ixs[iid] = domain.open_interaction(
            interaction_id=iid,
            customer_id=f"c-{len(self.ixs) % 3}",
            channel=channel,
            queue_id=queue,
            agent_id=agent,
            assigned_at=self.now,
            auto_answer=auto_answer,
            linked_interaction_id=linked,
            consumes_slot=channel is not Channel.VOICEMAIL,
        )

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), agent=st.sampled_from(AGENTS))
    def reply(self, i: int, agent: str) -> None:
        iid = self.pick(i)
        self.apply(iid, domain.record_agent_reply(self.ixs[iid], agent))

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), back=st.integers(0, 300), length=st.integers(0, 300))
    def snooze(self, i: int, back: int, length: int) -> None:
        iid = self.pick(i)
        start = self.now - timedelta(seconds=back)
        self.apply(iid, domain.record_snooze(self.ixs[iid], start, start + timedelta(seconds=length)))

    @precondition(has_interactions)
    @rule(
        i=st.integers(0, 50),
        queue=st.one_of(st.none(), st.sampled_from(QUEUES)),
        agent=st.one_of(st.none(), st.sampled_from(AGENTS)),
        auto_answer=st.booleans(),
    )
    def transfer(self, i: int, queue: str | None, agent: str | None, auto_answer: bool) -> None:
        iid = self.pick(i)
        ix = self.ixs[iid]
        expected: type[AcwError] | None = None
        if queue is None and agent is None:
            expected = domain.InvalidTransfer
        elif ix.status is Status.CLOSED:
            expected = domain.AlreadyClosed
        elif ix.status is Status.ACW:
            expected = domain.AlreadyEnded
        done = self.attempt(
            iid,
            expected,
            lambda: domain.transfer(
                ix, self.now, to_queue_id=queue, to_agent_id=agent, auto_answer=auto_answer
            ),
        )
        if done:
            new = self.ixs[iid]
            assert new.queue_id == (queue or ix.queue_id)
            assert new.agent_id == agent
            assert new.end_requested_by is None

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), agent=st.sampled_from(AGENTS), auto_answer=st.booleans())
    def assign(self, i: int, agent: str, auto_answer: bool) -> None:
        iid = self.pick(i)
        ix = self.ixs[iid]
        expected = {Status.LIVE: None, Status.ACW: domain.AlreadyEnded, Status.CLOSED: domain.AlreadyClosed}
        if self.attempt(
            iid, expected[ix.status], lambda: domain.assign(ix, agent, self.now, auto_answer=auto_answer)
        ):
            assert self.ixs[iid].agent_id == agent

    @precondition(has_interactions)
    @rule(
        i=st.integers(0, 50),
        cause=st.sampled_from([EndCause.CUSTOMER, EndCause.HANG_UP, EndCause.EXTERNAL_TRANSFER]),
    )
    def remote_end(self, i: int, cause: EndCause) -> None:
        iid = self.pick(i)
        ix = self.ixs[iid]
        decisions = self.apply(iid, domain.end_from_event(ix, self.cat, cause, self.now))
        new = self.ixs[iid]
        if ix.status is Status.LIVE:
            assert new.status is not Status.LIVE
            assert new.end_cause is cause
        else:
            assert decisions == []
            assert new == ix

    # --- the agent ----------------------------------------------------------------------------------

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), agent=st.sampled_from(AGENTS))
    def request_end(self, i: int, agent: str) -> None:
        self.request_end_as(self.pick(i), agent)

    def request_end_as(self, iid: str, agent: str) -> None:
        ix = self.ixs[iid]
        if self.attempt(iid, self.end_refusal(ix, agent), lambda: domain.request_end(ix, agent, self.now)):
            new = self.ixs[iid]
            assert new.status is Status.LIVE
            assert new == replace(ix, end_requested_by=agent, end_requested_at=self.now)

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), agent=st.sampled_from(AGENTS))
    def cancel_end(self, i: int, agent: str) -> None:
        iid = self.pick(i)
        ix = self.ixs[iid]
        expected = domain.NotAssignedAgent if ix.agent_id != agent else None
        if self.attempt(iid, expected, lambda: domain.cancel_end(ix, agent)):
            assert self.ixs[iid].end_requested_by is None
            assert self.ixs[iid].status is ix.status

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), agent=st.sampled_from(AGENTS))
    def confirm_end(self, i: int, agent: str) -> None:
        self.confirm_end_as(self.pick(i), agent)

    def confirm_end_as(self, iid: str, agent: str) -> None:
        ix = self.ixs[iid]
        expected = self.end_refusal(ix, agent)
        if expected is None and ix.end_requested_by != agent:
            expected = domain.EndNotRequested
        if self.attempt(iid, expected, lambda: domain.confirm_end(ix, self.cat, agent, self.now)):
            new = self.ixs[iid]
            assert new.end_cause is EndCause.AGENT
            mode = self.cat.settings_for(ix.queue_id).mode
            assert new.acw_mode is mode
            assert new.status is (Status.CLOSED if mode is AcwMode.DISABLED else Status.ACW)

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), agent=st.sampled_from(AGENTS))
    def save_draft(self, i: int, agent: str) -> None:
        iid = self.pick(i)
        ix = self.ixs[iid]
        dset = self.cat.disposition_set(
            ix.disposition_set_id or self.cat.settings_for(ix.queue_id).disposition_set_id
        )
        choice = {"product": "phone"} if dset.field("product") else {"status": "pending"}
        if self.attempt(
            iid,
            self.acw_refusal(ix, agent),
            lambda: domain.save_draft(ix, self.cat, agent, choice, "so far", self.now),
        ):
            assert self.ixs[iid].draft_choices.items() >= choice.items()

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50), agent=st.sampled_from(AGENTS), kind=st.sampled_from(SUBMIT_KINDS))
    def submit(self, i: int, agent: str, kind: str) -> None:
        self.submit_as(self.pick(i), agent, kind)

    def in_acw(self) -> list[str]:
        return sorted(iid for iid, ix in self.ixs.items() if ix.status is Status.ACW)

    @precondition(lambda self: bool(self.in_acw()))
    @rule(i=st.integers(0, 50), kind=st.sampled_from(SUBMIT_KINDS))
    def assigned_agent_submits(self, i: int, kind: str) -> None:
        candidates = self.in_acw()
        iid = candidates[i % len(candidates)]
        agent = self.ixs[iid].agent_id
        assert agent is not None
        self.submit_as(iid, agent, kind)

    def submit_as(self, iid: str, agent: str, kind: str) -> None:
        ix = self.ixs[iid]
        dset = self.cat.disposition_set(
            ix.disposition_set_id or self.cat.settings_for(ix.queue_id).disposition_set_id
        )
        complete = valid_choices(dset)
        choices = {
            "valid": complete,
            "partial": dict(list(complete.items())[1:]),
            "unknown": {**complete, "status": "no-such-code"},
            "foreign": {**complete, "status": foreign_code(self.cat, dset)},
        }[kind]
        expected = self.acw_refusal(ix, agent)
        if expected is None:
            merged = {**ix.draft_choices, **choices}
            if kind == "unknown":
                expected = domain.UnknownDispositionCode
            elif kind == "foreign":
                expected = domain.CodeNotInSet
            elif any(name not in merged for name in dset.required_fields()):
                expected = domain.DispositionsIncomplete
        if self.attempt(
            iid, expected, lambda: domain.submit_dispositions(ix, self.cat, agent, choices, None, self.now)
        ):
            new = self.ixs[iid]
            assert new.status is Status.CLOSED
            assert new.closed_by is ClosedBy.AGENT
            assert all(not d.system_generated for d in new.dispositions)

    def live_and_assigned(self) -> list[str]:
        return sorted(iid for iid, ix in self.ixs.items() if ix.status is Status.LIVE and ix.agent_id)

    @precondition(lambda self: bool(self.live_and_assigned()))
    @rule(i=st.integers(0, 50))
    def assigned_agent_ends(self, i: int) -> None:
        candidates = self.live_and_assigned()
        iid = candidates[i % len(candidates)]
        agent = self.ixs[iid].agent_id
        assert agent is not None
        self.request_end_as(iid, agent)
        self.confirm_end_as(iid, agent)

    # --- time and the timer poller ------------------------------------------------------------------

    @rule(seconds=st.one_of(st.integers(0, 45), st.sampled_from([300, 901, 3600])))
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @precondition(lambda self: any(due <= self.now for due in self.timers.values()))
    @rule()
    def fire_due_timer(self) -> None:
        self.fire(min((due, iid) for iid, due in self.timers.items())[1])

    @precondition(lambda self: bool(self.expired))
    @rule(i=st.integers(0, 50))
    def duplicate_fire(self, i: int) -> None:
        iid = sorted(self.expired)[i % len(self.expired)]
        before = self.ixs[iid]
        assert before.status is Status.CLOSED
        assert domain.expire(before, self.cat, self.now) == (before, [])

    @precondition(has_interactions)
    @rule(i=st.integers(0, 50))
    def stray_fire(self, i: int) -> None:
        """A fire for any interaction at any moment: early, late, after close, or with no ACW at all."""
        self.fire(self.pick(i))

    # --- invariants ---------------------------------------------------------------------------------

    @invariant()
    def every_end_closes_exactly_once(self) -> None:
        for iid, ix in self.ixs.items():
            ended, closed, released = self.ended[iid], self.closed[iid], self.released[iid]
            assert released == int(ix.slot_released)
            if ix.status is Status.LIVE:
                assert (ended, closed, released) == (0, 0, 0)
                assert ix.ended_at is None
                assert ix.closed_at is None
                assert iid not in self.timers
            elif ix.status is Status.ACW:
                assert (ended, closed) == (1, 0)
                assert ix.closed_at is None
                if ix.acw_mode is AcwMode.TIMED:
                    assert released == 0
                    assert self.timers[iid] == ix.acw_due_at
                else:
                    assert ix.acw_mode is AcwMode.IMMEDIATE
                    assert released == int(holds_slot(ix))
                    assert iid not in self.timers
            else:
                assert (ended, closed) == (1, 1)
                assert released == int(holds_slot(ix))
                assert iid not in self.timers
                closing = self.closings[iid]
                assert ix.ended_at is not None
                assert ix.closed_at is not None
                assert closing.ended_at == ix.ended_at <= closing.closed_at == ix.closed_at
                assert closing.closed_by is ix.closed_by
                assert closing.handle_time_seconds >= 0
                assert closing.acw_seconds == round((ix.closed_at - ix.ended_at).total_seconds())
                assert self.frozen[iid] == ix

    def teardown(self) -> None:
        # Drive everything still in ACW to its end: agents close immediate ones, timers close the rest.
        for iid in sorted(self.ixs):
            ix = self.ixs[iid]
            if ix.status is Status.ACW and ix.acw_mode is AcwMode.IMMEDIATE:
                assert ix.agent_id is not None
                assert ix.disposition_set_id is not None
                choices = valid_choices(self.cat.disposition_set(ix.disposition_set_id))
                self.apply(
                    iid, domain.submit_dispositions(ix, self.cat, ix.agent_id, choices, None, self.now)
                )
        if self.timers:
            self.now = max(self.timers.values())
            for iid in sorted(self.timers):
                self.fire(iid)
        self.every_end_closes_exactly_once()
        assert all(ix.status is not Status.ACW for ix in self.ixs.values())


AcwMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestAcwMachine = AcwMachine.TestCase
