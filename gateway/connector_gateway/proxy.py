"""`/{account_id}/proxy/{path}`: the vendor API 1:1, with the account's credentials.

Every method is passed through with its vendor path, query, body and content type, through the
account's generated client (`Upstream.client`), so credentials, token renewal, retries and the
account's rate budget apply exactly as for MCP and unified callers. The vendor's status, body and
content type come back untouched, errors included (`send_raw` returns them instead of raising).

`?normalize=true` on a GET that matches one of the connector's declared list operations answers one
page as `{result, next_cursor, prev_cursor}` whatever the vendor's pagination; `cursor` passes the
cursor of the previous answer back.

What is refused before any upstream request: a path that is not under the connector's API
(absolute URLs, `//host`, `.` / `..` segments, encoded or not, backslashes, control characters),
a request body over `MAX_REQUEST_BYTES`. The caller's `Authorization` (the gateway API token),
cookies, hop-by-hop and other credential-looking headers are never forwarded.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import anyio
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .access import GatewayError, require_api_token

__all__ = [
    "BUDGET_HEADER",
    "MAX_REQUEST_BYTES",
    "ListOperation",
    "list_operations",
    "match_list_operation",
    "routes",
    "upstream_error",
]

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 10 * 1024 * 1024
"""Largest request body the proxy reads and forwards (10 MiB); a larger one is refused with 413."""
BUDGET_HEADER = "X-Gateway-Budget-Remaining"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        "expect",
        "forwarded",
        "via",
        "user-agent",
    }
)
_CREDENTIAL_WORDS = (
    "auth",
    "token",
    "cookie",
    "secret",
    "password",
    "session",
    "api-key",
    "apikey",
)
_RESPONSE_HEADERS = (
    "content-type",
    "content-disposition",
    "content-language",
    "link",
    "location",
    "retry-after",
    "etag",
    "last-modified",
    "cache-control",
    "x-request-id",
)


# --- errors --------------------------------------------------------------------------------------


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def upstream_error(exc: Exception) -> GatewayError | None:
    """The gateway error for an error raised by a generated client, or None if it is none of them.

    The generated packages each have their own error classes (same names), so they are told apart
    by name. Messages of these errors never hold credentials (the clients guarantee it).
    """
    names = _class_names(exc)
    message = str(exc)
    if "InvalidArgumentsError" in names:
        return GatewayError(400, "invalid_request", message)
    if "ResponseTooLargeError" in names:
        return GatewayError(502, "upstream_too_large", message)
    if "APITimeoutError" in names:
        return GatewayError(504, "upstream_timeout", message)
    if "APIConnectionError" in names:
        return GatewayError(502, "upstream_unavailable", message)
    if "APIResponseValidationError" in names or "MappingError" in names:
        return GatewayError(502, "upstream_invalid_response", message)
    if "CredentialsError" in names or "ConfigurationError" in names:
        return GatewayError(409, "account_misconfigured", message)
    if "UnknownAccount" in names:
        if "not installed" in message:
            return GatewayError(409, "connector_unavailable", message)
        return GatewayError(404, "not_found", message)
    return None


async def account_client(state: Any, account_id: str) -> Any:
    """The account's shared upstream client; its errors as gateway errors."""
    try:
        return await state.upstream.client(account_id)
    except Exception as exc:
        mapped = upstream_error(exc)
        if mapped is None:
            raise
        raise mapped from None


def vendor_error_response(exc: Exception) -> Response | None:
    """An `APIError` of a generated client as the vendor's answer: its status and JSON body."""
    if "APIError" not in _class_names(exc):
        return None
    status = int(getattr(exc, "status_code", 502))
    body = getattr(exc, "body", None)
    if isinstance(body, dict | list):
        return JSONResponse(body, status_code=status)
    message = str(getattr(exc, "message", "") or f"HTTP {status}")
    return JSONResponse(
        {"error": {"type": "upstream_error", "message": message, "status": status}},
        status_code=status,
    )


# --- paths ---------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def vendor_path(raw_path: str, prefix: str) -> str:
    """The vendor path after `prefix` in the request's raw (still percent-encoded) path.

    Raises GatewayError(400) unless it stays under the connector's API: no scheme or host, no `.`
    or `..` segment (also percent-encoded), no backslash, no control character.
    """
    if not raw_path.startswith(prefix):
        raise GatewayError(400, "invalid_path", "the proxied path is malformed")
    path = raw_path[len(prefix) :]
    if not path.startswith("/"):
        path = "/" + path
    decoded = unquote(path)
    problem = None
    if path.startswith("//") or decoded.startswith("//"):
        problem = "must be a path of the connector's API, not a host"
    elif "\\" in decoded or _CONTROL.search(decoded):
        problem = "must not contain backslashes or control characters"
    elif "://" in decoded:
        problem = "must be a path of the connector's API, not a URL"
    elif any(seg in (".", "..") for seg in decoded.split("/")):
        problem = "must not contain '.' or '..' segments"
    if problem:
        raise GatewayError(400, "invalid_path", f"proxy path {problem}")
    return path


def forwarded_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The caller's headers that go upstream: none of hop-by-hop, auth, cookie or token ones."""
    pairs = list(headers)
    named_by_connection = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    out: dict[str, str] = {}
    for name, value in pairs:
        low = name.lower()
        if low in _HOP_BY_HOP or low in named_by_connection:
            continue
        if low.startswith(("x-forwarded-", "proxy-", "x-real-ip", "x-gateway-")):
            continue
        if any(word in low for word in _CREDENTIAL_WORDS):
            continue
        out[name] = value
    return out


async def read_body(request: Request, limit: int | None = None) -> bytes:
    """The request body, refused with 413 past `limit` bytes (default `MAX_REQUEST_BYTES`)."""
    if limit is None:
        limit = MAX_REQUEST_BYTES
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise GatewayError(413, "payload_too_large", f"request body over {limit} bytes")
        except ValueError:
            raise GatewayError(400, "invalid_request", "invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, "payload_too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- normalize: list operations by path template ---------------------------------------------------


@dataclass(frozen=True)
class ListOperation:
    tool: str
    template: str
    pattern: re.Pattern[str]
    path_args: tuple[tuple[str, Any], ...]
    """(flat argument name, path_type) in template order."""
    query_args: Mapping[str, Any]
    """wire name -> ArgumentSpec."""
    cursor_param: str | None
    literal_length: int


_LIST_CACHE: dict[str, list[ListOperation]] = {}


def list_operations(package: Any) -> list[ListOperation]:
    """The GET list operations of a generated package, most specific template first."""
    key = package.__name__
    found = _LIST_CACHE.get(key)
    if found is not None:
        return found
    operations = getattr(package, "OPERATIONS", {})
    out: list[ListOperation] = []
    for op in operations.values():
        if op.method != "GET" or op.envelope not in ("cursor_list", "data_list", "bare_array"):
            continue
        if op.absolute_url_argument:
            continue
        by_wire = {a.wire_name: a for a in op.arguments if a.location == "path"}
        names: list[tuple[str, Any]] = []
        regex = "^"
        literal = 0
        for part in re.split(r"(\{[^}]+\})", op.path):
            if part.startswith("{") and part.endswith("}"):
                arg = by_wire.get(part[1:-1])
                names.append((arg.name if arg else part[1:-1], arg.path_type if arg else None))
                regex += "([^/]+)"
            else:
                regex += re.escape(part)
                literal += len(part)
        out.append(
            ListOperation(
                tool=op.tool,
                template=op.path,
                pattern=re.compile(regex + "/?$"),
                path_args=tuple(names),
                query_args={a.wire_name: a for a in op.arguments if a.location == "query"},
                cursor_param=op.cursor_param,
                literal_length=literal,
            )
        )
    out.sort(key=lambda o: (-o.literal_length, len(o.path_args)))
    _LIST_CACHE[key] = out
    return out


def match_list_operation(package: Any, path: str) -> tuple[ListOperation, dict[str, Any]] | None:
    """The list operation whose path template matches `path` and its path arguments."""
    for op in list_operations(package):
        found = op.pattern.match(path)
        if found is None:
            continue
        args: dict[str, Any] = {}
        for (name, path_type), raw in zip(op.path_args, found.groups(), strict=True):
            value: Any = unquote(raw)
            if path_type is int:
                try:
                    value = int(value)
                except ValueError:
                    raise GatewayError(
                        400, "invalid_request", f"path argument {name} must be an integer"
                    ) from None
            args[name] = value
        return op, args
    return None


def _coerce(arg: Any, values: list[str]) -> Any:
    """Query strings as the argument's declared type (lax: "5" -> 5, "true" -> True)."""
    adapter: TypeAdapter[Any] = TypeAdapter(arg.type)
    candidates: list[Any] = [values[0]] if len(values) == 1 else []
    candidates.append(values)
    if len(values) == 1 and "," in values[0]:
        candidates.append(values[0].split(","))
    for candidate in candidates:
        try:
            adapter.validate_python(candidate)
        except ValidationError:
            continue
        return candidate
    return values[0] if len(values) == 1 else values


def normalize_arguments(
    op: ListOperation, path_args: Mapping[str, Any], query: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    args = dict(path_args)
    for name, values in grouped.items():
        if name == "cursor" and op.cursor_param:
            args[op.cursor_param] = values[-1]
            continue
        arg = op.query_args.get(name)
        if arg is None:
            known = ", ".join(sorted({*op.query_args, "cursor"})) or "none"
            raise GatewayError(
                400,
                "invalid_request",
                f"query parameter {name!r} is not one of {op.tool} (accepted: {known})",
            )
        args[arg.name] = _coerce(arg, values)
    return args


# --- route ---------------------------------------------------------------------------------------


def _query_for_audit(query: Sequence[tuple[str, str]]) -> dict[str, str]:
    return {name: "[redacted]" for name, _ in query}


async def budget_header(state: Any, account_id: str) -> dict[str, str]:
    try:
        status = await state.upstream.budget_status(account_id)
    except Exception:  # the header is informative; never fail a call over it
        logger.warning("budget status unavailable for %s", account_id, exc_info=True)
        return {}
    if not status or status.get("remaining") is None:
        return {}
    return {BUDGET_HEADER: str(int(status["remaining"]))}


async def account_connector(state: Any, account_id: str) -> Any:
    """The installed connector of an account (404 when it is gone, 409 when not installed)."""
    account = await state.store.get_account(account_id)
    if account is None:  # deleted between the token check and now
        raise GatewayError(404, "not_found", f"no account {account_id}")
    connector = state.connectors.get(account.connector)
    if connector is None:
        raise GatewayError(
            409, "connector_unavailable", f"connector {account.connector} is not installed"
        )
    return connector


async def proxy(request: Request) -> Response:
    state = request.app.state.gateway
    account_id = request.path_params["account_id"]
    method = request.method.upper()
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    raw_path = raw_path.decode("latin-1").split("?", 1)[0]
    root = request.scope.get("root_path", "")
    if root and raw_path.startswith(root):
        raw_path = raw_path[len(root) :]
    try:
        refused_action = f"{method} {vendor_path(raw_path, f'/{account_id}/proxy')}"
    except GatewayError:  # a malformed path is answered 400 after the token checks
        refused_action = method
    caller = await require_api_token(request, account_id, "proxy", audit_action=refused_action)
    started = time.perf_counter()
    path = vendor_path(raw_path, f"/{account_id}/proxy")
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "normalize"]
    normalize = request.query_params.get("normalize", "").lower() in ("1", "true", "yes")
    action = f"{method} {path}"
    arguments: dict[str, Any] = {"query": _query_for_audit(query)}
    status_text = "error"
    http_status = 500
    try:
        if normalize:
            connector = await account_connector(state, account_id)
            response = await _normalized(state, connector, account_id, method, path, query)
        else:
            body = await read_body(request)
            arguments["body_bytes"] = len(body)
            headers = forwarded_headers(request.headers.items())
            client = await account_client(state, account_id)
            try:
                upstream = await client.send_raw(
                    method, path, params=query, content=body or None, headers=headers
                )
            except Exception as exc:
                mapped = upstream_error(exc)
                if mapped is None:
                    raise
                raise mapped from None
            out_headers = {
                name: upstream.headers[name]
                for name in _RESPONSE_HEADERS
                if name in upstream.headers
            }
            response = Response(upstream.content, status_code=upstream.status_code)
            response.headers.update(out_headers)
        response.headers.update(await budget_header(state, account_id))
        http_status = response.status_code
        status_text = "ok" if http_status < 400 else "error"
        return response
    except GatewayError as exc:
        http_status = exc.status
        arguments["error"] = {"status": exc.status, "type": exc.type}
        raise
    finally:
        arguments["http_status"] = http_status
        with anyio.CancelScope(shield=True):  # a call that ran is recorded, even if cancelled
            await state.store.record_audit(
                kind="proxy",
                action=action,
                status=status_text,
                duration_ms=(time.perf_counter() - started) * 1000,
                caller=caller,
                account_id=account_id,
                arguments=arguments,
            )


async def _normalized(
    state: Any,
    connector: Any,
    account_id: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
) -> Response:
    if method != "GET":
        raise GatewayError(400, "invalid_request", "normalize=true applies to GET list requests")
    found = match_list_operation(connector.package, path)
    if found is None:
        raise GatewayError(
            400,
            "invalid_request",
            f"normalize=true: GET {path} is not a list operation of {connector.name}",
        )
    op, path_args = found
    args = normalize_arguments(op, path_args, query)
    client = await account_client(state, account_id)
    try:
        page = await client.invoke(op.tool, args)
    except Exception as exc:
        vendor = vendor_error_response(exc)
        if vendor is not None:
            return vendor
        mapped = upstream_error(exc)
        if mapped is None:
            raise
        raise mapped from None
    result = {
        "result": page.get("result", []),
        "next_cursor": page.get("next_cursor"),
        "prev_cursor": page.get("prev_cursor"),
    }
    for extra in ("total", "included"):
        if page.get(extra) is not None:
            result[extra] = page[extra]
    return Response(
        json.dumps(result, separators=(",", ":"), ensure_ascii=False, default=str),
        media_type="application/json",
    )


def routes(state: Any = None) -> list[BaseRoute]:
    return [Route("/{account_id}/proxy/{path:path}", proxy, methods=METHODS)]
