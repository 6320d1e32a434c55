"""Unified attachments replayed from cassettes: message attachments flattened into records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gorgias.unified.models import UnifiedParticipant, UnifiedReference

from .conftest import Recorder


@pytest.mark.vcr
def test_list_attachments_of_ticket(unified: Any, recorder: Recorder) -> None:
    pager = unified.ticketing.attachments.list(ticket_id="86538298", limit=2)
    page = pager.first_page()
    assert page.next_cursor == "a2"  # pages follow the messages
    receipt, photo = page.result
    assert receipt.id == receipt.file_url == "https://uploads.gorgias.io/acme/receipt-7f3a.pdf"
    assert receipt.file_name == "receipt.pdf"
    assert receipt.content_type == "application/pdf"
    assert receipt.size == 48213  # Gorgias sends the size as text
    assert receipt.ticket == UnifiedReference(id="86538298")
    assert receipt.comment == UnifiedReference(id="208860002")
    assert receipt.uploaded_by == UnifiedParticipant(id="387705374", name="test@example.com",
                                                     email="test@example.com", type="contact")
    assert receipt.is_public is False
    assert receipt.created_at == datetime(2024, 2, 15, 10, 0, tzinfo=UTC)
    assert receipt.remote_data == {"url": "https://uploads.gorgias.io/acme/receipt-7f3a.pdf", "name": "receipt.pdf",
                                   "content_type": "application/pdf", "size": "48213", "public": False, "extra": {}}
    assert photo.size == 102400 and photo.file_name == "photo.jpg"
    # iterating reads on: the second page's message has no files
    assert [a.file_name for a in unified.ticketing.attachments.list(ticket_id=86538298, limit=2)] == [
        "receipt.pdf", "photo.jpg"]
    assert len(recorder.requests) == 3
