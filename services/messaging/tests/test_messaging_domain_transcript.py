"""Stacked messages, timestamps, read status and the resend icon, as the seed describes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from switchboard.messaging.domain import (
    Conversation,
    DeliveryState,
    Message,
    Sender,
    accept_message,
    apply_delivery_state,
    layout_transcript,
)


def at(hour: int, minute: int, second: int) -> datetime:
    return datetime(2024, 5, 1, hour, minute, second, tzinfo=UTC)


def build(*entries: tuple[Sender, datetime]) -> list[Message]:
    conversation = Conversation("conv")
    for index, (sender, moment) in enumerate(entries):
        conversation = accept_message(
            conversation,
            f"c{index}",
            message_id=f"m{index}",
            sender=sender,
            sender_id="agent-1" if sender is Sender.AGENT else "cust-1",
            text=f"message {index}",
            now=moment,
        ).conversation
    return list(conversation.messages)


AGENT, CUSTOMER = Sender.AGENT, Sender.CUSTOMER


def test_seed_example_first_three_stacked_fourth_own_timestamp() -> None:
    messages = build(
        (AGENT, at(11, 30, 24)), (AGENT, at(11, 30, 36)), (AGENT, at(11, 30, 45)), (AGENT, at(11, 31, 8))
    )
    rows = layout_transcript(messages)
    assert [r.stack_id for r in rows] == [0, 0, 0, 1]
    assert [r.show_timestamp for r in rows] == [True, False, False, True]
    assert [r.show_read_status for r in rows] == [False, False, True, True]


def test_customer_reply_in_same_minute_shows_its_own_timestamp() -> None:
    messages = build(
        (AGENT, at(11, 30, 24)),
        (AGENT, at(11, 30, 36)),
        (CUSTOMER, at(11, 30, 40)),
        (CUSTOMER, at(11, 30, 59)),
        (CUSTOMER, at(11, 31, 0)),
        (AGENT, at(11, 31, 5)),
    )
    rows = layout_transcript(messages)
    assert [r.show_timestamp for r in rows] == [True, False, True, False, True, True]
    assert [r.stack_id for r in rows] == [0, 0, 1, 1, 2, 3]
    # The agent sees read status on the newest agent message of each stack, never on customer messages.
    assert [r.show_read_status for r in rows] == [False, True, False, False, False, True]


def test_customer_viewer_sees_read_status_on_own_messages() -> None:
    messages = build((AGENT, at(11, 30, 1)), (CUSTOMER, at(11, 30, 2)), (CUSTOMER, at(11, 30, 3)))
    rows = layout_transcript(messages, viewer=CUSTOMER)
    assert [r.show_read_status for r in rows] == [False, False, True]


def test_minute_is_judged_in_the_viewers_zone() -> None:
    # India is UTC+05:30: the wall-clock minute is the same, but the displayed time moves.
    messages = build((AGENT, at(11, 30, 59)), (AGENT, at(11, 31, 0)))
    rows = layout_transcript(messages, tz=ZoneInfo("Asia/Kolkata"))
    assert [r.show_timestamp for r in rows] == [True, True]
    assert rows[0].local_time.hour == 17 and rows[0].local_time.minute == 0


def test_fall_back_hour_does_not_stack_two_different_minutes() -> None:
    first = datetime(2024, 11, 3, 5, 30, 10, tzinfo=UTC)  # 01:30 EDT
    second = first + timedelta(hours=1)  # 01:30 EST
    rows = layout_transcript(build((AGENT, first), (AGENT, second)), tz=ZoneInfo("America/New_York"))
    assert [r.show_timestamp for r in rows] == [True, True]


def test_different_agents_do_not_stack() -> None:
    messages = build((AGENT, at(11, 30, 1)), (AGENT, at(11, 30, 2)))
    from dataclasses import replace

    messages[1] = replace(messages[1], sender_id="agent-2")
    assert [r.show_timestamp for r in layout_transcript(messages)] == [True, True]


def test_resend_icon_only_on_not_delivered_agent_messages_while_live() -> None:
    messages = build((AGENT, at(11, 30, 1)), (AGENT, at(11, 30, 2)))
    messages[0] = apply_delivery_state(messages[0], DeliveryState.NOT_DELIVERED, at=at(11, 30, 3)).message
    live = layout_transcript(messages)
    assert [r.show_resend for r in live] == [True, False]
    assert live[0].state is DeliveryState.NOT_DELIVERED
    ended = layout_transcript(messages, conversation_live=False)
    assert [r.show_resend for r in ended] == [False, False]


def test_empty_transcript() -> None:
    assert layout_transcript([]) == []
