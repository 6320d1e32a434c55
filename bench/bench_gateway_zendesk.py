"""Benchmark of `connector-gateway`: MCP tool calls through the gateway vs direct sandbox calls.

The issue's set-up: 50 accounts x 4 concurrent MCP sessions for 60 s on loopback, the gateway
with 2 workers on PostgreSQL + Redis (started here with the same starters as the tests,
`tests/gateway/services.py`), against the generated Zendesk sandbox in a process of its own
(rate limit off). Each account declares the `enterprise_plus` plan (2,500 requests / 60 s), a
budget this machine cannot exhaust, so what is measured is the gateway's own cost — the Redis
budget check is still made on every upstream request, and every call is audited in PostgreSQL.

Every session is a real MCP session over streamable HTTP (`initialize`, `notifications/
initialized`, then `tools/call` in a loop, JSON-RPC as the official client sends it, one
keep-alive connection per session); the official `mcp` client is used once first to check the
served tool answers. The operation is `get_single_zendesk_ticket_by_id` (one upstream GET).

Baseline, same run, same machine, same concurrency (200 loops): the same operation called
directly on the sandbox with the generated client (`AsyncZendesk.invoke`, rate limit off) —
what an application does without the gateway. Reported:

- loaded: p50 / p99 latency of both paths under the full load, their difference (the overhead)
  and ratio, throughput, and errors (HTTP errors, JSON-RPC errors, `isError` results);
- unloaded: the same for single sequential calls on an idle system (the per-call cost without
  queueing), going round the accounts so that no account's own budget paces them.

    python bench/bench_gateway_zendesk.py         # 60 s per phase (prints JSON)
    python bench/bench_gateway_zendesk.py --seconds 10
    python bench/run.py gateway_zendesk
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TOOL = "get_single_zendesk_ticket_by_id"
PLAN = "enterprise_plus"
PROTOCOL = "2025-06-18"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
TARGET_P50_MS = 5.0
TARGET_P99_MS = 50.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(
    url: str, proc: subprocess.Popen[bytes], log: Path, headers: dict[str, str] | None = None
) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=headers, timeout=2).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc), in seconds."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _family(pid: int) -> list[int]:
    """The process and its children (uvicorn's workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "count": 0}
    ordered = sorted(samples)
    cut = (
        statistics.quantiles(ordered, n=100, method="inclusive")
        if len(ordered) > 1
        else ordered * 99
    )
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(cut[98] * 1000, 2),
        "count": len(ordered),
    }


# --- the two paths ------------------------------------------------------------------------------


class McpSession:
    """One MCP session over streamable HTTP, on one keep-alive connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(
            timeout=60, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)
        )
        self.ids = 0
        self.headers = dict(MCP_HEADERS)

    async def rpc(
        self, method: str, params: dict[str, Any] | None = None, notify: bool = False
    ) -> Any:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if not notify:
            self.ids += 1
            message["id"] = self.ids
        response = await self.http.post(self.url, json=message, headers=self.headers)
        if notify:
            if response.status_code != 202:
                raise RuntimeError(f"{method}: HTTP {response.status_code}")
            return None
        if response.status_code != 200:
            raise RuntimeError(f"{method}: HTTP {response.status_code} {response.text[:200]}")
        body = response.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    async def open(self) -> None:
        result = await self.rpc(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        )
        self.headers["mcp-protocol-version"] = result["protocolVersion"]
        await self.rpc("notifications/initialized", notify=True)

    async def call(self, arguments: dict[str, Any]) -> None:
        result = await self.rpc("tools/call", {"name": TOOL, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"isError: {result['content'][0]['text'][:200]}")

    async def aclose(self) -> None:
        await self.http.aclose()


async def _loop(call: Any, until: float, latencies: list[float], errors: list[str]) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        try:
            await call()
        except Exception as exc:
            errors.append(str(exc)[:300])
            await asyncio.sleep(0.05)
            continue
        latencies.append(time.perf_counter() - started)


async def _gateway_phase(
    urls: list[str], sessions: int, seconds: float, ticket: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    opened = [McpSession(url) for url in urls for _ in range(sessions)]
    try:
        await asyncio.gather(*(s.open() for s in opened))
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            *(
                _loop(lambda s=s: s.call({"ticket_id": ticket}), until, latencies, errors)
                for s in opened
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(s.aclose() for s in opened))
    return {
        **_percentiles(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "errors": errors,
    }


def _direct_client(base_url: str) -> Any:
    from zendesk import AsyncZendesk

    return AsyncZendesk(
        email="sandbox@example.com", api_token="sandbox", base_url=base_url, rate_limit=False
    )


async def _direct_phase(base_url: str, loops: int, seconds: float, ticket: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    clients = [_direct_client(base_url) for _ in range(loops)]
    try:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            *(
                _loop(lambda c=c: c.invoke(TOOL, {"ticket_id": ticket}), until, latencies, errors)
                for c in clients
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return {
        **_percentiles(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "errors": errors,
    }


async def _unloaded(urls: list[str], base_url: str, calls: int, ticket: int) -> dict[str, Any]:
    """Sequential single calls, alternating the two paths; the gateway calls go round the
    accounts (one account called back to back would be paced by its own rate budget)."""
    sessions = [McpSession(url) for url in urls]
    client = _direct_client(base_url)
    through: list[float] = []
    direct: list[float] = []
    try:
        for session in sessions:
            await session.open()
            await session.call({"ticket_id": ticket})  # builds the server in its worker
        for index in range(calls + 20):  # the first 20 of each path warm up
            session = sessions[index % len(sessions)]
            started = time.perf_counter()
            await session.call({"ticket_id": ticket})
            if index >= 20:
                through.append(time.perf_counter() - started)
            started = time.perf_counter()
            await client.invoke(TOOL, {"ticket_id": ticket})
            if index >= 20:
                direct.append(time.perf_counter() - started)
    finally:
        await asyncio.gather(*(session.aclose() for session in sessions))
        await client.aclose()
    return {"gateway": _percentiles(through), "direct": _percentiles(direct)}


async def _official_client_check(url: str, ticket: int) -> str:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        streamable_http_client(url) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = [t.name for t in (await session.list_tools()).tools]
        assert tools == [TOOL], tools
        result = await session.call_tool(TOOL, {"ticket_id": ticket})
        assert not result.is_error, result.content
        return str(result.structured_content.get("subject") if result.structured_content else "")


def _per_call(seconds: float, calls: int) -> float | None:
    return round(seconds * 1000 / calls, 2) if calls else None


def _overhead(gateway: dict[str, Any], direct: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("p50_ms", "p99_ms"):
        out[f"overhead_{key}"] = round(gateway[key] - direct[key], 2)
        out[f"ratio_{key.removesuffix('_ms')}"] = (
            round(gateway[key] / direct[key], 2) if direct[key] else None
        )
    return out


# --- run ----------------------------------------------------------------------------------------


def run(
    seconds: float = 60.0,
    accounts: int = 50,
    sessions: int = 4,
    workers: int = 2,
    probe_calls: int = 200,
) -> dict[str, Any]:
    from tests.gateway.services import start_postgres, start_redis

    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    admin_token = secrets.token_urlsafe(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_SECRET_KEY": secrets.token_urlsafe(32),
            "GATEWAY_ADMIN_TOKEN": admin_token,
            "PYTHONUNBUFFERED": "1",
        }
    )
    admin = {"Authorization": f"Bearer {admin_token}"}
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(start_redis())
        database_url = stack.enter_context(start_postgres())
        sandbox_port = _free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        sandbox = stack.enter_context(
            _process(
                [
                    sys.executable,
                    "-m",
                    "zendesk.sandbox",
                    "--port",
                    str(sandbox_port),
                    "--rate-limit",
                    "off",
                    "--quiet",
                ],
                env,
                workdir / "sandbox.log",
            )
        )
        _wait(f"{sandbox_url}/_sandbox/stats", sandbox, workdir / "sandbox.log")
        port = _free_port()
        gateway_url = f"http://127.0.0.1:{port}"
        gateway = stack.enter_context(
            _process(
                [sys.executable, "-m", "connector_gateway.cli", "serve", "--port", str(port),
                 "--workers", str(workers), "--redis-url", redis_url, "--database-url", database_url,
                 "--log-level", "warning"],
                env,
                workdir / "gateway.log",
            )
        )  # fmt: skip
        _wait(f"{gateway_url}/admin/accounts", gateway, workdir / "gateway.log", admin)

        with httpx.Client(base_url=gateway_url, headers=admin, timeout=30) as http:
            urls = []
            for index in range(accounts):
                account = http.post(
                    "/admin/accounts",
                    json={
                        "connector": "zendesk",
                        "name": f"bench {index}",
                        "base_url": sandbox_url,
                        "credentials": {
                            "email": "sandbox@example.com",
                            "api_token": "sandbox",
                            "plan": PLAN,
                        },
                    },
                )
                account.raise_for_status()
                server = http.post(
                    f"/admin/accounts/{account.json()['id']}/mcp-servers",
                    json={"tools": [TOOL], "read_only": True, "expires_in": "1h"},
                )
                server.raise_for_status()
                urls.append(server.json()["url"])
            budget = http.get(f"/admin/accounts/{account.json()['id']}").json().get("rate_budget")

        async def ticket_id() -> int:
            client = _direct_client(sandbox_url)
            try:
                page = await client.invoke("list_all_zendesk_tickets", {})
            finally:
                await client.aclose()
            data = (
                page
                if isinstance(page, dict)
                else json.loads(json.dumps(page, default=lambda o: o.model_dump()))
            )
            items = data.get("result") or data.get("tickets") or data.get("items") or []
            first = items[0]
            return int(first["id"] if isinstance(first, dict) else first.id)

        ticket = asyncio.run(ticket_id())
        subject = asyncio.run(_official_client_check(urls[0], ticket))
        unloaded = asyncio.run(_unloaded(urls, sandbox_url, probe_calls, ticket))
        workers_pids = _family(gateway.pid)
        cpu = (_cpu_seconds(workers_pids), _cpu_seconds([sandbox.pid]), _self_cpu())
        direct = asyncio.run(_direct_phase(sandbox_url, accounts * sessions, seconds, ticket))
        cpu_direct = (_cpu_seconds(workers_pids), _cpu_seconds([sandbox.pid]), _self_cpu())
        through = asyncio.run(_gateway_phase(urls, sessions, seconds, ticket))
        cpu_through = (_cpu_seconds(workers_pids), _cpu_seconds([sandbox.pid]), _self_cpu())
        stats = httpx.get(
            f"{sandbox_url}/_sandbox/stats",
            auth=("sandbox@example.com/token", "sandbox"),
            timeout=10,
        )

    errors = through.pop("errors")
    direct_errors = direct.pop("errors")
    loaded = _overhead(through, direct)
    idle = _overhead(unloaded["gateway"], unloaded["direct"])
    return {
        "setup": f"{accounts} accounts x {sessions} MCP sessions, {seconds:g} s per phase, {workers} workers, "
        f"PostgreSQL + Redis, Zendesk sandbox (rate limit off), plan {PLAN} budget {budget}",
        "official_client_check": f"{TOOL} -> {subject!r}",
        "loaded_gateway": through,
        "loaded_direct": direct,
        "loaded_overhead_p50_ms": loaded["overhead_p50_ms"],
        "loaded_overhead_p99_ms": loaded["overhead_p99_ms"],
        "loaded_ratio_p50": loaded["ratio_p50"],
        "loaded_ratio_p99": loaded["ratio_p99"],
        "throughput_ratio": round(through["per_second"] / direct["per_second"], 2)
        if direct["per_second"]
        else None,
        "unloaded_gateway": unloaded["gateway"],
        "unloaded_direct": unloaded["direct"],
        "unloaded_overhead_p50_ms": idle["overhead_p50_ms"],
        "unloaded_overhead_p99_ms": idle["overhead_p99_ms"],
        "unloaded_ratio_p50": idle["ratio_p50"],
        "unloaded_ratio_p99": idle["ratio_p99"],
        "targets": f"overhead p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms, 0 errors",
        "cpu_ms_per_call": {
            "gateway_workers": _per_call(cpu_through[0] - cpu_direct[0], through["count"]),
            "sandbox_via_gateway": _per_call(cpu_through[1] - cpu_direct[1], through["count"]),
            "bench_client_via_gateway": _per_call(cpu_through[2] - cpu_direct[2], through["count"]),
            "sandbox_direct": _per_call(cpu_direct[1] - cpu[1], direct["count"]),
            "bench_client_direct": _per_call(cpu_direct[2] - cpu[2], direct["count"]),
        },
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "direct_errors": len(direct_errors),
        "sandbox_statuses": stats.json().get("statuses") if stats.status_code == 200 else None,
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each loaded phase")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument(
        "--sessions", type=int, default=4, help="concurrent MCP sessions per account"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--probe-calls", type=int, default=200, help="sequential calls of the unloaded probe"
    )
    args = parser.parse_args(argv)
    result = run(args.seconds, args.accounts, args.sessions, args.workers, args.probe_calls)
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
