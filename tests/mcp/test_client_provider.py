"""`ToolRunner(client_provider=...)`: a client the runner asks for on every call and never closes
(the gateway's per-account client, shared by MCP servers, proxy and unified routes)."""

from __future__ import annotations

from typing import Any

import pytest

from gorgias.mcp import server

TOOL = "get_single_gorgias_ticket_by_id"


class FakeClient:
    def __init__(self, label: str) -> None:
        self.label = label
        self.closed = False
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def invoke(self, name: str, args: dict[str, Any]) -> Any:
        self.calls.append((name, args))
        return {"id": 7, "label": self.label}

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize("tool_mode", ["static", "dynamic"])
async def test_provider_is_awaited_per_call_and_never_closed(tool_mode: str) -> None:
    clients = [FakeClient("first"), FakeClient("second")]
    handed: list[FakeClient] = []

    async def provider() -> FakeClient:
        client = clients[len(handed) % 2]
        handed.append(client)
        return client

    _server, runner = server.build_server(
        server.ToolFilter(tools=frozenset({"get_single_gorgias_ticket_by_id"})),
        client_provider=provider,
        tool_mode=tool_mode,
    )
    first = await runner.call("get_single_gorgias_ticket_by_id", {"id": 7})
    second = await runner.call("get_single_gorgias_ticket_by_id", {"id": 8})
    assert not first.is_error and not second.is_error
    assert first.structured_content["label"] == "first"
    assert second.structured_content["label"] == "second"
    assert [(name, args["id"]) for name, args in clients[0].calls] == [(TOOL, 7)]
    assert [(name, args["id"]) for name, args in clients[1].calls] == [(TOOL, 8)]
    await runner.aclose()
    assert not clients[0].closed and not clients[1].closed


async def test_factory_client_is_still_owned_and_closed() -> None:
    made: list[FakeClient] = []

    def factory() -> FakeClient:
        made.append(FakeClient("own"))
        return made[-1]

    runner = server.ToolRunner(server.load_tools(), client_factory=factory)
    await runner.call("get_single_gorgias_ticket_by_id", {"id": 1})
    await runner.call("get_single_gorgias_ticket_by_id", {"id": 2})
    assert len(made) == 1 and len(made[0].calls) == 2
    await runner.aclose()
    assert made[0].closed
