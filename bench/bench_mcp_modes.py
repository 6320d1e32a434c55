"""MCP tool modes: `tools/list` tokens (o200k) per mode and per filter set, for every connector.

    python bench/bench_mcp_modes.py      (or: python bench/run.py mcp_modes)

Each row starts `<package>-mcp --sandbox <options>` (as `python -m <package>.mcp`) and reads its
`tools/list` with the official `mcp` client over stdio, as an agent's host would. The result is
serialised as compact JSON and counted with `bench/tokens.py` (o200k_base, offline). Ratios are
against `--output-schemas full` (every tool exactly as the tools file has it) of the same
connector. Budgets (asserted in tests/mcp/test_tool_modes.py): dynamic <= 1,500 tokens for every
connector, the default static Gorgias list <= 30,000.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from tokens import count_tokens, self_check  # noqa: E402

CONNECTORS = ["gorgias", "zendesk"]
DYNAMIC_BUDGET = 1_500
STATIC_BUDGET = {"gorgias": 30_000}

#: (row label, server options). The first row is the baseline of the ratios.
ROWS: list[tuple[str, list[str]]] = [
    ("static, --output-schemas full", ["--output-schemas", "full"]),
    ("static, --output-schemas shared", ["--output-schemas", "shared"]),
    ("static, --output-schemas compact", ["--output-schemas", "compact"]),
    ("static (default: no output schemas)", []),
    ("static --toolsets default", ["--toolsets", "default"]),
    ("static --read-only", ["--read-only"]),
    ("static --read-only --toolsets default", ["--read-only", "--toolsets", "default"]),
    ("static --unified", ["--unified"]),
    ("dynamic", ["--tool-mode", "dynamic"]),
    ("dynamic --unified", ["--tool-mode", "dynamic", "--unified"]),
    ("dynamic --read-only --toolsets default", ["--tool-mode", "dynamic", "--read-only", "--toolsets", "default"]),
]


def _env() -> dict[str, str]:
    paths = [str(REPO / "generated" / c / "python") for c in CONNECTORS]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, "PYTHONPATH": os.pathsep.join(paths)}


async def _tools_list(connector: str, options: list[str]) -> tuple[int, int, int]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", f"{connector}.mcp", "--sandbox", *options],
        env=_env(),
    )
    async with Client(params) as client:
        listed = await client.list_tools()
    text = json.dumps(
        listed.model_dump(by_alias=True, mode="json", exclude_none=True), separators=(",", ":")
    )
    return len(listed.tools), len(text.encode()), count_tokens(text)


async def _measure() -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for connector in CONNECTORS:
        baseline = None
        for label, options in ROWS:
            tools, size, tokens = await _tools_list(connector, options)
            baseline = baseline or tokens
            rows[f"{connector}: {label}"] = {
                "tools": tools,
                "bytes": size,
                "tokens": tokens,
                "ratio": round(tokens / baseline, 3),
            }
    return rows


def _table(rows: dict[str, Any]) -> str:
    lines = [
        "| connector: mode and filters | tools | bytes | o200k tokens | vs static full |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in rows.items():
        lines.append(
            f"| {label} | {row['tools']} | {row['bytes']:,} | {row['tokens']:,} | {row['ratio']:.3f}x |"
        )
    return "\n".join(lines)


def run() -> dict[str, Any]:
    self_check()
    rows = asyncio.run(_measure())
    print(_table(rows))
    result: dict[str, Any] = {"rows": rows}
    for connector in CONNECTORS:
        dynamic = rows[f"{connector}: dynamic"]["tokens"]
        result[f"{connector}_dynamic_tokens"] = dynamic
        result[f"{connector}_dynamic_within_budget"] = dynamic <= DYNAMIC_BUDGET
        static = rows[f"{connector}: static (default: no output schemas)"]["tokens"]
        result[f"{connector}_static_default_tokens"] = static
        if connector in STATIC_BUDGET:
            result[f"{connector}_static_within_budget"] = static <= STATIC_BUDGET[connector]
    return result


if __name__ == "__main__":
    outcome = run()
    for key, value in outcome.items():
        if key != "rows":
            print(f"{key}: {value}")
