"""Results shaped for agents: `fields`, `response_format`, the result cap and the text block.

The servers under test are the generated ones (`gorgias.mcp`, `zendesk.mcp`), run in-process on the
generated sandbox of their connector (seed 1, so every size below is deterministic), plus one
stdio session through the official `mcp` client. Token counts are o200k (`bench/tokens.py`).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from bench.tokens import count_tokens

from .conftest import server_env, stdio_session

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

#: Budgets of a default (concise, 30 items) ticket page, whole `tools/call` result on the wire.
GORGIAS_PAGE_BUDGET = 6_000
ZENDESK_PAGE_BUDGET = 5_000
UNCAPPED = 10**7


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def wire(result: Any) -> str:
    """The `CallToolResult` as a server sends it."""
    return _dumps(result.model_dump(by_alias=True, mode="json", exclude_none=True))


class Harness:
    def __init__(self, package: str) -> None:
        self.server = importlib.import_module(f"{package}.mcp.server")
        self.shaping = importlib.import_module(f"{package}.mcp.shaping")
        self.sandbox = importlib.import_module(f"{package}.sandbox").serve_in_thread(
            seed=1, rate_limit="off"
        )
        self.runners: list[Any] = []

    def runner(self, **config: Any) -> Any:
        _, runner = self.server.build_server(
            client_factory=lambda: self.server.AsyncClient(**self.sandbox.client_kwargs()),
            shaping_config=self.shaping.ShapingConfig(**config),
        )
        self.runners.append(runner)
        return runner

    async def call(self, runner: Any, tool: str, arguments: dict[str, Any]) -> Any:
        result = await runner.call(tool, arguments)
        assert not result.is_error, result.content[0].text
        return result


@pytest.fixture(scope="module")
def gorgias() -> Iterator[Harness]:
    harness = Harness("gorgias")
    yield harness
    harness.sandbox.stop()


@pytest.fixture(scope="module")
def zendesk() -> Iterator[Harness]:
    harness = Harness("zendesk")
    yield harness
    harness.sandbox.stop()


# --- concise pages within budget, still carrying what an agent needs ---------------------------


async def test_default_gorgias_ticket_page_is_concise_and_small(gorgias: Harness) -> None:
    concise = await gorgias.call(gorgias.runner(), "list_all_gorgias_tickets", {})
    detailed = await gorgias.call(
        gorgias.runner(max_result_tokens=UNCAPPED),
        "list_all_gorgias_tickets",
        {"response_format": "detailed"},
    )
    tokens = count_tokens(wire(concise))
    assert tokens <= GORGIAS_PAGE_BUDGET, tokens
    assert count_tokens(wire(detailed)) > 2 * tokens  # what concise saves
    short, full = concise.structured_content["result"], detailed.structured_content["result"]
    assert len(short) == len(full) == 30
    for item, whole in zip(short, full, strict=True):
        assert item["id"] == whole["id"]
        assert item["subject"] == whole["subject"]
        assert item["status"] == whole["status"]
        assert item["customer"] == {
            "id": whole["customer"]["id"],
            "name": whole["customer"]["name"],
        }
        if whole.get("assignee_user"):
            assert item["assignee_user"]["id"] == whole["assignee_user"]["id"]
            assert item["assignee_user"]["name"] == whole["assignee_user"]["name"]
        else:
            assert "assignee_user" not in item
        assert item.get("tags", []) == [{"id": t["id"], "name": t["name"]} for t in whole["tags"]]
        for date in ("created_datetime", "updated_datetime"):
            assert whole[date].startswith(item[date][:-1]) and item[date].endswith("Z")
    assert concise.structured_content["next_cursor"] == detailed.structured_content["next_cursor"]


async def test_default_zendesk_ticket_page_is_concise_and_small(zendesk: Harness) -> None:
    concise = await zendesk.call(zendesk.runner(), "list_all_zendesk_tickets", {})
    detailed = await zendesk.call(
        zendesk.runner(max_result_tokens=UNCAPPED),
        "list_all_zendesk_tickets",
        {"response_format": "detailed"},
    )
    tokens = count_tokens(wire(concise))
    assert tokens <= ZENDESK_PAGE_BUDGET, tokens
    short, full = concise.structured_content["result"], detailed.structured_content["result"]
    assert len(short) == len(full) == 30
    for item, whole in zip(short, full, strict=True):
        for key in ("id", "subject", "status", "requester_id", "assignee_id"):
            assert item.get(key) == whole.get(key)
        assert item.get("tags", []) == whole["tags"]
        for date in ("created_at", "updated_at"):
            assert whole[date].startswith(item[date][:-1]) and item[date].endswith("Z")


async def test_detailed_is_what_the_client_returns(gorgias: Harness) -> None:
    runner = gorgias.runner()
    result = await gorgias.call(
        runner, "get_single_gorgias_ticket_by_id", {"id": 4139, "response_format": "detailed"}
    )
    client = await runner.client()
    direct = await client.invoke("get_single_gorgias_ticket_by_id", {"id": 4139})
    assert result.structured_content == gorgias.server._structured(direct)


async def test_server_default_format_is_settable(gorgias: Harness) -> None:
    server, _ = gorgias.server.build_server()
    assert "response_format=concise unless asked otherwise" in server.instructions
    args = gorgias.server.parse_args(
        ["--response-format", "detailed", "--max-result-tokens", "900"]
    )
    assert (args.response_format, args.max_result_tokens) == ("detailed", 900)
    runner = gorgias.runner(response_format="detailed")
    schema = runner.specs["list_all_gorgias_tickets"].tool.input_schema  # describe_tools gives it
    assert schema["properties"]["response_format"]["default"] == "detailed"
    assert "default: detailed" in schema["properties"]["response_format"]["description"]
    # tools/list states it once (the first read tool); the others carry the bare argument
    listed = [t.input_schema["properties"].get("response_format") for t in runner.list_tools()]
    first = next(p for p in listed if p)
    assert first["default"] == "detailed" and "default: detailed" in first["description"]
    page = await gorgias.call(runner, "list_all_gorgias_tickets", {"limit": 2})
    assert "channels" in page.structured_content["result"][0]["customer"]  # nothing cut


def test_only_read_tools_take_the_shaping_arguments(gorgias: Harness) -> None:
    runner = gorgias.runner()
    for spec in runner.specs.values():
        properties = spec.tool.input_schema.get("properties", {})
        if spec.name in runner.shaped_tools:
            assert spec.read_only and properties["response_format"]["enum"] == [
                "concise",
                "detailed",
            ]
            assert properties["fields"]["type"] == "array"
        else:
            assert "response_format" not in properties
    assert "list_all_gorgias_tickets" in runner.shaped_tools
    assert "get_single_gorgias_customer_by_id" in runner.shaped_tools
    assert "create_a_gorgias_ticket" not in runner.shaped_tools


# --- fields ------------------------------------------------------------------------------------


async def test_fields_project_each_item(gorgias: Harness) -> None:
    runner = gorgias.runner()
    fields = ["id", "subject", "customer.email", "tags.name"]
    page = await gorgias.call(
        runner, "list_all_gorgias_tickets", {"fields": fields, "response_format": "detailed"}
    )
    full = await gorgias.call(
        gorgias.runner(max_result_tokens=UNCAPPED),
        "list_all_gorgias_tickets",
        {"response_format": "detailed"},
    )
    for item, whole in zip(
        page.structured_content["result"], full.structured_content["result"], strict=True
    ):
        assert item == {
            "id": whole["id"],
            "subject": whole["subject"],
            "customer": {"email": whole["customer"]["email"]},
            "tags": [{"name": t["name"]} for t in whole["tags"]],
        }
    concise = await gorgias.call(runner, "list_all_gorgias_tickets", {"fields": fields})
    first = concise.structured_content["result"][0]
    assert set(first) <= {"id", "subject", "customer", "tags"}
    assert first["customer"] == {"email": full.structured_content["result"][0]["customer"]["email"]}


async def test_unknown_field_is_reported(gorgias: Harness) -> None:
    runner = gorgias.runner()
    page = await gorgias.call(
        runner, "list_all_gorgias_tickets", {"fields": ["id", "subjekt"], "limit": 3}
    )
    assert "no such field in the result: subjekt" in page.content[0].text
    assert all(set(item) == {"id"} for item in page.structured_content["result"])


def test_concise_truncates_long_text_with_a_marker(gorgias: Harness) -> None:
    concise = gorgias.shaping.Concise(300)
    body = "x" * 1534
    item = concise.item(
        {"id": 1, "body_text": body, "sender": {"id": 7, "email": "a@b.example", "x": 1}},
        None,
        "",
    )
    assert item["body_text"].startswith("x" * 300)
    assert item["body_text"].endswith(
        '… [truncated 1,234 chars; use response_format=detailed or fields=["body_text"]]'
    )
    assert item["sender"] == {"id": 7, "email": "a@b.example"}
    # a text named in `fields` comes whole
    assert concise.item({"body_text": body}, {"body_text": {}}, "") == {"body_text": body}


# --- the cap: never silent, nothing lost, nothing repeated --------------------------------------


@pytest.mark.parametrize(
    ("package", "tool", "cursor", "cap"),
    [
        ("gorgias", "list_all_gorgias_tickets", "cursor", 1_000),
        ("gorgias", "list_all_gorgias_customers", "cursor", 600),
        ("zendesk", "list_all_zendesk_tickets", "page[after]", 800),
    ],
)
async def test_walking_a_list_under_a_tiny_cap_sees_every_item_once(
    package: str, tool: str, cursor: str, cap: int, request: pytest.FixtureRequest
) -> None:
    harness: Harness = request.getfixturevalue(package)
    reference, arguments = [], {"response_format": "detailed"}
    plain = harness.runner(max_result_tokens=UNCAPPED)
    while True:  # the list without a cap
        page = (await harness.call(plain, tool, arguments)).structured_content
        reference += [item["id"] for item in page["result"]]
        if not page.get("next_cursor"):
            break
        arguments = {**arguments, cursor: page["next_cursor"]}
    runner = harness.runner(max_result_tokens=cap)
    seen, arguments, cut = [], {}, 0
    while True:
        result = await harness.call(runner, tool, arguments)
        page = result.structured_content
        assert count_tokens(_dumps(page)) <= harness.shaping.estimate_tokens(page) <= cap
        if "truncated" in page:
            cut += 1
            info = page["truncated"]
            assert info["items_omitted"] > 0 and info["next_cursor"] == page["next_cursor"]
            assert f"pass next_cursor as `{cursor}`" in info["how_to_get_the_rest"]
            assert "items of this page to stay under" in result.content[0].text
        seen += [item["id"] for item in page["result"]]
        if not page.get("next_cursor"):
            break
        arguments = {cursor: page["next_cursor"]}
    assert cut > 0
    assert seen == reference and len(set(seen)) == len(seen)


async def test_an_object_over_the_cap_loses_fields_and_says_which(gorgias: Harness) -> None:
    runner = gorgias.runner(max_result_tokens=300)
    result = await gorgias.call(
        runner, "get_single_gorgias_ticket_by_id", {"id": 4139, "response_format": "detailed"}
    )
    data = result.structured_content
    omitted = data["truncated"]["omitted_fields"]
    assert omitted and data["id"] == 4139
    assert not set(omitted) & set(data)
    assert "`fields`" in data["truncated"]["how_to_get_the_rest"]
    assert count_tokens(_dumps(data)) <= 300
    assert "left out to stay under about 300 tokens" in result.content[0].text
    asked = await gorgias.call(
        runner, "get_single_gorgias_ticket_by_id", {"id": 4139, "fields": omitted[:2]}
    )
    assert set(omitted[:2]) & set(asked.structured_content)


async def test_estimate_never_undercounts_a_detailed_page(gorgias: Harness) -> None:
    runner = gorgias.runner()
    page = await gorgias.call(
        runner, "list_all_gorgias_tickets", {"limit": 100, "response_format": "detailed"}
    )
    data = page.structured_content
    assert gorgias.shaping.estimate_tokens(data) >= count_tokens(_dumps(data))
    capped = gorgias.runner()  # default cap: 100 detailed tickets do not fit
    result = await gorgias.call(
        capped, "list_all_gorgias_tickets", {"limit": 100, "response_format": "detailed"}
    )
    assert count_tokens(wire(result)) <= 20_000
    assert result.structured_content["truncated"]["items_omitted"] > 0


async def test_a_foreign_cursor_is_refused(gorgias: Harness) -> None:
    runner = gorgias.runner()
    result = await runner.call("list_all_gorgias_tickets", {"cursor": "mcp~x~~abc"})
    assert result.is_error
    assert "not a cursor of this server" in result.content[0].text


# --- the data once: structuredContent, with a summary line as text ------------------------------


async def test_official_client_gets_the_data_once(gorgias: Harness) -> None:
    env = server_env(gorgias.sandbox.base_url)
    async with stdio_session("--sandbox", env=env) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        result = await client.call_tool("list_all_gorgias_tickets", {"limit": 5})
    formats = [t.input_schema["properties"].get("response_format") for t in listed.values()]
    assert next(f for f in formats if f)["default"] == "concise"
    assert listed["list_all_gorgias_tickets"].input_schema["properties"]["response_format"][
        "enum"
    ] == ["concise", "detailed"]
    assert not result.is_error
    assert len(result.structured_content["result"]) == 5
    [text] = [block.text for block in result.content if block.type == "text"]
    assert text.startswith("5 items (concise); next_cursor: ")
    assert "\n" not in text and "subject" not in text
    async with stdio_session(
        "--sandbox", "--result-text", "json", "--max-result-tokens", "700", env=env
    ) as client:
        both = await client.call_tool("list_all_gorgias_tickets", {"limit": 5})
    summary, data = both.content[0].text.split("\n", 1)
    assert json.loads(data) == both.structured_content
    assert "truncated" in both.structured_content and "items of this page" in summary


@pytest.mark.parametrize("output_schemas", ["compact", "shared", "full"])
async def test_shaped_results_validate_against_advertised_output_schemas(
    gorgias: Harness, output_schemas: str
) -> None:
    """The official client checks structuredContent against each tool's outputSchema."""
    env = server_env(gorgias.sandbox.base_url)
    async with stdio_session("--sandbox", "--output-schemas", output_schemas, env=env) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert listed["list_all_gorgias_tickets"].output_schema is not None
        page = await client.call_tool("list_all_gorgias_tickets", {"limit": 5})
        picked = await client.call_tool(
            "list_all_gorgias_tickets", {"limit": 5, "fields": ["subject", "customer.email"]}
        )
        one = await client.call_tool("get_single_gorgias_ticket_by_id", {"id": 4139})
    for result in (page, picked, one):
        assert not result.is_error, result.content
    assert set(picked.structured_content["result"][0]) == {"subject", "customer"}
    assert one.structured_content["customer"] == {
        "id": one.structured_content["customer"]["id"],
        "name": one.structured_content["customer"]["name"],
    }


async def test_dynamic_call_tool_results_are_shaped(gorgias: Harness) -> None:
    env = server_env(gorgias.sandbox.base_url)
    async with stdio_session(
        "--sandbox", "--tool-mode", "dynamic", "--max-result-tokens", "600", env=env
    ) as client:
        described = await client.call_tool(
            "describe_tools", {"names": ["list_all_gorgias_tickets"]}
        )
        result = await client.call_tool(
            "call_tool", {"name": "list_all_gorgias_tickets", "arguments": {"limit": 30}}
        )
    assert "response_format" in described.content[0].text
    assert not result.is_error
    data = result.structured_content
    assert data["truncated"]["items_omitted"] > 0 and data["next_cursor"].startswith("mcp~")
    assert count_tokens(_dumps(data)) <= 600
