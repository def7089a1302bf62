"""Which role may call which service path through the gateway (the authorisation table).

Roles decide the kinds of calls; the owning service then decides ownership with the actor the gateway
vouches for (routing and acw know which agent holds an interaction, messaging who is in a
conversation). The gateway adds what only it knows: an agent acts as themself, a customer's token
reaches one conversation, a supervisor reads only the queues they supervise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.gateway.auth import Principal, Role
from switchboard.runtime.errors import Problem

READ = frozenset({"GET", "HEAD"})
A, S, D, C = Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.CUSTOMER


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    write: frozenset[Role]
    read: frozenset[Role]
    description: str


def _rule(pattern: str, *, write: set[Role], read: set[Role] | None = None, description: str = "") -> Rule:
    return Rule(
        re.compile(pattern), frozenset(write), frozenset(read if read is not None else write), description
    )


UUID_RE = r"[0-9a-fA-F-]{36}"

RULES: dict[str, list[Rule]] = {
    "routing": [
        _rule(r"^/admin(/.*)?$", write={D}, read={D, S}, description="configuration"),
        _rule(rf"^/agents/(?P<agent>{UUID_RE})(/.*)?$", write={A}, read={A, S, D}, description="an agent"),
        _rule(r"^/interactions/[^/]+(/.*)?$", write={A}, read={A, S}, description="an interaction"),
        _rule(r"^/queues(/.*)?$", write=set(), read={A, S, D}, description="queues"),
        _rule(r"^/transfer-targets(/.*)?$", write=set(), read={A}, description="transfer targets"),
    ],
    "messaging": [
        _rule(rf"^/conversations/(?P<conversation>{UUID_RE})(/.*)?$", write={A, C}, read={A, C}),
        _rule(r"^/responses(/.*)?$", write={D}, read={A, S, D}),
        _rule(r"^/compose/[a-z]+$", write={A}),
        _rule(r"^/forms/definitions$", write={D}, read={A, D}),
        _rule(r"^/forms/[^/]+$", write={C}, read={C}),
        _rule(r"^/admin(/.*)?$", write={D}, read={D}),
    ],
    "acw": [
        _rule(r"^/admin(/.*)?$", write={D}, read={D, S}),
        _rule(rf"^/agents/(?P<agent>{UUID_RE})/acw$", write=set(), read={A, S}),
        _rule(r"^/interactions/[^/]+(/.*)?$", write={A}, read={A, S}),
        _rule(r"^/notes/[^/]+$", write={A}, read={A}),
    ],
}


def authorise(principal: Principal, service: str, method: str, path: str) -> None:
    """Raise a problem unless ``principal`` may make this call; 404 for paths nobody may use."""
    for rule in RULES.get(service, []):
        match = rule.pattern.match(path)
        if match is None:
            continue
        allowed = rule.read if method in READ else rule.write
        role = next((r for r in (C, A, S, D) if r in principal.roles and r in allowed), None)
        if role is None:
            raise Problem(403, "forbidden", detail="Your role may not make this call.")
        groups = match.groupdict()
        if role is A and groups.get("agent") and groups["agent"] != principal.agent_id:
            raise Problem(403, "forbidden", detail="Agents act on their own record only.")
        if role is S and groups.get("agent") and method not in READ:
            raise Problem(403, "forbidden", detail="Supervisors read; they do not act for agents.")
        if role is C and groups.get("conversation") != principal.conversation_id:
            # Not 403: a customer's token does not even reveal that another conversation exists.
            raise Problem(404, "not-found", detail="No such conversation.")
        return
    raise Problem(404, "not-found", detail="No such route.")
