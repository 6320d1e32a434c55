"""The Gorgias definition covers every tool of the reference endpoint table, exactly.

The table (`spec/gorgias/reference/endpoints.tsv`) lists the 104 tools with their resource,
method, path and response shape. Each row must be an operation of `spec/gorgias/resources/*.yaml`
with that tool name, method, path, resource and envelope. The definition is read straight from
the YAML files with ruamel.yaml, independently of the generator, so a generator bug cannot hide a
gap in the definition.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parents[1]
RESOURCES_DIR = REPO_ROOT / "spec" / "gorgias" / "resources"
ENDPOINTS_TSV = Path(__file__).parents[1] / "spec/gorgias/reference/endpoints.tsv"

#: Response column of the table (first word) -> envelope name in connector.yaml.
ENVELOPES = {
    "cursor-list": "cursor_list",
    "data-list": "data_list",
    "list": "data_list",
    "bare-array": "bare_array",
    "object": "object",
    "empty": "empty",
    "binary": "binary",
    "csv": "csv",
}

#: The table cannot give a real path for the attachment download (its URL comes from a message);
#: the definition models it as one path parameter carrying the whole URL.
PATH_OVERRIDES = {"gorgias_attachments_download": "/{attachment_url}"}

#: Statuses the table does not state: file downloads answer with a redirect.
STATUS_OVERRIDES = {"gorgias_files_download": 307}


@dataclass(frozen=True)
class Row:
    tool: str
    resource: str
    method: str
    path: str
    response: str
    notes: str

    @property
    def envelope(self) -> str:
        word = self.response.split()[0]
        return ENVELOPES[word]

    @property
    def status(self) -> int:
        if self.tool in STATUS_OVERRIDES:
            return STATUS_OVERRIDES[self.tool]
        match = re.search(r"\((\d{3})\)", self.response)
        return int(match.group(1)) if match else 200

    @property
    def expected_path(self) -> str:
        return PATH_OVERRIDES.get(self.tool, self.path)


def _read_rows() -> list[Row]:
    with ENDPOINTS_TSV.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return [
            Row(
                r["tool"].strip(),
                r["resource"].strip(),
                r["method"].strip(),
                r["path"].strip(),
                r["response"].strip(),
                (r.get("notes") or "").strip(),
            )
            for r in reader
            if r.get("tool")
        ]


ROWS = _read_rows()


@dataclass(frozen=True)
class Definition:
    operations: dict[str, tuple[str, dict[str, Any]]]
    """tool name -> (resource name, operation mapping)."""
    resources: dict[str, dict[str, Any]]
    load_errors: tuple[str, ...]


@cache
def definition() -> Definition:
    yaml = YAML(typ="safe")
    operations: dict[str, tuple[str, dict[str, Any]]] = {}
    resources: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for path in sorted(RESOURCES_DIR.glob("*.yaml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"))
        except Exception as exc:  # a broken file must show up in the failure message
            errors.append(f"{path.name}: {str(exc).splitlines()[0]}")
            continue
        if not isinstance(data, dict) or "resource" not in data:
            errors.append(f"{path.name}: not a resource definition")
            continue
        resources[data["resource"]] = data
        for op in data.get("operations") or []:
            operations.setdefault(op.get("tool"), (data["resource"], op))
    return Definition(operations, resources, tuple(errors))


def _operation(tool: str) -> tuple[str, dict[str, Any]]:
    found = definition().operations.get(tool)
    if found is None:
        extra = (
            f" (files that could not be read: {'; '.join(definition().load_errors)})"
            if definition().load_errors
            else ""
        )
        pytest.fail(f"no operation named {tool!r} in {RESOURCES_DIR}{extra}")
    return found


def test_resource_files_load() -> None:
    assert RESOURCES_DIR.is_dir(), f"missing {RESOURCES_DIR}"
    assert not definition().load_errors, definition().load_errors


def test_table_has_all_tools() -> None:
    assert len(ROWS) == 104, f"expected the 104 tools of the reference table, read {len(ROWS)}"
    assert len({r.tool for r in ROWS}) == len(ROWS), "tool names in the table are not unique"


@pytest.mark.parametrize("row", ROWS, ids=[r.tool for r in ROWS])
def test_table_row_is_defined(row: Row) -> None:
    resource, op = _operation(row.tool)
    assert resource == row.resource, (
        f"{row.tool}: resource {resource!r}, table says {row.resource!r}"
    )
    assert op.get("method") == row.method, (
        f"{row.tool}: method {op.get('method')!r}, table says {row.method!r}"
    )
    assert op.get("path") == row.expected_path, (
        f"{row.tool}: path {op.get('path')!r}, expected {row.expected_path!r}"
    )
    envelope = (op.get("response") or {}).get("envelope")
    assert envelope == row.envelope, (
        f"{row.tool}: envelope {envelope!r}, table '{row.response}' means {row.envelope!r}"
    )


@pytest.mark.parametrize("row", ROWS, ids=[r.tool for r in ROWS])
def test_table_row_status(row: Row) -> None:
    _, op = _operation(row.tool)
    status = (op.get("response") or {}).get("status")
    assert status == row.status, (
        f"{row.tool}: status {status!r}, table '{row.response}' means {row.status}"
    )


#: Operations beyond the table that the definition must also offer, and the client method names of
#: table rows whose default name would clash or mislead. Columns: tool, resource, method, path,
#: envelope, status, client method name ("-" = the operation's kind).
EXTRA_TABLE = """
gorgias_customers_merge                      customers       PUT     /api/customers/merge                                     object       200  merge
gorgias_customers_bulk_delete                customers       DELETE  /api/customers                                           empty        204  bulk_delete
gorgias_customers_set_customer_data          customers       PUT     /api/customers/{id}/data                                 empty        202  set_data
list_all_gorgias_customer_fields             customer_fields GET     /api/customers/{customer_id}/custom-fields               data_list    200  -
update_a_gorgias_customer_field_by_id        customer_fields PUT     /api/customers/{customer_id}/custom-fields               data_list    200  update
update_a_gorgias_customer_field_value_by_id  customer_fields PUT     /api/customers/{customer_id}/custom-fields/{id}          object       200  update_value
delete_a_gorgias_customer_field_value_by_id  customer_fields DELETE  /api/customers/{customer_id}/custom-fields/{id}          empty        204  delete_value
update_a_gorgias_ticket_field_by_id          ticket_fields   PUT     /api/tickets/{ticket_id}/custom-fields                   data_list    200  update
update_a_gorgias_ticket_field_value_by_id    ticket_fields   PUT     /api/tickets/{ticket_id}/custom-fields/{id}              object       200  update_value
delete_a_gorgias_ticket_field_value_by_id    ticket_fields   DELETE  /api/tickets/{ticket_id}/custom-fields/{id}              empty        204  delete_value
list_all_gorgias_ticket_messages             messages        GET     /api/tickets/{ticket_id}/messages                        cursor_list  200  list_for_ticket
create_a_gorgias_file                        files           POST    /api/upload                                              bare_array   201  upload
gorgias_files_download                       files           GET     /api/{file_type}/download/{domain_hash}/{resource_name}  binary       307  download
list_all_gorgias_view_items_search           view_items      PUT     /api/views/{view_id}/items                               cursor_list  200  search
list_all_gorgias_search                      search          POST    /api/search                                              data_list    201  -
create_a_gorgias_ticket_tag                  ticket_tags     POST    /api/tickets/{ticket_id}/tags                            empty        201  -
update_a_gorgias_ticket_tag_by_id            ticket_tags     PUT     /api/tickets/{ticket_id}/tags                            empty        202  -
delete_a_gorgias_ticket_tag_by_id            ticket_tags     DELETE  /api/tickets/{ticket_id}/tags                            empty        204  -
delete_a_gorgias_team_by_id                  teams           DELETE  /api/teams/{id}                                          empty        204  -
gorgias_tags_bulk_delete                     tags            DELETE  /api/tags                                                empty        204  bulk_delete
gorgias_macros_archive                       macros          PUT     /api/macros/archive                                      data_list    200  archive
gorgias_macros_unarchive                     macros          PUT     /api/macros/unarchive                                    data_list    200  unarchive
gorgias_custom_fields_bulk_update            custom_fields   PUT     /api/custom-fields                                       data_list    200  bulk_update
gorgias_reporting_retrieve_stats             reporting       POST    /api/reporting/stats                                     object       200  stats
"""


@dataclass(frozen=True)
class Extra:
    tool: str
    resource: str
    method: str
    path: str
    envelope: str
    status: int
    name: str | None
    """Expected client method name (None: the kind)."""


EXTRA_OPERATIONS = [
    Extra(tool, resource, method, path, envelope, int(status), None if name == "-" else name)
    for tool, resource, method, path, envelope, status, name in (
        line.split() for line in EXTRA_TABLE.strip().splitlines()
    )
]


@pytest.mark.parametrize("extra", EXTRA_OPERATIONS, ids=[e.tool for e in EXTRA_OPERATIONS])
def test_extra_operation_is_defined(extra: Extra) -> None:
    resource, op = _operation(extra.tool)
    assert resource == extra.resource
    assert (op.get("method"), op.get("path")) == (extra.method, extra.path)
    response = op.get("response") or {}
    assert (response.get("envelope"), response.get("status")) == (extra.envelope, extra.status)
    method_name = op.get("name") or op.get("kind")
    assert method_name == (extra.name or op.get("kind")), (
        f"{extra.tool}: client method name {method_name!r}"
    )


def test_special_operation_details() -> None:
    _, deprecated = _operation("list_all_gorgias_ticket_messages")
    assert deprecated.get("deprecated") is True
    assert "list_all_gorgias_messages" in deprecated.get("description", "")

    _, attachments = _operation("list_all_gorgias_attachments")
    assert attachments.get("same_endpoint_as") == "list_all_gorgias_messages"
    assert attachments["response"]["schema"]["$ref"].endswith("message.yaml")

    _, download = _operation("gorgias_attachments_download")
    params = {p["name"]: p for p in download.get("parameters", [])}
    assert (
        params["attachment_url"]["in"] == "path"
        and params["attachment_url"].get("required") is True
    )
    assert download["response"] == {"status": 200, "envelope": "binary"}

    _, upload = _operation("create_a_gorgias_file")
    assert upload["body"]["content_type"] == "multipart/form-data"
    file_type = {p["name"]: p for p in upload.get("parameters", [])}["type"]["schema"]
    assert file_type["enum"] == [
        "attachment",
        "public_attachment",
        "profile_picture",
        "widget_picture",
    ]
    assert file_type.get("default") == "attachment"

    for tool in ("list_all_gorgias_view_items_search", "list_all_gorgias_search"):
        assert _operation(tool)[1].get("read_only") is True, f"{tool} only reads"

    for tool in ("update_a_gorgias_ticket_field_by_id", "update_a_gorgias_customer_field_by_id"):
        body = _operation(tool)[1]["body"]
        assert body.get("argument") == "fields" and body["schema"].get("type") == "array", tool

    _, merge = _operation("gorgias_customers_merge")
    query = {p["name"]: p for p in merge.get("parameters", []) if p["in"] == "query"}
    for name in ("source_id", "target_id"):
        assert query[name].get("required") is True and query[name]["schema"]["type"] == "integer"


def test_client_method_names_are_unique_per_resource() -> None:
    for resource, data in definition().resources.items():
        seen: dict[str, str] = {}
        for op in data.get("operations") or []:
            method_name = op.get("name") or op.get("kind")
            assert method_name not in seen, (
                f"{resource}: {op.get('tool')} and {seen.get(method_name)} both map to client method {method_name!r}"
            )
            seen[method_name] = op.get("tool")


def test_path_parameters_are_declared_and_required() -> None:
    for tool, (_, op) in definition().operations.items():
        placeholders = set(re.findall(r"\{([^}]+)\}", op.get("path", "")))
        declared = {p["name"]: p for p in op.get("parameters") or [] if p.get("in") == "path"}
        assert placeholders == set(declared), (
            f"{tool}: path {op.get('path')} vs declared {sorted(declared)}"
        )
        for name, param in declared.items():
            assert param.get("required") is True, f"{tool}: path parameter {name} must be required"


GENERATED_TOOLS = Path(__file__).parents[1] / "generated" / "gorgias" / "mcp" / "gorgias.tools.json"


def test_generated_mcp_tools_carry_every_table_row() -> None:
    """The shipped MCP tool list (not only the YAML) has each tool with the table's method and path."""
    import json

    tools = {tool["name"]: tool for tool in json.loads(GENERATED_TOOLS.read_text())["tools"]}
    for row in ROWS:
        assert row.tool in tools, row.tool
        meta = tools[row.tool]["_meta"]
        assert meta["method"] == row.method, row.tool
        if row.path.startswith("/"):
            assert meta["path"] == row.path, row.tool
    extras = {extra.tool for extra in EXTRA_OPERATIONS}
    assert extras <= set(tools)
    assert len(tools) == len({row.tool for row in ROWS} | extras)
