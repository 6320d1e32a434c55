"""`/{account_id}/unified/{ticketing|user_directory}/{resource}[/{id}]`: the unified APIs over HTTP.

Runs the connector's unified methods (`<pkg>.unified.ainvoke_unified`) on the account's shared
upstream client. Which resources and methods exist comes from the package's unified tool entries
(`unified_tools()`, `_meta.unified` and `_meta.kind`), so a connector whose mapping lacks a method
answers 405 and an unknown resource 404, each with a message naming what exists.

    GET    .../{resource}         list    -> {"result": [...], "next_cursor", "prev_cursor"}
    GET    .../{resource}/{id}    get     -> {"result": {...}}
    POST   .../{resource}         create  -> 201 {"result": {...}}
    PATCH  .../{resource}/{id}    update  -> {"result": {...}}
    DELETE .../{resource}/{id}    delete  -> {"result": {"id": ..., "deleted": true}}

Query parameters are the method's inputs (filters, `cursor`, `limit`, and parent ids such as a
comment's `ticket_id`), converted to the types the tool's input schema declares; POST and PATCH
take a JSON object. Bad input is refused with 400 and the validation message, before any request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .access import GatewayError, require_api_token
from .proxy import (
    MAX_REQUEST_BYTES,
    account_client,
    account_connector,
    budget_header,
    read_body,
    upstream_error,
)

__all__ = ["CATEGORIES", "routes", "unified_table"]

CATEGORIES = ("ticketing", "user_directory")
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_COLLECTION = {"GET": "list", "POST": "create"}
_ITEM = {"GET": "get", "PATCH": "update", "DELETE": "delete"}
_MAX_BODY = min(MAX_REQUEST_BYTES, 1024 * 1024)

Table = dict[tuple[str, str], dict[str, dict[str, Any]]]
_TABLES: dict[str, Table] = {}


def unified_table(module: Any) -> Table:
    """(category, resource) -> {kind: tool entry} for a package's unified module."""
    found = _TABLES.get(module.__name__)
    if found is not None:
        return found
    table: Table = {}
    for tool in module.unified_tools():
        meta = tool.get("_meta", {})
        unified = meta.get("unified", {})
        key = (unified.get("category"), unified.get("resource"))
        table.setdefault(key, {})[meta.get("kind")] = tool
    _TABLES[module.__name__] = table
    return table


def _types(schema: Mapping[str, Any]) -> set[str]:
    kinds: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        kinds.add(declared)
    elif isinstance(declared, list):
        kinds.update(t for t in declared if isinstance(t, str))
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, ()):
            if isinstance(sub, Mapping):
                kinds |= _types(sub)
    return kinds


def _convert(name: str, values: list[str], schema: Mapping[str, Any]) -> Any:
    """Query strings as the input's schema type (a wrong one is left for the tool to reject)."""
    kinds = _types(schema)
    if "array" in kinds:
        items = schema.get("items", {}) if isinstance(schema.get("items"), Mapping) else {}
        parts = [p for v in values for p in v.split(",") if p != ""]
        return [_convert(name, [p], items) for p in parts]
    value = values[-1]
    if "integer" in kinds and value.lstrip("-").isdigit():
        return int(value)
    if "number" in kinds:
        try:
            return float(value) if "integer" not in kinds or "." in value else int(value)
        except ValueError:
            return value
    if "boolean" in kinds and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


def query_arguments(tool: Mapping[str, Any], query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    properties = tool.get("inputSchema", {}).get("properties", {})
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    return {
        name: _convert(name, values, properties.get(name, {})) for name, values in grouped.items()
    }


def _vendor_error(exc: Exception) -> GatewayError | None:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "APIError" not in names:
        return None
    status = int(getattr(exc, "status_code", 502))
    message = f"{getattr(exc, 'message', '') or f'HTTP {status}'} (upstream status {status})"
    if status == 404:
        return GatewayError(404, "not_found", message)
    if status in (401, 403):
        return GatewayError(502, "upstream_auth", message)
    if status == 429:
        return GatewayError(429, "upstream_rate_limited", message)
    if 400 <= status < 500:
        return GatewayError(400 if status == 422 else status, "invalid_request", message)
    return GatewayError(502, "upstream_error", message)


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str),
        status_code=status,
        media_type="application/json",
    )


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await read_body(request, _MAX_BODY)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise GatewayError(400, "invalid_request", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise GatewayError(400, "invalid_request", "the request body must be a JSON object")
    return data


async def unified(request: Request) -> Response:
    state = request.app.state.gateway
    params = request.path_params
    account_id = params["account_id"]
    category, resource, item_id = params["category"], params["resource"], params.get("id")
    method = request.method.upper()
    action = f"{method} {category}/{resource}" + ("/{id}" if item_id is not None else "")
    caller = await require_api_token(request, account_id, "unified", audit_action=action)
    started = time.perf_counter()
    arguments: dict[str, Any] | None = None
    status_text = "error"
    try:
        connector = await account_connector(state, account_id)
        module = getattr(connector, "unified_module", None)
        if category not in CATEGORIES or module is None:
            raise GatewayError(
                404, "not_found", f"no unified API {category!r} for {connector.name}"
            )
        table = unified_table(module)
        methods = table.get((category, resource))
        if methods is None:
            known = ", ".join(sorted(r for c, r in table if c == category)) or "none"
            raise GatewayError(
                404,
                "not_found",
                f"unknown unified {category} resource {resource!r} (resources: {known})",
            )
        kind = (_ITEM if item_id is not None else _COLLECTION).get(method)
        if kind is None or kind not in methods:
            verbs = _ITEM if item_id is not None else _COLLECTION
            allowed = sorted(m for m, k in verbs.items() if k in methods)
            what = f"{category}/{resource}" + ("/{id}" if item_id is not None else "")
            raise GatewayError(
                405,
                "method_not_allowed",
                f"{method} is not supported on {what} for {connector.name}"
                f" (supported: {', '.join(allowed) or 'none'})",
            )
        tool = methods[kind]
        action = tool["name"]
        query = list(request.query_params.multi_items())
        args = query_arguments(tool, query)
        if kind in ("create", "update"):
            body = await _json_body(request)
            if kind == "update" and "id" in body and str(body["id"]) != item_id:
                raise GatewayError(400, "invalid_request", "the body's id differs from the path's")
            args.update(body)
        if item_id is not None:
            args["id"] = item_id
        arguments = args
        client = await account_client(state, account_id)
        try:
            # a fresh runner per request: before-step results (e.g. the current user) are not
            # cached on the worker's long-lived shared client
            result = await module.ainvoke_unified(module.AsyncUnified(client), tool["name"], args)
        except Exception as exc:
            mapped = _vendor_error(exc) or upstream_error(exc)
            if mapped is None:
                raise
            raise mapped from None
        if kind == "list":
            payload = {
                "result": result.get("result", []),
                "next_cursor": result.get("next_cursor"),
                "prev_cursor": result.get("prev_cursor"),
            }
        else:
            payload = {"result": result}
        response = _json(payload, 201 if kind == "create" else 200)
        response.headers.update(await budget_header(state, account_id))
        status_text = "ok"
        return response
    except GatewayError as exc:
        error = {"status": exc.status, "type": exc.type}
        arguments = {**(arguments or {}), "error": error}
        raise
    finally:
        with anyio.CancelScope(shield=True):  # a call that ran is recorded, even if cancelled
            await state.store.record_audit(
                kind="unified",
                action=action,
                status=status_text,
                duration_ms=(time.perf_counter() - started) * 1000,
                caller=caller,
                account_id=account_id,
                arguments=arguments,
            )


def routes(state: Any = None) -> list[BaseRoute]:
    return [
        Route(
            "/{account_id}/unified/{category}/{resource}",
            unified,
            methods=_ALL_METHODS,
        ),
        Route(
            "/{account_id}/unified/{category}/{resource}/{id}",
            unified,
            methods=_ALL_METHODS,
        ),
    ]
