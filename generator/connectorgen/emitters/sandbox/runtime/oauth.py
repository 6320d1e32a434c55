"""The sandbox's OAuth2 authorization server, for an API that declares an oauth2 scheme.

Served on the sandbox's own host at the paths of the declared `authorize_url` and `token_url`:

- `GET <authorize path>?response_type=code&client_id=&redirect_uri=&scope=&state=` approves at
  once (there is no user to ask) and redirects to `redirect_uri` with `code` and `state`; PKCE
  (`code_challenge`, S256 or plain) is checked when the request carries it.
- `POST <token path>` in the declared encoding (form or JSON), client credentials in the body or
  as HTTP Basic: the `authorization_code` grant (a code is single-use and lives 10 minutes) and the
  `refresh_token` grant. Refresh tokens rotate: each refresh answers a new one and spends the old
  one, and a spent or unknown refresh token answers `invalid_grant` (400). A refresh token is
  issued when the definition declares no offline scope, or when that scope was granted.
- The access tokens issued are accepted as bearer tokens until they expire (`oauth_token_ttl`
  seconds); an expired one answers 401 in the API's error shape.

Errors of the token endpoint are RFC 6749 bodies: `{"error": "invalid_grant", "error_description": ...}`.
One app is known: `oauth_client_id` / `oauth_client_secret` (both "sandbox" by default); any
absolute http(s) redirect URI is accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request

from .handlers import Reply
from .options import SandboxOptions
from .store import ApiError

#: Lifetime of an authorization code, in seconds.
CODE_TTL = 600.0
#: Largest token request body read.
MAX_TOKEN_BODY = 64 * 1024
#: Expired access tokens and spent refresh tokens are forgotten this long after they stopped
#: working (so a spent one still answers `invalid_grant`, not "unknown", for a while).
FORGET_AFTER = 86_400.0


class OAuthError(Exception):
    """An RFC 6749 error answer of the token endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def reply(self) -> Reply:
        headers = {"Cache-Control": "no-store"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="oauth"'
        return Reply(
            self.status,
            {"error": self.error, "error_description": self.description},
            headers=headers,
        )


@dataclass
class _Code:
    grant: str
    redirect_uri: str
    scope: tuple[str, ...]
    expires_at: float
    challenge: str | None
    method: str


@dataclass
class _Token:
    grant: str
    expires_at: float
    spent_at: float | None = None


def _template_regex(path: str) -> re.Pattern[str]:
    """A declared path (which may hold `{variables}`) as a regex matching concrete paths."""
    parts = re.split(r"(\{[^{}]*\})", path.rstrip("/") or "/")
    pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(pattern)


class OAuthServer:
    """State and endpoints of the authorization server (thread-safe: tests read it from outside)."""

    def __init__(self, scheme: str, declared: dict[str, Any], options: SandboxOptions) -> None:
        self.scheme = scheme
        self.declared = declared
        self.options = options
        self.encoding: str = declared.get("token_request_encoding") or "form"
        self.scopes: set[str] = set(declared.get("scopes") or ())
        self.offline_scope: str | None = declared.get("offline_scope")
        self.authorize_path: str = declared["authorize_path"]
        self.token_path: str = declared["token_path"]
        self._authorize = _template_regex(self.authorize_path)
        self._token = _template_regex(self.token_path)
        self.lock = threading.Lock()
        self.codes: dict[str, _Code] = {}
        self.access: dict[str, _Token] = {}
        self.refresh: dict[str, _Token] = {}
        self.grants: dict[str, tuple[str, ...]] = {}
        """Grant id -> granted scope (one grant per approved authorization)."""
        self.counts: dict[str, int] = {}
        """Successful grants by type, and refused token requests by error."""

    # --- routing ----------------------------------------------------------------------------

    def endpoint(self, path: str, method: str) -> str | None:
        """ "authorize" or "token" when `path` is one of them (whatever the method), else None."""
        if self._token.fullmatch(path):
            return "token"
        if self._authorize.fullmatch(path):
            return "authorize"
        return None

    async def handle(self, kind: str, request: Request) -> Reply:
        if kind == "authorize":
            if request.method not in ("GET", "HEAD"):
                raise ApiError(
                    405, "The specified HTTP method is not allowed.", headers={"Allow": "GET"}
                )
            return self.authorize(dict(request.query_params))
        if request.method != "POST":
            raise ApiError(
                405, "The specified HTTP method is not allowed.", headers={"Allow": "POST"}
            )
        try:
            fields = await self._token_fields(request)
            return self.token(fields, request.headers.get("authorization", ""))
        except OAuthError as exc:
            self._bump(f"error:{exc.error}")
            return exc.reply()

    # --- authorize --------------------------------------------------------------------------

    def authorize(self, params: dict[str, str]) -> Reply:
        """Approve at once: redirect with a code, or with an error the client can show."""
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if target.scheme not in ("http", "https") or not target.netloc or target.fragment:
            # never redirect to an address that is not an absolute URL: answer the error here
            raise ApiError(400, "redirect_uri must be an absolute http(s) URL without a fragment.")
        if not secrets.compare_digest(client_id.encode(), self.options.oauth_client_id.encode()):
            raise ApiError(400, "Unknown client_id.")
        state = params.get("state")
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        requested = tuple(
            dict.fromkeys(s for s in re.split(r"[ +,]", params.get("scope", "")) if s)
        )
        unknown = [s for s in requested if self.scopes and s not in self.scopes]
        if unknown:
            return _redirect(
                redirect_uri,
                error="invalid_scope",
                error_description=f"unknown scope(s): {' '.join(unknown)}",
                state=state,
            )
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or "plain"
        if challenge is not None and method not in ("S256", "plain"):
            return _redirect(
                redirect_uri,
                error="invalid_request",
                error_description="code_challenge_method must be S256 or plain",
                state=state,
            )
        code = secrets.token_urlsafe(24)
        with self.lock:
            grant = "grant_" + secrets.token_hex(8)
            self.grants[grant] = requested
            self.codes[code] = _Code(
                grant, redirect_uri, requested, time.time() + CODE_TTL, challenge, method
            )
            self._bump_locked("authorize")
        return _redirect(redirect_uri, code=code, state=state)

    # --- token ------------------------------------------------------------------------------

    async def _token_fields(self, request: Request) -> dict[str, str]:
        from .app import parse_json, read_body

        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            raw = await read_body(request, MAX_TOKEN_BODY)
        except ApiError as exc:
            raise OAuthError(400, "invalid_request", exc.msg) from None
        if self.encoding == "json":
            if content_type != "application/json":
                raise OAuthError(400, "invalid_request", "The token endpoint takes a JSON body.")
            try:
                body = parse_json(raw)
            except ApiError:
                raise OAuthError(400, "invalid_request", "The body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise OAuthError(400, "invalid_request", "The body must be a JSON object.")
        else:
            if content_type != "application/x-www-form-urlencoded":
                raise OAuthError(
                    400,
                    "invalid_request",
                    "The token endpoint takes an application/x-www-form-urlencoded body.",
                )
            try:
                body = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError):
                raise OAuthError(400, "invalid_request", "The form is not valid.") from None
        fields: dict[str, str] = {}
        for key, value in body.items():
            if value is None:
                continue
            if not isinstance(value, str):
                raise OAuthError(400, "invalid_request", f"{key} must be a string.")
            fields[str(key)] = value
        return fields

    def _check_client(self, fields: dict[str, str], authorization: str) -> None:
        client_id, secret = fields.get("client_id"), fields.get("client_secret")
        kind, _, credentials = authorization.partition(" ")
        if kind.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise OAuthError(401, "invalid_client", "Client authentication failed.") from None
            client_id, secret = user, password
        ok = (
            client_id is not None
            and secret is not None
            and secrets.compare_digest(client_id.encode(), self.options.oauth_client_id.encode())
            and secrets.compare_digest(secret.encode(), self.options.oauth_client_secret.encode())
        )
        if not ok:
            raise OAuthError(401, "invalid_client", "Client authentication failed.")

    def token(self, fields: dict[str, str], authorization: str = "") -> Reply:
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required.")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError(
                400, "unsupported_grant_type", f"The grant type {grant_type!r} is not supported."
            )
        self._check_client(fields, authorization)
        now = time.time()
        with self.lock:
            self._forget(now)
            if grant_type == "authorization_code":
                code = self.codes.pop(fields.get("code", ""), None)
                if code is None or code.expires_at <= now:
                    raise OAuthError(
                        400, "invalid_grant", "The authorization code is invalid or expired."
                    )
                if fields.get("redirect_uri") != code.redirect_uri:
                    raise OAuthError(
                        400,
                        "invalid_grant",
                        "redirect_uri does not match the authorization request.",
                    )
                if code.challenge is not None and not _pkce_ok(
                    code.challenge, code.method, fields.get("code_verifier")
                ):
                    raise OAuthError(400, "invalid_grant", "The code_verifier does not match.")
                grant, scope = code.grant, code.scope
            else:
                presented = fields.get("refresh_token", "")
                stored = self.refresh.get(presented)
                if stored is None or stored.spent_at is not None or stored.grant not in self.grants:
                    raise OAuthError(
                        400,
                        "invalid_grant",
                        "The refresh token is invalid, expired or already used.",
                    )
                stored.spent_at = now  # rotation: the presented refresh token is spent
                grant, scope = stored.grant, self.grants[stored.grant]
            body = self._issue(grant, scope, now)
            self._bump_locked(grant_type)
        return Reply(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _issue(self, grant: str, scope: tuple[str, ...], now: float) -> dict[str, Any]:
        ttl = float(self.options.oauth_token_ttl)
        access = secrets.token_urlsafe(32)
        self.access[access] = _Token(grant, now + ttl)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": max(1, math.ceil(ttl)),
            "scope": " ".join(scope),
        }
        if self.offline_scope is None or self.offline_scope in scope:
            refresh = secrets.token_urlsafe(32)
            self.refresh[refresh] = _Token(grant, math.inf)
            body["refresh_token"] = refresh
        return body

    def _forget(self, now: float) -> None:
        """Drop long-dead codes and tokens (called under the lock on every token request)."""
        for code in [c for c, v in self.codes.items() if v.expires_at <= now]:
            del self.codes[code]
        for token in [t for t, v in self.access.items() if v.expires_at + FORGET_AFTER <= now]:
            del self.access[token]
        for token in [
            t
            for t, v in self.refresh.items()
            if v.spent_at is not None and v.spent_at + FORGET_AFTER <= now
        ]:
            del self.refresh[token]

    # --- bearer tokens ----------------------------------------------------------------------

    def bearer(self, token: str) -> tuple[str | None, bool]:
        """(identity, expired) of a presented access token: the identity is per grant (so a rate
        limit follows the account across refreshes); None when unknown or expired."""
        with self.lock:
            found = self.access.get(token)
            if found is None:
                return None, False
            if found.expires_at <= time.time():
                return None, True
            return f"oauth:{found.grant}", False

    def revoke_grant(self, grant: str) -> None:
        """Withdraw an authorization: its access and refresh tokens stop working."""
        with self.lock:
            self.grants.pop(grant, None)
            for table in (self.access, self.refresh):
                for token in [t for t, v in table.items() if v.grant == grant]:
                    del table[token]

    def stats(self) -> dict[str, int]:
        with self.lock:
            out = dict(self.counts)
            out["active_access_tokens"] = sum(
                1 for v in self.access.values() if v.expires_at > time.time()
            )
            return out

    def _bump(self, key: str) -> None:
        with self.lock:
            self._bump_locked(key)

    def _bump_locked(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1


def _pkce_ok(challenge: str, method: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        expected = verifier
    return secrets.compare_digest(expected.encode(), challenge.encode())


def _redirect(uri: str, **params: str | None) -> Reply:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    joiner = "&" if urlsplit(uri).query else ("" if uri.endswith("?") else "?")
    return Reply(
        302, None, headers={"Location": f"{uri}{joiner}{query}", "Cache-Control": "no-store"}
    )


def make_server(spec_auth: dict[str, Any], options: SandboxOptions) -> OAuthServer | None:
    """The authorization server of the declared oauth2 scheme, or None when none is declared."""
    for scheme, declared in spec_auth.items():
        if scheme.startswith("oauth2") and declared.get("token_path"):
            return OAuthServer(scheme, declared, options)
    return None
