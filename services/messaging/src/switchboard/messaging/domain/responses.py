"""The standard-response library: templates, categories with counts, "/" search and placeholder filling.

Placeholders are ``{{customer_name}}``, ``{{agent_name}}`` and ``{{queue}}`` (spaces inside the braces are
allowed). An unknown or malformed placeholder is refused when the template is created, so a broken
template never reaches a customer. At fill time a missing value is replaced by a neutral fallback that
still reads well ("Hi {{customer_name}}" → "Hi there") and is reported in ``missing`` so the console can
ask the agent to check the text before sending.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from switchboard.messaging.domain.errors import InvalidTemplate, MessagingError, UnknownPlaceholder
from switchboard.messaging.domain.text import clean_text, normalize_text

PLACEHOLDERS: Mapping[str, str] = {
    "customer_name": "there",
    "agent_name": "your agent",
    "queue": "our team",
}
MAX_TITLE_LENGTH = 100
MAX_BODY_LENGTH = 4_000
MAX_CATEGORY_LENGTH = 60
DEFAULT_SEARCH_LIMIT = 20

_SHORTCUT = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class ResponseChannel(StrEnum):
    CHAT = "chat"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class ResponseTemplate:
    id: str
    category: str
    shortcut: str
    title: str
    body: str
    channels: frozenset[ResponseChannel]
    placeholders: frozenset[str]


def _clean_field(value: str, what: str, limit: int, *, single_line: bool) -> str:
    try:
        cleaned = clean_text(value, max_length=limit)
    except MessagingError as exc:
        raise InvalidTemplate(f"{what}: {exc.detail}") from exc
    if single_line and ("\n" in cleaned or "\t" in cleaned):
        raise InvalidTemplate(f"{what} must be a single line")
    return cleaned


def template_placeholders(body: str) -> frozenset[str]:
    """Placeholder names used in ``body``; refuses unknown names and stray double braces."""
    names = {match.group(1) for match in _PLACEHOLDER.finditer(body)}
    unknown = sorted(name for name in names if name not in PLACEHOLDERS)
    if unknown:
        allowed = ", ".join(f"{{{{{name}}}}}" for name in PLACEHOLDERS)
        raise UnknownPlaceholder(f"unknown placeholder(s) {', '.join(unknown)}; allowed are {allowed}")
    leftover = _PLACEHOLDER.sub("", body)
    if "{{" in leftover or "}}" in leftover:
        raise InvalidTemplate("the body has an unclosed or malformed {{placeholder}}")
    return frozenset(names)


def create_template(
    template_id: str,
    *,
    category: str,
    shortcut: str,
    title: str,
    body: str,
    channels: Iterable[ResponseChannel],
) -> ResponseTemplate:
    """Validate and build a template; every field is cleaned with the same text rules as messages."""
    clean_category = _clean_field(category, "category", MAX_CATEGORY_LENGTH, single_line=True)
    clean_title = _clean_field(title, "title", MAX_TITLE_LENGTH, single_line=True)
    clean_body = _clean_field(body, "body", MAX_BODY_LENGTH, single_line=False)
    clean_shortcut = normalize_text(shortcut).strip().lstrip("/").lower()
    if not _SHORTCUT.fullmatch(clean_shortcut):
        raise InvalidTemplate(
            "shortcut must be 1-32 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
        )
    channel_set = frozenset(channels)
    if not channel_set:
        raise InvalidTemplate("a template must be available on at least one channel")
    return ResponseTemplate(
        id=template_id,
        category=clean_category,
        shortcut=clean_shortcut,
        title=clean_title,
        body=clean_body,
        channels=channel_set,
        placeholders=template_placeholders(clean_body),
    )


@dataclass(frozen=True, slots=True)
class CategoryCount:
    name: str
    count: int


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def category_counts(
    templates: Iterable[ResponseTemplate], *, channel: ResponseChannel | None = None
) -> list[CategoryCount]:
    """Categories with how many templates each holds, alphabetically.

    Names differing only in case are one category (an admin typing "billing" once must not split the
    library); the shown spelling is the smallest one, so it does not depend on template order.
    """
    counts: dict[str, int] = {}
    spellings: dict[str, str] = {}
    for template in templates:
        if channel is None or channel in template.channels:
            key = _fold(template.category)
            counts[key] = counts.get(key, 0) + 1
            spellings[key] = min(spellings.get(key, template.category), template.category)
    return [CategoryCount(spellings[key], counts[key]) for key in sorted(counts)]


def search_templates(
    templates: Iterable[ResponseTemplate],
    query: str,
    *,
    channel: ResponseChannel | None = None,
    category: str | None = None,
    limit: int = DEFAULT_SEARCH_LIMIT,
) -> list[ResponseTemplate]:
    """What the compose bar shows after "/": prefix matches on shortcut, title, or a word of the title.

    Case-insensitive (Unicode case folding). Shortcut matches rank first, then title prefixes, then
    matches on a later word of the title; ties by shortcut so the list never reshuffles. An empty query
    (just "/") lists everything.
    """
    needle = _fold(query.strip().lstrip("/").strip())
    ranked: list[tuple[int, str, str, ResponseTemplate]] = []
    for template in templates:
        if channel is not None and channel not in template.channels:
            continue
        if category is not None and _fold(template.category) != _fold(category):
            continue
        title = _fold(template.title)
        if template.shortcut.startswith(needle):
            rank = 0
        elif title.startswith(needle):
            rank = 1
        elif any(word.startswith(needle) for word in re.split(r"\W+", title) if word):
            rank = 2
        else:
            continue
        ranked.append((rank, template.shortcut, template.id, template))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[: max(limit, 0)]]


@dataclass(frozen=True, slots=True)
class FilledTemplate:
    text: str
    missing: tuple[str, ...]  # placeholders that got their fallback


def fill_template(template: ResponseTemplate, values: Mapping[str, str | None]) -> FilledTemplate:
    """Replace placeholders in one pass, so a value that itself contains ``{{...}}`` is never expanded."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        raw = values.get(name)
        # Values come from profiles and CRMs, not from the agent, so junk is dropped rather than refused.
        printable = "".join(c for c in raw or "" if c.isprintable() or c.isspace())
        value = " ".join(unicodedata.normalize("NFC", printable).split())
        if not value:
            if name not in missing:
                missing.append(name)
            return PLACEHOLDERS[name]
        return value

    text = _PLACEHOLDER.sub(substitute, template.body)
    return FilledTemplate(text=text, missing=tuple(missing))
