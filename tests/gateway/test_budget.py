"""Rate budgets (GCRA, local and Redis) and named locks: never over budget, shared across
instances and processes, locks exclusive and expiring."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import redis.asyncio as aioredis
from connector_gateway.budget import (
    BudgetExceeded,
    LocalBudget,
    LockTimeout,
    RedisBudget,
    default_burst,
    make_budget,
)

from tests.conftest import REPO_ROOT
from tests.gateway import services

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

redis_url = services.redis_url  # a real redis-server (tests/gateway/services.py)


def leaky_bucket_overflows(times: list[float], capacity: int, period: float) -> int:
    """How many of these arrivals a vendor's leaky bucket (capacity, drains capacity/period)
    would refuse."""
    rate, level, last, refused = capacity / period, 0.0, None, 0
    for t in sorted(times):
        if last is not None:
            level = max(0.0, level - (t - last) * rate)
        last = t
        if level + 1 > capacity + 1e-9:
            refused += 1
        else:
            level += 1
    return refused


def most_in_any_window(times: list[float], period: float) -> int:
    """The largest number of arrivals within any window of `period` seconds (fixed windows
    may start anywhere)."""
    ordered, best, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= period:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run_callers(
    budget, key: str, callers: int, requests: int, period: float, **kw
) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await budget.acquire(key, requests, period, **kw)
        times.append(time.time())

    await asyncio.gather(*(one() for _ in range(callers)))
    return times


def test_pacing_parameters() -> None:
    assert default_burst(40) == 38  # leaky bucket: declared requests minus a 5 % margin
    assert default_burst(200, "fixed_window") == 6  # fixed window: a 3 % burst only
    assert default_burst(1) == 1
    with pytest.raises(ValueError):
        asyncio.run(LocalBudget().acquire("k", 0, 1.0))


async def test_local_budget_never_exceeds_a_leaky_bucket_and_keeps_90_percent() -> None:
    budget = LocalBudget()
    start = time.time()
    times = await run_callers(budget, "account:a", 60, 20, 0.5)
    elapsed = time.time() - start
    assert leaky_bucket_overflows(times, 20, 0.5) == 0
    # 19 at once, then 41 at 95 % of 40/s
    assert 41 / 38 - 0.05 <= elapsed <= 41 / 38 + 0.5
    steady = (len(times) - 19) / (max(times) - start)
    assert steady >= 0.9 * 40
    # another key has a budget of its own
    other = time.time()
    await run_callers(budget, "account:b", 19, 20, 0.5)
    assert time.time() - other < 0.1
    assert await budget.remaining("account:b", 20, 0.5) == 0
    assert await budget.remaining("account:c", 20, 0.5) == 19


async def test_local_budget_fixed_window_and_max_wait() -> None:
    budget = LocalBudget()
    burst = default_burst(40, "fixed_window")
    times = await run_callers(budget, "fw", 45, 40, 0.5, burst=burst)
    assert most_in_any_window(times, 0.5) <= 40
    with pytest.raises(BudgetExceeded) as caught:
        await budget.acquire("fw", 40, 0.5, burst=burst, max_wait=0.001)
    assert caught.value.wait > 0.001


async def test_local_lock_is_exclusive_and_times_out() -> None:
    budget = LocalBudget()
    inside, most = 0, 0

    async def worker() -> None:
        nonlocal inside, most
        async with budget.lock("refresh:acc", ttl=5):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(10)))
    assert most == 1
    async with budget.lock("x", ttl=5):
        with pytest.raises(LockTimeout):
            async with budget.lock("x", ttl=5, wait=0.05):
                pass
        with pytest.raises(LockTimeout):
            async with budget.lock("x", ttl=5, wait=0):
                pass
    async with budget.lock("x", ttl=5, wait=0):  # free: taken at once
        assert budget._locks["x"].locked()


async def test_redis_budget_shared_by_two_instances(redis_url) -> None:
    key = f"account:{uuid.uuid4().hex}"
    one, two = RedisBudget(redis_url), RedisBudget(redis_url)
    try:
        start = time.time()
        first, second = await asyncio.gather(
            run_callers(one, key, 30, 20, 0.5), run_callers(two, key, 30, 20, 0.5)
        )
        elapsed = time.time() - start
        times = first + second
        assert leaky_bucket_overflows(times, 20, 0.5) == 0
        assert elapsed >= 41 / 38 - 0.05  # the two instances share one budget
        assert (len(times) - 19) / (max(times) - min(times)) >= 0.9 * 40
        assert await one.remaining(key, 20, 0.5) <= 1
        # the key expires once the budget is idle again
        client = aioredis.Redis.from_url(redis_url)
        ttl = await client.pttl(f"gw:budget:{key}")
        assert 0 < ttl <= 0.5 / 20 / 0.95 * 20 * 1000 + 1000
        await client.aclose()
        await asyncio.sleep(0.6)
        assert await two.remaining(key, 20, 0.5) == 19
    finally:
        await one.aclose()
        await two.aclose()


PROCESS_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from connector_gateway.budget import RedisBudget

    async def main(url, key, n):
        budget = RedisBudget(url)
        times = []
        async def one():
            await budget.acquire(key, 20, 0.5)
            times.append(time.time())
        await asyncio.gather(*(one() for _ in range(n)))
        await budget.aclose()
        print(json.dumps(times))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def test_redis_budget_shared_by_two_processes(redis_url) -> None:
    key = f"account:{uuid.uuid4().hex}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_SCRIPT, redis_url, key, "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        for _ in range(2)
    ]
    times: list[float] = []
    for proc in procs:
        out, err = await asyncio.to_thread(proc.communicate, timeout=60)
        assert proc.returncode == 0, err.decode()
        times += json.loads(out)
    assert len(times) == 60
    assert leaky_bucket_overflows(times, 20, 0.5) == 0
    # both processes drew from one budget: 60 calls need ~(60-19)/38 s, not half that
    assert max(times) - min(times) >= 41 / 38 - 0.1


async def test_redis_lock_exclusive_across_instances_and_expires(redis_url, caplog) -> None:
    name = f"refresh:{uuid.uuid4().hex}"
    budgets = [RedisBudget(redis_url) for _ in range(3)]
    inside, most, entered = 0, 0, 0

    async def worker(budget) -> None:
        nonlocal inside, most, entered
        async with budget.lock(name, ttl=5, wait=10):
            inside += 1
            entered += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    try:
        await asyncio.gather(*(worker(budgets[i % 3]) for i in range(9)))
        assert (most, entered) == (1, 9)
        # held elsewhere: a bounded wait gives up, wait=0 tries once
        async with budgets[0].lock(name, ttl=5):
            with pytest.raises(LockTimeout):
                async with budgets[1].lock(name, ttl=5, wait=0.1):
                    pass
            with pytest.raises(LockTimeout):
                async with budgets[1].lock(name, ttl=5, wait=0):
                    pass
        async with budgets[1].lock(name, ttl=5, wait=0):
            pass
        # a holder that outlives its ttl loses the lock: another instance gets it
        caplog.set_level(logging.WARNING, logger="connector_gateway.budget")
        start = time.monotonic()
        async with budgets[0].lock(name, ttl=0.3), budgets[1].lock(name, ttl=5, wait=2):
            waited = time.monotonic() - start
        assert 0.2 <= waited < 1.5
        assert "expired before it was released" in caplog.text
        client = aioredis.Redis.from_url(redis_url)
        assert await client.exists(f"gw:lock:{name}") == 0  # released by its owner
        await client.aclose()
    finally:
        for budget in budgets:
            await budget.aclose()


def test_make_budget_picks_redis_with_a_url(redis_url) -> None:
    from types import SimpleNamespace

    assert isinstance(make_budget(SimpleNamespace(redis_url=None)), LocalBudget)
    remote = make_budget(SimpleNamespace(redis_url=redis_url))
    assert isinstance(remote, RedisBudget)
    assert redis_url not in repr(remote)
    asyncio.run(remote.aclose())
