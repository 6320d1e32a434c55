"""Real redis-server and PostgreSQL for the gateway's multi-worker tests.

Session fixtures start each server once, on a free loopback port, with its data in a fresh
temporary directory, and stop it when the session ends:

- `redis_url`: `redis://127.0.0.1:<port>/0` (no persistence);
- `postgres_url`: `postgresql://gateway@127.0.0.1:<port>/gateway` (trust auth on loopback only,
  fsync off); `postgres_database_url` gives each test a database of its own.

The servers are started by tests/gateway/servers.py (no pytest there: bench/bench_gateway.py
uses it too). When the binaries are missing the fixtures FAIL (a skipped test fails CI anyway):
`bash .ci/install-tools` installs Debian's `redis-server` and `postgresql` (whose binaries live
in /usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root, so as root it runs as
the `postgres` user the Debian package creates (or $GATEWAY_TEST_PG_USER), through `runuser`.

Import the fixtures where they are used (conftest or test module):
`from tests.gateway.services import postgres_url, redis_url`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.gateway import servers
from tests.gateway.servers import (  # noqa: F401  (_pg_bin: tests look the binaries up)
    INSTALL_HINT,
    ServiceMissing,
    _pg_bin,
    create_database,
    free_port,
)

__all__ = [
    "INSTALL_HINT",
    "ServiceMissing",
    "create_database",
    "free_port",
    "postgres_database_url",
    "postgres_url",
    "redis_url",
    "start_postgres",
    "start_redis",
]


@contextlib.contextmanager
def _failing_when_missing(started: contextlib.AbstractContextManager[str]) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(started)
        except ServiceMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        yield url


def start_redis() -> contextlib.AbstractContextManager[str]:
    """A redis-server on a free loopback port; yields its URL (fails the test when missing)."""
    return _failing_when_missing(servers.start_redis())


def start_postgres() -> contextlib.AbstractContextManager[str]:
    """A PostgreSQL cluster on a free loopback port; yields its URL (fails when missing)."""
    return _failing_when_missing(servers.start_postgres())


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with start_redis() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with start_postgres() as url:
        yield url


@pytest.fixture
def postgres_database_url(postgres_url: str) -> str:
    """A fresh, empty database of its own on the session's PostgreSQL server."""
    return create_database(postgres_url)
