"""Models: tolerant of unknown fields and enum values, every Gorgias datetime format, round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from gorgias import models
from tests.conftest import GORGIAS_REFERENCE

EXAMPLES = GORGIAS_REFERENCE / "examples"
DOCUMENTED = {
    "account_get.json": models.Account,
    "custom-field_get.json": models.CustomField,
    "event_get.json": models.Event,
    "file_get.json": models.File,
    "integration_get.json": models.Integration,
    "job_get.json": models.Job,
    "macro_get.json": models.Macro,
    "message_get.json": models.Message,
    "message_recorded-webhook-ticket-message-created.json": models.Message,
    "satisfaction-survey_get.json": models.SatisfactionSurvey,
    "tag_get.json": models.Tag,
    "team_get.json": models.Team,
    "ticket_recorded-webhook-ticket-created.json": models.Ticket,
    "user_get.json": models.User,
    "voice-call-recording_get.json": models.VoiceCallRecording,
    "widget_get.json": models.Widget,
    "widget_get_current-spec.json": models.Widget,
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_payloads_validate_and_round_trip(name: str) -> None:
    model = DOCUMENTED[name]
    raw = json.loads((EXAMPLES / name).read_text())
    obj = model.model_validate(raw)
    dumped = obj.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert model.model_validate(dumped) == obj
    assert set(dumped) == set(raw)  # nothing dropped, nothing invented


def test_datetime_formats() -> None:
    values = {
        "2024-02-14T21:30:50.201204+00:00": datetime(2024, 2, 14, 21, 30, 50, 201204, tzinfo=UTC),
        "2024-02-14T21:30:50+02:00": datetime(
            2024, 2, 14, 21, 30, 50, tzinfo=timezone(timedelta(hours=2))
        ),
        "2024-02-14T21:30:50Z": datetime(2024, 2, 14, 21, 30, 50, tzinfo=UTC),
        "2024-02-14T21:30:50.201204": datetime(2024, 2, 14, 21, 30, 50, 201204),
        "2024-02-14T21:30:50": datetime(2024, 2, 14, 21, 30, 50),
        "2024-02-14 21:30:50": datetime(2024, 2, 14, 21, 30, 50),
    }
    for text, expected in values.items():
        tag = models.Tag.model_validate({"id": 1, "created_datetime": text})
        assert tag.created_datetime == expected, text


def test_unknown_values_and_fields_are_kept() -> None:
    ticket = models.Ticket.model_validate(
        {
            "id": 5,
            "channel": "tiktok-shop",
            "via": "brand-new-integration",
            "status": "pending-review",
            "customer": {"id": 9, "email": "a@example.com", "loyalty_tier": "gold"},
            "ai_summary": {"text": "Customer wants a refund"},
        }
    )
    assert (ticket.channel, ticket.via, ticket.status) == (
        "tiktok-shop",
        "brand-new-integration",
        "pending-review",
    )
    assert ticket.model_extra == {"ai_summary": {"text": "Customer wants a refund"}}
    assert ticket.customer is not None and ticket.customer.model_extra == {"loyalty_tier": "gold"}
    dumped = ticket.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped["ai_summary"] == {"text": "Customer wants a refund"}
    assert dumped["customer"]["loyalty_tier"] == "gold"


def test_field_aliases_and_names() -> None:
    source = models.MessageSource.model_validate(
        {"type": "email", "from": {"address": "a@example.com"}, "to": []}
    )
    assert source.model_dump(by_alias=True, exclude_unset=True)["from"] == {
        "address": "a@example.com"
    }
    assert "Model1" not in dir(models) and "Model" not in dir(models)
    names = [
        n
        for n, v in vars(models).items()
        if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == models.__name__
    ]
    assert "Ticket" in names and "TicketCreate" in names and "CursorPageMeta" in names
    assert not [n for n in names if n.rstrip("0123456789") != n]  # no numbered names


def test_known_values_are_documented_not_enforced() -> None:
    import inspect

    source = inspect.getsource(models.Ticket)
    channel_doc = source.split("channel: str | None = None", 1)[1].split('"""')[1]
    assert "Known values (others may appear):" in channel_doc and "`email`" in channel_doc
    assert models.Ticket.model_fields["channel"].annotation == str | None


def test_lenient_fallback_keeps_payloads_that_do_not_match(
    mock_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import httpx

    from gorgias import APIResponseValidationError

    odd = {"id": "not-a-number", "name": "vip", "decoration": {"color": "#fff"}}
    client = mock_client(lambda r: httpx.Response(200, json=odd))
    tag = client.tags.get(1)
    assert isinstance(tag, models.Tag)
    assert tag.id == "not-a-number" and tag.name == "vip"
    assert "payload does not match Tag" in caplog.text
    strict = mock_client(lambda r: httpx.Response(200, json=odd), strict_response_validation=True)
    with pytest.raises(APIResponseValidationError):
        strict.tags.get(1)
    broken = mock_client(lambda r: httpx.Response(200, content=b"<html>oops</html>"))
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        broken.tags.get(1)


def test_models_module_is_importable_standalone(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import gorgias.models as m; print(len([n for n in dir(m) if n[0].isupper()]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) > 50
