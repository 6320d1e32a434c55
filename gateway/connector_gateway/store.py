"""Store: every read and write of accounts, MCP servers, API tokens, OAuth states and the audit.

Async, SQLAlchemy Core, one transaction per write. Credentials are encrypted (SecretBox) before
they reach the database; tokens are kept only as SHA-256 hashes. Records' `.public()` never
holds a secret or a hash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from . import db
from .config import Settings
from .crypto import SecretBox, new_id, new_token, redact, token_hash

SERVER_TOKEN_PREFIX = "gwmcp_"
API_TOKEN_PREFIX = "gwtok_"
SCOPES = ("proxy", "unified", "mcp")
TOOL_MODES = ("static", "dynamic")
CALLER_KINDS = ("admin", "api_token", "mcp_server", "cli", "oauth")
#: Most audit records written by one INSERT (see `Store.record_audit`).
AUDIT_BATCH = 64

# The hot path's statements, built once: SQLAlchemy memoizes a statement object's cache key, so
# executing the same object with new parameters skips building and keying a statement per call
_ACCOUNT_BY_ID = sa.select(db.accounts).where(db.accounts.c.id == sa.bindparam("account_id"))
_SERVER_BY_TOKEN = sa.select(db.mcp_servers).where(
    db.mcp_servers.c.token_hash == sa.bindparam("token_hash")
)
_API_TOKEN_BY_TOKEN = sa.select(db.api_tokens).where(
    db.api_tokens.c.token_hash == sa.bindparam("token_hash")
)
_AUDIT_INSERT = db.audit.insert()
_REVOKED_SINCE = sa.select(db.mcp_servers.c.id).where(
    db.mcp_servers.c.revoked_at >= sa.bindparam("since")
)

#: A server record found by its token stays cached this long on a worker, as long as no
#: revocation names it: every `cache_seconds` one query per worker lists the servers revoked
#: since the last look (instead of one lookup per server and `cache_seconds`), so a revoked
#: server is still refused within `cache_seconds`; expiry is checked on every call.
SERVER_KEEP_SECONDS = 60.0
#: How far back each revocation sweep looks beyond the previous one (commit delays, clocks).
REVOCATION_OVERLAP = dt.timedelta(seconds=5)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass(frozen=True)
class Caller:
    kind: str
    id: str | None = None

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id}


@dataclass(frozen=True)
class Account:
    id: str
    connector: str
    name: str | None
    base_url: str | None
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    credentials_version: int = 1

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "connector": self.connector,
            "name": self.name,
            "base_url": self.base_url,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True)
class McpServer:
    id: str
    account_id: str
    tool_mode: str = "static"
    methods: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    exclude_tools: tuple[str, ...] = ()
    read_only: bool = False
    require_api_token: bool = False
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    created_at: dt.datetime = field(default_factory=utcnow)

    def active(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "tool_mode": self.tool_mode,
            "methods": list(self.methods),
            "tags": list(self.tags),
            "tools": list(self.tools),
            "exclude_tools": list(self.exclude_tools),
            "read_only": self.read_only,
            "require_api_token": self.require_api_token,
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "created_at": _iso(self.created_at),
            "active": self.active(),
        }


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str | None
    accounts: tuple[str, ...] | None
    scopes: tuple[str, ...] | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def allows(self, account_id: str, scope: str) -> bool:
        if self.revoked_at is not None:
            return False
        if self.accounts is not None and account_id not in self.accounts:
            return False
        return self.scopes is None or scope in self.scopes

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "accounts": list(self.accounts) if self.accounts is not None else None,
            "scopes": list(self.scopes) if self.scopes is not None else None,
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
        }


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        connector=row.connector,
        name=row.name,
        base_url=row.base_url,
        created_at=row.created_at,
        updated_at=row.updated_at,
        credentials_version=row.credentials_version,
    )


def _server(row: Any) -> McpServer:
    scope = row.scope or {}
    return McpServer(
        id=row.id,
        account_id=row.account_id,
        tool_mode=row.tool_mode,
        methods=tuple(scope.get("methods", ())),
        tags=tuple(scope.get("tags", ())),
        tools=tuple(scope.get("tools", ())),
        exclude_tools=tuple(scope.get("exclude_tools", ())),
        read_only=bool(row.read_only),
        require_api_token=bool(row.require_api_token),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
    )


def _api_token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        accounts=tuple(row.accounts) if row.accounts is not None else None,
        scopes=tuple(row.scopes) if row.scopes is not None else None,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _audit(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "time": _iso(row.time),
        "kind": row.kind,
        "action": row.action,
        "status": row.status,
        "duration_ms": round(row.duration_ms, 3),
        "caller": {"kind": row.caller_kind, "id": row.caller_id},
        "account_id": row.account_id,
        "server_id": row.server_id,
        "arguments": row.arguments,
    }


class _Cache:
    """token hash -> (record or None, trusted until): trusted for `seconds` on this worker (or
    the time given to `put`)."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[str, tuple[Any, float]] = {}

    def get(self, key: str) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() >= entry[1]:
            return False, None
        return True, entry[0]

    def put(self, key: str, value: Any, seconds: float | None = None) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic() + (seconds or self.seconds))

    def drop(self, predicate: Any) -> None:
        for key in [k for k, (v, _) in self._entries.items() if predicate(v)]:
            del self._entries[key]


def _clip(value: Any, limit: int) -> str | None:
    """Ids recorded as given (they may come from a request path), cut to the column's size."""
    return None if value is None else str(value)[:limit]


def _settle(
    batch: list[tuple[dict[str, Any], asyncio.Future[None]]], error: BaseException | None = None
) -> None:
    """Tells the callers waiting for these audit records: written, or `error`."""
    for _, done in batch:
        if done.done():  # its caller's loop is gone or it was cancelled: nothing to tell
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def _names(values: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


class Store:
    def __init__(self, settings: Settings, engine: AsyncEngine, box: SecretBox | None) -> None:
        self.settings = settings
        self.engine = engine
        # single statements on the hot path (token and account lookups, the audit INSERT) run
        # in autocommit mode: atomic on their own, without BEGIN/COMMIT round trips
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._box = box
        self._servers = _Cache(settings.cache_seconds)
        self._tokens = _Cache(settings.cache_seconds)
        self._swept = (time.monotonic(), utcnow())  # last revocation sweep (monotonic, wall)
        self._audit_pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._audit_writer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Store {self.engine.dialect.name}>"

    @classmethod
    async def open(cls, settings: Settings) -> Store:
        """Connect (no schema change: run `db.migrate` first)."""
        box = SecretBox(settings.secret_key) if settings.secret_key else None
        return cls(settings, db.create_engine(settings.database_url), box)

    async def close(self) -> None:
        writer = self._audit_writer
        if writer is not None and not writer.done():
            await asyncio.wait([writer])
        await self.engine.dispose()

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self.settings.require_secret_key()
        assert self._box is not None
        return self._box

    # --- accounts ---------------------------------------------------------------------------

    async def create_account(
        self,
        connector: str,
        credentials: Mapping[str, Any],
        base_url: str | None = None,
        name: str | None = None,
    ) -> Account:
        now = utcnow()
        account = Account(new_id("acc"), connector, name, base_url, now, now, 1)
        blob = self.box.encrypt_json(dict(credentials))
        async with self.engine.begin() as conn:
            await conn.execute(
                db.accounts.insert().values(
                    id=account.id,
                    connector=connector,
                    name=name,
                    base_url=base_url,
                    credentials=blob,
                    credentials_version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        return account

    async def get_account(self, account_id: str) -> Account | None:
        async with self._autocommit.connect() as conn:
            row = (await conn.execute(_ACCOUNT_BY_ID, {"account_id": account_id})).first()
        return _account(row) if row else None

    async def list_accounts(self) -> list[Account]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(db.accounts).order_by(db.accounts.c.created_at, db.accounts.c.id)
            )
            return [_account(row) for row in rows]

    async def delete_account(self, account_id: str) -> bool:
        """Deletes the account and its credentials; its MCP servers are revoked."""
        now = utcnow()
        async with self.engine.begin() as conn:
            deleted = await conn.execute(db.accounts.delete().where(db.accounts.c.id == account_id))
            await conn.execute(
                db.mcp_servers.update()
                .where(db.mcp_servers.c.account_id == account_id)
                .where(db.mcp_servers.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self._servers.drop(lambda s: s is not None and s.account_id == account_id)
        return bool(deleted.rowcount)

    async def account_credentials(self, account_id: str) -> dict[str, Any]:
        """Decrypted credentials (NEVER log them). KeyError when the account does not exist."""
        return (await self.account_credentials_versioned(account_id))[1]

    async def account_credentials_versioned(self, account_id: str) -> tuple[int, dict[str, Any]]:
        async with self._autocommit.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(db.accounts.c.credentials, db.accounts.c.credentials_version).where(
                        db.accounts.c.id == account_id
                    )
                )
            ).first()
        if row is None:
            raise KeyError(account_id)
        return row.credentials_version, dict(self.box.decrypt_json(row.credentials))

    async def update_credentials(
        self,
        account_id: str,
        credentials: Mapping[str, Any],
        *,
        expect: Mapping[str, Any] | None = None,
    ) -> bool:
        """Replace the credentials. With `expect`, only when the stored ones still equal it
        (compare-and-set: two refreshers never clobber each other). False when not written."""
        blob = self.box.encrypt_json(dict(credentials))
        async with self.engine.begin() as conn:
            query = sa.select(db.accounts.c.credentials, db.accounts.c.credentials_version).where(
                db.accounts.c.id == account_id
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = (await conn.execute(query)).first()
            if row is None:
                return False
            if expect is not None and self.box.decrypt_json(row.credentials) != dict(expect):
                return False
            result = await conn.execute(
                db.accounts.update()
                .where(db.accounts.c.id == account_id)
                .where(db.accounts.c.credentials_version == row.credentials_version)
                .values(
                    credentials=blob,
                    credentials_version=row.credentials_version + 1,
                    updated_at=utcnow(),
                )
            )
            return bool(result.rowcount)

    # --- MCP servers --------------------------------------------------------------------------

    async def create_server(
        self,
        account_id: str,
        *,
        tool_mode: str = "static",
        methods: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        tools: Iterable[str] | None = None,
        exclude_tools: Iterable[str] | None = None,
        read_only: bool = False,
        require_api_token: bool = False,
        expires_at: dt.datetime | None = None,
    ) -> tuple[McpServer, str]:
        token = new_token(SERVER_TOKEN_PREFIX)
        server = McpServer(
            id=new_id("srv"),
            account_id=account_id,
            tool_mode=tool_mode,
            methods=_names(methods),
            tags=_names(tags),
            tools=_names(tools),
            exclude_tools=_names(exclude_tools),
            read_only=read_only,
            require_api_token=require_api_token,
            expires_at=expires_at,
            created_at=utcnow(),
        )
        async with self.engine.begin() as conn:
            exists = (
                await conn.execute(
                    sa.select(db.accounts.c.id).where(db.accounts.c.id == account_id)
                )
            ).first()
            if exists is None:
                raise KeyError(account_id)
            await conn.execute(
                db.mcp_servers.insert().values(
                    id=server.id,
                    account_id=account_id,
                    token_hash=token_hash(token),
                    tool_mode=tool_mode,
                    scope={
                        "methods": list(server.methods),
                        "tags": list(server.tags),
                        "tools": list(server.tools),
                        "exclude_tools": list(server.exclude_tools),
                    },
                    read_only=read_only,
                    require_api_token=require_api_token,
                    expires_at=expires_at,
                    created_at=server.created_at,
                )
            )
        return server, token

    async def get_server(self, server_id: str) -> McpServer | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(db.mcp_servers).where(db.mcp_servers.c.id == server_id)
                )
            ).first()
        return _server(row) if row else None

    async def list_servers(self, account_id: str | None = None) -> list[McpServer]:
        query = sa.select(db.mcp_servers).order_by(db.mcp_servers.c.created_at, db.mcp_servers.c.id)
        if account_id is not None:
            query = query.where(db.mcp_servers.c.account_id == account_id)
        async with self.engine.connect() as conn:
            return [_server(row) for row in await conn.execute(query)]

    async def revoke_server(self, server_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                db.mcp_servers.update()
                .where(db.mcp_servers.c.id == server_id)
                .where(db.mcp_servers.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        self._servers.drop(lambda s: s is not None and s.id == server_id)
        return bool(result.rowcount)

    async def server_for_token(self, token: str) -> McpServer | None:
        """The active server this URL token opens, or None (unknown, revoked or expired)."""
        key = token_hash(token)
        await self._sweep_revocations()
        hit, cached = self._servers.get(key)
        server: McpServer | None = cached
        if not hit:
            async with self._autocommit.connect() as conn:
                row = (await conn.execute(_SERVER_BY_TOKEN, {"token_hash": key})).first()
            server = _server(row) if row else None
            # unknown tokens: cache_seconds (a server created meanwhile is found after it)
            self._servers.put(key, server, SERVER_KEEP_SECONDS if server is not None else None)
        if server is None or not server.active(utcnow()):
            return None
        return server

    async def _sweep_revocations(self) -> None:
        """Every `cache_seconds`: drops the cached servers revoked since the last sweep (one
        query per worker, whatever the number of servers)."""
        if self._servers.seconds <= 0:
            return
        mono, wall = time.monotonic(), utcnow()
        last_mono, last_wall = self._swept
        if mono - last_mono < self._servers.seconds:
            return
        self._swept = (mono, wall)  # before the query: concurrent callers do not sweep again
        try:
            async with self._autocommit.connect() as conn:
                rows = await conn.execute(_REVOKED_SINCE, {"since": last_wall - REVOCATION_OVERLAP})
                revoked = {row.id for row in rows}
        except BaseException:
            self._swept = (last_mono, last_wall)  # the next caller sweeps again
            raise
        if revoked:
            self._servers.drop(lambda s: s is not None and s.id in revoked)

    # --- API tokens ---------------------------------------------------------------------------

    async def create_api_token(
        self,
        name: str | None = None,
        accounts: Iterable[str] | None = None,
        scopes: Iterable[str] | None = None,
    ) -> tuple[ApiToken, str]:
        token = new_token(API_TOKEN_PREFIX)
        record = ApiToken(
            id=new_id("tok"),
            name=name,
            accounts=_names(accounts) if accounts is not None else None,
            scopes=_names(scopes) if scopes is not None else None,
            created_at=utcnow(),
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                db.api_tokens.insert().values(
                    id=record.id,
                    name=name,
                    token_hash=token_hash(token),
                    accounts=list(record.accounts) if record.accounts is not None else None,
                    scopes=list(record.scopes) if record.scopes is not None else None,
                    created_at=record.created_at,
                )
            )
        return record, token

    async def list_api_tokens(self) -> list[ApiToken]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(db.api_tokens).order_by(db.api_tokens.c.created_at, db.api_tokens.c.id)
            )
            return [_api_token(row) for row in rows]

    async def revoke_api_token(self, token_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                db.api_tokens.update()
                .where(db.api_tokens.c.id == token_id)
                .where(db.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        self._tokens.drop(lambda t: t is not None and t.id == token_id)
        return bool(result.rowcount)

    async def api_token(self, token: str) -> ApiToken | None:
        """The live API token record for this bearer token, or None (unknown or revoked)."""
        key = token_hash(token)
        hit, cached = self._tokens.get(key)
        record: ApiToken | None = cached
        if not hit:
            async with self._autocommit.connect() as conn:
                row = (await conn.execute(_API_TOKEN_BY_TOKEN, {"token_hash": key})).first()
            record = _api_token(row) if row else None
            self._tokens.put(key, record)
        if record is None or record.revoked_at is not None:
            return None
        return record

    async def find_api_token(self, token: str) -> ApiToken | None:
        """The API token record for this bearer token, revoked or not (uncached; for recording
        a refused call, never for admitting one)."""
        async with self._autocommit.connect() as conn:
            row = (
                await conn.execute(_API_TOKEN_BY_TOKEN, {"token_hash": token_hash(token)})
            ).first()
        return _api_token(row) if row else None

    async def find_server(self, token: str) -> McpServer | None:
        """The server record this URL token names, revoked, expired or not (uncached; for
        recording a refused request, never for admitting one)."""
        async with self._autocommit.connect() as conn:
            row = (await conn.execute(_SERVER_BY_TOKEN, {"token_hash": token_hash(token)})).first()
        return _server(row) if row else None

    # --- OAuth states (single use) -------------------------------------------------------------

    async def create_oauth_state(
        self, connector: str, data: Mapping[str, Any], ttl_seconds: float = 600
    ) -> str:
        """A single-use `state` value for an authorization-code flow; `data` is encrypted."""
        state = new_token("")
        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(db.oauth_states.delete().where(db.oauth_states.c.expires_at < now))
            await conn.execute(
                db.oauth_states.insert().values(
                    state_hash=token_hash(state),
                    connector=connector,
                    data=self.box.encrypt_json(dict(data)),
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=ttl_seconds),
                )
            )
        return state

    async def take_oauth_state(self, connector: str, state: str) -> dict[str, Any] | None:
        """The data stored with `state` (deleted: it works once), None if unknown or expired."""
        key = token_hash(state)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(db.oauth_states).where(db.oauth_states.c.state_hash == key)
                )
            ).first()
            if row is None:
                return None
            deleted = await conn.execute(
                db.oauth_states.delete().where(db.oauth_states.c.state_hash == key)
            )
        if not deleted.rowcount or row.connector != connector or row.expires_at <= utcnow():
            return None
        return dict(self.box.decrypt_json(row.data))

    # --- audit --------------------------------------------------------------------------------

    async def record_audit(
        self,
        kind: str,
        action: str,
        status: str,
        duration_ms: float,
        caller: Caller,
        account_id: str | None = None,
        server_id: str | None = None,
        arguments: Any = None,
    ) -> None:
        """Append one audit record (arguments redacted here); committed when this returns.

        Group commit: a record is written at once when no audit write is in flight (one INSERT
        in autocommit mode: atomic and durable on its own); records that arrive while one is
        (concurrent calls) are written together by the next write, one transaction, and each
        caller returns once the transaction holding its record has committed. Under load
        that is one round trip and one commit for many calls instead of one each. If a batch
        fails, its records are retried one by one, so a caller sees only its own record's error.
        """
        row = {
            "time": utcnow(),
            "kind": str(kind)[:20],
            "action": str(redact(action))[:500],
            "status": str(status)[:40],
            "duration_ms": float(duration_ms),
            "caller_kind": str(caller.kind)[:20],
            "caller_id": _clip(caller.id, 40),
            "account_id": _clip(account_id, 40),
            "server_id": _clip(server_id, 40),
            "arguments": redact(arguments) if arguments is not None else None,
        }
        loop = asyncio.get_running_loop()
        writer = self._audit_writer
        if writer is not None and not writer.done() and writer.get_loop() is not loop:
            await self._insert_audit([row])  # a store shared by two event loops: no batching
            return
        done: asyncio.Future[None] = loop.create_future()
        self._audit_pending.append((row, done))
        if writer is None or writer.done():
            self._audit_writer = asyncio.create_task(self._write_audit())
        # shielded: a caller cancelled while waiting leaves its record to the writer
        await asyncio.shield(done)

    async def _write_audit(self) -> None:
        """Writes the pending audit records, a batch per statement, until none is left."""
        batch: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        try:
            while self._audit_pending:
                batch = self._audit_pending[:AUDIT_BATCH]
                del self._audit_pending[:AUDIT_BATCH]
                await self._write_batch(batch)
                batch = []
        except BaseException:  # cancelled (shutdown): no caller is left waiting
            for _, done in batch + self._audit_pending:
                done.cancel()
            self._audit_pending.clear()
            raise

    async def _write_batch(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        try:
            await self._insert_audit([row for row, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch, exc)  # the caller gets its error
                return
            for one in batch:  # a bad record must not lose the others
                try:
                    await self._insert_audit([one[0]])
                except Exception as exc_one:
                    _settle([one], exc_one)
                else:
                    _settle([one])
        else:
            _settle(batch)

    async def _insert_audit(self, rows: list[dict[str, Any]]) -> None:
        # One cached INSERT statement, the rows as parameters (no per-batch compilation); one
        # row alone in autocommit mode (one round trip), several in one transaction (all or none)
        if len(rows) == 1:
            async with self._autocommit.connect() as conn:
                await conn.execute(_AUDIT_INSERT, rows[0])
        else:
            async with self.engine.begin() as conn:
                await conn.execute(_AUDIT_INSERT, rows)

    def _audit_query(
        self,
        account_id: str | None,
        since: dt.datetime | None,
        kind: str | None,
        after_id: int | None = None,
    ) -> sa.Select[Any]:
        query = sa.select(db.audit).order_by(db.audit.c.id)
        if account_id is not None:
            query = query.where(db.audit.c.account_id == account_id)
        if since is not None:
            query = query.where(db.audit.c.time >= since)
        if kind is not None:
            query = query.where(db.audit.c.kind == kind)
        if after_id is not None:
            query = query.where(db.audit.c.id > after_id)
        return query

    async def query_audit(
        self,
        account_id: str | None = None,
        since: dt.datetime | None = None,
        kind: str | None = None,
        limit: int = 1000,
        after_id: int | None = None,
    ) -> list[dict[str, Any]]:
        query = self._audit_query(account_id, since, kind, after_id).limit(limit)
        async with self.engine.connect() as conn:
            return [_audit(row) for row in await conn.execute(query)]

    async def iter_audit(
        self,
        account_id: str | None = None,
        since: dt.datetime | None = None,
        kind: str | None = None,
        limit: int | None = None,
        batch: int = 500,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching record, oldest first, fetched in batches (for JSON-lines export)."""
        after: int | None = None
        sent = 0
        while limit is None or sent < limit:
            size = batch if limit is None else min(batch, limit - sent)
            records = await self.query_audit(account_id, since, kind, size, after)
            for record in records:
                yield record
            sent += len(records)
            if len(records) < size:
                return
            after = records[-1]["id"]

    async def purge_audit(self, older_than: dt.datetime) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(db.audit.delete().where(db.audit.c.time < older_than))
        return int(result.rowcount or 0)
