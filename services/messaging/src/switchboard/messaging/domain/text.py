"""Chat text rules: what text the service accepts and what it stores.

Decisions:

* Text is Unicode normalised to NFC, so the same visible text compares, searches and counts the same
  whichever keyboard produced it. Length is counted in code points after NFC (default limit 4,000).
* ``\\r\\n`` and lone ``\\r`` become ``\\n``: Windows clipboards produce them and rejecting a paste would only
  annoy the sender. Newline and tab are the only control characters kept — tab because pasted table cells
  carry it and it renders harmlessly. Every other C0/C1 control is refused (``control-characters``), as are
  bidirectional overrides/isolates (U+202A-U+202E, U+2066-U+2069), which can make a transcript read
  differently from what was sent. Other format characters stay: ZWJ builds emoji sequences, ZWNJ is needed
  by Persian and Indic scripts.
* Lone surrogates and non-characters are refused (``invalid-encoding``): they cannot be stored as UTF-8.
* Emoji are plain Unicode text and need no special treatment.

Card numbers: :func:`mask_card_numbers` replaces every digit of a Luhn-valid 13-19 digit number except the
last four by ``•`` and keeps the separators, e.g. ``4111 1111 1111 1111`` → ``•••• •••• •••• 1111``. The mask
keeps the length, so a message that passed the length check still fits after masking and offsets of the
rest of the text do not move. It runs before a message is stored, logged or published.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from switchboard.messaging.domain.errors import (
    ControlCharacters,
    InvalidEncoding,
    MessageEmpty,
    MessageTooLong,
)

DEFAULT_MAX_MESSAGE_LENGTH = 4_000
MASK_CHAR = "\u2022"

_ALLOWED_CONTROLS = frozenset("\n\t")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def check_characters(text: str) -> None:
    """Refuse characters chat text may not contain (see the module docstring for the policy)."""
    for index, char in enumerate(text):
        code = ord(char)
        category = unicodedata.category(char)
        if category == "Cs" or _is_noncharacter(code):
            raise InvalidEncoding(f"character U+{code:04X} at position {index} cannot be stored")
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or char in _BIDI_CONTROLS:
            raise ControlCharacters(f"control character U+{code:04X} at position {index} is not allowed")


def normalize_text(text: str) -> str:
    """NFC with newlines unified; refuses forbidden characters. Does not trim or check length."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    check_characters(unified)
    return unicodedata.normalize("NFC", unified)


def clean_text(text: str, *, max_length: int = DEFAULT_MAX_MESSAGE_LENGTH, allow_empty: bool = False) -> str:
    """Normalise and validate text: no forbidden characters, not blank, at most ``max_length`` code points.

    Surrounding whitespace is trimmed because a message's meaning never depends on it; whitespace inside is
    kept (agents format lists with newlines). ``allow_empty`` is for messages that carry attachments.
    """
    if max_length < 1:
        raise ValueError("max_length must be positive")
    normalized = normalize_text(text).strip()
    if not normalized:
        if allow_empty:
            return ""
        raise MessageEmpty("the message has no text")
    if len(normalized) > max_length:
        raise MessageTooLong(f"the message has {len(normalized)} characters, the limit is {max_length}")
    return normalized


# A run of digits where single spaces or dashes may separate groups. ``\d`` is Unicode-aware on purpose:
# customers typing with a Japanese IME produce fullwidth digits, and their card numbers must be masked too.
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_MIN_CARD_DIGITS = 13
_MAX_CARD_DIGITS = 19
# Cards are printed in groups of 4-6 (4-4-4-4, 4-6-5, 4-4-4-4-3); requiring at least three digits per group
# keeps dates (2023-06-24) and most phone numbers (+44 20 7946 0958) out of the candidates.
_MIN_GROUP_DIGITS = 3


def luhn_valid(digits: str) -> bool:
    """Luhn checksum over decimal digits (any script); False for anything that is not all digits."""
    if not digits or not all(char.isdecimal() for char in digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = unicodedata.decimal(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class MaskedText:
    text: str
    cards_masked: int


def _mask_span(span: str) -> str:
    digits_seen = sum(1 for char in span if char.isdecimal())
    out: list[str] = []
    for char in span:
        if char.isdecimal():
            out.append(char if digits_seen <= 4 else MASK_CHAR)
            digits_seen -= 1
        else:
            out.append(char)
    return "".join(out)


def _card_window(groups: list[str]) -> tuple[int, int] | None:
    """The longest, then leftmost, run of whole groups that forms a valid card number.

    Whole groups only: a card followed by its CVV ("4111 1111 1111 1111 123") is still found, while digits
    are never borrowed from the middle of a group, which would turn arbitrary long numbers into "cards".
    """
    count = len(groups)
    best: tuple[int, int] | None = None
    best_len = 0
    for start in range(count):
        digits = ""
        for end in range(start, count):
            group = groups[end]
            if len(groups) > 1 and len(group) < _MIN_GROUP_DIGITS:
                break
            digits += group
            if len(digits) > _MAX_CARD_DIGITS:
                break
            if len(digits) >= _MIN_CARD_DIGITS and len(digits) > best_len and luhn_valid(digits):
                best, best_len = (start, end), len(digits)
    return best


def mask_card_numbers(text: str) -> MaskedText:
    """Mask Luhn-valid 13-19 digit card numbers; numbers failing Luhn are left as they are."""
    pieces: list[str] = []
    cursor = 0
    masked = 0
    for match in _DIGIT_RUN.finditer(text):
        groups = re.split(r"[ -]", match.group())
        window = _card_window(groups)
        if window is None:
            continue
        start, end = window
        separators = re.findall(r"[ -]", match.group())
        # Rebuild the run so the masked span covers exactly the chosen groups and their inner separators.
        parts: list[str] = []
        for index, group in enumerate(groups):
            parts.append(group)
            if index < len(separators):
                parts.append(separators[index])
        span_start = match.start() + sum(len(p) for p in parts[: 2 * start])
        span_end = match.start() + sum(len(p) for p in parts[: 2 * end + 1])
        pieces.append(text[cursor:span_start])
        pieces.append(_mask_span(text[span_start:span_end]))
        cursor = span_end
        masked += 1
    pieces.append(text[cursor:])
    return MaskedText("".join(pieces), masked)


def prepare_text(
    text: str, *, max_length: int = DEFAULT_MAX_MESSAGE_LENGTH, allow_empty: bool = False
) -> str:
    """Everything chat text goes through before storage, logs and topics: clean, then mask card numbers."""
    return mask_card_numbers(clean_text(text, max_length=max_length, allow_empty=allow_empty)).text
