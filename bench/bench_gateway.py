"""Gateway benchmark (issue 15): MCP tool calls through `connector-gateway` vs the sandbox direct.

    python bench/bench_gateway.py                         # 50 accounts x 4 sessions, 60 s
    python bench/bench_gateway.py --seconds 10 --accounts 5 --sessions 2
    python bench/run.py gateway                           # the defaults, JSON in bench/results/

Everything runs on loopback, started here and stopped at the end:
- PostgreSQL and redis-server (tests/gateway/servers.py, the code the tests use);
- the generated Gorgias sandbox (`python -m gorgias.sandbox`, its rate limit off);
- `connector-gateway serve --workers 2` on that PostgreSQL and Redis.

`--accounts` accounts are connected to the sandbox (all to the same sandbox process, each its own
account and MCP server in the gateway: its own token lookup, upstream client, built MCP server,
budget key and audit rows). Each account gets a read-only MCP server limited to the one tool
called; `--sessions` sessions per account, each with the official `mcp` client over streamable
HTTP (its own HTTP connection pool), call `get_single_gorgias_ticket_by_id` in a closed loop
(the next call once the previous one answered), cycling over the sandbox's tickets.

Baseline, in the same run and with the same concurrency (accounts x sessions tasks, each with its
own `httpx.AsyncClient`): `GET /api/tickets/{id}` sent directly to the sandbox with raw httpx.
That is the "direct sandbox call" of the issue: the one HTTP request the tool makes upstream and
nothing else, so overhead = gateway latency - direct latency holds everything the gateway path
adds (MCP client and JSON-RPC, the gateway's routing, token lookup, audit write, the generated
client's parsing, result shaping, the shared budget). The generated `AsyncGorgias` client would
hide part of that cost in the baseline.

The accounts' rate budget: Gorgias declares 40 requests / 20 s per API key, which 4 sessions in
a loop exceed at once, and the gateway has no per-account budget override. The gateway processes
of this benchmark (`BENCH_GATEWAY_UNPACED=1`, applied by this module when uvicorn's spawned
workers import it as their main module) raise the declared budget of every installed connector to
1,000,000 requests per second before serving: each upstream request still takes its slot from
the shared Redis budget (one Lua round trip, as in production), but never waits for one.

Latency is measured in the calling process around each call (`session.call_tool` /
`client.get`); warm-up calls (servers built on both workers, connections open) are not counted.
Errors: exceptions, non-200 answers, `isError` results. Exit status 1 when errors > 0; missed
latency targets print MISS but do not fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOOL = "get_single_gorgias_ticket_by_id"
UNPACED_ENV = "BENCH_GATEWAY_UNPACED"
UNPACED_BUDGET = (1_000_000, 1.0)
P50_TARGET_MS = 5.0
P99_TARGET_MS = 50.0
EMAIL = "bench@example.com"


def _unpace_declared_budgets() -> None:
    """In the gateway's processes only: every installed connector declares a budget so large it
    never waits (see the module docstring)."""
    from connector_gateway.connectors import discover

    requests, period = UNPACED_BUDGET
    for connector in discover().values():
        limits = connector.spec.RATE_LIMITS
        for name, (kind, _requests, _period) in list(limits.items()):
            limits[name] = (kind, requests, period)


if os.environ.get(UNPACED_ENV) == "1":  # uvicorn's spawned workers import this module as main
    _unpace_declared_budgets()


# --- processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(
    url: str, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 60, **kw: Any
) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2, **kw).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer in {timeout} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def _sandbox(workdir: Path, api_key: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Any]]:
    """Starts the sandbox; yields (url, process, wait until it answers)."""
    port = _free_port()
    log = workdir / "sandbox.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gorgias.sandbox", "--port", str(port), "--quiet",
             "--rate-limit", "off", "--email", EMAIL, "--api-key", api_key,
             "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        yield (
            url,
            proc,
            lambda: _wait_http(
                f"{url}/_sandbox", proc, "gorgias sandbox", log, auth=(EMAIL, api_key)
            ),
        )
    finally:
        _stop(proc)


@contextlib.contextmanager
def _gateway(
    workdir: Path, database_url: str, redis_url: str, workers: int, admin_token: str, log_level: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], Any]]:
    """Starts `connector-gateway serve`; yields (url, process, wait until it answers)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_SECRET_KEY": secrets.token_urlsafe(32),
            "GATEWAY_ADMIN_TOKEN": admin_token,
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_REDIS_URL": redis_url,
            UNPACED_ENV: "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # this file is the gateway's main module: the parent and each spawned worker unpace budgets
    code = [sys.executable, str(Path(__file__).resolve()), "--serve-gateway", "serve"]
    log = workdir / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*code, "--port", str(port), "--workers", str(workers), "--log-level", log_level],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        headers = {"Authorization": f"Bearer {admin_token}"}
        yield (
            url,
            proc,
            lambda: _wait_http(
                f"{url}/admin/accounts", proc, "connector-gateway", log, headers=headers
            ),
        )
    finally:
        _stop(proc)


@contextlib.contextmanager
def _services(database_url: str | None, redis_url: str | None) -> Iterator[tuple[str, str]]:
    sys.path.insert(0, str(REPO))
    from tests.gateway.servers import create_database, start_postgres, start_redis

    with contextlib.ExitStack() as stack:
        if redis_url is None:
            redis_url = stack.enter_context(start_redis())
        if database_url is None:
            database_url = create_database(stack.enter_context(start_postgres()))
        yield database_url, redis_url


# --- load --------------------------------------------------------------------------------------


@dataclass
class Phase:
    """Latencies (seconds) and errors of one measured phase."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process group, measured

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        calls = len(self.latencies)
        return {
            "calls": calls,
            "errors": self.error_count,
            "error_kinds": dict(self.errors),
            "calls_per_s": round(calls / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": _ms(_quantile(self.latencies, 0.50)),
            "p99_ms": _ms(_quantile(self.latencies, 0.99)),
            "mean_ms": _ms(sum(self.latencies) / calls if calls else float("nan")),
            "cpu_ms_per_call": {
                name: _ms(cpu / calls if calls else float("nan"))
                for name, cpu in self.cpu_seconds.items()
            },
        }


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class _Clock:
    """Shared start/stop of a phase: calls started before `start` or after `stop` are warm-up
    or drain, not counted."""

    def __init__(self, warmup: float, seconds: float) -> None:
        now = time.perf_counter()
        self.start = now + warmup
        self.stop = self.start + seconds

    def measuring(self, t: float) -> bool:
        return self.start <= t < self.stop


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _service_pids(database_url: str, redis_url: str) -> dict[str, list[int]]:
    """PostgreSQL's postmaster and backends, and redis-server, found by their ports."""
    pg_port = database_url.rsplit("@", 1)[-1].split("/")[0].rsplit(":", 1)[-1]
    redis_port = redis_url.split("//", 1)[-1].split("/")[0].rsplit(":", 1)[-1]
    found: dict[str, list[int]] = {"postgres": [], "redis": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = Path(argv[0].decode(errors="replace")).name
        if name == "postgres" and f"-p\0{pg_port}\0".encode() in b"\0".join(argv) + b"\0":
            found["postgres"] += [int(entry.name), *_children(int(entry.name))]
        elif name.startswith("redis-server") and any(
            a.endswith(f":{redis_port}".encode()) for a in argv
        ):
            found["redis"].append(int(entry.name))
    return found


async def _phase(workers: list[Any], warmup: float, seconds: float, processes: Any) -> Phase:
    """Runs the workers; counts calls started within the measured window, and the CPU time each
    process group (and this client process) used in that window."""
    phase = Phase()
    clock = _Clock(warmup, seconds)

    def snapshot() -> dict[str, float]:
        groups = processes() if callable(processes) else processes
        return {"client": time.process_time(), **{k: _cpu(v) for k, v in groups.items()}}

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, clock.start - time.perf_counter()))
        before = snapshot()
        await asyncio.sleep(max(0.0, clock.stop - time.perf_counter()))
        after = snapshot()
        phase.cpu_seconds = {k: after[k] - before[k] for k in before}

    marker = asyncio.create_task(mark_cpu())
    await asyncio.gather(*(worker(clock, phase) for worker in workers))
    await marker
    phase.seconds = seconds
    return phase


def _direct_worker(base_url: str, api_key: str, ticket_ids: list[int], offset: int) -> Any:
    import httpx

    async def work(clock: _Clock, phase: Phase) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=base_url, auth=(EMAIL, api_key), timeout=30, limits=limits
        ) as http:
            i = offset
            while True:
                started = time.perf_counter()
                if started >= clock.stop:
                    return
                ticket = ticket_ids[i % len(ticket_ids)]
                i += 1
                try:
                    response = await http.get(f"/api/tickets/{ticket}")
                    response.json()
                    failed = None if response.status_code == 200 else f"http_{response.status_code}"
                except Exception as exc:  # counted, the loop goes on
                    failed = type(exc).__name__
                elapsed = time.perf_counter() - started
                if clock.measuring(started):
                    if failed:
                        phase.error(failed)
                    else:
                        phase.latencies.append(elapsed)

    return work


def _mcp_worker(url: str, ticket_ids: list[int], offset: int) -> Any:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def work(clock: _Clock, phase: Phase) -> None:
        try:
            async with (
                httpx2.AsyncClient(timeout=30) as http,
                streamable_http_client(url, http_client=http) as (read, write, *_),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                i = offset
                while True:
                    started = time.perf_counter()
                    if started >= clock.stop:
                        return
                    ticket = ticket_ids[i % len(ticket_ids)]
                    i += 1
                    try:
                        result = await session.call_tool(TOOL, {"id": ticket})
                        failed = "tool_error" if result.is_error else None
                    except Exception as exc:  # counted, the loop goes on
                        failed = type(exc).__name__
                    elapsed = time.perf_counter() - started
                    if clock.measuring(started):
                        if failed:
                            phase.error(failed)
                        else:
                            phase.latencies.append(elapsed)
        except Exception as exc:  # the session itself failed: one error, reported by type
            phase.error(f"session_{type(exc).__name__}")

    return work


async def _setup_accounts(
    gateway_url: str, admin_token: str, sandbox_url: str, api_key: str, accounts: int
) -> list[str]:
    """Connects `accounts` accounts to the sandbox, one MCP server each; returns the URLs."""
    import httpx

    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=60) as admin:

        async def one(n: int) -> str:
            created = await admin.post(
                "/admin/accounts",
                json={
                    "connector": "gorgias",
                    "credentials": {"email": EMAIL, "api_key": api_key},
                    "base_url": sandbox_url,
                    "name": f"bench {n}",
                },
            )
            if created.status_code != 201:
                raise RuntimeError(f"account not created: {created.status_code} {created.text}")
            server = await admin.post(
                f"/admin/accounts/{created.json()['id']}/mcp-servers",
                json={"tools": [TOOL], "read_only": True},
            )
            if server.status_code != 201:
                raise RuntimeError(f"server not created: {server.status_code} {server.text}")
            return str(server.json()["url"])

        urls: list[str] = []
        for start in range(0, accounts, 10):  # a few at a time: admin writes are audited
            urls += await asyncio.gather(*(one(n) for n in range(start, min(accounts, start + 10))))
        return urls


async def _measure(
    gateway_url: str,
    sandbox_url: str,
    processes: Any,
    admin_token: str,
    api_key: str,
    accounts: int,
    sessions: int,
    seconds: float,
    baseline_seconds: float,
    warmup: float,
) -> tuple[Phase, Phase, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=sandbox_url, auth=(EMAIL, api_key)) as http:
        page = await http.get("/api/tickets", params={"limit": 100})
        page.raise_for_status()
        ticket_ids = [int(t["id"]) for t in page.json()["data"]]
    urls = await _setup_accounts(gateway_url, admin_token, sandbox_url, api_key, accounts)
    concurrency = accounts * sessions
    direct = await _phase(
        [_direct_worker(sandbox_url, api_key, ticket_ids, n) for n in range(concurrency)],
        warmup,
        baseline_seconds,
        {"sandbox": processes()["sandbox"]},
    )
    gateway = await _phase(
        [_mcp_worker(urls[n // sessions], ticket_ids, n) for n in range(concurrency)],
        warmup,
        seconds,
        processes,
    )
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers) as admin:
        first = (await admin.get("/admin/accounts")).json()[0]["id"]
        budget = (await admin.get(f"/admin/accounts/{first}")).json().get("rate_budget")
    return direct, gateway, budget


# --- report ------------------------------------------------------------------------------------


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs (shared with other work), load average {load}, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )


def run(
    seconds: float = 60.0,
    accounts: int = 50,
    sessions: int = 4,
    workers: int = 2,
    baseline_seconds: float | None = None,
    warmup: float = 3.0,
    database_url: str | None = None,
    redis_url: str | None = None,
    log_level: str = "warning",
) -> dict[str, Any]:
    """Runs the benchmark; returns the result (see the module docstring). `database_url` and
    `redis_url` reuse running servers (the smoke test's fixtures); else both are started."""
    if baseline_seconds is None:
        baseline_seconds = min(seconds, 20.0)
    admin_token = "bench_" + secrets.token_urlsafe(24)
    api_key = "bench-" + secrets.token_hex(8)
    load_before = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp,
        _services(database_url, redis_url) as (db_url, r_url),
        _sandbox(Path(tmp), api_key) as (sandbox_url, sandbox, sandbox_ready),
        _gateway(Path(tmp), db_url, r_url, workers, admin_token, log_level) as (
            gateway_url,
            gw,
            gateway_ready,
        ),
    ):
        sandbox_ready()  # both started at once: they boot side by side
        gateway_ready()

        def processes() -> dict[str, list[int]]:
            return {
                "gateway": [gw.pid, *_children(gw.pid)],
                "sandbox": [sandbox.pid],
                **_service_pids(db_url, r_url),
            }

        direct, gateway, budget = asyncio.run(
            _measure(
                gateway_url, sandbox_url, processes, admin_token, api_key, accounts, sessions,
                seconds, baseline_seconds, warmup,
            )
        )  # fmt: skip
        gateway_log = _tail(Path(tmp) / "gateway.log", 10) if gateway.error_count else ""
    d, g = direct.summary(), gateway.summary()
    overhead_p50 = round(g["p50_ms"] - d["p50_ms"], 2)
    overhead_p99 = round(g["p99_ms"] - d["p99_ms"], 2)
    result: dict[str, Any] = {
        "setup": (
            f"{accounts} accounts x {sessions} MCP sessions ({accounts * sessions} concurrent), "
            f"gateway {workers} workers + PostgreSQL + Redis, Gorgias sandbox (rate limit off), "
            f"tool {TOOL}; gateway {seconds:g} s, direct {baseline_seconds:g} s, "
            f"warm-up {warmup:g} s each"
        ),
        "direct": d,
        "gateway": g,
        "overhead_p50_ms": overhead_p50,
        "overhead_p99_ms": overhead_p99,
        "ratio_p50": round(g["p50_ms"] / d["p50_ms"], 2) if d["p50_ms"] else None,
        "ratio_p99": round(g["p99_ms"] / d["p99_ms"], 2) if d["p99_ms"] else None,
        "target_p50": "PASS" if overhead_p50 <= P50_TARGET_MS else "MISS",
        "target_p99": "PASS" if overhead_p99 <= P99_TARGET_MS else "MISS",
        "errors": direct.error_count + gateway.error_count,
        "account_rate_budget": budget,  # as a gateway worker sees it (raised: never waits)
        "load_average_before": [round(x, 2) for x in load_before],
        "machine": _machine(),
        "client_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if gateway_log:
        result["gateway_log_tail"] = gateway_log
    return result


def _table(result: dict[str, Any]) -> str:
    d, g = result["direct"], result["gateway"]
    rows = [
        ("", "direct (httpx)", "gateway (MCP)", "overhead", "ratio", "target"),
        ("calls", str(d["calls"]), str(g["calls"]), "", "", ""),
        ("calls/s", str(d["calls_per_s"]), str(g["calls_per_s"]), "", "", ""),
        ("errors", str(d["errors"]), str(g["errors"]), "", "", "0"),
        ("p50 ms", str(d["p50_ms"]), str(g["p50_ms"]), str(result["overhead_p50_ms"]),
         str(result["ratio_p50"]), f"<= {P50_TARGET_MS:g} ms {result['target_p50']}"),
        ("p99 ms", str(d["p99_ms"]), str(g["p99_ms"]), str(result["overhead_p99_ms"]),
         str(result["ratio_p99"]), f"<= {P99_TARGET_MS:g} ms {result['target_p99']}"),
    ]  # fmt: skip
    for name in ("client", "sandbox", "gateway", "postgres", "redis"):
        rows.append(
            (
                f"CPU ms/call {name}",
                str(d["cpu_ms_per_call"].get(name, "")),
                str(g["cpu_ms_per_call"].get(name, "")),
                "", "", "",
            )
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [result["setup"]]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    lines.append(f"machine: {result['machine']}")
    if result["errors"]:
        lines.append(f"error kinds: direct {d['error_kinds']}, gateway {g['error_kinds']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-gateway"]:  # the gateway subprocess (see _gateway)
        from connector_gateway.cli import main as gateway_main

        sys.argv = ["connector-gateway", *argv[1:]]
        return int(gateway_main() or 0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured gateway phase")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=4, help="MCP sessions per account")
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes")
    parser.add_argument(
        "--baseline-seconds", type=float, help="measured direct phase (default min(seconds, 20))"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds per phase")
    parser.add_argument(
        "--log-level", default="warning", help="gateway log level (warning: no access log)"
    )
    parser.add_argument("--json", action="store_true", help="print the JSON result too")
    args = parser.parse_args(argv)
    result = run(
        seconds=args.seconds,
        accounts=args.accounts,
        sessions=args.sessions,
        workers=args.workers,
        baseline_seconds=args.baseline_seconds,
        warmup=args.warmup,
        log_level=args.log_level,
    )
    print(_table(result))
    if args.json:
        print(json.dumps(result, indent=2))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
