"""Fixtures of the unified tests: generated clients on the cassette account, a request recorder,
and the `Unified` / `AsyncUnified` wrappers (`client.unified` when the client exposes it)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import CASSETTE_BASE_URL, CASSETTE_EMAIL, REPO_ROOT
from tests.recording import Recorder as BaseRecorder

_GENERATED = REPO_ROOT / "generated" / "gorgias" / "python"
if importlib.util.find_spec("gorgias") is None and (_GENERATED / "gorgias").is_dir():
    sys.path.insert(0, str(_GENERATED))

gorgias = importlib.import_module("gorgias")
unified_pkg = importlib.import_module("gorgias.unified")

API_KEY = "sk-cassette-unified-0123456789"
FAST = {"retry_initial_delay": 0.001, "retry_max_delay": 0.002, "max_retry_after": 0.01}


class Recorder(BaseRecorder):
    """Every request the client sends; `paths` without the query string (mapping tests compare routes)."""

    @property
    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _options(**extra: Any) -> dict[str, Any]:
    return {"base_url": CASSETTE_BASE_URL, "email": CASSETTE_EMAIL, "api_key": API_KEY, **FAST, **extra}


def wrap(client: Any) -> Any:
    """`client.unified` when the client has the hook, else `Unified(client)` / `AsyncUnified(client)`."""
    hooked = getattr(type(client), "unified", None)
    if hooked is not None:
        return client.unified
    if isinstance(client, gorgias.AsyncGorgias):
        return unified_pkg.AsyncUnified(client)
    return unified_pkg.Unified(client)


@pytest.fixture
def client(recorder: Recorder) -> Iterator[Any]:
    c = gorgias.Gorgias(**_options(http_client=httpx.Client(event_hooks={"request": [recorder]})))
    yield c
    c.close()


@pytest.fixture
def unified(client: Any) -> Any:
    return wrap(client)


@pytest.fixture
def make_async(recorder: Recorder) -> Callable[[], Any]:
    def factory() -> Any:
        return gorgias.AsyncGorgias(**_options(
            http_client=httpx.AsyncClient(event_hooks={"request": [recorder.async_hook]})))

    return factory


@pytest.fixture
def offline(recorder: Recorder) -> Iterator[Any]:
    """A client whose transport fails the test on any request (checks that must not send anything)."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    c = gorgias.Gorgias(**_options(http_client=httpx.Client(
        transport=httpx.MockTransport(handler), event_hooks={"request": [recorder]})))
    yield c
    c.close()
