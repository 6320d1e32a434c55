"""Caller authentication for routes: the admin token and gateway API tokens."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

import anyio
from starlette.requests import Request

from .store import Caller


class GatewayError(Exception):
    """An error answered as `{"error": {"type": ..., "message": ...}}` with `status`."""

    def __init__(self, status: int, type: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message, **self.extra}}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _state(request: Request) -> Any:
    return request.app.state.gateway


logger = logging.getLogger("connector_gateway.access")

#: The caller of a refused request whose token identifies nobody.
ANONYMOUS = Caller("anonymous", None)


async def record_refusal(
    state: Any,
    exc: GatewayError,
    *,
    kind: str,
    action: str,
    reason: str,
    caller: Caller = ANONYMOUS,
    account_id: str | None = None,
    account_exists: bool | None = None,
    server_id: str | None = None,
    started: float | None = None,
) -> None:
    """Records a refused call: status "refused", arguments {http_status, reason} (never the
    presented token). `account_id` is kept only when that account exists (`account_exists`
    when already known, else looked up), so a record never names an id that does not exist.
    A failure to record is logged and does not change the refusal's answer."""
    duration = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    try:
        with anyio.CancelScope(shield=True):
            if account_id is not None and account_exists is None:
                account_exists = await state.store.get_account(account_id) is not None
            await state.store.record_audit(
                kind,
                action,
                "refused",
                duration,
                caller,
                account_id=account_id if account_exists else None,
                server_id=server_id,
                arguments={"http_status": exc.status, "reason": reason},
            )
    except Exception as error:  # the refusal is answered anyway
        logger.warning(
            "could not record a refused %s call (%s): %s", kind, reason, type(error).__name__
        )


async def require_admin(request: Request, *, audit_action: str | None = None) -> Caller:
    """The admin caller, or 401 (no admin token configured, missing or wrong token).

    With `audit_action`, a refusal is recorded (kind "admin"; see `record_refusal`), naming the
    path's account / MCP server when they exist."""
    started = time.perf_counter()
    expected = _state(request).settings.admin_token
    given = bearer_token(request)
    if not expected:
        reason, exc = (
            "admin_disabled",
            GatewayError(
                401, "unauthorized", "the admin API is disabled: GATEWAY_ADMIN_TOKEN is not set"
            ),
        )
    elif given is None:
        reason, exc = (
            "missing_token",
            GatewayError(
                401,
                "unauthorized",
                "missing admin token (Authorization: Bearer <GATEWAY_ADMIN_TOKEN>)",
            ),
        )
    elif not hmac.compare_digest(given.encode(), expected.encode()):
        reason, exc = "invalid_token", GatewayError(401, "unauthorized", "invalid admin token")
    else:
        return Caller("admin", None)
    if audit_action is not None:
        state = _state(request)
        params = request.path_params
        account_id = params.get("account_id")
        server_id = params.get("server_id")
        if server_id is not None and await state.store.get_server(server_id) is None:
            server_id = None
        await record_refusal(
            state,
            exc,
            kind="admin",
            action=audit_action,
            reason=reason,
            account_id=account_id,
            server_id=server_id,
            started=started,
        )
    raise exc


async def require_api_token(
    request: Request,
    account_id: str,
    scope: str,
    *,
    audit_action: str | None = None,
    server_id: str | None = None,
) -> Caller:
    """The API-token caller allowed to use `scope` on `account_id`.

    401 missing/unknown/revoked token, 403 token not allowed for that account or scope, 404
    unknown account (checked after the token, so account ids cannot be probed).

    With `audit_action`, a refusal is recorded (kind = `scope`, caller = the token's id when the
    token is known, revoked or not; see `record_refusal`); `server_id` names the MCP server."""
    started = time.perf_counter()
    state = _state(request)
    given = bearer_token(request)
    caller = ANONYMOUS
    account_exists: bool | None = None
    record = await state.store.api_token(given) if given is not None else None
    if given is None:
        reason, exc = (
            "missing_token",
            GatewayError(
                401, "unauthorized", "missing API token (Authorization: Bearer <gateway API token>)"
            ),
        )
    elif record is None:
        reason, exc = (
            "unknown_token",
            GatewayError(401, "unauthorized", "unknown or revoked API token"),
        )
        if audit_action is not None:
            known = await state.store.find_api_token(given)
            if known is not None:
                reason, caller = "revoked_token", Caller("api_token", known.id)
    elif not record.allows(account_id, scope):
        caller = Caller("api_token", record.id)
        in_accounts = record.accounts is None or account_id in record.accounts
        reason = "scope_not_allowed" if in_accounts else "account_not_allowed"
        exc = GatewayError(
            403, "forbidden", f"this API token does not allow {scope!r} on account {account_id}"
        )
    elif await state.store.get_account(account_id) is None:
        caller, account_exists = Caller("api_token", record.id), False
        reason, exc = "unknown_account", GatewayError(404, "not_found", f"no account {account_id}")
    else:
        return Caller("api_token", record.id)
    if audit_action is not None:
        await record_refusal(
            state,
            exc,
            kind=scope,
            action=audit_action,
            reason=reason,
            caller=caller,
            account_id=account_id,
            account_exists=account_exists,
            server_id=server_id,
            started=started,
        )
    raise exc
