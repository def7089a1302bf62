"""Who may see which event: the pure rule behind every pushed frame and every replay.

An event's audience is fixed when the gateway records it (the interaction, the agent who held or was
offered it, its queue), so a live push and a replay after reconnecting answer the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.gateway.auth import Principal, Role

# What a customer's widget may be shown: the conversation itself, never notes, dispositions, routing
# internals or sentiment.
CUSTOMER_VISIBLE = frozenset(
    {
        "chat.message.sent",
        "chat.message.delivered",
        "chat.message.read",
        "chat.typing",
        "conversation.ended",
        "interaction.ended",
    }
)
# What a supervisor watching a queue may read: everything about its interactions except private notes.
SUPERVISOR_HIDDEN = frozenset({"note.added", "note.edited"})


@dataclass(frozen=True)
class Audience:
    type: str
    interaction_id: str | None
    agent_id: str | None
    queue_id: str | None
    sender_role: str | None = None


def may_see(principal: Principal, audience: Audience) -> bool:
    if principal.has(Role.CUSTOMER):
        if audience.type not in CUSTOMER_VISIBLE or audience.interaction_id != principal.conversation_id:
            return False
        # A customer sees the agent typing, not their own typing echoed back.
        return not (audience.type == "chat.typing" and audience.sender_role == "customer")
    if principal.has(Role.AGENT) and principal.agent_id and audience.agent_id == principal.agent_id:
        return True
    return (
        principal.has(Role.SUPERVISOR)
        and audience.queue_id is not None
        and audience.queue_id in principal.queues
        and audience.type not in SUPERVISOR_HIDDEN
    )
