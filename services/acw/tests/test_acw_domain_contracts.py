"""The domain's event payloads fit the registered contract models, so handlers need no mapping code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from switchboard.acw import domain
from switchboard.acw.domain import (
    AcwMode,
    Channel,
    Decision,
    Emit,
    EndCause,
    NoteKind,
    QueueAcwSettings,
)

topics = pytest.importorskip("switchboard.contracts.topics")

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SET_ID = str(uuid4())
AGENT = str(uuid4())
QUEUES = {name: str(uuid4()) for name in ("timed", "immediate", "off", "unconfigured")}


def catalogue() -> domain.Catalogue:
    dset = domain.new_disposition_set(SET_ID, "Sales")
    cat = domain.default_catalogue().with_set(dset)
    cat = cat.with_queue(QUEUES["timed"], QueueAcwSettings(AcwMode.TIMED, SET_ID))
    cat = cat.with_queue(QUEUES["immediate"], QueueAcwSettings(AcwMode.IMMEDIATE, SET_ID))
    return cat.with_queue(QUEUES["off"], QueueAcwSettings(AcwMode.DISABLED, SET_ID))


def interaction(queue: str) -> domain.InteractionAcw:
    return domain.open_interaction(
        interaction_id=str(uuid4()),
        customer_id=str(uuid4()),
        channel=Channel.VOICE,
        queue_id=QUEUES[queue],
        agent_id=AGENT,
        assigned_at=T0,
    )


def every_decision() -> list[Decision]:
    cat = catalogue()
    decisions: list[Decision] = []
    for queue in ("timed", "immediate", "off", "unconfigured"):
        ix, _ = domain.request_end(interaction(queue), AGENT, T0 + timedelta(seconds=50))
        ix, out = domain.confirm_end(ix, cat, AGENT, T0 + timedelta(seconds=60))
        decisions += out
        if queue in ("immediate", "unconfigured"):
            ix, out = domain.submit_dispositions(
                ix, cat, AGENT, {"status": "resolved"}, "ok", T0 + timedelta(seconds=61)
            )
            decisions += out
    ix, out = domain.end_from_event(interaction("timed"), cat, EndCause.HANG_UP, T0)
    decisions += out
    _, out = domain.expire(ix, cat, T0 + timedelta(minutes=5))
    decisions += out
    _, out = domain.add_note(
        note_id=str(uuid4()),
        interaction_id=str(uuid4()),
        customer_id=str(uuid4()),
        author_id=AGENT,
        kind=NoteKind.KEY_POINTS,
        text="Prefers email",
        now=T0,
    )
    return decisions + out


def test_every_registered_event_validates_against_its_contract() -> None:
    emits = [d for d in every_decision() if isinstance(d, Emit)]
    seen = {e.event_type for e in emits}
    assert seen >= {
        domain.EVENT_END_REQUESTED,
        domain.EVENT_INTERACTION_ENDED,
        domain.EVENT_ACW_STARTED,
        domain.EVENT_INTERACTION_CLOSED,
        domain.EVENT_ACW_EXPIRED,
        domain.EVENT_NOTE_ADDED,
    }
    for emit in emits:
        spec = topics.REGISTRY.event(emit.event_type, 1)
        model = spec.payload.model_validate(emit.data())
        assert model.interaction_id == UUID(emit.key)
        assert topics.REGISTRY.topic_of(emit.event_type, 1).name == topics.ACW_INTERACTIONS
