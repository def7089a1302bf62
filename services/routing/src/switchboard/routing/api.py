"""Routing's HTTP API: administration, agent commands, offers, transfers, snooze, and console queries.

The gateway (a later issue) authenticates and passes the acting agent in the path
(``/agents/{agent_id}/…``). Commands run through :class:`Routing` in one transaction; a domain
refusal becomes problem+json with the domain's stable slug as its type: unknown ids 404, a state that
does not allow the command 409, a value the rules refuse 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Body, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.routing.domain import (
    Agent,
    AgentState,
    Channel,
    InteractionState,
    InteractionStatus,
    Outcome,
    Queue,
    Router,
    RoutingError,
    arrival_summary,
    estimated_wait,
    queue_position,
    skilled_agents,
    transfer_target_agents,
    transfer_target_queues,
    tray,
    waiting,
)
from switchboard.routing.domain.config import SLOTTED_CHANNELS
from switchboard.routing.events import arrival
from switchboard.routing.handlers import merge
from switchboard.routing.models import (
    AgentRow,
    AgentStateRow,
    CustomStatusRow,
    ExternalContactRow,
    InteractionRow,
    MembershipRow,
    QueueRow,
    SettingsRow,
    SkillRow,
)
from switchboard.routing.schemas import (
    PRINTABLE,
    AgentOut,
    AgentSpec,
    AgentTransfer,
    ContactOut,
    ContactSpec,
    ExternalTransfer,
    ImportSpec,
    QueueOut,
    QueueSpec,
    SettingsSpec,
    SkillOut,
    SkillsChange,
    SkillSpec,
    SnoozeRequest,
    StatusChange,
    StatusOut,
    StatusSpec,
    TransferRequest,
    agent_from_spec,
    api_field,
    jsonable,
    queue_from_spec,
    seconds,
    settings_from_spec,
    status_from_spec,
)
from switchboard.routing.store import Routing
from switchboard.runtime.errors import Problem

T = TypeVar("T")

NOT_FOUND = frozenset({"unknown-agent", "unknown-queue", "unknown-interaction"})
UNPROCESSABLE = frozenset(
    {
        "invalid-config",
        "invalid-time",
        "invalid-sentiment",
        "invalid-snooze-duration",
        "unknown-status",
        "status-not-selectable",
    }
)
# Members of every problem body; a refusal's detail under one of these names is renamed, not lost.
RESERVED = frozenset({"type", "title", "status", "detail", "instance", "headers"})

SlugPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
SkillPath = Annotated[str, Path(min_length=1, max_length=100, pattern=PRINTABLE)]


def problem_for(exc: RoutingError) -> Problem:
    details: dict[str, Any] = {}
    for name, value in jsonable(dict(exc.details)).items():
        details[f"requested_{name}" if name in RESERVED else name] = value
    if exc.slug in NOT_FOUND:
        return Problem(404, exc.slug, detail=exc.message, **details)
    if exc.slug in UNPROCESSABLE:
        if "field" in details:
            details["field"] = api_field(str(details["field"]))
            details.setdefault("errors", [{"field": details["field"], "message": exc.message}])
        return Problem(422, exc.slug, detail=exc.message, **details)
    return Problem(409, exc.slug, detail=exc.message, **details)


def unprocessable(slug: str, field: str, message: str) -> Problem:
    return Problem(
        422, slug, detail=f"{field}: {message}", field=field, errors=[{"field": field, "message": message}]
    )


# ---------------------------------------------------------------------- views


def agent_view(router: Router, a: AgentState, session_id: str | None) -> dict[str, Any]:
    custom = router.statuses.get(a.status.custom_id) if a.status.custom_id else None
    return {
        "agent_id": a.id,
        "name": a.config.name,
        "status": a.status.id,
        "status_kind": a.status.kind.value,
        "custom_status": None
        if custom is None
        else {"id": custom.id, "name": custom.name, "tag": custom.tag.value},
        "status_since": a.status_since,
        "prompt": {"pending": True, "choices": ["mark-available", "keep-away"]} if a.prompt_pending else None,
        "connected": a.connected,
        "session_id": session_id if a.status.logged_in else None,
        "slots": {
            c.value: {"capacity": a.config.slots(c), "used": a.used.get(c, 0), "free": a.free_slots(c)}
            for c in SLOTTED_CHANNELS
        },
        "offers": sorted(a.offers),
        "conversations": sorted(a.conversations),
    }


def interaction_view(router: Router, it: InteractionState, now: datetime) -> dict[str, Any]:
    offer = it.offer
    return {
        "interaction_id": it.id,
        "channel": it.channel.value,
        "queue_id": it.queue_id,
        "status": it.status.value,
        "agent_id": it.agent_id,
        "offer": None
        if offer is None
        else {
            "agent_id": offer.agent_id,
            "expires_at": offer.expires_at,
            "transfer_from": offer.transfer_from,
        },
        "required_skills": dict(it.required_skills),
        "auto_answered": it.auto_answered,
        "first_reply_required": it.first_reply_required,
        "reply_due": it.reply_due_since is not None,
        "overdue": router.is_overdue(it, now),
        "snooze_until": it.snooze_until,
        "transfer_pending": it.transfer_pending,
        "wait_time_seconds": it.wait_time(now).total_seconds(),
        "handle_time_seconds": it.handle_time(now).total_seconds(),
        "end_reason": it.end_reason.value if it.end_reason else None,
        "ended_at": it.ended_at,
    }


def queue_brief(q: Queue) -> dict[str, Any]:
    return {"queue_id": q.id, "name": q.name, "channels": sorted(c.value for c in q.channels)}


def agent_brief(a: Agent) -> dict[str, Any]:
    return {"agent_id": a.id, "name": a.name, "skills": dict(a.skills)}


def warnings_of(outcome: Outcome) -> list[dict[str, Any]]:
    return [
        {
            "code": w.code,
            "interaction_ids": list(w.interaction_ids),
            "message": f"You are going Away with {len(w.interaction_ids)} active interaction(s).",
        }
        for w in outcome.warnings
    ]


# ---------------------------------------------------------------------- the router


def build_api(routing: Routing) -> APIRouter:
    api = APIRouter()
    clock = routing.runtime.clock

    async def refine(exc: RoutingError) -> Problem:
        """An interaction swept from memory after it ended is still known to the database: say so."""
        if exc.slug == "unknown-interaction":
            interaction_id = str(exc.details.get("interaction_id", ""))
            async with routing.runtime.database.sessions() as session:
                status = await session.scalar(
                    select(InteractionRow.status).where(col(InteractionRow.id) == interaction_id)
                )
            if status == InteractionStatus.ENDED.value:
                return Problem(
                    409,
                    "interaction-ended",
                    detail="the interaction has ended",
                    interaction_id=interaction_id,
                )
        return problem_for(exc)

    async def command(
        run: Callable[[Router, datetime], Outcome],
        view: Callable[[Router, Outcome, datetime], T],
        *,
        prepare: Callable[[AsyncSession, Router], Awaitable[None]] | None = None,
        config_changed: bool = False,
    ) -> T:
        """One command in one transaction; the answer is built before the commit, from the same state."""
        try:
            async with routing.transaction() as session:
                router = await routing.acquire(session)
                if prepare is not None:
                    await prepare(session, router)
                outcome = await routing.apply(session, run, config_changed=config_changed)
                return view(router, outcome, clock.now())
        except RoutingError as exc:
            raise await refine(exc) from None

    async def query(answer: Callable[[Router, datetime], T]) -> T:
        router = await routing.read()
        try:
            return answer(router, clock.now())
        except RoutingError as exc:
            raise await refine(exc) from None

    def agent_answer(agent_id: str) -> Callable[[Router, Outcome, datetime], dict[str, Any]]:
        def view(router: Router, outcome: Outcome, _: datetime) -> dict[str, Any]:
            body = agent_view(router, router.agent(agent_id), routing.ledger.sessions.get(agent_id))
            body["warnings"] = warnings_of(outcome)
            return body

        return view

    # ------------------------------------------------------------------ agent status

    @api.post(
        "/agents/{agent_id}/login", tags=["agents"], summary="Log in: login prep, then Away with a prompt"
    )
    async def login(agent_id: UUID) -> dict[str, Any]:
        aid = str(agent_id)
        return await command(lambda r, now: r.login(aid, now), agent_answer(aid))

    @api.post("/agents/{agent_id}/mark-available", tags=["agents"], summary="Answer the prompt: Available")
    async def mark_available(agent_id: UUID) -> dict[str, Any]:
        aid = str(agent_id)
        return await command(lambda r, now: r.mark_available(aid, now), agent_answer(aid))

    @api.post("/agents/{agent_id}/keep-away", tags=["agents"], summary="Answer the prompt: stay Away")
    async def keep_away(agent_id: UUID) -> dict[str, Any]:
        aid = str(agent_id)
        return await command(lambda r, now: r.keep_away(aid, now), agent_answer(aid))

    @api.put(
        "/agents/{agent_id}/status",
        tags=["agents"],
        summary="Choose a status; going Away with active interactions answers with a warning",
    )
    async def set_status(agent_id: UUID, body: StatusChange) -> dict[str, Any]:
        aid = str(agent_id)
        return await command(lambda r, now: r.set_status(aid, body.status, now), agent_answer(aid))

    @api.post(
        "/agents/{agent_id}/logout",
        tags=["agents"],
        summary="Log out; refused (409 logout-blocked) while conversations are open",
    )
    async def logout(agent_id: UUID) -> dict[str, Any]:
        aid = str(agent_id)
        return await command(lambda r, now: r.logout(aid, now), agent_answer(aid))

    @api.get("/agents/{agent_id}", tags=["agents"], summary="Status, prompt, presence and slots of an agent")
    async def get_agent(agent_id: UUID) -> dict[str, Any]:
        aid = str(agent_id)
        return await query(lambda r, _: agent_view(r, r.agent(aid), routing.ledger.sessions.get(aid)))

    @api.get("/agents/{agent_id}/tray", tags=["agents"], summary="The conversation tray")
    async def get_tray(agent_id: UUID) -> dict[str, Any]:
        def answer(router: Router, now: datetime) -> dict[str, Any]:
            t = tray(router, str(agent_id), now)
            snoozed = [i for i in t.items if i.snoozed]
            return {
                "agent_id": str(agent_id),
                "snoozed_count": t.snoozed_count,
                "next_wake_seconds": min((seconds(i.snooze_remaining) or 0.0 for i in snoozed), default=None),
                "items": [
                    {
                        "interaction_id": i.interaction_id,
                        "channel": i.channel.value,
                        "queue_id": i.queue_id,
                        "engaged": i.engaged,
                        "overdue": i.overdue,
                        "new_email": i.new_email,
                        "reply_due": i.reply_due,
                        "snoozed": i.snoozed,
                        "wake_pending": i.wake_pending,
                        "snooze_remaining_seconds": seconds(i.snooze_remaining),
                        "first_reply_required": i.first_reply_required,
                        "handle_time_seconds": i.handle_time.total_seconds(),
                        "wait_time_seconds": i.wait_time.total_seconds(),
                    }
                    for i in t.items
                ],
            }

        return await query(answer)

    @api.get("/agents/{agent_id}/snooze-options", tags=["snooze"], summary="Snooze presets and limits")
    async def snooze_options(agent_id: UUID) -> dict[str, Any]:
        def answer(router: Router, _: datetime) -> dict[str, Any]:
            router.agent(str(agent_id))
            s = router.settings
            return {
                "presets_seconds": [p.total_seconds() for p in s.snooze_presets],
                "custom_allowed": s.custom_snooze,
                "max_seconds": s.snooze_max.total_seconds(),
            }

        return await query(answer)

    # ------------------------------------------------------------------ offers

    def interaction_answer(interaction_id: str) -> Callable[[Router, Outcome, datetime], dict[str, Any]]:
        def view(router: Router, _: Outcome, now: datetime) -> dict[str, Any]:
            return interaction_view(router, router.interaction(interaction_id), now)

        return view

    @api.post(
        "/agents/{agent_id}/interactions/{interaction_id}/accept",
        tags=["offers"],
        summary="Accept an offer; answers with the arrival summary",
    )
    async def accept(agent_id: UUID, interaction_id: UUID) -> dict[str, Any]:
        aid, iid = str(agent_id), str(interaction_id)

        def view(router: Router, _: Outcome, now: datetime) -> dict[str, Any]:
            it = router.interaction(iid)
            body = interaction_view(router, it, now)
            body["arrival_summary"] = arrival(router, it).model_dump(mode="json")
            return body

        return await command(lambda r, now: r.accept(iid, aid, now), view)

    @api.post(
        "/agents/{agent_id}/interactions/{interaction_id}/reject",
        tags=["offers"],
        summary="Reject an offer; it goes to the next agent",
    )
    async def reject(agent_id: UUID, interaction_id: UUID) -> dict[str, Any]:
        aid, iid = str(agent_id), str(interaction_id)
        return await command(lambda r, now: r.reject(iid, aid, now), interaction_answer(iid))

    # ------------------------------------------------------------------ transfers

    @api.get(
        "/agents/{agent_id}/interactions/{interaction_id}/transfer-targets/queues",
        tags=["transfers"],
        summary="Queues open now that take this interaction's channel",
    )
    async def target_queues(agent_id: UUID, interaction_id: UUID) -> list[dict[str, Any]]:
        return await query(
            lambda r, now: [
                queue_brief(q) for q in transfer_target_queues(r, str(agent_id), str(interaction_id), now)
            ]
        )

    @api.get(
        "/agents/{agent_id}/interactions/{interaction_id}/transfer-targets/queues/{queue_id}/agents",
        tags=["transfers"],
        summary="Logged-in members of a queue with its skills (and the given ones)",
    )
    async def target_queue_agents(
        agent_id: UUID,
        interaction_id: UUID,
        queue_id: UUID,
        skill: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006 - FastAPI copies defaults
    ) -> list[dict[str, Any]]:
        def answer(router: Router, _: datetime) -> list[dict[str, Any]]:
            router.live_interaction(str(interaction_id), str(agent_id))
            return [agent_brief(a) for a in skilled_agents(router, str(queue_id), skill)]

        return await query(answer)

    @api.get(
        "/agents/{agent_id}/interactions/{interaction_id}/transfer-targets/agents",
        tags=["transfers"],
        summary="Available agents with a free slot for this interaction's channel",
    )
    async def target_agents(agent_id: UUID, interaction_id: UUID) -> list[dict[str, Any]]:
        return await query(
            lambda r, _: [
                agent_brief(a) for a in transfer_target_agents(r, str(agent_id), str(interaction_id))
            ]
        )

    @api.get(
        "/agents/{agent_id}/interactions/{interaction_id}/transfer-targets/external",
        tags=["transfers"],
        summary="External contacts a call can be blind-transferred to (voice, when enabled)",
    )
    async def target_external(agent_id: UUID, interaction_id: UUID) -> list[dict[str, Any]]:
        def answer(router: Router, _: datetime) -> list[dict[str, Any]]:
            it = router.live_interaction(str(interaction_id), str(agent_id))
            if it.channel is not Channel.VOICE or not router.settings.external_transfer:
                return []
            return [
                {"contact_id": c.id, "name": c.name, "number": c.number}
                for c in router.settings.external_contacts
            ]

        return await query(answer)

    @api.post(
        "/agents/{agent_id}/interactions/{interaction_id}/transfer",
        tags=["transfers"],
        summary="Transfer to a queue (optionally changing skills), an agent, or an external contact",
    )
    async def transfer(agent_id: UUID, interaction_id: UUID, body: TransferRequest) -> dict[str, Any]:
        aid, iid = str(agent_id), str(interaction_id)

        def run(router: Router, now: datetime) -> Outcome:
            if isinstance(body, AgentTransfer):
                return router.transfer_to_agent(iid, aid, str(body.agent_id), now, summary=body.summary)
            if isinstance(body, ExternalTransfer):
                return router.transfer_to_external(iid, aid, body.contact_id, now)
            return router.transfer_to_queue(
                iid,
                aid,
                str(body.queue_id),
                now,
                summary=body.summary,
                add_skills=dict(body.add_skills),
                remove_skills=list(body.remove_skills),
            )

        return await command(run, interaction_answer(iid))

    # ------------------------------------------------------------------ snooze and skills

    @api.post(
        "/agents/{agent_id}/interactions/{interaction_id}/snooze",
        tags=["snooze"],
        summary="Snooze: frees the slot and pauses handle time; refused when overdue or a reply is due",
    )
    async def snooze(agent_id: UUID, interaction_id: UUID, body: SnoozeRequest) -> dict[str, Any]:
        aid, iid = str(agent_id), str(interaction_id)
        duration = timedelta(seconds=body.duration_seconds)
        return await command(lambda r, now: r.snooze(iid, aid, duration, now), interaction_answer(iid))

    @api.post(
        "/agents/{agent_id}/interactions/{interaction_id}/unsnooze",
        tags=["snooze"],
        summary="Wake a snoozed conversation now (needs a free slot)",
    )
    async def unsnooze(agent_id: UUID, interaction_id: UUID) -> dict[str, Any]:
        aid, iid = str(agent_id), str(interaction_id)
        return await command(lambda r, now: r.unsnooze(iid, aid, now), interaction_answer(iid))

    @api.post(
        "/agents/{agent_id}/interactions/{interaction_id}/skills",
        tags=["skills"],
        summary="Add or remove skills of a live interaction (when skill modification allows it)",
    )
    async def change_skills(agent_id: UUID, interaction_id: UUID, body: SkillsChange) -> dict[str, Any]:
        aid, iid = str(agent_id), str(interaction_id)
        return await command(
            lambda r, now: r.modify_skills(iid, aid, now, add=dict(body.add), remove=list(body.remove)),
            interaction_answer(iid),
        )

    # ------------------------------------------------------------------ interaction queries

    @api.get(
        "/interactions/{interaction_id}", tags=["interactions"], summary="Routing state of an interaction"
    )
    async def get_interaction(interaction_id: UUID) -> dict[str, Any]:
        return await query(lambda r, now: interaction_view(r, r.interaction(str(interaction_id)), now))

    @api.get(
        "/interactions/{interaction_id}/arrival-summary",
        tags=["interactions"],
        summary="Agent, earlier summaries, queue, wait time, intent, average sentiment, bot transcript",
    )
    async def get_arrival_summary(interaction_id: UUID) -> dict[str, Any]:
        def answer(router: Router, now: datetime) -> dict[str, Any]:
            it = router.interaction(str(interaction_id))
            s = arrival_summary(router, it.id, now)
            return {
                "interaction_id": it.id,
                "agent_name": s.agent_name,
                "summary": arrival(router, it).summary,
                "summaries": [
                    {"queue_id": h.queue_id, "agent_id": h.agent_id, "summary": h.summary, "at": h.at}
                    for h in s.hops
                ],
                "queue_id": s.queue_id,
                "queue_name": s.queue_name,
                "wait_time_seconds": s.wait_time.total_seconds(),
                "intent": s.intent,
                "average_sentiment": s.average_sentiment,
                "customer_name": routing.ledger.meta(it.id).customer_name,
                "context": dict(it.bot_context),
            }

        return await query(answer)

    @api.get(
        "/interactions/{interaction_id}/queue-position",
        tags=["interactions"],
        summary="Place in the queue and estimated wait (null when not waiting or nobody is staffed)",
    )
    async def get_queue_position(interaction_id: UUID) -> dict[str, Any]:
        def answer(router: Router, now: datetime) -> dict[str, Any]:
            iid = str(interaction_id)
            it = router.interaction(iid)
            return {
                "interaction_id": iid,
                "queue_id": it.queue_id,
                "status": it.status.value,
                "position": queue_position(router, iid),
                "estimated_wait_seconds": seconds(estimated_wait(router, iid, now)),
            }

        return await query(answer)

    @api.get(
        "/queues/{queue_id}/waiting", tags=["interactions"], summary="Waiting interactions in service order"
    )
    async def get_waiting(queue_id: UUID, channel: Channel = Channel.CHAT) -> list[dict[str, Any]]:
        return await query(
            lambda r, now: [
                {
                    "interaction_id": e.interaction_id,
                    "position": e.position,
                    "estimated_wait_seconds": seconds(e.estimated_wait),
                }
                for e in waiting(r, str(queue_id), channel, now)
            ]
        )

    add_admin_routes(api, routing, command)
    return api


# ---------------------------------------------------------------------- administration

CommandRunner = Callable[..., Awaitable[Any]]


def add_admin_routes(api: APIRouter, routing: Routing, command: CommandRunner) -> None:
    clock = routing.runtime.clock

    def done(*_: Any) -> None:
        return None

    def check_skills(skills: dict[str, int] | list[str], field: str) -> None:
        for name in skills:
            if name not in routing.skills:
                raise unprocessable("unknown-skill", f"{field}.{name}", f"skill {name!r} is not configured")

    def check_queues(queue_ids: list[UUID], router: Router, known: set[str] | None = None) -> None:
        for queue_id in queue_ids:
            if str(queue_id) not in router.queues and str(queue_id) not in (known or set()):
                raise unprocessable("unknown-queue", "queues", f"queue {queue_id} is not configured")

    def build_queue(queue_id: str, spec: QueueSpec) -> Queue:
        check_skills(spec.required_skills, "required_skills")
        try:
            return queue_from_spec(queue_id, spec)
        except RoutingError as exc:
            raise problem_for(exc) from None

    def build_agent(agent_id: str, spec: AgentSpec) -> Agent:
        check_skills(spec.skills, "skills")
        try:
            return agent_from_spec(agent_id, spec)
        except RoutingError as exc:
            raise problem_for(exc) from None

    async def write_queue(session: AsyncSession, queue_id: str, spec: QueueSpec) -> None:
        await routing.write_config(
            session,
            QueueRow,
            [
                {
                    "id": queue_id,
                    "name": spec.name,
                    "spec": spec.model_dump(mode="json"),
                    "updated_at": clock.now(),
                }
            ],
        )

    async def write_agent(session: AsyncSession, agent_id: str, spec: AgentSpec) -> None:
        document = spec.model_dump(mode="json", exclude={"queues"})
        await routing.write_config(
            session,
            AgentRow,
            [{"id": agent_id, "name": spec.name, "spec": document, "updated_at": clock.now()}],
        )
        await session.execute(sa.delete(MembershipRow).where(col(MembershipRow.agent_id) == agent_id))
        await routing.write_config(
            session,
            MembershipRow,
            [{"agent_id": agent_id, "queue_id": str(q)} for q in dict.fromkeys(spec.queues)],
        )

    async def removal(
        check: Callable[[Router], None], delete: Callable[[AsyncSession], Awaitable[None]]
    ) -> None:
        """Deleting configuration the router holds: lock, check, delete, then rebuild from the tables
        (the domain adds and changes configuration; removing it is a reload)."""
        try:
            async with routing.transaction() as session:
                router = await routing.acquire(session)
                check(router)
                await delete(session)
                await routing.apply(session, lambda r, now: Outcome(), config_changed=True)
                routing.discard()
        except RoutingError as exc:
            raise problem_for(exc) from None

    # ------------------------------------------------------------------ settings

    @api.get("/admin/settings", tags=["admin"], summary="Agent settings")
    async def get_settings() -> SettingsSpec:
        async with routing.runtime.database.sessions() as session:
            row = await session.get(SettingsRow, 1)
        return SettingsSpec.model_validate(row.spec) if row else SettingsSpec()

    async def contacts_now(session: AsyncSession) -> dict[str, ContactSpec]:
        rows = await session.scalars(select(ExternalContactRow))
        return {r.id: ContactSpec.model_construct(name=r.name, number=r.number) for r in rows}

    async def settings_now(session: AsyncSession) -> SettingsSpec:
        row = await session.get(SettingsRow, 1)
        return SettingsSpec.model_validate(row.spec) if row else SettingsSpec()

    async def reconfigure(
        session: AsyncSession, spec: SettingsSpec, contacts: dict[str, ContactSpec]
    ) -> None:
        try:
            settings = settings_from_spec(spec, contacts)
        except RoutingError as exc:
            raise problem_for(exc) from None
        await routing.apply(session, lambda r, now: r.configure(settings, now), config_changed=True)

    @api.put("/admin/settings", tags=["admin"], summary="Replace the agent settings")
    async def put_settings(body: SettingsSpec) -> SettingsSpec:
        try:
            async with routing.transaction() as session:
                await routing.acquire(session)
                await routing.write_config(
                    session,
                    SettingsRow,
                    [{"id": 1, "spec": body.model_dump(mode="json"), "updated_at": clock.now()}],
                )
                await reconfigure(session, body, await contacts_now(session))
        except RoutingError as exc:
            raise problem_for(exc) from None
        return body

    # ------------------------------------------------------------------ external contacts

    @api.get("/admin/external-contacts", tags=["admin"], summary="External transfer contacts")
    async def list_contacts() -> list[ContactOut]:
        async with routing.runtime.database.sessions() as session:
            rows = await session.scalars(select(ExternalContactRow).order_by(col(ExternalContactRow.name)))
            return [ContactOut(id=r.id, name=r.name, number=r.number) for r in rows]

    @api.put("/admin/external-contacts/{contact_id}", tags=["admin"], summary="Create or replace a contact")
    async def put_contact(contact_id: SlugPath, body: ContactSpec) -> ContactOut:
        try:
            async with routing.transaction() as session:
                await routing.acquire(session)
                await routing.write_config(
                    session,
                    ExternalContactRow,
                    [{"id": contact_id, "name": body.name, "number": body.number, "updated_at": clock.now()}],
                )
                await reconfigure(session, await settings_now(session), await contacts_now(session))
        except RoutingError as exc:
            raise problem_for(exc) from None
        return ContactOut(id=contact_id, **body.model_dump())

    @api.delete(
        "/admin/external-contacts/{contact_id}", tags=["admin"], status_code=204, summary="Delete a contact"
    )
    async def delete_contact(contact_id: SlugPath) -> Response:
        try:
            async with routing.transaction() as session:
                await routing.acquire(session)
                found = await session.get(ExternalContactRow, contact_id)
                if found is None:
                    raise Problem(
                        404, "unknown-contact", detail="unknown external contact", contact_id=contact_id
                    )
                await session.delete(found)
                await session.flush()
                await reconfigure(session, await settings_now(session), await contacts_now(session))
        except RoutingError as exc:
            raise problem_for(exc) from None
        return Response(status_code=204)

    # ------------------------------------------------------------------ skills

    @api.get("/admin/skills", tags=["admin"], summary="The skill catalogue")
    async def list_skills() -> list[SkillOut]:
        async with routing.runtime.database.sessions() as session:
            rows = await session.scalars(select(SkillRow).order_by(col(SkillRow.name)))
            return [SkillOut(name=r.name, description=r.description) for r in rows]

    @api.put("/admin/skills/{name}", tags=["admin"], summary="Create or describe a skill")
    async def put_skill(name: SkillPath, body: Annotated[SkillSpec, Body()] = SkillSpec()) -> SkillOut:
        async def prepare(session: AsyncSession, _: Router) -> None:
            await routing.write_config(
                session,
                SkillRow,
                [{"name": name, "description": body.description, "updated_at": clock.now()}],
            )

        await command(lambda r, now: Outcome(), done, prepare=prepare, config_changed=True)
        routing.skills.add(name)
        return SkillOut(name=name, description=body.description)

    @api.delete("/admin/skills/{name}", tags=["admin"], status_code=204, summary="Delete an unused skill")
    async def delete_skill(name: SkillPath) -> Response:
        def check(router: Router) -> None:
            if name not in routing.skills:
                raise Problem(404, "unknown-skill", detail=f"unknown skill {name!r}", skill=name)
            users = [q.id for q in router.queues.values() if name in q.required_skills]
            users += [a.id for a in router.agents.values() if name in a.config.skills]
            if users:
                raise Problem(
                    409, "skill-in-use", detail="queues or agents still use the skill", used_by=users[:100]
                )

        async def delete(session: AsyncSession) -> None:
            await session.execute(sa.delete(SkillRow).where(col(SkillRow.name) == name))

        await removal(check, delete)
        return Response(status_code=204)

    # ------------------------------------------------------------------ queues

    def queue_out(queue_id: str) -> QueueOut:
        return QueueOut(id=UUID(queue_id), **routing.queue_specs[queue_id].model_dump())

    @api.get("/admin/queues", tags=["admin"], summary="All queues")
    async def list_queues() -> list[QueueOut]:
        async with routing.runtime.database.sessions() as session:
            rows = await session.scalars(select(QueueRow).order_by(col(QueueRow.name)))
            return [QueueOut(id=UUID(r.id), **QueueSpec.model_validate(r.spec).model_dump()) for r in rows]

    @api.get("/admin/queues/{queue_id}", tags=["admin"], summary="One queue")
    async def get_queue(queue_id: UUID) -> QueueOut:
        async with routing.runtime.database.sessions() as session:
            row = await session.get(QueueRow, str(queue_id))
        if row is None:
            raise Problem(404, "unknown-queue", detail="unknown queue", queue_id=str(queue_id))
        return QueueOut(id=queue_id, **QueueSpec.model_validate(row.spec).model_dump())

    @api.put(
        "/admin/queues/{queue_id}",
        tags=["admin"],
        summary="Create or replace a queue (channels, skills, hours of operation, holidays, max wait…)",
    )
    async def put_queue(queue_id: UUID, body: QueueSpec) -> QueueOut:
        qid = str(queue_id)
        queue = build_queue(qid, body)

        async def prepare(session: AsyncSession, _: Router) -> None:
            await write_queue(session, qid, body)

        def run(router: Router, now: datetime) -> Outcome:
            outcome = router.upsert_queue(queue, now)
            routing.queue_specs[qid] = body
            return outcome

        await command(run, done, prepare=prepare, config_changed=True)
        return QueueOut(id=queue_id, **body.model_dump())

    @api.delete("/admin/queues/{queue_id}", tags=["admin"], status_code=204, summary="Delete an unused queue")
    async def delete_queue(queue_id: UUID) -> Response:
        qid = str(queue_id)

        def check(router: Router) -> None:
            router.queue(qid)
            open_ = [
                it.id
                for it in router.interactions.values()
                if it.queue_id == qid and it.status is not InteractionStatus.ENDED
            ]
            if open_:
                raise Problem(
                    409,
                    "queue-in-use",
                    detail="interactions are still in the queue",
                    interaction_ids=open_[:100],
                )

        async def delete(session: AsyncSession) -> None:
            await session.execute(sa.delete(MembershipRow).where(col(MembershipRow.queue_id) == qid))
            await session.execute(sa.delete(QueueRow).where(col(QueueRow.id) == qid))

        await removal(check, delete)
        return Response(status_code=204)

    # ------------------------------------------------------------------ agents

    @api.get("/admin/agents", tags=["admin"], summary="All agents")
    async def list_agents() -> list[AgentOut]:
        async with routing.runtime.database.sessions() as session:
            members: dict[str, list[str]] = {}
            for m in await session.scalars(select(MembershipRow)):
                members.setdefault(m.agent_id, []).append(m.queue_id)
            rows = await session.scalars(select(AgentRow).order_by(col(AgentRow.name)))
            return [
                AgentOut(id=UUID(r.id), **{**r.spec, "queues": sorted(members.get(r.id, []))}) for r in rows
            ]

    @api.get("/admin/agents/{agent_id}", tags=["admin"], summary="One agent's configuration")
    async def get_agent_config(agent_id: UUID) -> AgentOut:
        aid = str(agent_id)
        async with routing.runtime.database.sessions() as session:
            row = await session.get(AgentRow, aid)
            queues = list(
                await session.scalars(
                    select(MembershipRow.queue_id).where(col(MembershipRow.agent_id) == aid)
                )
            )
        if row is None:
            raise Problem(404, "unknown-agent", detail="unknown agent", agent_id=aid)
        return AgentOut(id=agent_id, **{**row.spec, "queues": sorted(queues)})

    @api.put(
        "/admin/agents/{agent_id}",
        tags=["admin"],
        summary="Create or replace an agent (skills, capacity per channel, queue memberships)",
    )
    async def put_agent(agent_id: UUID, body: AgentSpec) -> AgentOut:
        aid = str(agent_id)
        agent = build_agent(aid, body)

        async def prepare(session: AsyncSession, router: Router) -> None:
            check_queues(body.queues, router)
            await write_agent(session, aid, body)

        await command(lambda r, now: r.upsert_agent(agent, now), done, prepare=prepare, config_changed=True)
        return AgentOut(id=agent_id, **body.model_dump())

    @api.delete(
        "/admin/agents/{agent_id}", tags=["admin"], status_code=204, summary="Delete a logged-out agent"
    )
    async def delete_agent(agent_id: UUID) -> Response:
        aid = str(agent_id)

        def check(router: Router) -> None:
            if router.agent(aid).status.logged_in:
                raise Problem(409, "agent-logged-in", detail="log the agent out first", agent_id=aid)

        async def delete(session: AsyncSession) -> None:
            for model, column in (
                (MembershipRow, MembershipRow.agent_id),
                (AgentStateRow, AgentStateRow.agent_id),
                (AgentRow, AgentRow.id),
            ):
                await session.execute(sa.delete(model).where(col(column) == aid))

        await removal(check, delete)
        return Response(status_code=204)

    # ------------------------------------------------------------------ custom statuses

    @api.get("/admin/statuses", tags=["admin"], summary="Custom statuses")
    async def list_statuses() -> list[StatusOut]:
        async with routing.runtime.database.sessions() as session:
            rows = await session.scalars(select(CustomStatusRow).order_by(col(CustomStatusRow.name)))
            return [StatusOut.model_validate({"id": r.id, "name": r.name, "tag": r.tag}) for r in rows]

    @api.put("/admin/statuses/{status_id}", tags=["admin"], summary="Create or replace a custom status")
    async def put_status(status_id: SlugPath, body: StatusSpec) -> StatusOut:
        try:
            status = status_from_spec(status_id, body)
        except RoutingError as exc:
            raise problem_for(exc) from None

        async def prepare(session: AsyncSession, _: Router) -> None:
            await routing.write_config(
                session,
                CustomStatusRow,
                [{"id": status_id, "name": body.name, "tag": body.tag.value, "updated_at": clock.now()}],
            )

        def run(router: Router, _: datetime) -> Outcome:
            router.upsert_status(status)
            return Outcome()

        await command(run, done, prepare=prepare, config_changed=True)
        return StatusOut(id=status_id, name=body.name, tag=body.tag)

    @api.delete(
        "/admin/statuses/{status_id}", tags=["admin"], status_code=204, summary="Delete an unused status"
    )
    async def delete_status(status_id: SlugPath) -> Response:
        def check(router: Router) -> None:
            if status_id not in router.statuses:
                raise Problem(404, "unknown-status", detail="unknown custom status", status_id=status_id)
            users = [a.id for a in router.agents.values() if a.status.custom_id == status_id]
            if users:
                raise Problem(409, "status-in-use", detail="agents are in this status", agent_ids=users[:100])

        async def delete(session: AsyncSession) -> None:
            await session.execute(sa.delete(CustomStatusRow).where(col(CustomStatusRow.id) == status_id))

        await removal(check, delete)
        return Response(status_code=204)

    # ------------------------------------------------------------------ bulk

    @api.post(
        "/admin/import",
        tags=["admin"],
        summary="Create or replace many skills, queues and agents in one transaction (seeding a tenant)",
    )
    async def import_config(body: ImportSpec) -> dict[str, int]:
        routing_skills_before = set(routing.skills)
        routing.skills |= set(body.skills)
        try:
            queues = {str(qid): build_queue(str(qid), spec) for qid, spec in body.queues.items()}
            agents = {str(aid): build_agent(str(aid), spec) for aid, spec in body.agents.items()}
        finally:
            routing.skills = routing_skills_before

        async def prepare(session: AsyncSession, router: Router) -> None:
            for spec in body.agents.values():
                check_queues(spec.queues, router, set(queues))
            now = clock.now()
            await routing.write_config(
                session,
                SkillRow,
                [
                    {"name": n, "description": s.description, "updated_at": now}
                    for n, s in body.skills.items()
                ],
            )
            await routing.write_config(
                session,
                QueueRow,
                [
                    {"id": str(qid), "name": s.name, "spec": s.model_dump(mode="json"), "updated_at": now}
                    for qid, s in body.queues.items()
                ],
            )
            await routing.write_config(
                session,
                AgentRow,
                [
                    {
                        "id": str(aid),
                        "name": s.name,
                        "spec": s.model_dump(mode="json", exclude={"queues"}),
                        "updated_at": now,
                    }
                    for aid, s in body.agents.items()
                ],
            )
            if body.agents:
                await session.execute(
                    sa.delete(MembershipRow).where(
                        col(MembershipRow.agent_id).in_([str(a) for a in body.agents])
                    )
                )
            await routing.write_config(
                session,
                MembershipRow,
                [
                    {"agent_id": str(aid), "queue_id": str(q)}
                    for aid, s in body.agents.items()
                    for q in dict.fromkeys(s.queues)
                ],
            )

        def run(router: Router, now: datetime) -> Outcome:
            outcomes = [router.upsert_queue(q, now) for q in queues.values()]
            outcomes += [router.upsert_agent(a, now) for a in agents.values()]
            for qid, spec in body.queues.items():
                routing.queue_specs[str(qid)] = spec
            routing.skills |= set(body.skills)
            return merge(*outcomes)

        await command(run, done, prepare=prepare, config_changed=True)
        return {"skills": len(body.skills), "queues": len(body.queues), "agents": len(body.agents)}
