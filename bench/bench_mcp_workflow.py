"""MCP workflow bench: the tokens one support workflow costs an agent, end to end.

    python bench/bench_mcp_workflow.py      (or: python bench/run.py mcp_workflow)

The official `mcp` client drives `python -m gorgias.mcp --sandbox` over stdio (a fresh server
and sandbox per mode) through: find open tickets -> read one with its messages -> tag it -> post
an internal note -> set a custom field. Counted in o200k tokens (`bench/tokens.py`): the
`tools/list` result, and the JSON of every `tools/call` request (name + arguments) and result
(the wire `CallToolResult`), as a model would see them.

Modes: `static` (every tool listed). `dynamic` (`--tool-mode dynamic`: search_tools,
describe_tools, call_tool) when the server has it: each tool the workflow needs is found with
`search_tools`, described once with `describe_tools`, then run through `call_tool`; its rows are
left out, with a note, on a server without the option.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GENERATED_PYTHON = REPO / "generated" / "gorgias" / "python"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.tokens import count_tokens, self_check  # noqa: E402

NOTE_TEXT = "Customer called back; waiting for the carrier's answer."
TAG = "follow-up"

#: The search words an agent would type for each tool the workflow needs (dynamic mode).
SEARCHES = {
    "list_all_gorgias_tickets": "list tickets",
    "get_single_gorgias_ticket_by_id": "get ticket",
    "list_all_gorgias_messages": "list messages of a ticket",
    "create_a_gorgias_ticket_tag": "add tags to a ticket",
    "create_a_gorgias_message": "internal note message on a ticket",
    "list_all_gorgias_custom_fields": "custom fields",
    "update_a_gorgias_ticket_field_value_by_id": "set ticket custom field value",
}


def _wire(model: Any) -> str:
    return json.dumps(
        model.model_dump(by_alias=True, mode="json", exclude_none=True),
        separators=(",", ":"),
        ensure_ascii=False,
    )


@dataclass
class Row:
    step: str
    call: str
    request: int
    result: int


@dataclass
class Run:
    mode: str
    list_tokens: int = 0
    tool_count: int = 0
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.list_tokens + sum(r.request + r.result for r in self.rows)


class Agent:
    """Calls tools the way the mode allows, counting every request and result."""

    def __init__(self, client: Any, run: Run) -> None:
        self.client = client
        self.run = run
        self.described: set[str] = set()
        self.dynamic = run.mode == "dynamic"

    async def _raw(self, step: str, name: str, arguments: dict[str, Any]) -> Any:
        request = json.dumps({"name": name, "arguments": arguments}, separators=(",", ":"))
        result = await self.client.call_tool(name, arguments)
        self.run.rows.append(Row(step, name, count_tokens(request), count_tokens(_wire(result))))
        if result.is_error:
            text = " ".join(b.text for b in result.content if b.type == "text")
            self.run.errors.append(f"{step}: {name}: {text[:300]}")
        return result

    async def call(self, step: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if not self.dynamic:
            result = await self._raw(step, tool, arguments)
        else:
            if tool not in self.described:
                found = await self._raw(step, "search_tools", {"query": SEARCHES[tool]})
                if tool not in _wire(found):
                    self.run.errors.append(f"{step}: search_tools {SEARCHES[tool]!r} missed {tool}")
                await self._raw(step, "describe_tools", {"names": [tool]})
                self.described.add(tool)
            result = await self._raw(step, "call_tool", {"name": tool, "arguments": arguments})
        if result.structured_content is not None:
            return dict(result.structured_content)
        text = " ".join(b.text for b in result.content if b.type == "text")
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {"result": data}


async def workflow(mode: str) -> Run:
    from mcp import Client, StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith("GORGIAS_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(GENERATED_PYTHON), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    args = ["-m", "gorgias.mcp", "--sandbox"]
    if mode == "dynamic":
        args += ["--tool-mode", "dynamic"]
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    run = Run(mode)
    async with Client(params) as client:
        listed = await client.list_tools()
        run.list_tokens = count_tokens(_wire(listed))
        run.tool_count = len(listed.tools)
        agent = Agent(client, run)
        page = await agent.call("1 find open tickets", "list_all_gorgias_tickets", {})
        tickets = page.get("result") or []
        ticket = next((t for t in tickets if t.get("status") == "open"), tickets[0] if tickets else {})
        ticket_id = ticket.get("id", 0)
        await agent.call("2 read the ticket", "get_single_gorgias_ticket_by_id", {"id": ticket_id})
        await agent.call(
            "2 read its messages", "list_all_gorgias_messages", {"ticket_id": ticket_id}
        )
        await agent.call(
            "3 tag it", "create_a_gorgias_ticket_tag", {"ticket_id": ticket_id, "names": [TAG]}
        )
        await agent.call(
            "4 internal note",
            "create_a_gorgias_message",
            {"ticket_id": ticket_id, "body_text": NOTE_TEXT, "public": False},
        )
        fields = await agent.call(
            "5 find the custom field", "list_all_gorgias_custom_fields", {"object_type": "Ticket"}
        )
        items = fields.get("result") or []
        text_field = next(
            (f for f in items if (f.get("definition") or {}).get("data_type") == "text"),
            items[0] if items else {"id": 0},
        )
        await agent.call(
            "5 set the custom field",
            "update_a_gorgias_ticket_field_value_by_id",
            {"ticket_id": ticket_id, "id": text_field["id"], "value": "carrier"},
        )
    return run


def _has_dynamic_mode() -> bool:
    try:
        import gorgias.mcp.server as server
    except ImportError:
        sys.path.insert(0, str(GENERATED_PYTHON))
        import gorgias.mcp.server as server
    return "--tool-mode" in server._parser().format_help()


def _table(runs: list[Run]) -> str:
    base = runs[0].total
    lines = [
        f"{'mode':<8} {'tools':>5} {'tools/list':>10} {'calls':>5} {'requests':>9} {'results':>9} "
        f"{'total':>8} {'vs static':>9}"
    ]
    for run in runs:
        lines.append(
            f"{run.mode:<8} {run.tool_count:>5} {run.list_tokens:>10,} {len(run.rows):>5} "
            f"{sum(r.request for r in run.rows):>9,} {sum(r.result for r in run.rows):>9,} "
            f"{run.total:>8,} {run.total / base:>8.2f}x"
        )
    for run in runs:
        lines.append(f"\n{run.mode}: per call (request + result tokens)")
        for row in run.rows:
            lines.append(f"  {row.step:<24} {row.call:<44} {row.request:>5} {row.result:>7,}")
    return "\n".join(lines)


def run() -> dict[str, Any]:
    self_check()
    modes = ["static"] + (["dynamic"] if _has_dynamic_mode() else [])
    runs = [asyncio.run(workflow(mode)) for mode in modes]
    print(_table(runs))
    if "dynamic" not in modes:
        print("dynamic: not measured (this server has no --tool-mode option)")
    for run_ in runs:
        for error in run_.errors:
            print(f"  {run_.mode} error: {error}")
    return {
        run_.mode: {
            "tools": run_.tool_count,
            "tools_list_tokens": run_.list_tokens,
            "calls": len(run_.rows),
            "request_tokens": sum(r.request for r in run_.rows),
            "result_tokens": sum(r.result for r in run_.rows),
            "total_tokens": run_.total,
            "errors": run_.errors,
            "per_call": [r.__dict__ for r in run_.rows],
        }
        for run_ in runs
    }


if __name__ == "__main__":
    result = run()
    sys.exit(1 if any(r["errors"] for r in result.values()) else 0)
