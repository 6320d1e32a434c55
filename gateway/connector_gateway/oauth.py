"""OAuth2 connect flow and token refresh coordination.

Connect (authorization-code grant, for connectors whose definition declares an oauth2 scheme):

- `GET /connect/{connector}?name=&base_url=&scopes=&<server variables>` with the admin token
  (`Authorization: Bearer $GATEWAY_ADMIN_TOKEN`), or `GET /connect/{connector}?link=<token>` with a
  one-time link from `POST /admin/connect-links` (for a browser, which sends no header): answers
  302 to the vendor's authorize URL, with a single-use `state` (stored encrypted, 10 minutes) and
  PKCE. `scopes` defaults to every declared scope; the declared offline scope is always asked.
- `GET /connect/{connector}/callback?code=&state=`: exchanges the code at the token endpoint (in
  the declared encoding, with the gateway's OAuth app of that connector: `Settings.oauth_apps`,
  from GATEWAY_OAUTH_<CONNECTOR>_CLIENT_ID / _CLIENT_SECRET) and creates the account; credentials
  = server variables + access token + refresh token + expiry, encrypted by the store. Answers
  201 with the account (never a token).

The redirect URI registered with the vendor is `{public_url}/connect/{connector}/callback`.

Refresh: `TokenRefresher` is an Upstream transport wrapper (installed by `routes(state)`). For an
account holding OAuth tokens it

- sends every API request with the freshest access token this worker knows, renewing it shortly
  before it expires (a minute, or a quarter of its lifetime when shorter);
- answers the generated client's own refresh requests (proactive, or after a 401) to the token
  endpoint itself, with that same coordinated renewal, so the client's `on_token_refresh` and
  401 renewal keep working but never spend a refresh token on their own. The answer holds
  placeholders, not the tokens (the wrapper puts the real access token on every request), so a
  refresh grant sent through the proxy route never reveals an account's tokens;
- renews with one refresher at a time across workers (`budget.lock(f"refresh:{account_id}")`):
  inside the lock the stored credentials are read again, and a worker whose token is stale takes
  the one another worker stored instead of refreshing again; the new tokens are persisted with
  compare-and-set (`Store.update_credentials(..., expect=...)`).

Refresh tokens rotate at most vendors: spending one twice answers `invalid_grant`, which this
design never does (one refresher, and the stored token is always the newest).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .access import GatewayError, bearer_token, require_admin
from .connectors import Connector, CredentialsError, OAuthInfo
from .store import Caller

__all__ = ["STATE_TTL", "TokenRefresher", "routes"]

logger = logging.getLogger("connector_gateway.oauth")

#: Seconds a `state` (an authorization in progress) stays usable.
STATE_TTL = 600.0
#: Default and largest lifetime of a one-time connect link, in seconds.
LINK_TTL = 3600.0
MAX_LINK_TTL = 7 * 86_400.0
#: Renew this long before expiry at most (a quarter of a shorter token's lifetime).
REFRESH_MARGIN = 60.0
#: The cross-worker refresh lock: held at most this long, waited for at most this long.
LOCK_TTL = 30.0
LOCK_WAIT = 40.0
TOKEN_TIMEOUT = 20.0
#: What the client's own refresh requests are answered with instead of the tokens.
MANAGED_TOKEN = "managed-by-connector-gateway"
#: Fields of the connect flow besides server variables.
CONNECT_PARAMS = ("name", "base_url", "scopes")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,60}")


def _bad(message: str, type: str = "bad_request", status: int = 400) -> GatewayError:
    return GatewayError(status, type, message)


# --- connect flow ------------------------------------------------------------------------------


def _oauth_connector(state: Any, name: str) -> tuple[Connector, OAuthInfo, tuple[str, str]]:
    connector = state.connectors.get(name)
    if connector is None:
        installed = ", ".join(sorted(state.connectors)) or "none"
        raise _bad(f"unknown connector {name!r} (installed: {installed})", "unknown_connector", 404)
    info = connector.oauth
    if info is None:
        raise _bad(f"connector {name} declares no OAuth2 scheme", "oauth_unsupported")
    app = state.settings.oauth_apps.get(name)
    if not app:
        env = f"GATEWAY_OAUTH_{name.upper()}_CLIENT_ID / _CLIENT_SECRET"
        raise _bad(f"no OAuth app configured for {name}: set {env}", "oauth_not_configured")
    return connector, info, app


def _endpoint(template: str, path: str, variables: Mapping[str, str], base_url: str | None) -> str:
    """The vendor URL of an OAuth endpoint: on `base_url` when given (a sandbox, a proxy), else
    the declared template with the account's server variables."""
    if base_url:
        return base_url.rstrip("/") + path
    url = template
    for name, value in variables.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    if "{" in url:
        raise _bad("give the server variables of the account (or base_url)", "invalid_request")
    return url


def _connect_params(
    connector: Connector, info: OAuthInfo, raw: Mapping[str, Any]
) -> dict[str, Any]:
    """Checked connect parameters: name, base_url, scopes (list) and server variables."""
    allowed = (*CONNECT_PARAMS, *connector.server_variables)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise _bad(
            f"unknown parameter(s): {', '.join(unknown)} (allowed: {', '.join(allowed)})",
            "invalid_request",
        )
    for key, value in raw.items():
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            raise _bad(f"{key} must be a string of at most 2000 characters", "invalid_request")
    name = raw.get("name") or None
    if name is not None and len(name) > 200:
        raise _bad("name is longer than 200 characters", "invalid_request")
    base_url = raw.get("base_url") or None
    variables = {k: raw[k] for k in connector.server_variables if raw.get(k)}
    try:  # server variables and base_url, checked as an account would be
        connector.check_credentials({**variables, "access_token": "placeholder"}, base_url)
    except CredentialsError as exc:
        raise _bad(str(exc).replace("credential field", "parameter"), "invalid_request") from None
    requested = [s for s in re.split(r"[\s,]+", raw.get("scopes") or "") if s]
    unknown_scopes = [s for s in requested if s not in info.scopes]
    if unknown_scopes:
        raise _bad(
            f"unknown scope(s) for {connector.name}: {', '.join(unknown_scopes)}", "invalid_request"
        )
    scopes = list(dict.fromkeys(requested or info.scopes))
    if info.offline_scope and info.offline_scope not in scopes:
        scopes.append(info.offline_scope)
    return {"name": name, "base_url": base_url, "variables": variables, "scopes": scopes}


def redirect_uri(settings: Any, connector: str) -> str:
    return f"{settings.base_url}/connect/{connector}/callback"


async def _authorize_redirect(
    state: Any, connector_name: str, params: Mapping[str, Any], caller: Caller
) -> Response:
    connector, info, (client_id, _secret) = _oauth_connector(state, connector_name)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    callback = redirect_uri(state.settings, connector.name)
    data = {
        **params,
        "redirect_uri": callback,
        "verifier": verifier,
        "caller": [caller.kind, caller.id],
    }
    token = await state.store.create_oauth_state(connector.name, data, ttl_seconds=STATE_TTL)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": callback,
        "scope": " ".join(params["scopes"]),
        "state": token,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    base = _endpoint(
        info.authorize_url, info.authorize_path, params["variables"], params["base_url"]
    )
    location = base + ("&" if "?" in base else "?") + urlencode(query)
    return JSONResponse(
        {"authorize_url": location, "expires_in": int(STATE_TTL)},
        status_code=302,
        headers={"Location": location, "Cache-Control": "no-store"},
    )


async def connect_start(request: Request) -> Response:
    state = request.app.state.gateway
    name = request.path_params["connector"]
    raw = dict(request.query_params)
    started = time.perf_counter()
    link = raw.pop("link", None)
    caller: Caller | None = None
    params: dict[str, Any] = {}
    status = "error"
    try:
        if link is not None:
            caller, params = await _link_caller(state, name, raw, link)
        else:
            caller = await _admin_caller(request)
            connector, info, _app = _oauth_connector(state, name)
            params = _connect_params(connector, info, raw)
        response = await _authorize_redirect(state, name, params, caller)
        status = "ok"
        return response
    finally:
        if caller is not None:  # an authenticated start, done or refused
            await state.store.record_audit(
                "oauth",
                f"GET /connect/{name}",
                status,
                (time.perf_counter() - started) * 1000,
                caller,
                arguments={k: v for k, v in params.items() if k != "scopes"} or None,
            )


async def _link_caller(
    state: Any, name: str, raw: dict[str, str], link: str
) -> tuple[Caller, dict[str, Any]]:
    """A one-time link: it works once, and carries the parameters it was made with."""
    if raw:
        raise _bad("a connect link takes no other parameter", "invalid_request")
    data = await state.store.take_oauth_state(name, link)
    if data is None or data.get("kind") != "link":
        raise _bad("unknown, used or expired connect link", "invalid_link", 401)
    return Caller("oauth", data.get("link_id")), dict(data["params"])


async def _admin_caller(request: Request) -> Caller:
    if bearer_token(request) is None:
        raise _bad(
            "give the admin token (Authorization: Bearer <GATEWAY_ADMIN_TOKEN>) or a "
            "one-time link from POST /admin/connect-links",
            "unauthorized",
            401,
        )
    return await require_admin(request)


async def post_connect_link(request: Request, state: Any, ctx: Any) -> Response:
    """POST /admin/connect-links {connector, name?, base_url?, scopes?, <server variables>,
    expires_in?} -> {id, url, expires_at}: a one-time /connect link for a browser."""
    from .admin import json_body

    body = await json_body(request)
    ctx.arguments["body"] = dict(body)
    return JSONResponse(await create_connect_link_op(state, body), status_code=201)


async def create_connect_link_op(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    """A one-time connect link (shared by the admin route and `connector-gateway accounts
    connect-link`)."""
    body = dict(body)
    name = body.pop("connector", None)
    if not isinstance(name, str) or not name:
        raise _bad("connector is required", "invalid_request")
    ttl = body.pop("expires_in", LINK_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= MAX_LINK_TTL:
        raise _bad(f"expires_in must be seconds in (0, {MAX_LINK_TTL:g}]", "invalid_request")
    if isinstance(body.get("scopes"), list):
        body["scopes"] = " ".join(str(s) for s in body["scopes"])
    connector, info, _app = _oauth_connector(state, name)
    params = _connect_params(connector, info, body)
    link_id = "lnk_" + secrets.token_hex(8)
    token = await state.store.create_oauth_state(
        name, {"kind": "link", "params": params, "link_id": link_id}, ttl_seconds=float(ttl)
    )
    expires_at = time.time() + float(ttl)
    return {
        "id": link_id,
        "url": f"{state.settings.base_url}/connect/{name}?link={token}",
        "connector": name,
        "expires_at": _iso(expires_at),
    }


def _iso(timestamp: float) -> str:
    import datetime as dt

    value = dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(microsecond=0)
    return value.isoformat().replace("+00:00", "Z")


async def connect_callback(request: Request) -> Response:
    state = request.app.state.gateway
    name = request.path_params["connector"]
    params = request.query_params
    started = time.perf_counter()
    given_state = params.get("state")
    if not given_state:
        raise _bad("missing state", "invalid_state")
    data = await state.store.take_oauth_state(name, given_state)
    if data is None or data.get("kind") == "link":
        raise _bad("unknown, expired or already used state", "invalid_state")
    caller = Caller(*data.get("caller") or ("oauth", None))
    status = "error"
    account_id = None
    try:
        error = params.get("error")
        if error:
            shown = error if _ERROR_CODE.fullmatch(error) else "error"
            raise _bad(f"the authorization server refused: {shown}", "oauth_refused")
        code = params.get("code")
        if not code:
            raise _bad("missing code", "invalid_request")
        connector, info, app = _oauth_connector(state, name)
        token_url = _endpoint(info.token_url, info.token_path, data["variables"], data["base_url"])
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": data["redirect_uri"],
            "client_id": app[0],
            "client_secret": app[1],
            "code_verifier": data["verifier"],
        }
        transport = getattr(state, "base_transport", None)
        async with httpx.AsyncClient(transport=transport, timeout=TOKEN_TIMEOUT) as http:
            body = await _token_request(http.send, token_url, info.encoding, fields)
        credentials: dict[str, Any] = {**data["variables"], **_token_credentials(body)}
        try:
            connector.check_credentials(credentials, data["base_url"])
        except CredentialsError:
            raise _bad(
                "the token endpoint answered unusable tokens", "oauth_exchange_failed", 502
            ) from None
        account = await state.store.create_account(
            connector.name, credentials, data["base_url"], data["name"]
        )
        account_id = account.id
        status = "ok"
        granted = body.get("scope")
        return JSONResponse(
            {**account.public(), "scope": granted if isinstance(granted, str) else None},
            status_code=201,
        )
    finally:
        await state.store.record_audit(
            "oauth",
            f"GET /connect/{name}/callback",
            status,
            (time.perf_counter() - started) * 1000,
            caller,
            account_id=account_id,
            arguments={"name": data.get("name"), "base_url": data.get("base_url")},
        )


class TokenEndpointError(Exception):
    """The token endpoint refused or failed (message without any token)."""

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


async def _token_request(
    send: Any, url: str, encoding: str, fields: Mapping[str, str]
) -> dict[str, Any]:
    """POST a grant to the token endpoint; its JSON answer (GatewayError when refused)."""
    try:
        response = await _post_token(send, url, encoding, fields)
    except TokenEndpointError as exc:
        raise _bad(str(exc), "oauth_exchange_failed", 502) from None
    return response


async def _post_token(
    send: Any, url: str, encoding: str, fields: Mapping[str, str]
) -> dict[str, Any]:
    if encoding == "json":
        request = httpx.Request(
            "POST", url, json=dict(fields), headers={"Accept": "application/json"}
        )
    else:
        request = httpx.Request(
            "POST", url, data=dict(fields), headers={"Accept": "application/json"}
        )
    # sent straight on a transport (no client defaults): bound it, a renewal holds the lock
    request.extensions["timeout"] = httpx.Timeout(TOKEN_TIMEOUT).as_dict()
    try:
        response = await send(request)
        await response.aread()
    except httpx.HTTPError as exc:
        raise TokenEndpointError(f"token endpoint unreachable: {type(exc).__name__}") from None
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if response.status_code >= 400 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        code = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else None
        raise TokenEndpointError(
            f"token endpoint answered {response.status_code}" + (f" {code}" if code else ""),
            response,
        )
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise TokenEndpointError("token endpoint answered no access_token", response)
    return body


def _token_credentials(
    body: Mapping[str, Any], previous_refresh: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"access_token": body["access_token"]}
    refresh = body.get("refresh_token")
    if isinstance(refresh, str) and refresh:
        out["refresh_token"] = refresh
    elif previous_refresh:
        out["refresh_token"] = previous_refresh
    expires_in = body.get("expires_in")
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if (
        isinstance(expires_in, int | float)
        and not isinstance(expires_in, bool)
        and math.isfinite(expires_in)
    ):
        out["token_expires_at"] = time.time() + float(expires_in)
    return out


# --- refresh coordination ----------------------------------------------------------------------


@dataclasses.dataclass
class _Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: float | None
    lifetime: float | None
    """Seconds the token lives (known when renewed here; else from when it was stored)."""

    def stale(self, now: float) -> bool:
        if self.expires_at is None:
            return False
        life = self.lifetime if self.lifetime is not None else REFRESH_MARGIN * 4
        return now >= self.expires_at - min(REFRESH_MARGIN, life / 4)


def _tokens(credentials: Mapping[str, Any], lifetime: float | None = None) -> _Tokens | None:
    access = credentials.get("access_token")
    refresh = credentials.get("refresh_token")
    if not isinstance(access, str) and not isinstance(refresh, str):
        return None
    expires = credentials.get("token_expires_at")
    expires_at = float(expires) if isinstance(expires, int | float) else None
    if access is None:  # only a refresh token: renew before the first call
        return _Tokens("", refresh if isinstance(refresh, str) else None, 0.0, 0.0)
    if lifetime is None and expires_at is not None:
        lifetime = max(0.0, expires_at - time.time())
    return _Tokens(str(access), refresh if isinstance(refresh, str) else None, expires_at, lifetime)


class TokenRefresher:
    """Per worker: the freshest OAuth tokens of each account, renewed once across workers.

    `holder` has `.settings`, `.store` and `.budget` (the GatewayState, read at call time).
    `wrap` is the Upstream transport wrapper."""

    def __init__(self, holder: Any) -> None:
        self.holder = holder
        self._current: dict[str, _Tokens] = {}
        self._rejected: dict[str, set[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.refreshes = 0
        """Token requests this worker sent to vendors (for tests and metrics)."""

    def __repr__(self) -> str:
        return f"TokenRefresher(accounts={len(self._current)})"

    def wrap(
        self, inner: httpx.AsyncBaseTransport, account: Any, connector: Connector
    ) -> httpx.AsyncBaseTransport:
        if connector.oauth is None:
            return inner
        # a rebuilt client means the stored credentials changed: read them again on next use
        self._current.pop(account.id, None)
        return RefreshingTransport(inner, self, account, connector)

    __call__ = wrap

    async def current(self, account_id: str) -> _Tokens | None:
        tokens = self._current.get(account_id)
        if tokens is None:
            _credentials, tokens = await self._read(account_id)
        return tokens

    async def _read(self, account_id: str) -> tuple[dict[str, Any], _Tokens | None]:
        """The stored credentials and their tokens (now this worker's current ones).

        A token's lifetime is known to the worker that renewed it; others take the time from
        the credentials' last write (the renewal) to the expiry."""
        store = self.holder.store
        account = await store.get_account(account_id)
        credentials = dict(await store.account_credentials(account_id))
        tokens = _tokens(credentials)
        if tokens is None:
            return credentials, None
        known = self._current.get(account_id)
        updated = getattr(account, "updated_at", None)
        if known is not None and known.access_token == tokens.access_token:
            tokens.lifetime = known.lifetime
        elif updated is not None and tokens.expires_at:
            tokens.lifetime = max(0.0, tokens.expires_at - updated.timestamp())
        self._current[account_id] = tokens
        return credentials, tokens

    def reject(self, account_id: str, access_token: str) -> None:
        """The vendor answered 401 to this access token: never hand it out again."""
        rejected = self._rejected.setdefault(account_id, set())
        rejected.add(access_token)
        if len(rejected) > 16:
            rejected.pop()

    def _usable(self, account_id: str, tokens: _Tokens | None, now: float) -> bool:
        return (
            tokens is not None
            and bool(tokens.access_token)
            and not tokens.stale(now)
            and tokens.access_token not in self._rejected.get(account_id, ())
        )

    async def fresh(self, account: Any, connector: Connector, send: Any) -> _Tokens:
        """Usable tokens for the account: this worker's, the stored ones, or renewed ones.

        Raises TokenEndpointError when a renewal was needed and failed."""
        account_id = account.id
        tokens = await self.current(account_id)
        if tokens is None:
            raise TokenEndpointError("the account holds no OAuth tokens")
        if self._usable(account_id, tokens, time.time()):
            return tokens
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:  # one renewal per worker; the others wait for its result
            tokens = self._current.get(account_id)
            if self._usable(account_id, tokens, time.time()):
                assert tokens is not None
                return tokens
            stored = await self._stored(account_id)
            if self._usable(account_id, stored, time.time()):
                assert stored is not None
                return stored
            budget = self.holder.budget
            try:
                async with budget.lock(f"refresh:{account_id}", LOCK_TTL, wait=LOCK_WAIT):
                    return await self._renew(account, connector, send)
            except TokenEndpointError:
                raise
            except Exception as exc:  # lock timeout, database or Redis trouble
                logger.warning("token renewal of %s failed: %s", account_id, type(exc).__name__)
                stored = await self._stored(account_id)
                if self._usable(account_id, stored, time.time()):
                    assert stored is not None
                    return stored
                raise TokenEndpointError(f"token renewal failed: {type(exc).__name__}") from None

    async def _stored(self, account_id: str) -> _Tokens | None:
        return (await self._read(account_id))[1]

    async def _renew(self, account: Any, connector: Connector, send: Any) -> _Tokens:
        """Inside the cross-worker lock: take a token another worker stored, or renew."""
        store = self.holder.store
        account_id = account.id
        credentials, stored = await self._read(account_id)
        if self._usable(account_id, stored, time.time()):
            assert stored is not None
            return stored
        if stored is None or not stored.refresh_token:
            raise TokenEndpointError("the access token expired and there is no refresh token")
        info = connector.oauth
        assert info is not None
        client_id = credentials.get("client_id")
        client_secret = credentials.get("client_secret")
        if not client_id or not client_secret:
            app = self.holder.settings.oauth_apps.get(connector.name)
            if app:
                client_id, client_secret = app
        fields = {"grant_type": "refresh_token", "refresh_token": stored.refresh_token}
        if client_id:
            fields["client_id"] = client_id
        if client_secret:
            fields["client_secret"] = client_secret
        variables = {k: credentials[k] for k in connector.server_variables if credentials.get(k)}
        url = _endpoint(info.token_url, info.token_path, variables, account.base_url)
        started = time.perf_counter()
        self.refreshes += 1
        try:
            body = await _post_token(send, url, info.encoding, fields)
        except TokenEndpointError as exc:
            await self._audit(account_id, "error", started, str(exc))
            raise
        renewed = _token_credentials(body, stored.refresh_token)
        new_credentials = {**credentials, **renewed}
        if "token_expires_at" not in renewed:
            new_credentials.pop("token_expires_at", None)
        written = await store.update_credentials(account_id, new_credentials, expect=credentials)
        if not written:  # changed meanwhile (an admin edit): the renewed tokens still work here
            logger.warning("renewed tokens of %s were not stored: credentials changed", account_id)
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else None
        tokens = _tokens(renewed, lifetime)
        assert tokens is not None
        self._current[account_id] = tokens
        await self._audit(account_id, "ok" if written else "not_stored", started, None)
        logger.info("renewed the access token of %s", account_id)
        return tokens

    async def _audit(self, account_id: str, status: str, started: float, error: str | None) -> None:
        try:
            await self.holder.store.record_audit(
                "oauth",
                "token refresh",
                status,
                (time.perf_counter() - started) * 1000,
                Caller("oauth", None),
                account_id=account_id,
                arguments={"error": error} if error else None,
            )
        except Exception:  # the audit of a refresh must not fail the call that needed it
            logger.warning("audit of a token refresh of %s failed", account_id, exc_info=True)


class RefreshingTransport(httpx.AsyncBaseTransport):
    """An account's transport: fresh bearer token on every API request, refreshes answered here."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        refresher: TokenRefresher,
        account: Any,
        connector: Connector,
    ) -> None:
        self.inner = inner
        self.refresher = refresher
        self.account = account
        self.connector = connector
        info = connector.oauth
        assert info is not None
        self.token_path = info.token_path.rstrip("/")

    def __repr__(self) -> str:
        return f"RefreshingTransport(account={self.account.id!r})"

    async def _send(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.rstrip("/") == self.token_path:
            return await self._token_endpoint(request)
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return await self._send(request)  # not using OAuth tokens (or no auth at all)
        try:
            tokens = await self.refresher.fresh(self.account, self.connector, self._send)
        except TokenEndpointError as exc:  # send as it is: the vendor's 401 tells the caller
            logger.info("sending %s with its current token: %s", self.account.id, exc)
            return await self._send(request)
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        response = await self._send(request)
        if response.status_code == 401:
            self.refresher.reject(self.account.id, tokens.access_token)
        return response

    async def _token_endpoint(self, request: httpx.Request) -> httpx.Response:
        """The client's own refresh request: answered with the coordinated renewal."""
        fields = _request_fields(await request.aread(), request.headers.get("content-type", ""))
        if fields.get("grant_type") != "refresh_token":
            return await self._send(request)
        if await self.refresher.current(self.account.id) is None:
            return await self._send(request)  # an account without OAuth tokens: 1:1
        try:
            tokens = await self.refresher.fresh(self.account, self.connector, self._send)
        except TokenEndpointError as exc:
            if exc.response is not None:
                return httpx.Response(
                    exc.response.status_code,
                    headers={"content-type": "application/json"},
                    content=exc.response.content,
                    request=request,
                )
            return httpx.Response(
                400,
                json={"error": "invalid_grant", "error_description": str(exc)},
                request=request,
            )
        body: dict[str, Any] = {
            "access_token": MANAGED_TOKEN,
            "refresh_token": MANAGED_TOKEN,
            "token_type": "Bearer",
        }
        if tokens.expires_at is not None:
            body["expires_in"] = max(0, math.floor(tokens.expires_at - time.time()))
        return httpx.Response(
            200, json=body, headers={"Cache-Control": "no-store"}, request=request
        )

    async def aclose(self) -> None:  # `inner` is the worker's shared pool: Upstream closes it
        return None


def _request_fields(raw: bytes, content_type: str) -> dict[str, str]:
    try:
        if "json" in content_type:
            data = json.loads(raw)
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}


# --- logs --------------------------------------------------------------------------------------

_SECRET_QUERY = re.compile(r"([?&](?:code|state|link)=)[^&\s\"']+")


def redact_query(text: str) -> str:
    """`/connect/x/callback?code=abc&state=def` -> `...?code=[redacted]&state=[redacted]`."""
    return _SECRET_QUERY.sub(r"\1[redacted]", text) if "/connect/" in text else text


# --- routes ------------------------------------------------------------------------------------


def routes(state: Any) -> list[BaseRoute]:
    """The connect routes; installs the token refresher on the state's upstream transports."""
    from .admin import audited

    refresher = TokenRefresher(state)
    state.token_refresher = refresher
    state.transport_wrappers.append(refresher.wrap)
    return [
        Route("/connect/{connector}", connect_start, methods=["GET"]),
        Route("/connect/{connector}/callback", connect_callback, methods=["GET"]),
        Route(
            "/admin/connect-links",
            audited("POST /admin/connect-links", post_connect_link),
            methods=["POST"],
        ),
    ]
