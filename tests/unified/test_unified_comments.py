"""Unified comments (Gorgias messages) replayed from cassettes: internal notes, author types,
the before-step that finds the API key's user (cached per client), early-stopping `created_after`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified.models import (
    UnifiedAttachmentSummary,
    UnifiedComment,
    UnifiedParticipant,
    UnifiedReference,
)

from .conftest import Recorder, wrap

NOTE_TEXT = "Customer called back, waiting for the carrier."


def assert_recorded_message(c: UnifiedComment) -> None:
    assert c.id == "208841467"
    assert c.ticket == UnifiedReference(id="86538298")
    assert c.body == "hello" and c.html_body == "<div>hello</div>"
    assert c.author == UnifiedParticipant(id="387654483", name="Test User", email="test@example.com", type="user")
    assert c.receiver == UnifiedParticipant(id="387705374", name="test@example.com", email="test@example.com",
                                            type="contact")
    assert c.is_internal is False and c.is_private is False
    assert c.channel == "email"
    assert c.subject == ""
    assert c.attachments == []
    assert c.created_at == datetime(2024, 2, 14, 21, 49, 40, 308988, tzinfo=UTC)
    assert c.remote_data["via"] == "helpdesk"


def assert_note(c: UnifiedComment) -> None:
    assert c.id == "208850001"
    assert c.is_internal is True and c.is_private is True  # public: false
    assert c.channel == "internal_note"
    assert c.body == NOTE_TEXT
    assert c.receiver is None  # no receiver on a note
    assert c.author is not None and c.author.type == "user"


@pytest.mark.vcr
def test_list_comments_of_ticket(unified: Any) -> None:
    page = unified.ticketing.comments.list(ticket_id="86538298", sort_by="created_at").first_page()
    assert page.next_cursor is None
    assert_recorded_message(page.result[0])
    assert_note(page.result[1])


@pytest.mark.vcr
def test_created_after_stops_early(unified: Any, recorder: Recorder) -> None:
    comments = list(unified.ticketing.comments.list(ticket_id=86538298, created_after="2024-02-15T00:00:00+00:00"))
    assert [c.id for c in comments] == ["208850001"]
    assert len(recorder.requests) == 1  # page 2 ("m2") is never read


@pytest.mark.vcr
def test_get_comment(unified: Any) -> None:
    c = unified.ticketing.comments.get("924712", ticket_id="12")  # the documented message example
    assert c.id == "924712"
    assert c.ticket == UnifiedReference(id="12")
    assert c.body.startswith("Hello,") and c.html_body.startswith("Hello,<br>")
    assert c.author == UnifiedParticipant(id="7", type="system")  # sent by rule 89465
    assert c.receiver == UnifiedParticipant(id="8", type="contact")
    assert c.subject == "Re:Refund request"
    assert c.is_internal is False  # `public` absent and not an internal-note channel
    assert c.created_at == datetime(2020, 1, 27, 10, 42, 21, 468912, tzinfo=UTC)


@pytest.mark.vcr
def test_create_internal_note(client: Any, recorder: Recorder) -> None:
    unified = wrap(client)
    note = unified.ticketing.comments.create(ticket_id="86538298", body=NOTE_TEXT, is_internal=True)
    assert_note(note)
    assert recorder.paths == ["GET /api/users/0", "POST /api/tickets/86538298/messages"]


@pytest.mark.vcr
def test_create_reply_as_author(unified: Any, recorder: Recorder) -> None:
    reply = unified.ticketing.comments.create(
        ticket_id=86538298, body="hello", html_body="<div>hello</div>", channel="email",
        author={"id": "387654483", "type": "user"}, receiver={"id": "387705374", "type": "contact"},
    )
    assert_recorded_message(reply)
    assert recorder.paths == ["POST /api/tickets/86538298/messages"]  # author given: no lookup of the key's user


@pytest.mark.vcr
def test_update_and_delete_comment(unified: Any) -> None:
    updated = unified.ticketing.comments.update("208841467", ticket_id="86538298", body="hello again")
    assert updated.body == "hello again"
    assert unified.ticketing.comments.delete("208841467", ticket_id="86538298") is None


@pytest.mark.vcr
async def test_async_comments(make_async: Any, recorder: Recorder) -> None:
    async with make_async() as client:
        u = wrap(client)
        comments = await u.ticketing.comments.list(ticket_id="86538298").to_list()
        assert_recorded_message(comments[0])
        assert_note(comments[1])
        assert_note(await u.ticketing.comments.create(ticket_id="86538298", body=NOTE_TEXT, is_internal=True))


def test_attachment_summaries_on_comments() -> None:
    from gorgias.unified import mappers

    from .payloads import WITH_ATTACHMENTS

    c = UnifiedComment.model_validate(mappers.ticketing_comment_from_gorgias(WITH_ATTACHMENTS, {}, None))
    assert c.author == UnifiedParticipant(id="387705374", name="test@example.com", email="test@example.com",
                                          type="contact")  # from_agent false: the customer wrote it
    assert c.attachments == [
        UnifiedAttachmentSummary(id="https://uploads.gorgias.io/acme/receipt-7f3a.pdf", file_name="receipt.pdf",
                                 file_url="https://uploads.gorgias.io/acme/receipt-7f3a.pdf",
                                 content_type="application/pdf", size=48213),
        UnifiedAttachmentSummary(id="https://uploads.gorgias.io/acme/photo-91bc.jpg", file_name="photo.jpg",
                                 file_url="https://uploads.gorgias.io/acme/photo-91bc.jpg",
                                 content_type="image/jpeg", size=102400),
    ]
