"""Upstream: per-account clients over one pool, paced by the budget, rebuilt on new credentials."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest
from connector_gateway.budget import LocalBudget
from connector_gateway.connectors import discover
from connector_gateway.upstream import UnknownAccount, Upstream

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


@dataclass(frozen=True)
class Account:
    id: str
    connector: str
    name: str
    base_url: str | None


class MemoryStore:
    """The two Store reads Upstream makes (the real Store is tested with the app)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.credentials: dict[str, dict] = {}
        self.reads = 0

    async def get_account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    async def account_credentials(self, account_id: str) -> dict:
        self.reads += 1
        return dict(self.credentials[account_id])


@pytest.fixture(scope="module")
def connectors():
    return discover()


@pytest.fixture(scope="module")
def sandbox(connectors):
    handle = connectors["gorgias"].sandbox_module.serve_in_thread()
    yield handle
    handle.stop()


def add_account(store: MemoryStore, handle, account_id: str = "acc_1") -> dict:
    kwargs = handle.client_kwargs()
    base_url = kwargs.pop("base_url")
    store.accounts[account_id] = Account(account_id, "gorgias", account_id, base_url)
    store.credentials[account_id] = kwargs
    return kwargs


async def test_calls_go_through_the_budget_to_the_sandbox(connectors, sandbox) -> None:
    store, budget = MemoryStore(), LocalBudget()
    add_account(store, sandbox)
    upstream = Upstream(SimpleNamespace(cache_seconds=0.2), store, connectors, budget)
    try:
        client = await upstream.client("acc_1")
        assert type(client).__name__ == "AsyncGorgias"
        page = await client.tickets.list(limit=2).first_page()
        assert len(page.items) == 2 and page.items[0].id
        account = await client.account.get()
        assert account.domain
        assert await upstream.client("acc_1") is client  # cached
        status = await upstream.budget_status("acc_1")
        # gorgias api_key budget: 40 per 20 s; burst 38, two calls spent
        assert status["requests"] == 40 and status["period"] == 20.0
        assert status["remaining"] in (35, 36)
    finally:
        await upstream.aclose()


async def test_budget_paces_every_request_including_retries(connectors, sandbox) -> None:
    store, budget = MemoryStore(), LocalBudget()
    add_account(store, sandbox, "acc_pace")
    # a tiny declared budget: 2 requests per 1 s (burst 1, ~1.9/s sustained)
    upstream = Upstream(SimpleNamespace(cache_seconds=5), store, connectors, budget)
    calls: list[float] = []
    original = budget.acquire

    async def counting(key, requests, period, **kw):
        calls.append(time.monotonic())
        await original(key, 2, 1.0, burst=1)

    budget.acquire = counting  # type: ignore[method-assign]
    try:
        client = await upstream.client("acc_pace")
        start = time.monotonic()
        await asyncio.gather(*(client.request("GET", "/api/account") for _ in range(5)))
        elapsed = time.monotonic() - start
        assert len(calls) == 5
        assert elapsed >= 4 / 1.9 - 0.05  # 1 at once, then one per 1/1.9 s
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
    connectors, sandbox
) -> None:
    store = MemoryStore()
    creds = add_account(store, sandbox, "acc_2")
    upstream = Upstream(SimpleNamespace(cache_seconds=0.0), store, connectors, LocalBudget())
    try:
        first = await upstream.client("acc_2")
        assert await upstream.client("acc_2") is first  # same credentials: same client
        store.credentials["acc_2"] = {**creds, "api_key": "wrong-key"}
        second = await upstream.client("acc_2")
        assert second is not first
        with pytest.raises(Exception) as caught:
            await second.account.get()
        assert type(caught.value).__name__ == "AuthenticationError"
        assert "wrong-key" not in str(caught.value)
        del store.accounts["acc_2"]
        with pytest.raises(UnknownAccount):
            await upstream.client("acc_2")
        with pytest.raises(UnknownAccount):
            await upstream.client("acc_missing")
    finally:
        await upstream.aclose()


async def test_in_process_sandbox_through_base_transport(connectors) -> None:
    sandbox_app = connectors["zendesk"].sandbox_module.create_app()
    store = MemoryStore()
    store.accounts["acc_z"] = Account("acc_z", "zendesk", "z", "http://zendesk.test")
    options = sandbox_app.options
    store.credentials["acc_z"] = {
        "email": options.email,
        "api_token": options.api_key,
        "plan": "enterprise",
    }
    upstream = Upstream(
        SimpleNamespace(cache_seconds=1.0),
        store,
        connectors,
        LocalBudget(),
        base_transport=httpx.ASGITransport(app=sandbox_app),
    )
    try:
        client = await upstream.client("acc_z")
        users = await client.request("GET", "/api/v2/users")
        assert users["users"]
        status = await upstream.budget_status("acc_z")
        assert (status["requests"], status["period"]) == (700, 60.0)
        assert status["remaining"] == 700 * 3 // 100 - 1  # fixed window: small burst, one spent
    finally:
        await upstream.aclose()
