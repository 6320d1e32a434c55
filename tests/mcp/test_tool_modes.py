"""Tool modes of the generated MCP servers: lean static lists, the dynamic three tools, toolsets.

Budgets are o200k token counts (`bench/tokens.py`) of the `tools/list` result as the official
`mcp` client receives it over stdio from `<package>-mcp --sandbox`, serialised as compact JSON.
Sizes are deterministic, so the budgets are held exactly.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bench.tokens import count_tokens
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

CONNECTORS = ["gorgias", "zendesk"]
DYNAMIC_BUDGET = 1_500
STATIC_GORGIAS_BUDGET = 30_000
THREE = ["search_tools", "describe_tools", "call_tool"]


def _python_path() -> str:
    parts = [str(REPO_ROOT / "generated" / c / "python") for c in CONNECTORS]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


def _env(**extra: str) -> dict[str, str]:
    # no credentials: --sandbox brings its own
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**keep, "PYTHONPATH": _python_path(), **extra}


@asynccontextmanager
async def sandbox_session(connector: str, *args: str, env: dict[str, str] | None = None) -> Any:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", f"{connector}.mcp", "--sandbox", *args],
        env=env or _env(),
    )
    async with Client(params) as client:
        yield client


def wire(result: Any) -> str:
    """A `tools/list` result as compact JSON (what travels to the model's context)."""
    return json.dumps(
        result.model_dump(by_alias=True, mode="json", exclude_none=True), separators=(",", ":")
    )


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def _module(connector: str, name: str) -> Any:
    for connector_name in CONNECTORS:
        path = str(REPO_ROOT / "generated" / connector_name / "python")
        if path not in sys.path:
            sys.path.insert(0, path)
    return importlib.import_module(f"{connector}.mcp.{name}")


def _document(connector: str) -> dict[str, Any]:
    path = REPO_ROOT / "generated" / connector / "mcp" / f"{connector}.tools.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


# --- budgets over stdio --------------------------------------------------------------------------


@pytest.mark.parametrize("connector", CONNECTORS)
async def test_dynamic_mode_lists_three_tools_within_budget(connector: str) -> None:
    async with sandbox_session(connector, "--tool-mode", "dynamic") as client:
        listed = await client.list_tools()
        instructions = client.instructions or ""
    assert [tool.name for tool in listed.tools] == THREE
    assert "search_tools finds them" in instructions
    tokens = count_tokens(wire(listed))
    assert tokens <= DYNAMIC_BUDGET, tokens


async def test_static_gorgias_list_is_lean_and_within_budget() -> None:
    async with sandbox_session("gorgias") as client:
        listed = await client.list_tools()
    document = _document("gorgias")
    assert [tool.name for tool in listed.tools] == [t["name"] for t in document["tools"]]
    tokens = count_tokens(wire(listed))
    assert tokens <= STATIC_GORGIAS_BUDGET, tokens
    for tool in listed.tools:
        assert tool.output_schema is None and tool.meta is None
        assert tool.description and tool.input_schema["type"] == "object"


@pytest.mark.parametrize("connector", CONNECTORS)
async def test_environment_variable_chooses_the_mode(connector: str) -> None:
    env = _env(**{f"{connector.upper()}_MCP_TOOL_MODE": "dynamic"})
    async with sandbox_session(connector, env=env) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == THREE
    bad = subprocess.run(
        [sys.executable, "-m", f"{connector}.mcp", "--list-tools"],
        env=_env(**{f"{connector.upper()}_MCP_TOOL_MODE": "sideways"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "unknown tool mode 'sideways'" in bad.stderr


# --- static: nothing the model needs is lost ----------------------------------------------------

ANNOTATION_KEYS = frozenset(
    {"description", "title", "x-known-values", "examples", "format", "default", "deprecated",
     "readOnly", "writeOnly", "$comment"}
)


def _strip(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strip(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ANNOTATION_KEYS:
            continue
        if key in ("properties", "$defs", "patternProperties"):
            out[key] = {name: _strip(sub) for name, sub in value.items()}
        else:
            out[key] = _strip(value)
    return out


def _resolved(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A tools-file schema with the `$defs` it reaches attached (what a tool stands on)."""
    server = _module("gorgias", "server")
    attached: dict[str, Any] = server._with_defs(schema, defs)
    return attached


@pytest.mark.parametrize("connector", CONNECTORS)
@pytest.mark.parametrize("output_schemas", ["none", "compact"])
def test_lean_input_schemas_are_complete(connector: str, output_schemas: str) -> None:
    server = _module(connector, "server")
    document = _document(connector)
    lean = {t.name: t for t in server.wire_tools(server.load_tools().values(), output_schemas)}
    described_defs: set[str] = set()
    input_defs: set[str] = set()
    described_args: set[str] = set()
    for entry in document["tools"]:
        full = _resolved(entry["inputSchema"], document.get("$defs", {}))
        tool = lean[entry["name"]]
        assert tool.description == entry["description"]
        # what each tool accepts is exactly the tools file's input schema, less the two keywords
        # the server enforces itself (int64 bounds on ids, `additionalProperties: false`)
        full = server.toolmodes.lean_input_schema(full)
        assert _strip(tool.input_schema) == _strip(full)
        assert "additionalProperties\": false" not in json.dumps(tool.input_schema)
        assert "9223372036854775807" not in json.dumps(tool.input_schema)
        assert set(tool.input_schema.get("$defs", {})) == set(full.get("$defs", {}))
        # every annotation is sent at least once per list: described objects and arguments
        for name, sub in tool.input_schema.get("$defs", {}).items():
            schema = document["$defs"][name]
            plain = {k: v for k, v in schema.items() if not (k == "title" and v == name)}
            input_defs.add(name)
            if sub == plain:
                described_defs.add(name)
        for name, sub in tool.input_schema.get("properties", {}).items():
            if sub == full["properties"][name]:
                described_args.add(json.dumps([name, sub], sort_keys=True))
        for name, sub in full.get("properties", {}).items():
            assert json.dumps([name, sub], sort_keys=True) in described_args, (entry["name"], name)
        # annotations: the hints that differ from MCP's defaults
        hints = entry["annotations"]
        got = tool.annotations.model_dump(by_alias=True, exclude_none=True)
        assert got.get("readOnlyHint", False) is hints["readOnlyHint"]
        if not hints["readOnlyHint"]:
            assert got.get("destructiveHint", True) is hints["destructiveHint"]
            assert got.get("idempotentHint", False) is hints["idempotentHint"]
        assert got.get("openWorldHint", True) is hints["openWorldHint"]
        if output_schemas == "none":
            assert tool.output_schema is None
        elif "outputSchema" in entry:
            assert tool.output_schema is not None and "$defs" not in json.dumps(tool.output_schema)
    assert described_defs == input_defs, "each input object is sent with its annotations once"


def test_compact_output_schemas_still_accept_results() -> None:
    from jsonschema import Draft202012Validator

    server = _module("gorgias", "server")
    lean = {t.name: t for t in server.wire_tools(server.load_tools().values(), "compact")}
    ticket = {"id": 1, "subject": "Hi", "customer": {"id": 2, "email": "a@example.com"}}
    page = {"result": [ticket], "next_cursor": None, "prev_cursor": None}
    assert not list(Draft202012Validator(lean["list_all_gorgias_tickets"].output_schema).iter_errors(page))


# --- toolsets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("connector", CONNECTORS)
def test_default_toolsets_come_from_the_definition(connector: str) -> None:
    from connectorgen.pipeline import build

    ir = build(REPO_ROOT / "spec" / connector)
    server = _module(connector, "server")
    assert ir.mcp_default_toolsets and list(server.DEFAULT_TOOLSETS) == list(ir.mcp_default_toolsets)
    chosen = server.filter_from_args(server.parse_args(["--toolsets", "default"]))
    assert chosen.tags == frozenset(ir.mcp_default_toolsets)
    same = server.filter_from_args(server.parse_args(["--toolsets", "tickets,tags"]))
    assert same == server.filter_from_args(server.parse_args(["--tags", "tickets", "--tags", "tags"]))
    specs = server.load_tools()
    runner = server.ToolRunner(specs, chosen)
    expected = {n for n, s in specs.items() if s.tags & set(ir.mcp_default_toolsets)}
    assert set(runner.enabled) == expected and 0 < len(expected) < len(specs)


def test_default_toolsets_needed_for_toolsets_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = _module("gorgias", "server")
    monkeypatch.setattr(server, "DEFAULT_TOOLSETS", [])
    assert server.main(["--toolsets", "default", "--list-tools"]) == 2
    assert "declares no default toolsets" in capsys.readouterr().err
    assert server.main(["--toolsets", "no_such_tag", "--list-tools"]) == 2
    assert "unknown tag 'no_such_tag'" in capsys.readouterr().err


# --- dynamic: the three tools --------------------------------------------------------------------


class NoClient:
    """A client factory for calls that must never reach the API."""

    created = 0

    def __call__(self) -> Any:
        NoClient.created += 1
        raise AssertionError("a hidden or invalid call reached the client")


def _dynamic(connector: str, tool_filter: Any = None, document: dict[str, Any] | None = None) -> Any:
    server = _module(connector, "server")
    toolmodes = _module(connector, "toolmodes")
    specs = server.load_tools(document)
    runner = server.ToolRunner(specs, tool_filter, client_factory=NoClient())
    return toolmodes.DynamicTools(runner.enabled, runner.call), runner


async def _search(dynamic: Any, query: str, limit: int = 50) -> list[str]:
    result = await dynamic.call("search_tools", {"query": query, "limit": limit})
    assert not result.is_error, text_of(result)
    return [t["name"] for t in result.structured_content["tools"]]


async def _assert_hidden(dynamic: Any, name: str) -> None:
    assert name not in await _search(dynamic, name)
    assert name not in await _search(dynamic, name.replace("_", " "))
    described = await dynamic.call("describe_tools", {"names": [name]})
    assert described.is_error and f"`{name}`" in text_of(described)
    called = await dynamic.call("call_tool", {"name": name, "arguments": {}})
    assert called.is_error and "Unknown tools" in text_of(called)


async def _assert_visible(dynamic: Any, name: str) -> None:
    assert (await _search(dynamic, name, 1)) == [name]
    described = await dynamic.call("describe_tools", {"names": [name]})
    assert not described.is_error
    assert described.structured_content["tools"][0]["name"] == name


def _filter(connector: str, **options: Any) -> Any:
    server = _module(connector, "server")
    return server.ToolFilter(**{k: frozenset(v) if isinstance(v, list) else v for k, v in options.items()})


FILTER_CASES = [
    # (filter options, a tool it hides, a tool it keeps)
    ({"tools": ["list_all_gorgias_tickets"]}, "list_all_gorgias_tags", "list_all_gorgias_tickets"),
    ({"exclude_tools": ["list_all_gorgias_tags"]}, "list_all_gorgias_tags", "list_all_gorgias_tickets"),
    ({"tags": ["tags"]}, "list_all_gorgias_tickets", "list_all_gorgias_tags"),
    ({"read_only": True}, "delete_a_gorgias_tag_by_id", "list_all_gorgias_tags"),
    ({"methods": ["create"]}, "list_all_gorgias_tags", "create_a_gorgias_tag"),
]


@pytest.mark.parametrize(("options", "hidden", "kept"), FILTER_CASES)
async def test_dynamic_mode_applies_every_filter(options: dict[str, Any], hidden: str, kept: str) -> None:
    dynamic, runner = _dynamic("gorgias", _filter("gorgias", **options))
    await _assert_hidden(dynamic, hidden)
    await _assert_visible(dynamic, kept)
    found = set(await _search(dynamic, "ticket tag customer list get create update delete"))
    assert found <= set(runner.enabled)
    assert NoClient.created == 0


async def test_dynamic_mode_serves_unified_tools_only_with_unified() -> None:
    unified = importlib.import_module("gorgias.unified.tools")
    name = sorted(unified.UNIFIED_TOOL_NAMES)[0]
    dynamic, _ = _dynamic("gorgias")
    await _assert_hidden(dynamic, name)
    document = _document("gorgias")
    extra = unified.unified_tools_document()
    document = {
        **document,
        "tools": [*document["tools"], *extra["tools"]],
        "$defs": {**document.get("$defs", {}), **extra.get("$defs", {})},
    }
    dynamic, _ = _dynamic("gorgias", document=document)
    await _assert_visible(dynamic, name)


async def test_describe_tools_gives_the_complete_schema_and_the_result() -> None:
    dynamic, runner = _dynamic("gorgias")
    result = await dynamic.call(
        "describe_tools", {"names": ["list_all_gorgias_tickets", "update_a_gorgias_ticket_by_id"]}
    )
    tools = {t["name"]: t for t in result.structured_content["tools"]}
    for name, entry in tools.items():
        assert entry["inputSchema"] == runner.specs[name].tool.input_schema
        assert entry["description"] == runner.specs[name].tool.description
    assert tools["list_all_gorgias_tickets"]["returns"].startswith("One page: {result: [Ticket]")
    assert "next_cursor" in tools["list_all_gorgias_tickets"]["returns"]
    assert tools["update_a_gorgias_ticket_by_id"]["returns"].startswith("Ticket object: ")
    unknown = await dynamic.call("describe_tools", {"names": ["list_all_gorgias_tikets"]})
    assert unknown.is_error and "list_all_gorgias_tickets" in text_of(unknown)


async def test_search_tools_ranks_by_keywords_and_honours_limit() -> None:
    dynamic, _ = _dynamic("gorgias")
    names = await _search(dynamic, "add tags to a ticket", 5)
    assert len(names) == 5 and "create_a_gorgias_ticket_tag" in names[:3]
    result = await dynamic.call("search_tools", {"query": "customers", "limit": 3})
    entries = result.structured_content["tools"]
    assert len(entries) == 3 and all("customer" in e["name"] for e in entries)
    assert all(e["summary"] and "\n" not in e["summary"] and len(e["summary"]) <= 140 for e in entries)
    # names the query words cover rank first
    assert (await _search(dynamic, "list tickets", 1)) == ["list_all_gorgias_tickets"]
    assert (await _search(dynamic, "get ticket", 1)) == ["get_single_gorgias_ticket_by_id"]
    assert (await _search(dynamic, "update ticket status", 1)) == ["update_a_gorgias_ticket_by_id"]
    bad = await dynamic.call("search_tools", {"query": "x", "limit": 0})
    assert bad.is_error


@pytest.mark.parametrize("connector", CONNECTORS)
async def test_whole_api_reachable_in_dynamic_mode(connector: str) -> None:
    """Every tool of the static list is found by its own name and reaches its validation."""
    async with sandbox_session(connector, "--output-schemas", "full") as client:
        static_names = [tool.name for tool in (await client.list_tools()).tools]
    async with sandbox_session(connector, "--tool-mode", "dynamic") as client:
        for name in static_names:
            found = await client.call_tool("search_tools", {"query": name, "limit": 1})
            assert [t["name"] for t in found.structured_content["tools"]] == [name]
            # an argument no tool declares: refused by the tool's own validation, nothing sent
            called = await client.call_tool(
                "call_tool", {"name": name, "arguments": {"no_such_argument": 1}}
            )
            assert called.is_error
            assert text_of(called).startswith(f"Invalid arguments for `{name}`"), text_of(called)


async def test_call_tool_answers_like_a_static_call() -> None:
    calls = [
        ("list_all_gorgias_tickets", {"limit": 2}),
        ("get_single_gorgias_ticket_by_id", {}),
        ("get_single_gorgias_ticket_by_id", {"id": "x"}),
    ]
    async with sandbox_session("gorgias") as client:
        static = [await client.call_tool(name, args) for name, args in calls]
    async with sandbox_session("gorgias", "--tool-mode", "dynamic") as client:
        dynamic = [
            await client.call_tool("call_tool", {"name": name, "arguments": args})
            for name, args in calls
        ]
    for one, other in zip(static, dynamic, strict=True):
        assert one.is_error == other.is_error
        assert text_of(one) == text_of(other)
        assert one.structured_content == other.structured_content
    assert not static[0].is_error and len(static[0].structured_content["result"]) == 2


async def test_command_line_filters_apply_in_dynamic_mode() -> None:
    args = ("--tool-mode", "dynamic", "--read-only", "--toolsets", "default", "--exclude-tools",
            "list_all_gorgias_tags")
    async with sandbox_session("gorgias", *args) as client:
        found = await client.call_tool("search_tools", {"query": "tags tickets customers", "limit": 50})
        names = {t["name"] for t in found.structured_content["tools"]}
        assert names and "list_all_gorgias_tags" not in names
        assert not any(n.startswith(("delete_", "create_", "update_")) for n in names)
        assert all(n.startswith(("list_", "get_", "gorgias_")) for n in names)
        for hidden in ("delete_a_gorgias_tag_by_id", "list_all_gorgias_tags", "list_all_gorgias_users"):
            described = await client.call_tool("describe_tools", {"names": [hidden]})
            assert described.is_error
            called = await client.call_tool("call_tool", {"name": hidden, "arguments": {"id": 1}})
            assert called.is_error and "Unknown tools" in text_of(called)
        ok = await client.call_tool("call_tool", {"name": "list_all_gorgias_tickets", "arguments": {"limit": 1}})
        assert not ok.is_error and len(ok.structured_content["result"]) == 1
