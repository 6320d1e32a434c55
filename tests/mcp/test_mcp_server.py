"""The generated server module in-process: wire form of the tools, filters, messages, redaction."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from .conftest import GENERATED_PYTHON
from .fake_gorgias import example


@pytest.fixture(scope="module")
def server() -> Any:
    if str(GENERATED_PYTHON) not in sys.path and (GENERATED_PYTHON / "gorgias").is_dir():
        sys.path.insert(0, str(GENERATED_PYTHON))
    return importlib.import_module("gorgias.mcp.server")


@pytest.fixture(scope="module")
def specs(server: Any) -> dict[str, Any]:
    return server.load_tools()


def _strip(schema: Any, keys: frozenset[str]) -> Any:
    """Schema with annotation keywords removed (property *names* are kept)."""
    if isinstance(schema, list):
        return [_strip(item, keys) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in keys:
            continue
        if key in ("properties", "$defs", "patternProperties"):
            out[key] = {name: _strip(sub, keys) for name, sub in value.items()}
        else:
            out[key] = _strip(value, keys)
    return out


def test_shared_output_schemas_keep_every_shape(server: Any, specs: dict[str, Any]) -> None:
    full = {tool.name: tool for tool in server.wire_tools(specs.values(), "full")}
    shared = {tool.name: tool for tool in server.wire_tools(specs.values(), "shared")}
    annotations = server.toolmodes._ANNOTATIONS
    described: set[str] = set()
    for name, tool in shared.items():
        assert tool.input_schema == full[name].input_schema  # inputs are always complete
        if tool.output_schema is None:
            assert full[name].output_schema is None
            continue
        # same structure: only annotation keywords may be missing
        assert _strip(tool.output_schema, annotations) == _strip(
            full[name].output_schema, annotations
        )
        for def_name, schema in tool.output_schema.get("$defs", {}).items():
            if schema == full[name].output_schema["$defs"][def_name]:
                described.add(def_name)
    every = {
        n
        for tool in full.values()
        if tool.output_schema
        for n in tool.output_schema.get("$defs", {})
    }
    assert described == every, "each shared object is sent with its annotations at least once"
    # the described copy goes to a tool that gets the object, not to one that merely mentions it
    tag_schema = shared["get_single_gorgias_tag_by_id"].output_schema["$defs"]["Tag"]
    assert "description" in tag_schema


def test_shared_output_schemas_still_validate_payloads(server: Any, specs: dict[str, Any]) -> None:
    shared = {tool.name: tool for tool in server.wire_tools(specs.values(), "shared")}
    for tool, payload in (
        ("get_single_gorgias_tag_by_id", example("tag_get.json")),
        ("update_a_gorgias_tag_by_id", example("tag_get.json")),
        (
            "list_all_gorgias_tags",
            {"result": example("tags_list.json")["data"], "next_cursor": None},
        ),
        ("get_single_gorgias_user_by_id", example("user_get.json")),
        ("get_single_gorgias_account_by_id", example("account_get.json")),
    ):
        errors = list(Draft202012Validator(shared[tool].output_schema).iter_errors(payload))
        assert not errors, (tool, errors[0].message)


def test_filter_options_are_checked(server: Any, specs: dict[str, Any]) -> None:
    bad = server.ToolFilter(
        methods=frozenset({"reed"}),
        tags=frozenset({"nope"}),
        tools=frozenset({"list_all_gorgias_ticket"}),
    )
    problems = "\n".join(bad.check(specs))
    assert "unknown --methods value 'reed'" in problems
    assert "unknown tag 'nope'" in problems
    assert "did you mean list_all_gorgias_tickets" in problems
    assert server.ToolFilter().check(specs) == []


def test_refusal_names_the_option(server: Any, specs: dict[str, Any]) -> None:
    delete = specs["delete_a_gorgias_ticket_by_id"]
    assert "read-only" in server.ToolFilter(read_only=True).refusal(delete)
    assert "--methods read" in server.ToolFilter(methods=frozenset({"read"})).refusal(delete)
    assert "--exclude-tools" in server.ToolFilter(exclude_tools=frozenset({delete.name})).refusal(
        delete
    )
    assert server.ToolFilter(methods=frozenset({"write"})).refusal(delete) is None


def test_validation_messages_name_the_argument(server: Any, specs: dict[str, Any]) -> None:
    spec = specs["list_all_gorgias_tickets"]
    lines = server.describe_validation_errors(
        spec, {"limit": 0, "order_by": "up", "customer_id": None, "colour": "red"}
    )
    text = "\n".join(lines)
    assert "`limit`: must be at least 1, got 0" in text
    assert '`order_by`: must be one of "created_datetime:asc"' in text
    assert "`customer_id`: must be integer, got null" in text
    assert "unknown argument `colour`" in text
    assert server.describe_validation_errors(spec, {}) == []


def test_redactor(server: Any) -> None:
    redact = server.Redactor(["sk-secret-value"])
    text = redact(
        "key sk-secret-value, header Authorization: Basic YWdlbnQ6c2stc2VjcmV0 and Bearer abcdefghijkl"
    )
    assert "sk-secret-value" not in text
    assert "YWdlbnQ6c2stc2VjcmV0" not in text and "abcdefghijkl" not in text


def test_binary_results_carry_an_image_block(server: Any) -> None:
    result = server._success_result(
        {
            "content_type": "image/png",
            "size": 3,
            "content_base64": "AAEC",
            "url": "https://x.example/a.png",
        }
    )
    assert [block.type for block in result.content] == ["text", "image"]
    assert json.loads(result.content[0].text)["size"] == 3
    assert result.structured_content["content_base64"] == "AAEC"
