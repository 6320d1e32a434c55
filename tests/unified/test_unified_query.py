"""Query mapping: unified filters become Gorgias parameters, ordered scans stop early (counted in
requests), and filters or orders Gorgias cannot apply are rejected before any request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import gorgias
from gorgias import InvalidArgumentsError
from gorgias.unified import Unified, UnsupportedFilterError
from gorgias.unified import methods as m

from .conftest import Recorder, wrap
from .payloads import page, ticket


def test_filters_become_gorgias_parameters() -> None:
    plan = m.plan_ticketing_tickets({"contact_id": "12", "collection_id": 7, "ids": ["1", 2]}, "updated_at", "desc")
    assert plan.args == {"customer_id": 12, "view_id": 7, "ticket_ids": [1, 2], "order_by": "updated_datetime:desc"}
    assert plan.scan is None
    plan = m.plan_ticketing_contacts({"phone": "+33 6 12"}, None, None)
    assert plan.args == {"channel_address": "+33 6 12", "channel_type": "phone"}
    plan = m.plan_ticketing_users({"role": "agent"}, "name", None)
    assert plan.args == {"roles": ["agent"], "order_by": "name:asc"}  # one role, sent as the repeated list
    plan = m.plan_ticketing_fields({"entity_type": "contact", "is_hidden": "false"}, None, None)
    assert plan.args == {"object_type": "Customer", "archived": False}


def test_scan_filters_order_the_read() -> None:
    plan = m.plan_ticketing_tickets({"updated_after": "2026-01-01T00:00:00Z"}, None, None)
    assert plan.args == {"order_by": "updated_datetime:desc"}
    assert plan.scan is not None
    assert plan.scan.bound == datetime(2026, 1, 1, tzinfo=UTC)
    # the same order spelled as a sort is fine
    assert m.plan_ticketing_tickets({"updated_after": "2026-01-01"}, "updated_at", "desc").args["order_by"] == \
        "updated_datetime:desc"


@pytest.mark.parametrize(("resource", "filters"), [
    ("tickets", {"status": "open"}),
    ("tickets", {"priority": "urgent"}),
    ("tickets", {"assignee_id": "5"}),
    ("tickets", {"team_id": "5"}),
    ("tickets", {"tag_id": "5"}),
    ("comments", {"ticket_id": "1", "is_internal": True}),
    ("comments", {"author_id": "5"}),
    ("contacts", {"account_id": "5"}),
    ("tags", {"name": "vip"}),
    ("attachments", {"comment_id": "5"}),
    ("collections", {"type": "view"}),
    ("users", {"is_active": True}),
])
def test_unsupported_filters_raise_before_any_request(offline: Any, recorder: Recorder, resource: str,
                                                      filters: dict[str, Any]) -> None:
    listing = getattr(wrap(offline).ticketing, resource)
    with pytest.raises(UnsupportedFilterError) as raised:
        listing.list(**filters)  # rejected when the list is built, not when it is read
    assert set(raised.value.errors) == set(filters) - {"ticket_id"}
    assert isinstance(raised.value, InvalidArgumentsError) and isinstance(raised.value, gorgias.GorgiasError)
    assert "Gorgias cannot filter" in str(raised.value)
    assert recorder.requests == []


def test_conflicting_orders_are_rejected(offline: Any, recorder: Recorder) -> None:
    tickets = wrap(offline).ticketing.tickets
    with pytest.raises(UnsupportedFilterError, match="cannot be combined"):
        tickets.list(updated_after="2026-01-01", created_after="2026-01-01")
    with pytest.raises(UnsupportedFilterError, match="sort_by"):
        tickets.list(updated_after="2026-01-01", sort_by="created_at")
    with pytest.raises(InvalidArgumentsError, match="date-time"):
        tickets.list(updated_after="last tuesday")
    with pytest.raises(InvalidArgumentsError, match="numeric id"):
        tickets.list(contact_id="jane")
    with pytest.raises(InvalidArgumentsError, match="sort"):
        tickets.list(sort_by="priority")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentsError, match="needs sort_by"):
        tickets.list(sort_order="asc")
    assert recorder.requests == []


def _paged_transport(pages: list[list[dict[str, Any]]], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        index = int(request.url.params.get("cursor", "0"))
        nxt = str(index + 1) if index + 1 < len(pages) else None
        return httpx.Response(200, json=page(pages[index], nxt, str(index - 1) if index else None))

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("boundary_page", [0, 2, 4])
def test_updated_after_reads_only_until_the_first_older_ticket(boundary_page: int) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    pages = [[ticket(1000 - (p * 10 + i), (start - timedelta(hours=p * 10 + i)).isoformat()) for i in range(10)]
             for p in range(6)]
    bound = start - timedelta(hours=boundary_page * 10 + 5)  # half-way through the boundary page
    seen: list[httpx.Request] = []
    client = gorgias.Gorgias(base_url="https://acme.gorgias.com", email="agent@example.com", api_key="k",
                             http_client=httpx.Client(transport=_paged_transport(pages, seen)))
    with client:
        tickets = list(Unified(client).ticketing.tickets.list(updated_after=bound, limit=10))
    assert len(tickets) == boundary_page * 10 + 6  # everything at or after the bound, nothing older
    assert all(t.updated_at is not None and t.updated_at >= bound for t in tickets)
    assert len(seen) == boundary_page + 1  # real early stop: later pages are never requested
    assert all(r.url.params["order_by"] == "updated_datetime:desc" for r in seen)


def test_first_page_of_a_stopped_scan_has_no_next_cursor() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    pages = [[ticket(i, (start - timedelta(days=i)).isoformat()) for i in range(5)], []]
    seen: list[httpx.Request] = []
    client = gorgias.Gorgias(base_url="https://acme.gorgias.com", email="agent@example.com", api_key="k",
                             http_client=httpx.Client(transport=_paged_transport(pages, seen)))
    with client:
        first = Unified(client).ticketing.tickets.list(updated_after=start - timedelta(days=2)).first_page()
    assert [t.id for t in first.result] == ["0", "1", "2"]
    assert first.next_cursor is None  # the source page had one, but nothing after it can match


def test_a_write_answered_without_the_object_reads_it_back() -> None:
    from .payloads import TAG

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "PUT":
            return httpx.Response(202)  # accepted, no body
        return httpx.Response(200, json=TAG)

    client = gorgias.Gorgias(base_url="https://acme.gorgias.com", email="agent@example.com", api_key="k",
                             http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with client:
        tag = Unified(client).ticketing.tags.update("123456", name="urgent")
    assert (tag.id, tag.name) == ("123456", "urgent")
    assert seen == ["PUT /api/tags/123456", "GET /api/tags/123456"]
