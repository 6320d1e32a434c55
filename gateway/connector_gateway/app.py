"""The gateway application: `create_app(settings)` assembles every part's routes.

Parts contribute `routes(state) -> list[BaseRoute]` (admin, oauth, proxy, unified, mcp_host);
handlers reach the shared state through `request.app.state.gateway` (a `GatewayState`). The
lifespan opens the store, builds the rate budget, the upstream clients and the MCP host, and runs
the audit-retention purge (at start, then hourly; one worker at a time through
`budget.lock("audit-purge")`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import admin, mcp_host, oauth, proxy, unified
from .access import GatewayError
from .budget import make_budget
from .config import Settings
from .connectors import Connector, discover
from .crypto import is_secret_key, mask_tokens
from .store import Store, utcnow
from .upstream import Upstream

logger = logging.getLogger("connector_gateway")

PURGE_EVERY_SECONDS = 3600.0
PURGE_LOCK_TTL = 300.0


@dataclass
class GatewayState:
    """What every route handler shares (one per worker process)."""

    settings: Settings
    connectors: dict[str, Connector]
    store: Store = None  # type: ignore[assignment]  # set by the lifespan
    budget: Any = None
    upstream: Any = None
    mcp_host: Any = None
    transport_wrappers: list[Callable[..., httpx.AsyncBaseTransport]] = field(default_factory=list)
    """Upstream transport wrappers; a part's `routes(state)` may append one (OAuth refresh)."""
    base_transport: httpx.AsyncBaseTransport | None = None
    """For tests: where upstream calls go instead of the network (e.g. an ASGI sandbox)."""
    purge_task: asyncio.Task[None] | None = None
    purge_stop: asyncio.Event = field(default_factory=asyncio.Event)
    last_purge: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<GatewayState connectors={sorted(self.connectors)}>"


def error_response(status: int, type: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": type, "message": message, **extra}}, status_code=status)


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return JSONResponse(exc.body(), status_code=exc.status)


_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    type_ = _HTTP_TYPES.get(exc.status_code, "http_error")
    message = exc.detail or type_
    if exc.status_code == 404:
        message = f"no route {request.method} {_safe_path(request.url.path)}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {_safe_path(request.url.path)}"
    return JSONResponse(
        {"error": {"type": type_, "message": message}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    # The request body is never logged; the path is, without server tokens.
    logger.error(
        "internal error on %s %s: %s",
        request.method,
        _safe_path(request.url.path),
        type(exc).__name__,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_response(500, "internal", "internal error (see the gateway log)")


_TOKEN_IN_PATH = re.compile(r"(/mcp/)[^/?\s\"]+")
_QUERY_VALUE = re.compile(r"([?&])([^=&#\s\"]+)=([^&#\s\"]*)")
#: Query parameters whose values are secrets beyond the secret-looking names (the OAuth callback's
#: code/state and connect links are masked by `oauth.redact_query`).
_SECRET_PARAMS = frozenset({"key", "sig"})


def _query_value(match: re.Match[str]) -> str:
    sep, key, value = match.groups()
    if key.lower() in _SECRET_PARAMS or is_secret_key(key):
        value = "[redacted]"
    return f"{sep}{key}={value}"


def _safe_path(path: str) -> str:
    """A path (with query) fit for logs: MCP URL tokens and secret query values masked."""
    path = _TOKEN_IN_PATH.sub(r"\1[redacted]", path)
    if "?" in path:
        path = _QUERY_VALUE.sub(_query_value, oauth.redact_query(path))
    return mask_tokens(path)


class _RedactTokens(logging.Filter):
    """Masks tokens and secret query values in log records (uvicorn's access log shows paths with
    their queries): MCP URL tokens, OAuth codes/states, connect links, secret-named values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _safe_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _safe_path(record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "connector_gateway"):
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactTokens) for f in target.filters):
            target.addFilter(_RedactTokens())


async def purge_audit_once(state: GatewayState) -> int | None:
    """Delete audit records older than the retention; None when another worker is at it."""
    cutoff = utcnow() - dt.timedelta(days=state.settings.audit_retention_days)
    try:
        async with state.budget.lock("audit-purge", PURGE_LOCK_TTL, wait=1.0):
            purged = await state.store.purge_audit(cutoff)
    except Exception as exc:  # lock held elsewhere (LockTimeout) or a database hiccup
        logger.info("audit purge skipped: %s", type(exc).__name__)
        return None
    state.last_purge = {"time": utcnow(), "purged": purged, "cutoff": cutoff}
    if purged:
        logger.info("audit purge: %d records older than %s", purged, cutoff.date())
    return purged


async def _purge_loop(state: GatewayState, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await purge_audit_once(state)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY_SECONDS)


def create_app(
    settings: Settings,
    *,
    connectors: dict[str, Connector] | None = None,
    base_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The gateway ASGI app (routes of every part; state opened by the lifespan)."""
    install_log_redaction()
    state = GatewayState(
        settings=settings,
        connectors=discover() if connectors is None else connectors,
        base_transport=base_transport,
    )
    routes = [
        *admin.routes(state),
        *oauth.routes(state),
        *mcp_host.routes(state),
        *unified.routes(state),
        *proxy.routes(state),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_state(state)
        try:
            yield
        finally:
            await close_state(state)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            GatewayError: _gateway_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.state.gateway = state
    return app


async def open_state(state: GatewayState) -> None:
    settings = state.settings
    if not settings.admin_token:
        logger.warning("GATEWAY_ADMIN_TOKEN is not set: the admin API refuses every call")
    state.store = await Store.open(settings)
    state.budget = make_budget(settings)
    state.upstream = Upstream(
        settings,
        state.store,
        state.connectors,
        state.budget,
        transport_wrappers=state.transport_wrappers,
        base_transport=state.base_transport,
    )
    state.mcp_host = mcp_host.McpHost(state)
    await state.mcp_host.start()
    state.purge_stop = asyncio.Event()
    state.purge_task = asyncio.create_task(
        _purge_loop(state, state.purge_stop), name="gateway audit purge"
    )


async def close_state(state: GatewayState) -> None:
    if state.purge_task is not None:
        # let a purge in progress finish (a query cancelled mid-way outlives the event loop)
        state.purge_stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(state.purge_task), 10)
        except (TimeoutError, Exception):
            state.purge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await state.purge_task
        state.purge_task = None
    if state.mcp_host is not None:
        await state.mcp_host.stop()
    if state.upstream is not None:
        await state.upstream.aclose()
    if state.budget is not None:
        await state.budget.aclose()
    if state.store is not None:
        await state.store.close()


def app_from_env() -> Starlette:
    """uvicorn factory (`connector-gateway serve`): settings from GATEWAY_* variables."""
    settings = Settings.from_env()
    logging.getLogger("connector_gateway").setLevel(settings.log_level.upper())
    return create_app(settings)
