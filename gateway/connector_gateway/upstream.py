"""Per-worker clients of the vendor APIs, one per connected account.

`Upstream.client(account_id)` answers the account's async client (the generated package's
`Async<Connector>`), built once per worker and cached; it is rebuilt when the account's
credentials version changes (checked at most every `settings.cache_seconds`).

Every client sends through one `httpx.AsyncClient` of its own, on a connection pool of its own
(`POOL_LIMITS`; httpcore scans a pool's connections on every request and every release, so one
pool per worker shared by every account cost ~10% of a worker's CPU with 100 calls in flight).
Tests may give a `base_transport` every account shares instead. Between the two sits
`BudgetTransport`: every HTTP request a
client sends (retries included) first awaits
`budget.acquire(f"account:{id}", requests, period)` for the budget the connector declares for
those credentials. MCP, proxy and unified callers share the client, so they share the budget;
with a RedisBudget every worker shares it too. The client's own pacing is off. A request that
would queue longer than `settings.budget_max_wait` (60 s) is answered 429 `rate_budget_exhausted`
by the gateway and an unreachable Redis 503 `budget_unavailable`: neither sends anything
upstream. `settings.rate_limits = "off"` turns pacing off (sandboxes and benchmarks only).

Other parts wrap the transport per account through `transport_wrappers` (OAuth token refresh),
beneath the budget: a wrapper sees each request once it may go, and must not close the pool.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from redis.exceptions import RedisError

from .access import GatewayError
from .budget import BudgetExceeded, default_burst
from .connectors import Connector

__all__ = [
    "BudgetBusy",
    "BudgetTransport",
    "BudgetUnavailable",
    "TransportWrapper",
    "UnknownAccount",
    "Upstream",
]

logger = logging.getLogger("connector_gateway.upstream")

TransportWrapper = Callable[[httpx.AsyncBaseTransport, Any, Connector], httpx.AsyncBaseTransport]
"""(inner transport, Account, Connector) -> transport used by that account's client."""

#: Seconds a request may queue for its account's rate budget before the gateway answers 429.
DEFAULT_BUDGET_MAX_WAIT = 60.0

#: Seconds an old client stays usable after a rebuild (calls in flight finish on it).
_RETIRE_AFTER = 120.0

#: Connection pool of each account's client (the rate budget paces what goes through it).
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class UnknownAccount(GatewayError, LookupError):
    """No such account (deleted, or never existed), or its connector is not installed (404)."""

    def __init__(self, account_id: str, reason: str = "unknown account") -> None:
        super().__init__(404, "not_found", f"{reason}: {account_id}")
        self.account_id = account_id


class BudgetUnavailable(GatewayError):
    """The shared rate budget (Redis) cannot be reached: no upstream request is sent unpaced."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "budget_unavailable",
            "the shared rate budget is unreachable (Redis); the request was not sent upstream",
        )


class BudgetBusy(GatewayError):
    """The account's budget is booked further ahead than a caller may wait (429, sent nothing)."""

    def __init__(self, wait: float) -> None:
        retry_after = max(1, math.ceil(wait))
        super().__init__(
            429,
            "rate_budget_exhausted",
            f"the account's rate budget is booked for the next {retry_after} s; retry later",
            retry_after=retry_after,
        )


class BudgetTransport(httpx.AsyncBaseTransport):
    """Awaits the account's rate budget before every request, then sends it on `inner`.

    Never closes `inner`: it is the worker's shared pool."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        budget: Any,
        key: str,
        limit: tuple[int, float] | None,
        burst: int | None,
        max_wait: float | None = None,
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.key = key
        self.limit = limit
        self.burst = burst
        self.max_wait = max_wait

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.limit is not None:
            try:
                await self.budget.acquire(
                    self.key, *self.limit, burst=self.burst, max_wait=self.max_wait
                )
            except BudgetExceeded as exc:  # the queue is too long: answer now, send nothing
                raise BudgetBusy(exc.wait) from None
            except (OSError, RedisError) as exc:  # the shared budget is down: send nothing
                logger.error("rate budget unavailable for %s: %s", self.key, type(exc).__name__)
                raise BudgetUnavailable() from None
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:  # the shared pool is closed by Upstream.aclose()
        return None

    def __repr__(self) -> str:
        return f"BudgetTransport(key={self.key!r}, limit={self.limit!r})"


@dataclass
class _Entry:
    client: Any
    http: httpx.AsyncClient
    version: str
    connector: Connector
    limit: tuple[int, float] | None
    burst: int | None
    checked: float
    pool: httpx.AsyncBaseTransport | None = None  # the account's own pool (closed with it)


class Upstream:
    """The worker's cache of upstream clients, per account (see the module docstring)."""

    def __init__(
        self,
        settings: Any,
        store: Any,
        connectors: Mapping[str, Connector],
        budget: Any,
        *,
        transport_wrappers: Sequence[TransportWrapper] | None = None,
        base_transport: httpx.AsyncBaseTransport | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.connectors = connectors
        self.budget = budget
        self.transport_wrappers: list[TransportWrapper] = list(transport_wrappers or ())
        #: the transport every account shares (tests), or None: a pool per account
        self.transport: httpx.AsyncBaseTransport | None = base_transport
        self.client_options = dict(client_options or {})
        self.cache_seconds = float(getattr(settings, "cache_seconds", 0.5))
        max_wait = getattr(settings, "budget_max_wait", None)
        self.budget_max_wait = DEFAULT_BUDGET_MAX_WAIT if max_wait is None else float(max_wait)
        """Longest a request queues for its account's budget before the gateway answers 429."""
        self.pacing = getattr(settings, "rate_limits", "declared") != "off"
        """False (settings.rate_limits = "off"): no pacing, for sandboxes and benchmarks."""
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retired: list[tuple[float, Any, httpx.AsyncClient, Any]] = []

    def __repr__(self) -> str:
        return f"Upstream(accounts={len(self._entries)})"

    # --- clients ----------------------------------------------------------------------------

    async def client(self, account_id: str) -> Any:
        """The account's async client (shared: callers must not close it)."""
        entry = self._entries.get(account_id)
        now = time.monotonic()
        if entry is not None and now - entry.checked < self.cache_seconds:
            return entry.client
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(account_id)
            now = time.monotonic()
            if entry is not None and now - entry.checked < self.cache_seconds:
                return entry.client
            account, credentials, version = await self._load(account_id, entry)
            if entry is not None and version == entry.version:
                entry.checked = now
                return entry.client
            new = self._build(account, credentials, version)
            if entry is not None:
                self._retire(entry)
            self._entries[account_id] = new
            return new.client

    async def _load(
        self, account_id: str, entry: _Entry | None
    ) -> tuple[Any, Mapping[str, Any] | None, str]:
        """(account, credentials or None when unchanged, version)."""
        account = await self.store.get_account(account_id)
        if account is None:
            self.forget(account_id)
            raise UnknownAccount(account_id)
        if entry is not None and f"v:{account.credentials_version}" == entry.version:
            return account, None, entry.version
        number, credentials = await self.store.account_credentials_versioned(account_id)
        return account, credentials, f"v:{number}"

    def _build(self, account: Any, credentials: Mapping[str, Any] | None, version: str) -> _Entry:
        assert credentials is not None
        connector = self.connectors.get(account.connector)
        if connector is None:
            raise UnknownAccount(account.id, f"connector {account.connector!r} is not installed")
        limit = connector.rate_limit(credentials) if self.pacing else None
        burst = default_burst(limit[0], connector.rate_limit_kind(credentials)) if limit else None
        # wrappers sit between the budget and the pool: a request waits for the budget first, so
        # what a wrapper adds (a fresh OAuth access token) is current when the request leaves
        pool: httpx.AsyncBaseTransport | None = None
        transport: httpx.AsyncBaseTransport
        if self.transport is None:
            transport = pool = httpx.AsyncHTTPTransport(limits=POOL_LIMITS, retries=0)
        else:
            transport = self.transport
        for wrap in self.transport_wrappers:
            transport = wrap(transport, account, connector)
        transport = BudgetTransport(
            transport, self.budget, f"account:{account.id}", limit, burst, self.budget_max_wait
        )
        http = httpx.AsyncClient(transport=transport, timeout=None, follow_redirects=False)
        client = connector.create_client(
            credentials, account.base_url, http_client=http, **self.client_options
        )
        return _Entry(client, http, version, connector, limit, burst, time.monotonic(), pool)

    def _retire(self, entry: _Entry) -> None:
        now = time.monotonic()
        self._retired.append((now, entry.client, entry.http, entry.pool))
        due = [r for r in self._retired if now - r[0] > _RETIRE_AFTER]
        self._retired = [r for r in self._retired if now - r[0] <= _RETIRE_AFTER]
        for _t, client, http, pool in due:
            asyncio.get_running_loop().create_task(_close(client, http, pool))

    def forget(self, account_id: str) -> None:
        """Drop the account's cached client (next `client()` rebuilds it from the store)."""
        entry = self._entries.pop(account_id, None)
        if entry is not None:
            self._retire(entry)

    # --- budget -----------------------------------------------------------------------------

    async def budget_status(self, account_id: str) -> dict[str, Any] | None:
        """{"requests", "period", "remaining"} of the account's budget (None: none declared)."""
        entry = self._entries.get(account_id)
        if entry is None:
            await self.client(account_id)
            entry = self._entries[account_id]
        if entry.limit is None:
            return None
        requests, period = entry.limit
        remaining = await self.budget.remaining(
            f"account:{account_id}", requests, period, burst=entry.burst
        )
        return {"requests": requests, "period": period, "remaining": remaining}

    async def aclose(self) -> None:
        entries = list(self._entries.values())
        self._entries.clear()
        for entry in entries:
            await _close(entry.client, entry.http, entry.pool)
        retired, self._retired = self._retired, []
        for _t, client, http, pool in retired:
            await _close(client, http, pool)
        if self.transport is not None:
            await self.transport.aclose()


async def _close(
    client: Any, http: httpx.AsyncClient, pool: httpx.AsyncBaseTransport | None = None
) -> None:
    try:
        await client.aclose()
        await http.aclose()
        if pool is not None:  # the account's own connection pool
            await pool.aclose()
    except Exception:  # closing must never fail the caller
        logger.debug("closing an upstream client failed", exc_info=True)
