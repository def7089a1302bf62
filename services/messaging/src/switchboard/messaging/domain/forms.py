"""Secure forms: definitions, validation of a customer's answers, masking, storage and single-use tokens.

A form request is a single-use token bound to a conversation and a form. It expires ``ttl`` after issue
(default 15 minutes) and is spent by the first valid submission; an invalid submission does not spend it,
so the customer can correct a typo. Expiry is checked before anything else is looked at, and a spent token
is reported as used even when it has also expired, because that is the more useful answer.

What each view of the answers holds:

==============  ======================  ======================  =====================
field type      ``values`` (hand-off)    ``for_storage``         ``for_transcript``
==============  ======================  ======================  =====================
card_number     digits only              last four, masked       last four, masked
cvv             as entered               dropped                 never shown
everything else cleaned value           cleaned value           cleaned value
==============  ======================  ======================  =====================

``values`` exists only in memory for the immediate hand-off to the system that needs the data; the CVV is
never stored (PCI DSS forbids storing card verification codes after authorisation).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from switchboard.messaging.domain._time import as_utc
from switchboard.messaging.domain.errors import (
    FormAlreadyUsed,
    FormExpired,
    InvalidForm,
    InvalidFormSubmission,
    MessagingError,
)
from switchboard.messaging.domain.text import MASK_CHAR, clean_text, luhn_valid

DEFAULT_FORM_TTL = timedelta(minutes=15)
MAX_FIELDS = 30
MAX_LABEL_LENGTH = 100
DEFAULT_TEXT_MAX_LENGTH = 500
MAX_EXPIRY_YEARS_AHEAD = 20

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXPIRY = re.compile(r"(0[1-9]|1[0-2])\s*/\s*([0-9]{2})")
_CVV = re.compile(r"[0-9]{3,4}")
_CARD = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
# ASCII addresses only: internationalised domains arrive punycoded from the widget's input field.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_PHONE = re.compile(r"\+?[0-9 ()\-.]+")


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CARD_NUMBER = "card_number"
    EXPIRY = "expiry"
    CVV = "cvv"
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    type: FieldType
    required: bool = True


@dataclass(frozen=True, slots=True)
class FormDefinition:
    id: str
    title: str
    fields: tuple[FormField, ...]

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)


def define_form(form_id: str, *, title: str, fields: Iterable[FormField]) -> FormDefinition:
    """Validate a form definition: 1-30 fields, unique snake_case names, single-line labels."""
    problems: list[str] = []
    try:
        clean_title = clean_text(title, max_length=MAX_LABEL_LENGTH)
    except MessagingError as exc:
        raise InvalidForm(f"title: {exc.detail}") from exc
    cleaned: list[FormField] = []
    seen: set[str] = set()
    for item in fields:
        if not _FIELD_NAME.fullmatch(item.name):
            problems.append(f"field name {item.name!r} must be snake_case, 1-40 characters")
        elif item.name in seen:
            problems.append(f"field name {item.name!r} is used twice")
        seen.add(item.name)
        try:
            label = clean_text(item.label, max_length=MAX_LABEL_LENGTH)
        except MessagingError as exc:
            problems.append(f"label of {item.name!r}: {exc.detail}")
            continue
        if "\n" in label:
            problems.append(f"label of {item.name!r} must be a single line")
        cleaned.append(replace(item, label=label))
    if not cleaned and not problems:
        problems.append("a form needs at least one field")
    if len(cleaned) > MAX_FIELDS:
        problems.append(f"a form has at most {MAX_FIELDS} fields")
    if problems:
        raise InvalidForm("; ".join(problems))
    return FormDefinition(id=form_id, title=clean_title, fields=tuple(cleaned))


@dataclass(frozen=True, slots=True)
class FormRequest:
    """A single-use token for one customer to fill one form in one conversation."""

    token: str
    form_id: str
    conversation_id: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


def issue_form_request(
    form: FormDefinition,
    *,
    token: str,
    conversation_id: str,
    now: datetime,
    ttl: timedelta = DEFAULT_FORM_TTL,
) -> FormRequest:
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    issued = as_utc(now)
    return FormRequest(token, form.id, conversation_id, issued, issued + ttl)


def check_form_request(request: FormRequest, *, now: datetime) -> None:
    """Refuse a spent or expired token; an expired token fails at exactly ``expires_at``."""
    if request.used_at is not None:
        raise FormAlreadyUsed("this secure form has already been submitted")
    if as_utc(now) >= request.expires_at:
        raise FormExpired("this secure form link has expired; ask the agent for a new one")


def _digits(value: str) -> str:
    return "".join(c for c in value if c in "0123456789")


def _ascii_digits(value: str) -> str:
    # Fullwidth digits from an IME mean the same number; NFKC maps them to ASCII.
    return unicodedata.normalize("NFKC", value)


def _validate_value(field: FormField, raw: str, now: datetime) -> str:
    """The cleaned value of one answer, or ValueError with a message meant for the customer."""
    if field.type is FieldType.TEXT:
        try:
            return clean_text(raw, max_length=DEFAULT_TEXT_MAX_LENGTH)
        except MessagingError as exc:
            raise ValueError(exc.detail) from exc
    value = _ascii_digits(raw).strip()
    if field.type is FieldType.NUMBER:
        if not _NUMBER.fullmatch(value) or len(value) > 40:
            raise ValueError("enter a number")
        return value
    if field.type is FieldType.DATE:
        try:
            if not _DATE.fullmatch(value):
                raise ValueError
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("enter a date as YYYY-MM-DD") from None
    if field.type is FieldType.CARD_NUMBER:
        digits = _digits(value)
        if not _CARD.fullmatch(value) or not 13 <= len(digits) <= 19 or not luhn_valid(digits):
            raise ValueError("enter a valid card number")
        return digits
    if field.type is FieldType.EXPIRY:
        match = _EXPIRY.fullmatch(value)
        if match is None:
            raise ValueError("enter the expiry date as MM/YY")
        month, year = int(match.group(1)), 2000 + int(match.group(2))
        # A card is valid through the last day of its expiry month.
        if (year, month) < (now.year, now.month):
            raise ValueError("this card has expired")
        if year > now.year + MAX_EXPIRY_YEARS_AHEAD:
            raise ValueError("enter the expiry date as MM/YY")
        return f"{month:02d}/{year % 100:02d}"
    if field.type is FieldType.CVV:
        if not _CVV.fullmatch(value):
            raise ValueError("enter the 3 or 4 digit security code")
        return value
    if field.type is FieldType.EMAIL:
        if len(value) > 254 or not _EMAIL.fullmatch(value):
            raise ValueError("enter a valid email address")
        return value
    if field.type is FieldType.PHONE:
        digits = _digits(value)
        if not _PHONE.fullmatch(value) or not 7 <= len(digits) <= 15:
            raise ValueError("enter a valid phone number")
        return ("+" if value.startswith("+") else "") + digits
    raise AssertionError(f"unhandled field type {field.type}")


def mask_card(digits: str) -> str:
    return MASK_CHAR * 4 + " " + digits[-4:]


@dataclass(frozen=True, slots=True)
class FormSubmission:
    request: FormRequest  # now spent
    values: Mapping[str, str]  # full cleaned answers, for the immediate hand-off only
    for_storage: Mapping[str, str]  # no CVV, card masked
    for_transcript: tuple[tuple[str, str], ...]  # (label, shown value) in form order


def submit_form(
    form: FormDefinition, request: FormRequest, answers: Mapping[str, str], *, now: datetime
) -> FormSubmission:
    """Validate the customer's answers against the form and spend the token.

    Every failing field is reported at once (``field_errors``) so the customer fixes them in one go. Answers
    for fields the form does not have are refused: the form is the whole contract.
    """
    moment = as_utc(now)
    if request.form_id != form.id:
        raise InvalidForm(f"form request {request.token} is for another form")
    check_form_request(request, now=moment)

    errors: dict[str, str] = {}
    for name in answers:
        if form.field(name) is None:
            errors[name] = "this form has no such field"
    values: dict[str, str] = {}
    for field in form.fields:
        raw = answers.get(field.name)
        if raw is None or not raw.strip():
            if field.required:
                errors[field.name] = f"{field.label} is required"
            continue
        try:
            values[field.name] = _validate_value(field, raw, moment)
        except ValueError as exc:
            errors[field.name] = str(exc)
    if errors:
        raise InvalidFormSubmission(errors)

    storage = prepare_for_storage(form, values)
    transcript = tuple((f.label, storage[f.name]) for f in form.fields if f.name in storage)
    return FormSubmission(
        request=replace(request, used_at=moment),
        values=MappingProxyType(values),
        for_storage=MappingProxyType(storage),
        for_transcript=transcript,
    )


def prepare_for_storage(form: FormDefinition, values: Mapping[str, str]) -> dict[str, str]:
    """Storable copy of validated answers: CVV dropped, card numbers reduced to their last four."""
    stored: dict[str, str] = {}
    for name, value in values.items():
        field = form.field(name)
        if field is None or field.type is FieldType.CVV:
            continue
        stored[name] = mask_card(_digits(value)) if field.type is FieldType.CARD_NUMBER else value
    return stored
