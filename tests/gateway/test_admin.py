"""Admin API: every route, its auth, its validation errors, revocation, audit and retention."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from connector_gateway import db
from connector_gateway.admin import ROUTES
from connector_gateway.app import purge_audit_once
from connector_gateway.config import Settings
from connector_gateway.crypto import token_hash
from connector_gateway.store import Caller, utcnow

from .conftest import add_sandbox_account, client_for, running_app, sandbox_credentials

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


def _concrete(path: str) -> str:
    return (
        path.replace("{account_id}", "acc_0000")
        .replace("{server_id}", "srv_0000")
        .replace("{token_id}", "tok_0000")
    )


# --- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in ROUTES])
async def test_every_admin_route_refuses_missing_and_wrong_tokens(
    gateway: httpx.AsyncClient, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = await gateway.request(method, _concrete(path), headers=headers, json={})
        assert response.status_code == 401, (method, path, headers)
        error = response.json()["error"]
        assert error["type"] == "unauthorized"
        assert "wrong" not in error["message"]


async def test_admin_api_is_closed_when_no_admin_token_is_set(settings: Settings) -> None:
    closed = Settings(
        database_url=settings.database_url, secret_key=settings.secret_key, admin_token=None
    )
    async with running_app(closed) as app, client_for(app, closed) as client:
        for method, path, _ in ROUTES:
            response = await client.request(
                method, _concrete(path), headers={"Authorization": "Bearer "}
            )
            assert response.status_code == 401
            assert "GATEWAY_ADMIN_TOKEN" in response.json()["error"]["message"]


async def test_unknown_route_and_method_are_json_errors(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await gateway.get("/nowhere", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    response = await gateway.put("/admin/accounts", headers=admin_headers)
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"


# --- accounts ------------------------------------------------------------------------------------


async def test_account_lifecycle(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    account = await add_sandbox_account(gateway, admin_headers, gorgias_sandbox, name="Acme")
    assert account["id"].startswith("acc_")
    assert account["connector"] == "gorgias"
    assert account["name"] == "Acme"
    assert account["base_url"] == gorgias_sandbox.base_url
    assert "credentials" not in account
    assert gorgias_sandbox.api_key not in json.dumps(account)

    listed = (await gateway.get("/admin/accounts", headers=admin_headers)).json()
    assert [a["id"] for a in listed] == [account["id"]]

    detail = (await gateway.get(f"/admin/accounts/{account['id']}", headers=admin_headers)).json()
    assert detail["id"] == account["id"]
    budget = detail["rate_budget"]
    assert budget["requests"] == 40
    assert budget["period"] == 20
    assert 0 < budget["remaining"] <= 40
    assert gorgias_sandbox.api_key not in json.dumps(detail)

    response = await gateway.delete(f"/admin/accounts/{account['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json() == {"id": account["id"], "deleted": True}
    response = await gateway.get(f"/admin/accounts/{account['id']}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    response = await gateway.delete(f"/admin/accounts/{account['id']}", headers=admin_headers)
    assert response.status_code == 404


async def test_account_with_zendesk_credentials(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str], zendesk_sandbox: Any
) -> None:
    account = await add_sandbox_account(gateway, admin_headers, zendesk_sandbox, "zendesk")
    detail = (await gateway.get(f"/admin/accounts/{account['id']}", headers=admin_headers)).json()
    assert detail["connector"] == "zendesk"
    assert detail["rate_budget"]["remaining"] > 0


@pytest.mark.parametrize(
    ("body", "status", "type_", "needle"),
    [
        ({"credentials": {"email": "a@example.com"}}, 400, "bad_request", "installed: gorgias"),
        (
            {"connector": "gorgiass", "credentials": {"email": "a@example.com"}},
            400,
            "unknown_connector",
            "installed: gorgias, zendesk",
        ),
        ({"connector": "gorgias"}, 400, "invalid_credentials", "api_key"),
        ({"connector": "gorgias", "credentials": {}}, 400, "invalid_credentials", "email"),
        (
            {"connector": "gorgias", "credentials": {"emial": "x", "api_key": "k"}},
            400,
            "invalid_credentials",
            "emial",
        ),
        (
            {"connector": "gorgias", "credentials": {"email": {"x": 1}}},
            400,
            "invalid_credentials",
            "'email'",
        ),
        (
            {"connector": "gorgias", "credentials": {"email": "a@example.com"}, "extra": 1},
            400,
            "bad_request",
            "unknown field(s) for an account: extra",
        ),
        (
            {"connector": "gorgias", "credentials": {"api_key": "k"}, "name": 5},
            400,
            "bad_request",
            "name must be a string",
        ),
    ],
)
async def test_account_validation_errors(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    body: dict[str, Any],
    status: int,
    type_: str,
    needle: str,
) -> None:
    response = await gateway.post("/admin/accounts", headers=admin_headers, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == type_
    assert needle in error["message"]
    # nothing was written
    engine = db.create_engine(settings.database_url)
    async with engine.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(db.accounts))
        ).scalar() == 0
    await engine.dispose()


async def test_incomplete_credentials_name_the_missing_fields_not_values(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await gateway.post(
        "/admin/accounts",
        headers=admin_headers,
        json={"connector": "gorgias", "credentials": {"api_key": "sk-do-not-echo"}},
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "email" in message
    assert "sk-do-not-echo" not in response.text


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "not valid")],
)
async def test_bad_json_bodies(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str], content: bytes, needle: str
) -> None:
    response = await gateway.post(
        "/admin/accounts",
        headers={**admin_headers, "Content-Type": "application/json"},
        content=content,
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_json"
    assert needle in response.json()["error"]["message"]


async def test_oversized_body_is_refused(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await gateway.post(
        "/admin/accounts", headers=admin_headers, content=b"{" + b" " * 1_100_000 + b"}"
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "too_large"

    async def chunks():  # no Content-Length: counted while read
        for _ in range(200):
            yield b" " * 10_000

    response = await gateway.post("/admin/accounts", headers=admin_headers, content=chunks())
    assert response.status_code == 413


# --- MCP servers ---------------------------------------------------------------------------------


async def test_mcp_server_lifecycle(
    gateway: httpx.AsyncClient,
    gateway_app: Any,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
    settings: Settings,
) -> None:
    store = gateway_app.state.gateway.store
    account = await add_sandbox_account(gateway, admin_headers, gorgias_sandbox)
    response = await gateway.post(
        f"/admin/accounts/{account['id']}/mcp-servers",
        headers=admin_headers,
        json={
            "read_only": True,
            "expires_in": "1h",
            "methods": ["read"],
            "tags": "tickets,customers",
            "exclude_tools": ["delete_a_gorgias_ticket_by_id"],
            "require_api_token": True,
            "tool_mode": "dynamic",
        },
    )
    assert response.status_code == 201, response.text
    server = response.json()
    assert server["id"].startswith("srv_")
    assert server["account_id"] == account["id"]
    assert server["read_only"] is True
    assert server["require_api_token"] is True
    assert server["tool_mode"] == "dynamic"
    assert server["methods"] == ["read"]
    assert server["tags"] == ["tickets", "customers"]
    assert server["exclude_tools"] == ["delete_a_gorgias_ticket_by_id"]
    expires = dt.datetime.fromisoformat(server["expires_at"])
    assert dt.timedelta(minutes=59) < expires - utcnow() <= dt.timedelta(hours=1)
    prefix = f"{settings.base_url}/mcp/"
    assert server["url"].startswith(prefix)
    token = server["url"][len(prefix) :]
    assert len(token) >= 40  # gwmcp_ + 256 random bits, URL-safe

    found = await store.server_for_token(token)
    assert found is not None and found.id == server["id"]

    # listed without the URL (the token is shown once), filtered by account
    listed = (await gateway.get("/admin/mcp-servers", headers=admin_headers)).json()
    assert [s["id"] for s in listed] == [server["id"]]
    assert "url" not in listed[0]
    assert token not in json.dumps(listed)
    other = (
        await gateway.get("/admin/mcp-servers?account_id=acc_other", headers=admin_headers)
    ).json()
    assert other == []

    # only the hash is stored
    engine = db.create_engine(settings.database_url)
    async with engine.connect() as conn:
        hashes = (await conn.execute(sa.select(db.mcp_servers.c.token_hash))).scalars().all()
    await engine.dispose()
    assert hashes == [token_hash(token)]

    response = await gateway.delete(f"/admin/mcp-servers/{server['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert response.json()["active"] is False
    assert await store.server_for_token(token) is None
    response = await gateway.delete("/admin/mcp-servers/srv_missing", headers=admin_headers)
    assert response.status_code == 404


async def test_deleting_an_account_revokes_its_servers(
    gateway: httpx.AsyncClient,
    gateway_app: Any,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
) -> None:
    account = await add_sandbox_account(gateway, admin_headers, gorgias_sandbox)
    server = (
        await gateway.post(
            f"/admin/accounts/{account['id']}/mcp-servers", headers=admin_headers, json={}
        )
    ).json()
    token = server["url"].rsplit("/", 1)[1]
    await gateway.delete(f"/admin/accounts/{account['id']}", headers=admin_headers)
    assert await gateway_app.state.gateway.store.server_for_token(token) is None
    listed = (await gateway.get("/admin/mcp-servers", headers=admin_headers)).json()
    assert listed[0]["revoked_at"] is not None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"tools": ["list_all_gorgias_tickes"]}, "did you mean list_all_gorgias_tickets"),
        ({"exclude_tools": ["nope"]}, "unknown tool 'nope' in exclude_tools"),
        ({"methods": ["readd"]}, "unknown methods value 'readd'"),
        ({"tags": ["tickes"]}, "unknown tag 'tickes'"),
        ({"tool_mode": "lazy"}, "unknown tool_mode 'lazy'"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at must be in the future"),
        ({"expires_at": "tomorrow"}, "not an ISO-8601 date-time"),
        ({"expires_in": "forever"}, "duration like 1h"),
        ({"expires_in": "1h", "expires_at": "2099-01-01T00:00:00Z"}, "not both"),
        ({"read_only": "yes"}, "read_only must be true or false"),
        ({"methods": [1]}, "methods must be a list of strings"),
        ({"scope": "all"}, "unknown field(s) for an MCP server: scope"),
        (
            {"tools": ["create_a_gorgias_ticket"], "read_only": True},
            "leaves no tool",
        ),
    ],
)
async def test_mcp_server_validation_errors(
    gateway: httpx.AsyncClient,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
    body: dict[str, Any],
    needle: str,
) -> None:
    account = await add_sandbox_account(gateway, admin_headers, gorgias_sandbox)
    response = await gateway.post(
        f"/admin/accounts/{account['id']}/mcp-servers", headers=admin_headers, json=body
    )
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]["message"]
    assert (await gateway.get("/admin/mcp-servers", headers=admin_headers)).json() == []


async def test_mcp_server_for_unknown_account(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await gateway.post(
        "/admin/accounts/acc_missing/mcp-servers", headers=admin_headers, json={}
    )
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no account acc_missing"


async def test_expires_at_in_the_future_is_kept(
    gateway: httpx.AsyncClient,
    gateway_app: Any,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
) -> None:
    account = await add_sandbox_account(gateway, admin_headers, gorgias_sandbox)
    when = (utcnow() + dt.timedelta(days=2)).replace(microsecond=0)
    server = (
        await gateway.post(
            f"/admin/accounts/{account['id']}/mcp-servers",
            headers=admin_headers,
            json={"expires_at": when.isoformat().replace("+00:00", "Z")},
        )
    ).json()
    assert dt.datetime.fromisoformat(server["expires_at"]) == when
    record = await gateway_app.state.gateway.store.get_server(server["id"])
    assert record.expires_at == when
    assert record.active(when - dt.timedelta(seconds=1))
    assert not record.active(when)


# --- API tokens ----------------------------------------------------------------------------------


async def test_api_token_lifecycle(
    gateway: httpx.AsyncClient,
    gateway_app: Any,
    admin_headers: dict[str, str],
    gorgias_sandbox: Any,
) -> None:
    store = gateway_app.state.gateway.store
    account = await add_sandbox_account(gateway, admin_headers, gorgias_sandbox)
    response = await gateway.post(
        "/admin/api-tokens",
        headers=admin_headers,
        json={"name": "ci", "accounts": [account["id"]], "scopes": ["proxy", "mcp"]},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    token = created["token"]
    assert token.startswith("gwtok_") and len(token) >= 40
    assert created["accounts"] == [account["id"]]
    assert created["scopes"] == ["proxy", "mcp"]

    record = await store.api_token(token)
    assert record is not None and record.id == created["id"]
    assert record.allows(account["id"], "proxy")
    assert not record.allows(account["id"], "unified")
    assert not record.allows("acc_other", "proxy")

    listed = (await gateway.get("/admin/api-tokens", headers=admin_headers)).json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0] and token not in json.dumps(listed)

    response = await gateway.delete(f"/admin/api-tokens/{created['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert await store.api_token(token) is None
    response = await gateway.delete("/admin/api-tokens/tok_missing", headers=admin_headers)
    assert response.status_code == 404

    unrestricted = (await gateway.post("/admin/api-tokens", headers=admin_headers)).json()
    assert unrestricted["accounts"] is None and unrestricted["scopes"] is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"scopes": ["admin"]}, "unknown scope(s) admin"),
        ({"accounts": ["acc_nope"]}, "unknown account(s): acc_nope"),
        ({"accounts": "x", "owner": "me"}, "unknown field(s) for an API token: owner"),
        ({"name": ["x"]}, "name must be a string"),
    ],
)
async def test_api_token_validation(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], needle: str
) -> None:
    response = await gateway.post("/admin/api-tokens", headers=admin_headers, json=body)
    assert response.status_code == 400
    assert needle in response.json()["error"]["message"]


# --- audit ---------------------------------------------------------------------------------------


async def test_every_admin_action_is_audited_without_credentials(
    gateway: httpx.AsyncClient, admin_headers: dict[str, str], gorgias_sandbox: Any
) -> None:
    credentials, _ = sandbox_credentials(gorgias_sandbox)
    account = await add_sandbox_account(gateway, admin_headers, gorgias_sandbox)
    await gateway.post(
        "/admin/accounts",
        headers=admin_headers,
        json={"connector": "gorgias", "credentials": {"api_key": credentials["api_key"]}},
    )
    server = (
        await gateway.post(
            f"/admin/accounts/{account['id']}/mcp-servers", headers=admin_headers, json={}
        )
    ).json()
    token = (await gateway.post("/admin/api-tokens", headers=admin_headers, json={})).json()
    await gateway.delete(f"/admin/mcp-servers/{server['id']}", headers=admin_headers)
    await gateway.delete(f"/admin/api-tokens/{token['id']}", headers=admin_headers)

    records = (await gateway.get("/admin/audit", headers=admin_headers)).json()
    assert [(r["action"], r["status"]) for r in records] == [
        ("POST /admin/accounts", "ok"),
        ("POST /admin/accounts", "error"),
        ("POST /admin/accounts/{account_id}/mcp-servers", "ok"),
        ("POST /admin/api-tokens", "ok"),
        ("DELETE /admin/mcp-servers/{server_id}", "ok"),
        ("DELETE /admin/api-tokens/{token_id}", "ok"),
    ]
    assert all(r["kind"] == "admin" for r in records)
    assert all(r["caller"] == {"kind": "admin", "id": None} for r in records)
    assert records[0]["account_id"] == account["id"]
    assert records[0]["arguments"]["body"]["credentials"] == "[redacted]"
    assert records[0]["arguments"]["body"]["connector"] == "gorgias"
    assert records[1]["arguments"]["error"] == {"status": 400, "type": "invalid_credentials"}
    assert records[2]["server_id"] == server["id"]
    assert records[3]["arguments"]["id"] == token["id"]
    assert all(r["duration_ms"] >= 0 for r in records)
    dump = json.dumps(records)
    for secret in (
        credentials["api_key"],
        token["token"],
        server["url"].rsplit("/", 1)[1],
    ):
        assert secret not in dump
    # the query itself is audited too
    again = (await gateway.get("/admin/audit?kind=admin", headers=admin_headers)).json()
    assert again[-1]["action"] == "GET /admin/audit"


async def test_audit_filters_and_jsonl_export(
    gateway: httpx.AsyncClient, gateway_app: Any, admin_headers: dict[str, str]
) -> None:
    store = gateway_app.state.gateway.store
    caller = Caller("mcp_server", "srv_1")
    for i in range(7):
        await store.record_audit(
            "mcp",
            f"tool_{i}",
            "ok",
            1.5,
            caller,
            account_id="acc_a" if i % 2 else "acc_b",
            server_id="srv_1",
            arguments={"i": i, "password": "pw"},
        )
    cutoff = utcnow()
    await store.record_audit("proxy", "GET /api/tickets", "ok", 2, caller, account_id="acc_a")

    only_a = (await gateway.get("/admin/audit?account_id=acc_a", headers=admin_headers)).json()
    assert [r["action"] for r in only_a] == ["tool_1", "tool_3", "tool_5", "GET /api/tickets"]
    assert only_a[0]["arguments"] == {"i": 1, "password": "[redacted]"}
    assert only_a[0]["caller"] == {"kind": "mcp_server", "id": "srv_1"}
    since = cutoff.isoformat().replace("+00:00", "Z")
    recent = (
        await gateway.get("/admin/audit", params={"since": since}, headers=admin_headers)
    ).json()
    assert [r["action"] for r in recent] == ["GET /api/tickets", "GET /admin/audit"]
    mcp = (await gateway.get("/admin/audit?kind=mcp&limit=3", headers=admin_headers)).json()
    assert [r["action"] for r in mcp] == ["tool_0", "tool_1", "tool_2"]

    response = await gateway.get("/admin/audit?format=jsonl&kind=mcp", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.text.splitlines()
    assert [json.loads(line)["action"] for line in lines] == [f"tool_{i}" for i in range(7)]

    for query, needle in (
        ("since=yesterday", "ISO-8601"),
        ("limit=abc", "limit must be an integer"),
        ("limit=0", "between 1 and"),
        ("format=xml", "json or jsonl"),
        ("acount_id=x", "unknown audit parameter(s): acount_id"),
    ):
        response = await gateway.get(f"/admin/audit?{query}", headers=admin_headers)
        assert response.status_code == 400, query
        assert needle in response.json()["error"]["message"]


async def test_jsonl_export_streams_many_records(
    gateway: httpx.AsyncClient, gateway_app: Any, admin_headers: dict[str, str]
) -> None:
    store = gateway_app.state.gateway.store
    engine = store.engine
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            db.audit.insert(),
            [
                {
                    "time": now,
                    "kind": "mcp",
                    "action": f"t{i}",
                    "status": "ok",
                    "duration_ms": 1.0,
                    "caller_kind": "mcp_server",
                    "caller_id": "srv_x",
                    "account_id": "acc_x",
                }
                for i in range(1234)
            ],
        )
    async with gateway.stream(
        "GET", "/admin/audit?format=jsonl&account_id=acc_x", headers=admin_headers
    ) as response:
        lines = [line async for line in response.aiter_lines() if line]
    assert len(lines) == 1234
    assert json.loads(lines[-1])["action"] == "t1233"


# --- retention -----------------------------------------------------------------------------------


async def _age_records(settings: Settings, days: float, action: str) -> None:
    engine = db.create_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            db.audit.update()
            .where(db.audit.c.action == action)
            .values(time=utcnow() - dt.timedelta(days=days))
        )
    await engine.dispose()


async def test_retention_purges_old_audit_records(gateway_app: Any, settings: Settings) -> None:
    state = gateway_app.state.gateway
    caller = Caller("admin")
    for action in ("old", "recent"):
        await state.store.record_audit("admin", action, "ok", 1, caller)
    await _age_records(settings, 91, "old")
    await _age_records(settings, 89, "recent")
    assert await purge_audit_once(state) == 1
    assert [r["action"] for r in await state.store.query_audit()] == ["recent"]
    assert state.last_purge["purged"] == 1


async def test_retention_purge_runs_at_start(settings: Settings) -> None:
    short = Settings(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        admin_token=settings.admin_token,
        audit_retention_days=7,
    )
    async with running_app(short) as app:
        store = app.state.gateway.store
        await store.record_audit("admin", "old", "ok", 1, Caller("admin"))
        await store.record_audit("admin", "kept", "ok", 1, Caller("admin"))
    await _age_records(settings, 8, "old")
    await _age_records(settings, 6, "kept")
    async with running_app(short) as app:
        for _ in range(100):
            if app.state.gateway.last_purge:
                break
            await __import__("asyncio").sleep(0.02)
        assert app.state.gateway.last_purge["purged"] == 1
        assert [r["action"] for r in await app.state.gateway.store.query_audit()] == ["kept"]


async def test_an_unexpected_error_is_a_json_500_without_details(
    gateway: httpx.AsyncClient,
    gateway_app: Any,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = gateway_app.state.gateway.store

    async def broken() -> list[Any]:
        raise RuntimeError("boom with sk-internal-detail")

    monkeypatch.setattr(store, "list_accounts", broken)
    transport = httpx.ASGITransport(app=gateway_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=str(gateway.base_url)) as client:
        response = await client.get("/admin/accounts", headers=admin_headers)
    assert response.status_code == 500
    assert response.json() == {
        "error": {"type": "internal", "message": "internal error (see the gateway log)"}
    }
    assert "sk-internal-detail" not in response.text
    records = await store.query_audit()
    assert records[-1]["status"] == "error"
    assert records[-1]["arguments"]["error"] == {"status": 500, "type": "internal"}
