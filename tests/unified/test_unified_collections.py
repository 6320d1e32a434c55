"""Unified collections (Gorgias views) replayed from cassettes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified.models import UnifiedUrl


@pytest.mark.vcr
def test_collections_crud(unified: Any) -> None:
    collections = unified.ticketing.collections
    (view,) = collections.list().to_list()
    assert view.id == "123"
    assert view.name == "My view"
    assert view.type == "view"
    assert view.entity_type == "ticket"
    assert view.access_level == "public"
    assert view.urls == [UnifiedUrl(url="https://acme.gorgias.com/app/views/123", type="web")]
    assert view.created_at == datetime(2019, 11, 23, 15, 59, 41, 966927, tzinfo=UTC)
    assert view.description is None and view.parent_collection is None
    assert view.remote_data["filters"].startswith("eq(ticket.assignee_user.id")
    assert collections.get("123") == view
    created = collections.create(name="Open e-mails", access_level="private",
                                 filters="eq(ticket.status, 'open') && eq(ticket.channel, 'email')")
    assert (created.id, created.access_level) == ("124", "private")
    assert collections.update("124", name="Open mail", access_level="company").access_level == "public"
    assert collections.delete("124") is None
