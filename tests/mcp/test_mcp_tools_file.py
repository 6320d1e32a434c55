"""The generated MCP tools file: one tool per operation, exact annotations, routing and schemas.

Checked against the IR (`connectorgen.pipeline.build()`), which is the emitter's only input, and
against the documented examples of the definition.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connectorgen import ir
from connectorgen.emitters.mcp import emit, tools_document


def _refs(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/$defs/"), ref
            found.add(ref.removeprefix("#/$defs/"))
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)
    return found


def standalone(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema with the `$defs` it reaches attached (what an MCP client receives)."""
    needed: set[str] = set()
    todo = _refs(schema, set())
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo |= _refs(defs[name], set()) - needed
    return {**schema, "$defs": {n: defs[n] for n in needed}} if needed else schema


@pytest.fixture(scope="module")
def document(connector: ir.Connector) -> dict[str, Any]:
    return tools_document(connector)


@pytest.fixture(scope="module")
def tools(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tool["name"]: tool for tool in document["tools"]}


def test_every_operation_is_one_tool(connector: ir.Connector, document: dict[str, Any]) -> None:
    names = [tool["name"] for tool in document["tools"]]
    assert names == [op.tool for op in connector.operations]
    assert len(set(names)) == len(names) == document["_meta"]["tool_count"]
    assert all(len(name) <= 64 for name in names)


def test_emitted_files(connector: ir.Connector) -> None:
    files = emit(connector)
    assert set(files) == {
        "mcp/gorgias.tools.json",
        "python/gorgias/mcp/tools.json",
        "python/gorgias/mcp/__init__.py",
        "python/gorgias/mcp/__main__.py",
        "python/gorgias/mcp/server.py",
        "python/gorgias/mcp/shaping.py",
        "python/gorgias/mcp/toolmodes.py",
        "python/gorgias/mcp/_spec.py",
    }
    # the server ships exactly the published tools file
    assert files["mcp/gorgias.tools.json"] == files["python/gorgias/mcp/tools.json"]
    parsed = json.loads(files["mcp/gorgias.tools.json"])
    assert parsed["tools"] == json.loads(json.dumps(tools_document(connector)["tools"]))


@pytest.mark.parametrize(
    ("tool", "read_only", "destructive", "idempotent"),
    [
        ("list_all_gorgias_view_items_search", True, False, True),  # a PUT that only reads
        ("list_all_gorgias_search", True, False, True),  # a POST that only reads
        ("gorgias_reporting_retrieve_stats", True, False, True),
        ("list_all_gorgias_tickets", True, False, True),
        ("get_single_gorgias_ticket_by_id", True, False, True),
        ("create_a_gorgias_ticket", False, False, False),
        ("update_a_gorgias_ticket_by_id", False, True, True),  # PUT replaces fields
        ("delete_a_gorgias_ticket_by_id", False, True, True),
        ("gorgias_customers_bulk_delete", False, True, True),
    ],
)
def test_known_annotations(
    tools: dict[str, dict[str, Any]],
    tool: str,
    read_only: bool,
    destructive: bool,
    idempotent: bool,
) -> None:
    annotations = tools[tool]["annotations"]
    assert annotations["readOnlyHint"] is read_only
    assert annotations["destructiveHint"] is destructive
    assert annotations["idempotentHint"] is idempotent
    assert annotations["openWorldHint"] is True
    assert "title" not in annotations  # the display title is the tool's own `title`


def test_annotations_and_meta_follow_the_ir(
    connector: ir.Connector, tools: dict[str, dict[str, Any]]
) -> None:
    for op in connector.operations:
        tool = tools[op.tool]
        assert tool["title"] == op.annotations.title
        assert tool["annotations"] == {
            "readOnlyHint": op.annotations.read_only,
            "destructiveHint": op.annotations.destructive,
            "idempotentHint": op.annotations.idempotent,
            "openWorldHint": op.annotations.open_world,
        }
        meta = tool["_meta"]
        assert meta["resource"] == op.resource
        assert meta["tags"] == list(op.tags)
        assert meta["kind"] == op.kind
        assert meta["method"] == op.http_method
        assert meta["path"] == op.path
        assert meta["scopes"] == list(op.scopes)
        assert meta.get("deprecated", False) is op.deprecated


def test_descriptions_carry_quirks_and_deprecation(
    connector: ir.Connector, tools: dict[str, dict[str, Any]]
) -> None:
    for op in connector.operations:
        description = tools[op.tool]["description"]
        assert op.description.rstrip(".") in description
        for quirk in op.quirks:
            assert quirk.rstrip(".") in description
        assert description.startswith("Deprecated:") is op.deprecated


def test_input_schema_is_the_flat_argument_list(
    connector: ir.Connector, tools: dict[str, dict[str, Any]]
) -> None:
    for op in connector.operations:
        schema = tools[op.tool]["inputSchema"]
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert list(schema["properties"]) == [a.name for a in op.arguments]
        defaulted = {d.argument for d in op.defaults if not d.when}  # the server fills these in
        assert schema.get("required", []) == [
            a.name for a in op.arguments if a.required and a.name not in defaulted
        ]


def test_routing_sends_every_argument_back(
    connector: ir.Connector, document: dict[str, Any]
) -> None:
    routing = document["routing"]
    assert list(routing) == [op.tool for op in connector.operations]
    for op in connector.operations:
        entries = routing[op.tool]["arguments"]
        assert list(entries) == [a.name for a in op.arguments]
        for arg in op.arguments:
            entry = entries[arg.name]
            assert entry["in"] == arg.location
            if arg.location != "body_whole":
                assert entry.get("name", arg.name) == arg.wire_name
            default = "form" if arg.location == "query" else "simple"
            assert entry.get("style", default) == arg.style
        if op.body is not None:
            assert routing[op.tool]["body"] == op.body.content_type
    # a name used in two places keeps it for the path parameter; the body one gets a suffix
    entries = routing["update_a_gorgias_customer_field_value_by_id"]["arguments"]
    assert entries["id"] == {"in": "path"}
    assert entries["id_body"] == {"in": "body", "name": "id"}
    assert routing["list_all_gorgias_tickets"]["arguments"]["ticket_ids"] == {
        "in": "query",
        "style": "repeated",
    }


def test_shared_defs_are_deduplicated(document: dict[str, Any]) -> None:
    defs = document["$defs"]
    reached: set[str] = set()
    for tool in document["tools"]:
        for key in ("inputSchema", "outputSchema"):
            if key in tool:
                assert "$defs" not in tool[key], "tool schemas must point into the shared $defs"
                reached |= set(standalone(tool[key], defs).get("$defs", {}))
    assert reached == set(defs), "every shared schema is used, and every used schema is shared"


def test_schemas_are_valid_and_resolve(document: dict[str, Any]) -> None:
    defs = document["$defs"]
    for tool in document["tools"]:
        for key in ("inputSchema", "outputSchema"):
            if key in tool:
                schema = standalone(tool[key], defs)
                Draft202012Validator.check_schema(schema)
                assert schema["type"] == "object", (tool["name"], key)


def test_output_schemas(connector: ir.Connector, tools: dict[str, dict[str, Any]]) -> None:
    for op in connector.operations:
        tool = tools[op.tool]
        envelope = op.response.envelope
        if envelope.type in ("binary", "csv"):
            assert tool["outputSchema"]["type"] == "object"
            assert ("content_base64" in tool["outputSchema"]["properties"]) is (
                envelope.type == "binary"
            )
            continue
        if not envelope.is_json:
            assert "outputSchema" not in tool
            continue
        output = tool["outputSchema"]
        if envelope.is_list:
            assert output["required"] == ["result"]
            assert output["properties"]["result"]["type"] == "array"
            assert ("next_cursor" in output["properties"]) is (envelope.type == "cursor_list")
        else:
            assert output["$ref"] == f"#/$defs/{op.response.schema_name}"


def test_definition_examples_fit_the_schemas(
    connector: ir.Connector, document: dict[str, Any]
) -> None:
    defs = document["$defs"]
    tools = {tool["name"]: tool for tool in document["tools"]}
    checked = 0
    for op in connector.operations:
        tool = tools[op.tool]
        for example in op.examples:
            if example.arguments is not None:
                validator = Draft202012Validator(standalone(tool["inputSchema"], defs))
                errors = [e.message for e in validator.iter_errors(ir.thaw(example.arguments))]
                assert not errors, (op.tool, example.name, errors)
                checked += 1
            if example.response is not None and "outputSchema" in tool:
                response = ir.thaw(example.response)
                if op.response.envelope.is_list:
                    items = response.get("data", []) if isinstance(response, dict) else response
                    response = {"result": items}
                validator = Draft202012Validator(standalone(tool["outputSchema"], defs))
                errors = [e.message for e in validator.iter_errors(response)]
                assert not errors, (op.tool, example.name, errors[:3])
                checked += 1
    assert checked > 0


def test_binary_arguments_travel_as_base64(tools: dict[str, dict[str, Any]]) -> None:
    files = tools["create_a_gorgias_file"]["inputSchema"]["properties"]["files"]
    assert files["items"] == {"type": "string", "contentEncoding": "base64"}
