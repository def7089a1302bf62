"""Text rules and card-number masking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.messaging.domain import (
    ControlCharacters,
    MessageEmpty,
    MessageTooLong,
    clean_text,
    luhn_valid,
    mask_card_numbers,
    prepare_text,
)
from switchboard.messaging.domain.errors import InvalidEncoding

FAST = settings(max_examples=150, deadline=None)


def fullwidth(digits: str) -> str:
    """What a Japanese IME types for digits (U+FF10-U+FF19)."""
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def test_nfc_and_trim() -> None:
    assert clean_text("  e\u0301te\u0301  ") == "été"


def test_newlines_unified_and_tab_kept() -> None:
    assert clean_text("a\r\nb\rc\td") == "a\nb\nc\td"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202e", "\u2066"])
def test_control_and_bidi_characters_refused(char: str) -> None:
    with pytest.raises(ControlCharacters) as info:
        clean_text(f"hi{char}there")
    assert info.value.slug == "control-characters"


def test_lone_surrogate_and_noncharacter_refused() -> None:
    with pytest.raises(InvalidEncoding):
        clean_text("bad \ud800")
    with pytest.raises(InvalidEncoding):
        clean_text("bad \uffff")


def test_emoji_sequences_are_plain_text() -> None:
    text = "Thanks 👩‍💻👍🏽🇫🇷 نمی‌خواهم"
    assert clean_text(text) == text


def test_empty_and_length() -> None:
    with pytest.raises(MessageEmpty):
        clean_text(" \n ")
    assert clean_text(" \n ", allow_empty=True) == ""
    assert clean_text("x" * 10, max_length=10) == "x" * 10
    with pytest.raises(MessageTooLong) as info:
        clean_text("x" * 11, max_length=10)
    assert info.value.status == 422
    # Length is judged after NFC: a decomposed accent counts once.
    assert clean_text("e\u0301" * 10, max_length=10) == "é" * 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111 1111 1111 1111", "•••• •••• •••• 1111"),
        ("4111-1111-1111-1111", "••••-••••-••••-1111"),
        ("card:4111111111111111.", "card:••••••••••••1111."),
        ("amex 3782 822463 10005 ok", "amex •••• •••••• •0005 ok"),
        ("4111 1111 1111 1111 123", "•••• •••• •••• 1111 123"),
        (fullwidth("4111111111111111"), "••••••••••••" + fullwidth("1111")),
        ("two 4111111111111111 and 5555555555554444", "two ••••••••••••1111 and ••••••••••••4444"),
    ],
)
def test_card_numbers_masked(text: str, expected: str) -> None:
    assert mask_card_numbers(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "on 2023-06-24 and 2023-06-25",
        "call +1 415 555 0100",
        "call +44 20 7946 0958",
        "order 12345678901234567890123",  # too long, one group
        "4111  1111  1111  1111",  # double spaces are not card formatting
        "12/25",
    ],
)
def test_non_cards_left_alone(text: str) -> None:
    result = mask_card_numbers(text)
    assert result.text == text
    assert result.cards_masked == 0


def test_prepare_text_cleans_then_masks() -> None:
    assert prepare_text(" my card 4111111111111111 ") == "my card ••••••••••••1111"


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError


cards = st.integers(min_value=12, max_value=18).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n).map(luhn_complete)
)


@FAST
@given(
    card=cards,
    before=st.text(alphabet="abc .,:", max_size=10),
    after=st.text(alphabet="abc .,:", max_size=10),
)
def test_any_valid_card_is_masked_keeping_last_four_and_length(card: str, before: str, after: str) -> None:
    text = f"{before}{card}{after}"
    masked = mask_card_numbers(text).text
    assert card not in masked
    assert len(masked) == len(text)
    assert masked.endswith(card[-4:] + after)
    assert mask_card_numbers(masked).text == masked


@FAST
@given(st.text(max_size=60))
def test_masking_never_changes_length_or_non_digits(text: str) -> None:
    masked = mask_card_numbers(text).text
    assert len(masked) == len(text)
    for original, new in zip(text, masked, strict=True):
        assert original == new or (original.isdecimal() and new == "•")
