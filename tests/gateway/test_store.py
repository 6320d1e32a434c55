"""Store, crypto, settings and migrations: secrets at rest, caching rules, upgrades keep data."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from connector_gateway import db
from connector_gateway.config import Settings, SettingsError
from connector_gateway.crypto import DecryptionError, SecretBox, new_token, redact, token_hash
from connector_gateway.store import Caller, Store, utcnow
from cryptography.fernet import Fernet

from . import services


@pytest.fixture
async def store(settings: Settings):
    opened = await Store.open(settings)
    yield opened
    await opened.close()


def _raw_bytes(database_url: str) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


# --- crypto --------------------------------------------------------------------------------------


def test_secret_box_round_trip_with_fernet_key_and_passphrase() -> None:
    for key in (Fernet.generate_key().decode(), "a passphrase of at least 32 characters!"):
        box = SecretBox(key)
        blob = box.encrypt_json({"api_key": "k-123", "n": 1})
        assert b"k-123" not in blob
        assert box.decrypt_json(blob) == {"api_key": "k-123", "n": 1}
        assert "k-123" not in repr(box) and key not in repr(box)


def test_secret_box_refuses_short_keys_and_wrong_keys() -> None:
    with pytest.raises(SettingsError, match="at least 32 characters"):
        SecretBox("short")
    blob = SecretBox("x" * 40).encrypt_json({"a": 1})
    with pytest.raises(DecryptionError, match="cannot be decrypted"):
        SecretBox("y" * 40).decrypt_json(blob)


def test_secret_box_key_rotation() -> None:
    old, new = "o" * 40, "n" * 40
    blob = SecretBox(old).encrypt_json({"a": 1})
    rotated = SecretBox(f"{new},{old}")
    assert rotated.decrypt_json(blob) == {"a": 1}
    assert SecretBox(new).decrypt_json(rotated.rotate(blob)) == {"a": 1}


def test_tokens_are_random_and_hashed() -> None:
    tokens = {new_token("gwmcp_") for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert token.startswith("gwmcp_") and len(token) - len("gwmcp_") >= 43  # 256 bits
    assert token_hash(token) == token_hash(token) and len(token_hash(token)) == 64
    assert token not in token_hash(token)


def test_redact() -> None:
    value = {
        "password": "p",
        "Authorization": "Bearer x",
        "nested": [{"client_secret": "s", "refresh_token": "r", "ok": "v"}],
        "credentials": {"api_key": "k"},
        "require_api_token": True,
        "access_token": None,
        "text": "see gwtok_" + "a" * 43 + " there",
        "long": "x" * 600,
        "number": 3,
    }
    out = redact(value)
    assert out["password"] == "[redacted]"
    assert out["Authorization"] == "[redacted]"
    assert out["nested"] == [
        {"client_secret": "[redacted]", "refresh_token": "[redacted]", "ok": "v"}
    ]
    assert out["credentials"] == "[redacted]"
    assert out["require_api_token"] is True
    assert out["access_token"] is None
    assert out["text"] == "see [redacted] there"
    assert out["long"].startswith("x" * 500) and len(out["long"]) < 530
    assert out["number"] == 3
    assert value["password"] == "p"  # a copy


# --- settings ------------------------------------------------------------------------------------


def test_settings_from_env_and_repr_hides_secrets() -> None:
    env = {
        "GATEWAY_DATABASE_URL": "postgresql://u:dbpass@127.0.0.1/gw",
        "GATEWAY_REDIS_URL": "redis://:redispass@127.0.0.1:6379/0",
        "GATEWAY_SECRET_KEY": "s" * 40,
        "GATEWAY_ADMIN_TOKEN": "admintok",
        "GATEWAY_WORKERS": "3",
        "GATEWAY_PORT": "9000",
        "GATEWAY_OAUTH_GORGIAS_CLIENT_ID": "cid",
        "GATEWAY_OAUTH_GORGIAS_CLIENT_SECRET": "csecret",
    }
    settings = Settings.from_env(env, port=9100)
    assert settings.workers == 3 and settings.port == 9100
    assert settings.oauth_apps == {"gorgias": ("cid", "csecret")}
    assert settings.base_url == "http://127.0.0.1:9100"
    text = repr(settings)
    for secret in ("s" * 40, "admintok", "csecret", "dbpass", "redispass"):
        assert secret not in text
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"GATEWAY_WORKERS": "2"}, "need a shared Redis"),
        ({"GATEWAY_PORT": "http"}, "GATEWAY_PORT must be a int"),
        ({"GATEWAY_DATABASE_URL": "mysql://x"}, "sqlite:/// or postgresql://"),
        ({"GATEWAY_AUDIT_RETENTION_DAYS": "0"}, "at least 1"),
        ({"GATEWAY_PUBLIC_URL": "gateway.example.com"}, "public_url must be an http"),
    ],
)
def test_settings_errors(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env)


def test_secret_key_is_required_to_store_credentials() -> None:
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY is not set"):
        Settings().require_secret_key()


# --- encryption at rest --------------------------------------------------------------------------


async def test_no_credential_or_token_in_the_database(store: Store, settings: Settings) -> None:
    secret = "sk-" + secrets.token_hex(16)
    refresh = "rt-" + secrets.token_hex(16)
    account = await store.create_account(
        "gorgias",
        {"email": "agent@example.com", "api_key": secret, "refresh_token": refresh},
        "http://127.0.0.1:1",
        "acme",
    )
    _, server_token = await store.create_server(account.id, read_only=True)
    _, api_token = await store.create_api_token("ci", [account.id], ["proxy"])
    state = await store.create_oauth_state("gorgias", {"verifier": "pkce-" + secret})
    await store.record_audit(
        "admin",
        "POST /admin/accounts",
        "ok",
        1,
        Caller("admin"),
        account_id=account.id,
        arguments={"credentials": {"api_key": secret}},
    )
    await store.update_credentials(account.id, {"api_key": secret, "access_token": refresh})

    raw = _raw_bytes(settings.database_url)
    for value in (secret, refresh, server_token, api_token, state, settings.secret_key):
        assert value.encode() not in raw, value
    # rows hold ciphertext and hashes only
    path = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        blob = conn.execute("select credentials from accounts").fetchone()[0]
        hashes = [r[0] for r in conn.execute("select token_hash from mcp_servers")]
        dump = json.dumps(
            [
                list(map(str, row))
                for table in ("accounts", "mcp_servers", "api_tokens", "audit")
                for row in conn.execute(f"select * from {table}")
            ]
        )
    assert blob.startswith(b"gAAAA")  # Fernet
    assert hashes == [token_hash(server_token)]
    assert secret not in dump and refresh not in dump
    assert await store.account_credentials(account.id) == {
        "api_key": secret,
        "access_token": refresh,
    }
    assert secret not in repr(account) and secret not in json.dumps(account.public())


async def test_a_wrong_key_cannot_read_credentials(settings: Settings) -> None:
    store = await Store.open(settings)
    account = await store.create_account("gorgias", {"api_key": "k"}, None, None)
    await store.close()
    other = await Store.open(Settings(database_url=settings.database_url, secret_key="z" * 40))
    with pytest.raises(DecryptionError):
        await other.account_credentials(account.id)
    await other.close()


# --- store behaviour -----------------------------------------------------------------------------


async def test_update_credentials_compare_and_set(store: Store) -> None:
    account = await store.create_account("gorgias", {"access_token": "a1"}, None, None)
    assert await store.update_credentials(
        account.id, {"access_token": "a2"}, expect={"access_token": "a1"}
    )
    # a second refresher holding the old value loses
    assert not await store.update_credentials(
        account.id, {"access_token": "a3"}, expect={"access_token": "a1"}
    )
    assert await store.account_credentials(account.id) == {"access_token": "a2"}
    version, _ = await store.account_credentials_versioned(account.id)
    assert version == 2
    assert (await store.get_account(account.id)).credentials_version == 2
    assert not await store.update_credentials("acc_missing", {"x": 1})
    with pytest.raises(KeyError):
        await store.account_credentials("acc_missing")


async def test_server_expiry_is_checked_on_every_lookup_even_when_cached(
    settings: Settings,
) -> None:
    store = await Store.open(
        Settings(
            database_url=settings.database_url, secret_key=settings.secret_key, cache_seconds=60
        )
    )
    account = await store.create_account("gorgias", {"api_key": "k"}, None, None)
    soon = utcnow() + dt.timedelta(milliseconds=300)
    server, token = await store.create_server(account.id, expires_at=soon)
    assert (await store.server_for_token(token)).id == server.id  # cached from here on
    await __import__("asyncio").sleep(0.35)
    assert await store.server_for_token(token) is None
    assert await store.server_for_token("gwmcp_unknown") is None
    with pytest.raises(KeyError):
        await store.create_server("acc_missing")
    await store.close()


async def test_revocation_reaches_another_worker_within_cache_seconds(
    settings: Settings,
) -> None:
    worker_a, worker_b = await Store.open(settings), await Store.open(settings)
    account = await worker_a.create_account("gorgias", {"api_key": "k"}, None, None)
    server, token = await worker_a.create_server(account.id)
    record, api_token = await worker_a.create_api_token(None, None, None)
    assert await worker_b.server_for_token(token) is not None
    assert await worker_b.api_token(api_token) is not None
    await worker_a.revoke_server(server.id)
    await worker_a.revoke_api_token(record.id)
    assert await worker_a.server_for_token(token) is None  # own cache dropped at once
    await __import__("asyncio").sleep(settings.cache_seconds + 0.05)
    assert await worker_b.server_for_token(token) is None
    assert await worker_b.api_token(api_token) is None
    await worker_a.close()
    await worker_b.close()


async def test_oauth_state_is_single_use(store: Store) -> None:
    state = await store.create_oauth_state("gorgias", {"name": "acme"}, ttl_seconds=60)
    assert await store.take_oauth_state("zendesk", state) is None  # wrong connector burns it
    state = await store.create_oauth_state("gorgias", {"name": "acme"}, ttl_seconds=60)
    assert await store.take_oauth_state("gorgias", state) == {"name": "acme"}
    assert await store.take_oauth_state("gorgias", state) is None
    expired = await store.create_oauth_state("gorgias", {}, ttl_seconds=-1)
    assert await store.take_oauth_state("gorgias", expired) is None


async def test_audit_query_and_purge(store: Store) -> None:
    for i in range(5):
        await store.record_audit(
            "mcp", f"t{i}", "ok", i, Caller("mcp_server", "srv_1"), account_id="acc_1"
        )
    records = await store.query_audit(account_id="acc_1", limit=2)
    assert [r["action"] for r in records] == ["t0", "t1"]
    assert [r["action"] async for r in store.iter_audit(batch=2)] == [f"t{i}" for i in range(5)]
    assert [r["action"] async for r in store.iter_audit(limit=3, batch=2)] == ["t0", "t1", "t2"]
    assert await store.purge_audit(utcnow() + dt.timedelta(seconds=1)) == 5
    assert await store.query_audit() == []


# --- migrations ----------------------------------------------------------------------------------


async def test_upgrading_an_existing_database_keeps_its_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.migrate(url, "0001")
    assert await db.current_revision(url) == "0001"
    settings = Settings(database_url=url, secret_key="k" * 40)
    store = await Store.open(settings)
    account = await store.create_account("gorgias", {"api_key": "kept"}, None, "old")
    _, token = await store.create_server(account.id)
    await store.record_audit("admin", "before upgrade", "ok", 1, Caller("cli"))
    await store.close()

    db.migrate(url)  # head (again: idempotent)
    db.migrate(url)
    store = await Store.open(settings)
    assert [a.name for a in await store.list_accounts()] == ["old"]
    assert await store.account_credentials(account.id) == {"api_key": "kept"}
    assert (await store.server_for_token(token)) is not None
    assert [r["action"] for r in await store.query_audit()] == ["before upgrade"]
    await store.close()
    assert await db.current_revision(url) == HEAD
    assert "ix_mcp_servers_revoked_at" in await _indexes(url, "mcp_servers")


HEAD = "0002"


async def _indexes(url: str, table: str) -> dict[str, list[str]]:
    """The table's indexes in the database: name -> column names."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: sa.inspect(sync).get_indexes(table))
    finally:
        await engine.dispose()
    return {i["name"]: list(i["column_names"]) for i in found}


async def _revoked_server_rows(store: Store, account_id: str) -> tuple[str, str]:
    """Creates one revoked and one live server (at revision 0001); returns (revoked id, live token)."""
    revoked, _ = await store.create_server(account_id)
    _, live_token = await store.create_server(account_id)
    assert await store.revoke_server(revoked.id)
    return revoked.id, live_token


async def test_migration_0002_keeps_rows_and_indexes_revoked_at(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'at0001.db'}"
    db.migrate(url, "0001")
    assert "ix_mcp_servers_revoked_at" not in await _indexes(url, "mcp_servers")
    settings = Settings(database_url=url, secret_key="k" * 40, cache_seconds=0)
    store = await Store.open(settings)
    account = await store.create_account("zendesk", {"api_token": "z"}, None, "z")
    revoked_id, live_token = await _revoked_server_rows(store, account.id)
    before = await store.list_servers()
    await store.close()

    db.migrate(url)
    assert await db.current_revision(url) == HEAD
    assert (await _indexes(url, "mcp_servers"))["ix_mcp_servers_revoked_at"] == ["revoked_at"]
    # the revocation sweep's statement now searches the index instead of scanning the table
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM mcp_servers WHERE revoked_at >= ?", ("2026",)
        ).fetchall()
    finally:
        conn.close()
    assert "USING INDEX ix_mcp_servers_revoked_at" in str(plan), plan
    store = await Store.open(settings)
    try:
        assert await store.list_servers() == before
        assert [s.id for s in before if s.revoked_at is not None] == [revoked_id]
        assert await store.server_for_token(live_token) is not None
    finally:
        await store.close()


async def test_migration_matches_the_table_definitions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    db.migrate(url)
    engine = db.create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        columns = {
            table: await conn.run_sync(
                lambda sync, t=table: [c["name"] for c in sa.inspect(sync).get_columns(t)]
            )
            for table in db.metadata.tables
        }
    await engine.dispose()
    assert set(db.metadata.tables) <= set(names)
    for table, definition in db.metadata.tables.items():
        assert columns[table] == [c.name for c in definition.columns]
    for table, definition in db.metadata.tables.items():
        declared = {i.name: [c.name for c in i.columns] for i in definition.indexes}
        assert await _indexes(url, table) == declared, table


# --- PostgreSQL ----------------------------------------------------------------------------------

postgres_url = services.postgres_url
postgres_database_url = services.postgres_database_url


@pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])
async def test_postgresql_migrations_store_and_encryption(postgres_database_url: str) -> None:
    import asyncpg

    url = postgres_database_url
    db.migrate(url, "0001")
    assert await db.current_revision(url) == "0001"
    settings = Settings(database_url=url, secret_key="p" * 40, cache_seconds=0)
    store = await Store.open(settings)
    secret = "sk-pg-" + secrets.token_hex(8)
    account = await store.create_account("gorgias", {"api_key": secret}, None, "pg")
    server, token = await store.create_server(
        account.id, tools=["a"], expires_at=utcnow() + dt.timedelta(hours=1)
    )
    await store.record_audit("admin", "x", "ok", 1, Caller("cli"), arguments={"password": secret})
    await store.close()

    db.migrate(url)  # upgrade to head keeps the data
    assert await db.current_revision(url) == HEAD
    assert (await _indexes(url, "mcp_servers"))["ix_mcp_servers_revoked_at"] == ["revoked_at"]
    store = await Store.open(settings)
    try:
        assert [s.id for s in await store.list_servers()] == [server.id]
        assert await store.account_credentials(account.id) == {"api_key": secret}
        found = await store.server_for_token(token)
        assert found is not None and found.tools == ("a",)
        assert found.expires_at == server.expires_at
        assert await store.update_credentials(
            account.id, {"api_key": "new"}, expect={"api_key": secret}
        )
        assert not await store.update_credentials(
            account.id, {"api_key": "newer"}, expect={"api_key": secret}
        )
        assert (await store.query_audit())[0]["arguments"] == {"password": "[redacted]"}
        # ids from request paths may be anything: recorded cut to the column, never an error
        long_id = "acc_" + "x" * 500
        await store.record_audit(
            "proxy", "GET /x", "error", 1, Caller("api_token", "t" * 100), account_id=long_id
        )
        assert (await store.query_audit(kind="proxy"))[0]["account_id"] == long_id[:40]
        assert await store.get_account(long_id) is None
    finally:
        await store.close()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = []
        for table in ("accounts", "mcp_servers", "api_tokens", "audit"):
            rows += [
                json.dumps([str(v) for v in r.values()])
                for r in await conn.fetch(f"select * from {table}")
            ]
    finally:
        await conn.close()
    dump = "".join(rows)
    assert secret not in dump and token not in dump and token_hash(token) in dump


@pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])
async def test_processes_migrating_postgresql_at_once_take_turns(
    postgres_database_url: str,
) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "connector_gateway.cli", "migrate", "--database-url"]
    procs = [
        subprocess.Popen(
            [*command, postgres_database_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], results
    assert await db.current_revision(postgres_database_url) == HEAD
