"""Attachments and secure forms through the real service (broker + SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts import MESSAGING_MESSAGES
from switchboard.messaging.models import MessageRow
from switchboard.messaging.testing import Harness, actor, new_id, running
from switchboard.runtime.clock import ManualClock

pytestmark = pytest.mark.kafka

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
PDF = b"%PDF-1.7\n" + b"1 0 obj\n<<>>\nendobj\n" * 5
LIMIT = 4096


@pytest.fixture
async def svc(
    kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with running(
        kafka_bootstrap, database_url, topic_prefix, tmp_path, now=START, max_attachment_bytes=LIMIT
    ) as harness:
        yield harness


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://switchboard.dev/errors/{slug}", body
    return body


async def _count(h: Harness, table: str) -> int:
    async def work(session: AsyncSession) -> int:
        return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)

    return await h.messaging.read(work)


def _blobs(h: Harness) -> list[Path]:
    root = h.messaging.settings.effective_blob_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_attachments_are_judged_by_their_bytes_and_kept_in_the_conversation(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    as_customer, as_agent = actor("customer", customer), actor("agent", agent)
    url = f"/conversations/{conversation}/attachments"

    refusals: list[tuple[list[tuple[str, tuple[str, bytes, str]]], int, str]] = [
        ([("files", ("statement.pdf", PNG, "application/pdf"))], 415, "unsupported-media-type"),
        ([("files", ("photo.png", b"MZ\x90\x00" + bytes(100), "image/png"))], 415, "unsupported-media-type"),
        ([("files", ("photo.pdf", PNG, "application/octet-stream"))], 415, "unsupported-media-type"),
        ([("files", ("big.png", PNG + bytes(LIMIT), "image/png"))], 413, "attachment-too-large"),
        ([("files", (f"p{i}.png", PNG, "image/png")) for i in range(11)], 422, "too-many-attachments"),
        ([("files", ("empty.png", b"", "image/png"))], 422, "attachment-empty"),
    ]
    for files, status, slug in refusals:
        _problem(await svc.http.post(url, files=files, headers=as_customer), status, slug)
    # One bad file refuses the whole upload: nothing is stored.
    _problem(
        await svc.http.post(
            url,
            files=[("files", ("ok.png", PNG, "image/png")), ("files", ("bad.png", PDF, "image/png"))],
            headers=as_customer,
        ),
        415,
        "unsupported-media-type",
    )
    _problem(
        await svc.http.post(
            url, files=[("files", ("a.png", PNG, "image/png"))], headers=actor("customer", new_id())
        ),
        404,
        "conversation-not-found",
    )
    _problem(
        await svc.http.post(
            url, files=[("files", ("a.png", PNG, "image/png"))], headers=actor("agent", new_id())
        ),
        403,
        "not-assigned-agent",
    )
    assert await _count(svc, "msg_attachments") == 0 and _blobs(svc) == []

    uploaded = await svc.http.post(
        url,
        files=[
            ("files", ("../../etc/passwd.png", PNG, "image/png")),
            ("files", ("..\\..\\statement", PDF, "")),
        ],
        headers=as_agent,
    )
    assert uploaded.status_code == 201, uploaded.text
    first, second = uploaded.json()["attachments"]
    assert (first["file_name"], first["media_type"]) == ("passwd.png", "image/png")
    assert (second["file_name"], second["media_type"]) == ("statement.pdf", "application/pdf")
    root = svc.messaging.settings.effective_blob_dir
    assert sorted(p.name for p in _blobs(svc)) == sorted([first["id"], second["id"]])
    assert all(p.resolve().is_relative_to(root) for p in _blobs(svc))

    download = f"{url}/{first['id']}"
    # Not sent yet: the customer cannot see the agent's pending upload; other agents never.
    _problem(await svc.http.get(download, headers=as_customer), 404, "attachment-not-found")
    _problem(await svc.http.get(download, headers=actor("agent", new_id())), 403, "not-assigned-agent")
    sent = await svc.http.post(
        f"/conversations/{conversation}/messages",
        json={"client_id": "with-files", "text": "", "attachment_ids": [first["id"], second["id"]]},
        headers=as_agent,
    )
    assert sent.status_code == 201 and sent.json()["attachment_ids"] == [first["id"], second["id"]]
    got = await svc.http.get(download, headers=as_customer)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith('attachment; filename="passwd.png"')
    _problem(await svc.http.get(download, headers=actor("customer", new_id())), 404, "conversation-not-found")
    # An attachment travels once, and only inside its own conversation.
    _problem(
        await svc.http.post(
            f"/conversations/{conversation}/messages",
            json={"client_id": "again", "text": "once more", "attachment_ids": [first["id"]]},
            headers=as_agent,
        ),
        409,
        "attachment-in-use",
    )
    elsewhere, _, other_agent = await svc.live_chat()
    _problem(
        await svc.http.get(
            f"/conversations/{elsewhere}/attachments/{first['id']}", headers=actor("agent", other_agent)
        ),
        404,
        "attachment-not-found",
    )
    _problem(
        await svc.http.post(
            f"/conversations/{elsewhere}/messages",
            json={"client_id": "steal", "text": "look", "attachment_ids": [second["id"]]},
            headers=actor("agent", other_agent),
        ),
        422,
        "attachment-not-usable",
    )
    records = await svc.read(MESSAGING_MESSAGES, until=lambda rs: any(b"with-files" in r.value for r in rs))
    event = next(json.loads(r.value) for r in records if b"with-files" in r.value)
    assert event["data"]["attachment_ids"] == [first["id"], second["id"]]


async def test_a_unique_constraint_race_is_retried_not_a_500(svc: Harness) -> None:
    conversation, _, agent = await svc.live_chat()
    sent = await svc.http.post(
        f"/conversations/{conversation}/messages",
        json={"client_id": "race", "text": "hi"},
        headers=actor("agent", agent),
    )
    original = sent.json()
    calls: list[int] = []

    async def racing_insert(session: AsyncSession) -> str:
        # What a writer that missed the winner's row would do: insert the same client id again.
        calls.append(1)
        if len(calls) == 1:
            session.add(
                MessageRow(
                    id=new_id(),
                    conversation_id=conversation,
                    seq=99,
                    client_id="race",
                    sender_role="agent",
                    sender_id=agent,
                    text="hi",
                    state="sent",
                    created_at=START,
                    updated_at=START,
                )
            )
            await session.flush()
        return "retried"

    assert await svc.messaging.write(racing_insert) == "retried"
    assert len(calls) == 2
    assert await _count(svc, "msg_messages") == 1

    async def always_conflicting(session: AsyncSession) -> None:
        session.add(
            MessageRow(
                id=original["id"],
                conversation_id=conversation,
                seq=1,
                client_id="race",
                sender_role="agent",
                sender_id=agent,
                text="hi",
                state="sent",
                created_at=START,
                updated_at=START,
            )
        )

    with pytest.raises(IntegrityError):
        await svc.messaging.write(always_conflicting)


CARD = "4111 1111 1111 1111"
CARD_DIGITS = CARD.replace(" ", "")


async def _payment_form(svc: Harness) -> str:
    created = await svc.http.post(
        "/forms/definitions",
        json={
            "title": "Card payment",
            "fields": [
                {"name": "card", "label": "Card number", "type": "card_number"},
                {"name": "expiry", "label": "Expiry", "type": "expiry"},
                {"name": "cvv", "label": "Security code", "type": "cvv"},
                {"name": "note", "label": "Note", "type": "text", "required": False},
            ],
        },
        headers=actor("admin", new_id()),
    )
    assert created.status_code == 201, created.text
    form_id: str = created.json()["id"]
    return form_id


async def test_secure_form_single_use_encrypted_cvv_never_stored(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    as_customer, as_agent = actor("customer", customer), actor("agent", agent)
    form_id = await _payment_form(svc)
    _problem(
        await svc.http.post(
            "/forms/definitions",
            json={"title": "x", "fields": [{"name": "Bad Name", "label": "x", "type": "text"}]},
            headers=actor("admin", new_id()),
        ),
        422,
        "invalid-form",
    )
    _problem(
        await svc.http.post(
            "/forms/definitions",
            json={"title": "x", "fields": [{"name": "a", "label": "x", "type": "text"}]},
            headers=as_agent,
        ),
        403,
        "role-not-allowed",
    )
    _problem(
        await svc.http.post(
            f"/conversations/{conversation}/forms", json={"form_id": form_id}, headers=as_customer
        ),
        403,
        "not-assigned-agent",
    )
    sent = await svc.http.post(
        f"/conversations/{conversation}/forms", json={"form_id": form_id}, headers=as_agent
    )
    assert sent.status_code == 201 and "token" not in sent.json()
    assert [
        r.get("token")
        for r in (await svc.http.get(f"/conversations/{conversation}/forms", headers=as_agent)).json()[
            "requests"
        ]
    ] == [None]
    pending = (await svc.http.get(f"/conversations/{conversation}/forms", headers=as_customer)).json()[
        "requests"
    ]
    token = pending[0]["token"]
    _problem(
        await svc.http.get(f"/conversations/{conversation}/forms", headers=actor("customer", new_id())),
        404,
        "conversation-not-found",
    )

    opened = await svc.http.get(f"/forms/{token}")
    assert opened.json()["title"] == "Card payment" and [f["type"] for f in opened.json()["fields"]] == [
        "card_number",
        "expiry",
        "cvv",
        "text",
    ]
    wrong = await svc.http.post(
        f"/forms/{token}", json={"values": {"card": "4111 1111 1111 1112", "expiry": "12/29", "cvv": "12"}}
    )
    assert set(_problem(wrong, 422, "invalid-form-submission")["field_errors"]) == {"card", "cvv"}
    answers = {"card": CARD, "expiry": "12/29", "cvv": "987", "note": f"backup card {CARD}"}
    submitted = await svc.http.post(f"/forms/{token}", json={"values": answers})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["transcript"] == [
        "Card number: •••• 1111",
        "Expiry: 12/29",
        "Note: backup card •••• •••• •••• 1111",
    ]
    _problem(await svc.http.post(f"/forms/{token}", json={"values": answers}), 409, "form-already-used")
    _problem(await svc.http.get(f"/forms/{token}"), 409, "form-already-used")
    _problem(await svc.http.get(f"/forms/{'x' * 43}"), 404, "form-not-found")

    stored = (
        await svc.http.get(
            f"/conversations/{conversation}/forms/{pending[0]['form_request_id']}", headers=as_agent
        )
    ).json()
    assert stored["values"] == {
        "card": "•••• 1111",
        "expiry": "12/29",
        "note": "backup card •••• •••• •••• 1111",
    }
    transcript = (await svc.http.get(f"/conversations/{conversation}/messages", headers=as_agent)).json()[
        "messages"
    ]
    assert transcript[-1]["kind"] == "form" and transcript[-1]["sender_role"] == "customer"
    assert "987" not in transcript[-1]["text"] and "Security code" not in transcript[-1]["text"]

    async def everything(session: AsyncSession) -> str:
        rows = await session.execute(
            text(
                "SELECT ciphertext FROM msg_form_submissions UNION ALL SELECT text FROM msg_messages "
                "UNION ALL SELECT body FROM sb_outbox UNION ALL SELECT token_sealed FROM msg_form_requests"
            )
        )
        return "\n".join(v for (v,) in rows)

    database = await svc.messaging.read(everything)
    assert CARD_DIGITS not in database and CARD not in database and '12/29"' not in database
    assert token not in database  # only its hash and its sealed copy are stored
    records = await svc.read(
        MESSAGING_MESSAGES, until=lambda rs: any(b"chat.form.submitted" in r.value for r in rs)
    )
    topic = b"".join(r.value for r in records)
    assert CARD_DIGITS.encode() not in topic and CARD.encode() not in topic and token.encode() not in topic
    submitted_event = next(json.loads(r.value) for r in records if b"chat.form.submitted" in r.value)
    assert submitted_event["data"]["field_names"] == ["card", "expiry", "note"]


async def test_form_links_expire(svc: Harness) -> None:
    conversation, customer, agent = await svc.live_chat()
    sent = await svc.http.post(
        f"/conversations/{conversation}/forms",
        json={
            "definition": {
                "title": "Date of birth",
                "fields": [{"name": "dob", "label": "Date of birth", "type": "date"}],
            }
        },
        headers=actor("agent", agent),
    )
    assert sent.status_code == 201, sent.text
    token = (
        await svc.http.get(f"/conversations/{conversation}/forms", headers=actor("customer", customer))
    ).json()["requests"][0]["token"]
    assert isinstance(svc.clock, ManualClock)
    svc.clock.advance(timedelta(minutes=14, seconds=59))
    assert (await svc.http.get(f"/forms/{token}")).status_code == 200
    svc.clock.advance(timedelta(seconds=1))
    _problem(await svc.http.get(f"/forms/{token}"), 410, "form-expired")
    _problem(
        await svc.http.post(f"/forms/{token}", json={"values": {"dob": "1990-02-01"}}), 410, "form-expired"
    )
    assert (
        await svc.http.get(f"/conversations/{conversation}/forms", headers=actor("customer", customer))
    ).json() == {"requests": []}
    states = (
        await svc.http.get(f"/conversations/{conversation}/forms", headers=actor("agent", agent))
    ).json()
    assert [r["state"] for r in states["requests"]] == ["expired"]
