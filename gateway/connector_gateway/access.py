"""Caller authentication for routes: the admin token and gateway API tokens."""

from __future__ import annotations

import hmac
from typing import Any

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


async def require_admin(request: Request) -> Caller:
    """The admin caller, or 401 (no admin token configured, missing or wrong token)."""
    expected = _state(request).settings.admin_token
    if not expected:
        raise GatewayError(
            401, "unauthorized", "the admin API is disabled: GATEWAY_ADMIN_TOKEN is not set"
        )
    given = bearer_token(request)
    if given is None:
        raise GatewayError(
            401, "unauthorized", "missing admin token (Authorization: Bearer <GATEWAY_ADMIN_TOKEN>)"
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise GatewayError(401, "unauthorized", "invalid admin token")
    return Caller("admin", None)


async def require_api_token(request: Request, account_id: str, scope: str) -> Caller:
    """The API-token caller allowed to use `scope` on `account_id`.

    401 missing/unknown/revoked token, 403 token not allowed for that account or scope, 404
    unknown account (checked after the token, so account ids cannot be probed)."""
    state = _state(request)
    given = bearer_token(request)
    if given is None:
        raise GatewayError(
            401, "unauthorized", "missing API token (Authorization: Bearer <gateway API token>)"
        )
    record = await state.store.api_token(given)
    if record is None:
        raise GatewayError(401, "unauthorized", "unknown or revoked API token")
    if not record.allows(account_id, scope):
        raise GatewayError(
            403, "forbidden", f"this API token does not allow {scope!r} on account {account_id}"
        )
    if await state.store.get_account(account_id) is None:
        raise GatewayError(404, "not_found", f"no account {account_id}")
    return Caller("api_token", record.id)
