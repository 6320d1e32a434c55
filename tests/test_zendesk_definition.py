"""The Zendesk definition covers every tool of its reference endpoint table, exactly.

The table (`spec/zendesk/reference/endpoints.tsv`) lists the tools with their resource, method,
path, pagination scheme, request and response envelope keys and success status. Each row must be
an operation of `spec/zendesk/resources/*.yaml` with that tool name, resource, method and path,
answering the envelope its pagination column means, under the key its response column gives, with
the status it states. The definition is read straight from the YAML files with ruamel.yaml,
independently of the generator, so a generator bug cannot hide a gap in the definition.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC = REPO_ROOT / "spec" / "zendesk"
ENDPOINTS_TSV = SPEC / "reference" / "endpoints.tsv"

#: Pagination column -> envelope of connector.yaml (`none`: an object, no body or a whole list).
ENVELOPES = {
    "cursor": {"cursor_list", "export_list"},
    "offset": {"offset_list"},
    "incremental_cursor": {"cursor_export"},
    "incremental_time": {"time_export"},
    "none": {"object", "empty", "list"},
}

#: Rows the definition models differently from the table's columns, with the reason.
ENVELOPE_OVERRIDES = {
    # The autocomplete answers `{"tags": ["..."]}`: one object holding a list of strings.
    "zendesk_tags_autocomplete": "object",
}

#: Response keys the table gives that are a property of the answered object, not a wrapper:
#: tags answer `{"tags": [...]}` (schema TagList) and the search count `{"count": N}`.
UNWRAPPED_KEYS = {
    "list_all_zendesk_ticket_tags", "zendesk_ticket_tags_set", "zendesk_ticket_tags_add",
    "zendesk_tags_autocomplete", "zendesk_search_count", "zendesk_incremental_sample",
}

#: Tools of the table not in the definition yet, with the reason (a known gap, reported).
NOT_YET: dict[str, str] = {}


@dataclass(frozen=True)
class Row:
    tool: str
    resource: str
    method: str
    path: str
    pagination: str
    request_key: str
    response_key: str
    status: int


def _read_rows() -> list[Row]:
    with ENDPOINTS_TSV.open(newline="", encoding="utf-8") as handle:
        return [
            Row(
                r["tool_name"].strip(),
                r["resource"].strip(),
                r["method"].strip(),
                r["path"].strip(),
                r["pagination"].strip(),
                r["request_envelope_key"].strip(),
                r["response_envelope_key"].strip(),
                int(r["success_status"]),
            )
            for r in csv.DictReader(handle, delimiter="\t")
            if r.get("tool_name")
        ]


ROWS = _read_rows()
DEFINED = [r for r in ROWS if r.tool not in NOT_YET]


@cache
def operations() -> dict[str, tuple[str, dict[str, Any]]]:
    yaml = YAML(typ="safe")
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted((SPEC / "resources").glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"))
        for op in data.get("operations") or []:
            assert op["tool"] not in found, f"{op['tool']} is defined twice"
            found[op["tool"]] = (data["resource"], op)
    return found


def _operation(tool: str) -> tuple[str, dict[str, Any]]:
    found = operations().get(tool)
    if found is None:
        pytest.fail(f"no operation named {tool!r} in {SPEC / 'resources'}")
    return found


def test_table_has_every_tool_once() -> None:
    assert len(ROWS) == 90, f"expected the 90 tools of the reference table, read {len(ROWS)}"
    assert len({r.tool for r in ROWS}) == len(ROWS), "tool names in the table are not unique"


def test_definition_has_no_tool_beyond_the_table() -> None:
    assert set(operations()) == {r.tool for r in DEFINED}
    assert set(NOT_YET) <= {r.tool for r in ROWS}


@pytest.mark.parametrize("row", DEFINED, ids=[r.tool for r in DEFINED])
def test_table_row_is_defined(row: Row) -> None:
    resource, op = _operation(row.tool)
    assert (resource, op["method"], op["path"]) == (row.resource, row.method, row.path)
    response = op["response"]
    expected = {ENVELOPE_OVERRIDES[row.tool]} if row.tool in ENVELOPE_OVERRIDES else ENVELOPES[row.pagination]
    assert response["envelope"] in expected, f"{row.tool}: envelope {response['envelope']!r}, expected {expected}"
    assert response["status"] == row.status


@pytest.mark.parametrize("row", DEFINED, ids=[r.tool for r in DEFINED])
def test_table_row_keys(row: Row) -> None:
    _, op = _operation(row.tool)
    response = op["response"]
    key = row.response_key.split()[0]
    if key == "-" or row.tool in UNWRAPPED_KEYS:
        assert "key" not in response
    else:
        assert response.get("key") == key, f"{row.tool}: response key {response.get('key')!r}, table says {key!r}"
    request = row.request_key.split()[0] if row.request_key else "-"
    wrap_key = (op.get("body") or {}).get("wrap_key")
    if request in {"ticket", "user", "organization", "group", "group_membership", "ticket_field",
                   "satisfaction_rating"} and row.tool != "zendesk_tickets_update_many":
        assert wrap_key == request, f"{row.tool}: body wrap_key {wrap_key!r}, table says {request!r}"
    else:
        assert wrap_key is None, f"{row.tool}: the table sends the body unwrapped"
    if request == "raw":  # the raw bytes of a file, with its own media type
        assert op["body"]["content_type"] == "application/octet-stream", row.tool


@pytest.mark.parametrize("row", DEFINED, ids=[r.tool for r in DEFINED])
def test_path_parameters_are_named_as_in_the_table(row: Row) -> None:
    _, op = _operation(row.tool)
    placeholders = {part[1:-1] for part in row.path.split("/") if part.startswith("{")}
    declared = {p["name"] for p in op.get("parameters") or [] if p["in"] == "path"}
    assert declared == placeholders
