"""OAuth2: the /connect flow against a threaded sandbox, and token refresh across workers.

The connect flow is followed by hand (gateway -> sandbox authorize -> gateway callback) with
httpx; the refresh tests run two Upstream instances (two workers) on one SQLite file, each with
its own Store and TokenRefresher, sharing one RedisBudget on a real redis-server, against a
sandbox whose access tokens live 2 seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from connector_gateway import oauth
from connector_gateway.budget import RedisBudget
from connector_gateway.config import Settings
from connector_gateway.connectors import discover
from connector_gateway.store import Store
from connector_gateway.upstream import Upstream

from tests.gateway.conftest import client_for, free_port, running_app
from tests.gateway.services import redis_url  # noqa: F401 - session fixture

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

APPS = {"gorgias": ("sandbox", "sandbox"), "zendesk": ("sandbox", "sandbox")}
TTL = 2


@pytest.fixture
def oauth_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, oauth_apps=APPS)


@pytest.fixture
async def app(oauth_settings: Settings) -> AsyncIterator[Any]:
    async with running_app(oauth_settings) as app:
        yield app


@pytest.fixture
async def gw(app: Any, oauth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, oauth_settings) as client:
        yield client


def _start_sandbox(connector: str, **options: Any) -> Any:
    module = __import__(f"{connector}.sandbox", fromlist=["serve_in_thread"])
    return module.serve_in_thread(seed=1, **options)


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, Any]]:
    handles = {c: _start_sandbox(c, rate_limit="off") for c in APPS}
    yield handles
    for handle in handles.values():
        handle.stop()


@pytest.fixture
def short_sandbox() -> Iterator[Any]:
    """A gorgias sandbox whose access tokens live TTL seconds (its declared rate limit on)."""
    handle = _start_sandbox("gorgias", oauth_token_ttl=TTL)
    yield handle
    handle.stop()


async def connect(
    gw: httpx.AsyncClient,
    headers: dict[str, str] | None,
    connector: str,
    sandbox: Any,
    **params: str,
) -> httpx.Response:
    """Run the whole flow by hand; the callback's response."""
    start = await gw.get(
        f"/connect/{connector}",
        params={"name": f"{connector} via oauth", "base_url": sandbox.base_url, **params},
        headers=headers or {},
    )
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    assert location.startswith(sandbox.oauth_app()["authorize_url"] + "?")
    assert start.json()["authorize_url"] == location
    approved = httpx.get(location, follow_redirects=False)
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == (
        f"http://127.0.0.1:8800/connect/{connector}/callback"
    )
    return await gw.get(f"{back.path}?{back.query}")


def _raw_rows(database_url: str) -> bytes:
    """Every byte of every row of the accounts, oauth_states and audit tables."""
    path = database_url.removeprefix("sqlite:///")
    out = []
    with sqlite3.connect(path) as db:
        for table in ("accounts", "oauth_states", "audit"):
            for row in db.execute(f"SELECT * FROM {table}"):
                out.append(repr(row).encode())
    return b"\n".join(out)


@pytest.mark.parametrize("connector", ["gorgias", "zendesk"])
async def test_connect_flow_creates_an_account_with_encrypted_tokens(
    gw: httpx.AsyncClient,
    app: Any,
    admin_headers: dict[str, str],
    sandboxes: dict[str, Any],
    oauth_settings: Settings,
    connector: str,
) -> None:
    sandbox = sandboxes[connector]
    before = sandbox.stats()["oauth"].get("authorization_code", 0)
    done = await connect(gw, admin_headers, connector, sandbox, scopes="tickets:read")
    assert done.status_code == 201, done.text
    account = done.json()
    assert account["id"].startswith("acc_") and account["connector"] == connector
    assert account["name"] == f"{connector} via oauth"
    assert account["base_url"] == sandbox.base_url
    assert sandbox.stats()["oauth"]["authorization_code"] == before + 1
    offline = sandbox.oauth.offline_scope
    assert account["scope"] == " ".join(["tickets:read", *([offline] if offline else [])])

    state = app.state.gateway
    credentials = await state.store.account_credentials(account["id"])
    assert set(credentials) == {"access_token", "refresh_token", "token_expires_at"}
    assert 3500 < credentials["token_expires_at"] - time.time() <= 3600
    secrets_ = [credentials["access_token"], credentials["refresh_token"]]
    assert not any(s in done.text for s in secrets_)
    raw = _raw_rows(oauth_settings.database_url)
    assert not any(s.encode() in raw for s in secrets_)
    listed = await gw.get(f"/admin/accounts/{account['id']}", headers=admin_headers)
    assert listed.status_code == 200 and not any(s in listed.text for s in secrets_)

    # the account works: the upstream client calls the sandbox with the stored access token
    client = await state.upstream.client(account["id"])
    page = await client.tickets.list().first_page()
    assert page.items
    audit = await state.store.query_audit(account_id=account["id"], kind="oauth")
    assert [(r["kind"], r["action"], r["status"]) for r in audit] == [
        ("oauth", f"GET /connect/{connector}/callback", "ok")
    ]
    assert not any(s in json.dumps(audit, default=str) for s in secrets_)


async def test_state_is_single_use_and_expires(
    gw: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sandboxes: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = sandboxes["gorgias"]
    start = await gw.get(
        "/connect/gorgias", params={"base_url": sandbox.base_url}, headers=admin_headers
    )
    approved = httpx.get(start.headers["location"])
    callback = urlsplit(approved.headers["location"])
    first = await gw.get(f"{callback.path}?{callback.query}")
    assert first.status_code == 201
    again = await gw.get(f"{callback.path}?{callback.query}")
    assert again.status_code == 400
    assert again.json()["error"]["type"] == "invalid_state"

    monkeypatch.setattr(oauth, "STATE_TTL", 0.2)
    start = await gw.get(
        "/connect/gorgias", params={"base_url": sandbox.base_url}, headers=admin_headers
    )
    approved = httpx.get(start.headers["location"])
    callback = urlsplit(approved.headers["location"])
    await asyncio.sleep(0.4)
    late = await gw.get(f"{callback.path}?{callback.query}")
    assert late.status_code == 400 and late.json()["error"]["type"] == "invalid_state"

    # a refusal at the vendor comes back as an error (and spends the state)
    start = await gw.get(
        "/connect/gorgias", params={"base_url": sandbox.base_url}, headers=admin_headers
    )
    state = dict(httpx.QueryParams(urlsplit(start.headers["location"]).query))["state"]
    denied = await gw.get(
        "/connect/gorgias/callback", params={"state": state, "error": "access_denied"}
    )
    assert denied.status_code == 400
    assert denied.json()["error"] == {
        "type": "oauth_refused",
        "message": "the authorization server refused: access_denied",
    }
    missing = await gw.get("/connect/gorgias/callback", params={"code": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["type"] == "invalid_state"


async def test_connect_refusals(
    gw: httpx.AsyncClient, admin_headers: dict[str, str], sandboxes: dict[str, Any]
) -> None:
    base = {"base_url": sandboxes["gorgias"].base_url}
    cases = [
        ("/connect/gorgias", base, {}, 401, "unauthorized"),
        ("/connect/gorgias", base, {"Authorization": "Bearer nope"}, 401, "unauthorized"),
        ("/connect/nosuch", base, admin_headers, 404, "unknown_connector"),
        ("/connect/gorgias", {**base, "colour": "red"}, admin_headers, 400, "invalid_request"),
        ("/connect/gorgias", {**base, "scopes": "root"}, admin_headers, 400, "invalid_request"),
        ("/connect/gorgias", {"subdomain": "no/slash"}, admin_headers, 400, "invalid_request"),
        ("/connect/gorgias", {}, admin_headers, 400, "invalid_request"),
        ("/connect/gorgias", {"base_url": "ftp://x"}, admin_headers, 400, "invalid_request"),
    ]
    for path, params, headers, status, type_ in cases:
        response = await gw.get(path, params=params, headers=headers)
        assert response.status_code == status, (path, params, response.text)
        assert response.json()["error"]["type"] == type_, (path, params, response.text)
        assert "location" not in response.headers
    audit = await gw.get("/admin/audit", params={"kind": "oauth"}, headers=admin_headers)
    refused = [r for r in audit.json() if r["status"] == "error"]
    assert len(refused) == 6  # the admin's refused starts (not the unauthenticated ones)
    assert {r["caller"]["kind"] for r in refused} == {"admin"}
    # the declared authorize URL template takes the server variables
    vendor = await gw.get("/connect/gorgias", params={"subdomain": "acme"}, headers=admin_headers)
    assert vendor.status_code == 302
    assert vendor.headers["location"].startswith("https://acme.gorgias.com/oauth/authorize?")
    query = dict(httpx.QueryParams(urlsplit(vendor.headers["location"]).query))
    assert query["redirect_uri"] == "http://127.0.0.1:8800/connect/gorgias/callback"
    assert query["client_id"] == "sandbox" and query["code_challenge_method"] == "S256"
    assert "offline" in query["scope"].split()


async def test_no_oauth_app_configured(
    settings: Settings, admin_headers: dict[str, str], sandboxes: dict[str, Any]
) -> None:
    async with running_app(settings) as app, client_for(app, settings) as gw:
        response = await gw.get(
            "/connect/zendesk",
            params={"base_url": sandboxes["zendesk"].base_url},
            headers=admin_headers,
        )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "oauth_not_configured"
    assert "GATEWAY_OAUTH_ZENDESK_CLIENT_ID" in response.json()["error"]["message"]


async def test_one_time_connect_link(
    gw: httpx.AsyncClient, admin_headers: dict[str, str], sandboxes: dict[str, Any]
) -> None:
    sandbox = sandboxes["zendesk"]
    created = await gw.post(
        "/admin/connect-links",
        json={"connector": "zendesk", "name": "by link", "base_url": sandbox.base_url},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    url = urlsplit(created.json()["url"])
    assert created.json()["url"].startswith("http://127.0.0.1:8800/connect/zendesk?link=")
    start = await gw.get(f"{url.path}?{url.query}")  # a browser: no Authorization header
    assert start.status_code == 302
    approved = httpx.get(start.headers["location"])
    callback = urlsplit(approved.headers["location"])
    done = await gw.get(f"{callback.path}?{callback.query}")
    assert done.status_code == 201 and done.json()["name"] == "by link"
    reused = await gw.get(f"{url.path}?{url.query}")
    assert reused.status_code == 401 and reused.json()["error"]["type"] == "invalid_link"
    bad = await gw.post(
        "/admin/connect-links", json={"connector": "zendesk", "x": 1}, headers=admin_headers
    )
    assert bad.status_code == 400
    assert (await gw.post("/admin/connect-links", json={"connector": "zendesk"})).status_code == 401


# --- refresh across workers ------------------------------------------------------------------


class Worker:
    """One gateway worker's view: its own Store, TokenRefresher and Upstream."""

    def __init__(self, settings: Settings, store: Store, budget: Any, connectors: Any) -> None:
        holder = SimpleNamespace(settings=settings, store=store, budget=budget)
        self.store = store
        self.refresher = oauth.TokenRefresher(holder)
        self.upstream = Upstream(
            settings, store, connectors, budget, transport_wrappers=[self.refresher.wrap]
        )

    async def call(self, account_id: str) -> int:
        client = await self.upstream.client(account_id)
        page = await client.tickets.list(limit=1).first_page()
        return len(page.items)

    async def aclose(self) -> None:
        await self.upstream.aclose()
        await self.store.close()


async def _sandbox_tokens(sandbox: Any) -> dict[str, Any]:
    """An access + refresh token pair from the sandbox (the code grant, as the callback does)."""
    app = sandbox.oauth_app()
    start = httpx.get(
        app["authorize_url"],
        params={
            "response_type": "code",
            "client_id": "sandbox",
            "redirect_uri": "http://127.0.0.1:9/cb",
            "scope": "tickets:read offline",
        },
    )
    code = dict(httpx.QueryParams(urlsplit(start.headers["location"]).query))["code"]
    token = httpx.post(
        app["token_url"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "client_id": "sandbox",
            "client_secret": "sandbox",
        },
    ).json()
    return {
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "token_expires_at": time.time() + token["expires_in"],
    }


@pytest.fixture
async def workers(
    oauth_settings: Settings,
    redis_url: str,  # noqa: F811 - session fixture
    short_sandbox: Any,
) -> AsyncIterator[tuple[Worker, Worker, str]]:
    connectors = discover()
    prefix = f"gw-oauth-{time.monotonic_ns()}:"
    budget = RedisBudget(redis_url, prefix=prefix)
    stores = [await Store.open(oauth_settings) for _ in range(2)]
    credentials = await _sandbox_tokens(short_sandbox)
    account = await stores[0].create_account(
        "gorgias", credentials, short_sandbox.base_url, "short-lived"
    )
    a, b = (Worker(oauth_settings, store, budget, connectors) for store in stores)
    yield a, b, account.id
    await a.aclose()
    await b.aclose()
    await budget.aclose()


async def test_two_workers_refresh_once_per_expiry(
    workers: tuple[Worker, Worker, str], short_sandbox: Any, oauth_settings: Settings
) -> None:
    a, b, account_id = workers
    before = short_sandbox.stats()
    started = time.monotonic()
    deadline = started + 2 * TTL
    calls = 0

    async def caller(worker: Worker) -> None:
        nonlocal calls
        while time.monotonic() < deadline:
            assert await worker.call(account_id) == 1
            calls += 1
            await asyncio.sleep(0.02)

    await asyncio.gather(*(caller(w) for w in (a, b, a, b)))
    elapsed = time.monotonic() - started
    after = short_sandbox.stats()
    refreshes = after["oauth"].get("refresh_token", 0) - before["oauth"].get("refresh_token", 0)
    assert "error:invalid_grant" not in after["oauth"]
    assert after["statuses"].get("401", 0) == before["statuses"].get("401", 0)
    assert after["statuses"].get("429", 0) == before["statuses"].get("429", 0)
    # renewed once per lifetime (a quarter before expiry), by one of the two workers
    assert elapsed / TTL - 1 <= refreshes <= elapsed / (0.75 * TTL) + 1, (refreshes, elapsed)
    assert a.refresher.refreshes + b.refresher.refreshes == refreshes
    assert calls > 40
    account = await a.store.get_account(account_id)
    assert account is not None and account.credentials_version == 1 + refreshes
    audit = await a.store.query_audit(account_id=account_id, kind="oauth")
    assert [r["status"] for r in audit] == ["ok"] * refreshes

    # a stale worker takes the token the other one stored instead of refreshing again
    expires_at = (await a.store.account_credentials(account_id))["token_expires_at"]
    await asyncio.sleep(max(0.0, expires_at - 0.1 - time.time()))  # stale for every worker
    count = a.refresher.refreshes
    assert await a.call(account_id) == 1
    assert a.refresher.refreshes == count + 1
    b_count = b.refresher.refreshes
    assert await b.call(account_id) == 1
    assert b.refresher.refreshes == b_count
    final = short_sandbox.stats()["oauth"]
    assert final["refresh_token"] - before["oauth"].get("refresh_token", 0) == refreshes + 1

    # the tokens are stored encrypted only
    credentials = await a.store.account_credentials(account_id)
    raw = _raw_rows(oauth_settings.database_url)
    assert credentials["access_token"].encode() not in raw
    assert credentials["refresh_token"].encode() not in raw


async def test_client_401_renewal_goes_through_the_coordinated_refresh(
    workers: tuple[Worker, Worker, str], short_sandbox: Any
) -> None:
    """The vendor revokes the access token early: the client's own 401 renewal reaches the
    token endpoint through the wrapper, which renews once and persists the new tokens."""
    a, b, account_id = workers
    assert await a.call(account_id) == 1
    stored = await a.store.account_credentials(account_id)
    oauth_server = short_sandbox.oauth
    with oauth_server.lock:
        del oauth_server.access[stored["access_token"]]  # revoked at the vendor
    before = short_sandbox.stats()
    assert await a.call(account_id) == 1
    after = short_sandbox.stats()
    assert after["statuses"].get("401", 0) - before["statuses"].get("401", 0) == 1
    assert after["oauth"]["refresh_token"] - before["oauth"].get("refresh_token", 0) == 1
    renewed = await a.store.account_credentials(account_id)
    assert renewed["access_token"] != stored["access_token"]
    assert renewed["refresh_token"] != stored["refresh_token"]
    # the other worker still holds the revoked token: its 401 makes it take the stored one
    assert await b.call(account_id) == 1
    assert short_sandbox.stats()["oauth"]["refresh_token"] == after["oauth"]["refresh_token"]
    assert "error:invalid_grant" not in short_sandbox.stats()["oauth"]


async def test_a_refresh_grant_through_the_proxy_reveals_no_token(
    gw: httpx.AsyncClient, app: Any, admin_headers: dict[str, str], sandboxes: dict[str, Any]
) -> None:
    """The wrapper answers refresh grants to the token endpoint itself, with placeholders: a
    proxy caller posting one gets no token of the account, and nothing is spent at the vendor."""
    sandbox = sandboxes["gorgias"]
    done = await connect(gw, admin_headers, "gorgias", sandbox)
    account_id = done.json()["id"]
    created = await gw.post(
        "/admin/api-tokens", json={"accounts": [account_id]}, headers=admin_headers
    )
    api = {"Authorization": f"Bearer {created.json()['token']}"}
    stored = await app.state.gateway.store.account_credentials(account_id)
    before = sandbox.stats()["oauth"].get("refresh_token", 0)
    response = await gw.post(
        f"/{account_id}/proxy/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "guess"},
        headers=api,
    )
    assert response.status_code == 200
    assert response.json()["access_token"] == oauth.MANAGED_TOKEN
    assert stored["access_token"] not in response.text
    assert stored["refresh_token"] not in response.text
    assert sandbox.stats()["oauth"].get("refresh_token", 0) == before
    assert await app.state.gateway.store.account_credentials(account_id) == stored
    # and the account still works through the proxy with its real token
    tickets = await gw.get(f"/{account_id}/proxy/api/tickets", params={"limit": 1}, headers=api)
    assert tickets.status_code == 200 and len(tickets.json()["data"]) == 1


async def test_token_endpoint_failures_and_log_redaction(
    gw: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sandboxes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = sandboxes["zendesk"]

    async def state_for(base_url: str) -> str:
        start = await gw.get(
            "/connect/zendesk", params={"base_url": base_url}, headers=admin_headers
        )
        assert start.status_code == 302
        return dict(httpx.QueryParams(urlsplit(start.headers["location"]).query))["state"]

    wrong_code = await gw.get(
        "/connect/zendesk/callback",
        params={"state": await state_for(sandbox.base_url), "code": "not-a-code"},
    )
    assert wrong_code.status_code == 502
    assert wrong_code.json()["error"] == {
        "type": "oauth_exchange_failed",
        "message": "token endpoint answered 400 invalid_grant",
    }
    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = await gw.get(
        "/connect/zendesk/callback", params={"state": await state_for(closed), "code": "c"}
    )
    assert unreachable.status_code == 502
    assert unreachable.json()["error"]["message"] == "token endpoint unreachable: ConnectError"

    # uvicorn's access log shows paths with their query: codes, states and links are masked
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/connect/zendesk/callback?code=SECRET1&state=SECRET2", "1.1", 201),
        None,
    )
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").handle(record)
    assert "SECRET" not in caplog.text and "code=[redacted]&state=[redacted]" in caplog.text
    assert oauth.redact_query("/connect/x?link=abc") == "/connect/x?link=[redacted]"
    assert oauth.redact_query("/acc_1/proxy/api/tickets?state=open") == (
        "/acc_1/proxy/api/tickets?state=open"
    )


def test_cli_connect_link(
    oauth_settings: Settings,
    sandboxes: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`connector-gateway accounts connect-link` (the CLI twin of POST /admin/connect-links)
    prints a link the running gateway accepts once."""
    from connector_gateway.cli import main

    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    assert oauth_settings.secret_key
    monkeypatch.setenv("GATEWAY_SECRET_KEY", oauth_settings.secret_key)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", oauth_settings.database_url)
    sandbox = sandboxes["gorgias"]
    base = ["accounts", "connect-link", "--connector", "gorgias", "--base-url", sandbox.base_url]
    assert main([*base, "--public-url", "http://127.0.0.1:8800"]) == 2
    assert "GATEWAY_OAUTH_GORGIAS_CLIENT_ID" in capsys.readouterr().err
    monkeypatch.setenv("GATEWAY_OAUTH_GORGIAS_CLIENT_ID", "sandbox")
    monkeypatch.setenv("GATEWAY_OAUTH_GORGIAS_CLIENT_SECRET", "sandbox")
    assert main([*base, "--var", "nope=1"]) == 2
    assert "unknown parameter(s): nope" in capsys.readouterr().err
    assert main([*base, "--name", "cli", "--public-url", "http://127.0.0.1:8800"]) == 0
    out, err = capsys.readouterr()
    link = urlsplit(out.strip())
    assert out.startswith("http://127.0.0.1:8800/connect/gorgias?link=") and "works once" in err

    async def use() -> None:
        async with running_app(oauth_settings) as app, client_for(app, oauth_settings) as gw:
            start = await gw.get(f"{link.path}?{link.query}")
            assert start.status_code == 302, start.text
            callback = urlsplit(httpx.get(start.headers["location"]).headers["location"])
            done = await gw.get(f"{callback.path}?{callback.query}")
            assert done.status_code == 201 and done.json()["name"] == "cli"
            audit = await app.state.gateway.store.query_audit(kind="admin")
            assert [r["action"] for r in audit if r["status"] == "ok"] == [
                "cli accounts connect-link"
            ]

    asyncio.run(use())
