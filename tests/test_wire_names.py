"""Parameters whose wire name is not an identifier (`name` + `wire_name`): Zendesk's optional
`Idempotency-Key` header on ticket create. Clients and MCP tools take `idempotency_key`, the
request carries `Idempotency-Key`, OpenAPI and the docs name the header as sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from zendesk import AsyncZendesk, Zendesk
from zendesk.mcp.server import ToolRunner, load_tools

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
