"""The generated MCP server over stdio, driven by the `mcp` SDK's own client.

Each test starts `python -m gorgias.mcp` as a subprocess. Calls reach a loopback fake of Gorgias
serving the documented example payloads (`fake_gorgias.py`).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from .conftest import API_KEY, EMAIL, server_env, stdio_session
from .fake_gorgias import FakeGorgias, example

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def expected_names(document: dict[str, Any], **options: Any) -> set[str]:
    """Which tools the documented filter semantics keep (an oracle independent of the server code)."""
    kept = set()
    for tool in document["tools"]:
        meta, read_only = tool["_meta"], tool["annotations"]["readOnlyHint"]
        groups = {meta["kind"]}
        if meta["kind"] in ("list", "get") or (meta["kind"] == "custom" and read_only):
            groups.add("read")
        if meta["kind"] in ("create", "update", "delete") or (
            meta["kind"] == "custom" and not read_only
        ):
            groups.add("write")
        if options.get("methods") and not groups & set(options["methods"]):
            continue
        if options.get("tags") and not set(meta["tags"]) & set(options["tags"]):
            continue
        if options.get("tools") and tool["name"] not in options["tools"]:
            continue
        if tool["name"] in options.get("exclude_tools", ()):
            continue
        if options.get("read_only") and not read_only:
            continue
        kept.add(tool["name"])
    return kept


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_lists_every_operation(tools_document: dict[str, Any], mode: str) -> None:
    # `--output-schemas full`: each tool exactly as the tools file has it (the lean default is
    # tested in test_tool_modes.py)
    async with stdio_session("--output-schemas", "full", mode=mode) as client:
        listed = (await client.list_tools()).tools
    by_name = {tool.name: tool for tool in listed}
    assert set(by_name) == {tool["name"] for tool in tools_document["tools"]}
    assert len(listed) == len(tools_document["tools"])
    for entry in tools_document["tools"]:
        tool = by_name[entry["name"]]
        assert tool.title == entry["title"]
        assert tool.description == entry["description"]
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is entry["annotations"]["readOnlyHint"]
        assert tool.annotations.destructive_hint is entry["annotations"]["destructiveHint"]
        assert tool.meta == entry["_meta"]
        assert (tool.output_schema is None) == ("outputSchema" not in entry)
        # each tool is self-contained: every $ref resolves inside its own schema
        for schema in (tool.input_schema, tool.output_schema):
            text = json.dumps(schema)
            for name in {part.split('"')[0] for part in text.split('"#/$defs/')[1:]}:
                assert name in schema["$defs"], (tool.name, name)


FILTERS = [
    (["--read-only"], {"read_only": True}),
    (["--methods", "read"], {"methods": ["read"]}),
    (["--methods", "write"], {"methods": ["write"]}),
    (["--methods", "custom"], {"methods": ["custom"]}),
    (["--methods", "create,delete"], {"methods": ["create", "delete"]}),
    (["--tags", "tickets"], {"tags": ["tickets"]}),
    (
        ["--tags", "tags", "--tags", "teams", "--read-only"],
        {"tags": ["tags", "teams"], "read_only": True},
    ),
    (
        ["--tools", "list_all_gorgias_tickets,get_single_gorgias_ticket_by_id"],
        {"tools": ["list_all_gorgias_tickets", "get_single_gorgias_ticket_by_id"]},
    ),
    (
        ["--exclude-tools", "delete_a_gorgias_ticket_by_id"],
        {"exclude_tools": ["delete_a_gorgias_ticket_by_id"]},
    ),
    (
        [
            "--methods",
            "write",
            "--tags",
            "tickets",
            "--exclude-tools",
            "delete_a_gorgias_ticket_by_id",
        ],
        {
            "methods": ["write"],
            "tags": ["tickets"],
            "exclude_tools": ["delete_a_gorgias_ticket_by_id"],
        },
    ),
]


@pytest.mark.parametrize(("args", "options"), FILTERS, ids=[" ".join(a) for a, _ in FILTERS])
async def test_filters_change_the_list(
    tools_document: dict[str, Any], args: list[str], options: dict[str, Any]
) -> None:
    expected = expected_names(tools_document, **options)
    assert 0 < len(expected) < len(tools_document["tools"])
    async with stdio_session(*args) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed == expected


def test_filter_semantics_spot_checks(tools_document: dict[str, Any]) -> None:
    read = expected_names(tools_document, methods=["read"])
    write = expected_names(tools_document, methods=["write"])
    assert "list_all_gorgias_view_items_search" in read  # PUT that reads
    assert "gorgias_reporting_retrieve_stats" in read  # read-only custom
    assert "gorgias_customers_merge" in write  # custom that changes data
    assert read.isdisjoint(write)
    assert read | write == {tool["name"] for tool in tools_document["tools"]}


async def test_filtered_tool_call_is_refused(fake: FakeGorgias) -> None:
    async with stdio_session("--read-only", env=server_env(fake.base_url)) as client:
        result = await client.call_tool("delete_a_gorgias_tag_by_id", {"id": 123456})
        unknown = await client.call_tool("drop_all_the_tables", {})
    assert result.is_error
    assert "not enabled" in text_of(result) and "read-only" in text_of(result)
    assert unknown.is_error and "Unknown tool" in text_of(unknown)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_single_gorgias_tag_by_id", {}, "missing required argument `id`"),
        ("get_single_gorgias_tag_by_id", {"id": "abc"}, "`id`"),
        ("get_single_gorgias_tag_by_id", {"id": 1, "tag_id": 1}, "unknown argument `tag_id`"),
        ("list_all_gorgias_tags", {"limit": 1000}, "`limit`"),
        ("list_all_gorgias_tickets", {"order_by": "sideways"}, "`order_by`"),
        ("create_a_gorgias_file", {"files": ["not base64!"]}, "`files`"),
    ],
)
async def test_invalid_arguments_are_reported_before_any_request(
    fake: FakeGorgias, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with stdio_session(env=server_env(fake.base_url)) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert expected in text_of(result)
    assert "nothing was sent" in text_of(result)
    assert fake.requests == []


async def test_read(fake: FakeGorgias) -> None:
    tag = example("tag_get.json")
    tags = example("tags_list.json")
    # detailed: the data as the API sent it; --result-text json: a summary line, then the JSON
    async with stdio_session(
        "--response-format", "detailed", "--result-text", "json", env=server_env(fake.base_url)
    ) as client:
        one = await client.call_tool("get_single_gorgias_tag_by_id", {"id": 123456})
        page = await client.call_tool("list_all_gorgias_tags", {"limit": 10})
    assert not one.is_error, text_of(one)
    assert one.structured_content == tag
    summary, data = text_of(one).split("\n", 1)
    assert summary == "1 object (detailed)." and json.loads(data) == tag
    assert not page.is_error, text_of(page)
    assert page.structured_content["result"] == tags["data"]
    assert page.structured_content["next_cursor"] == tags["meta"]["next_cursor"]
    assert json.loads(text_of(page).split("\n", 1)[1]) == page.structured_content
    first, second = fake.requests
    assert (first.method, first.path) == ("GET", "/api/tags/123456")
    assert (
        first.headers["authorization"]
        == "Basic " + base64.b64encode(f"{EMAIL}:{API_KEY}".encode()).decode()
    )
    assert (second.method, second.path, second.query["limit"]) == ("GET", "/api/tags", ["10"])


async def test_write_and_delete(fake: FakeGorgias) -> None:
    async with stdio_session(env=server_env(fake.base_url)) as client:
        created = await client.call_tool(
            "create_a_gorgias_tag", {"name": "vip", "description": "Very important"}
        )
        deleted = await client.call_tool("delete_a_gorgias_tag_by_id", {"id": 123456})
    assert not created.is_error, text_of(created)
    assert created.structured_content["name"] == "vip"
    assert not deleted.is_error, text_of(deleted)
    assert deleted.structured_content["ok"] is True
    assert deleted.structured_content["status"] == 204
    post, delete = fake.requests
    assert (post.method, post.path) == ("POST", "/api/tags")
    assert post.body == {"name": "vip", "description": "Very important"}
    assert (delete.method, delete.path) == ("DELETE", "/api/tags/123456")


async def test_api_error_carries_message_and_field_errors(fake: FakeGorgias) -> None:
    arguments = {
        "customer": {"email": "jane@example.com"},
        "messages": [{"channel": "email", "via": "api", "from_agent": False, "body_text": "Hello"}],
    }
    async with stdio_session(env=server_env(fake.base_url)) as client:
        result = await client.call_tool("create_a_gorgias_ticket", arguments)
    text = text_of(result)
    assert result.is_error
    assert "400" in text and "Failed to create ticket" in text
    assert "sender" in text and "channel" in text and "Missing data for required field" in text


async def test_rate_limit_says_when_to_retry(fake: FakeGorgias) -> None:
    fake.route(
        "GET",
        r"/api/teams/\d+",
        status=429,
        body={"message": "Too many requests"},
        **{"Retry-After": "120"},
    )
    # `--max-retries 0`: the client would otherwise wait (capped) and retry before giving up
    async with stdio_session("--max-retries", "0", env=server_env(fake.base_url)) as client:
        result = await client.call_tool("get_single_gorgias_team_by_id", {"id": 1})
    text = text_of(result)
    assert result.is_error
    assert "429" in text and "rate limit" in text
    assert "Retry after 120 seconds" in text
    assert len(fake.requests) == 1


async def test_no_secret_in_error_text(fake: FakeGorgias) -> None:
    token = base64.b64encode(f"{EMAIL}:{API_KEY}".encode()).decode()
    fake.route(
        "GET",
        r"/api/users/\d+",
        status=401,
        body={"error": {"msg": f"Bad credentials: key {API_KEY} (Authorization: Basic {token})"}},
    )
    async with stdio_session(env=server_env(fake.base_url)) as client:
        result = await client.call_tool("get_single_gorgias_user_by_id", {"id": 7})
    text = text_of(result)
    assert result.is_error and "401" in text
    assert API_KEY not in text and token not in text


def test_missing_credentials_stop_the_server_at_start(fake: FakeGorgias) -> None:
    """Without credentials a stdio server exits at once with one line on stderr (moved to
    tests/mcp/test_support_actions.py, which checks the exact text)."""
    env = server_env(
        fake.base_url, GORGIAS_EMAIL="", GORGIAS_API_KEY="", GORGIAS_SUBDOMAIN="", GORGIAS_BASE_URL=""
    )
    done = subprocess.run(
        [sys.executable, "-m", "gorgias.mcp"],
        env={**os.environ, **env},
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "GORGIAS_SUBDOMAIN" in done.stderr
    assert fake.requests == []


async def test_upload_sends_decoded_bytes(fake: FakeGorgias) -> None:
    fake.route("POST", "/api/upload", body=example("file_upload.json"))
    content = b"\x89PNG\r\n\x1a\n fake image bytes"
    async with stdio_session(env=server_env(fake.base_url)) as client:
        result = await client.call_tool(
            "create_a_gorgias_file", {"files": [base64.b64encode(content).decode()]}
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content["result"] == example("file_upload.json")
    (upload,) = fake.requests
    assert (upload.method, upload.path) == ("POST", "/api/upload")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert content in upload.body


async def test_unified_tools_only_with_the_flag(fake: FakeGorgias) -> None:
    tag = example("tag_get.json")
    async with stdio_session(env=server_env(fake.base_url)) as client:
        plain = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("get_single_unified_ticketing_tag_by_id", {"id": "123456"})
    assert not any(name.startswith(("list_all_unified_", "get_single_unified_")) for name in plain)
    assert refused.is_error
    async with stdio_session("--unified", env=server_env(fake.base_url)) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool(
            "get_single_unified_ticketing_tag_by_id", {"id": "123456", "response_format": "detailed"}
        )
    assert plain < listed
    assert "list_all_unified_ticketing_tickets" in listed
    assert not result.is_error, text_of(result)
    record = result.structured_content
    assert record["id"] == str(tag["id"])  # unified ids are strings
    assert record["name"] == tag["name"]
    assert record["remote_data"] == tag
    assert (fake.requests[-1].method, fake.requests[-1].path) == ("GET", "/api/tags/123456")
