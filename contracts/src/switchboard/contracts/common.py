"""Vocabulary shared by several domains' payloads.

Kept in one place so that a channel or a party means the same thing on every topic, and so that the
JSON Schemas of all events point at one definition of each closed set.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field


class Channel(StrEnum):
    """The medium a customer interaction arrives on; each has its own capacity slots per agent."""

    CHAT = "chat"
    VOICE = "voice"
    VOICEMAIL = "voicemail"
    EMAIL = "email"


class Party(StrEnum):
    """Who brought something about: the customer, the agent, or the platform itself (a timer, a rule)."""

    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


# Skill and intent names are configured by administrators; the limits only keep hostile input out.
SkillName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
Intent = Annotated[str, Field(min_length=1, max_length=200)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200)]
# E.164 keeps caller IDs comparable across telephony providers.
PhoneNumber = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{1,14}$")]

MAX_SKILLS = 50
MAX_ATTACHMENTS = 20
