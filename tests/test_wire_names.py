"""Parameters whose wire name is not an identifier (`name` + `wire_name`): Zendesk's optional
`Idempotency-Key` header on ticket create. Clients and MCP tools take `idempotency_key`, the
request carries `Idempotency-Key`, OpenAPI and the docs name the header as sent."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from zendesk import AsyncZendesk, Zendesk
from zendesk.mcp.server import ToolRunner, load_tools

from connectorgen.pipeline import validate
from tests.conftest import REPO_ROOT

CREATED = {"ticket": {"id": 35436, "subject": "Help", "status": "new"}, "audit": {"id": 1}}
TOOL = "create_a_zendesk_ticket"


def _recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(201, json=CREATED, headers={"x-idempotency-lookup": "miss"})

    return seen, httpx.MockTransport(handler)


def _client(transport: httpx.MockTransport) -> Zendesk:
    return Zendesk(subdomain="acme", email="me@example.com", api_token="t", rate_limit=False, max_retries=0,
                   http_client=httpx.Client(transport=transport))


def test_the_client_sends_the_header_under_its_wire_name() -> None:
    seen, transport = _recording()
    client = _client(transport)
    ticket = client.tickets.create(comment={"body": "Hi"}, subject="Help", idempotency_key="order-1234-v1")
    assert ticket.id == 35436
    client.tickets.create(comment={"body": "Hi"}, subject="Help")
    client.invoke(TOOL, {"comment": {"body": "Hi"}, "idempotency_key": "order-1234-v2"})
    assert [r.headers.get("Idempotency-Key") for r in seen] == ["order-1234-v1", None, "order-1234-v2"]
    assert all("idempotency_key" not in r.headers and b"idempotency" not in r.content for r in seen)
    assert json.loads(seen[0].content) == {"ticket": {"comment": {"body": "Hi"}, "subject": "Help"}}


def test_the_mcp_tool_takes_the_argument_and_sends_the_header() -> None:
    seen, transport = _recording()
    tools = load_tools()
    schema = tools[TOOL].tool.input_schema
    assert schema["properties"]["idempotency_key"]["maxLength"] == 255
    assert "Idempotency-Key" not in schema["properties"]

    def factory() -> AsyncZendesk:
        return AsyncZendesk(subdomain="acme", email="me@example.com", api_token="t", rate_limit=False,
                            http_client=httpx.AsyncClient(transport=transport))

    async def run() -> Any:
        runner = ToolRunner(tools, client_factory=factory)
        try:
            return await runner.call(TOOL, {"comment": {"body": "Hi"}, "idempotency_key": "k-1"})
        finally:
            await runner.aclose()

    result = asyncio.run(run())
    assert not result.is_error, result.content
    assert [r.headers.get("Idempotency-Key") for r in seen] == ["k-1"]


def test_openapi_and_docs_name_the_header_as_sent() -> None:
    document = json.loads((REPO_ROOT / "generated/zendesk/openapi/zendesk.openapi.json").read_text())
    params = document["paths"]["/api/v2/tickets"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in params] == [("Idempotency-Key", "header", False)]
    docs = (REPO_ROOT / "generated/zendesk/docs/resources/tickets.md").read_text()
    assert "`idempotency_key` (`Idempotency-Key` on the wire)" in docs


@pytest.mark.parametrize(
    ("location", "wire", "accepted"),
    [
        ("header", "Idempotency-Key", True),
        ("header", "X-Request.Id_2", True),
        ("header", "Request Note", False),
        ("header", "Authorization", False),
        ("header", "Bad|Name", False),
        ("query", "page[size]", True),
        ("query", "filter.type", True),
        ("query", "a&b", False),
        ("query", "a b", False),
    ],
)
def test_the_wire_name_rule(location: str, wire: str, accepted: bool, tmp_path: Path) -> None:
    root = tmp_path / "def"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "minimal", root)
    things = root / "resources" / "things.yaml"
    text = things.read_text()
    marker = "    description: Creates a thing and returns it.\n"
    param = (f"    parameters:\n      - {{name: extra, wire_name: {json.dumps(wire)}, in: {location}, "
             "description: An extra parameter., schema: {type: string}}\n")
    things.write_text(text.replace(marker, marker + param))
    connector, diagnostics = validate(root)
    rules = [d.rule for d in diagnostics]
    assert rules == ([] if accepted else ["wire-name"])
    if accepted:
        assert connector is not None
        op = next(o for o in connector.operations if o.tool == "create_a_demo_thing")
        argument = next(a for a in op.arguments if a.name == "extra")
        assert (argument.location, argument.wire_name) == (location, wire)
