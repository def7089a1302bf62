"""Typing indicator rate limit and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.messaging.domain import (
    TypingSignal,
    TypingState,
    active_typists,
    decide_typing_publish,
    is_typing,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TYPING, STOPPED = TypingState.TYPING, TypingState.STOPPED


def step(last: TypingSignal | None, state: TypingState, seconds: float) -> tuple[bool, TypingSignal]:
    decision = decide_typing_publish(last, sender_id="a", state=state, now=T0 + timedelta(seconds=seconds))
    return decision.publish, decision.last


def test_keystrokes_publish_at_most_every_two_seconds() -> None:
    published: list[float] = []
    last: TypingSignal | None = None
    for tenth in range(0, 70, 5):  # a keystroke every 0.5 s for 7 s
        publish, last = step(last, TYPING, tenth / 10)
        if publish:
            published.append(tenth / 10)
    assert published == [0.0, 2.0, 4.0, 6.0]


def test_state_change_is_published_immediately_and_repeated_stop_is_not() -> None:
    publish, last = step(None, TYPING, 0)
    assert publish
    publish, last = step(last, STOPPED, 0.1)
    assert publish
    publish, last = step(last, STOPPED, 5)
    assert not publish
    publish, last = step(last, TYPING, 5.1)
    assert publish


def test_first_stop_without_typing_is_not_published() -> None:
    assert step(None, STOPPED, 0)[0] is False


def test_clock_behind_the_last_signal_heals() -> None:
    _, last = step(None, TYPING, 10)
    publish, healed = step(last, TYPING, 1)
    assert publish and healed.at == T0 + timedelta(seconds=1)


def test_signal_of_another_sender_is_a_bug() -> None:
    _, last = step(None, TYPING, 0)
    with pytest.raises(ValueError, match="another sender"):
        decide_typing_publish(last, sender_id="b", state=TYPING, now=T0)


def test_expiry() -> None:
    signal = TypingSignal("a", TYPING, T0)
    assert is_typing(signal, now=T0 + timedelta(seconds=5.9))
    assert not is_typing(signal, now=T0 + timedelta(seconds=6))
    assert not is_typing(TypingSignal("a", STOPPED, T0), now=T0)
    assert not is_typing(None, now=T0)
    others = [signal, TypingSignal("b", TYPING, T0 - timedelta(seconds=30)), TypingSignal("c", TYPING, T0)]
    assert active_typists(others, now=T0 + timedelta(seconds=1)) == ["a", "c"]
