"""openapi emitter: an OpenAPI 3.1 document of the connector, as YAML and JSON with the same content.

Everything comes from the IR. One OpenAPI operation per operation (operationId = tool name);
aliases (`same_endpoint_as`) share their primary's method and path, so they are listed on the
primary under `x-tool-aliases`. Registry schemas go under `components/schemas` (refs rewritten
from `#/$defs/X`), list envelopes become named page schemas (`TicketPage`, `TagList`), and the
error body is shared through `components/responses`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ... import ir
from ...escaping import register
from .jinja_cache import TemplateCache
from .yamldump import dump as dump_yaml

OPENAPI_VERSION = "3.1.0"
COMPONENT_PREFIX = "#/components/schemas/"
METHOD_ORDER = ("get", "put", "post", "patch", "delete", "head")

#: Error statuses documented on operations: (status, component name, description).
ERROR_RESPONSES: tuple[tuple[int, str, str], ...] = (
    (
        400,
        "BadRequest",
        "The request was refused: a required field is missing, a value is invalid or a parameter is unknown.",
    ),
    (401, "Unauthorized", "Credentials are missing, invalid or expired."),
    (403, "Forbidden", "The credentials are valid but their user or scopes may not do this."),
    (404, "NotFound", "The resource does not exist (or the account subdomain is unknown)."),
    (
        409,
        "Conflict",
        "The change conflicts with the current state, e.g. an identifier already in use.",
    ),
    (413, "PayloadTooLarge", "The request body is too large."),
    (
        429,
        "TooManyRequests",
        "The rate limit is exhausted; wait for the time given by the retry header.",
    ),
    (500, "ServerError", "The API failed to process the request."),
)

# (style, explode) per IR parameter style.
STYLES: dict[str, tuple[str, bool]] = {
    "simple": ("simple", False),
    "form": ("form", True),
    "repeated": ("form", True),
    "comma": ("form", False),
    "deep_object": ("deepObject", True),
}

_TEMPLATES = Path(__file__).parent / "templates"


@cache
def _env() -> jinja2.Environment:
    return register(
        jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            bytecode_cache=TemplateCache(_TEMPLATES),
            autoescape=False,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
    )


def _render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context).strip()


# --- schemas ---------------------------------------------------------------------------------


def convert_schema(schema: Any) -> Any:
    """Thaw an IR JSON Schema fragment and point its refs at `components/schemas`."""
    if isinstance(schema, dict | ir.FrozenDict):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in ("$schema", "$id"):
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith(ir.SCHEMA_REF_PREFIX):
                out[key] = COMPONENT_PREFIX + value[len(ir.SCHEMA_REF_PREFIX) :]
            else:
                out[key] = convert_schema(value)
        types = out.get("type")
        is_array = types == "array" or (isinstance(types, list) and "array" in types)
        if is_array and "items" not in out:
            # Same meaning in JSON Schema (after any `prefixItems` too); code generators and
            # linters (Spectral `array-items`) need `items` to type the list.
            out["items"] = {}
        return out
    if isinstance(schema, list | tuple):
        return [convert_schema(v) for v in schema]
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENT_PREFIX + name}


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


class _Pages:
    """Named page schemas for list envelopes, created once per (envelope, item) pair."""

    def __init__(self, connector: ir.Connector) -> None:
        self.connector = connector
        self.schemas: dict[str, Any] = {}
        self._by_key: dict[tuple[Any, ...], str] = {}

    def name_for(self, op: ir.Operation, envelope: ir.Envelope | None = None) -> str:
        """The page schema of the operation's items in `envelope` (default: its own envelope)."""
        response = op.response
        envelope = envelope or response.envelope
        item_name = response.schema_name or f"{_pascal(op.tool)}Item"
        own = envelope is response.envelope or envelope.name == response.envelope.name
        items_path = (response.items_path if own else envelope.items_path) or ("data",)
        sideloads = response.sideloads if own else ()
        key = (envelope.name, item_name, items_path, tuple(s.name for s in sideloads))
        if key in self._by_key:
            return self._by_key[key]
        suffix = "Page" if envelope.type == "cursor_list" else "List"
        name = f"{item_name}{suffix}"
        while name in self.connector.schemas or name in self.schemas:
            name += "Envelope"
        if response.schema_name:
            item: Any = _ref(response.schema_name)
        else:
            item = convert_schema(response.schema) if response.schema is not None else {}
        self.schemas[name] = self._page(envelope, item, item_name, name, items_path)
        for sideload in sideloads:
            self.schemas[name].setdefault("properties", {})[sideload.name] = _sideload_schema(sideload)
        self._by_key[key] = name
        return name

    def _page(
        self, envelope: ir.Envelope, item: Any, item_name: str, name: str, path: tuple[str, ...]
    ) -> dict[str, Any]:
        base = self.connector.schemas.get(envelope.page_schema or "")
        page: dict[str, Any] = convert_schema(base) if base is not None else {"type": "object"}
        kind = "page" if envelope.type == "cursor_list" else "list"
        page = {
            "title": name,
            **{k: v for k, v in page.items() if k != "title"},
            "description": f"A {kind} of {item_name} items. {envelope.description}",
        }
        declared = envelope.items_path or ("data",)
        if path != declared and len(declared) == 1:  # the operation's key holds the items instead
            page.get("properties", {}).pop(declared[0], None)
            if declared[0] in page.get("required", []):
                page["required"] = [r for r in page["required"] if r != declared[0]]
        node = page
        for depth, part in enumerate(path):
            properties = node.setdefault("properties", {})
            if depth == len(path) - 1:
                previous = properties.get(part) if isinstance(properties.get(part), dict) else {}
                array: dict[str, Any] = {"type": "array"}
                if "description" in previous:
                    array["description"] = previous["description"]
                array["items"] = item
                properties[part] = array
            else:
                child = properties.get(part)
                if isinstance(child, dict) and "$ref" in child:
                    target = child["$ref"][len(COMPONENT_PREFIX) :]
                    child = convert_schema(self.connector.schemas.get(target, {"type": "object"}))
                properties[part] = child if isinstance(child, dict) else {"type": "object"}
                node = properties[part]
        return page


def _sideload_schema(sideload: ir.Sideload) -> dict[str, Any]:
    item = _ref(sideload.schema_name) if sideload.schema_name else convert_schema(sideload.schema)
    return {
        "type": "array",
        "description": f"Side-loaded {sideload.name}: present when the request asks for them (include).",
        "items": item,
    }


def _wrapped(key: str, schema: Any) -> dict[str, Any]:
    """`{key: schema}`: an object the API wraps under one key (`{"ticket": {...}}`)."""
    return {"type": "object", "properties": {key: schema}, "required": [key]}


# --- operations ------------------------------------------------------------------------------


def _parameter(param: ir.Parameter, examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    style, explode = STYLES[param.style if param.location == "query" else "simple"]
    out: dict[str, Any] = {"name": param.name, "in": param.location}
    if param.description:
        out["description"] = param.description
    out["required"] = True if param.location == "path" else param.required
    if param.deprecated:
        out["deprecated"] = True
    out["style"] = style
    out["explode"] = explode
    out["schema"] = convert_schema(param.schema)
    if param.location == "path" and param.schema.get("format") in ("uri", "url"):
        # A whole URL in the path (`/{attachment_url}`): sent as is, `:` and `/` unescaped.
        out["x-allow-reserved"] = True
    if param.example is not None:
        out["example"] = ir.thaw(param.example)
    elif examples:
        out["examples"] = examples
    if param.from_paginator:
        out["x-pagination-parameter"] = True
    return out


def _split_example(
    op: ir.Operation, arguments: dict[str, Any]
) -> tuple[dict[tuple[str, str], Any], Any]:
    """Route a flat example back to the wire: ({(location, name): value}, body or None)."""
    params: dict[tuple[str, str], Any] = {}
    body: Any = None
    for arg in op.arguments:
        if arg.name not in arguments:
            continue
        value = arguments[arg.name]
        if arg.location == "body":
            body = body if isinstance(body, dict) else {}
            body[arg.wire_name] = value
        elif arg.location == "body_whole":
            body = value
        else:
            params[(arg.location, arg.wire_name)] = value
    return params, body


def _example_entry(example: ir.Example, value: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if example.summary:
        entry["summary"] = example.summary
    entry["value"] = value
    return entry


def _response_example(op: ir.Operation, value: Any) -> Any:
    """Declared examples hold the object (object envelope) or one item (list envelopes)."""
    envelope = op.response.envelope
    if envelope.type == "bare_array":
        return [value]
    if envelope.type in ("cursor_list", "data_list"):
        page: dict[str, Any] = {}
        _set_path(page, op.response.items_path or ("data",), [value])
        if envelope.paginator is not None and envelope.paginator.next_cursor_path:
            _set_path(page, envelope.paginator.next_cursor_path, None)
            if envelope.paginator.prev_cursor_path:
                _set_path(page, envelope.paginator.prev_cursor_path, None)
        return page
    key = op.response.key if op.response.wrapped else None
    if key is not None and not (isinstance(value, dict) and set(value) == {key}):
        return {key: value}
    return value


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _headers_for_rate_limit(connector: ir.Connector) -> dict[str, str]:
    """Header name -> component name of the rate-limit headers (429 responses)."""
    names: list[str] = []
    if connector.retry_policy.retry_after_header:
        names.append(connector.retry_policy.retry_after_header)
    for limit in connector.rate_limits:
        for header in (
            limit.retry_after_header, limit.usage_header, limit.limit_header, limit.remaining_header, limit.reset_header
        ):
            if header and header.lower() not in {n.lower() for n in names}:
                names.append(header)
    return {name: _pascal(name) for name in names}


def _header_components(connector: ir.Connector) -> dict[str, Any]:
    retry_after = {
        h.lower()
        for h in (
            connector.retry_policy.retry_after_header,
            *(r.retry_after_header for r in connector.rate_limits),
        )
        if h
    }
    budgets = "; ".join(
        f"{r.name}: {r.requests} requests per {r.period_seconds:g} s" for r in connector.rate_limits
    )
    kinds: dict[str, Any] = {}
    for r in connector.rate_limits:
        if r.limit_header:
            kinds[r.limit_header.lower()] = {
                "description": f"Requests allowed in the current rate-limit window ({budgets}).",
                "schema": {"type": "integer", "minimum": 0},
            }
        if r.remaining_header:
            kinds[r.remaining_header.lower()] = {
                "description": "Requests left in the current rate-limit window.",
                "schema": {"type": "integer", "minimum": 0},
            }
        if r.reset_header:
            kinds[r.reset_header.lower()] = {
                "description": "Unix time when the rate-limit window resets." if r.reset_format == "epoch_seconds"
                else "Seconds until the rate-limit window resets.",
                "schema": {"type": "integer", "minimum": 0},
            }
    out: dict[str, Any] = {}
    for header, component in _headers_for_rate_limit(connector).items():
        if header.lower() in retry_after:
            out[component] = {
                "description": "Seconds to wait before sending the request again.",
                "schema": {"type": "integer", "minimum": 0},
            }
        elif header.lower() in kinds:
            out[component] = kinds[header.lower()]
        else:
            out[component] = {
                "description": f"Requests used in the current rate-limit window out of the budget ({budgets}).",
                "schema": {"type": "string"},
            }
    return out


def _error_statuses(op: ir.Operation) -> list[int]:
    statuses = [400, 401, 403, 404]
    if not op.read_only:
        statuses.append(409)
    if op.body is not None:
        statuses.append(413)
    return [*statuses, 429, 500]


def _success_response(op: ir.Operation, pages: _Pages) -> dict[str, Any]:
    response = op.response
    envelope = response.envelope
    out: dict[str, Any] = {"description": response.description or envelope.description}
    schema: Any = None
    media_type = "application/json"
    if envelope.type == "object":
        if response.schema_name:
            schema = _ref(response.schema_name)
        else:
            schema = (
                convert_schema(response.schema)
                if response.schema is not None
                else {"type": "object"}
            )
        if response.wrapped and response.key is not None:
            schema = _wrapped(response.key, schema)
        if response.sideloads:
            schema = {**schema, "properties": {**schema.get("properties", {}),
                                               **{s.name: _sideload_schema(s) for s in response.sideloads}}}
            schema.setdefault("type", "object")
            if "$ref" in schema:  # properties beside a $ref: keep the object apart
                ref = {"$ref": schema.pop("$ref")}
                schema = {"allOf": [ref, schema]}
    elif envelope.is_list:
        schema = _list_schema(op, envelope, pages)
        if response.alternatives:
            schema = {
                "oneOf": [
                    schema,
                    *(
                        _list_schema(op, alternative, pages)
                        for alternative in response.alternatives
                    ),
                ]
            }
    elif envelope.type == "binary":
        media_type = envelope.media_type or "application/octet-stream"
        schema = {"type": "string", "format": "binary"}
    elif envelope.type == "csv":
        media_type = envelope.media_type or "text/csv"
        schema = {"type": "string"}
    if response.status in (301, 302, 303, 307, 308):
        return {**out, **_redirect_response(media_type)}
    if response.status == 204 or schema is None:
        return out
    content: dict[str, Any] = {"schema": schema}
    examples = {
        e.name: _example_entry(e, _response_example(op, ir.thaw(e.response)))
        for e in op.examples
        if e.response is not None and envelope.is_json
    }
    if examples:
        content["examples"] = examples
    out["content"] = {media_type: content}
    return out


def _list_schema(op: ir.Operation, envelope: ir.Envelope, pages: _Pages) -> dict[str, Any]:
    """The schema of the operation's items answered in a list envelope."""
    if envelope.type != "bare_array":
        return _ref(pages.name_for(op, envelope))
    response = op.response
    item = (
        _ref(response.schema_name)
        if response.schema_name
        else convert_schema(response.schema or {})
    )
    return {"type": "array", "items": item}


def _multipart_form(body: ir.Body) -> dict[str, Any] | None:
    """The form as sent on the wire when a property holds many files, else None (as declared).

    Such a property is not a form field of its own: each file goes in its own part, named after
    the file (see `ir.file_part_kind`), so the form's field names are the file names.
    """
    properties = body.resolved_schema.get("properties") or {}
    many = [name for name, prop in properties.items() if ir.file_part_kind(prop) == "many"]
    if not many:
        return None
    form = convert_schema(body.resolved_schema)
    for name in many:
        form["properties"].pop(name)
    if not form["properties"]:
        del form["properties"]
    required = [name for name in form.pop("required", []) if name not in many]
    if required:
        form["required"] = required
    if any(name in body.resolved_schema.get("required", ()) for name in many):
        form["minProperties"] = len(required) + 1
    form["additionalProperties"] = {
        "type": "string",
        "format": "binary",
        "description": "One file per part; the part's field name is the file's name "
        "(its label once stored).",
    }
    # Which client arguments carry these parts (`x-codegen.body_argument` is for whole bodies).
    form["x-file-parts-arguments"] = many
    return form


def _request_body(op: ir.Operation) -> dict[str, Any] | None:
    body = op.body
    if body is None:
        return None
    schema = _multipart_form(body) if body.content_type == "multipart/form-data" else None
    content: dict[str, Any] = {"schema": schema or convert_schema(body.schema)}
    if body.wrap_key:
        content["schema"] = _wrapped(body.wrap_key, content["schema"])
    examples = {}
    for example in op.examples:
        if example.arguments is None:
            continue
        _, value = _split_example(op, ir.thaw(example.arguments))
        if value is not None:
            examples[example.name] = _example_entry(example, {body.wrap_key: value} if body.wrap_key else value)
    if examples and body.content_type == "application/json":
        content["examples"] = examples
    out: dict[str, Any] = {}
    if body.description:
        out["description"] = body.description
    out["required"] = body.required
    out["content"] = {body.content_type: content}
    return out


def _security(connector: ir.Connector, op: ir.Operation) -> list[dict[str, list[str]]]:
    out = []
    for scheme in connector.auth:
        out.append(
            {scheme.name: list(op.scopes) if scheme.type == "oauth2_authorization_code" else []}
        )
    return out


def _operation(
    connector: ir.Connector, op: ir.Operation, aliases: list[ir.Operation], pages: _Pages
) -> dict[str, Any]:
    param_examples: dict[tuple[str, str], dict[str, Any]] = {}
    for example in op.examples:
        if example.arguments is None:
            continue
        routed, _ = _split_example(op, ir.thaw(example.arguments))
        for key, value in routed.items():
            param_examples.setdefault(key, {})[example.name] = _example_entry(example, value)

    route = documented_download_route(op)
    out: dict[str, Any] = {
        "operationId": op.tool,
        "tags": [op.resource],
        "summary": op.summary,
        "description": _render(
            "operation_description.md.j2",
            op=op,
            aliases=aliases,
            url_parameter=None if route else url_passthrough(op),
        ),
    }
    if op.deprecated:
        out["deprecated"] = True
    parameters = [
        _parameter(p, param_examples.get((p.location, p.name), {}))
        for p in op.parameters
        if not (route and p.location == "path") and not p.client_only
    ]
    if route:
        parameters[:0] = _route_parameters(route)
    if parameters:
        out["parameters"] = parameters
    body = _request_body(op)
    if body is not None:
        out["requestBody"] = body
    responses: dict[str, Any] = (
        _download_responses(op)
        if op.response.envelope.type == "binary"
        else {str(op.response.status): _success_response(op, pages)}
    )
    for status in _error_statuses(op):
        component = next(name for code, name, _ in ERROR_RESPONSES if code == status)
        responses[str(status)] = {"$ref": f"#/components/responses/{component}"}
    out["responses"] = responses
    out["security"] = _security(connector, op)
    if aliases:
        out["x-tool-aliases"] = [alias.tool for alias in aliases]
    if op.quirks:
        out["x-quirks"] = list(op.quirks)
    url_param = url_passthrough(op)
    if url_param and not route:
        out["x-url-parameter"] = url_param
    if op.download_locations:
        out["x-download-locations"] = [_download_location(loc) for loc in op.download_locations]
    resource = next(r for r in connector.resources if r.name == op.resource)
    codegen: dict[str, Any] = {
        "resource": op.resource,
        "client_method": f"{resource.client_attribute}.{op.method_name}",
        "kind": op.kind,
        "envelope": op.response.envelope.type,
        "categories": list(op.tags),
    }
    if op.response.items_path and op.response.envelope.is_list:
        codegen["items_path"] = ".".join(op.response.items_path)
    if op.response.wrapped:
        codegen["response_key"] = op.response.key
    if op.body is not None and op.body.wrap_key:
        codegen["body_wrap_key"] = op.body.wrap_key
    if op.response.sideloads:
        codegen["sideloads"] = [s.name for s in op.response.sideloads]
    if op.body is not None and op.body.argument:
        codegen["body_argument"] = op.body.argument
    out["x-codegen"] = codegen
    paginator = op.response.envelope.paginator if op.paginated else None
    if paginator is not None:
        pagination: dict[str, Any] = {"type": paginator.type}
        if paginator.client_cursor:
            pagination["cursor_argument"] = paginator.cursor_param
        else:
            pagination["cursor_param"] = paginator.cursor_param
        if paginator.position_param:
            pagination["position_param"] = paginator.position_param
        if paginator.limit_param:
            pagination["limit_param"] = paginator.limit_param
        pagination["items_path"] = ".".join(op.response.items_path or paginator.items_path)
        for key in ("next_cursor_path", "prev_cursor_path", "has_more_path", "total_path", "end_of_stream_path", "next_start_path"):
            path = getattr(paginator, key)
            if path:
                pagination[key] = ".".join(path)
        if paginator.client_cursor and paginator.next_url_path:
            pagination["next_url_path"] = ".".join(paginator.next_url_path)
        if paginator.type == "page_number":
            pagination["first_page"] = paginator.first_page
        if paginator.follow_next_url and paginator.next_url_path:
            pagination["next_url_path"] = ".".join(paginator.next_url_path)
            pagination["follow_next_url"] = True
        out["x-pagination"] = pagination
    annotations = op.annotations
    out["x-mcp"] = {
        "title": annotations.title,
        "readOnlyHint": annotations.read_only,
        "destructiveHint": annotations.destructive,
        "idempotentHint": annotations.idempotent,
        "openWorldHint": annotations.open_world,
    }
    return out


def url_passthrough(op: ir.Operation) -> str | None:
    """Name of the path parameter holding a whole absolute URL (path `/{param}`), if any."""
    params = op.path_parameters
    if (
        len(params) == 1
        and op.path == f"/{{{params[0].name}}}"
        and params[0].schema.get("format") in ("uri", "url")
    ):
        return params[0].name
    return None


# --- downloads -------------------------------------------------------------------------------

REDIRECT_STATUSES = (302, 307)


def documented_download_route(op: ir.Operation) -> str | None:
    """The route documented for a download taking a whole URL: its first declared location on the
    API host (e.g. `/api/attachment/download/{domain_hash}/{resource_name}`), whose parts are
    ordinary path parameters a standard OpenAPI client can fill. None for other operations."""
    if url_passthrough(op) is None:
        return None
    return next((loc.path for loc in op.download_locations if loc.host is None and loc.path), None)


def openapi_path(op: ir.Operation) -> str:
    """The path an operation is documented under."""
    return documented_download_route(op) or op.path


def _route_parameters(route: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "description": f"The `{name}` segment of the file's URL, as the API gives it.",
            "required": True,
            "style": "simple",
            "explode": False,
            "schema": {"type": "string", "minLength": 1},
        }
        for name in re.findall(r"\{([^{}]+)\}", route)
    ]


def _download_location(location: ir.DownloadLocation) -> dict[str, Any]:
    out: dict[str, Any] = {"host": location.host} if location.host else {}
    if location.path:
        out["path"] = location.path
    out["credentials"] = location.host is None
    return out


def _redirect_response(media_type: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "headers": {
            "Location": {
                "description": "Where the content is served (a short-lived signed URL); follow it promptly.",
                "required": True,
                "schema": {"type": "string", "format": "uri"},
            }
        }
    }
    if media_type:
        out["x-redirect-content-type"] = media_type
    return out


def _download_responses(op: ir.Operation) -> dict[str, Any]:
    """A file download answers the bytes (200) or a redirect to where they are served (302/307):
    all are declared, so a generated client works whether it follows redirects or not."""
    media_type = op.response.envelope.media_type or "application/octet-stream"
    out: dict[str, Any] = {
        "200": {
            "description": "The file content.",
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }
    for status in REDIRECT_STATUSES:
        kind = "Temporary Redirect" if status == 307 else "Found"
        out[str(status)] = {
            "description": f"{kind}: the content is at `Location` (fetch it without credentials).",
            **_redirect_response(media_type),
        }
    return out


def primary_of(connector: ir.Connector, op: ir.Operation) -> ir.Operation:
    """The operation an alias stands for (following chains), or the operation itself."""
    seen = {op.tool}
    while op.same_endpoint_as:
        target = connector.operation(op.same_endpoint_as)
        if target.tool in seen:
            break
        seen.add(target.tool)
        op = target
    return op


# --- document --------------------------------------------------------------------------------


def _security_schemes(connector: ir.Connector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scheme in connector.auth:
        if isinstance(scheme, ir.HttpBasicAuth):
            out[scheme.name] = {
                "type": "http",
                "scheme": "basic",
                "description": f"{scheme.description} Username: {scheme.username.description} "
                + (f"(sent as `{scheme.username_template}`) " if scheme.username_template else "")
                + f"Password: {scheme.password.description}"
                + (f" (always `{scheme.password.fixed}`)" if scheme.password.fixed else ""),
            }
        elif isinstance(scheme, ir.ApiKeyAuth):
            out[scheme.name] = {
                "type": "apiKey",
                "in": scheme.location,
                "name": scheme.key_name,
                "description": f"{scheme.description} Key: {scheme.key.description}"
                + (f" (sent after `{scheme.prefix}`)" if scheme.prefix else ""),
            }
        elif isinstance(scheme, ir.HttpBearerAuth):
            out[scheme.name] = {
                "type": "http",
                "scheme": "bearer",
                "description": f"{scheme.description} Token: {scheme.token.description}",
            }
        else:
            flow: dict[str, Any] = {
                "authorizationUrl": _example_url(connector, scheme.authorize_url),
                "tokenUrl": _example_url(connector, scheme.token_url),
            }
            if scheme.refresh_token is not None:
                flow["refreshUrl"] = flow["tokenUrl"]
            flow["scopes"] = {s.name: s.description for s in scheme.scopes}
            description = scheme.description
            templated = {
                key: url
                for key, url in (
                    ("authorizationUrl", scheme.authorize_url),
                    ("tokenUrl", scheme.token_url),
                    ("refreshUrl", scheme.token_url if scheme.refresh_token else None),
                )
                if url and "{" in url
            }
            if templated:
                description += (
                    " The URLs are templated on the same variables as the server URL; the flow "
                    "shows them for the example account and `x-url-templates` keeps the templates."
                )
                flow["x-url-templates"] = templated
            out[scheme.name] = {
                "type": "oauth2",
                "description": description,
                "flows": {"authorizationCode": flow},
            }
    return out


def _variable_default(var: ir.ServerVariable) -> str:
    return var.default or var.example or var.name


def _example_url(connector: ir.Connector, template: str) -> str:
    """A URL template with the server variables filled in: OAuth2 flow URLs must be plain URIs
    (OpenAPI's `format: uri`), unlike the server URL, which OpenAPI templates itself."""
    url = template
    for var in connector.server.variables:
        url = url.replace(f"{{{var.name}}}", _variable_default(var))
    return url


def _servers(connector: ir.Connector) -> list[dict[str, Any]]:
    variables: dict[str, Any] = {}
    for var in connector.server.variables:
        entry: dict[str, Any] = {"default": _variable_default(var)}
        entry["description"] = var.description
        variables[var.name] = entry
    server: dict[str, Any] = {
        "url": connector.server.base_url,
        "description": f"{connector.title} API",
    }
    if variables:
        server["variables"] = variables
    return [server]


_LAST: list[tuple[ir.Connector, dict[str, Any]]] = []


def cached_document(connector: ir.Connector) -> dict[str, Any]:
    """`build_document` for this very IR object, built once (emit and the docs both need it).

    Callers must not modify the answer.
    """
    if _LAST and _LAST[0][0] is connector:
        return _LAST[0][1]
    document = build_document(connector)
    _LAST[:] = [(connector, document)]
    return document


def build_document(connector: ir.Connector) -> dict[str, Any]:
    """The OpenAPI document as plain data, keys in a fixed order."""
    from .. import header_line

    retry_after = connector.retry_policy.retry_after_header or next(
        (r.retry_after_header for r in connector.rate_limits if r.retry_after_header), "Retry-After"
    )
    info: dict[str, Any] = {
        "title": f"{connector.title} API",
        "version": connector.version,
        "description": _render(
            "info_description.md.j2", connector=connector, retry_after_header=retry_after
        ),
        "x-generated-by": header_line(connector),
    }
    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": info}
    if connector.docs_url:
        document["externalDocs"] = {
            "description": f"{connector.title} API reference",
            "url": connector.docs_url,
        }
    document["servers"] = _servers(connector)
    # Aliases are not paths of their own, so a resource of aliases only would be an empty tag
    # (an empty section in Redoc or Swagger UI); its tools are under `x-tool-aliases`.
    document["tags"] = [
        {"name": r.name, "description": r.description, "x-displayName": r.title}
        for r in connector.resources
        if any(not op.same_endpoint_as for op in r.operations)
    ]

    aliases: dict[str, list[ir.Operation]] = {}
    for op in connector.operations:
        if op.same_endpoint_as:
            aliases.setdefault(primary_of(connector, op).tool, []).append(op)

    pages = _Pages(connector)
    paths: dict[str, dict[str, Any]] = {}
    for op in connector.operations:
        if op.same_endpoint_as:
            continue
        paths.setdefault(openapi_path(op), {})[op.http_method.lower()] = _operation(
            connector, op, aliases.get(op.tool, []), pages
        )
    document["paths"] = {
        path: {m: paths[path][m] for m in METHOD_ORDER if m in paths[path]}
        for path in sorted(paths)
    }

    schemas = {name: convert_schema(schema) for name, schema in connector.schemas.items()}
    schemas.update(pages.schemas)
    rate_headers = _headers_for_rate_limit(connector)
    responses: dict[str, Any] = {}
    for status, name, description in ERROR_RESPONSES:
        entry: dict[str, Any] = {"description": description}
        if status == 429 and rate_headers:
            entry["headers"] = {
                header: {"$ref": f"#/components/headers/{component}"}
                for header, component in rate_headers.items()
            }
        entry["content"] = {"application/json": {"schema": _ref(connector.errors.schema_name)}}
        responses[name] = entry
    components: dict[str, Any] = {"schemas": dict(sorted(schemas.items()))}
    components["responses"] = responses
    if rate_headers:
        components["headers"] = _header_components(connector)
    components["securitySchemes"] = _security_schemes(connector)
    document["components"] = components
    if connector.datetime_offset_optional:
        _mark_offset_optional(document)
    return document


#: Marks a `format: date-time` schema whose values may lack the UTC offset RFC 3339 requires.
OFFSET_OPTIONAL = "x-offset-optional"


#: Keys whose values map names to schemas (a property may be called `example`).
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "schemas", "$defs"})


def _mark_offset_optional(node: Any, names_schemas: bool = False) -> None:
    """Add `x-offset-optional: true` to every date-time schema (examples are values, skipped)."""
    if isinstance(node, dict):
        if node.get("format") == "date-time" and not names_schemas:
            node[OFFSET_OPTIONAL] = True
        for key, value in node.items():
            if names_schemas or key not in ("example", "examples"):
                _mark_offset_optional(value, not names_schemas and key in _NAMED_SCHEMAS)
    elif isinstance(node, list):
        for item in node:
            _mark_offset_optional(item)


def _collect_refs(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for item in value.values():
            _collect_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_refs(item, found)


def lint_expectations(connector: ir.Connector) -> list[tuple[str, str, str]]:
    """Warnings a mainstream linter (Redocly `recommended`) is expected to leave, and why.

    (rule, where, reason); the docs list them and the lint test compares them with the real run.
    """
    out: list[tuple[str, str, str]] = [
        ("info-license", "info", "the definition declares no license for the API description"),
    ]
    for op in connector.operations:
        documents_200 = op.response.envelope.type == "binary"  # see _download_responses
        if not op.same_endpoint_as and not documents_200 and not 200 <= op.response.status < 300:
            out.append(
                (
                    "operation-2xx-response",
                    op.tool,
                    f"the API answers {op.response.status} (a redirect) and no 2xx status",
                )
            )
    document = cached_document(connector)
    referenced: set[str] = set()
    _collect_refs(document, referenced)
    for kind, entries in document["components"].items():
        if kind == "securitySchemes":
            continue
        for name in entries:
            if f"#/components/{kind}/{name}" not in referenced:
                out.append(
                    (
                        "no-unused-components",
                        f"components/{kind}/{name}",
                        _unused_component_reason(connector, name),
                    )
                )
    return out


def _unused_component_reason(connector: ir.Connector, name: str) -> str:
    if name in {e.page_schema for e in connector.envelopes}:
        return "generic schema kept for reference; operations use a named page schema per item type"
    uploads = {
        ir.ref_name(op.body.schema)
        for op in connector.operations
        if op.body is not None and op.body.content_type == "multipart/form-data"
        if _multipart_form(op.body) is not None
    }
    if name in uploads:
        return "the client's arguments of an upload; the operation documents the form as sent"
    return "not referenced by any operation"


def emit(connector: ir.Connector) -> dict[str, str | bytes]:
    document = cached_document(connector)
    base = f"openapi/{connector.name}.openapi"
    return {
        f"{base}.json": json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        f"{base}.yaml": dump_yaml(document),
    }
