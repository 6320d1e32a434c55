"""The sandbox ASGI application: routes from the plan, auth, rate limit, faults and admin endpoints."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import random
import time
import traceback
from collections import Counter
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route, Router

from . import schemas as S
from ._spec import SPEC
from .handlers import HANDLERS, Call, Reply
from .oauth import make_server
from .options import SandboxOptions
from .seed import seed_store
from .store import ApiError, DataFileError, Store, dumps, field_error

log = logging.getLogger(__package__ or "sandbox")

ERRORS = SPEC["errors"]
ADMIN_PREFIX = "/_sandbox"
SIGNED_FILES_PREFIX = ADMIN_PREFIX + "/files/"
INJECTED_STATUSES = (500, 502, 503, 504)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Largest JSON or form body read (an exported store is ~3 MB; /_sandbox/load takes uploads' size).
MAX_JSON_BYTES = 4 * 1024 * 1024
#: Deepest JSON nesting accepted: far beyond any API body, far below the recursion limit of the
#: schema validation and handlers that walk it.
MAX_JSON_DEPTH = 64
STATUS_MESSAGES = {
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "An external service had an issue.",
    504: "The request took too long to process.",
}


def _flat_field_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested `{field: {sub: [messages]}}` as `{"field.sub": [messages]}`."""
    out: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        return out
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_field_errors(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = [str(v) for v in value]
        elif value is not None:
            out[name] = [str(value)]
    return out


def shaped_field_errors(data: Any) -> Any:
    """Field errors (`{field: [messages]}`, possibly nested) in the declared shape."""
    shape = ERRORS.get("field_errors") or {"type": "string_lists"}
    if shape["type"] == "string_lists":
        return data
    flat = _flat_field_errors(data)
    code = "invalid"
    if shape["type"] == "object_lists":
        return {
            field: [
                {
                    shape["message_key"]: m,
                    **({shape["code_key"]: code} if shape.get("code_key") else {}),
                }
                for m in msgs
            ]
            for field, msgs in flat.items()
        }
    return [
        {
            shape["field_key"]: field,
            shape["message_key"]: m,
            **({shape["code_key"]: code} if shape.get("code_key") else {}),
        }
        for field, msgs in flat.items()
        for m in msgs
    ]


def error_body(msg: str, data: Any = None) -> dict[str, Any]:
    """An error in the API's declared shape (message and field errors at their declared paths)."""
    body: dict[str, Any] = {}
    node = body
    path = ERRORS["message_path"]
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = msg
    if data and ERRORS.get("field_errors_path"):
        node = body
        fpath = ERRORS["field_errors_path"]
        for part in fpath[:-1]:
            node = node.setdefault(part, {})
        node[fpath[-1]] = shaped_field_errors(data)
    return body


def _referenced_ids(items: list[Any]) -> set[Any]:
    """Ids the items point at through `<x>_id` / `<x>_ids` fields."""
    found: set[Any] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        for name, value in item.items():
            values = (
                value
                if name.endswith("_ids") and isinstance(value, list)
                else [value]
                if name.endswith("_id")
                else []
            )
            found.update(v for v in values if isinstance(v, int | str) and not isinstance(v, bool))
    return found


def enveloped(route: dict[str, Any], store: Any, body: Any, include: str | None) -> Any:
    """A successful answer as the definition shapes it: an object wrapped under the response key,
    and the side-loads `include=` asks for (the objects the answer's items point at)."""
    env = route["envelope"]
    if env["type"] == "object" and env.get("key") and body is not None:
        items = [body]
        body = {env["key"]: body}
    elif isinstance(body, dict):
        node: Any = body
        for part in env.get("items_path") or ["data"]:
            node = node.get(part) if isinstance(node, dict) else None
        items = node if isinstance(node, list) else []
    else:
        return body
    wanted = {w.strip() for w in (include or "").split(",") if w.strip()}
    for name, collection in (route.get("sideloads") or {}).items():
        if name in wanted and isinstance(body, dict):
            ids = _referenced_ids(items)
            col = store.collections.get(collection)
            objects = (
                sorted(col.all(None), key=lambda o: str(o.get("id"))) if col is not None else []
            )
            body[name] = [store.render(col, obj) for obj in objects if obj.get("id") in ids]
    return body


def error_reply(exc: ApiError) -> Reply:
    return Reply(exc.status, error_body(exc.msg, exc.data), headers=dict(exc.headers))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; 413 as soon as it grows past `limit` bytes, so memory stays bounded."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise ApiError(413, "The request body is too large.")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "The request body is too large.")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to answer; not a sandbox bug worth a traceback
        raise ApiError(400, "The request body was cut short.") from None
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON (no NaN/Infinity) nested at most MAX_JSON_DEPTH deep, else a 400."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "The request body is not valid JSON.") from None
    if nests_deeper_than(value, MAX_JSON_DEPTH):
        raise ApiError(400, f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
    return value


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` deep (iterative: no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        )
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


async def read_form(request: Request, raw: bytes) -> Any:
    """The form in a body already read (within its size limit) by `read_body`."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    return await Request(request.scope, receive).form()


class LeakyBucket:
    """A leaky bucket per credential: `capacity` requests, draining at capacity/period per second."""

    def __init__(self, capacity: int, period: float) -> None:
        self.capacity = capacity
        self.rate = capacity / period if period > 0 else float("inf")
        self.level = 0.0
        self.stamp = time.monotonic()

    def take(self) -> tuple[bool, int, int]:
        """(allowed, used, retry-after seconds)."""
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level + 1 > self.capacity + 1e-9:
            wait = (self.level + 1 - self.capacity) / self.rate
            return False, math.ceil(self.level - 1e-9), max(1, math.ceil(wait))
        self.level += 1
        return True, math.ceil(self.level - 1e-9), 0


class FixedWindow:
    """A fixed window per credential: `capacity` requests per `period` seconds from the window's start."""

    def __init__(self, capacity: int, period: float) -> None:
        self.capacity = capacity
        self.period = period
        self.rate = capacity / period if period > 0 else float("inf")
        self.used = 0
        self.start = time.monotonic()

    def reset_in(self) -> int:
        """Whole seconds until the current window ends."""
        return max(1, math.ceil(self.start + self.period - time.monotonic()))

    def take(self) -> tuple[bool, int, int]:
        """(allowed, used, retry-after seconds)."""
        now = time.monotonic()
        if now >= self.start + self.period:
            self.start, self.used = now, 0
        if self.used >= self.capacity:
            return False, self.used, self.reset_in()
        self.used += 1
        return True, self.used, 0


class Sandbox:
    """The ASGI app. `store` holds the data; `stats()` counts what was served."""

    def __init__(
        self, options: SandboxOptions | None = None, *, base_url: str | None = None, **kwargs: Any
    ) -> None:
        self.options = options or SandboxOptions.from_kwargs(**kwargs)
        self.options.check()
        self.base_url = (
            self.options.public_url or base_url or f"http://{self.options.host}:{self.options.port}"
        ).rstrip("/")
        self.store = Store(base_url=self.base_url)
        self.store.me_login = self.options.email
        self.routes = SPEC["routes"]
        self._route_paths = {r["tool"]: r for r in self.routes}
        self._initial_settings = self.options.settings()
        self.buckets: dict[str, LeakyBucket | FixedWindow] = {}
        self.oauth = make_server(SPEC["auth"], self.options)
        """The OAuth2 authorization server (None unless the definition declares an oauth2 scheme)."""
        self.reset()
        self.router = Router(routes=self._build_routes())
        self.faults = random.Random(
            self.options.fault_seed if self.options.fault_seed is not None else self.options.seed
        )
        self._stats: dict[str, Counter[str]] = {
            "requests": Counter(),
            "responses": Counter(),
            "statuses": Counter(),
            "faults": Counter(),
        }

    # --- data -------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Fresh data (seeded, or from the data file), and the fault settings the sandbox started with."""
        with self.store.lock:
            for name, value in self._initial_settings.items():
                setattr(self.options, name, value)
            self.buckets.clear()
            if self.options.data and seed is None:
                self.store.load(self._read_data_file(self.options.data))
            else:
                seed_store(
                    self.store,
                    self.options.seed if seed is None else seed,
                    scale=self.options.scale,
                )
            self.store.writes.clear()

    def _read_data_file(self, path: str) -> dict[str, Any]:
        """The `--data` file, checked like `/_sandbox/load` checks its body (DataFileError if not)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise DataFileError(f"{path} is not JSON: {exc}") from None
        problems = self.store.load_problems(data)
        if problems:
            listed = "; ".join(
                f"{key}: {' '.join(map(str, msgs))}" for key, msgs in list(problems.items())[:5]
            )
            raise DataFileError(f"{path} cannot be loaded: {listed}")
        checked: dict[str, Any] = data
        return checked

    def stats(self) -> dict[str, Any]:
        """Counts so far: requests per tool (reaching a handler), responses per `tool status`,
        statuses, injected faults, and store writes per collection."""
        with self.store.lock:
            out = {key: dict(counter) for key, counter in self._stats.items()}
            out["writes"] = dict(self.store.writes)
            out["counts"] = self.store.counts()
        if self.oauth is not None:
            out["oauth"] = self.oauth.stats()
        return out

    def _count(self, kind: str, key: str) -> None:
        with self.store.lock:
            self._stats[kind][key] += 1

    def reset_stats(self) -> None:
        with self.store.lock:
            for counter in self._stats.values():
                counter.clear()
            self.store.writes.clear()

    # --- routing ----------------------------------------------------------------------------

    def _build_routes(self) -> list[Route]:
        routes = []
        by_path: dict[str, list[dict[str, Any]]] = {}
        for route in self.routes:
            by_path.setdefault(route["route_path"], []).append(route)
        for route in self.routes:
            routes.append(
                Route(
                    route["route_path"],
                    self._endpoint(route),
                    methods=[route["method"]],
                    name=route["tool"],
                )
            )
        routes.append(
            Route(
                "/{_rest:path}",
                self._fallback,
                methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            )
        )
        return routes

    def allowed_methods(self, path: str) -> set[str]:
        """Methods of the routes whose path template matches `path` with valid path parameters."""
        allowed: set[str] = set()
        for route, spec in zip(self.router.routes, self.routes):
            if spec["handler"] == "raw_url" or not isinstance(route, Route):
                continue
            match = route.path_regex.match(path)
            if not match:
                continue
            ok = True
            for p in spec["params"]:
                if p["in"] == "path" and p["name"] in match.groupdict():
                    value = S.coerce(unquote(match.group(p["name"])), p["schema"])
                    if not S.is_valid(p["schema"], value):
                        ok = False
            if ok:
                allowed |= set(route.methods or ())
        return allowed

    def _not_allowed_or_found(self, path: str, method: str) -> ApiError:
        allowed = self.allowed_methods(path)
        if allowed and method not in allowed:
            return ApiError(
                405,
                "The specified HTTP method is not allowed.",
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        return ApiError(404, "Resource not found.")

    async def _fallback(self, request: Request) -> Response:
        """Unknown paths answer 404, known paths with another method 405, both in the API's shape."""
        return self._respond(
            error_reply(self._not_allowed_or_found(request.url.path, request.method))
        )

    def _endpoint(self, route: dict[str, Any]) -> Any:
        async def endpoint(request: Request) -> Response:
            self._count("requests", route["tool"])
            try:
                reply = await self._handle(route, request)
            except ApiError as exc:
                reply = error_reply(exc)
            except Exception:  # a sandbox bug: answer 500 in the API's shape and log it
                log.error("sandbox error in %s:\n%s", route["tool"], traceback.format_exc())
                reply = Reply(500, error_body("Internal server error."))
            self._count("responses", f"{route['tool']} {reply.status}")
            return self._respond(reply)

        endpoint.__name__ = route["tool"]
        return endpoint

    def _respond(self, reply: Reply) -> Response:
        self._count("statuses", str(reply.status))
        content = reply.content()
        headers = dict(reply.headers)
        if reply.status == 204 or (reply.body is None and reply.raw is None):
            return Response(status_code=reply.status, headers=headers)
        return Response(
            content, status_code=reply.status, headers=headers, media_type=reply.media_type
        )

    async def _handle(self, route: dict[str, Any], request: Request) -> Reply:
        path = self._path_params(route, request)
        query = self._query(route, request)
        body, files = await self._body(route, request)
        base_url = str(request.base_url).rstrip("/")
        with self.store.lock:
            call = Call(
                route=route,
                store=self.store,
                path=path,
                query=query,
                body=body,
                base_url=base_url,
                request_path=request.url.path,
                files=files,
                page_size=self.options.page_size,
                position=request.query_params.get("sandbox_page"),
            )
            reply = HANDLERS.get(route["handler"], HANDLERS["generic"])(call)
            if 200 <= reply.status < 300 and reply.raw is None:
                reply.body = enveloped(
                    route, self.store, reply.body, request.query_params.get("include")
                )
            reply.raw = reply.content()
            return reply

    def _path_params(self, route: dict[str, Any], request: Request) -> dict[str, Any]:
        out = {}
        for p in route["params"]:
            if p["in"] != "path":
                continue
            raw = unquote(str(request.path_params.get(p["name"], "")))
            value = S.coerce(raw, p["schema"])
            if route["handler"] == "raw_url":
                error = self._not_allowed_or_found(request.url.path, request.method)
                if error.status == 405:
                    raise error
            elif not S.is_valid(p["schema"], value):
                raise self._not_allowed_or_found(request.url.path, request.method)
            out[p["name"]] = value
        return out

    def _query(self, route: dict[str, Any], request: Request) -> dict[str, Any]:
        params = request.query_params
        out: dict[str, Any] = {}
        problems: dict[str, Any] = {}
        for p in route["params"]:
            if p["in"] != "query":
                continue
            name, style, schema = p["name"], p["style"], p["schema"]
            is_array = "array" in S.types_of(S.resolve(schema))
            value: Any
            if style == "deep_object":
                prefix = name + "["
                value = {
                    k[len(prefix) : -1]: v
                    for k, v in params.multi_items()
                    if k.startswith(prefix) and k.endswith("]")
                }
                if not value:
                    value = None
            elif style == "comma":
                raw = params.get(name)
                value = None if raw is None else [v for v in raw.split(",") if v != ""]
            elif style == "repeated" or is_array:
                values = params.getlist(name) + params.getlist(name + "[]")
                value = values or None
            else:
                value = params.get(name)
            if value is None:
                if p["required"]:
                    problems[name] = ["Missing data for required field."]
                continue
            value = S.coerce(value, schema)
            errs = S.errors(schema, value)
            if errs:
                nested = S.field_errors(errs)
                problems[name] = nested.get("_schema", nested)
                continue
            out[name] = value
        if problems:
            raise ApiError(400, "Invalid query parameters.", problems)
        return out

    async def _body(
        self, route: dict[str, Any], request: Request
    ) -> tuple[Any, list[tuple[str, str, str, bytes]]]:
        spec = route.get("body")
        if spec is None:
            return None, []
        content_type = spec["content_type"]
        if content_type.startswith("multipart/"):
            if not request.headers.get("content-type", "").startswith("multipart/"):
                raise ApiError(
                    400,
                    "Expected a multipart/form-data body.",
                    {"files": ["Missing data for required field."]},
                )
            raw = await read_body(request, MAX_UPLOAD_BYTES)
            try:
                form = await read_form(request, raw)
            except Exception:
                raise ApiError(
                    400,
                    "The multipart body could not be read.",
                    {"files": ["Missing data for required field."]},
                ) from None
            files = []
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files.append(
                        (
                            key,
                            value.filename or key,
                            value.content_type or "application/octet-stream",
                            await value.read(),
                        )
                    )
            return None, files
        if content_type == "application/octet-stream":  # the raw bytes of one file
            raw = await read_body(request, MAX_UPLOAD_BYTES)
            if not raw and spec["required"]:
                raise ApiError(
                    400, self._failure(route), {"file": ["Missing data for required field."]}
                )
            name = request.query_params.get(spec.get("filename_param") or "") or "file"
            media = (
                request.headers.get("content-type", "").split(";")[0].strip()
                or "application/octet-stream"
            )
            return None, [("file", name, media, raw)]
        raw = await read_body(request, MAX_JSON_BYTES)
        if content_type == "application/x-www-form-urlencoded":
            try:
                body: Any = dict(await read_form(request, raw))
            except Exception:
                raise ApiError(400, "The form body could not be read.") from None
        elif not raw.strip():
            if spec["required"]:
                raise ApiError(400, self._failure(route), {"_schema": ["Missing request body."]})
            return None, []
        else:
            body = parse_json(raw)
        wrap_key = spec.get("wrap_key")
        if wrap_key:  # the object comes wrapped under one key, as the API takes it
            if not isinstance(body, dict) or not isinstance(body.get(wrap_key), dict):
                raise ApiError(
                    400, self._failure(route), {wrap_key: ["Missing data for required field."]}
                )
            body = body[wrap_key]
        errs = S.errors(spec["schema"], body)
        if errs:
            raise ApiError(400, self._failure(route), S.field_errors(errs))
        return body, []

    def _failure(self, route: dict[str, Any]) -> str:
        thing = route["resource"].replace("_", " ")
        thing = thing[:-1] if thing.endswith("s") else thing
        verb = {"create": "create", "update": "update", "delete": "delete"}.get(route["kind"])
        return f"Failed to {verb} {thing}." if verb else "Invalid request data."

    # --- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "/")
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/")
            path = scope["path"]
        oauth_endpoint = self.oauth.endpoint(path, scope["method"]) if self.oauth else None
        if oauth_endpoint is not None:  # the authorization server: no API credentials, no faults
            await self._oauth(oauth_endpoint, scope, receive, send)
            return
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            # the admin routes read and replace all data: same credentials as the API, no faults;
            # but stored files stand for the API's signed storage URLs, fetched without credentials
            signed_file = path.startswith(SIGNED_FILES_PREFIX)
            if not signed_file and self._authenticate(scope)[1] is None:
                await self._send(send, Reply(401, error_body("Unauthorized.")))
                return
            await self._admin(scope, receive, send)
            return
        opts = self.options
        low, high = opts.latency_range()
        if high > 0:
            await asyncio.sleep(self.faults.uniform(low, high))
        if opts.drop_connection_rate and self.faults.random() < opts.drop_connection_rate:
            self._count("faults", "drop")
            await _drop_connection(send)
            return
        scheme, identity = self._authenticate(scope)
        if identity is None:
            await self._send(send, Reply(401, error_body(self._unauthorized_message(scope))))
            return
        headers: dict[str, str] = {}
        limit: tuple[int, float] | None = opts.rate_limit_for(scheme)
        if limit is not None:
            declared = self._limit(scheme)
            kind = FixedWindow if declared.get("type") == "fixed_window" else LeakyBucket
            bucket = self.buckets.get(identity)
            if type(bucket) is not kind or (bucket.capacity, bucket.capacity / bucket.rate) != (
                limit[0],
                limit[1],
            ):
                bucket = self.buckets[identity] = kind(*limit)
            allowed, used, retry = bucket.take()
            usage_header, retry_header = self._limit_headers(scheme)
            if usage_header:
                headers[usage_header] = f"{used}/{limit[0]}"
            headers.update(self._status_headers(declared, bucket, used, limit[0]))
            if not allowed:
                self._count("faults", "rate_limited")
                if retry_header:
                    headers[retry_header] = str(retry)
                await self._send(
                    send, Reply(429, error_body("Too many requests."), headers=headers)
                )
                return
        if opts.throttle_rate and self.faults.random() < opts.throttle_rate:
            self._count("faults", "throttle")
            _, retry_header = self._limit_headers(scheme)
            extra = {retry_header or "Retry-after": "1"}
            await self._send(
                send, Reply(429, error_body("Too many requests."), headers={**headers, **extra})
            )
            return
        if opts.error_rate and self.faults.random() < opts.error_rate:
            status = self.faults.choice(INJECTED_STATUSES)
            self._count("faults", f"error_{status}")
            await self._send(
                send, Reply(status, error_body(STATUS_MESSAGES[status]), headers=headers)
            )
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and headers:
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                ]
            await send(message)

        await self.router(scope, receive, send_with_headers)

    def _limit(self, scheme: str) -> dict[str, Any]:
        limit: dict[str, Any] = SPEC["auth"].get(scheme, {}).get("rate_limit") or next(
            (a["rate_limit"] for a in SPEC["auth"].values() if a.get("rate_limit")), {}
        )
        return limit

    def _limit_headers(self, scheme: str) -> tuple[str | None, str | None]:
        limit = self._limit(scheme)
        return limit.get("usage_header"), limit.get("retry_after_header")

    @staticmethod
    def _status_headers(
        declared: dict[str, Any], bucket: LeakyBucket | FixedWindow, used: int, capacity: int
    ) -> dict[str, str]:
        """The declared limit/remaining/reset headers for a bucket that has `used` of `capacity` calls."""
        out: dict[str, str] = {}
        if declared.get("limit_header"):
            out[declared["limit_header"]] = str(capacity)
        if declared.get("remaining_header"):
            out[declared["remaining_header"]] = str(max(capacity - used, 0))
        if declared.get("reset_header"):
            if isinstance(bucket, FixedWindow):
                reset = bucket.reset_in()
            else:  # a leaky bucket is empty again once its level has drained
                reset = max(0, math.ceil(used / bucket.rate)) if bucket.rate != float("inf") else 0
            value = (
                reset
                if declared.get("reset_format") != "epoch_seconds"
                else math.ceil(time.time()) + reset
            )
            out[declared["reset_header"]] = str(value)
        return out

    def _authenticate(self, scope: dict[str, Any]) -> tuple[str, str | None]:
        apikey = SPEC["auth"].get("api_key")
        if apikey:  # only the declared header or query parameter, with the declared prefix
            if apikey["location"] == "header":
                sent = [
                    v.decode("latin-1")
                    for k, v in scope.get("headers", [])
                    if k.decode("latin-1").lower() == apikey["key_name"].lower()
                ]
            else:
                sent = [
                    v
                    for k, v in parse_qsl(
                        scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
                    )
                    if k == apikey["key_name"]
                ]
            if sent:
                return "api_key", "key:api_key" if sent == [
                    apikey["prefix"] + self.options.api_key
                ] else None
        header = ""
        for key, value in scope.get("headers", []):
            if key.lower() == b"authorization":
                header = value.decode("latin-1")
        kind, _, credentials = header.partition(" ")
        if kind.lower() == "basic" and "http_basic" in SPEC["auth"]:
            try:
                user, _, password = (
                    base64.b64decode(credentials.strip()).decode("utf-8").partition(":")
                )
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return "http_basic", None
            basic = SPEC["auth"]["http_basic"]
            template = basic.get("username_template")
            expected = (
                template.replace("{" + basic["username_param"] + "}", self.options.email)
                if template
                else self.options.email
            )
            if basic.get("fixed_password"):  # the API key is the user name, the password is fixed
                expected, secret = self.options.api_key, basic["fixed_password"]
            else:
                secret = self.options.api_key
            if user == expected and password == secret:
                return "http_basic", f"basic:{user}"
            return "http_basic", None
        if (
            kind.lower() == "bearer" and "http_bearer" in SPEC["auth"]
        ):  # a static token: the API key
            if credentials.strip() == self.options.api_key:
                return "http_bearer", "token:api_key"
            return "http_bearer", None
        if kind.lower() == "bearer" and any(k.startswith("oauth2") for k in SPEC["auth"]):
            scheme = next(k for k in SPEC["auth"] if k.startswith("oauth2"))
            if credentials.strip() == self.options.token:
                return scheme, f"bearer:{credentials.strip()}"
            if self.oauth is not None:  # an access token the authorization server issued
                return scheme, self.oauth.bearer(credentials.strip())[0]
            return scheme, None
        return "http_basic", None

    def _unauthorized_message(self, scope: dict[str, Any]) -> str:
        """Why a request is refused: an expired access token says so."""
        if self.oauth is not None:
            for key, value in scope.get("headers", []):
                if key.lower() == b"authorization":
                    kind, _, token = value.decode("latin-1").partition(" ")
                    if kind.lower() == "bearer" and self.oauth.bearer(token.strip())[1]:
                        return "The access token expired."
        return "Unauthorized."

    async def _oauth(self, kind: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve the authorize or token endpoint of the authorization server."""
        assert self.oauth is not None
        request = Request(scope, receive)
        self._count("requests", f"oauth.{kind}")
        try:
            reply = await self.oauth.handle(kind, request)
        except ApiError as exc:
            reply = error_reply(exc)
        except Exception:  # a sandbox bug: answer 500 in the API's shape and log it
            log.error("sandbox error in oauth.%s:\n%s", kind, traceback.format_exc())
            reply = Reply(500, error_body("Internal server error."))
        self._count("responses", f"oauth.{kind} {reply.status}")
        await self._send(send, reply)

    async def _send(self, send: Any, reply: Reply) -> None:
        self._count("statuses", str(reply.status))
        content = reply.content()
        headers = [
            (b"content-type", reply.media_type.encode()),
            (b"content-length", str(len(content)).encode()),
        ]
        headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    # --- admin ------------------------------------------------------------------------------

    async def _admin(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        path = scope["path"][len(ADMIN_PREFIX) :] or "/"
        try:
            reply = await self._admin_reply(request, path)
        except ApiError as exc:
            reply = error_reply(exc)
        except Exception:  # a sandbox bug: answer 500 in the API's shape and log it
            log.error(
                "sandbox error in %s %s:\n%s", request.method, scope["path"], traceback.format_exc()
            )
            reply = Reply(500, error_body("Internal server error."))
        await self._send(send, reply)

    async def _admin_reply(self, request: Request, path: str) -> Reply:
        method = request.method
        if path.startswith("/files/") and method in ("GET", "HEAD"):
            parts = path.split("/")
            token = parts[2] if len(parts) > 2 else ""
            stored = self.store.files.get(token)
            if stored is None:
                raise ApiError(404, "Resource not found.")
            return Reply(
                200,
                raw=stored.content,
                media_type=stored.content_type,
                headers={"content-disposition": f'inline; filename="{stored.name}"'},
            )
        if path == "/" and method == "GET":
            return Reply(
                200,
                {
                    "name": SPEC["connector"]["title"] + " sandbox",
                    "base_url": self.base_url,
                    "operations": len(SPEC["operations"]),
                    "routes": len(self.routes),
                    "counts": self.store.counts(),
                },
            )
        if path == "/stats" and method == "GET":
            return Reply(200, self.stats())
        if path == "/stats" and method == "DELETE":
            self.reset_stats()
            return Reply(204)
        if path == "/routes" and method == "GET":
            return Reply(
                200,
                [
                    {k: r[k] for k in ("tool", "aliases", "method", "path", "handler", "status")}
                    for r in self.routes
                ],
            )
        if path == "/export" and method == "GET":
            with self.store.lock:
                return Reply(200, self.store.export())
        if path == "/reset" and method == "POST":
            self.reset(_reset_seed(await read_body(request, MAX_JSON_BYTES)))
            return Reply(200, {"counts": self.store.counts()})
        if path == "/load" and method == "POST":
            data = parse_json(await read_body(request, MAX_UPLOAD_BYTES))
            with self.store.lock:
                self.store.load_checked(data)
            return Reply(200, {"counts": self.store.counts()})
        if path == "/faults" and method in ("GET", "PUT"):
            if method == "PUT":
                raw = await read_body(request, MAX_JSON_BYTES)
                self._apply_settings(parse_json(raw) if raw.strip() else {})
            return Reply(200, self.options.settings())
        raise ApiError(404, "Resource not found.")

    def _apply_settings(self, changes: Any) -> None:
        """Change fault and limit settings all at once, or (400) not at all."""
        try:
            updated = self.options.with_settings(changes)
        except ValueError as exc:
            raise ApiError(400, "Invalid sandbox settings.", {"_schema": [str(exc)]}) from None
        for name, value in updated.settings().items():
            setattr(self.options, name, value)
        self.buckets.clear()


def _reset_seed(raw: bytes) -> int | None:
    """The seed of a `/_sandbox/reset` body: none, or `{"seed": <integer>}` (else a 400)."""
    body = parse_json(raw) if raw.strip() else {}
    seed = body.get("seed") if isinstance(body, dict) else "not an object"
    if seed is None or type(seed) is int:  # not bool, not float
        return seed
    raise field_error(("seed",), "Not a valid integer.", 'Expected {"seed": <integer>} or no body.')


async def _drop_connection(send: Any) -> None:
    """Close the connection without answering (uvicorn: abort the transport of this request)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.abort()
        if cycle is not None and hasattr(cycle, "disconnected"):
            cycle.disconnected = True
        return
    # Other servers: start a response and stop; the server then closes the connection mid-response.
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
    )
    raise ConnectionAbortedError("sandbox: connection dropped on purpose")


def create_app(options: SandboxOptions | None = None, **kwargs: Any) -> Sandbox:
    """The sandbox as an ASGI app (for uvicorn, or httpx's ASGITransport in tests)."""
    return Sandbox(options, **kwargs)


__all__ = ["Sandbox", "create_app", "error_body", "dumps"]
