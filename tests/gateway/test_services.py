"""The real-server fixtures fail (never skip) with a clear message when a binary is missing."""

from __future__ import annotations

import pytest

from tests.gateway import servers, services


def test_missing_redis_server_fails_with_the_install_hint(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception) as caught, services.start_redis():
        pass
    assert "redis-server is not installed: run `bash .ci/install-tools`" in str(caught.value)


def test_missing_postgresql_fails_with_the_install_hint(monkeypatch) -> None:
    monkeypatch.setattr(servers, "_pg_bin", lambda name: None)  # the starter lives there
    with pytest.raises(pytest.fail.Exception) as caught, services.start_postgres():
        pass
    assert "PostgreSQL binaries (initdb, postgres) not found" in str(caught.value)
    assert ".ci/install-tools" in str(caught.value)


def test_postgres_binaries_found_in_the_debian_location() -> None:
    initdb = services._pg_bin("initdb")
    assert initdb is not None and initdb.endswith("/initdb")
