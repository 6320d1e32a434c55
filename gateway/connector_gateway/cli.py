"""`connector-gateway`: serve, migrate, and CLI twins of the admin routes (working on the database
directly, through the same Store and validation code; audited with caller kind "cli").

Options fall back to GATEWAY_* environment variables. Errors: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from . import __version__
from .access import GatewayError
from .config import Settings, SettingsError
from .crypto import DecryptionError, SecretBox
from .store import Caller, Store

CLI_CALLER = Caller("cli", os.environ.get("USER") or None)


class CliError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connector-gateway",
        description="Multi-tenant gateway for the installed connector packages.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--database-url", help="sqlite:///path or postgresql://... (GATEWAY_DATABASE_URL)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url",
        dest="sub_database_url",
        help="sqlite:///path or postgresql://... (GATEWAY_DATABASE_URL)",
    )

    serve = sub.add_parser("serve", parents=[common], help="run the gateway HTTP server")
    serve.add_argument("--host", help="interface (GATEWAY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (GATEWAY_PORT, default 8800)")
    serve.add_argument("--workers", type=int, help="worker processes (GATEWAY_WORKERS)")
    serve.add_argument("--redis-url", help="shared budget/locks, required for >1 worker")
    serve.add_argument("--public-url", help="base of the server URLs handed out")
    serve.add_argument("--audit-retention-days", type=int, help="days of audit kept (90)")
    serve.add_argument("--log-level", help="uvicorn/gateway log level (info)")

    migrate = sub.add_parser(
        "migrate", parents=[common], help="create or upgrade the database schema"
    )
    migrate.add_argument("--revision", default="head", help=argparse.SUPPRESS)

    accounts = sub.add_parser("accounts", help="connected accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = accounts.add_parser(
        "add", parents=[common], help="connect an account (credentials are validated)"
    )
    add.add_argument("--connector", required=True)
    add.add_argument("--credentials-json", help='e.g. \'{"email": "...", "api_key": "..."}\'')
    add.add_argument(
        "--credential", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    add.add_argument("--base-url")
    add.add_argument("--name")
    link = accounts.add_parser(
        "connect-link",
        parents=[common],
        help="a one-time link connecting an OAuth2 account in a browser (prints its URL)",
    )
    link.add_argument("--connector", required=True)
    link.add_argument("--name")
    link.add_argument("--base-url", help="the vendor's (or a sandbox's) base URL")
    link.add_argument("--scopes", help="space- or comma-separated (default: every declared one)")
    link.add_argument(
        "--var", action="append", default=[], metavar="KEY=VALUE", help="server variable"
    )
    link.add_argument("--expires-in", type=float, help="seconds the link works (3600)")
    link.add_argument("--public-url", help="base of the printed URL (GATEWAY_PUBLIC_URL)")
    accounts.add_parser("list", parents=[common], help="list accounts")
    remove = accounts.add_parser(
        "remove", parents=[common], help="delete an account (revokes its servers)"
    )
    remove.add_argument("id")

    servers = sub.add_parser("servers", help="MCP servers per account").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = servers.add_parser(
        "create", parents=[common], help="create an MCP server; prints its id and URL"
    )
    create.add_argument("account_id")
    create.add_argument("--read-only", action="store_true")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", help="e.g. 1h, 30m, 7d")
    expiry.add_argument("--expires-at", help="ISO-8601 date-time")
    create.add_argument("--tool-mode", choices=("static", "dynamic"), default=None)
    create.add_argument("--methods", help="comma-separated: read, write, list, get, ...")
    create.add_argument("--tags", help="comma-separated tags")
    create.add_argument("--tools", help="comma-separated tool names")
    create.add_argument("--exclude-tools", help="comma-separated tool names")
    create.add_argument("--require-api-token", action="store_true")
    create.add_argument("--public-url", help="base of the printed URL (GATEWAY_PUBLIC_URL)")
    listing = servers.add_parser("list", parents=[common], help="list MCP servers")
    listing.add_argument("--account-id")
    revoke = servers.add_parser("revoke", parents=[common], help="revoke an MCP server")
    revoke.add_argument("id")

    tokens = sub.add_parser("api-tokens", help="API tokens for callers").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    token_create = tokens.add_parser(
        "create", parents=[common], help="create a token (printed once)"
    )
    token_create.add_argument("--name")
    token_create.add_argument("--accounts", help="comma-separated account ids (default: all)")
    token_create.add_argument("--scopes", help="comma-separated: proxy, unified, mcp (default all)")
    tokens.add_parser("list", parents=[common], help="list API tokens")
    token_revoke = tokens.add_parser("revoke", parents=[common], help="revoke an API token")
    token_revoke.add_argument("id")

    audit = sub.add_parser("audit", parents=[common], help="print audit records")
    audit.add_argument("--account-id")
    audit.add_argument("--since", help="ISO-8601 date-time")
    audit.add_argument("--kind", help="admin, cli, mcp, proxy, unified, oauth")
    audit.add_argument("--limit", type=int)
    audit.add_argument("--jsonl", action="store_true", help="JSON lines (default: a JSON list)")
    return parser


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    database_url = getattr(args, "sub_database_url", None) or args.database_url
    return Settings.from_env(database_url=database_url, **overrides)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


def _credentials(args: argparse.Namespace) -> dict[str, Any]:
    credentials: dict[str, Any] = {}
    if args.credentials_json:
        try:
            loaded = json.loads(args.credentials_json)
        except ValueError:
            raise CliError("--credentials-json is not valid JSON") from None
        if not isinstance(loaded, dict):
            raise CliError("--credentials-json must be a JSON object")
        credentials.update(loaded)
    for item in args.credential:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--credential takes KEY=VALUE, got {key.strip() or item[:20]!r}")
        credentials[key.strip()] = value
    return credentials


class _CliState:
    """What the admin operations need, without a running app (connectors loaded on first use)."""

    upstream = None
    mcp_host = None

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    @functools.cached_property
    def connectors(self) -> dict[str, Any]:
        from .connectors import discover

        return discover()


async def _with_store(settings: Settings, run: Callable[[Any], Awaitable[Any]]) -> Any:
    from .db import migrate_async

    await migrate_async(settings.database_url)
    store = await Store.open(settings)
    state = _CliState(settings, store)
    try:
        return await run(state)
    finally:
        await store.close()


async def _audited(
    state: Any,
    action: str,
    run: Callable[[], Awaitable[Any]],
    *,
    arguments: dict[str, Any] | None = None,
    account_id: str | None = None,
    server_id: str | None = None,
) -> Any:
    """Run an admin operation and audit it (kind "admin", caller "cli"), like the HTTP twin."""
    started = time.perf_counter()
    status = "ok"
    arguments = dict(arguments or {})
    try:
        result = await run()
    except GatewayError as exc:
        status = "error"
        arguments["error"] = {"status": exc.status, "type": exc.type}
        raise
    else:
        record = result[0] if isinstance(result, tuple) else result
        if type(record).__name__ == "Account":
            account_id = record.id
        elif type(record).__name__ == "McpServer":
            server_id, account_id = record.id, record.account_id
        elif type(record).__name__ == "ApiToken":
            arguments["id"] = record.id
        return result
    finally:
        await state.store.record_audit(
            "admin",
            action,
            status,
            (time.perf_counter() - started) * 1000,
            CLI_CALLER,
            account_id=account_id,
            server_id=server_id,
            arguments=arguments or None,
        )


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


async def _admin_command(args: argparse.Namespace, state: Any) -> int:
    from . import admin

    command = f"{args.command} {args.action}"
    body: dict[str, Any]
    if command == "accounts add":
        body = {
            "connector": args.connector,
            "credentials": _credentials(args),
            "base_url": args.base_url,
            "name": args.name,
        }
        account = await _audited(
            state,
            "cli accounts add",
            lambda: admin.add_account_op(state, body),
            arguments={"body": body},
        )
        _print(account.public())
    elif command == "accounts connect-link":
        from .oauth import create_connect_link_op

        link_body: dict[str, Any] = {
            "connector": args.connector,
            "name": args.name,
            "base_url": args.base_url,
            "scopes": args.scopes,
        }
        for item in args.var:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CliError(f"--var takes KEY=VALUE, got {item[:20]!r}")
            link_body[key.strip()] = value
        if args.expires_in is not None:
            link_body["expires_in"] = args.expires_in
        link_body = {k: v for k, v in link_body.items() if v is not None}
        made = await _audited(
            state,
            "cli accounts connect-link",
            lambda: create_connect_link_op(state, link_body),
            arguments={"body": link_body},
        )
        print(made["url"])
        print(f"works once, until {made['expires_at']}", file=sys.stderr)
    elif command == "accounts list":
        _print([a.public() for a in await state.store.list_accounts()])
    elif command == "accounts remove":
        await _audited(
            state,
            "cli accounts remove",
            lambda: admin.remove_account_op(state, args.id),
            account_id=args.id,
        )
        print(f"removed {args.id}")
    elif command == "servers create":
        body = {
            "tool_mode": args.tool_mode,
            "methods": _split(args.methods),
            "tags": _split(args.tags),
            "tools": _split(args.tools),
            "exclude_tools": _split(args.exclude_tools),
            "read_only": args.read_only,
            "require_api_token": args.require_api_token,
            "expires_in": args.expires_in,
            "expires_at": args.expires_at,
        }
        body = {k: v for k, v in body.items() if v is not None}
        server, token = await _audited(
            state,
            "cli servers create",
            lambda: admin.create_server_op(state, args.account_id, body),
            account_id=args.account_id,
            arguments={"body": body},
        )
        view = admin.server_view(state, server, token)
        print(server.id)
        print(view["url"])
        if server.expires_at is not None:
            print(f"expires {view['expires_at']}", file=sys.stderr)
    elif command == "servers list":
        servers = await state.store.list_servers(args.account_id)
        _print([admin.server_view(state, s) for s in servers])
    elif command == "servers revoke":
        server = await _audited(
            state,
            "cli servers revoke",
            lambda: admin.revoke_server_op(state, args.id),
            server_id=args.id,
        )
        print(f"revoked {server.id}")
    elif command == "api-tokens create":
        token_body: dict[str, Any] = {"name": args.name}
        if args.accounts is not None:
            token_body["accounts"] = _split(args.accounts)
        if args.scopes is not None:
            token_body["scopes"] = _split(args.scopes)
        record, token = await _audited(
            state,
            "cli api-tokens create",
            lambda: admin.create_api_token_op(state, token_body),
            arguments={"body": token_body},
        )
        print(record.id)
        print(token)
    elif command == "api-tokens list":
        _print([t.public() for t in await state.store.list_api_tokens()])
    elif command == "api-tokens revoke":
        await _audited(
            state,
            "cli api-tokens revoke",
            lambda: admin.revoke_api_token_op(state, args.id),
            arguments={"id": args.id},
        )
        print(f"revoked {args.id}")
    else:  # pragma: no cover - argparse refuses other actions
        raise CliError(f"unknown command {command}")
    return 0


async def _audit_command(args: argparse.Namespace, state: Any) -> int:
    from . import admin

    params = {
        "account_id": args.account_id,
        "since": args.since,
        "limit": args.limit,
    }
    if args.kind:
        params["kind"] = args.kind
    filters = admin.audit_filters({k: v for k, v in params.items() if v is not None})
    if args.jsonl:
        async for record in state.store.iter_audit(**filters):
            sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    else:
        filters.setdefault("limit", 1000)
        _print(await state.store.query_audit(**filters))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .db import migrate

    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        workers=args.workers,
        redis_url=args.redis_url,
        public_url=args.public_url,
        audit_retention_days=args.audit_retention_days,
        log_level=args.log_level,
    )
    SecretBox(settings.require_secret_key())  # a bad key fails here, not in every worker
    migrate(settings.database_url)
    os.environ.update(settings.to_env())  # the workers rebuild the settings from these
    from .app import install_log_redaction

    install_log_redaction()
    from .serving import run_server  # uvicorn, with TCP_NODELAY kept for N workers

    run_server(
        "connector_gateway.app:app_from_env",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
    )
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    settings = _settings(args)
    if args.command == "migrate":
        from .db import migrate

        migrate(settings.database_url, args.revision)
        print(f"database at revision {args.revision}")
        return 0
    if args.command == "audit":
        return int(asyncio.run(_with_store(settings, lambda s: _audit_command(args, s))))
    if getattr(args, "public_url", None):
        settings = settings.with_overrides(public_url=args.public_url)
    return int(asyncio.run(_with_store(settings, lambda s: _admin_command(args, s))))


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GatewayError):
        return exc.message
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except KeyboardInterrupt:
        return 130
    except (CliError, GatewayError, SettingsError, DecryptionError) as exc:
        print(f"connector-gateway: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a database that cannot be reached, a bad URL...
        print(
            f"connector-gateway: error: {type(exc).__name__}: {_one_line(exc)[:300]}",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
