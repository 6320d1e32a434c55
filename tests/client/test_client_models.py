"""Models: tolerant of unknown fields and enum values, every Gorgias datetime format, round trips."""

from __future__ import annotations

import json
import pickle
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


def _recorded_ticket() -> dict[str, Any]:
    return json.loads((EXAMPLES / "ticket_recorded-webhook-ticket-created.json").read_text())


def _tolerance_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "model_invalid_fields" in r.getMessage()]


def test_one_off_type_field_keeps_the_rest_typed(caplog: pytest.LogCaptureFixture) -> None:
    payload = _recorded_ticket()
    payload["spam"] = "secret-looking-value"
    payload["tags"] = [{"id": 1, "name": "vip", "created_datetime": "2024-02-14T21:30:50Z"}]
    ticket = models.Ticket.model_validate(payload)
    assert type(ticket) is models.Ticket and ticket.spam is None
    assert ticket.model_invalid_fields == {"spam": "secret-looking-value"}
    # every other field is still typed: nested models are models, date-times are datetimes
    assert isinstance(ticket.customer, models.Customer) and ticket.customer.id == 387705374
    assert ticket.tags and isinstance(ticket.tags[0], models.Tag)
    assert ticket.tags[0].created_datetime == datetime(2024, 2, 14, 21, 30, 50, tzinfo=UTC)
    assert ticket.messages and isinstance(ticket.messages[0], models.Message)
    assert isinstance(ticket.created_datetime, datetime)
    assert ticket.created_datetime == datetime(2024, 2, 14, 21, 30, 50, 201204, tzinfo=UTC)
    assert ticket.id == payload["id"] and ticket.subject == payload["subject"]
    # one warning for the payload, naming the path and never the value
    (warning,) = _tolerance_warnings(caplog)
    assert "Ticket" in warning and "spam" in warning and "secret-looking-value" not in warning
    assert "secret-looking-value" not in repr(ticket)


def test_bad_values_deep_inside_lists_are_left_out_at_their_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = _recorded_ticket()
    payload["messages"][0]["source"]["from"] = "not-an-object"
    payload["tags"] = [{"id": 1, "name": "vip"}, "junk", {"id": "two", "name": "sale"}]
    ticket = models.Ticket.model_validate(payload)
    assert ticket.model_invalid_fields == {
        "messages.0.source.from": "not-an-object",
        "tags.1": "junk",
        "tags.2.id": "two",
    }
    message = ticket.messages[0]
    assert isinstance(message.source, models.MessageSource) and message.source.from_ is None
    assert isinstance(message.created_datetime, datetime)
    assert message.source.to and isinstance(message.source.to[0], models.MessageSourceAddress)
    # nested instances keep their own share, relative to themselves
    assert message.model_invalid_fields == {"source.from": "not-an-object"}
    assert message.source.model_invalid_fields == {"from": "not-an-object"}
    assert [(tag.id, tag.name) for tag in ticket.tags or []] == [(1, "vip"), (None, "sale")]
    assert all(isinstance(tag, models.Tag) for tag in ticket.tags or [])
    (warning,) = _tolerance_warnings(caplog)
    assert "3 value(s)" in warning and "messages.0.source.from" in warning and "tags.1" in warning


def test_model_validate_json_is_tolerant_and_matching_payloads_report_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = _recorded_ticket()
    clean = models.Ticket.model_validate_json(json.dumps(payload))
    assert clean.model_invalid_fields == {} and _tolerance_warnings(caplog) == []
    payload["customer"]["created_datetime"] = "yesterday"
    ticket = models.Ticket.model_validate_json(json.dumps(payload).encode())
    assert isinstance(ticket.customer, models.Customer) and ticket.customer.created_datetime is None
    assert ticket.model_invalid_fields == {"customer.created_datetime": "yesterday"}
    assert ticket.customer.model_invalid_fields == {"created_datetime": "yesterday"}
    assert ticket.model_copy().model_invalid_fields == ticket.model_invalid_fields
    assert len(_tolerance_warnings(caplog)) == 1


def test_strict_validation_raises() -> None:
    from pydantic import ValidationError

    payload = _recorded_ticket()
    payload["spam"] = "maybe"
    for strict in (True, False):
        with pytest.raises(ValidationError, match="spam"):
            models.Ticket.model_validate(payload, strict=strict)
        with pytest.raises(ValidationError, match="spam"):
            models.Ticket.model_validate_json(json.dumps(payload), strict=strict)
    with pytest.raises(ValidationError):  # not JSON: nothing to repair
        models.Ticket.model_validate_json('{"id": ')
    with pytest.raises(ValidationError):  # not an object: nothing to repair
        models.Ticket.model_validate(["not", "an", "object"])


def test_required_fields_off_or_absent_become_none(caplog: pytest.LogCaptureFixture) -> None:
    off = models.RulePriority.model_validate({"id": "seven", "priority": 2})
    assert isinstance(off, models.RulePriority) and (off.id, off.priority) == (None, 2)
    assert off.model_invalid_fields == {"id": "seven"}
    absent = models.RulePriority.model_validate({"priority": "3", "note": "kept"})
    assert type(absent) is models.RulePriority and (absent.id, absent.priority) == (None, 3)
    assert absent.model_extra == {"note": "kept"} and absent.model_invalid_fields == {}
    assert absent.model_fields_set == {"priority", "note"}
    assert pickle.loads(pickle.dumps(absent)) == absent
    assert "id (missing)" in _tolerance_warnings(caplog)[-1]


def _widget_tree(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": 5}  # the one bad value, at the bottom
    for _ in range(depth):
        node = {"type": "card", "widgets": [node]}
    return node


def test_recursive_models_are_repaired_deep_down_and_too_deep_still_raises() -> None:
    from pydantic import ValidationError

    tree = models.WidgetTemplateNode.model_validate(_widget_tree(40))
    assert tree.model_invalid_fields == {"widgets.0." * 40 + "type": 5}
    node = tree
    for _ in range(40):
        assert node.widgets is not None and isinstance(node.widgets[0], models.WidgetTemplateNode)
        node = node.widgets[0]
    assert node.type is None and node.model_invalid_fields == {"type": 5}
    # deeper than the repair can follow: pydantic's error, not a RecursionError
    with pytest.raises(ValidationError):
        models.WidgetTemplateNode.model_validate(_widget_tree(3000))


def test_repair_follows_forward_references_in_a_fresh_process() -> None:
    import subprocess
    import sys

    code = (
        "import gorgias.models as m\n"
        "w = m.Widget.model_validate({'id': 1, 'template': {'type': 'wrapper', 'widgets': "
        "[{'type': 'card', 'widgets': [{'type': 5}]}]}})\n"
        "print(w.model_invalid_fields, type(w.template.widgets[0].widgets[0]).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{'template.widgets.0.widgets.0.type': 5} WidgetTemplateNode"


def test_client_responses_are_tolerant_per_field(
    mock_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import httpx

    from gorgias import APIResponseValidationError

    odd = {"id": "not-a-number", "name": "vip", "decoration": {"color": "#fff"}}
    client = mock_client(lambda r: httpx.Response(200, json=odd))
    tag = client.tags.get(1)
    assert isinstance(tag, models.Tag) and tag.id is None and tag.name == "vip"
    assert isinstance(tag.decoration, models.TagDecoration) and tag.decoration.color == "#fff"
    assert tag.model_invalid_fields == {"id": "not-a-number"}
    (warning,) = _tolerance_warnings(caplog)
    assert warning.startswith("GET /api/tags/1: Tag: 1 value(s)") and warning.endswith(": id")
    strict = mock_client(lambda r: httpx.Response(200, json=odd), strict_response_validation=True)
    with pytest.raises(APIResponseValidationError, match="does not match Tag"):
        strict.tags.get(1)
    broken = mock_client(lambda r: httpx.Response(200, content=b"<html>oops</html>"))
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        broken.tags.get(1)


def test_client_pages_are_tolerant_per_item_and_field(
    mock_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import httpx

    from gorgias import APIResponseValidationError

    items = [
        {"id": 1, "name": "a", "created_datetime": "2024-02-14T21:30:50Z"},
        {"id": 2, "name": "b", "created_datetime": "not a date", "decoration": {"color": 5}},
        {"id": "three", "name": "c"},
    ]
    page = {"data": items, "meta": {"next_cursor": None, "prev_cursor": None}}
    client = mock_client(lambda r: httpx.Response(200, json=page))
    tags = list(client.tags.list())
    assert [type(t) for t in tags] == [models.Tag] * 3
    assert [t.id for t in tags] == [1, 2, None] and [t.name for t in tags] == ["a", "b", "c"]
    assert tags[0].created_datetime == datetime(2024, 2, 14, 21, 30, 50, tzinfo=UTC)
    assert tags[0].model_invalid_fields == {}
    assert tags[1].model_invalid_fields == {
        "created_datetime": "not a date",
        "decoration.color": 5,
    }
    assert isinstance(tags[1].decoration, models.TagDecoration)
    assert tags[2].model_invalid_fields == {"id": "three"}
    (warning,) = _tolerance_warnings(caplog)  # one per page
    assert "Tag items: 3 value(s)" in warning
    assert "1.decoration.color, 1.created_datetime, 2.id" in warning  # model field order
    strict = mock_client(lambda r: httpx.Response(200, json=page), strict_response_validation=True)
    with pytest.raises(APIResponseValidationError, match="does not match Tag"):
        list(strict.tags.list())
    # an item that is no object at all stays as it came, reported with the others
    junk = mock_client(lambda r: httpx.Response(200, json={"data": [*items, "junk"], "meta": {}}))
    assert list(junk.tags.list())[3] == "junk"
    assert "2.id, 3" in _tolerance_warnings(caplog)[-1]
    # a bare array instead of the declared envelope goes the same way
    bare = mock_client(lambda r: httpx.Response(200, json=items))
    assert [t.model_invalid_fields for t in bare.tags.list()] == [
        {},
        {"created_datetime": "not a date", "decoration.color": 5},
        {"id": "three"},
    ]


def test_request_bodies_stay_strict(mock_client: Any) -> None:
    import httpx

    from gorgias import InvalidArgumentsError

    client = mock_client(lambda r: httpx.Response(500))  # never reached
    with pytest.raises(InvalidArgumentsError) as bad:
        client.tickets.create(
            messages=[{"channel": "email", "via": "api", "from_agent": "sometimes"}]
        )
    assert list(bad.value.errors) == ["messages.0.from_agent"]


def test_page_parsing_leaves_garbage_collection_as_it_found_it(mock_client: Any) -> None:
    import gc

    import httpx

    page = {"data": [{"id": i, "name": str(i)} for i in range(50)], "meta": {}}
    client = mock_client(lambda r: httpx.Response(200, json=page))
    assert gc.isenabled()
    assert len(list(client.tags.list())) == 50 and gc.isenabled()
    gc.disable()
    try:
        assert len(list(client.tags.list())) == 50 and not gc.isenabled()
    finally:
        gc.enable()
    odd = mock_client(lambda r: httpx.Response(200, json={"data": [{"id": "x"}], "meta": {}}))
    assert [t.model_invalid_fields for t in odd.tags.list()] == [{"id": "x"}] and gc.isenabled()


def test_models_module_is_importable_standalone(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import gorgias.models as m; print(len([n for n in dir(m) if n[0].isupper()]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) > 50
