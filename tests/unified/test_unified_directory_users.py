"""Unified user-directory users (Gorgias helpdesk users as identities) replayed from cassettes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified import UnsupportedFilterError
from gorgias.unified.models import UnifiedDirectoryUser, UnifiedEmail, UnifiedRole

from .conftest import wrap


def assert_sam(u: UnifiedDirectoryUser) -> None:
    assert u.id == "42"
    assert u.name == "Sam Agent"
    assert (u.first_name, u.last_name) == ("Sam", "Agent")
    assert u.username == "sam@example.com"
    assert u.emails == [UnifiedEmail(email="sam@example.com", type="work", is_primary=True)]
    assert u.status == "active"
    assert u.roles == [UnifiedRole(id="agent", name="agent")]
    assert u.avatar == "https://img.example.com/sam.png"
    assert u.languages == ["fr"]
    assert u.country == "FR"
    assert u.external_id is None and u.title is None
    assert u.created_at == datetime(2019, 4, 13, 3, 27, 56, 973873, tzinfo=UTC)
    assert u.deactivated_at is None
    assert u.remote_data["role"] == {"name": "agent"}


@pytest.mark.vcr
def test_directory_users_crud(unified: Any) -> None:
    users = unified.user_directory.users
    assert_sam(users.list(email="sam@example.com").to_list()[0])
    assert_sam(users.get("42"))
    ada = users.create(name="Ada Admin", first_name="Ada", last_name="Admin", emails=[{"email": "ada@example.com"}],
                       roles=[{"id": "admin"}], external_id="okta-00u1", country="GB", languages=["en"],
                       timezone="Europe/London", title="Head of support")
    assert (ada.id, ada.title, ada.external_id, ada.roles[0].id) == ("43", "Head of support", "okta-00u1", "admin")
    off = users.update("42", status="inactive")
    assert off.status == "inactive"
    assert off.deactivated_at == datetime(2024, 3, 1, tzinfo=UTC)
    assert users.delete("43") is None
    with pytest.raises(UnsupportedFilterError):
        users.list(status="active").first_page()


@pytest.mark.vcr
async def test_async_directory_users(make_async: Any) -> None:
    async with make_async() as client:
        users = wrap(client).user_directory.users
        assert_sam(await users.get("42"))
        statuses = [u.status async for u in users.list(search="sam")]
        assert statuses == ["active", "inactive"]
