"""/admin/* routes (Bearer GATEWAY_ADMIN_TOKEN) and the operations they share with the CLI.

Every admin action is audited (kind "admin", the request's arguments redacted: credentials never
reach the audit). The `*_op` functions hold the validation and the store writes; the HTTP
handlers and `connector-gateway` CLI twins both call them, so both refuse the same input with the
same message.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from .access import GatewayError, require_admin
from .connectors import CredentialsError
from .store import SCOPES, TOOL_MODES, Account, ApiToken, McpServer, utcnow

if TYPE_CHECKING:
    from .config import Settings
    from .connectors import Connector
    from .store import Store


class AdminState(Protocol):
    """What the admin operations use: the app's `GatewayState`, or the CLI's state without an app."""

    settings: Settings
    store: Store
    upstream: Any
    mcp_host: Any

    @property
    def connectors(self) -> Mapping[str, Connector]: ...


MAX_BODY = 1_000_000
MAX_AUDIT_LIMIT = 10_000
SERVER_FIELDS = (
    "tool_mode",
    "methods",
    "tags",
    "tools",
    "exclude_tools",
    "read_only",
    "expires_at",
    "expires_in",
    "require_api_token",
)


# --- parsing helpers ---------------------------------------------------------------------------


def bad_request(message: str, type: str = "bad_request", **extra: Any) -> GatewayError:
    return GatewayError(400, type, message, **extra)


def parse_time(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise bad_request(f"{name} must be an ISO-8601 date-time string")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(
            f"{name} is not an ISO-8601 date-time (e.g. 2026-01-31T12:00:00Z): {value[:40]!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any, name: str = "expires_in") -> dt.timedelta:
    """Seconds (a number) or "90s" / "30m" / "1h" / "7d" / "2w"."""
    if isinstance(value, bool):
        raise bad_request(f"{name} must be a duration like 1h, 30m or a number of seconds")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise bad_request(f"{name} must be a duration like 1h, 30m or a number of seconds")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise bad_request(f"{name} must be positive")
    return dt.timedelta(seconds=seconds)


def _names(value: Any, name: str) -> tuple[str, ...]:
    """A list of names, or a comma-separated string of them."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{name} must be a list of strings")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def _bool(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false")
    return value


def _optional_str(value: Any, name: str, limit: int = 200) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    if len(value) > limit:
        raise bad_request(f"{name} is longer than {limit} characters")
    return value


def _only(body: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(
            f"unknown field(s) for {what}: {', '.join(unknown)} (allowed: {', '.join(allowed)})"
        )


# --- operations shared by the HTTP routes and the CLI ------------------------------------------


def connector_for(state: AdminState, name: Any) -> Any:
    installed = ", ".join(sorted(state.connectors)) or "none"
    if not isinstance(name, str) or not name:
        raise bad_request(f"connector is required (installed: {installed})")
    connector = state.connectors.get(name)
    if connector is None:
        raise bad_request(
            f"unknown connector {name!r} (installed: {installed})", type="unknown_connector"
        )
    return connector


async def add_account_op(state: AdminState, body: Mapping[str, Any]) -> Account:
    _only(body, ("connector", "credentials", "base_url", "name"), "an account")
    connector = connector_for(state, body.get("connector"))
    credentials = body.get("credentials")
    if not isinstance(credentials, dict) or not credentials:
        fields = ", ".join(f["name"] for f in connector.credential_fields)
        raise bad_request(
            f"credentials must be a non-empty object (fields of {connector.name}: {fields})",
            type="invalid_credentials",
        )
    for key, value in credentials.items():
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise bad_request(
                f"credential {key!r} must be a string, number or boolean",
                type="invalid_credentials",
            )
    base_url = _optional_str(body.get("base_url"), "base_url", 2000)
    name = _optional_str(body.get("name"), "name")
    try:
        connector.check_credentials(credentials, base_url)
    except CredentialsError as exc:
        raise bad_request(str(exc), type="invalid_credentials") from None
    except (ValueError, TypeError) as exc:
        raise bad_request(
            f"invalid credentials or base_url for {connector.name}: {type(exc).__name__}",
            type="invalid_credentials",
        ) from None
    return await state.store.create_account(connector.name, credentials, base_url, name)


async def get_account_op(state: AdminState, account_id: str) -> Account:
    account = await state.store.get_account(account_id)
    if account is None:
        raise GatewayError(404, "not_found", f"no account {account_id}")
    return account


async def remove_account_op(state: AdminState, account_id: str) -> None:
    if not await state.store.delete_account(account_id):
        raise GatewayError(404, "not_found", f"no account {account_id}")
    if getattr(state, "upstream", None) is not None:
        state.upstream.forget(account_id)
    if getattr(state, "mcp_host", None) is not None:
        state.mcp_host.forget_account(account_id)


def _scope_checker(state: AdminState) -> Any:
    host = getattr(state, "mcp_host", None)
    if host is None:  # the CLI: a host that is never started, for its scope checks only
        from .mcp_host import McpHost

        host = McpHost(state)
        state.mcp_host = host
    return host


async def create_server_op(
    state: AdminState, account_id: str, body: Mapping[str, Any]
) -> tuple[McpServer, str]:
    _only(body, SERVER_FIELDS, "an MCP server")
    account = await get_account_op(state, account_id)
    tool_mode = body.get("tool_mode") or "static"
    if tool_mode not in TOOL_MODES:
        raise bad_request(f"unknown tool_mode {tool_mode!r} (use {', '.join(TOOL_MODES)})")
    methods = _names(body.get("methods"), "methods")
    tags = _names(body.get("tags"), "tags")
    tools = _names(body.get("tools"), "tools")
    exclude_tools = _names(body.get("exclude_tools"), "exclude_tools")
    read_only = _bool(body.get("read_only"), "read_only")
    scope = {
        "tool_mode": tool_mode,
        "methods": methods,
        "tags": tags,
        "tools": tools,
        "exclude_tools": exclude_tools,
        "read_only": read_only,
    }
    require_token = _bool(body.get("require_api_token"), "require_api_token")
    expires_at: dt.datetime | None = None
    if body.get("expires_at") is not None and body.get("expires_in") is not None:
        raise bad_request("give expires_at or expires_in, not both")
    if body.get("expires_at") is not None:
        expires_at = parse_time(body["expires_at"], "expires_at")
        if expires_at <= utcnow():
            raise bad_request("expires_at must be in the future")
    elif body.get("expires_in") is not None:
        expires_at = utcnow() + parse_duration(body["expires_in"])
    if account.connector not in state.connectors:
        raise bad_request(f"connector {account.connector!r} of this account is not installed")
    problems = _scope_checker(state).check_scope(account.connector, scope)
    if problems:
        raise bad_request("; ".join(problems), type="invalid_scope", problems=problems)
    return await state.store.create_server(
        account_id,
        tool_mode=tool_mode,
        methods=methods,
        tags=tags,
        tools=tools,
        exclude_tools=exclude_tools,
        read_only=read_only,
        require_api_token=require_token,
        expires_at=expires_at,
    )


async def revoke_server_op(state: AdminState, server_id: str) -> McpServer:
    server = await state.store.get_server(server_id)
    if server is None:
        raise GatewayError(404, "not_found", f"no MCP server {server_id}")
    await state.store.revoke_server(server_id)
    if getattr(state, "mcp_host", None) is not None:
        state.mcp_host.forget(server_id)
    revoked = await state.store.get_server(server_id)
    assert revoked is not None
    return revoked


async def create_api_token_op(state: AdminState, body: Mapping[str, Any]) -> tuple[ApiToken, str]:
    _only(body, ("name", "accounts", "scopes"), "an API token")
    name = _optional_str(body.get("name"), "name")
    accounts = None if body.get("accounts") is None else _names(body["accounts"], "accounts")
    scopes = None if body.get("scopes") is None else _names(body["scopes"], "scopes")
    if scopes is not None:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise bad_request(f"unknown scope(s) {', '.join(unknown)} (use {', '.join(SCOPES)})")
    if accounts is not None:
        missing = [a for a in accounts if await state.store.get_account(a) is None]
        if missing:
            raise bad_request(f"unknown account(s): {', '.join(missing)}")
    return await state.store.create_api_token(name, accounts, scopes)


async def revoke_api_token_op(state: AdminState, token_id: str) -> None:
    tokens = {t.id: t for t in await state.store.list_api_tokens()}
    if token_id not in tokens:
        raise GatewayError(404, "not_found", f"no API token {token_id}")
    await state.store.revoke_api_token(token_id)


def server_view(state: AdminState, server: McpServer, token: str | None = None) -> dict[str, Any]:
    view = server.public()
    if token is not None:
        view["url"] = f"{state.settings.base_url}/mcp/{token}"
    return view


def audit_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - {"account_id", "since", "kind", "limit", "format"})
    if unknown:
        raise bad_request(f"unknown audit parameter(s): {', '.join(unknown)}")
    filters: dict[str, Any] = {
        "account_id": params.get("account_id") or None,
        "kind": params.get("kind") or None,
        "since": parse_time(params["since"], "since") if params.get("since") else None,
    }
    limit = params.get("limit")
    if limit is not None and limit != "":
        try:
            filters["limit"] = int(limit)
        except (TypeError, ValueError):
            raise bad_request("limit must be an integer") from None
        if not 1 <= filters["limit"] <= MAX_AUDIT_LIMIT:
            raise bad_request(f"limit must be between 1 and {MAX_AUDIT_LIMIT}")
    return filters


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Context:
    """What a handler tells the audit: the account/server it touched and extra arguments."""

    account_id: str | None = None
    server_id: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Request, Any, Context], Awaitable[Response]]


async def json_body(request: Request) -> dict[str, Any]:
    too_large = GatewayError(413, "too_large", f"request body over {MAX_BODY} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("request body is not valid JSON", type="invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object", type="invalid_json")
    return body


def audited(action: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state = request.app.state.gateway
        caller = await require_admin(request, audit_action=action)
        context = Context()
        started = time.perf_counter()
        status = "ok"
        try:
            return await handler(request, state, context)
        except GatewayError as exc:
            status = "error"
            context.arguments["error"] = {"status": exc.status, "type": exc.type}
            raise
        except Exception:
            status = "error"
            context.arguments["error"] = {"status": 500, "type": "internal"}
            raise
        finally:
            await state.store.record_audit(
                "admin",
                action,
                status,
                (time.perf_counter() - started) * 1000,
                caller,
                account_id=context.account_id,
                server_id=context.server_id,
                arguments=context.arguments or None,
            )

    return endpoint


def created(value: dict[str, Any]) -> JSONResponse:
    return JSONResponse(value, status_code=201)


async def post_account(request: Request, state: AdminState, ctx: Context) -> Response:
    body = await json_body(request)
    ctx.arguments["body"] = body
    account = await add_account_op(state, body)
    ctx.account_id = account.id
    return created(account.public())


async def list_accounts(request: Request, state: AdminState, ctx: Context) -> Response:
    return JSONResponse([a.public() for a in await state.store.list_accounts()])


async def get_account(request: Request, state: AdminState, ctx: Context) -> Response:
    account_id = request.path_params["account_id"]
    ctx.account_id = account_id
    account = await get_account_op(state, account_id)
    view = account.public()
    try:
        view["rate_budget"] = await state.upstream.budget_status(account_id)
    except LookupError:  # its connector is not installed on this gateway (any more)
        view["rate_budget"] = None
    view["mcp_servers"] = len([s for s in await state.store.list_servers(account_id) if s.active()])
    return JSONResponse(view)


async def delete_account(request: Request, state: AdminState, ctx: Context) -> Response:
    account_id = request.path_params["account_id"]
    ctx.account_id = account_id
    await remove_account_op(state, account_id)
    return JSONResponse({"id": account_id, "deleted": True})


async def post_server(request: Request, state: AdminState, ctx: Context) -> Response:
    account_id = request.path_params["account_id"]
    ctx.account_id = account_id
    body = await json_body(request)
    ctx.arguments["body"] = body
    server, token = await create_server_op(state, account_id, body)
    ctx.server_id = server.id
    return created(server_view(state, server, token))


async def list_servers(request: Request, state: AdminState, ctx: Context) -> Response:
    account_id = request.query_params.get("account_id") or None
    ctx.account_id = account_id
    servers = await state.store.list_servers(account_id)
    return JSONResponse([server_view(state, s) for s in servers])


async def delete_server(request: Request, state: AdminState, ctx: Context) -> Response:
    server_id = request.path_params["server_id"]
    ctx.server_id = server_id
    server = await revoke_server_op(state, server_id)
    ctx.account_id = server.account_id
    return JSONResponse(server_view(state, server))


async def post_api_token(request: Request, state: AdminState, ctx: Context) -> Response:
    body = await json_body(request)
    ctx.arguments["body"] = body
    record, token = await create_api_token_op(state, body)
    ctx.arguments["id"] = record.id
    return created({**record.public(), "token": token})


async def list_api_tokens(request: Request, state: AdminState, ctx: Context) -> Response:
    return JSONResponse([t.public() for t in await state.store.list_api_tokens()])


async def delete_api_token(request: Request, state: AdminState, ctx: Context) -> Response:
    token_id = request.path_params["token_id"]
    ctx.arguments["id"] = token_id
    await revoke_api_token_op(state, token_id)
    revoked = {t.id: t for t in await state.store.list_api_tokens()}[token_id]
    return JSONResponse(revoked.public())


async def get_audit(request: Request, state: AdminState, ctx: Context) -> Response:
    params = dict(request.query_params)
    ctx.arguments["query"] = params
    filters = audit_filters(params)
    fmt = params.get("format") or "json"
    if fmt not in ("json", "jsonl"):
        raise bad_request("format must be json or jsonl")
    if fmt == "json":
        filters.setdefault("limit", 1000)
        return JSONResponse(await state.store.query_audit(**filters))

    async def lines() -> AsyncIterator[bytes]:
        async for record in state.store.iter_audit(**filters):
            yield (json.dumps(record, separators=(",", ":")) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("POST", "/admin/accounts", post_account),
    ("GET", "/admin/accounts", list_accounts),
    ("GET", "/admin/accounts/{account_id}", get_account),
    ("DELETE", "/admin/accounts/{account_id}", delete_account),
    ("POST", "/admin/accounts/{account_id}/mcp-servers", post_server),
    ("GET", "/admin/mcp-servers", list_servers),
    ("DELETE", "/admin/mcp-servers/{server_id}", delete_server),
    ("POST", "/admin/api-tokens", post_api_token),
    ("GET", "/admin/api-tokens", list_api_tokens),
    ("DELETE", "/admin/api-tokens/{token_id}", delete_api_token),
    ("GET", "/admin/audit", get_audit),
)


def routes(state: AdminState) -> list[BaseRoute]:
    return [
        Route(path, audited(f"{method} {path}", handler), methods=[method])
        for method, path, handler in ROUTES
    ]
