"""Unified ticketing users (Gorgias helpdesk users) replayed from cassettes: roles and active status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified.models import UnifiedEmail, UnifiedRole


@pytest.mark.vcr
def test_users_crud(unified: Any) -> None:
    users = unified.ticketing.users
    (sam,) = users.list(role="agent", sort_by="email", sort_order="desc").to_list()
    assert (sam.id, sam.name, sam.roles) == ("42", "Sam Agent", [UnifiedRole(id="agent", name="agent")])
    assert sam.avatar == "https://img.example.com/sam.png"  # meta.profile_picture_url
    steve = users.get("3924")
    assert steve.id == "3924"
    assert steve.name == "Steve Frazelli"
    assert (steve.first_name, steve.last_name) == ("Steve", "Frazeli")
    assert steve.username == "steve@example.com"
    assert steve.emails == [UnifiedEmail(email="steve@example.com", type="work", is_primary=True)]
    assert steve.is_active is True
    assert steve.roles == [UnifiedRole(id="admin", name="admin")]
    assert steve.avatar == "https://avatars.example.com/steve-profile.jpeg"
    assert steve.timezone == "US/Pacific"
    assert steve.created_at == datetime(2019, 4, 13, 3, 27, 56, 973873, tzinfo=UTC)
    assert steve.team_ids == []  # Gorgias users do not list their teams
    created = users.create(name="Sam Agent", emails=[{"email": "sam@example.com"}])  # role defaults to agent
    assert created.id == "42"
    deactivated = users.update("42", is_active=False)
    assert deactivated.is_active is False
    assert users.delete("42") is None
