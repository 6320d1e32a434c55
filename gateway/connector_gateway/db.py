"""Tables (SQLAlchemy Core), the async engine, and `migrate()` (Alembic, configured in code)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)


metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("connector", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("base_url", sa.String(2000), nullable=True),
    sa.Column("credentials", sa.LargeBinary, nullable=False),
    sa.Column("credentials_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

mcp_servers = sa.Table(
    "mcp_servers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("tool_mode", sa.String(20), nullable=False),
    sa.Column("scope", sa.JSON, nullable=False),
    sa.Column("read_only", sa.Boolean, nullable=False),
    sa.Column("require_api_token", sa.Boolean, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    # the per-worker revocation sweep asks for servers revoked since a time (migration 0002)
    sa.Column("revoked_at", UTCDateTime, nullable=True, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("accounts", sa.JSON, nullable=True),
    sa.Column("scopes", sa.JSON, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("action", sa.String(500), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("caller_kind", sa.String(20), nullable=False),
    sa.Column("caller_id", sa.String(40), nullable=True),
    sa.Column("account_id", sa.String(40), nullable=True),
    sa.Column("server_id", sa.String(40), nullable=True),
    sa.Column("arguments", sa.JSON, nullable=True),
    sa.Index("ix_audit_account_time", "account_id", "time"),
    sa.Index("ix_audit_time", "time"),
)

oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("connector", sa.String(100), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)


def async_url(database_url: str) -> str:
    """`sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`; `postgresql://` -> `postgresql+asyncpg://`."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError("database_url must look like sqlite:///path or postgresql://host/db")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database {base!r} (use sqlite or postgresql)")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = async_url(database_url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No `pool_pre_ping`: with asyncpg it costs BEGIN, SELECT and ROLLBACK (three round trips)
    # on every checkout, i.e. on every audited call. A connection the server closed (restart,
    # idle timeout) is known to asyncpg without a round trip; it is dropped on checkout instead.
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    return engine


def _drop_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout: a connection the server has closed is replaced by a fresh one."""
    raw = getattr(dbapi_connection, "_connection", None)  # asyncpg's, under SQLAlchemy's adapter
    is_closed = getattr(raw, "is_closed", None)
    if is_closed is not None and is_closed():
        raise sa.exc.DisconnectionError("the database closed this connection")


def _alembic_config(connection: sa.Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def migrate_async(database_url: str, revision: str = "head") -> None:
    """Bring the database schema to `revision` (Alembic upgrade; data is kept)."""
    from alembic import command

    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # processes migrating at the same time take turns (the later one finds it done)
                await connection.execute(sa.text("SELECT pg_advisory_xact_lock(7215501500)"))
            await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))
    finally:
        await engine.dispose()


async def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def migrate(database_url: str, revision: str = "head") -> None:
    """Synchronous `migrate_async` (runs its own event loop, in a thread when one is running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(migrate_async(database_url, revision))
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(migrate_async(database_url, revision))
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="gateway-migrate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
