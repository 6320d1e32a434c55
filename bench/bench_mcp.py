"""MCP benchmark: size of `tools/list` against fastmcp's OpenAPI integration, and per-call overhead.

    python bench/bench_mcp.py        (or: python bench/run.py mcp)

1. Size. The `tools/list` result of the generated server (all tools, each with the `$defs` it
   needs) next to what `fastmcp.FastMCP.from_openapi` lists for the same operations from our own
   generated OpenAPI document. Both are serialised the same way (compact JSON of the MCP
   `ListToolsResult`). Tokens: `tiktoken` when its encoding files are available, else the offline
   `bpe-openai` package (same cl100k/o200k encodings), plus chars/4. Target: ours <= 0.6x.
   "No loss of information" is checked per operation: the same argument names, required
   arguments, enum values, output schema presence, and the description text of the definition.
2. Overhead. Median time of a tool call through the MCP layer (the SDK's in-process client ->
   low-level server -> validation -> `AsyncGorgias.invoke`) minus a direct `invoke`, both against a
   loopback HTTP server. Target: <= 2 ms.

Needs the generated package importable (installed, or `generated/gorgias/python` on sys.path) and, for
the comparison, `fastmcp` (`pip install fastmcp`); missing pieces are skipped with a message.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "generated" / "gorgias"
OPENAPI = GENERATED / "openapi" / "gorgias.openapi.json"
SIZE_TARGET = 0.6
OVERHEAD_TARGET_MS = 2.0
CALLS = 400


def _import_server() -> Any:
    try:
        import gorgias.mcp.server as server
    except ImportError:
        sys.path.insert(0, str(GENERATED / "python"))
        import gorgias.mcp.server as server
    return server


def _dump_tools(tools: list[Any]) -> str:
    """Wire form of a `tools/list` result (compact JSON, as a server sends it)."""
    from mcp import types

    result = types.ListToolsResult(tools=tools)
    return json.dumps(
        result.model_dump(by_alias=True, mode="json", exclude_none=True), separators=(",", ":")
    )


def _token_counter() -> tuple[str, Any]:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("o200k_base")
        return "tiktoken o200k_base", lambda text: len(encoding.encode(text))
    except Exception:
        pass
    try:
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
        return "bpe-openai o200k_base", lambda text: len(encoding.encode(text))
    except Exception:
        return "", None


# --- size --------------------------------------------------------------------------------------


async def _fastmcp_tools(spec: dict[str, Any], operation_ids: set[str]) -> list[Any]:
    import httpx2
    from fastmcp import Client, FastMCP

    try:
        from fastmcp.server.providers.openapi import MCPType, RouteMap
    except ImportError:  # fastmcp 2.x
        from fastmcp.server.openapi import MCPType, RouteMap  # type: ignore[no-redef]

    route_maps = [RouteMap(mcp_type=MCPType.TOOL)]
    async with httpx2.AsyncClient(base_url="http://127.0.0.1:9") as http:
        server = FastMCP.from_openapi(spec, client=http, route_maps=route_maps)
        async with Client(server) as client:
            tools = await client.list_tools()
    return [tool for tool in tools if tool.name in operation_ids]


def _props(schema: dict[str, Any] | None) -> dict[str, Any]:
    return dict((schema or {}).get("properties") or {})


def _enums(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for item in value.get("enum") or ():
            found.add(json.dumps(item))
        for item in value.values():
            _enums(item, found)
    elif isinstance(value, list):
        for item in value:
            _enums(item, found)
    return found


def _descriptions(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        if isinstance(value.get("description"), str):
            found.add(
                value["description"]
                .removesuffix(" (Path parameter)")
                .removesuffix(" (Query parameter)")
            )
        for item in value.values():
            _descriptions(item, found)
    elif isinstance(value, list):
        for item in value:
            _descriptions(item, found)
    return found


def _words(text: str) -> str:
    """Text reduced to lowercase words, so markdown and punctuation do not count as differences."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


#: Sentences our OpenAPI emitter adds to operation descriptions, and the words that say the same
#: in our tools: an alias is named on the alias tool ("Same endpoint as ..."); a URL argument says
#: in its own description that it is requested as is.
_OPENAPI_NOTES = {
    "also exposed as": "same endpoint as",
    "these tools call this same endpoint": "same endpoint as",
    "absolute url": "it is requested as is",
}


def _said(text: str, ours: str, whole_list: str | None = None) -> bool:
    """Whether every sentence of `text` is said in `ours` (both reduced to words); the notes above
    may be said anywhere in `whole_list`."""
    for part in re.split(r"(?<=[.!?])\s+|\n+", text):
        sentence = _words(part).removeprefix("quirks").strip()  # markdown heading of the notes
        if not sentence:
            continue
        note = next(
            (said for prefix, said in _OPENAPI_NOTES.items() if sentence.startswith(prefix)), None
        )
        if sentence not in ours and (note is None or note not in (whole_list or ours)):
            return False
    return True


def _their_descriptions(tool: dict[str, Any], ours: dict[str, Any]) -> set[str]:
    """fastmcp's field descriptions, without those of the raw page envelope we reshape.

    fastmcp returns the wire page (`data`, `meta`, `uri`, `object`); we return
    `{result, next_cursor, prev_cursor}`, so only the items' descriptions are comparable.
    """
    found = _descriptions(tool.get("inputSchema"), set())
    output = tool.get("outputSchema") or {}
    props = output.get("properties") or {}
    if "data" in props and "result" in _props(ours.get("outputSchema")):
        defs = output.get("$defs") or {}
        todo, seen = [props["data"].get("items")], set()
        while todo:  # the items and the definitions they reach, not the page's `meta`
            schema = todo.pop()
            _descriptions(schema, found)
            for ref in re.findall(r'"#/\$defs/([^"]+)"', json.dumps(schema)):
                if ref not in seen and ref in defs:
                    seen.add(ref)
                    todo.append(defs[ref])
    else:
        _descriptions(output, found)
    return found


def _their_argument(name: str, routing: dict[str, Any]) -> str | None:
    """Our argument for one of fastmcp's (`id__path` -> the path `id`, `body` -> the whole body)."""
    if name in routing:
        return name
    base, _, where = name.partition("__")
    for ours, entry in routing.items():
        if entry.get("name", ours) == base and entry["in"] == where:
            return ours
    if name == "body":
        return next((ours for ours, entry in routing.items() if entry["in"] == "body_whole"), None)
    return None


def _information_check(
    ours: dict[str, Any],
    theirs: dict[str, Any],
    routing: dict[str, Any],
    our_list_words: str,
    all_words: str,
) -> list[str]:
    """What fastmcp's tool says that ours does not (empty when nothing is lost).

    Per tool: every argument (matched through our routing map), required arguments, enum values,
    an output schema when fastmcp has one, and the description. Over the whole list: every
    description text fastmcp carries (field descriptions of shared objects are sent once).
    """
    lost = []
    our_in, their_in = ours["inputSchema"], theirs["inputSchema"]
    mapped = {name: _their_argument(name, routing) for name in _props(their_in)}
    missing = sorted(name for name, ours_name in mapped.items() if ours_name is None)
    if missing:
        lost.append(f"arguments {missing}")
    required = {mapped.get(name) for name in their_in.get("required", [])}
    if required - set(our_in.get("required", [])):
        lost.append("required arguments")
    if _enums(their_in, set()) - _enums(our_in, set()):
        lost.append("enum values")
    if theirs.get("outputSchema") and not ours.get("outputSchema"):
        lost.append("output schema")
    if theirs.get("description") and not _said(
        theirs["description"], _words(json.dumps(ours)), all_words
    ):
        lost.append("description")
    absent = [d for d in _their_descriptions(theirs, ours) if not _said(d, our_list_words)]
    if absent:
        lost.append(f"{len(absent)} field descriptions, e.g. {absent[0][:60]!r}")
    return lost


def measure_size() -> dict[str, Any]:
    server_module = _import_server()
    specs = server_module.load_tools()
    routing = server_module.read_tools_document()["routing"]
    result: dict[str, Any] = {}
    text_all = _dump_tools(server_module.wire_tools(specs.values(), "shared"))
    result["ours_all_tools"] = len(specs)
    result["ours_all_bytes"] = len(text_all.encode())
    result["ours_all_bytes_full_output_schemas"] = len(
        _dump_tools([s.tool for s in specs.values()]).encode()
    )
    result["ours_all_tokens_chars4"] = len(text_all) // 4
    tokenizer, count = _token_counter()
    if count:
        result["ours_all_tokens"] = count(text_all)
        result["tokenizer"] = tokenizer
    if not OPENAPI.exists():
        result["fastmcp"] = (
            f"skipped: {OPENAPI.relative_to(REPO)} not generated (run `connectorgen generate`)"
        )
        return result
    try:
        import fastmcp
    except ImportError:
        result["fastmcp"] = "skipped: fastmcp not installed (pip install fastmcp)"
        return result
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    theirs = asyncio.run(_fastmcp_tools(spec, set(specs)))
    same = {tool.name for tool in theirs}
    compared = [spec for name, spec in specs.items() if name in same]
    ours_text = _dump_tools(server_module.wire_tools(compared, "shared"))
    full_text = _dump_tools([spec.tool for spec in compared])
    theirs_text = _dump_tools(theirs)
    result["fastmcp_version"] = fastmcp.__version__
    result["compared_tools"] = len(same)
    result["ours_bytes"] = len(ours_text.encode())
    result["fastmcp_bytes"] = len(theirs_text.encode())
    result["bytes_ratio"] = round(result["ours_bytes"] / result["fastmcp_bytes"], 3)
    result["bytes_ratio_full_output_schemas"] = round(
        len(full_text.encode()) / result["fastmcp_bytes"], 3
    )
    result["ours_tokens_chars4"] = len(ours_text) // 4
    result["fastmcp_tokens_chars4"] = len(theirs_text) // 4
    if count:
        result["ours_tokens"] = count(ours_text)
        result["fastmcp_tokens"] = count(theirs_text)
        result["tokens_ratio"] = round(result["ours_tokens"] / result["fastmcp_tokens"], 3)
    ours_by_name = {tool["name"]: tool for tool in json.loads(ours_text)["tools"]}
    ours_words = _words(ours_text.replace("\\n", " "))
    all_words = _words(text_all.replace("\\n", " "))  # alias tools are named only in the full list
    losses = {}
    for tool in json.loads(theirs_text)["tools"]:
        lost = _information_check(
            ours_by_name[tool["name"]],
            tool,
            routing[tool["name"]]["arguments"],
            ours_words,
            all_words,
        )
        if lost:
            losses[tool["name"]] = lost
    result["information_lost"] = losses or "none"
    result["size_target_met"] = result["bytes_ratio"] <= SIZE_TARGET and not losses
    return result


# --- overhead ----------------------------------------------------------------------------------

_TAG = b'{"id":1,"name":"urgent","description":"Mark a ticket as urgent","usage":3,"decoration":{"color":"#F58D86"},"uri":"/api/tags/1/","created_datetime":"2019-07-05T14:42:00.384938","deleted_datetime":null}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )  # no Nagle/delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_TAG)))
        self.end_headers()
        self.wfile.write(_TAG)


async def _overhead(base_url: str) -> dict[str, Any]:
    from mcp import Client

    server_module = _import_server()
    from gorgias import AsyncGorgias

    # no client-side pacing: the loopback server has no rate limit, and pacing would dominate the timings
    gorgias = AsyncGorgias(
        subdomain="acme",
        email="agent@example.com",
        api_key="bench-key",
        base_url=base_url,
        rate_limit=False,
    )
    server, runner = server_module.build_server(client_factory=lambda: gorgias)
    tool, arguments = "get_single_gorgias_tag_by_id", {"id": 1}
    direct, runner_only, through_mcp = [], [], []
    async with Client(server) as client:
        await client.list_tools()
        for _ in range(20):  # warm up connections and caches
            await gorgias.invoke(tool, arguments)
            await client.call_tool(tool, arguments)
        for _ in range(CALLS):
            started = time.perf_counter()
            await gorgias.invoke(tool, arguments)
            direct.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = await runner.call(tool, arguments)
            runner_only.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            through_mcp.append(time.perf_counter() - started)
            assert not result.is_error, result.content
    await runner.aclose()
    ms = lambda values: statistics.median(values) * 1000  # noqa: E731
    overhead = ms(through_mcp) - ms(direct)
    return {
        "calls": CALLS,
        "direct_invoke_median_ms": round(ms(direct), 3),
        "server_runner_median_ms": round(ms(runner_only), 3),
        "mcp_call_median_ms": round(ms(through_mcp), 3),
        "mcp_overhead_median_ms": round(overhead, 3),
        "server_side_overhead_median_ms": round(ms(runner_only) - ms(direct), 3),
        "overhead_target_met": overhead <= OVERHEAD_TARGET_MS,
    }


def measure_overhead() -> dict[str, Any]:
    try:
        from gorgias import AsyncGorgias  # noqa: F401
    except ImportError:
        try:
            _import_server()
        except ImportError as exc:
            return {"overhead": f"skipped: generated client not importable ({exc})"}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        return asyncio.run(_overhead(f"http://{host}:{port}"))
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- result pages ------------------------------------------------------------------------------

#: (connector package, list tool) whose default page is measured.
RESULT_PAGES = (("gorgias", "list_all_gorgias_tickets"), ("zendesk", "list_all_zendesk_tickets"))


def _o200k() -> Any:
    try:
        from bench.tokens import count_tokens
    except ImportError:
        sys.path.insert(0, str(REPO))
        from bench.tokens import count_tokens
    return count_tokens


async def _result_page(package: str, tool: str) -> dict[str, Any]:
    import importlib

    count = _o200k()
    server = importlib.import_module(f"{package}.mcp.server")
    shaping = importlib.import_module(f"{package}.mcp.shaping")
    sandbox = importlib.import_module(f"{package}.sandbox").serve_in_thread(seed=1, rate_limit="off")
    out: dict[str, Any] = {}
    # before: everything as the API sent it, the JSON in the text block and in structuredContent
    cases = {
        "before_detailed_json_twice": ({"response_format": "detailed"}, "json", 10**9),
        "detailed_once": ({"response_format": "detailed"}, "summary", 10**9),
        "detailed": ({"response_format": "detailed"}, "summary", shaping.DEFAULT_MAX_RESULT_TOKENS),
        "concise": ({}, "summary", shaping.DEFAULT_MAX_RESULT_TOKENS),
    }
    try:
        for name, (arguments, text, cap) in cases.items():
            _, runner = server.build_server(
                client_factory=lambda: server.AsyncClient(**sandbox.client_kwargs()),
                shaping_config=shaping.ShapingConfig(result_text=text, max_result_tokens=cap),
            )
            result = await runner.call(tool, arguments)
            await runner.aclose()
            wire = json.dumps(
                result.model_dump(by_alias=True, mode="json", exclude_none=True),
                ensure_ascii=False,
                separators=(",", ":"),
            )
            data = result.structured_content or {}
            out[f"{package}_page_{name}_items"] = len(data.get("result") or [])
            out[f"{package}_page_{name}_bytes"] = len(wire.encode())
            out[f"{package}_page_{name}_tokens"] = count(wire)
            out[f"{package}_page_{name}_estimate"] = shaping.estimate_tokens(data)
    finally:
        sandbox.stop()
    return out


def measure_result_pages() -> dict[str, Any]:
    """o200k tokens of one default list page (`tools/call` result on the wire) per format and
    connector, on the connector's sandbox (seed 1): as before shaping (detailed, JSON sent twice),
    detailed sent once (no cap), detailed with the default cap, and the default concise page."""
    try:
        _o200k()
    except Exception as exc:
        return {"result_pages": f"skipped: no o200k tokenizer ({exc})"}
    result: dict[str, Any] = {}
    for package, tool in RESULT_PAGES:
        try:
            result.update(asyncio.run(_result_page(package, tool)))
        except ImportError as exc:
            result[f"{package}_page"] = f"skipped: {exc}"
    return result


def run() -> dict[str, Any]:
    result = measure_size()
    result.update(measure_overhead())
    result.update(measure_result_pages())
    return result


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
