"""The generated MCP server (`python -m gorgias.mcp`, stdio) working against the sandbox: pointed at
it through the environment, and with `--sandbox` once the server has that flag."""

from __future__ import annotations

import json
import sys
from contextlib import asynccontextmanager
from typing import Any

import pytest

from .conftest import API_KEY, EMAIL, GENERATED_PYTHON

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])



def _pythonpath() -> str:
    return str(GENERATED_PYTHON)


@asynccontextmanager
async def session(*args: str, env: dict[str, str]) -> Any:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "gorgias.mcp", *args],
        env={"PYTHONPATH": _pythonpath(), **env},
    )
    async with Client(params) as client:
        yield client


def payload(result: Any) -> Any:
    if getattr(result, "structured_content", None) is not None:
        return result.structured_content
    text = "\n".join(block.text for block in result.content if block.type == "text")
    return json.loads(text)


async def test_mcp_server_against_the_sandbox(fresh: Any) -> None:
    sandbox = fresh(seed=3)
    env = {"GORGIAS_BASE_URL": sandbox.base_url, "GORGIAS_EMAIL": EMAIL, "GORGIAS_API_KEY": API_KEY}
    assert sandbox.env() == env
    async with session(env=env) as client:
        page = payload(await client.call_tool("list_all_gorgias_tickets", {"limit": 5}))
        assert len(page["result"]) == 5 and all(t["id"] and t["subject"] for t in page["result"])
        created = await client.call_tool(
            "create_a_gorgias_tag", {"name": "from-mcp", "description": "made by a tool"}
        )
        assert not created.is_error, created
        assert sandbox.store.col("tags").find("name", "from-mcp") is not None
        tag_id = sandbox.store.col("tags").find("name", "from-mcp")["id"]
        one = payload(await client.call_tool("get_single_gorgias_tag_by_id", {"id": tag_id}))
        assert "from-mcp" in json.dumps(one)
        missing = await client.call_tool("get_single_gorgias_tag_by_id", {"id": 999999})
        assert missing.is_error


async def test_gorgias_mcp_dash_dash_sandbox() -> None:
    async with session("--sandbox", env={}) as client:
        account = payload(await client.call_tool("get_single_gorgias_account_by_id", {}))
        assert "sandbox" in json.dumps(account)
        tickets = payload(await client.call_tool("list_all_gorgias_tickets", {"limit": 3}))
        assert len(tickets["result"]) == 3 and all(t["id"] for t in tickets["result"])
