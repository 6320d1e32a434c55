"""Fixtures of the operation tests: the client on the cassette account (or, when re-recording, on
the real account from the environment), a request recorder, and the recording safety rules.

Replay (default, CI): `--record-mode=none --block-network`, client on https://acme.gorgias.com with
fake credentials. Re-recording (`--record-mode=rewrite|all|once|new_episodes`) needs
GORGIAS_SUBDOMAIN, GORGIAS_EMAIL and GORGIAS_API_KEY; the client then talks to the real account and
the shared scrubbers of tests/conftest.py rewrite the subdomain to `acme` and drop credentials
before anything is written. Operations that change data are only recorded with
GORGIAS_RECORD_WRITES=1, and the error cassettes are never re-recorded (they are hand-written:
429s and 5xx cannot be provoked on demand). The skips happen at collection time because
pytest-recording deletes a cassette as soon as a test using it starts in `rewrite` mode.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CASSETTE_BASE_URL, CASSETTE_EMAIL, GORGIAS_SPEC, REPO_ROOT
from tests.recording import Recorder

_GENERATED = REPO_ROOT / "generated" / "gorgias" / "python"
if importlib.util.find_spec("gorgias") is None and (_GENERATED / "gorgias").is_dir():
    sys.path.insert(0, str(_GENERATED))

gorgias = importlib.import_module("gorgias")

HERE = Path(__file__).resolve().parent
API_KEY = "sk-cassette-0123456789abcdef"
"""Fake API key of the cassette account."""
FAST = {"retry_initial_delay": 0.001, "retry_max_delay": 0.002, "max_retry_after": 0.01}
"""Tiny retry delays: retry tests replay in milliseconds."""
LIVE_ENV = ("GORGIAS_SUBDOMAIN", "GORGIAS_EMAIL", "GORGIAS_API_KEY")
WRITES_ENV = "GORGIAS_RECORD_WRITES"


@cache
def connector() -> Any:
    """The IR of the bundled definition (the source of truth for which operations exist)."""
    from connectorgen.pipeline import build

    return build(GORGIAS_SPEC)


def recording(config: pytest.Config) -> bool:
    return config.getoption("--record-mode", default=None) not in (None, "none")


def live_credentials() -> dict[str, str] | None:
    values = {name: os.environ.get(name, "") for name in LIVE_ENV}
    return values if all(values.values()) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not recording(config):
        return
    missing = [name for name in LIVE_ENV if not os.environ.get(name)]
    writes = os.environ.get(WRITES_ENV) == "1"
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        if missing:
            item.add_marker(
                pytest.mark.skip(reason=f"re-recording needs {', '.join(missing)} (real account)")
            )
            continue
        if item.get_closest_marker("hand_written_only"):
            item.add_marker(
                pytest.mark.skip(reason="hand-written cassette (cannot be provoked on demand)")
            )
            continue
        tool = getattr(getattr(item, "callspec", None), "params", {}).get("tool")
        if tool and not writes and not connector().operation(tool).read_only:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{tool} changes data: set {WRITES_ENV}=1 to record it against a real "
                    "account (edit the case's ids first; see cassettes/README.md)"
                )
            )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hand_written_only: cassette is hand-written and never re-recorded"
    )



@pytest.fixture
def live(request: pytest.FixtureRequest) -> bool:
    """True when re-recording against the real account from the environment."""
    return recording(request.config) and live_credentials() is not None


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(recorder: Recorder, live: bool) -> Iterator[Callable[..., Any]]:
    """Factory of sync clients: the cassette account, or the real one when re-recording.

    Responses are validated strictly (`strict_response_validation=True`): a documented payload
    that does not fit its model fails the test instead of being passed through with a warning.
    """
    made: list[tuple[Any, httpx.Client]] = []

    def factory(**kwargs: Any) -> Any:
        options: dict[str, Any] = {**FAST, "strict_response_validation": True}
        if live:
            creds = live_credentials() or {}
            options.update(
                subdomain=creds["GORGIAS_SUBDOMAIN"],
                email=creds["GORGIAS_EMAIL"],
                api_key=creds["GORGIAS_API_KEY"],
            )
        else:
            options.update(base_url=CASSETTE_BASE_URL, email=CASSETTE_EMAIL, api_key=API_KEY)
        options.update(kwargs)
        http = httpx.Client(event_hooks={"request": [recorder]})
        options["http_client"] = http
        client = gorgias.Gorgias(**options)
        made.append((client, http))
        return client

    yield factory
    for client, http in made:
        client.close()
        http.close()
