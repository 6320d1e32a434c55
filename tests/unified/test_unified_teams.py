"""Unified teams replayed from cassettes: members become `users` references."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified.models import UnifiedReference


@pytest.mark.vcr
def test_teams_crud(unified: Any) -> None:
    teams = unified.ticketing.teams
    listed = teams.list(sort_by="created_at", sort_order="desc").to_list()
    assert [t.id for t in listed] == ["123"]
    team = teams.get(123)
    assert team.id == "123"
    assert team.name == "Warehouse team"
    assert team.description == "Handles warehouse-related support and logistics."
    assert team.users == [UnifiedReference(id="456", name="Marie Curie")]
    assert team.created_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)  # "Z" accepted
    assert team.updated_at is None
    assert team.remote_data["decoration"] == {"emoji": "🏬"}
    created = teams.create(name="Returns", description="Handles returns", users=[{"id": "456"}, {"id": 3924}])
    assert [u.id for u in created.users] == ["456", "3924"]
    emptied = teams.update("124", users=[])  # an explicit empty list clears the membership
    assert emptied.users == []
    assert teams.delete("124") is None
