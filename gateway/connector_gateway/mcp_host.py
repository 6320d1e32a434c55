"""MCP servers per connected account: `/mcp/{token}` serves streamable-HTTP MCP.

The URL token is the credential: each request looks the server up by token
(`Store.server_for_token`: unknown, revoked or expired -> 404, on every worker within the store's
cache time), then checks the optional API token (`require_api_token`), then hands the request to
the official SDK's `StreamableHTTPSessionManager` in stateless + JSON-response mode, so any worker
can answer any request of any session. The requests a client sends in a loop (`tools/call`,
`tools/list`, `ping`) are answered by `mcp_fast` with the SDK's single-exchange driver in the
request's own task (same answers, without a transport and a dispatcher task per request).

The MCP server itself is the connector package's own (`<pkg>.mcp.server.build_server`), built with
the server's scope as a `ToolFilter`, its tool mode, and a `client_provider` that returns the
account's shared upstream client (`Upstream.client`: credentials, rate budget, retries, token
refresh), which the runner never closes. Built servers are cached per worker (LRU, idle and expiry
eviction); their session managers run in one task group owned by `McpHost`. Every `tools/call` is
audited (tool, status from `isError`, duration, redacted arguments, account, server, caller)
before its result is sent. Host and Origin headers are checked as the package's
`transport_security` does (first, answered as JSON errors); result sizes are bounded by the
package's response shaping, request bodies by `MAX_REQUEST_BODY`. Only POST carries messages:
GET and DELETE are answered 405 (no event stream, no session, in stateless mode). Every answer
names its worker in `X-Gateway-Worker` (random per process). The SDK is imported by the first
MCP request, not at start, so workers start faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from . import mcp_fast
from .access import GatewayError, record_refusal, require_api_token
from .crypto import token_hash
from .store import Caller

if TYPE_CHECKING:  # the SDK (about 1 s to import) is loaded by the first MCP request
    from mcp import types
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecurityMiddleware

logger = logging.getLogger("connector_gateway.mcp")

#: Built servers kept per worker (each holds its tool table and a session manager).
DEFAULT_MAX_SERVERS = 256
#: A cached server unused this long is closed (it is rebuilt on its next request).
DEFAULT_IDLE_SECONDS = 600.0
#: How often the cache is swept for expired and idle servers.
SWEEP_SECONDS = 1.0
#: Longest request body accepted (an MCP JSON-RPC message).
MAX_REQUEST_BODY = 1024 * 1024


class ScopeError(ValueError):
    """An MCP server scope that cannot be served (unknown tool, tag, method or mode)."""


@dataclass
class _Hosted:
    """One built MCP server of this worker."""

    server_id: str
    account_id: str
    expires_at: datetime | None
    manager: StreamableHTTPSessionManager
    runner: Any
    server: Any = None  # the SDK `Server` the manager serves (for the fast dispatch)
    stop: anyio.Event = field(default_factory=anyio.Event)
    active: int = 0
    closing: bool = False
    last_used: float = field(default_factory=time.monotonic)

    def close_when_idle(self) -> None:
        self.closing = True
        if self.active == 0:
            self.stop.set()


@dataclass(frozen=True)
class _ConnectorTools:
    module: Any  # <pkg>.mcp.server
    specs: Mapping[str, Any]
    unified_names: frozenset[str]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _secret_strings(value: Any) -> list[str]:
    """Every string in a credentials mapping (for redacting error texts)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _secret_strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _secret_strings(item)]
    return []


def _error(
    status: int, type_: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": type_, "message": message}},
        status_code=status,
        headers=dict(headers or {}),
    )


class McpHost:
    """Per-worker host of the account MCP servers (see the module docstring)."""

    def __init__(
        self,
        state: Any,
        *,
        max_servers: int = DEFAULT_MAX_SERVERS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.state = state
        self.max_servers = max(1, max_servers)
        self.idle_seconds = idle_seconds
        self._hosted: OrderedDict[str, _Hosted] = OrderedDict()
        self._by_token: dict[str, str] = {}  # token hash -> server id
        self._building: dict[str, anyio.Lock] = {}
        self._tools: dict[str, _ConnectorTools] = {}
        self._security: Any = None
        self._checker: TransportSecurityMiddleware | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self.built = 0  # servers built by this worker (observability, tests)
        #: Answer tools/call, tools/list and ping with `mcp_fast` (the SDK's single-exchange
        #: driver in the request's task) instead of the SDK's per-request stateless transport.
        self.fast_dispatch = mcp_fast.AVAILABLE

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the task group the session managers run in (a background task of its own, so
        `start` and `stop` may be called from anywhere)."""
        if self._task is not None:
            return
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="connector-gateway mcp host")
        await self._ready.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        assert self._stopping is not None
        self._stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._hosted.clear()
        self._by_token.clear()

    async def _run(self) -> None:
        assert self._ready is not None and self._stopping is not None
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._sweep)
                self._ready.set()
                await self._stopping.wait()
                tg.cancel_scope.cancel()
        finally:
            self._tg = None
            self._ready.set()

    async def _sweep(self) -> None:
        while True:
            await anyio.sleep(SWEEP_SECONDS)
            now, mono = _utcnow(), time.monotonic()
            for hosted in list(self._hosted.values()):
                expired = hosted.expires_at is not None and hosted.expires_at <= now
                idle = hosted.active == 0 and mono - hosted.last_used > self.idle_seconds
                if expired or idle:
                    self._evict(hosted.server_id)

    # --- cache ----------------------------------------------------------------------------------

    def hosted_ids(self) -> list[str]:
        """Ids of the servers built and cached by this worker, least recently used first."""
        return list(self._hosted)

    def forget(self, server_id: str) -> None:
        """Close a cached server (e.g. after revoking it); its next request rebuilds or refuses it."""
        self._evict(server_id)

    def forget_account(self, account_id: str) -> None:
        for hosted in list(self._hosted.values()):
            if hosted.account_id == account_id:
                self._evict(hosted.server_id)

    def _evict(self, server_id: str) -> None:
        hosted = self._hosted.pop(server_id, None)
        if hosted is not None:
            hosted.close_when_idle()
            for key in [k for k, v in self._by_token.items() if v == server_id]:
                del self._by_token[key]

    def connector_tools(self, connector_name: str) -> _ConnectorTools:
        """The connector's tools (its MCP tools plus its unified ones, when it has a unified API),
        loaded once per worker."""
        tools = self._tools.get(connector_name)
        if tools is None:
            connector = self.state.connectors[connector_name]
            module = connector.mcp_server_module
            document = module.read_tools_document()
            unified_names: frozenset[str] = frozenset()
            if getattr(module, "HAS_UNIFIED", False) and connector.unified_module is not None:
                package = module.__name__.rsplit(".", 2)[0]
                unified_tools = importlib.import_module(f"{package}.unified.tools")
                extra = unified_tools.unified_tools_document()
                document = {
                    **document,
                    "tools": [*document["tools"], *extra["tools"]],
                    "$defs": {**document.get("$defs", {}), **extra.get("$defs", {})},
                }
                unified_names = frozenset(unified_tools.UNIFIED_TOOL_NAMES)
            tools = _ConnectorTools(module, module.load_tools(document), unified_names)
            self._tools[connector_name] = tools
        return tools

    def tool_filter(self, connector_name: str, scope: Mapping[str, Any]) -> Any:
        """The package's `ToolFilter` for a server scope (`methods`, `tags` (`default` = the
        connector's default toolsets), `tools`, `exclude_tools`, `read_only`)."""
        module = self.connector_tools(connector_name).module
        toolmodes = importlib.import_module(module.__name__.rsplit(".", 1)[0] + ".toolmodes")
        return module.ToolFilter(
            methods=frozenset(scope.get("methods") or ()),
            tags=toolmodes.expand_toolsets(scope.get("tags") or (), module.DEFAULT_TOOLSETS),
            tools=frozenset(scope.get("tools") or ()),
            exclude_tools=frozenset(scope.get("exclude_tools") or ()),
            read_only=bool(scope.get("read_only")),
        )

    def check_scope(self, connector_name: str, scope: Mapping[str, Any]) -> list[str]:
        """Problems with a server scope (unknown methods, tags, tools, tool mode), each with a
        suggestion; empty when it can be served. The admin route refuses a server with problems."""
        tools = self.connector_tools(connector_name)
        mode = scope.get("tool_mode") or "static"
        toolmodes = importlib.import_module(tools.module.__name__.rsplit(".", 1)[0] + ".toolmodes")
        problems: list[str] = []
        if mode not in toolmodes.TOOL_MODES:
            problems.append(f"unknown tool_mode {mode!r} (use {', '.join(toolmodes.TOOL_MODES)})")
        tool_filter = self.tool_filter(connector_name, scope)
        problems += [
            p.replace("--exclude-tools", "exclude_tools")
            .replace("--tools", "tools")
            .replace("--methods", "methods")
            .replace("--tags", "tags")
            for p in tool_filter.check(tools.specs)
        ]
        if not problems and not any(tool_filter.allows(s) for s in tools.specs.values()):
            problems.append("the scope leaves no tool to serve")
        return problems

    async def acquire(self, server: Any) -> _Hosted:
        """The built server for an active server record (built on first use, then cached),
        marked in use until `release`."""
        hosted = self._hosted.get(server.id)
        if hosted is None:
            lock = self._building.setdefault(server.id, anyio.Lock())
            try:
                async with lock:
                    hosted = self._hosted.get(server.id)
                    if hosted is None:
                        hosted = await self._build(server)
                        while len(self._hosted) >= self.max_servers:
                            self._evict(next(iter(self._hosted)))
                        self._hosted[server.id] = hosted
                    hosted.active += 1
            finally:
                self._building.pop(server.id, None)
        else:
            self._hosted.move_to_end(server.id)
            hosted.active += 1
        hosted.last_used = time.monotonic()
        return hosted

    @staticmethod
    def release(hosted: _Hosted) -> None:
        hosted.active -= 1
        hosted.last_used = time.monotonic()
        if hosted.closing and hosted.active == 0:
            hosted.stop.set()

    async def _build(self, record: Any) -> _Hosted:
        if self._tg is None:
            raise GatewayError(503, "unavailable", "The MCP host is not running.")
        store = self.state.store
        account = await store.get_account(record.account_id)
        if account is None:
            raise GatewayError(404, "not_found", "Unknown, revoked or expired MCP server.")
        tools = self.connector_tools(account.connector)
        module = tools.module
        scope = {
            "methods": record.methods,
            "tags": record.tags,
            "tools": record.tools,
            "exclude_tools": record.exclude_tools,
            "read_only": record.read_only,
        }
        upstream = self.state.upstream
        account_id = record.account_id

        async def client_provider() -> Any:
            return await upstream.client(account_id)

        server, runner = module.build_server(
            self.tool_filter(account.connector, scope),
            specs=tools.specs,
            client_provider=client_provider,
            tool_mode=record.tool_mode or "static",
        )
        runner.unified_tools = tools.unified_names
        credentials = await store.account_credentials(account_id)
        connector = self.state.connectors[account.connector]
        secret_fields = {f["name"] for f in connector.credential_fields if f.get("secret")}
        runner.redact = module.Redactor(
            _secret_strings({k: v for k, v in credentials.items() if k in secret_fields})
        )
        self._audit_calls(server, record, runner.tool_mode)
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        manager = StreamableHTTPSessionManager(
            app=server,
            json_response=True,
            stateless=True,
            security_settings=self._transport_security(module),
            max_request_body_size=MAX_REQUEST_BODY,
        )
        hosted = _Hosted(
            server_id=record.id,
            account_id=account_id,
            expires_at=record.expires_at,  # the store's datetimes are timezone-aware (UTC)
            manager=manager,
            runner=runner,
            server=server,
        )
        await self._tg.start(self._serve_manager, hosted)
        self.built += 1
        return hosted

    @staticmethod
    async def _serve_manager(
        hosted: _Hosted, *, task_status: Any = anyio.TASK_STATUS_IGNORED
    ) -> None:
        async with hosted.manager.run():
            task_status.started()
            await hosted.stop.wait()

    def _transport_security(self, module: Any) -> Any:
        """Host/Origin checks: the loopback names, the bind address and the public URL's host."""
        if self._security is None:
            settings = self.state.settings
            hosts: list[str] = []
            origins: list[str] = []
            public_url = getattr(settings, "public_url", None)
            if public_url:
                parts = urlsplit(public_url)
                if parts.netloc:
                    hosts.append(parts.netloc)
                    origins.append(f"{parts.scheme}://{parts.netloc}")
            self._security = module.transport_security(settings.host, hosts, origins)
        return self._security

    def _audit_calls(self, server: Any, record: Any, tool_mode: str) -> None:
        """Wrap the server's tools/call handler: every call leaves an audit record, committed
        before the result goes back (so a completed call never loses it)."""
        from mcp import types

        entry = server.get_request_handler("tools/call")
        if entry is None:  # pragma: no cover - build_server always registers it
            return
        handler = entry.handler
        store = self.state.store
        caller = Caller("mcp_server", record.id)
        dynamic = tool_mode == "dynamic"

        async def audited(ctx: Any, params: types.CallToolRequestParams) -> Any:
            action, arguments = params.name, params.arguments
            if dynamic and params.name == "call_tool" and isinstance(arguments, dict):
                inner = arguments.get("name")
                if isinstance(inner, str):
                    action = f"call_tool:{inner}"
            started = time.perf_counter()
            status = "error"
            try:
                result = await handler(ctx, params)
                status = "error" if getattr(result, "is_error", False) else "ok"
                return result
            finally:
                duration_ms = (time.perf_counter() - started) * 1000
                with anyio.CancelScope(shield=True):
                    await store.record_audit(
                        "mcp",
                        action,
                        status,
                        duration_ms,
                        caller=caller,
                        account_id=record.account_id,
                        server_id=record.id,
                        arguments=arguments,
                    )

        server.add_request_handler("tools/call", types.CallToolRequestParams, audited)

    # --- requests -------------------------------------------------------------------------------

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = str(scope.get("path_params", {}).get("token", ""))
        send = _with_worker_header(send)
        try:
            await self._check_transport(scope, receive)
            record = await self._admit(token, scope, receive)
            length = Request(scope).headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_REQUEST_BODY:
                raise GatewayError(
                    413, "too_large", f"an MCP message is at most {MAX_REQUEST_BODY} bytes"
                )
            if scope.get("method") != "POST":
                # Stateless, JSON answers: no server-initiated SSE stream (GET) and no session to
                # end (DELETE); the spec's answer is 405, where the SDK would hold a GET open.
                raise GatewayError(
                    405,
                    "method_not_allowed",
                    "this MCP server is stateless: send JSON-RPC messages with POST "
                    "(no GET event stream, no session to DELETE)",
                )
            hosted = await self.acquire(record)
        except GatewayError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            if exc.status == 405:
                headers = {"Allow": "POST"}
            await _error(exc.status, exc.type, exc.message, headers)(scope, receive, send)
            return
        try:
            if self.fast_dispatch:
                try:
                    body = await mcp_fast.read_body(receive, MAX_REQUEST_BODY)
                except mcp_fast.TooLarge:
                    message = f"an MCP message is at most {MAX_REQUEST_BODY} bytes"
                    await _error(413, "too_large", message)(scope, receive, send)
                    return
                lifespan_state = getattr(hosted.manager, "_lifespan_state", None)
                if await mcp_fast.answer(hosted.server, lifespan_state, body, scope, receive, send):
                    return
                receive = mcp_fast.replay(body, receive)
            await hosted.manager.handle_request(scope, receive, send)
        finally:
            self.release(hosted)

    async def _check_transport(self, scope: Scope, receive: Receive) -> None:
        """The SDK's Host/Origin/Content-Type checks, before anything else (a page on another
        site cannot even probe tokens), answered as the gateway's JSON errors."""
        if self._checker is None:
            from mcp.server.transport_security import TransportSecurityMiddleware

            tools = next(iter(self._tools.values()), None)
            if tools is None:
                connector = next(iter(self.state.connectors), None)
                if connector is None:
                    return
                tools = self.connector_tools(connector)
            self._checker = TransportSecurityMiddleware(self._transport_security(tools.module))
        refusal = await self._checker.validate_request(
            Request(scope, receive), is_post=scope.get("method") == "POST"
        )
        if refusal is not None:
            message = bytes(refusal.body).decode("utf-8", "replace") or "Refused."
            raise GatewayError(refusal.status_code, "bad_request", f"{message}.")

    async def _admit(self, token: str, scope: Scope, receive: Receive) -> Any:
        """The active server record the token opens (and the API token check it asks for), or a
        GatewayError."""
        # server_for_token answers only active servers (revocation and expiry both checked)
        record = await self.state.store.server_for_token(token) if token else None
        key = token_hash(token)
        if record is None:
            server_id = self._by_token.pop(key, None)
            if server_id is not None:
                self._evict(server_id)
            refusal = GatewayError(404, "not_found", "Unknown, revoked or expired MCP server.")
            await self._record_refused_server(token, refusal)
            raise refusal
        self._by_token[key] = record.id
        if record.require_api_token:
            await require_api_token(
                Request(scope, receive),
                record.account_id,
                "mcp",
                audit_action="mcp",
                server_id=record.id,
            )
        return record

    async def _record_refused_server(self, token: str, refusal: GatewayError) -> None:
        """Records a request refused because its server is revoked or expired. An unknown URL
        token identifies nothing: logged only, never recorded (anyone could fill the table)."""
        known = await self.state.store.find_server(token) if token else None
        if known is None:
            logger.info("refused an MCP request to an unknown server URL")
            return
        await record_refusal(
            self.state,
            refusal,
            kind="mcp",
            action="mcp",
            reason="revoked_server" if known.revoked_at is not None else "expired_server",
            account_id=known.account_id,
            server_id=known.id,
        )


#: Names this worker process in the `X-Gateway-Worker` header of MCP answers (random, not the pid),
#: so operators and tests can tell which worker answered.
WORKER_ID = "w-" + secrets.token_hex(4)
_WORKER_HEADER = (b"x-gateway-worker", WORKER_ID.encode())


def _with_worker_header(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), _WORKER_HEADER]}
        await send(message)

    return sending


class McpEndpoint:
    """ASGI endpoint of `/mcp/{token}`: POST carries JSON-RPC; GET and DELETE are answered 405
    (a stateless server has no event stream and no session), after the token checks."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state.gateway
        host: McpHost | None = getattr(state, "mcp_host", None)
        if host is None:
            await _error(503, "unavailable", "The MCP host is not running.")(scope, receive, send)
            return
        await host.handle(scope, receive, send)


def routes(state: Any) -> list[BaseRoute]:
    endpoint = McpEndpoint()
    return [
        Route("/mcp/{token}", endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/mcp/{token}/", endpoint, methods=["GET", "POST", "DELETE"]),
    ]
