"""The local user store: argon2 password hashes, roles, and the demo tenant's people."""

from __future__ import annotations

from uuid import uuid4

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.gateway.auth import Principal, Role
from switchboard.gateway.models import User
from switchboard.runtime.clock import Clock

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps a failed login as slow as a wrong password,
# so response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash(uuid4().hex)


def hash_password(password: str) -> str:
    if len(password) < 12:
        raise ValueError("passwords have at least 12 characters")
    return _hasher.hash(password)


async def authenticate(session: AsyncSession, username: str, password: str) -> Principal | None:
    user = await session.scalar(select(User).where(col(User.username) == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    return principal_of(user)


def principal_of(user: User) -> Principal:
    return Principal(
        subject=user.id,
        roles=frozenset(Role(r) for r in user.roles.split(",") if r),
        name=user.display_name,
        agent_id=user.agent_id,
        queues=frozenset(q for q in user.queues.split(",") if q),
    )


async def create_user(
    session: AsyncSession,
    clock: Clock,
    *,
    username: str,
    password: str,
    roles: set[Role],
    display_name: str,
    agent_id: str | None = None,
    queues: set[str] | None = None,
) -> User:
    if Role.CUSTOMER in roles:
        raise ValueError("customers get conversation tokens, not accounts")
    existing = await session.scalar(select(User).where(col(User.username) == username))
    if existing is not None:
        return existing
    user = User(
        id=str(uuid4()),
        username=username,
        password_hash=hash_password(password),
        roles=",".join(sorted(roles)),
        display_name=display_name,
        agent_id=agent_id,
        queues=",".join(sorted(queues or ())),
        created_at=clock.now(),
    )
    session.add(user)
    await session.flush()
    return user
