"""Pagination: lazy iteration across pages (sync and async), first_page, normalized pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gorgias import AsyncPager, Page, SyncPager, models

from .conftest import Recorder

PAGE_2 = "WyJuZXh0IiwgIjIwMjQtMDItMTVUMDc6NTk6NTkiLCA4NjUzODI5N10="
PAGE_3 = "WyJuZXh0IiwgIjIwMjQtMDItMTNUMDA6MDA6MDAiLCA4NjUzODA5OV0="
ALL_IDS = [86538298, 86538297, 86538100, 86538099, 86537001]


@pytest.mark.vcr
def test_iterates_every_page(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    pager = client.tickets.list(order_by="updated_datetime:desc", limit=2)
    assert isinstance(pager, SyncPager)
    assert recorder.requests == []  # lazy: nothing fetched before iterating

    tickets = list(pager)

    assert [t.id for t in tickets] == ALL_IDS
    assert all(isinstance(t, models.Ticket) for t in tickets)
    assert len(recorder.requests) == 3
    assert [r.url.params.get("cursor") for r in recorder.requests] == [None, PAGE_2, PAGE_3]
    first, second = tickets[0], tickets[1]
    # nested objects are typed, datetimes parsed with and without offset
    assert first.customer is not None and first.customer.email == "jane@example.com"
    assert first.tags is not None and first.tags[0].name == "urgent"
    assert first.created_datetime == datetime(2024, 2, 14, 21, 30, 50, 201204, tzinfo=UTC)
    assert first.opened_datetime == datetime(2024, 2, 14, 21, 31, 2, 120000)  # naive, kept naive
    assert second.created_datetime == datetime(2024, 2, 14, 18, 2, 11)
    assert tickets[2].created_datetime == datetime(
        2024, 2, 13, 10, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))
    )
    # unknown enum values and unknown fields are kept
    assert second.channel == "tiktok-shop"
    assert second.model_extra == {"sla_policy_status": "breached"}
    assert second.meta == {"order_id": 1042}
    assert client.rate_limit_status is not None and client.rate_limit_status.used == 3


@pytest.mark.vcr("test_iterates_every_page.yaml")
def test_pages_and_first_page(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    pages = list(client.tickets.list(order_by="updated_datetime:desc", limit=2).pages())

    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [p.next_cursor for p in pages] == [PAGE_2, PAGE_3, None]
    assert pages[0].prev_cursor is None
    assert pages[1].prev_cursor == "WyJwcmV2IiwgIjIwMjQtMDItMTRUMDk6MDA6MDAiLCA4NjUzODEwMF0="
    assert pages[2].has_next_page is False


@pytest.mark.vcr("test_iterates_every_page.yaml", allow_playback_repeats=True)
def test_first_page_fetches_one_page(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    page = client.tickets.list(order_by="updated_datetime:desc", limit=2).first_page()

    assert isinstance(page, Page)
    assert [t.id for t in page.items] == ALL_IDS[:2]
    assert page.next_cursor == PAGE_2 and page.prev_cursor is None
    assert len(recorder.requests) == 1
    envelope = page.to_dict()
    assert set(envelope) == {"result", "next_cursor", "prev_cursor"}
    assert envelope["next_cursor"] == PAGE_2
    assert envelope["result"][0]["id"] == 86538298
    assert envelope["result"][0]["customer"]["email"] == "jane@example.com"
    assert envelope["result"][1]["sla_policy_status"] == "breached"  # extra fields survive
    assert envelope["result"][1]["created_datetime"] == "2024-02-14T18:02:11"

    # resuming from a cursor continues where the page stopped
    rest = list(
        client.tickets.list(order_by="updated_datetime:desc", limit=2, cursor=page.next_cursor)
    )
    assert [t.id for t in rest] == ALL_IDS[2:]


@pytest.mark.vcr("test_iterates_every_page.yaml")
async def test_async_iterates_every_page(make_async_client: Any, recorder: Recorder) -> None:
    async with make_async_client() as client:
        pager = client.tickets.list(order_by="updated_datetime:desc", limit=2)
        assert isinstance(pager, AsyncPager)
        tickets = [t async for t in pager]

    assert [t.id for t in tickets] == ALL_IDS
    assert tickets[1].channel == "tiktok-shop"
    assert len(recorder.requests) == 3


@pytest.mark.vcr("test_iterates_every_page.yaml", allow_playback_repeats=True)
async def test_async_first_page_and_pages(make_async_client: Any) -> None:
    async with make_async_client() as client:
        page = await client.tickets.list(order_by="updated_datetime:desc", limit=2).first_page()
        pages = [
            p async for p in client.tickets.list(order_by="updated_datetime:desc", limit=2).pages()
        ]

    assert page.next_cursor == PAGE_2
    assert [t.id for p in pages for t in p.items] == ALL_IDS


@pytest.mark.vcr
def test_whole_lists_read_tolerantly(make_client: Any) -> None:
    """`{data: [...]}` lists and bare arrays behave the same, whatever shape was declared."""
    client = make_client()
    # declared data_list, answered as declared
    tags = list(client.ticket_tags.list(86538298))
    assert [t.name for t in tags] == ["urgent", "refund"]
    # declared data_list, answered as a bare array
    settings = list(client.account_settings.list())
    assert [s.type for s in settings] == ["business-hours", "satisfaction-surveys"]
    assert settings[0].data == {
        "timezone": "UTC",
        "business_hours": {"days": "1,2,3,4,5", "from_time": "09:00", "to_time": "22:00"},
    }
    # invoke gives the same normalized envelope for both
    assert client.invoke("list_all_gorgias_ticket_tags", {"ticket_id": 86538298}) == {
        "result": [
            {"id": 123456, "name": "urgent", "decoration": {"color": "#F58D86"}, "usage": 123},
            {"id": 123457, "name": "refund", "decoration": None, "usage": 4},
        ],
        "next_cursor": None,
        "prev_cursor": None,
    }


@pytest.mark.vcr
def test_invoke_returns_one_page(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    first = client.invoke("list_all_gorgias_tags", {"limit": 1})
    assert first["next_cursor"] == "cHJldl9fNl9fMjAyMS0wMy0wMyAwNjowMDowMA=="
    assert first["prev_cursor"] is None
    assert first["result"] == [
        {
            "id": 123456,
            "decoration": {"color": "#F58D86"},
            "description": "Mark a ticket as urgent",
            "name": "urgent",
            "usage": 123,
            "uri": "/api/tags/5/",
            "created_datetime": "2019-07-05T14:42:00.384938",
            "deleted_datetime": None,
        }
    ]
    second = client.invoke("list_all_gorgias_tags", {"limit": 1, "cursor": first["next_cursor"]})
    assert second == {
        "result": [],
        "next_cursor": None,
        "prev_cursor": "cHJldl9fNl9fMjAyMS0wMy0wMyAwNjowMDowMA==",
    }
    assert len(recorder.requests) == 2  # invoke never auto-paginates
