"""Secure forms: definitions, validation, masking, storage without CVV, single-use tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.messaging.domain import (
    FieldType,
    FormAlreadyUsed,
    FormDefinition,
    FormExpired,
    FormField,
    FormRequest,
    InvalidForm,
    InvalidFormSubmission,
    check_form_request,
    define_form,
    issue_form_request,
    prepare_for_storage,
    submit_form,
)

NOW = datetime(2024, 5, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def payment_form() -> FormDefinition:
    return define_form(
        "f-pay",
        title="Card payment",
        fields=[
            FormField("name", "Name on card", FieldType.TEXT),
            FormField("card", "Card number", FieldType.CARD_NUMBER),
            FormField("expiry", "Expiry", FieldType.EXPIRY),
            FormField("cvv", "Security code", FieldType.CVV),
            FormField("email", "Email", FieldType.EMAIL, required=False),
            FormField("phone", "Phone", FieldType.PHONE, required=False),
            FormField("amount", "Amount", FieldType.NUMBER, required=False),
            FormField("dob", "Date of birth", FieldType.DATE, required=False),
        ],
    )


@pytest.fixture
def request_(payment_form: FormDefinition) -> FormRequest:
    return issue_form_request(payment_form, token="tok", conversation_id="conv", now=NOW)


GOOD = {
    "name": " Ana Lima ",
    "card": "4111 1111 1111 1111",
    "expiry": "05/24",
    "cvv": "123",
    "email": "ana@example.com",
    "phone": "+1 (415) 555-0100",
    "amount": "12.50",
    "dob": "1990-02-28",
}


def test_valid_submission_masks_and_drops_cvv(payment_form: FormDefinition, request_: FormRequest) -> None:
    result = submit_form(payment_form, request_, GOOD, now=NOW)
    assert result.request.used_at == NOW
    assert result.values["card"] == "4111111111111111"
    assert result.values["cvv"] == "123"
    assert result.values["phone"] == "+14155550100"
    assert "cvv" not in result.for_storage
    assert result.for_storage["card"] == "•••• 1111"
    assert "4111111111111111" not in repr(result.for_storage)
    assert result.for_transcript == (
        ("Name on card", "Ana Lima"),
        ("Card number", "•••• 1111"),
        ("Expiry", "05/24"),
        ("Email", "ana@example.com"),
        ("Phone", "+14155550100"),
        ("Amount", "12.50"),
        ("Date of birth", "1990-02-28"),
    )
    assert all(value != "123" for _, value in result.for_transcript)


def test_prepare_for_storage_drops_cvv(payment_form: FormDefinition) -> None:
    stored = prepare_for_storage(payment_form, {"card": "4111111111111111", "cvv": "999", "unknown": "x"})
    assert stored == {"card": "•••• 1111"}


def test_all_field_errors_reported_together(payment_form: FormDefinition, request_: FormRequest) -> None:
    bad = {
        "name": "",
        "card": "4111 1111 1111 1112",
        "expiry": "04/24",
        "cvv": "12",
        "email": "not-an-email",
        "phone": "12",
        "amount": "1e5",
        "dob": "1990-02-30",
        "extra": "x",
    }
    with pytest.raises(InvalidFormSubmission) as info:
        submit_form(payment_form, request_, bad, now=NOW)
    assert set(info.value.field_errors) == set(bad)
    assert info.value.slug == "invalid-form-submission"
    assert "expired" in info.value.field_errors["expiry"]
    # An invalid submission does not spend the token.
    assert request_.used_at is None


@pytest.mark.parametrize(
    ("expiry", "ok"),
    [
        ("05/24", True),
        ("5/24", False),
        ("13/25", False),
        ("12/23", False),
        ("01/44", True),
        ("01/45", False),
        ("06 / 24", True),
    ],
)
def test_expiry_not_in_the_past(
    payment_form: FormDefinition, request_: FormRequest, expiry: str, ok: bool
) -> None:
    answers = {**GOOD, "expiry": expiry}
    if ok:
        submit_form(payment_form, request_, answers, now=NOW)
    else:
        with pytest.raises(InvalidFormSubmission):
            submit_form(payment_form, request_, answers, now=NOW)


@pytest.mark.parametrize(
    ("cvv", "ok"), [("123", True), ("1234", True), ("12", False), ("12345", False), ("12a", False)]
)
def test_cvv_three_or_four_digits(
    payment_form: FormDefinition, request_: FormRequest, cvv: str, ok: bool
) -> None:
    answers = {**GOOD, "cvv": cvv}
    if ok:
        assert "cvv" not in submit_form(payment_form, request_, answers, now=NOW).for_storage
    else:
        with pytest.raises(InvalidFormSubmission):
            submit_form(payment_form, request_, answers, now=NOW)


def test_fullwidth_card_digits_accepted(payment_form: FormDefinition, request_: FormRequest) -> None:
    result = submit_form(
        payment_form,
        request_,
        {**GOOD, "card": "".join(chr(0xFF10 + int(d)) for d in "4111111111111111")},
        now=NOW,
    )
    assert result.values["card"] == "4111111111111111"


def test_token_is_single_use_and_expires(payment_form: FormDefinition, request_: FormRequest) -> None:
    used = submit_form(payment_form, request_, GOOD, now=NOW).request
    with pytest.raises(FormAlreadyUsed) as used_info:
        submit_form(payment_form, used, GOOD, now=NOW)
    assert (used_info.value.slug, used_info.value.status) == ("form-already-used", 409)
    with pytest.raises(FormExpired) as expired_info:
        check_form_request(request_, now=NOW + timedelta(minutes=15))
    assert expired_info.value.slug == "form-expired"
    check_form_request(request_, now=NOW + timedelta(minutes=14, seconds=59))
    with pytest.raises(FormAlreadyUsed):
        check_form_request(used, now=NOW + timedelta(days=1))


def test_request_for_another_form_refused(payment_form: FormDefinition) -> None:
    other = define_form("f-other", title="Other", fields=[FormField("x", "X", FieldType.TEXT)])
    request = issue_form_request(other, token="t2", conversation_id="conv", now=NOW)
    with pytest.raises(InvalidForm):
        submit_form(payment_form, request, GOOD, now=NOW)


@pytest.mark.parametrize(
    "fields",
    [
        [],
        [FormField("Bad Name", "Label", FieldType.TEXT)],
        [FormField("a", "A", FieldType.TEXT), FormField("a", "B", FieldType.TEXT)],
        [FormField("a", "", FieldType.TEXT)],
        [FormField("a", "two\nlines", FieldType.TEXT)],
        [FormField(f"f{i}", "L", FieldType.TEXT) for i in range(31)],
    ],
)
def test_invalid_definitions(fields: list[FormField]) -> None:
    with pytest.raises(InvalidForm):
        define_form("f", title="Form", fields=fields)
