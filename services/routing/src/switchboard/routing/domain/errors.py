"""Typed refusals of the routing domain.

Every refusal carries a stable ``slug``: the HTTP layer turns it into the RFC 9457 problem ``type``
(``…/errors/<slug>``) and the console keys its message on it, so a slug is never renamed.
``details`` holds what the console needs to explain the refusal (for example the open
interactions that block a logout); it only contains JSON-friendly values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class RoutingError(Exception):
    slug: ClassVar[str] = "routing-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, Any] = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.slug}: {self.message}, {dict(self.details)!r})"


class InvalidConfig(RoutingError):
    """A configuration value object broke a rule; ``details["field"]`` names the field."""

    slug = "invalid-config"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class InvalidTime(RoutingError):
    slug = "invalid-time"


class UnknownAgent(RoutingError):
    slug = "unknown-agent"


class UnknownQueue(RoutingError):
    slug = "unknown-queue"


class UnknownInteraction(RoutingError):
    slug = "unknown-interaction"


class UnknownStatus(RoutingError):
    slug = "unknown-status"


class AgentOffline(RoutingError):
    slug = "agent-offline"


class StatusNotSelectable(RoutingError):
    slug = "status-not-selectable"


class PromptNotPending(RoutingError):
    slug = "prompt-not-pending"


class LogoutBlocked(RoutingError):
    slug = "logout-blocked"


class QueueOffline(RoutingError):
    slug = "queue-offline"


class ChannelNotSupported(RoutingError):
    slug = "channel-not-supported"


class OfferNotPending(RoutingError):
    slug = "offer-not-pending"


class InteractionEnded(RoutingError):
    slug = "interaction-ended"


class InteractionNotActive(RoutingError):
    """The interaction is with the agent but not live (snoozed, or waiting for a free slot)."""

    slug = "interaction-not-active"


class NotAssignedAgent(RoutingError):
    slug = "not-assigned-agent"


class FirstReplyRequired(RoutingError):
    slug = "first-reply-required"


class CapacityExceeded(RoutingError):
    slug = "capacity-exceeded"


class SnoozeNotAllowed(RoutingError):
    slug = "snooze-not-allowed"


class InvalidSnoozeDuration(RoutingError):
    slug = "invalid-snooze-duration"


class NotSnoozed(RoutingError):
    slug = "not-snoozed"


class TransferNotAllowed(RoutingError):
    """The agent settings do not offer this kind of destination (queue, agent or external)."""

    slug = "transfer-not-allowed"


class TransferTargetUnavailable(RoutingError):
    slug = "transfer-target-unavailable"


class SkillModificationNotAllowed(RoutingError):
    slug = "skill-modification-not-allowed"


class InvalidSentiment(RoutingError):
    slug = "invalid-sentiment"
