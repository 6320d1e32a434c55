"""Unified operations as tools: the generated tool entries (same shape as the MCP tools file) and
`invoke_unified` / `ainvoke_unified`, the functions the MCP server calls, replayed from cassettes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from gorgias import InvalidArgumentsError
from gorgias.unified import (
    UNIFIED_TOOL_NAMES,
    UnsupportedFilterError,
    ainvoke_unified,
    invoke_unified,
    unified_tools,
)
from tests.conftest import REPO_ROOT

from .conftest import Recorder

GENERATED = REPO_ROOT / "generated" / "gorgias"
UNIFIED_FILE = GENERATED / "mcp" / "gorgias.unified.tools.json"
BASE_FILE = GENERATED / "mcp" / "gorgias.tools.json"
RESOURCES = {
    "ticketing": {"tickets": "ticket", "comments": "comment", "contacts": "contact", "tags": "tag", "teams": "team",
                  "attachments": "attachment", "fields": "field", "collections": "collection", "users": "user"},
    "user_directory": {"users": "user"},
}


def _document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(UNIFIED_FILE.read_text())
    return data


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_tool_file_lists_every_unified_method() -> None:
    names = {t["name"] for t in _document()["tools"]}
    assert names == set(UNIFIED_TOOL_NAMES)
    for category, resources in RESOURCES.items():
        for plural, singular in resources.items():
            assert f"list_all_unified_{category}_{plural}" in names
            if plural != "attachments":
                assert f"get_single_unified_{category}_{singular}_by_id" in names
    # only what Gorgias allows: no attachment reads or writes by id, fields cannot be deleted
    assert "get_single_unified_ticketing_attachment_by_id" not in names
    assert "delete_a_unified_ticketing_field_by_id" not in names
    assert "create_a_unified_ticketing_comment" in names
    assert len(names) == 45


def test_tool_entries_have_the_mcp_tool_shape() -> None:
    base = json.loads(BASE_FILE.read_text()) if BASE_FILE.exists() else None
    doc = _document()
    assert set(doc) >= {"_meta", "tools", "$defs"}
    jsonschema.Draft202012Validator.check_schema({"$defs": doc["$defs"]})
    assert doc["_meta"]["tool_count"] == len(doc["tools"])
    for tool in doc["tools"]:
        if base is not None:
            assert set(tool) == set(base["tools"][0]), tool["name"]
        assert len(tool["name"]) <= 64
        for key in ("inputSchema", "outputSchema"):
            jsonschema.Draft202012Validator.check_schema(tool[key])
            refs = {r.rsplit("/", 1)[-1] for r in _refs(tool[key])}
            assert refs <= set(doc["$defs"]), (tool["name"], refs - set(doc["$defs"]))
        assert tool["inputSchema"]["additionalProperties"] is False
        assert tool["_meta"]["tags"][0] == "unified"
        assert tool["annotations"]["readOnlyHint"] is (tool["_meta"]["kind"] in ("list", "get"))
    # the packaged copy is the same file
    packaged = REPO_ROOT / "generated" / "gorgias" / "python" / "gorgias" / "unified" / "tools.json"
    assert packaged.read_text() == UNIFIED_FILE.read_text()
    assert unified_tools() == doc["tools"]


def test_list_tool_schema_offers_only_what_gorgias_supports() -> None:
    tools = {t["name"]: t for t in _document()["tools"]}
    tickets = tools["list_all_unified_ticketing_tickets"]["inputSchema"]
    assert set(tickets["properties"]) == {"contact_id", "collection_id", "ids", "updated_after", "created_after",
                                          "sort_by", "sort_order", "limit", "cursor"}
    assert "status" in tools["list_all_unified_ticketing_tickets"]["description"]  # named as unavailable
    fields = tools["list_all_unified_ticketing_fields"]["inputSchema"]
    assert fields["required"] == ["entity_type"]
    assert fields["properties"]["entity_type"]["enum"] == ["ticket", "contact"]
    note = tools["create_a_unified_ticketing_comment"]["inputSchema"]
    assert note["required"] == ["body", "ticket_id"]
    assert {"is_internal", "author", "channel"} <= set(note["properties"])


@pytest.mark.vcr
def test_invoke_unified_tools(client: Any, recorder: Recorder) -> None:
    page = invoke_unified(client, "list_all_unified_ticketing_tickets", {"contact_id": "387705374", "limit": 2})
    assert page["next_cursor"] == "c2" and page["prev_cursor"] is None
    ticket = page["result"][0]
    assert ticket["id"] == "86538298"
    assert ticket["created_at"] == "2024-02-14T21:30:50.201204+00:00"  # JSON-ready
    assert ticket["team"] is None
    assert ticket["remote_data"]["id"] == 86538298
    json.dumps(page)
    user = invoke_unified(client, "get_single_unified_user_directory_user_by_id", {"id": "42"})
    assert (user["id"], user["status"], user["roles"]) == ("42", "active", [{"id": "agent", "name": "agent"}])
    note = invoke_unified(client, "create_a_unified_ticketing_comment", {
        "ticket_id": "86538298", "body": "Customer called back, waiting for the carrier.", "is_internal": True})
    assert note["is_internal"] is True and note["channel"] == "internal_note"
    assert invoke_unified(client, "delete_a_unified_ticketing_tag_by_id", {"id": "777"}) == {"id": "777", "deleted": True}
    assert len(recorder.requests) == 5


def test_bad_tool_calls_fail_before_any_request(offline: Any, recorder: Recorder) -> None:
    with pytest.raises(UnsupportedFilterError):
        invoke_unified(offline, "list_all_unified_ticketing_tickets", {"status": "open"})
    with pytest.raises(InvalidArgumentsError) as unknown:
        invoke_unified(offline, "list_all_unified_ticketing_tickets", {"colour": "red"})
    assert "colour" in unknown.value.errors
    with pytest.raises(InvalidArgumentsError) as missing:
        invoke_unified(offline, "create_a_unified_ticketing_comment", {"ticket_id": "1"})
    assert "body" in missing.value.errors
    with pytest.raises(InvalidArgumentsError):
        invoke_unified(offline, "get_single_unified_ticketing_ticket_by_id", {"id": "not-a-number"})
    with pytest.raises(InvalidArgumentsError):
        invoke_unified(offline, "no_such_unified_tool", {})
    assert recorder.requests == []


@pytest.mark.vcr
async def test_ainvoke_unified_tools(make_async: Any) -> None:
    async with make_async() as client:
        page = await ainvoke_unified(client, "list_all_unified_ticketing_comments",
                                     {"ticket_id": "86538298", "created_after": "2024-02-15T00:00:00Z"})
        assert [c["id"] for c in page["result"]] == ["208850001"]
        assert page["next_cursor"] is None  # the scan stopped: no next page to read
        field = await ainvoke_unified(client, "get_single_unified_ticketing_field_by_id", {"id": 123})
        assert (field["entity_type"], field["type"], field["is_user_defined"]) == ("ticket", "text", False)
