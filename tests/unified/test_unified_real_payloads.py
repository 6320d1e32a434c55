"""Unified mapping of real payload shapes (`tests/fixtures/payloads/`): items that cannot be
referenced are skipped (`each ... skip_if_missing`), never emitted as null, and an object lacking
a required unified field raises a typed `MappingError` instead of yielding an invalid record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import gorgias
from gorgias import GorgiasError
from gorgias.unified import MappingError, Unified, invoke_unified, mappers
from gorgias.unified.models import UnifiedTeam, UnifiedTicket
from tests.conftest import REPO_ROOT

from .test_unified_rules import diagnostics_in, overlay

PAYLOADS = REPO_ROOT / "tests" / "fixtures" / "payloads"
CTX = {"subdomain": "acme", "base_url": "https://acme.gorgias.com"}


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def test_ticket_tag_without_id_is_skipped() -> None:
    record = mappers.ticketing_ticket_from_gorgias(payload("ticket_tag_without_id.json"), CTX)
    assert record["tags"] == [{"id": "801", "name": "vip"}]  # no None for the tag without id
    assert UnifiedTicket.model_validate(record).tags[0].id == "801"


def test_team_member_without_id_is_skipped() -> None:
    team = payload("team_emoji_object.json")
    team["members"].append({"name": "Ghost", "email": "ghost@example.com"})
    record = mappers.ticketing_team_from_gorgias(team, CTX)
    assert record["users"] == [{"id": "401", "name": "Ada Agent"}]
    assert UnifiedTeam.model_validate(record).users[0].id == "401"


def test_ticket_with_null_id_is_a_mapping_error() -> None:
    with pytest.raises(MappingError) as caught:
        mappers.ticketing_ticket_from_gorgias(payload("ticket_null_id.json"), CTX)
    error = caught.value
    assert isinstance(error, GorgiasError)
    assert (error.model, error.field, error.source) == ("UnifiedTicket", "id", "id")
    assert str(error) == (
        "cannot map a Gorgias object to UnifiedTicket: the required field 'id' (from `id`) is null or missing"
    )


def _client_answering(body: Any) -> gorgias.Gorgias:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    return gorgias.Gorgias(
        base_url="https://acme.gorgias.com",
        email="agent@example.com",
        api_key="k",
        http_client=httpx.Client(transport=transport),
    )


def test_unified_get_and_list_raise_the_mapping_error() -> None:
    broken = payload("ticket_null_id.json")
    with _client_answering(broken) as client, pytest.raises(MappingError, match="UnifiedTicket"):
        Unified(client).ticketing.tickets.get("5")
    page = {"data": [broken], "meta": {"next_cursor": None, "prev_cursor": None}}
    with _client_answering(page) as client, pytest.raises(MappingError, match="'id'"):
        Unified(client).ticketing.tickets.list().first_page()
    with _client_answering(page) as client, pytest.raises(MappingError):
        invoke_unified(client, "list_all_unified_ticketing_tickets", {})


def _tags_mapping_with(root: Path, skip: str) -> Path:
    path = root / "unified_mappings" / "gorgias" / "ticketing" / "tickets.yaml"
    text = path.read_text()
    assert "    skip_if_missing: [id]\n" in text
    path.write_text(
        text.replace("    skip_if_missing: [id]\n", f"    skip_if_missing: {skip}\n", 1)
    )
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_skip_if_missing_on_an_unknown_field_is_reported(tmp_path: Path) -> None:
    root = overlay(None, tmp_path)
    path = _tags_mapping_with(root, "[ident]")
    line = _line_of(path, "skip_if_missing: [ident]")
    got = diagnostics_in(root)
    assert got == [
        f"unified_mappings/gorgias/ticketing/tickets.yaml:{line}:23 mapping-unknown-source"
    ]


def test_skip_if_missing_must_be_a_list_of_paths(tmp_path: Path) -> None:
    root = overlay(None, tmp_path)
    path = _tags_mapping_with(root, "id")
    # The language schema rejects it; the diagnostic points at the `tags` expression holding it.
    line = _line_of(path, "  tags:")
    got = diagnostics_in(root)
    assert got == [f"unified_mappings/gorgias/ticketing/tickets.yaml:{line}:3 wrong-type"]
