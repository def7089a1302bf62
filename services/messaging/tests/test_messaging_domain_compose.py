"""AI-enhanced compose: the seed's three examples, other rewrites, and properties that protect facts."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.messaging.domain import (
    FeatureDisabled,
    MessageEmpty,
    MessagingError,
    RewriteMode,
    expand,
    make_formal,
    make_friendlier,
    rewrite,
)
from switchboard.messaging.domain.compose import MONTHS

FAST = settings(max_examples=150, deadline=None)
SEED_FRIENDLY_INPUT = "Your mortgage appointment has been scheduled for Jun 24, 2023, 1 pm"
SEED_INPUT = "Your mortgage appointment has been scheduled for Jun 24, 2023, at 1 pm"


def test_seed_friendlier() -> None:
    assert (
        make_friendlier(SEED_FRIENDLY_INPUT)
        == "Great news! We\u2019ve scheduled your mortgage appointment for Jun 24, 2023, at 1 pm."
    )


def test_seed_formal() -> None:
    assert make_formal(SEED_INPUT) == (
        "We would like to inform you that your mortgage appointment has been scheduled for Jun 24, 2023, at 1:00 pm."
    )


def test_seed_expand() -> None:
    assert expand(SEED_INPUT) == (
        "We would like to notify you that your mortgage appointment has been successfully scheduled for "
        "June 24, 2023. Please arrive promptly at 1:00 pm for your appointment."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your refund has been processed", "Great news! We\u2019ve processed your refund."),
        (
            "We would like to inform you that your card has been renewed.",
            "Great news! We\u2019ve renewed your card.",
        ),
        (
            "Please do not hesitate to contact us. Kindly send the documents prior to Friday.",
            "Just let us know. Please send the documents before Friday.",
        ),
        ("I am not sure it is ready. Here it is.", "I\u2019m not sure it\u2019s ready. Here it is."),
        ("we have sent the form, you'll get it soon", "Great news! We've sent the form, you'll get it soon."),
        ("Your order has not been shipped", "Your order hasn\u2019t been shipped."),
        ("Hello Ana, we will assist you shortly", "Hi Ana, we\u2019ll help you shortly."),
    ],
)
def test_friendlier(text: str, expected: str) -> None:
    assert make_friendlier(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "hey, thanks for waiting! we can't find your order yet",
            "Hello, thank you for waiting. We cannot find your order yet.",
        ),
        (
            "Great news! We\u2019ve scheduled your call for Mar 3 2pm",
            "We have scheduled your call for Mar 3 at 2:00 pm.",
        ),
        (
            "Sorry for the wait, I'll get back to you asap",
            "We apologize for the wait, I will follow up with you as soon as possible.",
        ),
        ("The meeting is at 9:30am", "We would like to inform you that the meeting is at 9:30 am."),
        ("Can you send it pls?", "Could you send it please?"),
    ],
)
def test_formal(text: str, expected: str) -> None:
    assert make_formal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Your refund has been processed",
            "We would like to notify you that your refund has been successfully processed. "
            "Please let us know if you have any questions.",
        ),
        (
            "FYI appt is tmrw w/ Dr. Smith, approx 30 mins",
            "For your information appointment is tomorrow with Dr. Smith, approximately 30 minutes. "
            "Please let us know if you have any questions.",
        ),
        (
            "The call has been booked for Mon, Sep 2 at 3 pm.",
            "We would like to notify you that the call has been successfully booked for Monday, September 2. "
            "Please be available at 3:00 pm for the call.",
        ),
        ("Can you confirm your address?", "Could you confirm your address?"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text) == expected


def test_paragraphs_are_kept() -> None:
    assert make_formal("hi\n\nthanks!") == "Hello.\n\nThank you."


def test_feature_flag_and_dispatch() -> None:
    with pytest.raises(FeatureDisabled) as info:
        rewrite("hello", RewriteMode.FORMAL, enabled=False)
    assert (info.value.slug, info.value.status) == ("feature-disabled", 403)
    assert rewrite(SEED_INPUT, RewriteMode.EXPAND, enabled=True) == expand(SEED_INPUT)


def test_empty_draft_refused() -> None:
    with pytest.raises(MessageEmpty):
        make_friendlier("   ")


# --- properties ----------------------------------------------------------------------------------------

REWRITERS = [make_friendlier, make_formal, expand]
_MONTH_WORD = re.compile(
    r"\b(" + "|".join(sorted({*MONTHS, *MONTHS.values()}, key=len, reverse=True)) + r")\b"
)
_NEGATION = re.compile(r"\b(?:not|never|no|cannot)\b|n['\u2019]t\b", re.IGNORECASE)


def digit_runs(text: str) -> Counter[str]:
    return Counter(re.findall(r"\d+", text))


def months(text: str) -> Counter[str]:
    return Counter(MONTHS.get(m, m) for m in _MONTH_WORD.findall(text))


subjects = st.sampled_from(
    ["Your mortgage appointment", "The meeting", "Your refund", "Our call", "Your 2 orders"]
)
auxiliaries = st.sampled_from(["has been", "have been", "has not been", "is", "will be", "won't be"])
verbs = st.sampled_from(["scheduled", "processed", "shipped", "cancelled", "booked", "moved"])
dates = st.builds(
    lambda m, d, y: f"{m} {d}, {y}" if y else f"{m} {d}",
    st.sampled_from([*MONTHS, "June", "March"]),
    st.integers(1, 31),
    st.one_of(st.none(), st.integers(1990, 2100)),
)
times = st.builds(
    lambda h, m, ap, space: f"{h}{':' + format(m, '02d') if m is not None else ''}{' ' if space else ''}{ap}",
    st.integers(1, 12),
    st.one_of(st.none(), st.integers(0, 59)),
    st.sampled_from(["pm", "am", "PM", "p.m."]),
    st.booleans(),
)
sentences = st.builds(
    lambda s, a, v, d, sep, t: f"{s} {a} {v} for {d}{sep}{t}",
    subjects,
    auxiliaries,
    verbs,
    dates,
    st.sampled_from([", ", ", at ", " at ", " "]),
    times,
)
words = st.sampled_from(
    ["hi", "thanks", "asap", "please", "can't", "don't", "we", "will", "not", "help", "your", "appt", "5 mins",
     "order", "#12345", "Dr.", "!", "?", ".", "Jun", "May", "3", "it's", "I am", "4111 1111 1111 1111"]
)  # fmt: skip
free_text = st.lists(words, min_size=1, max_size=12).map(" ".join)
drafts = st.one_of(
    sentences,
    st.lists(sentences, min_size=1, max_size=3).map(". ".join),
    free_text,
    st.builds(lambda a, b: f"{a}\n{b}", free_text, sentences),
)


@FAST
@given(draft=drafts)
def test_rewrites_keep_facts_and_are_deterministic(draft: str) -> None:
    for rewriter in REWRITERS:
        out = rewriter(draft)
        assert out.strip()
        assert rewriter(draft) == out
        assert digit_runs(draft) - digit_runs(out) == Counter(), (rewriter.__name__, draft, out)
        assert months(draft) - months(out) == Counter(), (rewriter.__name__, draft, out)
        if _NEGATION.search(draft):
            assert _NEGATION.search(out), (rewriter.__name__, draft, out)


@FAST
@given(draft=st.text(max_size=80))
def test_rewrites_of_arbitrary_text_never_crash_or_empty(draft: str) -> None:
    for rewriter in REWRITERS:
        try:
            out = rewriter(draft)
        except MessagingError:
            continue
        assert out.strip()
        assert digit_runs(draft) - digit_runs(out) == Counter()
