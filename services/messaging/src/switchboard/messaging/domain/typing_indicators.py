"""Typing indicators: how often a sender's typing signal is published and when it stops counting.

Typing is ephemeral (never stored). A console or widget reports keystrokes far more often than anyone needs
to see them, so per sender at most one "typing" is published every ``min_interval`` (2 s): the first one,
then refreshes. A change between typing and stopped is published at once, because hiding the dots late is
what the other side notices. A repeated "stopped" is never republished — it carries no new information.
An indicator that has not been refreshed for ``ttl`` (6 s, three refresh intervals so one lost refresh does
not make the dots flicker) is expired and no longer shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from switchboard.messaging.domain._time import as_utc

DEFAULT_MIN_INTERVAL = timedelta(seconds=2)
DEFAULT_TTL = timedelta(seconds=6)


class TypingState(StrEnum):
    TYPING = "typing"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class TypingSignal:
    """The last signal published for one sender in one conversation."""

    sender_id: str
    state: TypingState
    at: datetime


@dataclass(frozen=True, slots=True)
class TypingDecision:
    publish: bool
    last: TypingSignal  # what to remember for this sender afterwards


def decide_typing_publish(
    last: TypingSignal | None,
    *,
    sender_id: str,
    state: TypingState,
    now: datetime,
    min_interval: timedelta = DEFAULT_MIN_INTERVAL,
) -> TypingDecision:
    """Rate-limit one sender's typing signals (see the module docstring)."""
    moment = as_utc(now)
    current = TypingSignal(sender_id, state, moment)
    if last is None:
        # Nothing shown yet, so a first "stopped" would only hide dots nobody sees.
        return TypingDecision(publish=state is TypingState.TYPING, last=current)
    if last.sender_id != sender_id:
        raise ValueError("the last signal belongs to another sender")
    if state is not last.state:
        return TypingDecision(publish=True, last=current)
    if state is TypingState.STOPPED:
        return TypingDecision(publish=False, last=last)
    elapsed = moment - last.at
    # A negative elapsed time means the previous signal was stamped by a clock ahead of ours; treating it as
    # due lets the record heal instead of suppressing refreshes until our clock catches up.
    if elapsed >= min_interval or elapsed < timedelta(0):
        return TypingDecision(publish=True, last=current)
    return TypingDecision(publish=False, last=last)


def typing_expires_at(signal: TypingSignal, *, ttl: timedelta = DEFAULT_TTL) -> datetime:
    return signal.at + ttl


def is_typing(signal: TypingSignal | None, *, now: datetime, ttl: timedelta = DEFAULT_TTL) -> bool:
    """True while the signal says typing and has been refreshed within ``ttl``."""
    if signal is None or signal.state is not TypingState.TYPING:
        return False
    return as_utc(now) < typing_expires_at(signal, ttl=ttl)


def active_typists(
    signals: Iterable[TypingSignal], *, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> list[str]:
    """Sender ids whose dots should show now, sorted for a stable display."""
    return sorted({s.sender_id for s in signals if is_typing(s, now=now, ttl=ttl)})
