"""Fixtures of the operation tests, for every connector of `spec/`: the client on the cassette
account (or, when re-recording, on the real account from the environment), a request recorder, and
the recording safety rules.

Everything connector-specific comes from the connector's IR: the package to import
(`package.import_name`, `package.client_class`, `Async<client_class>`), the cassette base URL (the
server's `base_url` with every variable set to `acme`, e.g. https://acme.zendesk.com), the
credential arguments (those of the first http_basic / api_key / http_bearer scheme) and the
environment variables that name the real account when re-recording (the server variables' and
credentials' `env`).

Replay (default, CI): `--record-mode=none --block-network`, fake credentials. Re-recording
(`--record-mode=rewrite|all|once|new_episodes`) needs every one of those variables for the
connector (for Gorgias GORGIAS_SUBDOMAIN, GORGIAS_EMAIL, GORGIAS_API_KEY; for Zendesk
ZENDESK_SUBDOMAIN, ZENDESK_EMAIL, ZENDESK_API_TOKEN); the client then talks to the real account and
the shared scrubbers of tests/conftest.py rewrite the account host to `acme` and drop credentials
before anything is written. Operations that change data are only recorded with
`<PREFIX>RECORD_WRITES=1` (e.g. GORGIAS_RECORD_WRITES), and the error cassettes are never
re-recorded (they are hand-written: 429s and 5xx cannot be provoked on demand). The skips happen at
collection time because pytest-recording deletes a cassette as soon as a test using it starts in
`rewrite` mode.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import CASSETTE_EMAIL, CASSETTE_SUBDOMAIN, REPO_ROOT
from tests.operations.casebook import SPEC_ROOT, connectors
from tests.recording import Recorder

HERE = Path(__file__).resolve().parent
API_KEY = "sk-cassette-0123456789abcdef"
"""Fake API key (or token) of the cassette account."""
FAST = {"retry_initial_delay": 0.001, "retry_max_delay": 0.002, "max_retry_after": 0.01}
"""Tiny retry delays: retry tests replay in milliseconds."""
CONNECTORS = connectors()
STATIC_AUTH = ("http_basic", "api_key", "http_bearer")


@cache
def connector(name: str) -> Any:
    """The IR of one connector's definition (the source of truth for which operations exist)."""
    from connectorgen.pipeline import build

    return build(SPEC_ROOT / name)


@cache
def package(name: str) -> ModuleType:
    """The generated package of a connector, imported by its import name."""
    import_name = connector(name).package.import_name
    generated = REPO_ROOT / "generated" / name / "python"
    if importlib.util.find_spec(import_name) is None and (generated / import_name).is_dir():
        sys.path.insert(0, str(generated))
    return importlib.import_module(import_name)


def client_class(name: str, *, asynchronous: bool = False) -> Any:
    cls = connector(name).package.client_class
    return getattr(package(name), f"Async{cls}" if asynchronous else cls)


def cassette_base_url(name: str) -> str:
    """The server's base URL with every variable set to the cassette account (`acme`)."""
    return re.sub(r"\{[^{}]+\}", CASSETTE_SUBDOMAIN, connector(name).server.base_url)


def _static_auth(name: str) -> Any:
    return next(a for a in connector(name).auth if a.type in STATIC_AUTH)


def cassette_credentials(name: str) -> dict[str, str]:
    """Fake credentials of the cassette account, as keyword arguments of the client."""
    out: dict[str, str] = {}
    for credential in _static_auth(name).credentials:
        if credential.fixed is not None:
            continue
        out[credential.param] = API_KEY if credential.secret else CASSETTE_EMAIL
    return out


@dataclass(frozen=True)
class Live:
    """The environment variables naming a real account, per client argument."""

    variables: dict[str, str]
    """client argument -> environment variable (server variables, then credentials)."""
    writes: str
    """The variable that allows recording operations that change data."""

    def missing(self) -> list[str]:
        return [env for env in self.variables.values() if not os.environ.get(env)]

    def options(self) -> dict[str, str]:
        return {arg: os.environ[env] for arg, env in self.variables.items()}


@cache
def live_env(name: str) -> Live:
    ir = connector(name)
    variables = {v.name: v.env for v in ir.server.variables if v.env}
    for credential in _static_auth(name).credentials:
        if credential.fixed is None and credential.env:
            variables[credential.param] = credential.env
    return Live(variables, f"{ir.package.env_prefix}RECORD_WRITES")


def recording(config: pytest.Config) -> bool:
    return config.getoption("--record-mode", default=None) not in (None, "none")


def _item_connector(item: pytest.Item) -> str | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    name = params.get("connector")
    if name is None and params.get("case") is not None:
        name = getattr(params["case"], "connector", None)
    if name is None:
        marker = item.get_closest_marker("connector")
        name = marker.args[0] if marker else None
    return name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not recording(config):
        return
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        name = _item_connector(item)
        if name is None:
            continue
        live = live_env(name)
        missing = live.missing()
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
        writes = os.environ.get(live.writes) == "1"
        if tool and not writes and not connector(name).operation(tool).read_only:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{tool} changes data: set {live.writes}=1 to record it against a real "
                    "account (edit the case's ids first; see cassettes/README.md)"
                )
            )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hand_written_only: cassette is hand-written and never re-recorded"
    )
    config.addinivalue_line("markers", "connector(name): the connector a test talks to")



def is_live(config: pytest.Config, name: str) -> bool:
    """True when re-recording against the connector's real account from the environment."""
    return recording(config) and not live_env(name).missing()


@pytest.fixture
def live(request: pytest.FixtureRequest) -> bool:
    """True when re-recording against the real account of the test's connector."""
    name = _item_connector(request.node)
    return name is not None and is_live(request.config, name)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(
    recorder: Recorder, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Factory of sync clients of a connector (`make_client("zendesk", **options)`): the cassette
    account, or the real one when re-recording.

    Responses are validated strictly (`strict_response_validation=True`): a documented payload
    that does not fit its model fails the test instead of being passed through with a warning.
    """
    made: list[tuple[Any, httpx.Client]] = []

    def factory(name: str, **kwargs: Any) -> Any:
        options: dict[str, Any] = {**FAST, "strict_response_validation": True}
        if is_live(request.config, name):
            options.update(live_env(name).options())
        else:
            options.update(base_url=cassette_base_url(name), **cassette_credentials(name))
        options.update(kwargs)
        http = httpx.Client(event_hooks={"request": [recorder]})
        options["http_client"] = http
        client = client_class(name)(**options)
        made.append((client, http))
        return client

    yield factory
    for client, http in made:
        client.close()
        http.close()
