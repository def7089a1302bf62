"""Messages: idempotent acceptance, delivery states, resend, read receipts, reactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from switchboard.messaging.domain import (
    Accepted,
    ClientIdConflict,
    ControlCharacters,
    Conversation,
    ConversationTerminated,
    DeliveryState,
    InvalidClientId,
    InvalidReaction,
    InvalidStateTransition,
    MessageEmpty,
    MessageNotFound,
    MessageTooLong,
    Sender,
    TooManyAttachments,
    accept_message,
    apply_delivery_state,
    end_conversation,
    mark_read_up_to,
    reaction_counts,
    resend_message,
    toggle_reaction,
    validate_emoji,
    visible_after_reload,
)

NOW = datetime(2024, 5, 1, 11, 30, 24, tzinfo=UTC)


def send(
    conversation: Conversation,
    client_id: str = "c-1",
    text: str = "Hello",
    *,
    message_id: str | None = None,
    sender: Sender = Sender.AGENT,
    sender_id: str = "agent-1",
    now: datetime = NOW,
    attachment_ids: tuple[str, ...] = (),
) -> Accepted:
    return accept_message(
        conversation,
        client_id,
        message_id=message_id or f"m-{client_id}",
        sender=sender,
        sender_id=sender_id,
        text=text,
        now=now,
        attachment_ids=attachment_ids,
    )


def test_accept_assigns_seq_and_initial_states() -> None:
    first = send(Conversation("conv"))
    assert first.created
    assert first.message.seq == 1
    assert first.message.state is DeliveryState.SENDING
    second = send(first.conversation, "c-2", sender=Sender.CUSTOMER, sender_id="cust")
    assert second.message.seq == 2
    assert second.message.state is DeliveryState.SENT
    assert second.conversation.last_seq == 2


def test_accept_normalizes_and_masks_before_storage() -> None:
    accepted = send(Conversation("conv"), text="  Cafe\u0301 card 4111 1111 1111 1111  ")
    assert accepted.message.text == "Café card •••• •••• •••• 1111"


def test_known_client_id_returns_existing_message() -> None:
    first = send(Conversation("conv"))
    again = send(first.conversation, message_id="m-other")
    assert not again.created
    assert again.message == first.message
    assert again.conversation == first.conversation


def test_known_client_id_with_other_content_is_a_conflict() -> None:
    first = send(Conversation("conv"))
    with pytest.raises(ClientIdConflict) as info:
        send(first.conversation, text="Something else")
    assert info.value.slug == "client-id-conflict"
    assert info.value.status == 409


def test_retry_after_end_returns_original_but_new_message_is_refused() -> None:
    first = send(Conversation("conv"))
    ended = end_conversation(first.conversation, now=NOW)
    assert send(ended).message == first.message
    with pytest.raises(ConversationTerminated) as info:
        send(ended, "c-2")
    assert info.value.slug == "conversation-terminated"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", MessageEmpty),
        ("   \n\t ", MessageEmpty),
        ("x" * 4001, MessageTooLong),
        ("a\x07b", ControlCharacters),
    ],
)
def test_text_rules_apply_to_messages(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        send(Conversation("conv"), text=text)


def test_attachment_only_message_and_attachment_limit() -> None:
    accepted = send(Conversation("conv"), text="  ", attachment_ids=("a1",))
    assert accepted.message.text == ""
    assert accepted.message.attachment_ids == ("a1",)
    with pytest.raises(TooManyAttachments):
        send(Conversation("conv"), attachment_ids=tuple(f"a{i}" for i in range(11)))


@pytest.mark.parametrize("client_id", ["", " x", "x" * 101, "é", "a\nb"])
def test_client_id_format(client_id: str) -> None:
    with pytest.raises(InvalidClientId):
        send(Conversation("conv"), client_id)


def test_naive_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        send(Conversation("conv"), now=datetime(2024, 5, 1, 11, 30))


def test_times_are_stored_in_utc() -> None:
    local = datetime(2024, 5, 1, 13, 30, tzinfo=timezone(timedelta(hours=2)))
    assert send(Conversation("conv"), now=local).message.created_at == datetime(
        2024, 5, 1, 11, 30, tzinfo=UTC
    )


def test_agent_message_moves_forward_only() -> None:
    message = send(Conversation("conv")).message
    sent = apply_delivery_state(message, DeliveryState.SENT, at=NOW)
    assert (
        sent.changed and sent.message.state is DeliveryState.SENT and sent.previous is DeliveryState.SENDING
    )
    read = apply_delivery_state(sent.message, DeliveryState.READ, at=NOW)
    assert read.message.state is DeliveryState.READ
    late = apply_delivery_state(read.message, DeliveryState.DELIVERED, at=NOW)
    assert not late.changed and late.message is read.message
    again = apply_delivery_state(read.message, DeliveryState.READ, at=NOW)
    assert not again.changed


def test_not_delivered_then_proof_of_delivery_wins() -> None:
    message = send(Conversation("conv")).message
    failed = apply_delivery_state(message, DeliveryState.NOT_DELIVERED, at=NOW).message
    assert apply_delivery_state(failed, DeliveryState.SENT, at=NOW).changed is False
    assert (
        apply_delivery_state(failed, DeliveryState.DELIVERED, at=NOW).message.state is DeliveryState.DELIVERED
    )


def test_delivered_never_becomes_not_delivered() -> None:
    message = send(Conversation("conv")).message
    delivered = apply_delivery_state(message, DeliveryState.DELIVERED, at=NOW).message
    assert not apply_delivery_state(delivered, DeliveryState.NOT_DELIVERED, at=NOW).changed


def test_states_a_side_cannot_report_are_refused() -> None:
    conversation = send(Conversation("conv")).conversation
    agent_message = conversation.messages[0]
    with pytest.raises(InvalidStateTransition):
        apply_delivery_state(agent_message, DeliveryState.SENDING, at=NOW)
    customer = send(conversation, "c-2", sender=Sender.CUSTOMER, sender_id="cust").message
    with pytest.raises(InvalidStateTransition):
        apply_delivery_state(customer, DeliveryState.NOT_DELIVERED, at=NOW)
    assert apply_delivery_state(customer, DeliveryState.READ, at=NOW).message.state is DeliveryState.READ
    with pytest.raises(InvalidStateTransition):
        apply_delivery_state(agent_message, DeliveryState.SENT, at=NOW, attempt=2)


def test_resend_starts_a_new_attempt_and_stale_failure_is_ignored() -> None:
    accepted = send(Conversation("conv"))
    failed = apply_delivery_state(accepted.message, DeliveryState.NOT_DELIVERED, at=NOW, attempt=1).message
    conversation = accepted.conversation.with_message(failed)
    assert failed.resendable
    resent = resend_message(conversation, failed.id, now=NOW + timedelta(seconds=5))
    assert resent.message.state is DeliveryState.SENDING
    assert resent.message.attempt == 2
    stale = apply_delivery_state(resent.message, DeliveryState.NOT_DELIVERED, at=NOW, attempt=1)
    assert not stale.changed
    late_success = apply_delivery_state(resent.message, DeliveryState.DELIVERED, at=NOW, attempt=1)
    assert late_success.message.state is DeliveryState.DELIVERED


def test_resend_refusals() -> None:
    accepted = send(Conversation("conv"))
    with pytest.raises(InvalidStateTransition):
        resend_message(accepted.conversation, accepted.message.id, now=NOW)
    with pytest.raises(MessageNotFound):
        resend_message(accepted.conversation, "missing", now=NOW)
    failed = apply_delivery_state(accepted.message, DeliveryState.NOT_DELIVERED, at=NOW).message
    ended = end_conversation(accepted.conversation.with_message(failed), now=NOW)
    with pytest.raises(ConversationTerminated):
        resend_message(ended, failed.id, now=NOW)


def test_end_is_idempotent() -> None:
    ended = end_conversation(Conversation("conv"), now=NOW)
    assert end_conversation(ended, now=NOW + timedelta(hours=1)).ended_at == NOW
    assert not ended.live


def test_undelivered_messages_disappear_after_reload() -> None:
    message = send(Conversation("conv")).message
    assert visible_after_reload(message)
    failed = apply_delivery_state(message, DeliveryState.NOT_DELIVERED, at=NOW).message
    assert not visible_after_reload(failed)


def test_read_receipt_covers_the_other_side_up_to_seq() -> None:
    conversation = Conversation("conv")
    for index in range(3):
        conversation = send(conversation, f"a{index}").conversation
    conversation = send(conversation, "c", sender=Sender.CUSTOMER, sender_id="cust").conversation
    changes = mark_read_up_to(conversation.messages, up_to_seq=2, reader=Sender.CUSTOMER, at=NOW)
    assert [c.message.seq for c in changes] == [1, 2]
    assert all(c.message.state is DeliveryState.READ for c in changes)


def test_reactions_toggle_one_per_emoji_per_participant() -> None:
    accepted = send(Conversation("conv"))
    first = toggle_reaction(accepted.conversation, accepted.message.id, emoji="👍", participant_id="cust")
    assert first.added
    second = toggle_reaction(first.conversation, accepted.message.id, emoji="👍", participant_id="agent-1")
    third = toggle_reaction(second.conversation, accepted.message.id, emoji="❤️", participant_id="cust")
    assert reaction_counts(third.message) == [("👍", 2), ("❤️", 1)]
    removed = toggle_reaction(third.conversation, accepted.message.id, emoji="👍", participant_id="cust")
    assert not removed.added
    assert reaction_counts(removed.message) == [("❤️", 1), ("👍", 1)]
    ended = end_conversation(removed.conversation, now=NOW)
    with pytest.raises(ConversationTerminated):
        toggle_reaction(ended, accepted.message.id, emoji="👍", participant_id="cust")


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "👩‍💻", "🇫🇷", "1️⃣", "❤️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"])
def test_valid_emoji(emoji: str) -> None:
    assert validate_emoji(emoji) == emoji


@pytest.mark.parametrize("emoji", ["", "a", "1", "👍 👍", "ok👍", "\u202e👍", "👍" * 17])
def test_invalid_emoji(emoji: str) -> None:
    with pytest.raises(InvalidReaction):
        validate_emoji(emoji)
