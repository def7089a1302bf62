"""How a transcript is laid out: stacked messages, timestamps, read status and the resend icon.

Rules (seed, "Stacked Messages, Timestamp, and Read Status"):

* A message starts a new stack — and shows its date and timestamp — unless the message right before it
  comes from the same sender and falls in the same clock minute. Anything from the other side in between
  breaks the stack, so a customer reply in the same minute shows its own timestamp, and the agent's next
  message after it starts a new stack too. Customer messages stack by clock minute the same way.
* The read status shows on the newest message of each stack sent by the viewer's side: an agent sees it on
  the last agent message of a stack, a customer's widget on the customer's own.
* A Not Delivered agent message shows the Resend icon only while the conversation is live.

The clock minute is judged in ``tz`` (UTC by default; the gateway passes the viewer's zone). Minute
boundaries coincide in every zone with a whole-minute offset, so stacking only depends on the zone through
the wall clock the timestamp is shown in; the UTC offset is part of the minute key so the two 01:30s of a
daylight-saving fall-back never stack together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from switchboard.messaging.domain.messages import DeliveryState, Message, Sender


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    message_id: str
    stack_id: int
    show_timestamp: bool
    show_read_status: bool
    show_resend: bool
    local_time: datetime
    state: DeliveryState


def _minute_key(moment: datetime, tz: tzinfo) -> tuple[datetime, timedelta | None]:
    local = moment.astimezone(tz)
    return local.replace(second=0, microsecond=0, tzinfo=None), local.utcoffset()


def layout_transcript(
    messages: Sequence[Message],
    *,
    viewer: Sender = Sender.AGENT,
    tz: tzinfo = UTC,
    conversation_live: bool = True,
) -> list[TranscriptRow]:
    """Display flags for ``messages``, which must already be in transcript order (by ``seq``)."""
    stack_ids: list[int] = []
    starts: list[bool] = []
    previous: Message | None = None
    stack = -1
    for message in messages:
        same_stack = (
            previous is not None
            and previous.sender is message.sender
            and previous.sender_id == message.sender_id
            and _minute_key(previous.created_at, tz) == _minute_key(message.created_at, tz)
        )
        if not same_stack:
            stack += 1
        stack_ids.append(stack)
        starts.append(not same_stack)
        previous = message

    rows: list[TranscriptRow] = []
    for index, message in enumerate(messages):
        last_of_stack = index + 1 == len(messages) or stack_ids[index + 1] != stack_ids[index]
        rows.append(
            TranscriptRow(
                message_id=message.id,
                stack_id=stack_ids[index],
                show_timestamp=starts[index],
                show_read_status=last_of_stack and message.sender is viewer,
                show_resend=(viewer is Sender.AGENT and message.resendable and conversation_live),
                local_time=message.created_at.astimezone(tz),
                state=message.state,
            )
        )
    return rows
