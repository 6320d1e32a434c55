"""`connector-gateway serve` as a real process: kill -9 in the middle of calls, restart; secrets
never reach its logs."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from connector_gateway.config import Settings
from connector_gateway.store import Store

from . import services
from .conftest import sandbox_credentials

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


async def _create_accounts(
    url: str, headers: dict[str, str], done: list[dict[str, Any]], stop: asyncio.Event, n: int
) -> bool:
    """Creates accounts until stopped; True when the server died during one of its calls."""
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                response = await client.post(
                    "/admin/accounts",
                    json={
                        "connector": "gorgias",
                        "name": f"crash-{n}-{i}",
                        "base_url": "http://127.0.0.1:9",
                        "credentials": {"email": "a@example.com", "api_key": f"key-{n}-{i}"},
                    },
                )
            except httpx.HTTPError:
                return True  # the server died under us: this call got no response
            assert response.status_code == 201, response.text
            done.append(response.json())
        return False


async def test_kill_9_mid_calls_loses_no_completed_audit_and_leaves_no_half_account(
    gateway_process: Any, admin_token: str, secret_key: str, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    headers = {"Authorization": f"Bearer {admin_token}"}
    first = gateway_process(database_url=database_url)
    done: list[dict[str, Any]] = []
    stop = asyncio.Event()
    callers = [
        asyncio.create_task(_create_accounts(first.url, headers, done, stop, n)) for n in range(16)
    ]
    for _ in range(400):  # until a good number of calls completed, then kill while others run
        if len(done) >= 20:
            break
        await asyncio.sleep(0.025)
    first.kill()
    stop.set()
    cut = await asyncio.gather(*callers)
    assert len(done) >= 20
    assert any(cut)  # killed in the middle of calls

    second = gateway_process(database_url=database_url, port=first.port)
    async with httpx.AsyncClient(base_url=second.url, headers=headers, timeout=10) as client:
        accounts = {a["id"] for a in (await client.get("/admin/accounts")).json()}
        audit = (await client.get("/admin/audit", params={"limit": 10000})).json()
        # every call that got its answer is there, with its audit record
        completed = {a["id"] for a in done}
        assert completed <= accounts
        audited = {
            r["account_id"]
            for r in audit
            if r["action"] == "POST /admin/accounts" and r["status"] == "ok"
        }
        assert completed <= audited
        # and it serves again
        response = await client.post(
            "/admin/accounts",
            json={
                "connector": "gorgias",
                "base_url": "http://127.0.0.1:9",
                "credentials": {"email": "a@example.com", "api_key": "after"},
            },
        )
        assert response.status_code == 201

    # no account row without (decryptable) credentials
    store = await Store.open(Settings(database_url=database_url, secret_key=secret_key))
    try:
        for account in await store.list_accounts():
            credentials = await store.account_credentials(account.id)
            assert credentials["email"] == "a@example.com"
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "gateway.db") as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        empty = conn.execute(
            "select count(*) from accounts where credentials is null or length(credentials) = 0"
        ).fetchone()[0]
    assert empty == 0


async def test_no_secret_in_logs_responses_or_database(
    gateway_process: Any,
    admin_token: str,
    secret_key: str,
    tmp_path: Path,
    gorgias_sandbox: Any,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    headers = {"Authorization": f"Bearer {admin_token}"}
    process = gateway_process(database_url=database_url, log_level="debug")
    credentials, base_url = sandbox_credentials(gorgias_sandbox)
    wrong = "sk-wrong-" + secrets.token_hex(8)
    secrets_seen: list[str] = [admin_token, secret_key, credentials["api_key"], wrong]
    async with httpx.AsyncClient(base_url=process.url, headers=headers, timeout=20) as client:
        account = (
            await client.post(
                "/admin/accounts",
                json={"connector": "gorgias", "credentials": credentials, "base_url": base_url},
            )
        ).json()
        bad = await client.post(
            "/admin/accounts",
            json={"connector": "gorgias", "credentials": {"api_key": wrong, "bogus": wrong}},
        )
        assert bad.status_code == 400 and wrong not in bad.text
        server = (
            await client.post(
                f"/admin/accounts/{account['id']}/mcp-servers",
                json={"read_only": True, "expires_in": "1h"},
            )
        ).json()
        server_token = server["url"].rsplit("/", 1)[1]
        token = (await client.post("/admin/api-tokens", json={"scopes": ["proxy"]})).json()
        secrets_seen += [server_token, token["token"]]
        # calls that carry the secrets in paths and headers
        mcp = await client.post(
            f"/mcp/{server_token}",
            headers={
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
            content=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"},
                    },
                }
            ),
        )
        assert mcp.status_code in (200, 404, 406)
        await client.get(f"/mcp/{server_token}x")
        await client.get(
            f"/{account['id']}/proxy/api/tickets",
            headers={"Authorization": f"Bearer {token['token']}"},
        )
        await client.get("/admin/accounts", headers={"Authorization": f"Bearer {wrong}"})
        # secrets in query strings: OAuth callback code/state, one-time connect links, api keys
        await client.get(f"/connect/gorgias/callback?code={wrong}c&state={wrong}s")
        await client.get(f"/connect/gorgias?link={wrong}l&name=acme")
        await client.get(
            f"/{account['id']}/proxy/api/tickets?api_key={wrong}k&limit=1",
            headers={"Authorization": f"Bearer {token['token']}"},
        )
        await client.post("/admin/accounts", content=b"{broken " + wrong.encode())
        detail = (await client.get(f"/admin/accounts/{account['id']}")).json()
        audit = (await client.get("/admin/audit")).text
        for value in (json.dumps(account), json.dumps(detail), audit):
            for secret in secrets_seen:
                assert secret not in value
    process.stop()
    log = process.log()
    assert "/mcp/[redacted]" in log  # the access log shows the path, without the token
    assert "limit=1" in log and "api_key=[redacted]" in log
    assert "Uvicorn running" in log or "Application startup complete" in log
    for secret in secrets_seen:
        assert secret not in log, f"a secret reached the log: {secret[:6]}..."
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("gateway.db*"))
    for secret in secrets_seen:
        assert secret.encode() not in raw


redis_url = services.redis_url


async def test_kill_9_one_of_two_workers_mid_calls(
    gateway_process: Any, admin_token: str, tmp_path: Path, redis_url: str
) -> None:
    """Two uvicorn workers (Redis for the shared state): one is killed with -9 while callers run;
    the other keeps answering, uvicorn replaces the dead one, and every completed call is audited."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    process = gateway_process(redis_url=redis_url, workers=2)
    workers = process.worker_pids()
    assert len(workers) == 2, workers
    done: list[dict[str, Any]] = []
    stop = asyncio.Event()
    callers = [
        asyncio.create_task(_create_accounts(process.url, headers, done, stop, n)) for n in range(8)
    ]
    for _ in range(400):
        if len(done) >= 20:
            break
        await asyncio.sleep(0.025)
    os.kill(workers[0], signal.SIGKILL)
    before = len(done)
    for _ in range(400):  # the surviving worker keeps serving the callers that still run
        if len(done) >= before + 20 or all(c.done() for c in callers):
            break
        await asyncio.sleep(0.025)
    stop.set()
    await asyncio.gather(*callers)
    for _ in range(200):  # uvicorn replaces the killed worker
        current = process.worker_pids()
        if len(current) == 2 and workers[0] not in current:
            break
        await asyncio.sleep(0.05)
    assert len(current) == 2 and workers[0] not in current, current

    async with httpx.AsyncClient(base_url=process.url, headers=headers, timeout=10) as client:
        accounts = {a["id"] for a in (await client.get("/admin/accounts")).json()}
        audit = (await client.get("/admin/audit", params={"limit": 10000})).json()
    completed = {a["id"] for a in done}
    assert completed <= accounts
    assert completed <= {
        r["account_id"]
        for r in audit
        if r["action"] == "POST /admin/accounts" and r["status"] == "ok"
    }
