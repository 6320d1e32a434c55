"""Client-side rate limiting: budget sized from the definition, usage header parsed and used."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

from gorgias import RateLimiter, RateLimitStatus
from gorgias._ratelimit import parse_usage_header


@pytest.mark.vcr
def test_usage_header_is_parsed(make_client: Any) -> None:
    client = make_client()
    assert client.rate_limit_status is None
    team = client.teams.get(12)
    assert team.name == "Tier 1"
    status = client.rate_limit_status
    assert status == RateLimitStatus(used=38, limit=40)
    assert status.remaining == 2
    # the shared budget is nearly used up: the limiter now allows two calls before pausing
    limiter = client.rate_limiter
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 0.0
    assert 0.45 < limiter.reserve() <= 0.5  # 40 per 20 s = one call per 0.5 s


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10/40", RateLimitStatus(10, 40)),
        (" 3 / 80 ", RateLimitStatus(3, 80)),
        ("", None),
        (None, None),
        ("40", None),
        ("a/b", None),
    ],
)
def test_parse_usage_header(value: str | None, expected: RateLimitStatus | None) -> None:
    assert parse_usage_header(value) == expected


def test_token_bucket_burst_then_steady_rate() -> None:
    limiter = RateLimiter(4, 2.0)  # burst of 4, then one every 0.5 s
    waits = [limiter.reserve() for _ in range(6)]
    assert waits[:4] == [0.0] * 4
    assert waits[4] == pytest.approx(0.5, abs=0.01)
    assert waits[5] == pytest.approx(1.0, abs=0.01)


def test_limiter_is_thread_safe() -> None:
    limiter = RateLimiter(1000, 1000.0)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            w = limiter.reserve()
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # exactly 1000 free slots were handed out, the other 200 calls must wait
    assert sum(1 for w in waits if w == 0.0) == 1000
    assert len(waits) == 1200


def test_client_paces_requests(mock_client: Any) -> None:
    client = mock_client(
        lambda r: httpx.Response(200, json={"id": 1, "name": "vip"}), rate_limit=RateLimiter(2, 0.2)
    )
    started = time.perf_counter()
    for _ in range(4):
        client.tags.get(1)
    elapsed = time.perf_counter() - started
    assert 0.15 < elapsed < 1.0  # 2 immediately, then one per 0.1 s


def test_rate_limit_can_be_disabled(mock_client: Any) -> None:
    client = mock_client(
        lambda r: httpx.Response(
            200, json={}, headers={"X-Gorgias-Account-Api-Call-Limit": "40/40"}
        ),
        rate_limit=False,
    )
    assert client.rate_limiter is None
    started = time.perf_counter()
    for _ in range(50):
        client.tags.get(1)
    assert time.perf_counter() - started < 1.0
    assert client.rate_limit_status == RateLimitStatus(40, 40)


async def test_async_limiter_shared_between_tasks() -> None:
    limiter = RateLimiter(3, 0.3)
    started = time.perf_counter()
    waits = await asyncio.gather(*(limiter.acquire_async() for _ in range(5)))
    assert sorted(waits)[:3] == [0.0, 0.0, 0.0]
    assert time.perf_counter() - started >= 0.19
