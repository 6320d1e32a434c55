"""The Zendesk client, MCP server and sandbox together: every paginated list read page by page.

The generated Zendesk sandbox (seeded from `spec/zendesk/sandbox/sandbox.yaml`) is started with
page size 2. Each paginated list operation of the definition (cursor, offset, time-based and
cursor-based incremental exports) is read with page size 2 through the client's auto-pagination
and through its MCP tool, following `next_cursor` by hand: every item must come back exactly
once, in full pages, and the same items as one read with a large page.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectorgen import ir
from connectorgen.pipeline import build

REPO = Path(__file__).resolve().parents[1]
CONNECTOR = build(REPO / "spec" / "zendesk")
AUTH = {"email": "sandbox@example.com", "api_token": "sandbox"}

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

#: Paginated lists the sandbox cannot fill, with the reason.
EMPTY_IN_SANDBOX = {
    "zendesk_views_list_tickets": "the sandbox does not evaluate view conditions",
    "zendesk_views_execute": "the sandbox does not evaluate view conditions",
}

LISTS = [
    op for op in CONNECTOR.operations
    if op.response.envelope.paginator is not None and not op.same_endpoint_as and op.tool not in EMPTY_IN_SANDBOX
]


def _resource(op: ir.Operation) -> ir.Resource:
    return next(r for r in CONNECTOR.resources if op in r.operations)


def _limit_argument(op: ir.Operation) -> ir.Argument:
    paginator = op.response.envelope.paginator
    assert paginator is not None and paginator.limit_param
    return next(a for a in op.arguments if a.location == "query" and a.wire_name == paginator.limit_param)


def _key(item: Any) -> Any:
    """The id of an item (a model keeps an id of the wrong type raw, in model_invalid_fields)."""
    if isinstance(item, dict):
        data = item
    else:
        data = {**item.model_dump(), **getattr(item, "model_invalid_fields", {})}
    return data.get("id") if data.get("id") is not None else data.get("name")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from zendesk.sandbox.server import serve_in_thread

    handle = serve_in_thread(port=0, quiet=True, page_size=2, rate_limit="off", seed=1)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(sandbox: Any) -> Any:
    from zendesk import Zendesk

    return Zendesk(base_url=sandbox.base_url, rate_limit=False, **AUTH)


@pytest.fixture(scope="module")
def required(client: Any) -> dict[str, Any]:
    """A value for every required argument of the lists (path ids from the seeded data)."""
    ticket = client.tickets.list().first_page().items[0]
    return {
        "ticket_id": ticket.id,
        "user_id": ticket.requester_id,
        "view_id": client.views.list().first_page().items[0].id,
        "start_time": 0,
        "query": "type:user",
        "filter": {"type": "user"},
    }


def _arguments(op: ir.Operation, required: dict[str, Any], *, python: bool) -> dict[str, Any]:
    return {(a.python_name if python else a.name): required[a.name] for a in op.arguments if a.required}


def test_the_lists_cover_every_paginator() -> None:
    assert {op.response.envelope.name for op in LISTS} == {"cursor_list", "offset_list", "time_export", "cursor_export",
                                                            "export_list"}
    assert len(LISTS) >= 25


def test_the_seed_is_the_definitions(client: Any) -> None:
    admin = client.users.me()
    assert (admin.name, admin.role) == ("Sandbox Admin", "admin")
    tickets = list(client.tickets.list(page_size_=100))
    assert len(tickets) == 30 and min(t.id for t in tickets) == 4001
    roles = {client.users.get(t.requester_id).role for t in tickets[:5]}
    assert roles == {"end-user"}
    assert {g.name for g in client.groups.list()} == {"Support", "Billing", "Escalations"}


@pytest.mark.parametrize("op", LISTS, ids=[op.tool for op in LISTS])
def test_client_reads_every_item_once_with_page_size_2(client: Any, required: dict[str, Any], op: ir.Operation) -> None:
    method = getattr(getattr(client, _resource(op).client_attribute), op.method_name)
    arguments = _arguments(op, required, python=True)
    small = {_limit_argument(op).python_name: 2}
    items = [_key(item) for item in method(**arguments, **small)]
    assert len(items) >= 3, "too few items for several pages"
    assert len(items) == len(set(items)), "an item came back twice"
    pages = [len(page) for page in method(**arguments, **small).pages()]
    assert pages == [2] * (len(items) // 2) + ([len(items) % 2] if len(items) % 2 else []), pages
    assert len(pages) == math.ceil(len(items) / 2)
    whole = [_key(item) for item in method(**arguments, **{_limit_argument(op).python_name: 100})]
    assert sorted(map(str, whole)) == sorted(map(str, items))


#: One list per paginator for the MCP walk (each starts an MCP tool runner of its own).
MCP_LISTS = [next(op for op in LISTS if op.response.envelope.name == name)
             for name in ("cursor_list", "offset_list", "time_export", "cursor_export")]
MCP_LISTS += [op for op in LISTS if op.tool in ("list_all_zendesk_ticket_comments", "list_all_zendesk_tags")]


@pytest.mark.parametrize("op", MCP_LISTS, ids=[op.tool for op in MCP_LISTS])
def test_mcp_list_tool_reads_every_item_once(sandbox: Any, client: Any, required: dict[str, Any], op: ir.Operation) -> None:
    from zendesk import AsyncZendesk
    from zendesk.mcp.server import ToolRunner, load_tools

    paginator = op.response.envelope.paginator
    assert paginator is not None
    limit = _limit_argument(op).name
    arguments = {**_arguments(op, required, python=False), limit: 2}

    async def walk() -> tuple[list[Any], list[Any]]:
        runner = ToolRunner(load_tools(), client_factory=lambda: AsyncZendesk(base_url=sandbox.base_url, rate_limit=False, **AUTH))
        seen: list[Any] = []
        cursors: list[Any] = []
        args = dict(arguments)
        try:
            for _ in range(50):
                result = await runner.call(op.tool, args)
                assert not result.is_error, result.content
                page = result.structured_content
                seen += [_key(item) for item in page["result"]]
                cursors.append(page["next_cursor"])
                if page["next_cursor"] is None:
                    break
                args = {**arguments, paginator.cursor_param: page["next_cursor"]}
        finally:
            await runner.aclose()
        return seen, cursors

    seen, cursors = asyncio.run(walk())
    method = getattr(getattr(client, _resource(op).client_attribute), op.method_name)
    expected = [_key(item) for item in method(**_arguments(op, required, python=True), **{_limit_argument(op).python_name: 2})]
    assert seen == expected
    assert cursors[-1] is None and all(isinstance(c, str) and c for c in cursors[:-1])
