"""The demo tenant: two queues, two agents, their settings and dispositions — set up through the gateway.

Everything but the people goes through the gateway's HTTP API as an administrator would, so the demo
and the end-to-end test (``tests/test_chat_lifecycle.py``) prove the same path a real admin console
takes. People are the exception: the gateway has no HTTP API to create accounts (an install gets them
from its identity provider or from this seeding), so users are written to the gateway's user store.

``make run`` calls :func:`seed_demo` once the services answer (with ``GATEWAY_JWT_SECRET`` set)::

    new_passwords = await seed_demo("http://127.0.0.1:8080", gateway_database_url)

It is idempotent: ids are derived from names, configuration is PUT, the disposition set is reused by
name and existing users are kept (with their passwords). Passwords come from ``DEMO_ADMIN_PASSWORD``,
``DEMO_ADA_PASSWORD`` and ``DEMO_BOB_PASSWORD``, else they are generated and returned once.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx
from sqlmodel import col, select

from switchboard.gateway.auth import Principal, Role, TokenService
from switchboard.gateway.models import TABLES, User
from switchboard.gateway.settings import GatewaySettings
from switchboard.gateway.users import create_user
from switchboard.runtime.clock import Clock, SystemClock
from switchboard.runtime.db import Database, create_schema

DEMO_NAMESPACE = uuid5(NAMESPACE_URL, "https://switchboard.dev/demo")
# Seeding creates few users; the argon2 minimum length is 12, so generated passwords are 24 characters.
SEED_TOKEN_SECONDS = 120
PASSWORD_ENV = {"admin": "DEMO_ADMIN_PASSWORD", "ada": "DEMO_ADA_PASSWORD", "bob": "DEMO_BOB_PASSWORD"}


def demo_id(name: str) -> str:
    return str(uuid5(DEMO_NAMESPACE, name))


@dataclass(frozen=True)
class DemoTenant:
    """What the demo tenant holds; the defaults are the demo's, tests override the timings."""

    mortgages: str = field(default_factory=lambda: demo_id("queue/mortgages"))
    cards: str = field(default_factory=lambda: demo_id("queue/cards"))
    ada: str = field(default_factory=lambda: demo_id("agent/ada"))
    bob: str = field(default_factory=lambda: demo_id("agent/bob"))
    disposition_set_name: str = "Retail banking"
    login_prep_seconds: int = 30
    # Generous by default: a demo user reading the console should not be marked Away (Idle) at once.
    offer_timeout_seconds: int = 120
    reply_timeout_seconds: int | None = 600
    inactivity_threshold_seconds: int = 300
    acw_timeout_seconds: int = 60
    ada_chat_slots: int = 2
    bob_chat_slots: int = 1

    @property
    def agents(self) -> dict[str, str]:
        return {"ada": self.ada, "bob": self.bob}


class SeedError(RuntimeError):
    """A configuration call was refused; the message carries the service's problem."""


async def _call(http: httpx.AsyncClient, token: str, method: str, path: str, body: Any = None) -> Any:
    response = await http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code >= 300:
        raise SeedError(f"{method} {path} → {response.status_code}: {response.text}")
    return response.json() if response.content else None


async def configure_tenant(http: httpx.AsyncClient, admin_token: str, tenant: DemoTenant) -> str:
    """Configure routing and ACW for the tenant through the gateway; returns the disposition set id.

    Mortgages is the default chat queue (intent ``mortgage``); Cards needs the ``cards`` skill and
    enforces it (intent ``card``). Both release the slot on timed ACW with a required status field.
    """
    for skill, description in (("cards", "Card products"), ("fraud", "Card fraud and disputes")):
        await _call(
            http, admin_token, "PUT", f"/api/routing/admin/skills/{skill}", {"description": description}
        )
    await _call(
        http,
        admin_token,
        "PUT",
        "/api/routing/admin/settings",
        {
            "login_prep_seconds": tenant.login_prep_seconds,
            "offer_timeout_seconds": tenant.offer_timeout_seconds,
            "reply_timeout_seconds": tenant.reply_timeout_seconds,
            "inactivity_threshold_seconds": tenant.inactivity_threshold_seconds,
            "snooze_presets_seconds": [300, 900, 1800, 3600],
            "custom_snooze": True,
            "transfer_destinations": "both",
            "enforce_skill_match": False,
            # The seed's "add or delete skills before transfer" (Skill Modification = transfer).
            "skill_modification": "transfer",
        },
    )
    queues: dict[str, dict[str, Any]] = {
        tenant.mortgages: {
            "name": "Mortgages",
            "channels": ["chat"],
            "intents": ["mortgage"],
            "acw_mode": "timed",
            "default": True,
        },
        tenant.cards: {
            "name": "Cards",
            "channels": ["chat"],
            "intents": ["card"],
            "required_skills": {"cards": 3},
            "enforce_skill_match": True,
            "acw_mode": "timed",
        },
    }
    for queue_id, spec in queues.items():
        await _call(http, admin_token, "PUT", f"/api/routing/admin/queues/{queue_id}", spec)
    agents: dict[str, dict[str, Any]] = {
        tenant.ada: {
            "name": "Ada",
            "capacity": {"chat": tenant.ada_chat_slots},
            "queues": [tenant.mortgages],
        },
        tenant.bob: {
            "name": "Bob",
            "skills": {"cards": 5, "fraud": 3},
            "capacity": {"chat": tenant.bob_chat_slots},
            "queues": [tenant.cards],
        },
    }
    for agent_id, spec in agents.items():
        await _call(http, admin_token, "PUT", f"/api/routing/admin/agents/{agent_id}", spec)

    existing = await _call(http, admin_token, "GET", "/api/acw/admin/disposition-sets")
    found = [s for s in existing if s["name"] == tenant.disposition_set_name]
    if found:
        set_id = str(found[0]["set_id"])
    else:
        created = await _call(
            http,
            admin_token,
            "POST",
            "/api/acw/admin/disposition-sets",
            {
                "name": tenant.disposition_set_name,
                "status_codes": [{"code": "callback", "label": "Callback booked"}],
                "fields": [
                    {
                        "name": "reason",
                        "label": "Reason",
                        "required": False,
                        "codes": [
                            {"code": "rate", "label": "Rate question"},
                            {"code": "limit", "label": "Card limit"},
                        ],
                    }
                ],
            },
        )
        set_id = str(created["set_id"])
    for queue_id in queues:
        await _call(
            http,
            admin_token,
            "PUT",
            f"/api/acw/admin/queues/{queue_id}/acw",
            {"mode": "timed", "timeout_seconds": tenant.acw_timeout_seconds, "disposition_set_id": set_id},
        )
    return set_id


async def create_people(
    database: Database, clock: Clock, tenant: DemoTenant, passwords: Mapping[str, str]
) -> None:
    """The admin and the two agents in the gateway's user store, agents linked to their routing ids."""
    async with database.transaction() as session:
        await create_user(
            session,
            clock,
            username="admin",
            password=passwords["admin"],
            roles={Role.ADMIN},
            display_name="Admin",
        )
        for username, display in (("ada", "Ada"), ("bob", "Bob")):
            await create_user(
                session,
                clock,
                username=username,
                password=passwords[username],
                roles={Role.AGENT},
                display_name=display,
                agent_id=tenant.agents[username],
            )


def demo_passwords(environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], set[str]]:
    """Passwords from ``DEMO_<USER>_PASSWORD``, else generated; and which users' were generated (the
    caller shows those once — they are stored only as argon2 hashes)."""
    env = os.environ if environ is None else environ
    passwords: dict[str, str] = {}
    generated: set[str] = set()
    for user, name in PASSWORD_ENV.items():
        passwords[user] = env.get(name, "")
        if not passwords[user]:
            passwords[user] = secrets.token_urlsafe(18)
            generated.add(user)
    return passwords, generated


async def seed_demo(
    gateway_url: str,
    gateway_database_url: str,
    *,
    gateway_settings: GatewaySettings | None = None,
    tenant: DemoTenant | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create the demo people, then configure the demo tenant through the running gateway.

    ``gateway_settings`` (default: from ``GATEWAY_*`` in the environment, as the gateway reads them)
    must carry the gateway's JWT secret: the seed signs itself a short-lived admin token, so a rerun
    works whatever passwords the people were given the first time. Returns the passwords generated for
    users created now (``make run`` prints them once; they are stored only as argon2 hashes).
    """
    tenant = tenant or DemoTenant()
    passwords, generated = demo_passwords(environ)
    database = Database(gateway_database_url)
    try:
        # Normally the running gateway made its tables already; a seed before its first start still works.
        await create_schema(database.engine, TABLES)
        existing = await _existing_usernames(database)
        await create_people(database, SystemClock(), tenant, passwords)
    finally:
        await database.dispose()
    seeder = Principal(subject=demo_id("user/seed"), roles=frozenset({Role.ADMIN}), name="Demo seed")
    token, _ = TokenService(gateway_settings or GatewaySettings()).issue(seeder, lifetime=SEED_TOKEN_SECONDS)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0) as http:
        await configure_tenant(http, token, tenant)
    return {user: passwords[user] for user in sorted(generated - existing)}


async def _existing_usernames(database: Database) -> set[str]:
    async with database.sessions() as session:
        rows = await session.scalars(select(User.username).where(col(User.username).in_(list(PASSWORD_ENV))))
        return set(rows)
