"""Support actions an agent can do in one call, and errors it can act on.

- declared argument defaults (`defaults:` in the definition): an internal note or a reply on a
  Gorgias ticket needs only the ticket and the text; the sender is the current user;
- validation errors name each missing argument once and say where ids come from; an unknown tool
  name answers with the nearest names;
- ids are checked against int64 bounds (raw and unified) before anything is sent;
- a server without credentials stops at start with one line on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from .conftest import server_env, stdio_session
from .fake_gorgias import FakeGorgias, example

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

INT64_MAX = 2**63 - 1
NOTE = "create_a_gorgias_message"


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


class StubClient:
    """Stands in for the async client: records `invoke` calls, answers from a table."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def invoke(self, tool: str, arguments: dict[str, Any]) -> Any:
        self.calls.append((tool, dict(arguments)))
        answer = self.answers[tool]
        if isinstance(answer, Exception):
            raise answer
        return answer(arguments) if callable(answer) else answer


def runner_with(tools_document: dict[str, Any], stub: StubClient) -> Any:
    from gorgias.mcp.server import ToolRunner, load_tools

    return ToolRunner(load_tools(tools_document), client_factory=lambda: stub)


ME = {"id": 11, "email": "me@example.com", "name": "Me"}


def echo(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": 90001, **arguments}


# --- declared defaults --------------------------------------------------------------------------


def test_note_schema_requires_only_the_ticket_and_describes_the_defaults(
    tools_document: dict[str, Any],
) -> None:
    (tool,) = [t for t in tools_document["tools"] if t["name"] == NOTE]
    assert tool["inputSchema"]["required"] == ["ticket_id"]
    assert (
        'Left out, the server fills in: `channel` = "internal-note" (an internal note) when '
        "`public` is false; `public` = false (notes stay internal) when `channel` is "
        '"internal-note"; `channel` = the ticket\'s own channel, for a reply (channel from '
        '`get_single_gorgias_ticket_by_id` with id `ticket_id`); `via` = "api"; `from_agent` = '
        "true (written by the helpdesk); `sender` = the user the server's credentials belong to "
        "(id, email from `get_single_gorgias_user_by_id` with id 0)."
    ) in tool["description"]
    assert tools_document["defaults"][NOTE][-1] == {
        "argument": "sender",
        "from_operation": "get_single_gorgias_user_by_id",
        "arguments": {"id": 0},
        "pick": {"id": "id", "email": "email"},
    }


async def test_internal_note_in_one_call(tools_document: dict[str, Any]) -> None:
    stub = StubClient({"get_single_gorgias_user_by_id": ME, NOTE: echo})
    runner = runner_with(tools_document, stub)
    first = await runner.call(
        NOTE, {"ticket_id": 4001, "body_text": "Carrier called", "public": False}
    )
    second = await runner.call(
        NOTE, {"ticket_id": 4002, "body_text": "Again", "channel": "internal-note"}
    )
    assert not first.is_error, text_of(first)
    assert not second.is_error, text_of(second)
    sent = {
        "ticket_id": 4001,
        "body_text": "Carrier called",
        "public": False,
        "channel": "internal-note",
        "via": "api",
        "from_agent": True,
        "sender": {"id": 11, "email": "me@example.com"},
    }
    assert stub.calls == [
        ("get_single_gorgias_user_by_id", {"id": 0}),
        (NOTE, sent),
        # the current user is looked up once per server; `channel: internal-note` implies private
        (NOTE, {**sent, "ticket_id": 4002, "body_text": "Again"}),
    ]


async def test_reply_takes_the_ticket_channel(tools_document: dict[str, Any]) -> None:
    stub = StubClient(
        {
            "get_single_gorgias_user_by_id": ME,
            "get_single_gorgias_ticket_by_id": {"id": 4001, "channel": "chat"},
            NOTE: echo,
        }
    )
    runner = runner_with(tools_document, stub)
    result = await runner.call(NOTE, {"ticket_id": 4001, "body_text": "On its way"})
    assert not result.is_error, text_of(result)
    assert stub.calls[:2] == [
        ("get_single_gorgias_ticket_by_id", {"id": 4001}),
        ("get_single_gorgias_user_by_id", {"id": 0}),
    ]
    assert stub.calls[2] == (
        NOTE,
        {
            "ticket_id": 4001,
            "body_text": "On its way",
            "channel": "chat",
            "via": "api",
            "from_agent": True,
            "sender": {"id": 11, "email": "me@example.com"},
        },
    )


async def test_given_arguments_win_over_defaults(tools_document: dict[str, Any]) -> None:
    stub = StubClient({NOTE: echo})
    runner = runner_with(tools_document, stub)
    given = {
        "ticket_id": 4001,
        "body_text": "Imported",
        "channel": "email",
        "via": "helpdesk",
        "from_agent": False,
        "sender": {"email": "jane@example.com"},
    }
    result = await runner.call(NOTE, given)
    assert not result.is_error, text_of(result)
    assert stub.calls == [(NOTE, given)]  # no lookup at all


async def test_failed_lookup_says_what_to_pass(tools_document: dict[str, Any]) -> None:
    from gorgias import APIConnectionError

    stub = StubClient(
        {
            "get_single_gorgias_user_by_id": APIConnectionError(
                "refused", method="GET", path="/api/users/0"
            ),
            NOTE: echo,
        }
    )
    runner = runner_with(tools_document, stub)
    result = await runner.call(
        NOTE, {"ticket_id": 4001, "body_text": "x", "channel": "internal-note"}
    )
    assert result.is_error
    assert text_of(result).startswith(
        "`create_a_gorgias_message` could not fill in `sender` from `get_single_gorgias_user_by_id`; "
        "nothing was sent. Pass `sender` yourself. The lookup said: "
    )
    assert [tool for tool, _ in stub.calls] == ["get_single_gorgias_user_by_id"]


async def test_internal_note_over_stdio(fake: FakeGorgias) -> None:
    user = example("user_get.json")
    fake.route("GET", r"/api/users/0", body=user)
    fake.route("POST", r"/api/tickets/\d+/messages", status=201, body=example("message_get.json"))
    async with stdio_session(env=server_env(fake.base_url)) as client:
        result = await client.call_tool(
            NOTE, {"ticket_id": 4001, "body_text": "Waiting for the carrier", "public": False}
        )
    assert not result.is_error, text_of(result)
    lookup, post = fake.requests
    assert (lookup.method, lookup.path) == ("GET", "/api/users/0")
    assert (post.method, post.path) == ("POST", "/api/tickets/4001/messages")
    assert post.body == {
        "channel": "internal-note",
        "via": "api",
        "from_agent": True,
        "sender": {"id": user["id"], "email": user["email"]},
        "body_text": "Waiting for the carrier",
        "public": False,
    }


# --- error texts --------------------------------------------------------------------------------


async def test_missing_arguments_are_named_once_with_where_ids_come_from(
    tools_document: dict[str, Any],
) -> None:
    runner = runner_with(tools_document, StubClient({}))
    result = await runner.call("get_single_gorgias_message_by_id", {})
    assert result.is_error
    assert text_of(result) == (
        "Invalid arguments for `get_single_gorgias_message_by_id`; nothing was sent:\n"
        "- missing required argument `ticket_id` (ids come from `list_all_gorgias_tickets`)\n"
        "- missing required argument `id`\n"
        "Fix them and call again (the tool's inputSchema lists every argument)."
    )
    note = await runner.call(NOTE, {"body_text": "x"})
    assert text_of(note) == (
        "Invalid arguments for `create_a_gorgias_message`; nothing was sent:\n"
        "- missing required argument `ticket_id` (ids come from `list_all_gorgias_tickets`)\n"
        "Fix them and call again (the tool's inputSchema lists every argument)."
    )


async def test_declared_how_to_find_says_where_an_id_comes_from(
    tools_document: dict[str, Any],
) -> None:
    runner = runner_with(tools_document, StubClient({}))
    result = await runner.call("update_a_gorgias_ticket_field_value_by_id", {"value": "x"})
    assert text_of(result) == (
        "Invalid arguments for `update_a_gorgias_ticket_field_value_by_id`; nothing was sent:\n"
        "- missing required argument `ticket_id` (ids come from `list_all_gorgias_tickets`)\n"
        "- missing required argument `id` (ids of ticket fields come from "
        '`list_all_gorgias_custom_fields` with object_type "Ticket")\n'
        "Fix them and call again (the tool's inputSchema lists every argument)."
    )


async def test_unknown_tool_answers_with_the_nearest_names(tools_document: dict[str, Any]) -> None:
    runner = runner_with(tools_document, StubClient({}))
    result = await runner.call("list_gorgias_tickets", {})
    assert result.is_error
    assert text_of(result) == (
        "Unknown tool `list_gorgias_tickets`. Nearest names: list_all_gorgias_tickets, "
        "list_all_gorgias_ticket_tags, list_all_gorgias_ticket_fields."
    )
    nothing = await runner.call("zzzz", {})
    assert text_of(nothing) == "Unknown tool `zzzz`. See tools/list."


# --- int64 ids ----------------------------------------------------------------------------------


def test_integer_ids_carry_int64_bounds(tools_document: dict[str, Any]) -> None:
    (tag,) = [t for t in tools_document["tools"] if t["name"] == "get_single_gorgias_tag_by_id"]
    assert tag["inputSchema"]["properties"]["id"]["maximum"] == INT64_MAX
    assert tag["inputSchema"]["properties"]["id"]["minimum"] == 0  # the declared bound stays


async def test_mcp_refuses_ids_beyond_int64(tools_document: dict[str, Any]) -> None:
    stub = StubClient({})
    runner = runner_with(tools_document, stub)
    result = await runner.call("get_single_gorgias_tag_by_id", {"id": INT64_MAX + 1})
    assert result.is_error
    assert text_of(result) == (
        "Invalid arguments for `get_single_gorgias_tag_by_id`; nothing was sent:\n"
        "- `id`: must be at most 9223372036854775807, got 9223372036854775808\n"
        "Fix them and call again (the tool's inputSchema lists every argument)."
    )
    assert stub.calls == []


def test_client_refuses_out_of_range_ids_with_a_typed_error() -> None:
    import gorgias

    client = gorgias.Gorgias(base_url="http://127.0.0.1:9", email="a@example.com", api_key="k")
    with pytest.raises(gorgias.InvalidArgumentsError) as big:
        client.invoke("get_single_gorgias_tag_by_id", {"id": INT64_MAX + 1})
    assert big.value.errors == {
        "id": [
            "must be between -9223372036854775808 and 9223372036854775807 (a 64-bit integer), "
            "got 9223372036854775808"
        ]
    }
    with pytest.raises(gorgias.InvalidArgumentsError) as negative:
        client.invoke("get_single_gorgias_tag_by_id", {"id": -5})
    assert negative.value.errors == {"id": ["input should be greater than or equal to 0"]}
    with pytest.raises(gorgias.InvalidArgumentsError) as listed:
        client.invoke("list_all_gorgias_tickets", {"ticket_ids": [1, 2**64]})
    assert list(listed.value.errors) == ["ticket_ids"]


def test_unified_ids_are_checked_like_raw_ids() -> None:
    import gorgias

    client = gorgias.Gorgias(base_url="http://127.0.0.1:9", email="a@example.com", api_key="k")
    tool = "get_single_unified_ticketing_tag_by_id"
    with pytest.raises(gorgias.InvalidArgumentsError) as negative:  # not sent upstream any more
        client.unified.invoke(tool, {"id": "-5"})
    assert negative.value.errors == {"id": ["input should be greater than or equal to 0"]}
    with pytest.raises(gorgias.InvalidArgumentsError) as big:
        client.unified.invoke(tool, {"id": str(2**64)})
    assert big.value.errors == {
        "id": ["expected a numeric id within 64 bits, got '18446744073709551616'"]
    }


# --- start-up -----------------------------------------------------------------------------------


def run_server(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GORGIAS_")}
    return subprocess.run(
        [sys.executable, "-m", "gorgias.mcp", *args],
        env={**clean, **server_env("http://127.0.0.1:9", **env)},
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_server_without_credentials_exits_at_start_with_one_line() -> None:
    done = run_server(
        GORGIAS_EMAIL="", GORGIAS_API_KEY="", GORGIAS_SUBDOMAIN="", GORGIAS_BASE_URL=""
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "gorgias-mcp: cannot start: missing subdomain: pass subdomain=... or set GORGIAS_SUBDOMAIN "
        "(or base_url=) (--help lists the environment; --sandbox serves a local sandbox without an "
        "account)\n"
    )
    no_key = run_server(GORGIAS_API_KEY="")
    assert no_key.returncode == 2
    assert no_key.stderr == (
        "gorgias-mcp: cannot start: Basic auth needs both email= and api_key= (--help lists the "
        "environment; --sandbox serves a local sandbox without an account)\n"
    )


async def test_sandbox_needs_no_credentials() -> None:
    env = server_env(
        "", GORGIAS_EMAIL="", GORGIAS_API_KEY="", GORGIAS_SUBDOMAIN="", GORGIAS_BASE_URL=""
    )
    async with stdio_session("--sandbox", env=env) as client:
        result = await client.call_tool("get_single_gorgias_user_by_id", {"id": 0})
    assert not result.is_error, text_of(result)
    assert result.structured_content["id"] > 0


# --- the support workflow (bench/bench_mcp_workflow.py) -----------------------------------------


async def test_support_workflow_completes_against_the_sandbox() -> None:
    from bench.bench_mcp_workflow import workflow

    run = await workflow("static")
    assert run.errors == []
    # one call per step; the internal note needs no lookup of a sender by the agent
    assert [row.call for row in run.rows] == [
        "list_all_gorgias_tickets",
        "get_single_gorgias_ticket_by_id",
        "list_all_gorgias_messages",
        "create_a_gorgias_ticket_tag",
        "create_a_gorgias_message",
        "list_all_gorgias_custom_fields",
        "update_a_gorgias_ticket_field_value_by_id",
    ]
    assert run.list_tokens > 0 and all(row.result > 0 for row in run.rows)


async def test_support_workflow_completes_in_dynamic_mode() -> None:
    from bench.bench_mcp_workflow import workflow

    run = await workflow("dynamic")
    assert run.errors == []  # every search found the tool it looked for, every call succeeded
    assert run.tool_count == 3
    assert {row.call for row in run.rows} == {"search_tools", "describe_tools", "call_tool"}
    assert [row.call for row in run.rows].count("call_tool") == 7
