"""Upstream: per-account clients over one pool, paced by the budget, rebuilt on new credentials."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
import pytest
from connector_gateway.budget import LocalBudget, RedisBudget
from connector_gateway.connectors import discover
from connector_gateway.store import Store
from connector_gateway.upstream import BudgetBusy, BudgetUnavailable, UnknownAccount, Upstream

from tests.gateway.services import free_port

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


@pytest.fixture
async def store(settings):
    store = await Store.open(settings)
    yield store
    await store.close()


@pytest.fixture(scope="module")
def connectors():
    return discover()


@pytest.fixture(scope="module")
def sandbox(connectors):
    handle = connectors["gorgias"].sandbox_module.serve_in_thread()
    yield handle
    handle.stop()


async def add_account(store, handle, connector: str = "gorgias", **extra) -> tuple[str, dict]:
    kwargs = handle.client_kwargs()
    base_url = kwargs.pop("base_url")
    account = await store.create_account(connector, {**kwargs, **extra}, base_url, "test")
    return account.id, kwargs


async def test_calls_go_through_the_budget_to_the_sandbox(connectors, sandbox, store) -> None:
    budget = LocalBudget()
    acc, _creds = await add_account(store, sandbox)
    upstream = Upstream(SimpleNamespace(cache_seconds=0.2), store, connectors, budget)
    try:
        client = await upstream.client(acc)
        assert type(client).__name__ == "AsyncGorgias"
        page = await client.tickets.list(limit=2).first_page()
        assert len(page.items) == 2 and page.items[0].id
        account = await client.account.get()
        assert account.domain
        assert await upstream.client(acc) is client  # cached
        status = await upstream.budget_status(acc)
        # gorgias api_key budget: 40 per 20 s; burst 38, two calls spent
        assert status["requests"] == 40 and status["period"] == 20.0
        assert status["remaining"] in (35, 36)
    finally:
        await upstream.aclose()


async def test_budget_paces_every_request_including_retries(connectors, sandbox, store) -> None:
    budget = LocalBudget()
    acc, _creds = await add_account(store, sandbox)
    # a small budget: 10 requests per 1 s (burst 1, 9.5/s sustained)
    upstream = Upstream(SimpleNamespace(cache_seconds=5), store, connectors, budget)
    calls: list[float] = []
    original = budget.acquire

    async def counting(key, requests, period, **kw):
        calls.append(time.monotonic())
        await original(key, 10, 1.0, burst=1)

    budget.acquire = counting  # type: ignore[method-assign]
    try:
        client = await upstream.client(acc)
        start = time.monotonic()
        await asyncio.gather(*(client.request("GET", "/api/account") for _ in range(5)))
        elapsed = time.monotonic() - start
        assert len(calls) == 5
        assert elapsed >= 4 / 9.5 - 0.02  # 1 at once, then one per 1/9.5 s
        # a retried request pays again: the sandbox answers 503 once, the client retries
        sandbox.app.options.error_rate = 1.0
        calls.clear()
        with pytest.raises(Exception):  # noqa: B017 - every attempt fails
            await client.with_options(max_retries=2, retry_initial_delay=0.01).request(
                "GET", "/api/account"
            )
        assert len(calls) == 3
    finally:
        sandbox.app.options.error_rate = 0.0
        await upstream.aclose()


async def test_client_rebuilt_when_credentials_change_and_unknown_account(
    connectors, sandbox, store
) -> None:
    acc, creds = await add_account(store, sandbox)
    upstream = Upstream(SimpleNamespace(cache_seconds=0.0), store, connectors, LocalBudget())
    try:
        first = await upstream.client(acc)
        assert await upstream.client(acc) is first  # same credentials: same client
        assert await store.update_credentials(acc, {**creds, "api_key": "wrong-key"})
        second = await upstream.client(acc)
        assert second is not first
        with pytest.raises(Exception) as caught:
            await second.account.get()
        assert type(caught.value).__name__ == "AuthenticationError"
        assert "wrong-key" not in str(caught.value)
        assert await store.delete_account(acc)
        with pytest.raises(UnknownAccount):
            await upstream.client(acc)
        with pytest.raises(UnknownAccount):
            await upstream.client("acc_missing")
    finally:
        await upstream.aclose()


async def test_in_process_sandbox_through_base_transport(connectors, store) -> None:
    sandbox_app = connectors["zendesk"].sandbox_module.create_app()
    options = sandbox_app.options
    credentials = {"email": options.email, "api_token": options.api_key, "plan": "enterprise"}
    acc = (await store.create_account("zendesk", credentials, "http://zendesk.test")).id
    upstream = Upstream(
        SimpleNamespace(cache_seconds=1.0),
        store,
        connectors,
        LocalBudget(),
        base_transport=httpx.ASGITransport(app=sandbox_app),
    )
    try:
        client = await upstream.client(acc)
        users = await client.request("GET", "/api/v2/users")
        assert users["users"]
        status = await upstream.budget_status(acc)
        assert (status["requests"], status["period"]) == (700, 60.0)
        assert status["remaining"] == 700 * 3 // 100 - 1  # fixed window: small burst, one spent
    finally:
        await upstream.aclose()


async def test_unreachable_redis_budget_refuses_without_calling_upstream(
    connectors, sandbox, store
) -> None:
    acc, _creds = await add_account(store, sandbox)
    budget = RedisBudget(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    upstream = Upstream(SimpleNamespace(cache_seconds=1.0), store, connectors, budget)
    sandbox.app.reset_stats()
    try:
        client = await upstream.client(acc)
        start = time.monotonic()
        with pytest.raises(BudgetUnavailable) as caught:
            await client.account.get()
        assert time.monotonic() - start < 3
        assert (caught.value.status, caught.value.type) == (503, "budget_unavailable")
        assert sum(sandbox.stats()["requests"].values()) == 0
    finally:
        await upstream.aclose()
        await budget.aclose()


async def test_a_request_queued_too_long_is_answered_429_by_the_gateway(connectors, store) -> None:
    sent: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": 1})

    credentials = {"email": "me@example.com", "api_key": "k-secret"}
    acc = (await store.create_account("gorgias", credentials, "http://gorgias.test")).id
    upstream = Upstream(
        SimpleNamespace(cache_seconds=5.0, budget_max_wait=0.3),
        store,
        connectors,
        LocalBudget(),
        base_transport=httpx.MockTransport(vendor),
    )
    try:
        client = await upstream.client(acc)
        # Gorgias declares 40 per 20 s: a burst of 38, then one slot every 20 / 38 s > 0.3 s
        for _ in range(38):
            assert await client.request("GET", "/api/account") == {"id": 1}
        with pytest.raises(BudgetBusy) as caught:
            await client.request("GET", "/api/account")
        assert (caught.value.status, caught.value.type) == (429, "rate_budget_exhausted")
        assert caught.value.body()["error"]["retry_after"] == 1
        assert len(sent) == 38  # the refused request never left
        assert (await upstream.budget_status(acc))["remaining"] == 0
    finally:
        await upstream.aclose()


async def test_pacing_off_for_sandboxes_and_benchmarks(connectors, store) -> None:
    from connector_gateway.config import Settings, SettingsError

    settings = Settings.from_env({"GATEWAY_RATE_LIMITS": "off", "GATEWAY_BUDGET_MAX_WAIT": "5"})
    assert (settings.rate_limits, settings.budget_max_wait) == ("off", 5.0)
    assert Settings().rate_limits == "declared"
    with pytest.raises(SettingsError, match="rate_limits must be 'declared' or 'off'"):
        Settings(rate_limits="sometimes")
    credentials = {"email": "me@example.com", "api_key": "k-secret"}
    acc = (await store.create_account("gorgias", credentials, "http://gorgias.test")).id
    budget = LocalBudget()
    upstream = Upstream(
        settings,
        store,
        connectors,
        budget,
        base_transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})),
    )
    try:
        client = await upstream.client(acc)
        start = time.monotonic()
        for _ in range(60):  # beyond the declared 40 / 20 s, unpaced
            await client.request("GET", "/api/account")
        assert time.monotonic() - start < 2
        assert await upstream.budget_status(acc) is None
        assert await budget.remaining(f"account:{acc}", 40, 20) == 38  # untouched
    finally:
        await upstream.aclose()


async def test_budget_answers_through_the_proxy_route(settings, admin_headers) -> None:
    """The proxy shows the remaining budget, and a queue past budget_max_wait is a JSON 429."""
    from tests.gateway.conftest import client_for, running_app

    sent: list[str] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"id": 1})

    settings = settings.with_overrides(budget_max_wait=0.2)
    async with (
        running_app(settings, base_transport=httpx.MockTransport(vendor)) as app,
        client_for(app, settings) as gateway,
    ):
        created = await gateway.post(
            "/admin/accounts",
            headers=admin_headers,
            json={
                "connector": "gorgias",
                "credentials": {"email": "me@example.com", "api_key": "k-secret"},
                "base_url": "http://gorgias.test",
            },
        )
        assert created.status_code == 201, created.text
        acc = created.json()["id"]
        token = await gateway.post("/admin/api-tokens", headers=admin_headers, json={})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        remaining = []
        for _ in range(38):
            response = await gateway.get(f"/{acc}/proxy/api/account", headers=headers)
            assert response.status_code == 200, response.text
            remaining.append(int(response.headers["X-Gateway-Budget-Remaining"]))
        assert remaining[0] == 37 and remaining[-1] <= 1
        # ten more at once: the budget has at most a slot or two within 0.2 s
        more = await asyncio.gather(
            *(gateway.get(f"/{acc}/proxy/api/account", headers=headers) for _ in range(10))
        )
        refused = [r for r in more if r.status_code == 429]
        assert len(refused) >= 7, [r.status_code for r in more]
        assert {r.status_code for r in more} <= {200, 429}
        error = refused[0].json()["error"]
        assert error["type"] == "rate_budget_exhausted" and error["retry_after"] == 1
        assert len(sent) == 38 + len(more) - len(refused)  # refused ones never left
