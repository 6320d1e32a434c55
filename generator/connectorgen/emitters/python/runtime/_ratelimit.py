"""Client-side rate limiting sized from the definition's budgets, and the usage header parser.

The budgets and the headers are the connector's (`_spec.RATE_LIMITS` lists the budgets).

`RateLimiter` is a token bucket (capacity = the budget, refilled continuously), which matches a
server's leaky bucket: a burst of the full budget, then a steady rate; with `window=True` it counts
calls in fixed windows of `period` seconds instead, which matches a server's fixed window. One limiter is shared by a
client instance and its `with_options()` copies. Reservations are taken under a `threading.Lock`
(held only for the arithmetic, never while sleeping), so it is safe from several threads and from
several asyncio tasks; the sync client sleeps with `time.sleep`, the async one with `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ._spec import LIMIT_HEADER, REMAINING_HEADER, RESET_FORMAT, RESET_HEADER, USAGE_HEADER

__all__ = ["RateLimitStatus", "RateLimiter", "parse_rate_limit_headers", "parse_usage_header"]


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The rate-limit headers of a response: `used` calls of `limit` in the current window, and
    `reset_seconds` until it resets when the API says so."""

    used: int
    limit: int
    reset_seconds: float | None = None

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


def parse_usage_header(value: str | None) -> RateLimitStatus | None:
    """Parse a `used/limit` header value such as `10/40`; None when absent or malformed."""
    if not value:
        return None
    used, sep, limit = value.partition("/")
    if not sep:
        return None
    try:
        return RateLimitStatus(used=int(used.strip()), limit=int(limit.strip()))
    except ValueError:
        return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def parse_rate_limit_headers(
    headers: Mapping[str, str], budget: int | None = None
) -> RateLimitStatus | None:
    """The status from the declared rate-limit headers; None when the response has none.

    `budget` stands in for the limit when only the remaining count is sent.
    """
    if USAGE_HEADER:
        status = parse_usage_header(headers.get(USAGE_HEADER))
        if status is not None:
            return status
    remaining = _number(headers.get(REMAINING_HEADER)) if REMAINING_HEADER else None
    limit = _number(headers.get(LIMIT_HEADER)) if LIMIT_HEADER else None
    if limit is None:
        limit = float(budget) if budget is not None else None
    if remaining is None or limit is None or limit < 0 or remaining < 0:
        return None
    reset = _number(headers.get(RESET_HEADER)) if RESET_HEADER else None
    if reset is not None and RESET_FORMAT == "epoch_seconds":
        reset = reset - time.time()
    if reset is not None:
        reset = max(reset, 0.0)
    return RateLimitStatus(
        used=max(int(limit) - int(remaining), 0), limit=int(limit), reset_seconds=reset
    )


class RateLimiter:
    """`requests` calls per `period` seconds (thread- and task-safe): a token bucket, or fixed
    windows when `window` is true."""

    def __init__(self, requests: int, period: float, window: bool = False) -> None:
        if requests < 1 or period <= 0:
            raise ValueError("requests must be >= 1 and period > 0")
        self.requests = requests
        self.period = float(period)
        self.window = window
        self._window_end = 0.0
        self._used = 0
        self._rate = requests / self.period
        self._tokens = float(requests)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        kind = ", window=True" if self.window else ""
        return f"RateLimiter(requests={self.requests}, period={self.period:g}{kind})"

    def reserve(self) -> float:
        """Take one slot; return how many seconds to wait before using it."""
        if self.window:
            return self._reserve_in_window()
        with self._lock:
            now = time.monotonic()
            self._tokens = min(
                float(self.requests), self._tokens + (now - self._updated) * self._rate
            )
            self._updated = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self._rate

    def _reserve_in_window(self) -> float:
        with self._lock:
            now = time.monotonic()
            if now >= self._window_end:
                # each window that ended took up to `requests` of the calls reserved so far
                passed = 1 + int((now - self._window_end) // self.period) if self._window_end else 1
                self._used = max(self._used - passed * self.requests, 0)
                self._window_end = (
                    now + self.period
                    if self._used == 0
                    else self._window_end + passed * self.period
                )
            self._used += 1
            ahead = (self._used - 1) // self.requests
            return 0.0 if ahead == 0 else (self._window_end - now) + (ahead - 1) * self.period

    def observe(self, status: RateLimitStatus) -> None:
        """Align with the server's count (other clients may share the account's budget)."""
        if self.window:
            with self._lock:
                if status.reset_seconds is not None:
                    self._window_end = time.monotonic() + status.reset_seconds
                if status.limit:
                    self._used = max(self._used, status.used * self.requests // status.limit)
            return
        with self._lock:
            remaining = (
                float(status.remaining) * self.requests / status.limit if status.limit else 0.0
            )
            if remaining < self._tokens:
                self._tokens = remaining

    def acquire(self) -> float:
        """Block until a slot is free; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)
        return delay

    async def acquire_async(self) -> float:
        """Wait (without blocking the event loop) until a slot is free; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay
