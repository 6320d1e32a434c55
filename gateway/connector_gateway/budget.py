"""Per-account rate budgets and named locks, in one process or shared by workers through Redis.

Pacing is GCRA (the generic cell rate algorithm, a leaky bucket kept as one timestamp per key:
the "theoretical arrival time" TAT). A request reserves the next slot: TAT advances by one
emission interval and the caller sleeps until its slot. Reservations are FIFO, need one round
trip, and never poll. In Redis one Lua script does read-modify-write atomically and takes the
time from the Redis server (`TIME`), so workers' clocks do not matter; keys expire once idle.

The pacing is slightly conservative so the vendor never answers 429:
- the sustained rate is `SAFETY` (95 %) of the declared `requests / period`;
- a leaky bucket (the vendor's bucket drains at the declared rate) allows a burst of the
  declared `requests` minus a small margin;
- a fixed window (the vendor counts calls per window starting anywhere) allows only a small
  burst, so any window of `period` seconds holds at most `burst + SAFETY * requests` calls.

Locks: `lock(name, ttl)` is an async context manager held by one holder at a time: an
`asyncio.Lock` per name locally; with Redis, redis-py's `Lock` (SET NX PX with a random owner
token, released by a compare-and-delete Lua script, expiring after `ttl` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

__all__ = [
    "SAFETY",
    "Budget",
    "BudgetExceeded",
    "LocalBudget",
    "LockTimeout",
    "RedisBudget",
    "default_burst",
    "make_budget",
]

logger = logging.getLogger("connector_gateway.budget")

SAFETY = 0.95
"""Share of the declared rate the gateway sends at."""


class BudgetExceeded(Exception):
    """Raised by `acquire(..., max_wait=...)` when the next slot is further away than `max_wait`."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate budget exhausted: next request possible in {wait:.2f} s")
        self.wait = wait


class LockTimeout(Exception):
    """Raised by `lock(..., wait=...)` when the lock is not acquired in time."""


def default_burst(requests: int, kind: str | None = "leaky_bucket") -> int:
    """How many requests may go back to back on an idle budget (see the module docstring)."""
    requests = max(1, int(requests))
    if kind == "fixed_window":
        return max(1, math.floor(requests * 0.03))
    return max(1, requests - max(1, math.ceil(requests * 0.05)))


def _pacing(requests: int, period: float, burst: int | None) -> tuple[float, int]:
    """(emission interval in seconds, burst) for a declared budget."""
    if requests <= 0 or period <= 0 or not math.isfinite(period):
        raise ValueError("a budget needs requests > 0 and a finite period > 0")
    interval = period / (requests * SAFETY)
    return interval, max(1, int(burst if burst is not None else default_burst(requests)))


class Budget(Protocol):
    async def acquire(
        self,
        key: str,
        requests: int,
        period: float,
        *,
        burst: int | None = None,
        max_wait: float | None = None,
    ) -> None: ...

    async def remaining(
        self, key: str, requests: int, period: float, *, burst: int | None = None
    ) -> int: ...

    def lock(
        self, name: str, ttl: float, *, wait: float | None = None
    ) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def aclose(self) -> None: ...


# --- in process -------------------------------------------------------------------------------


class LocalBudget:
    """GCRA budgets and locks of one process (one worker)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._reserve_calls = 0

    def _reserve(self, key: str, interval: float, burst: int, max_wait: float | None) -> float:
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        wait = max(0.0, tat - (burst - 1) * interval - now)
        if max_wait is not None and wait > max_wait:
            raise BudgetExceeded(wait)
        self._tat[key] = tat + interval
        self._reserve_calls += 1
        if self._reserve_calls % 1024 == 0:  # forget idle keys
            for k in [k for k, t in self._tat.items() if t < now]:
                del self._tat[k]
        return wait

    async def acquire(
        self,
        key: str,
        requests: int,
        period: float,
        *,
        burst: int | None = None,
        max_wait: float | None = None,
    ) -> None:
        interval, burst = _pacing(requests, period, burst)
        wait = self._reserve(key, interval, burst, max_wait)
        if wait > 0:
            await asyncio.sleep(wait)

    async def remaining(
        self, key: str, requests: int, period: float, *, burst: int | None = None
    ) -> int:
        interval, burst = _pacing(requests, period, burst)
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        return _remaining(now, tat, interval, burst)

    @contextlib.asynccontextmanager
    async def lock(
        self, name: str, ttl: float, *, wait: float | None = None
    ) -> AsyncIterator[None]:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        if wait is None or not lock.locked():  # a free lock is taken without suspending
            await lock.acquire()
        else:
            try:
                await asyncio.wait_for(lock.acquire(), max(wait, 0.0))
            except TimeoutError:
                raise LockTimeout(f"lock {name!r} not acquired within {wait} s") from None
        try:
            yield
        finally:
            lock.release()

    async def aclose(self) -> None:
        self._tat.clear()


def _remaining(now: float, tat: float, interval: float, burst: int) -> int:
    """Requests that may go right now without waiting."""
    free = (now + burst * interval - tat) / interval
    return max(0, min(burst, math.floor(free + 1e-9)))


# --- Redis --------------------------------------------------------------------------------------

# KEYS[1]: the budget key. ARGV: interval (s), burst, max wait (s, -1: none), reserve (1/0).
# Returns {status, wait or remaining as a string}: status 1 = reserved (wait seconds),
# 0 = refused (wait seconds), 2 = remaining count (reserve = 0).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
if ARGV[4] == '0' then
  local free = math.floor((now + burst * interval - tat) / interval + 1e-9)
  return {2, tostring(math.max(0, math.min(burst, free)))}
end
local wait = math.max(0, tat - (burst - 1) * interval - now)
if max_wait >= 0 and wait > max_wait then
  return {0, tostring(wait)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', new_tat),
           'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, tostring(wait)}
"""


class RedisBudget:
    """GCRA budgets and locks shared by every worker (and process) using one Redis."""

    def __init__(self, url_or_client: Any, *, prefix: str = "gw:") -> None:
        if isinstance(url_or_client, str):
            import redis.asyncio as aioredis

            # bounded waits: an unreachable Redis fails a call quickly instead of hanging it
            self.redis = aioredis.Redis.from_url(
                url_or_client, socket_connect_timeout=2, socket_timeout=5
            )
            self._owns = True
        else:
            self.redis = url_or_client
            self._owns = False
        self.prefix = prefix
        self._script = self.redis.register_script(_GCRA)

    def __repr__(self) -> str:  # the URL may hold a password
        return f"RedisBudget(prefix={self.prefix!r})"

    async def _call(
        self, key: str, interval: float, burst: int, max_wait: float, reserve: bool
    ) -> tuple[int, float]:
        status, value = await self._script(
            keys=[f"{self.prefix}budget:{key}"],
            args=[repr(interval), burst, repr(max_wait), "1" if reserve else "0"],
        )
        return int(status), float(value)

    async def acquire(
        self,
        key: str,
        requests: int,
        period: float,
        *,
        burst: int | None = None,
        max_wait: float | None = None,
    ) -> None:
        interval, burst = _pacing(requests, period, burst)
        status, wait = await self._call(
            key, interval, burst, -1.0 if max_wait is None else max_wait, True
        )
        if status == 0:
            raise BudgetExceeded(wait)
        if wait > 0:
            await asyncio.sleep(wait)

    async def remaining(
        self, key: str, requests: int, period: float, *, burst: int | None = None
    ) -> int:
        interval, burst = _pacing(requests, period, burst)
        _status, value = await self._call(key, interval, burst, -1.0, False)
        return int(value)

    @contextlib.asynccontextmanager
    async def lock(
        self, name: str, ttl: float, *, wait: float | None = None
    ) -> AsyncIterator[None]:
        from redis.exceptions import LockError

        lock = self.redis.lock(
            f"{self.prefix}lock:{name}",
            timeout=ttl,
            sleep=0.02,
            blocking=True,
            blocking_timeout=wait,
            thread_local=False,
        )
        if not await lock.acquire():
            raise LockTimeout(f"lock {name!r} not acquired within {wait} s")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:  # expired (held past ttl) and maybe taken by another holder
                logger.warning("lock %r expired before it was released (ttl %.1f s)", name, ttl)

    async def aclose(self) -> None:
        if self._owns:
            await self.redis.aclose()


def make_budget(settings: Any) -> LocalBudget | RedisBudget:
    """RedisBudget when `settings.redis_url` is set, else LocalBudget."""
    url = getattr(settings, "redis_url", None)
    return RedisBudget(url) if url else LocalBudget()
