"""Unified contacts (Gorgias customers) replayed from cassettes: e-mails and phones come from the
customer's channels, custom-field values keyed by field id, writes turn them back into channels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified.models import UnifiedContact, UnifiedEmail, UnifiedPhone

from .conftest import Recorder, wrap


def assert_customer(c: UnifiedContact) -> None:
    assert c.id == "387705374"
    assert c.name == "test@example.com"  # Gorgias name is null: the address stands in
    assert c.first_name == "" and c.last_name == ""
    assert c.emails == [UnifiedEmail(email="test@example.com", type="primary", is_primary=True)]
    assert c.phones == [UnifiedPhone(number="+33612345678", type="phone", is_primary=False)]
    assert c.details is None
    assert c.language == "en" and c.timezone == "Europe/Paris"
    assert c.is_active is True
    assert c.created_at == datetime(2024, 2, 14, 19, 38, 2, 190391, tzinfo=UTC)
    assert c.updated_at == datetime(2024, 2, 15, 8, 0, tzinfo=UTC)
    assert c.remote_data["meta"] == {"name_set_via": "email"}


@pytest.mark.vcr
def test_list_contacts_by_email(unified: Any) -> None:
    contacts = unified.ticketing.contacts.list(email="test@example.com").to_list()
    assert len(contacts) == 1
    assert_customer(contacts[0])


@pytest.mark.vcr
def test_list_contacts_by_phone(unified: Any, recorder: Recorder) -> None:
    page = unified.ticketing.contacts.list(phone="+33612345678").first_page()
    assert_customer(page.result[0])
    assert dict(recorder.requests[0].url.params) == {"channel_address": "+33612345678", "channel_type": "phone"}


@pytest.mark.vcr
def test_get_contact(unified: Any) -> None:
    contact = unified.ticketing.contacts.get("387705374")
    assert_customer(contact)
    # a list of field values becomes an object keyed by field id
    assert contact.custom_fields == {"5": {"id": 5, "field": {"id": 5, "label": "Tier"}, "value": "gold"}}


@pytest.mark.vcr
def test_create_update_delete_contact(unified: Any) -> None:
    created = unified.ticketing.contacts.create(
        name="Jane Doe", first_name="Jane", last_name="Doe", details="VIP since 2021",
        emails=[{"email": "jane@example.com", "is_primary": True}],
        phones=[{"number": "+33612345678", "type": "mobile"}, UnifiedPhone(number="+33699999999", type="whatsapp")],
    )
    assert created.id == "387705999" and created.name == "Jane Doe" and created.details == "VIP since 2021"
    updated = unified.ticketing.contacts.update(created.id, timezone="America/New_York", language="en")
    assert updated.timezone == "America/New_York"
    assert unified.ticketing.contacts.delete(created.id) is None


@pytest.mark.vcr
async def test_async_contacts(make_async: Any, recorder: Recorder) -> None:
    async with make_async() as client:
        u = wrap(client)
        recent = [c.id async for c in u.ticketing.contacts.list(updated_after="2024-01-01T00:00:00Z")]
        assert recent == ["387705374"]
        assert len(recorder.requests) == 1
        assert_customer(await u.ticketing.contacts.get(387705374))
