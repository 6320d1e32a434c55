"""Recording the requests a generated client sends (an httpx event hook for sync and async clients)."""

from __future__ import annotations

import httpx


class Recorder:
    """Collects every request the client sends (after auth is applied), via an httpx event hook."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    async def async_hook(self, request: httpx.Request) -> None:
        self.requests.append(request)

    @property
    def paths(self) -> list[str]:
        """`METHOD /raw/path?query` of each request, as sent on the wire."""
        return [f"{r.method} {r.url.raw_path.decode()}" for r in self.requests]
