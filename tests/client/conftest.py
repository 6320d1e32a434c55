"""Fixtures of the client tests: clients pointed at the cassette account, with a request recorder.

Cassettes (pytest-recording / vcrpy) live in `cassettes/client_<module>/`; see the README there.
Clients get tiny retry delays so retry tests are fast; the rate limiter stays on (its default
budget is far above what one test sends).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import CASSETTE_BASE_URL, CASSETTE_EMAIL, REPO_ROOT
from tests.recording import Recorder

# Use the installed `gorgias` package, else the generated sources in place.
_GENERATED = REPO_ROOT / "generated" / "gorgias" / "python"
if importlib.util.find_spec("gorgias") is None and (_GENERATED / "gorgias").is_dir():
    sys.path.insert(0, str(_GENERATED))

gorgias = importlib.import_module("gorgias")

API_KEY = "sk-cassette-0123456789abcdef"
"""Fake API key; tests assert it never shows up in reprs, errors or logs."""



FAST = {"retry_initial_delay": 0.001, "retry_max_delay": 0.002, "max_retry_after": 0.01}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def live(request: pytest.FixtureRequest) -> bool:
    """True when re-recording cassettes: clients then use the real account from the environment
    (GORGIAS_SUBDOMAIN, GORGIAS_EMAIL, GORGIAS_API_KEY); the shared scrubber maps it back to `acme`."""
    mode = request.config.getoption("--record-mode", default="none")
    return mode not in (None, "none") and bool(os.environ.get("GORGIAS_SUBDOMAIN"))


def _account(live: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
    if live:
        return {**FAST}
    options: dict[str, Any] = {"base_url": CASSETTE_BASE_URL, **FAST}
    if "access_token" not in kwargs and "refresh_token" not in kwargs:
        options.update(email=CASSETTE_EMAIL, api_key=API_KEY)
    return options


@pytest.fixture
def make_client(recorder: Recorder, live: bool) -> Iterator[Callable[..., Any]]:
    """Factory of sync clients on the cassette account (Basic auth unless told otherwise)."""
    made: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        options = _account(live, kwargs)
        options.update(kwargs)
        options.setdefault("http_client", httpx.Client(event_hooks={"request": [recorder]}))
        client = gorgias.Gorgias(**options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
        client._http.close()


@pytest.fixture
def make_async_client(recorder: Recorder, live: bool) -> Callable[..., Any]:
    """Factory of async clients on the cassette account (use them with `async with`)."""

    def factory(**kwargs: Any) -> Any:
        options = _account(live, kwargs)
        options.update(kwargs)
        options.setdefault(
            "http_client", httpx.AsyncClient(event_hooks={"request": [recorder.async_hook]})
        )
        return gorgias.AsyncGorgias(**options)

    return factory


@pytest.fixture
def mock_client(recorder: Recorder) -> Callable[..., Any]:
    """A client on an in-memory transport (for checks that must not reach any cassette)."""

    def factory(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> Any:
        transport = httpx.MockTransport(handler)
        options: dict[str, Any] = {
            "base_url": CASSETTE_BASE_URL,
            "email": CASSETTE_EMAIL,
            "api_key": API_KEY,
            **FAST,
            "http_client": httpx.Client(transport=transport, event_hooks={"request": [recorder]}),
        }
        options.update(kwargs)
        return gorgias.Gorgias(**options)

    return factory
