"""Stateful property test of message delivery: sends with repeated client ids, network failures, resends,
acknowledgements arriving late, duplicated and out of order, read receipts and the end of the conversation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from switchboard.messaging.domain import (
    OBSERVABLE_STATES,
    STATE_RANK,
    ClientIdConflict,
    Conversation,
    ConversationTerminated,
    DeliveryState,
    InvalidStateTransition,
    Message,
    Sender,
    accept_message,
    apply_delivery_state,
    end_conversation,
    mark_read_up_to,
    progress,
    resend_message,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CLIENT_IDS = [f"c{i}" for i in range(6)]
# Ids c0-c3 belong to the agent's console, c4-c5 to the customer's widget.
SENDER_OF = {cid: Sender.AGENT if i < 4 else Sender.CUSTOMER for i, cid in enumerate(CLIENT_IDS)}
ACK_STATES = [DeliveryState.SENT, DeliveryState.NOT_DELIVERED, DeliveryState.DELIVERED, DeliveryState.READ]


class MessageLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.conversation = Conversation("conv")
        self.clock = T0
        self.next_id = 0
        self.by_client: dict[str, str] = {}
        self.seen: dict[str, tuple[DeliveryState, int]] = {}

    # --- helpers -----------------------------------------------------------------------------------

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def pick(self, index: int) -> Message:
        return self.conversation.messages[index % len(self.conversation.messages)]

    def store(self, message: Message) -> None:
        self.conversation = self.conversation.with_message(message)

    # --- rules -------------------------------------------------------------------------------------

    @rule(client_id=st.sampled_from(CLIENT_IDS), same_content=st.booleans())
    def send(self, client_id: str, same_content: bool) -> None:
        text = f"text of {client_id}" if same_content else f"other text of {client_id}"
        known = self.by_client.get(client_id)
        existing = self.conversation.find(known) if known else None
        message_id = f"m{self.next_id}"
        self.next_id += 1

        def accept() -> Message:
            result = accept_message(
                self.conversation,
                client_id,
                message_id=message_id,
                sender=SENDER_OF[client_id],
                sender_id=f"{SENDER_OF[client_id]}-1",
                text=text,
                now=self.tick(),
            )
            self.conversation = result.conversation
            return result.message

        if existing is not None:
            if existing.text != text:
                with pytest.raises(ClientIdConflict):
                    accept()
            else:
                assert accept() == existing
        elif not self.conversation.live:
            with pytest.raises(ConversationTerminated):
                accept()
        else:
            message = accept()
            assert message.id == message_id
            self.by_client[client_id] = message_id

    @precondition(lambda self: self.conversation.messages)
    @rule(
        index=st.integers(0, 50),
        state=st.sampled_from(ACK_STATES),
        attempt_kind=st.sampled_from(["unknown", "current", "older", "future"]),
        duplicate=st.booleans(),
    )
    def acknowledge(self, index: int, state: DeliveryState, attempt_kind: str, duplicate: bool) -> None:
        message = self.pick(index)
        attempt = {
            "unknown": None,
            "current": message.attempt,
            "older": max(1, message.attempt - 1),
            "future": message.attempt + 1,
        }[attempt_kind]
        if state not in OBSERVABLE_STATES[message.sender] or attempt_kind == "future":
            with pytest.raises(InvalidStateTransition):
                apply_delivery_state(message, state, at=self.tick(), attempt=attempt)
            return
        change = apply_delivery_state(message, state, at=self.tick(), attempt=attempt)
        stale_failure = (
            state is DeliveryState.NOT_DELIVERED and attempt is not None and attempt < message.attempt
        )
        expected_change = not stale_failure and STATE_RANK[state] > STATE_RANK[message.state]
        assert change.changed is expected_change
        assert change.message.state is (state if expected_change else message.state)
        if duplicate:
            again = apply_delivery_state(change.message, state, at=self.tick(), attempt=attempt)
            assert not again.changed and again.message == change.message
        self.store(change.message)

    @precondition(lambda self: self.conversation.messages)
    @rule(index=st.integers(0, 50))
    def resend(self, index: int) -> None:
        message = self.pick(index)
        if not self.conversation.live:
            with pytest.raises(ConversationTerminated):
                resend_message(self.conversation, message.id, now=self.tick())
        elif not message.resendable:
            with pytest.raises(InvalidStateTransition):
                resend_message(self.conversation, message.id, now=self.tick())
        else:
            result = resend_message(self.conversation, message.id, now=self.tick())
            assert result.message.state is DeliveryState.SENDING
            assert result.message.attempt == message.attempt + 1
            self.conversation = result.conversation

    @precondition(lambda self: self.conversation.messages)
    @rule(up_to=st.integers(0, 12), reader=st.sampled_from(list(Sender)))
    def read_receipt(self, up_to: int, reader: Sender) -> None:
        for change in mark_read_up_to(
            self.conversation.messages, up_to_seq=up_to, reader=reader, at=self.tick()
        ):
            assert change.message.sender is not reader and change.message.seq <= up_to
            self.store(change.message)

    @rule()
    def end(self) -> None:
        self.conversation = end_conversation(self.conversation, now=self.tick())

    @precondition(lambda self: not self.conversation.live and self.conversation.messages)
    @rule()
    def resend_after_end_is_always_refused(self) -> None:
        for message in self.conversation.messages:
            with pytest.raises(ConversationTerminated):
                resend_message(self.conversation, message.id, now=self.tick())

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def exactly_one_message_per_client_id(self) -> None:
        messages = self.conversation.messages
        assert len({m.client_id for m in messages}) == len(messages)
        assert len({m.id for m in messages}) == len(messages)
        assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
        assert self.conversation.last_seq == len(messages)
        assert {m.client_id: m.id for m in messages} == self.by_client

    @invariant()
    def never_moves_backwards(self) -> None:
        for message in self.conversation.messages:
            before = self.seen.get(message.id)
            now = (message.state, message.attempt)
            if before is not None and before != now:
                old_state, old_attempt = before
                assert progress(message.state, message.attempt) > progress(old_state, old_attempt), (
                    before,
                    now,
                )
                if message.attempt != old_attempt:
                    # The only way to a new attempt: resend of a Not Delivered message, back to Sending.
                    assert message.attempt == old_attempt + 1
                    assert old_state is DeliveryState.NOT_DELIVERED
                    assert message.state is DeliveryState.SENDING
            self.seen[message.id] = now

    @invariant()
    def customer_messages_are_never_sending_or_undelivered(self) -> None:
        for message in self.conversation.messages:
            if message.sender is Sender.CUSTOMER:
                assert message.state not in {DeliveryState.SENDING, DeliveryState.NOT_DELIVERED}
                assert message.attempt == 1


MessageLifecycle.TestCase.settings = settings(max_examples=150, deadline=None, stateful_step_count=40)
TestMessageLifecycle = MessageLifecycle.TestCase
