"""Benchmark of the local sandbox (`gorgias.sandbox`): start-up, throughput and fault recovery.

The sandbox runs in a separate process (`python -m gorgias.sandbox --port 0`-like, on a free
port) so it does not share the client's GIL. Measured, best of N, rate limit off:

(a) start-up: process start to first answer, seeding included;
(b) `GET /api/tickets?limit=100` pages and `GET /api/tickets/{id}` with plain httpx: requests/s;
(c) iterating every ticket through the generated client, with and without 20% injected 5xx
    (the client's retries; the result must still hold every ticket exactly once);
(d) `POST /api/customers` creates per second.

Baseline for (b): the same httpx loop against a trivial uvicorn app answering a constant body,
which shows the cost of the sandbox itself (auth, routing, rendering, pagination).

    python bench/bench_sandbox.py          # prints the JSON result
    python bench/run.py sandbox
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "generated" / "gorgias" / "python"
AUTH = ("sandbox@example.com", "sandbox")
REPEAT = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(GENERATED), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _start(*args: str) -> tuple[subprocess.Popen[bytes], str, float]:
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gorgias.sandbox",
            "--port",
            str(port),
            "--quiet",
            "--rate-limit",
            "off",
            *args,
        ],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/_sandbox", auth=AUTH, timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("sandbox did not start")
        time.sleep(0.02)
    return proc, url, time.perf_counter() - started


def _trivial() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    code = textwrap.dedent(
        f"""
        import uvicorn
        BODY = b'{{"object": "list", "data": [], "meta": {{"next_cursor": null}}}}'
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({{"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]}})
            await send({{"type": "http.response.body", "body": BODY}})
        uvicorn.run(app, host="127.0.0.1", port={port}, log_level="error", lifespan="off", http="h11")
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(500):
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.02)
    return proc, url


def _rate(fn: Any, count: int) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn(count)
        best = min(best, time.perf_counter() - started)
    return round(count / best, 1)


def run() -> dict[str, Any]:
    result: dict[str, Any] = {}
    startups = []
    for _ in range(REPEAT):
        proc, url, seconds = _start()
        startups.append(seconds)
        proc.kill()
        proc.wait()
    result["startup_seconds"] = round(min(startups), 3)

    trivial, trivial_url = _trivial()
    proc, url, _ = _start()
    try:
        with (
            httpx.Client(base_url=url, auth=AUTH) as http,
            httpx.Client(base_url=trivial_url) as base,
        ):
            ids = [t["id"] for t in http.get("/api/tickets", params={"limit": 100}).json()["data"]]

            def pages(n: int) -> None:
                for _ in range(n):
                    http.get("/api/tickets", params={"limit": 100}).raise_for_status()

            def gets(n: int) -> None:
                for i in range(n):
                    http.get(f"/api/tickets/{ids[i % len(ids)]}").raise_for_status()

            def baseline(n: int) -> None:
                for _ in range(n):
                    base.get("/api/tickets").raise_for_status()

            result["baseline_trivial_requests_per_s"] = _rate(baseline, 300)
            result["list_100_pages_per_s"] = _rate(pages, 60)
            result["get_ticket_per_s"] = _rate(gets, 300)

            counter = iter(range(10**9))

            def creates(n: int) -> None:
                for _ in range(n):
                    i = next(counter)
                    http.post(
                        "/api/customers",
                        json={"name": f"Bench {i}", "email": f"bench{i}@example.com"},
                    ).raise_for_status()

            result["create_customer_per_s"] = _rate(creates, 200)
    finally:
        proc.kill()
        trivial.kill()

    sys.path.insert(0, str(GENERATED))
    from gorgias import Gorgias

    for label, args in (
        ("iterate_all_tickets_seconds", ()),
        ("iterate_all_tickets_20pct_5xx_seconds", ("--error-rate", "0.2")),
    ):
        proc, url, _ = _start(*args)
        try:
            client = Gorgias(
                base_url=url,
                email=AUTH[0],
                api_key=AUTH[1],
                rate_limit=False,
                max_retries=8,
                retry_initial_delay=0.01,
                retry_max_delay=0.05,
                max_retry_after=0.05,
            )
            best = float("inf")
            for _ in range(REPEAT):
                started = time.perf_counter()
                seen = [t.id for t in client.tickets.list(limit=100)]
                best = min(best, time.perf_counter() - started)
                if len(seen) != len(set(seen)):
                    raise AssertionError("a ticket was listed twice")
            result[label] = round(best, 3)
            result["tickets"] = len(seen)
            client.close()
        finally:
            proc.kill()
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
