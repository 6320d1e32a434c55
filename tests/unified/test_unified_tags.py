"""Unified tags replayed from cassettes: list (search, sort), get, create, update, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from .conftest import Recorder


@pytest.mark.vcr
def test_tags_crud(unified: Any, recorder: Recorder) -> None:
    tags = unified.ticketing.tags
    listed = tags.list(search="urg", sort_by="name").to_list()
    assert [(t.id, t.name, t.status, t.color) for t in listed] == [
        ("123456", "urgent", "active", "#F58D86"),
        ("99", "urgent-2", "inactive", None),  # deleted tag; no decoration
    ]
    tag = tags.get("123456")
    assert tag.id == "123456"
    assert tag.name == "urgent"
    assert tag.description == "Mark a ticket as urgent"
    assert tag.color == "#F58D86"
    assert tag.status == "active"
    assert tag.created_at == datetime(2019, 7, 5, 14, 42, 0, 384938, tzinfo=UTC)
    assert tag.updated_at is None and tag.parent is None and tag.workspace is None
    assert tag.remote_data["usage"] == 123
    created = tags.create(name="vip", description="Big customers", color="#FFD700")
    assert (created.id, created.name, created.color) == ("777", "vip", "#FFD700")
    assert tags.update("777", name="VIP").name == "VIP"
    assert tags.delete("777") is None
    assert recorder.paths == ["GET /api/tags", "GET /api/tags/123456", "POST /api/tags", "PUT /api/tags/777",
                              "DELETE /api/tags/777"]
