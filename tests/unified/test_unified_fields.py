"""Unified fields (Gorgias custom-field definitions) replayed from cassettes; entity types map to
Gorgias object types, and listing needs one (Gorgias lists one object type at a time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias import InvalidArgumentsError
from gorgias.unified import UnsupportedFilterError
from gorgias.unified.models import UnifiedFieldOption


@pytest.mark.vcr
def test_fields_crud(unified: Any) -> None:
    fields = unified.ticketing.fields
    (tier,) = fields.list(entity_type="contact", is_hidden=True).to_list()
    assert tier.id == "124" and tier.name == "124"
    assert tier.label == "Tier"
    assert tier.type == "enum"  # a text dropdown
    assert tier.format == "dropdown"
    assert tier.entity_type == "contact"  # Gorgias Customer
    assert tier.is_hidden is True  # archived
    assert tier.is_user_defined is True
    assert tier.options == [UnifiedFieldOption(value="gold", label="gold"), UnifiedFieldOption(value="silver", label="silver")]
    assert tier.default_value == "silver"
    field = fields.get("123")
    assert field.label == "Test field"
    assert field.description == "An amazing field description."
    assert field.type == "text" and field.format == "input"
    assert field.entity_type == "ticket"
    assert field.is_required is True and field.is_hidden is False
    assert field.is_user_defined is False  # managed by Gorgias (contact_reason)
    assert field.options == []
    assert field.created_at == datetime(2019, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    created = fields.create(entity_type="ticket", label="Contact reason", type="enum", is_required=True,
                            options=[{"value": "refund"}, {"value": "shipping"}], default_value="shipping")
    assert created.type == "enum" and [o.value for o in created.options] == ["refund", "shipping"]
    updated = fields.update("125", entity_type="ticket", label="Reason", type="number")
    assert updated.type == "number" and updated.format == "input_number"


def test_listing_fields_needs_a_supported_entity_type(offline: Any) -> None:
    from .conftest import wrap

    fields = wrap(offline).ticketing.fields
    with pytest.raises(InvalidArgumentsError) as missing:
        fields.list().first_page()
    assert "entity_type" in missing.value.errors
    with pytest.raises(UnsupportedFilterError) as other:
        fields.list(entity_type="user").first_page()
    assert "ticket, contact" in str(other.value)
