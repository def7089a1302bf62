"""AI-enhanced compose, local implementation: deterministic, rule- and template-based rewrites.

Three rewrites of an agent's draft (seed, "AI-enhanced Compose Text Box"):

* :func:`make_friendlier` — drops formal openers, turns "Your X has been scheduled" into "We've scheduled
  your X", contracts ("do not" → "don't"), swaps stiff words ("assist" → "help", "Kindly" → "Please") and
  opens good news with "Great news!".
* :func:`make_formal` — expands contractions, replaces chat slang ("asap", "thanks", "Hi"), calms
  exclamation marks, writes times in full ("1 pm" → "1:00 pm") and opens a statement about the customer's
  affairs with "We would like to inform you that".
* :func:`expand` — the formal rewrite, plus written-out abbreviations ("Jun 24" → "June 24", "appt" →
  "appointment"), "successfully" for completed actions, a separate instruction sentence for the time of an
  appointment, and a courtesy line for a one-sentence statement.

A rewrite never changes facts: every digit run of the input is in the output, every month stays the same
month and a negation is never lost. Contractions are written with the apostrophe the draft already uses
(typographic U+2019 when the draft has none). Newlines are kept; each paragraph is rewritten on its own.
The feature is behind a tenant flag, checked by :func:`rewrite`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import partial

from switchboard.messaging.domain.errors import require_feature
from switchboard.messaging.domain.text import DEFAULT_MAX_MESSAGE_LENGTH, clean_text

APOSTROPHE = "\u2019"
_A = "['\u2019]"


class RewriteMode(StrEnum):
    FRIENDLIER = "friendlier"
    FORMAL = "formal"
    EXPAND = "expand"


# --- shared vocabulary ---------------------------------------------------------------------------------

MONTHS: dict[str, str] = {
    "Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "May": "May", "Jun": "June",
    "Jul": "July", "Aug": "August", "Sep": "September", "Sept": "September", "Oct": "October",
    "Nov": "November", "Dec": "December",
}  # fmt: skip
DAYS: dict[str, str] = {
    "Mon": "Monday", "Tue": "Tuesday", "Tues": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday",
    "Thur": "Thursday", "Thurs": "Thursday", "Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday",
}  # fmt: skip
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DAY = r"(?:Mon(?:day)?|Tue(?:s(?:day)?)?|Wed(?:nesday)?|Thu(?:r(?:s(?:day)?)?)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)"
_DATE = (
    rf"(?:(?:{_DAY}\.?,?\s+)?{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?(?!\d)"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})"
)
_TIME = r"(?<![\w:.,/])\d{1,2}(?::[0-5]\d)?\s?(?:[AaPp]\.[Mm]\.|[AaPp][Mm])(?!\w)"
_TIME_PARTS = re.compile(r"(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?\s?(?P<ap>[AaPp]\.[Mm]\.|[AaPp][Mm])")
_DATE_THEN_TIME = re.compile(rf"(?P<date>{_DATE})(?P<sep>,?)\s+(?P<time>{_TIME})")
_TIME_RE = re.compile(_TIME)
_DATE_RE = re.compile(_DATE)
_MONTH_ABBR_IN_DATE = re.compile(r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?")
_DAY_ABBR_IN_DATE = re.compile(r"^(Mon|Tues|Tue|Wed|Thurs|Thur|Thu|Fri|Sat|Sun)\b\.?")

POSITIVE_VERBS = (
    "scheduled", "rescheduled", "booked", "reserved", "confirmed", "approved", "processed", "completed",
    "resolved", "received", "renewed", "activated", "updated", "submitted", "shipped", "delivered",
    "refunded", "credited", "sent", "paid", "reset", "arranged", "fixed", "restored", "unlocked", "verified",
    "upgraded",
)  # fmt: skip
_VERBS = "|".join(POSITIVE_VERBS)
_DET = r"(?:Your|The|This|That|Our|These|Those|All of your|All your|All)"
_PASSIVE = re.compile(
    rf"^(?P<np>{_DET}\b[^,;:!?]*?)\s+(?P<aux>has|have)\s+been\s+(?P<adv>successfully\s+)?"
    rf"(?P<verb>{_VERBS})\b(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_POSITIVE = re.compile(
    rf"\b(?:has|have|{_A}ve|is|are)\s+(?:been\s+)?(?:successfully\s+)?(?:{_VERBS})\b", re.IGNORECASE
)
_NEGATION = re.compile(rf"\b(?:not|never|no|cannot|nothing|nobody|none)\b|n{_A}t\b", re.IGNORECASE)
_STATEMENT_START = re.compile(rf"^{_DET}\s", re.IGNORECASE)
_STATEMENT_VERB = re.compile(r"\b(?:has|have|is|are|was|were|will)\b", re.IGNORECASE)
_FORMAL_OPENER = re.compile(
    r"^(?:We would like to (?:inform|notify|let) you that|Please be advised that|Please note that"
    r"|Kindly note that|This is to (?:inform|notify) you that)\s+",
    re.IGNORECASE,
)
_INTERJECTION = re.compile(
    r"^(?:Great|Good|Awesome|Hi|Hello|Hey|Dear|Thanks|Thank|Sorry|Unfortunately|Congrat\w*|Welcome)\b",
    re.IGNORECASE,
)
_GOOD_NEWS_SENTENCE = re.compile(r"^(?:Great|Good|Awesome|Wonderful) news[!.]*$", re.IGNORECASE)
APPOINTMENT_NOUNS: dict[str, str] = {
    "appointment": "Please arrive promptly at", "meeting": "Please arrive promptly at",
    "visit": "Please arrive promptly at", "interview": "Please arrive promptly at",
    "viewing": "Please arrive promptly at", "inspection": "Please be available at",
    "consultation": "Please arrive promptly at", "call": "Please be available at",
    "callback": "Please be available at", "session": "Please be available at",
    "demo": "Please be available at", "delivery": "Please be available at",
}  # fmt: skip
_APPOINTMENT = re.compile(
    rf"^(?P<np>{_DET}\b[^,;:!?]*?\b(?P<head>{'|'.join(APPOINTMENT_NOUNS)}))\s+(?P<aux>has|have)\s+been\s+"
    rf"(?:successfully\s+)?(?P<verb>{_VERBS})\s+for\s+(?P<date>{_DATE}),?\s+(?:at\s+)?(?P<time>{_TIME})\s*[.!]?$",
    re.IGNORECASE,
)
_ABBREVIATIONS_NO_SPLIT = frozenset(
    {"e.g", "i.e", "mr", "mrs", "ms", "dr", "st", "vs", "etc", "approx", "no", "jr", "sr", "prof"}
    | {m.lower() for m in MONTHS}
    | {d.lower() for d in DAYS}
)

Rule = tuple[re.Pattern[str], str]


def _rules(pairs: Sequence[tuple[str, str]], flags: int = re.IGNORECASE) -> list[Rule]:
    return [(re.compile(pattern, flags), replacement) for pattern, replacement in pairs]


def _match_case(original: str, replacement: str) -> str:
    if original[:1].isupper() and replacement[:1].islower():
        return replacement[0].upper() + replacement[1:]
    if original[:1].islower() and replacement[:1].isupper() and not replacement.startswith("I"):
        return replacement[0].lower() + replacement[1:]
    return replacement


def _replace_matching_case(replacement: str, match: re.Match[str]) -> str:
    return _match_case(match.group(0), match.expand(replacement))


def _apply(text: str, rules: Sequence[Rule]) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(partial(_replace_matching_case, replacement), text)
    return text


_PARTICIPLE = (
    r"(?=\s+(?:\w+ed|been|got|gotten|sent|made|done|seen|taken|given|found|paid|set|put|heard|had|left"
    r"|built|shown|written|spoken|begun|chosen|kept|brought|bought|told|sold|won)\b)"
)
# Positive contractions need a following word: "Here it is." must not become "Here it's."
_FOLLOWED = r"(?=\s+[\w\"“(])"
CONTRACT = _rules(
    [
        (r"\bwill not\b", "won't"), (r"\bcannot\b", "can't"), (r"\bcan not\b", "can't"),
        (r"\bshall not\b", "shan't"), (r"\b(do|does|did|is|are|was|were|has|have|had|could|would|should)"
         r" not\b", r"\1n't"),
        (rf"\bI am\b{_FOLLOWED}", "I'm"), (rf"\b(we|you|they) are\b{_FOLLOWED}", r"\1're"),
        (rf"\b(it|that|there|here|what|he|she|who) is\b{_FOLLOWED}", r"\1's"),
        (rf"\b(I|we|you|they|it|he|she|that) will\b{_FOLLOWED}", r"\1'll"),
        (rf"\b(I|we|you|they) have\b{_PARTICIPLE}", r"\1've"),
        (rf"\b(I|we|you|they|he|she) would\b{_FOLLOWED}", r"\1'd"),
    ]
)  # fmt: skip
EXPAND_CONTRACTIONS = _rules(
    [
        (rf"\bwon{_A}t\b", "will not"), (rf"\bcan{_A}t\b", "cannot"), (rf"\bshan{_A}t\b", "shall not"),
        (rf"\bain{_A}t\b", "is not"), (rf"\b(\w+)n{_A}t\b", r"\1 not"),
        (rf"\blet{_A}s\b", "let us"),
        (rf"\b(it|that|there|here|what|he|she|who|where){_A}s been\b", r"\1 has been"),
        (rf"\b(it|that|there|here|what|he|she|who|where|how){_A}s\b", r"\1 is"),
        (rf"\b(\w+){_A}re\b", r"\1 are"), (rf"\b(\w+){_A}ve\b", r"\1 have"),
        (rf"\b(\w+){_A}ll\b", r"\1 will"), (rf"\bI{_A}m\b", "I am"),
        (rf"\b(I|we|you|they|he|she){_A}d\b", r"\1 would"),
    ]
)  # fmt: skip
FRIENDLY_WORDS = _rules(
    [
        (r"^(?:Hello|Greetings|Good day)\b", "Hi"), (r"^Dear\b", "Hi"),
        (r"\bplease do not hesitate to (?:contact|reach out to) us\b", "just let us know"),
        (r"^we (?:sincerely )?apologi[sz]e for the inconvenience\b", "sorry about that"),
        (r"^we (?:sincerely )?apologi[sz]e\b", "sorry"), (r"\bthank you\b", "thanks"),
        (r"\bkindly\b", "please"), (r"\bassistance\b", "help"), (r"\bassist\b", "help"),
        (r"\bassisted\b", "helped"), (r"\brequire\b", "need"), (r"\brequires\b", "needs"),
        (r"\bregarding\b", "about"), (r"\bin order to\b", "to"), (r"\bprior to\b", "before"),
        (r"\bat your earliest convenience\b", "when you get a chance"), (r"\breceive\b", "get"),
        (r"\binquiry\b", "question"), (r"\bcommence\b", "start"), (r"\butili[sz]e\b", "use"),
        (r"\bobtain\b", "get"), (r"\bsufficient\b", "enough"),
        (r"\b(?:best|kind|warm) regards\b", "cheers"), (r"^regards\b", "cheers"),
    ]
)  # fmt: skip
FORMAL_WORDS = _rules(
    [
        (r"^(?:hi|hey|hiya|yo)\b", "Hello"), (r"\bthanks a lot\b", "thank you very much"),
        (r"\b(?:thanks|thx|thank u|ty)\b", "thank you"),
        (r"^sorry about that\b", "we apologize for the inconvenience"),
        (r"^(?:so )?sorry\b", "we apologize"),
        (r"\b(your|the|my|our|for) help\b", r"\1 assistance"), (r"\bhelp\b", "assist"),
        (r"\bhelping\b", "assisting"), (r"\bhelped\b", "assisted"),
        (r"\bget back to you\b", "follow up with you"), (r"\basap\b", "as soon as possible"),
        (r"\b(?:pls|plz)\b", "please"), (r"\b(?:yeah|yep|yup)\b", "yes"), (r"\bnope\b", "no"),
        (r"\bgonna\b", "going to"), (r"\bwanna\b", "want to"), (r"\bgotta\b", "have to"),
        (r"\bkinda\b", "somewhat"), (r"\bbuy\b", "purchase"), (r"\b(we|you|they|I) need\b", r"\1 require"),
        (r"^can you\b", "could you"), (r"^can I\b", "may I"), (r"\bcheers\b", "kind regards"),
    ]
)  # fmt: skip
ABBREVIATIONS = _rules(
    [
        (r"\bFYI\b", "for your information"), (r"\bbtw\b", "by the way"), (r"\be\.g\.", "for example"),
        (r"\bi\.e\.", "that is"), (r"\bapprox\b\.?", "approximately"), (r"\bappts\b", "appointments"),
        (r"\bappt\b", "appointment"), (r"\bacct\b", "account"), (r"\binfo\b", "information"),
        (r"\bmsg\b", "message"), (r"\b(?:tmrw|tmr)\b", "tomorrow"), (r"\bdept\b", "department"),
        (r"\bqty\b", "quantity"), (r"\bmgr\b", "manager"), (r"\bw/(?=\s)", "with"),
        (r"\bb/c\b", "because"), (r"(?<=\s)&(?=\s)", "and"),
        (r"\b(\d+)\s?mins?\b", r"\1 minutes"), (r"\b(\d+)\s?hrs?\b", r"\1 hours"),
        (r"\b(\d+)\s?secs?\b", r"\1 seconds"), (r"\b(\d+)\s?wks?\b", r"\1 weeks"),
    ]
)  # fmt: skip


# --- helpers -------------------------------------------------------------------------------------------


def _split_sentences(paragraph: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in re.finditer(r"[.!?]+[\"\u201d\u2019)]?\s+", paragraph):
        before = paragraph[start : match.start()].rsplit(" ", 1)[-1].lower().rstrip(".")
        if match.group().startswith(".") and before in _ABBREVIATIONS_NO_SPLIT:
            continue
        sentences.append(paragraph[start : match.end()].strip())
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _terminate(sentence: str) -> str:
    if sentence and (sentence[-1].isalnum() or sentence[-1] in ")%\"'\u201d\u2019"):
        return sentence + "."
    return sentence


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    # Only a capitalised ordinary word is lowered: "I", acronyms and names keep their capitals.
    if re.fullmatch(_DET, first, re.IGNORECASE) and first[:1].isupper():
        return text[0].lower() + text[1:]
    return text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _capitalize(sentence: str) -> str:
    """Formal writing starts sentences with a capital; only an all-lowercase first word is touched."""
    first = sentence.split(" ", 1)[0]
    if first[:1].isalpha() and first.islower():
        return sentence[0].upper() + sentence[1:]
    return sentence


def _insert_at_before_time(sentence: str) -> str:
    """ "Jun 24, 2023, 1 pm" → "Jun 24, 2023, at 1 pm": a bare time after a date reads as a list."""
    return _DATE_THEN_TIME.sub(lambda m: f"{m['date']}{m['sep']} at {m['time']}", sentence)


def _formal_time(match: re.Match[str]) -> str:
    parts = _TIME_PARTS.fullmatch(match.group())
    if parts is None:
        return match.group()
    hour = int(parts["h"])
    if not 1 <= hour <= 12:
        return match.group()
    return f"{parts['h']}:{parts['m'] or '00'} {parts['ap']}"


def _formalize_times(sentence: str) -> str:
    return _TIME_RE.sub(_formal_time, sentence)


def _expand_date(match: re.Match[str]) -> str:
    value = _MONTH_ABBR_IN_DATE.sub(lambda m: MONTHS[m.group(1)], match.group())
    return _DAY_ABBR_IN_DATE.sub(lambda m: DAYS[m.group(1)], value)


def _expand_dates(sentence: str) -> str:
    return _DATE_RE.sub(_expand_date, sentence)


def _is_positive(sentence: str) -> bool:
    return bool(_POSITIVE.search(sentence)) and not _NEGATION.search(sentence)


def _paragraphs(text: str, transform: Callable[[list[str], bool], list[str]]) -> str:
    out: list[str] = []
    first = True
    for paragraph in text.split("\n"):
        collapsed = re.sub(r"[ \t]+", " ", paragraph).strip()
        if not collapsed:
            out.append("")
            continue
        sentences = transform(_split_sentences(collapsed), first)
        out.append(" ".join(s for s in sentences if s))
        first = False
    return "\n".join(out).strip("\n")


def _use_draft_apostrophe(original: str, rewritten: str) -> str:
    """Rules write ASCII apostrophes; a draft without any gets typographic ones, like the seed's examples."""
    if "'" not in original:
        return rewritten.replace("'", APOSTROPHE)
    return rewritten


def _prepare(text: str) -> str:
    return clean_text(text, max_length=DEFAULT_MAX_MESSAGE_LENGTH)


# --- friendlier ----------------------------------------------------------------------------------------


def _friendly_sentence(sentence: str) -> str:
    stripped = _FORMAL_OPENER.sub("", sentence)
    if stripped != sentence:
        sentence = _upper_first(stripped)
    sentence = _insert_at_before_time(sentence)
    passive = _PASSIVE.match(sentence)
    if passive and not _NEGATION.search(sentence):
        adverb = passive["adv"] or ""
        sentence = f"We've {adverb}{passive['verb'].lower()} {_lower_first(passive['np'])}{passive['rest']}"
    sentence = _apply(sentence, FRIENDLY_WORDS)
    sentence = _apply(sentence, CONTRACT)
    return _terminate(sentence)


def make_friendlier(text: str) -> str:
    """Rephrase a draft to sound friendlier and less formal, keeping every fact."""
    draft = _prepare(text)

    def transform(sentences: list[str], first_paragraph: bool) -> list[str]:
        rewritten = [_friendly_sentence(s) for s in sentences]
        if (
            first_paragraph
            and rewritten
            and not _INTERJECTION.match(rewritten[0])
            and _is_positive(rewritten[0])
        ):
            rewritten[0] = _upper_first(rewritten[0])
            rewritten.insert(0, "Great news!")
        return rewritten

    return _use_draft_apostrophe(draft, _paragraphs(draft, transform))


# --- formal and expand ---------------------------------------------------------------------------------


def _formal_sentence(sentence: str) -> str:
    sentence = _apply(sentence, EXPAND_CONTRACTIONS)
    sentence = _apply(sentence, FORMAL_WORDS)
    sentence = re.sub(r"\?!+", "?", sentence)
    sentence = re.sub(r"!+", ".", sentence)
    sentence = _insert_at_before_time(sentence)
    sentence = _formalize_times(sentence)
    return _terminate(_capitalize(sentence))


def _with_opener(sentence: str, verb: str) -> str:
    if _STATEMENT_START.match(sentence) and _STATEMENT_VERB.search(sentence) and not sentence.endswith("?"):
        return f"We would like to {verb} you that {_lower_first(sentence)}"
    return sentence


def _drop_good_news(sentences: list[str]) -> list[str]:
    kept = [s for s in sentences if not _GOOD_NEWS_SENTENCE.match(s)]
    return kept or sentences


def make_formal(text: str) -> str:
    """Rephrase a draft to sound more formal, keeping every fact."""
    draft = _prepare(text)

    def transform(sentences: list[str], first_paragraph: bool) -> list[str]:
        rewritten = [_formal_sentence(s) for s in _drop_good_news(sentences)]
        if first_paragraph and rewritten:
            rewritten[0] = _with_opener(rewritten[0], "inform")
        return rewritten

    return _paragraphs(draft, transform)


def _split_appointment(sentence: str) -> str:
    """ "Your appointment has been scheduled for <date> at <time>." becomes two sentences: the fact, then
    what the customer should do at that time."""
    match = _APPOINTMENT.match(sentence)
    if match is None or _NEGATION.search(sentence):
        return sentence
    head = match["head"].lower()
    determiner = match["np"].split(" ", 1)[0].lower()
    possessive = determiner if determiner in {"your", "our"} else "the"
    return (
        f"{match['np']} {match['aux'].lower()} been successfully {match['verb'].lower()} for {match['date']}. "
        f"{APPOINTMENT_NOUNS[head]} {match['time']} for {possessive} {head}."
    )


def _expanded_sentence(sentence: str) -> str:
    sentence = _apply(sentence, ABBREVIATIONS)
    sentence = _formal_sentence(sentence)
    sentence = _expand_dates(sentence)
    split = _split_appointment(sentence)
    if split != sentence:
        return split
    if not _NEGATION.search(sentence):
        sentence = re.sub(
            rf"\b(has|have)\s+been\s+(?!successfully\b)({_VERBS})\b",
            r"\1 been successfully \2",
            sentence,
            flags=re.IGNORECASE,
        )
    return sentence


_COURTESY = "Please let us know if you have any questions."
_HAS_CLOSING = re.compile(r"let us know|any questions|contact us|reach out|\?\s*$", re.IGNORECASE)


def expand(text: str) -> str:
    """Elaborate a draft: formal wording, abbreviations written out, the implied next step spelled out."""
    draft = _prepare(text)

    def transform(sentences: list[str], first_paragraph: bool) -> list[str]:
        rewritten = [_expanded_sentence(s) for s in _drop_good_news(sentences)]
        if first_paragraph and rewritten:
            rewritten[0] = _with_opener(rewritten[0], "notify")
        return rewritten

    result = _paragraphs(draft, transform)
    if len(_split_sentences(result)) == 1 and "\n" not in result and not _HAS_CLOSING.search(result):
        result = f"{result} {_COURTESY}"
    return result


_REWRITERS: dict[RewriteMode, Callable[[str], str]] = {
    RewriteMode.FRIENDLIER: make_friendlier,
    RewriteMode.FORMAL: make_formal,
    RewriteMode.EXPAND: expand,
}


def rewrite(text: str, mode: RewriteMode, *, enabled: bool) -> str:
    """The compose bar's AI options; ``enabled`` is the tenant's Intelligent Agent Tools setting."""
    require_feature(enabled, "AI-enhanced compose")
    return _REWRITERS[mode](text)
