"""The Store's hot-path economies keep their guarantees.

Audit group commit (`Store.record_audit`): records that arrive while an audit write is in flight
share the next INSERT; every caller returns only once its record is committed; one bad record
fails only its own caller (SQLite and PostgreSQL, the benchmark's database). Server records are
kept cached while a per-worker revocation sweep still refuses a revoked server within
`cache_seconds`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from connector_gateway import db
from connector_gateway.config import Settings
from connector_gateway.store import AUDIT_BATCH, Caller, Store

from .services import postgres_database_url, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


async def _check_batching(store: Store) -> None:
    inserts: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT"):
            inserts.append(1)

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    calls = 3 * AUDIT_BATCH
    committed_when_returned: list[bool] = []

    async def one(i: int) -> None:
        await store.record_audit(
            "mcp", f"t{i}", "ok", i, Caller("mcp_server", "srv_1"), account_id="acc_b",
            arguments={"i": i, "password": "hunter2"},
        )  # fmt: skip
        # committed before returning: another connection sees it at once
        async with store.engine.connect() as conn:
            seen = await conn.scalar(sa.select(sa.func.count()).where(db.audit.c.action == f"t{i}"))
        committed_when_returned.append(seen == 1)

    await asyncio.gather(*(one(i) for i in range(calls)))
    assert committed_when_returned == [True] * calls
    records = await store.query_audit(account_id="acc_b", limit=10_000)
    assert sorted(r["action"] for r in records) == sorted(f"t{i}" for i in range(calls))
    assert {r["arguments"]["password"] for r in records} == {"[redacted]"}
    assert {r["arguments"]["i"] for r in records} == set(range(calls))
    # grouped: far fewer INSERT statements than records (at least 3, batches are capped)
    assert 3 <= len(inserts) <= calls // 4, len(inserts)

    # a record that cannot be written fails its own caller only (the batch is retried row by row)
    insert = store._insert_audit

    async def refusing_u5(rows: list[dict[str, Any]]) -> None:
        if any(row["action"] == "u5" for row in rows):
            raise RuntimeError("refused")
        await insert(rows)

    store._insert_audit = refusing_u5  # type: ignore[method-assign]
    outcomes = await asyncio.gather(
        *(store.record_audit("mcp", f"u{i}", "ok", 1, Caller("cli")) for i in range(10)),
        return_exceptions=True,
    )
    store._insert_audit = insert  # type: ignore[method-assign]
    assert [repr(o) if isinstance(o, Exception) else o for o in outcomes] == [
        "RuntimeError('refused')" if i == 5 else None for i in range(10)
    ]
    actions = {r["action"] for r in await store.query_audit(limit=10_000)}
    assert {f"u{i}" for i in range(10) if i != 5} <= actions and "u5" not in actions

    # alone, a record is written at once (nothing waits for company)
    inserts.clear()
    await store.record_audit("admin", "alone", "ok", 1, Caller("admin"))
    assert len(inserts) == 1


async def test_audit_records_are_group_committed_sqlite(settings: Settings) -> None:
    store = await Store.open(settings)
    try:
        await _check_batching(store)
    finally:
        await store.close()


async def test_audit_records_are_group_committed_postgresql(postgres_database_url: str) -> None:  # noqa: F811
    db.migrate(postgres_database_url)
    store = await Store.open(
        Settings(database_url=postgres_database_url, secret_key="p" * 40, cache_seconds=0)
    )
    try:
        await _check_batching(store)
    finally:
        await store.close()


async def test_a_server_stays_cached_until_a_sweep_sees_it_revoked(settings: Settings) -> None:
    """A found server is kept (SERVER_KEEP_SECONDS) instead of looked up again every
    cache_seconds; one revocation sweep per worker and cache_seconds still refuses a revoked
    server within cache_seconds."""
    import dataclasses

    quick = dataclasses.replace(settings, cache_seconds=0.2)
    worker_a, worker_b = await Store.open(quick), await Store.open(quick)
    try:
        account = await worker_a.create_account("gorgias", {"api_key": "k"}, None, None)
        server, token = await worker_a.create_server(account.id)
        other, other_token = await worker_a.create_server(account.id)
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(" ".join(statement.split()))

        sa.event.listen(worker_b.engine.sync_engine, "before_cursor_execute", count)
        deadline = asyncio.get_running_loop().time() + 1.0  # 5 x cache_seconds
        while asyncio.get_running_loop().time() < deadline:
            assert (await worker_b.server_for_token(token)).id == server.id  # type: ignore[union-attr]
            assert (await worker_b.server_for_token(other_token)).id == other.id  # type: ignore[union-attr]
            await asyncio.sleep(0.01)
        lookups = [s for s in statements if "token_hash =" in s]
        sweeps = [s for s in statements if "revoked_at >=" in s]
        assert len(lookups) == 2  # once per token, not once per token and 0.2 s
        assert 3 <= len(sweeps) <= 6  # about one per 0.2 s

        await worker_a.revoke_server(server.id)
        revoked_at = asyncio.get_running_loop().time()
        while await worker_b.server_for_token(token) is not None:
            await asyncio.sleep(0.01)
        assert asyncio.get_running_loop().time() - revoked_at <= quick.cache_seconds + 0.1
        assert (await worker_b.server_for_token(other_token)).id == other.id  # type: ignore[union-attr]
    finally:
        await worker_a.close()
        await worker_b.close()
