"""Typed refusals of the messaging rules.

Every refusal a client can cause is a :class:`MessagingError` with a stable ``slug`` (the HTTP layer turns it
into an RFC 9457 ``type``), an HTTP-ish ``status`` hint and a readable ``detail``. Programming errors (a naive
datetime, an out-of-range score from our own model) stay ``ValueError`` so they surface as bugs, not 4xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar


class MessagingError(Exception):
    """Base of every refusal the messaging rules make."""

    slug: ClassVar[str] = "messaging-error"
    status: ClassVar[int] = 422

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}(slug={self.slug!r}, detail={self.detail!r})"


class ConversationTerminated(MessagingError):
    slug = "conversation-terminated"
    status = 409


class MessageNotFound(MessagingError):
    slug = "message-not-found"
    status = 404


class InvalidClientId(MessagingError):
    slug = "invalid-client-id"
    status = 422


class ClientIdConflict(MessagingError):
    """The client id is known but the retried request carries a different message."""

    slug = "client-id-conflict"
    status = 409


class MessageEmpty(MessagingError):
    slug = "message-empty"
    status = 422


class MessageTooLong(MessagingError):
    slug = "message-too-long"
    status = 422


class ControlCharacters(MessagingError):
    slug = "control-characters"
    status = 422


class InvalidEncoding(MessagingError):
    """Text holds code points that cannot be stored as UTF-8 (lone surrogates) or are non-characters."""

    slug = "invalid-encoding"
    status = 422


class InvalidStateTransition(MessagingError):
    slug = "invalid-state-transition"
    status = 409


class InvalidReaction(MessagingError):
    slug = "invalid-reaction"
    status = 422


class UnsupportedMediaType(MessagingError):
    slug = "unsupported-media-type"
    status = 415


class AttachmentTooLarge(MessagingError):
    slug = "attachment-too-large"
    status = 413


class AttachmentEmpty(MessagingError):
    slug = "attachment-empty"
    status = 422


class TooManyAttachments(MessagingError):
    slug = "too-many-attachments"
    status = 422


class InvalidTemplate(MessagingError):
    slug = "invalid-template"
    status = 422


class UnknownPlaceholder(InvalidTemplate):
    slug = "unknown-placeholder"
    status = 422


class InvalidForm(MessagingError):
    """A secure-form definition an administrator or agent tried to create is malformed."""

    slug = "invalid-form"
    status = 422


class InvalidFormSubmission(MessagingError):
    """A customer's answers do not satisfy the form; ``field_errors`` names every failing field."""

    slug = "invalid-form-submission"
    status = 422

    def __init__(self, field_errors: Mapping[str, str]) -> None:
        self.field_errors: Mapping[str, str] = MappingProxyType(dict(field_errors))
        names = ", ".join(sorted(self.field_errors))
        super().__init__(f"the form has invalid fields: {names}")


class FormExpired(MessagingError):
    slug = "form-expired"
    status = 410


class FormAlreadyUsed(MessagingError):
    slug = "form-already-used"
    status = 409


class FeatureDisabled(MessagingError):
    slug = "feature-disabled"
    status = 403


def require_feature(enabled: bool, feature: str) -> None:
    """Refuse a feature that the tenant's configuration switched off (e.g. AI-enhanced compose)."""
    if not enabled:
        raise FeatureDisabled(f"{feature} is not enabled for this tenant")
