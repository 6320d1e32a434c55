"""Unified tickets through the generated client, replayed from cassettes: every method Gorgias
supports, field by field, with the early-stopping `updated_after` scan, unknown enum values
passed through, null nested objects, and the async twin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified import UnifiedPage
from gorgias.unified.models import UnifiedParticipant, UnifiedReference, UnifiedTicket

from .conftest import Recorder, wrap

RECORDED = "86538298"


def assert_recorded_ticket(t: UnifiedTicket) -> None:
    """The recorded ticket (payloads.TICKET), field by field."""
    assert t.id == RECORDED and t.number == RECORDED
    assert t.name == "test"
    assert t.description == "hello"  # body of the first message: ticket text lives in messages
    assert t.status == "open"
    assert t.priority == "normal"
    assert t.channel == "email"
    assert t.contact == UnifiedReference(id="387705374", name="test@example.com")  # name null -> e-mail
    assert t.created_by == UnifiedParticipant(id="387654483", name="Test User", email="test@example.com", type="user")
    assert t.assignees == [UnifiedReference(id="387654483", name="Test User")]
    assert t.team is None  # assignee_team is null
    assert t.tags == []
    assert t.language is None
    assert t.ticket_url == "https://acme.gorgias.com/app/ticket/86538298"
    assert t.closed_at is None
    assert t.created_at == datetime(2024, 2, 14, 21, 30, 50, 201204, tzinfo=UTC)
    assert t.updated_at == datetime(2024, 2, 14, 21, 30, 50, 228948, tzinfo=UTC)
    assert t.last_activity_at == datetime(2024, 2, 14, 21, 30, 50, 201204, tzinfo=UTC)
    assert t.remote_data["id"] == 86538298 and t.remote_data["via"] == "helpdesk"
    assert t.remote_data["assignee_team"] is None
    assert t.due_date is None and t.parent_ticket is None and t.collections == []  # not available from Gorgias


@pytest.mark.vcr
def test_list_updated_after_stops_early(unified: Any, recorder: Recorder) -> None:
    tickets = list(unified.ticketing.tickets.list(updated_after="2024-03-01T00:00:00Z", limit=2))
    assert [t.id for t in tickets] == ["86538301", "86538300", "86538299"]
    # the second page holds an older ticket: reading stops there, the third page is never fetched
    assert len(recorder.requests) == 2
    assert recorder.requests[0].url.params["order_by"] == "updated_datetime:desc"
    assert tickets[2].updated_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)  # no offset = UTC


@pytest.mark.vcr
def test_first_page_by_contact_and_collection(unified: Any, recorder: Recorder) -> None:
    page = unified.ticketing.tickets.list(contact_id="387705374", collection_id=123, limit=1).first_page()
    assert isinstance(page, UnifiedPage)
    assert page.next_cursor == "c2" and page.prev_cursor is None
    assert len(page.result) == 1
    assert_recorded_ticket(page.result[0])
    assert page.to_dict()["result"][0]["id"] == RECORDED
    assert len(recorder.requests) == 1


@pytest.mark.vcr
def test_sort_by_created_at(unified: Any) -> None:
    tickets = unified.ticketing.tickets.list(ids=[86538298, "86538555"], sort_by="created_at",
                                             sort_order="asc").to_list()
    assert [t.id for t in tickets] == [RECORDED, "86538555"]


@pytest.mark.vcr
def test_get_ticket(unified: Any, recorder: Recorder) -> None:
    ticket = unified.ticketing.tickets.get(RECORDED)
    assert isinstance(ticket, UnifiedTicket)
    assert_recorded_ticket(ticket)
    assert recorder.requests[0].url.params.get_list("relationships") == ["custom_fields"]


@pytest.mark.vcr
def test_unknown_values_and_null_objects(unified: Any) -> None:
    odd = unified.ticketing.tickets.get(86538555)
    # values Gorgias may add later are returned unchanged, not dropped or rejected
    assert odd.status == "snoozed"
    assert odd.priority == "extreme"
    assert odd.channel == "tiktok"
    assert odd.assignees == []  # assignee_user null
    assert odd.team == UnifiedReference(id="77", name="Tier 2")
    assert odd.tags == [UnifiedReference(id="123456", name="urgent")]
    assert odd.custom_fields == {"123": {"id": 123, "value": "refund"}}
    spam = unified.ticketing.tickets.get(86538556)
    assert spam.status == "spam"  # the spam flag wins over status open


@pytest.mark.vcr
def test_create_ticket_from_contact(unified: Any, recorder: Recorder) -> None:
    created = unified.ticketing.tickets.create(
        name="Where is my order?", description="My parcel never arrived.", contact_email="test@example.com",
        priority="urgent", tags=[{"name": "vip"}],
    )
    assert created.id == "86538999"
    assert created.name == "Where is my order?"
    assert created.description == "My parcel never arrived."
    assert created.channel == "api"
    assert created.created_by is not None and created.created_by.type == "contact"
    assert recorder.paths == ["POST /api/tickets"]  # no before-step needed for a contact's ticket


@pytest.mark.vcr
def test_create_ticket_by_agent(unified: Any, recorder: Recorder) -> None:
    unified.ticketing.tickets.create(
        name="Your refund", description="We refunded your order.", description_html="<p>We refunded your order.</p>",
        contact={"id": "387705374"}, team=UnifiedReference(id="77"), channel="email", created_by={"type": "user"},
    )
    # the sender is the API key's user, read once with the before-step (GET /api/users/0)
    assert recorder.paths == ["GET /api/users/0", "POST /api/tickets"]


@pytest.mark.vcr
def test_update_ticket(unified: Any) -> None:
    updated = unified.ticketing.tickets.update(
        RECORDED, status="resolved", priority="urgent", team={"id": "77"}, assignees=[{"id": "387654483"}],
        tags=[{"name": "vip"}, {"id": "123456"}],
    )
    assert updated.status == "closed"
    assert updated.priority == "urgent"  # Gorgias critical
    assert updated.team == UnifiedReference(id="77", name="Tier 2")
    assert updated.closed_at == datetime(2024, 3, 6, 10, 0, tzinfo=UTC)
    assert [t.name for t in updated.tags] == ["urgent", "vip"]
    spam = unified.ticketing.tickets.update(RECORDED, status="spam")
    assert spam.status == "spam"


@pytest.mark.vcr
def test_delete_ticket(unified: Any, recorder: Recorder) -> None:
    assert unified.ticketing.tickets.delete(RECORDED) is None
    assert recorder.paths == ["DELETE /api/tickets/86538298"]


@pytest.mark.vcr
async def test_async_list_and_get(make_async: Any, recorder: Recorder) -> None:
    async with make_async() as client:
        u = wrap(client)
        ids = [t.id async for t in u.ticketing.tickets.list(updated_after=datetime(2024, 1, 1, tzinfo=UTC))]
        assert ids == ["86538301", "86538300", "86538299"]
        assert len(recorder.requests) == 1  # the older ticket on the first page ends the scan
        assert_recorded_ticket(await u.ticketing.tickets.get(RECORDED))
