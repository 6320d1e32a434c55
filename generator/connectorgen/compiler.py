"""Compiles a structurally valid raw definition into the immutable IR (`ir.Connector`)."""

from __future__ import annotations

import hashlib
import keyword
from typing import Any, cast

from . import ir
from .definition import RawDefinition, resolve_schema
from .loader import SourceFile

READ_METHODS = frozenset({"GET", "HEAD"})
DEFAULT_BODY_ARGUMENT = "body"


def python_identifier(name: str) -> str:
    ident = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    if not ident or ident[0].isdigit():
        ident = f"_{ident}"
    if keyword.iskeyword(ident) or ident in ("self", "cls"):
        ident += "_"
    return ident


def split_path(dotted: str | None) -> tuple[str, ...] | None:
    return tuple(dotted.split(".")) if dotted else None


def source_hash(raw: RawDefinition) -> str:
    digest = hashlib.sha256()
    for source in sorted(raw.files, key=lambda s: s.path.relative_to(raw.root).as_posix()):
        digest.update(source.path.relative_to(raw.root).as_posix().encode())
        digest.update(b"\0")
        digest.update(source.raw)
        digest.update(b"\0")
    return digest.hexdigest()


def _plan_budget(spec: dict[str, Any]) -> int:
    """The requests per period of a rate limit: `requests`, or the default plan's budget."""
    plans = spec.get("plans") or {}
    if "requests" in spec or not plans:
        return int(spec.get("requests", 1))
    return int(plans.get(spec.get("default_plan"), next(iter(plans.values()))))


def _rate_limits(data: dict[str, Any]) -> dict[str, ir.RateLimit]:
    return {
        name: ir.RateLimit(
            name=name,
            description=spec.get("description", ""),
            requests=_plan_budget(spec),
            plans=tuple((plan, int(n)) for plan, n in (spec.get("plans") or {}).items()),
            default_plan=spec.get("default_plan"),
            period_seconds=float(spec["period_seconds"]),
            retry_after_header=spec.get("retry_after_header"),
            usage_header=spec.get("usage_header"),
            type=spec["type"],
            limit_header=spec.get("limit_header"),
            remaining_header=spec.get("remaining_header"),
            reset_header=spec.get("reset_header"),
            reset_format=spec.get("reset_format", "delta_seconds"),
        )
        for name, spec in (data.get("rate_limits") or {}).items()
    }


def _credential(spec: dict[str, Any] | None) -> ir.Credential | None:
    if spec is None:
        return None
    return ir.Credential(
        param=spec["param"], env=spec.get("env"), description=spec["description"], secret=bool(spec.get("secret")),
        fixed=spec.get("fixed"),
    )


def _auth(data: dict[str, Any], rate_limits: dict[str, ir.RateLimit]) -> tuple[ir.AuthScheme, ...]:
    schemes: list[ir.AuthScheme] = []
    for name, spec in data["auth"].items():
        rate_limit = rate_limits.get(spec.get("rate_limit", ""))
        if spec["type"] == "http_basic":
            schemes.append(
                ir.HttpBasicAuth(
                    name=name,
                    description=spec["description"],
                    username=cast(ir.Credential, _credential(spec["username"])),
                    password=cast(ir.Credential, _credential(spec["password"])),
                    rate_limit=rate_limit,
                    username_template=spec.get("username_template"),
                )
            )
        elif spec["type"] == "api_key":
            schemes.append(
                ir.ApiKeyAuth(
                    name=name,
                    description=spec["description"],
                    location=spec["in"],
                    key_name=spec["name"],
                    prefix=spec.get("prefix", ""),
                    key=cast(ir.Credential, _credential(spec["key"])),
                    rate_limit=rate_limit,
                )
            )
        elif spec["type"] == "http_bearer":
            schemes.append(
                ir.HttpBearerAuth(
                    name=name,
                    description=spec["description"],
                    token=cast(ir.Credential, _credential(spec["token"])),
                    rate_limit=rate_limit,
                )
            )
        else:
            schemes.append(
                ir.OAuth2AuthorizationCode(
                    name=name,
                    description=spec["description"],
                    authorize_url=spec["authorize_url"],
                    token_url=spec["token_url"],
                    access_token=cast(ir.Credential, _credential(spec["access_token"])),
                    refresh_token=_credential(spec.get("refresh_token")),
                    client_id=_credential(spec.get("client_id")),
                    client_secret=_credential(spec.get("client_secret")),
                    offline_scope=spec.get("offline_scope"),
                    token_request_encoding=spec.get("token_request_encoding", "form"),
                    scopes=tuple(ir.OAuthScope(k, v) for k, v in spec["scopes"].items()),
                    rate_limit=rate_limit,
                )
            )
    return tuple(schemes)


def build_paginators(data: dict[str, Any]) -> dict[str, ir.CursorPaginator]:
    out = {}
    for name, spec in (data.get("paginators") or {}).items():
        limit = spec.get("limit") or {}
        kind = spec["type"]
        position = {"page_number": "page_param", "offset": "offset_param", "time_export": "start_param"}.get(kind)
        if kind == "cursor":
            cursor_param = spec["cursor_param"]
            cursor_description = spec.get("cursor_param_description", "Cursor of the page to fetch.")
        else:
            cursor_param = spec.get("cursor_argument", "cursor")
            cursor_description = spec.get(
                "cursor_argument_description",
                "Opaque cursor of the page to fetch, taken from `next_cursor` of a previous page. Omit for the first page.",
            )
        out[name] = ir.CursorPaginator(
            name=name,
            description=spec.get("description", ""),
            cursor_param=cursor_param,
            cursor_param_description=cursor_description,
            limit_param=spec.get("limit_param"),
            limit_param_description=spec.get("limit_param_description", "Maximum number of items per page."),
            limit_minimum=limit.get("minimum"),
            limit_maximum=limit.get("maximum"),
            limit_default=limit.get("default"),
            items_path=cast(tuple[str, ...], split_path(spec["items_path"])),
            next_cursor_path=split_path(spec.get("next_cursor_path")),
            prev_cursor_path=split_path(spec.get("prev_cursor_path")),
            next_url_path=split_path(spec.get("next_url_path")),
            prev_url_path=split_path(spec.get("prev_url_path")),
            type=kind,
            position_param=spec.get(position) if position else None,
            position_param_description=spec.get(f"{position}_description", "") if position else "",
            first_page=int(spec.get("first_page", 1)),
            total_path=split_path(spec.get("total_path")),
            has_more_path=split_path(spec.get("has_more_path")),
            end_of_stream_path=split_path(spec.get("end_of_stream_path")),
            next_start_path=split_path(spec.get("next_start_path")),
            follow_next_url=bool(spec.get("follow_next_url")),
            limit_send_default=bool(limit.get("send_default")),
        )
    return out


def build_envelopes(data: dict[str, Any], paginators: dict[str, ir.CursorPaginator]) -> dict[str, ir.Envelope]:
    out = {}
    for name, spec in data["envelopes"].items():
        paginator = paginators.get(spec.get("paginator", "")) if spec["type"] == "cursor_list" else None
        items_path = paginator.items_path if paginator else split_path(spec.get("items_path"))
        out[name] = ir.Envelope(
            name=name,
            type=spec["type"],
            description=spec["description"],
            items_path=items_path,
            paginator=paginator,
            media_type=spec.get("media_type"),
            page_schema=ir.ref_name(spec["page_schema"]) if isinstance(spec.get("page_schema"), dict) else None,
        )
    return out


def _retry_policy(data: dict[str, Any]) -> ir.RetryPolicy:
    policies = data.get("retry_policies") or {}
    chosen = (data.get("defaults") or {}).get("retry_policy")
    name, spec = (chosen, policies[chosen]) if chosen in policies else next(
        iter(policies.items()), ("default", {"max_retries": 2})
    )
    return ir.RetryPolicy(
        name=name,
        description=spec.get("description", ""),
        max_retries=int(spec["max_retries"]),
        initial_delay_seconds=float(spec.get("initial_delay_seconds", 0.5)),
        max_delay_seconds=float(spec.get("max_delay_seconds", 30)),
        jitter=spec.get("jitter", "full"),
        retry_after_header=spec.get("retry_after_header"),
        max_retry_after_seconds=float(spec.get("max_retry_after_seconds", 60)),
        retry_statuses=tuple(spec.get("retry_statuses", (429, 500, 502, 503, 504))),
        always_retry_statuses=tuple(spec.get("always_retry_statuses", (429,))),
        idempotent_methods=tuple(spec.get("idempotent_methods", ("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))),
    )


def _errors(data: dict[str, Any]) -> ir.ErrorShape:
    spec = data["errors"]
    schema_name = ir.ref_name(spec["schema"]) or "Error"
    shape = spec.get("field_errors")
    if shape is None and spec.get("field_errors_path"):
        shape = {"type": "string_lists", "path": spec["field_errors_path"]}
    field_errors = None if shape is None else ir.FieldErrors(
        type=shape["type"],
        path=cast(tuple[str, ...], split_path(shape["path"])),
        field_key=shape.get("field_key"),
        message_key=shape.get("message_key"),
        code_key=shape.get("code_key"),
    )
    return ir.ErrorShape(
        description=spec.get("description", ""),
        schema_name=schema_name,
        message_path=cast(tuple[str, ...], split_path(spec["message_path"])),
        field_errors_path=field_errors.path if field_errors else None,
        field_errors=field_errors,
        fallback_message_paths=tuple(
            cast(tuple[str, ...], split_path(p)) for p in spec.get("fallback_message_paths", [])
        ),
        request_id_headers=tuple(h.lower() for h in spec.get("request_id_headers", [])),
    )


def effective_parameters(op: dict[str, Any], envelope: ir.Envelope | None) -> list[ir.Parameter]:
    """Declared parameters plus the paginator's cursor/limit for cursor lists (declared wins)."""
    params = [
        ir.Parameter(
            name=p.get("wire_name") or p["name"],
            argument_name=p["name"] if p.get("wire_name") else None,
            location=p["in"],
            description=p.get("description", "").strip(),
            required=bool(p.get("required", p["in"] == "path")),
            deprecated=bool(p.get("deprecated")),
            style=p.get("style") or ("simple" if p["in"] in ("path", "header") else "form"),
            schema=ir.freeze(p.get("schema") or {}),
            example=ir.freeze(p.get("example")),
            from_paginator=False,
            how_to_find=" ".join(p.get("how_to_find", "").split()),
        )
        for p in op.get("parameters") or []
    ]
    paginator = envelope.paginator if envelope else None
    if paginator is not None:
        declared = {(p.location, p.name) for p in params}
        extra = []
        if ("query", paginator.cursor_param) not in declared:
            extra.append(
                ir.Parameter(
                    name=paginator.cursor_param, location="query",
                    description=paginator.cursor_param_description, required=False, deprecated=False,
                    style="form", schema=ir.freeze({"type": "string"}), example=None, from_paginator=True,
                    client_only=paginator.client_cursor,
                )
            )
        if paginator.position_param and ("query", paginator.position_param) not in declared:
            default_descriptions = {
                "page_number": "Number of the page to fetch.",
                "offset": "Number of items to skip.",
                "time_export": "Start time (Unix seconds): items changed since then.",
            }
            position_schema: dict[str, Any] = {"type": "integer", "minimum": 0}
            if paginator.type == "page_number":
                position_schema["minimum"] = paginator.first_page
            extra.append(
                ir.Parameter(
                    name=paginator.position_param, location="query",
                    description=paginator.position_param_description or default_descriptions[paginator.type],
                    required=paginator.type == "time_export", deprecated=False,
                    style="form", schema=ir.freeze(position_schema), example=None, from_paginator=True,
                )
            )
        if paginator.limit_param and ("query", paginator.limit_param) not in declared:
            schema: dict[str, Any] = {"type": "integer"}
            for key, value in (
                ("minimum", paginator.limit_minimum), ("maximum", paginator.limit_maximum),
                ("default", paginator.limit_default),
            ):
                if value is not None:
                    schema[key] = value
            extra.append(
                ir.Parameter(
                    name=paginator.limit_param, location="query",
                    description=paginator.limit_param_description, required=False, deprecated=False,
                    style="form", schema=ir.freeze(schema), example=None, from_paginator=True,
                )
            )
        params.extend(extra)
    return params


def flat_arguments(
    params: list[ir.Parameter], body: ir.Body | None
) -> tuple[ir.Argument, ...]:
    """Merge path, query, header and body inputs into one flat, collision-free argument list."""
    taken: set[str] = set()
    arguments: list[ir.Argument] = []

    def claim(wire: str, location: str) -> str:
        name = wire if wire not in taken else f"{wire}_{'body' if location in ('body', 'body_whole') else location}"
        counter = 2
        base = name
        while name in taken:
            name = f"{base}{counter}"
            counter += 1
        taken.add(name)
        return name

    order = {"path": 0, "query": 1, "header": 2}
    for p in sorted(params, key=lambda p: order[p.location]):
        name = claim(p.argument_name or p.name, p.location)
        arguments.append(
            ir.Argument(
                name=name, python_name=python_identifier(name), location=p.location, wire_name=p.name,
                required=p.required, description=p.description, schema=p.schema, style=p.style,
            )
        )
    if body is not None:
        resolved = body.resolved_schema
        properties = resolved.get("properties") if body.argument is None else None
        if isinstance(properties, ir.FrozenDict):
            required = set(resolved.get("required", ()))
            for prop, schema in properties.items():
                name = claim(prop, "body")
                description = schema.get("description", "") if isinstance(schema, ir.FrozenDict) else ""
                arguments.append(
                    ir.Argument(
                        name=name, python_name=python_identifier(name), location="body", wire_name=prop,
                        required=body.required and prop in required, description=description,
                        schema=schema, style="simple",
                    )
                )
        else:
            name = claim(body.argument or DEFAULT_BODY_ARGUMENT, "body_whole")
            arguments.append(
                ir.Argument(
                    name=name, python_name=python_identifier(name), location="body_whole", wire_name="",
                    required=body.required, description=body.description or "The whole request body.",
                    schema=body.schema, style="simple",
                )
            )
        if body.raw and body.content_type_argument:  # the media type of the raw bytes
            name = claim(body.content_type_argument, "header")
            arguments.append(
                ir.Argument(
                    name=name, python_name=python_identifier(name), location="header", wire_name="Content-Type",
                    required=False, description=RAW_MEDIA_TYPE_DESCRIPTION, schema=ir.freeze(RAW_MEDIA_TYPE_SCHEMA),
                    style="simple",
                )
            )
    return tuple(arguments)


RAW_MEDIA_TYPE_DESCRIPTION = (
    "Media type of the file, sent as Content-Type (e.g. image/png). Default: the file's own type "
    "when known (a (name, content, type) tuple, or the file name's extension), else application/octet-stream."
)
RAW_MEDIA_TYPE_SCHEMA = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$"}


def input_schema(arguments: tuple[ir.Argument, ...]) -> dict[str, Any]:
    """Flat JSON Schema of an operation's arguments (refs stay `#/$defs/<Name>`)."""
    properties: dict[str, Any] = {}
    for arg in arguments:
        schema = ir.thaw(arg.schema)
        if arg.description and "description" not in schema:
            schema = {**schema, "description": arg.description} if "$ref" not in schema or len(schema) > 1 else {
                "allOf": [schema], "description": arg.description
            }
        properties[arg.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [a.name for a in arguments if a.required]
    if required:
        out["required"] = required
    return out


def build_body(op: dict[str, Any], registry: dict[str, Any]) -> ir.Body | None:
    spec = op.get("body")
    if not spec:
        return None
    schema = spec["schema"]
    resolved = resolve_schema(registry, schema)
    argument = spec.get("argument")
    if argument is None and not (isinstance(resolved, dict) and isinstance(resolved.get("properties"), dict)):
        argument = DEFAULT_BODY_ARGUMENT
    return ir.Body(
        content_type=spec["content_type"],
        required=bool(spec.get("required", True)),
        description=spec.get("description", "").strip(),
        schema=ir.freeze(schema),
        resolved_schema=ir.freeze(resolved),
        argument=argument,
        wrap_key=spec.get("wrap_key"),
        content_type_argument=spec.get("content_type_argument"),
        filename_param=spec.get("filename_param"),
    )


def _annotations(op: dict[str, Any], read_only: bool) -> ir.McpAnnotations:
    method = op["method"]
    overrides = op.get("mcp") or {}
    return ir.McpAnnotations(
        title=overrides.get("title", op["summary"]),
        read_only=overrides.get("read_only", read_only),
        destructive=overrides.get("destructive", (not read_only) and method in ("DELETE", "PUT", "PATCH")),
        idempotent=overrides.get("idempotent", read_only or method in ("PUT", "DELETE")),
        open_world=overrides.get("open_world", True),
    )


def _location(source: SourceFile, path: tuple[Any, ...]) -> ir.SourceLocation:
    line, column = source.locate(path)
    return ir.SourceLocation(source.display, line, column)


def compile_operation(
    source: SourceFile,
    index: int,
    op: dict[str, Any],
    resource: dict[str, Any],
    envelopes: dict[str, ir.Envelope],
    registry: dict[str, Any],
) -> ir.Operation:
    envelope = envelopes[op["response"]["envelope"]]
    params = effective_parameters(op, envelope)
    body = build_body(op, registry)
    read_only = op["method"] in READ_METHODS or bool(op.get("read_only"))
    default_scopes = (resource.get("scopes") or {}).get("read" if read_only else "write", [])
    response_schema = op["response"].get("schema")
    return ir.Operation(
        tool=op["tool"],
        resource=resource["resource"],
        kind=op["kind"],
        method_name=op.get("name") or op["kind"],
        http_method=op["method"],
        path=op["path"],
        summary=op["summary"].strip(),
        description=" ".join(op["description"].split()),
        read_only=read_only,
        deprecated=bool(op.get("deprecated")),
        same_endpoint_as=op.get("same_endpoint_as"),
        tags=tuple(op.get("tags") or resource.get("tags") or [resource["resource"]]),
        scopes=tuple(op.get("scopes") or default_scopes),
        parameters=tuple(params),
        body=body,
        response=ir.Response(
            status=op["response"]["status"],
            envelope=envelope,
            schema=ir.freeze(response_schema) if response_schema is not None else None,
            schema_name=ir.ref_name(response_schema) if response_schema else None,
            description=op["response"].get("description", envelope.description).strip(),
            alternatives=tuple(envelopes[name] for name in op["response"].get("alternative_envelopes", [])),
            key=op["response"].get("key"),
            sideloads=tuple(
                ir.Sideload(name=name, schema=ir.freeze(schema), schema_name=ir.ref_name(schema))
                for name, schema in (op["response"].get("sideloads") or {}).items()
            ),
        ),
        arguments=flat_arguments(params, body),
        annotations=_annotations(op, read_only),
        quirks=tuple(" ".join(q.split()) for q in op.get("quirks") or []),
        examples=tuple(
            ir.Example(
                name=e["name"], summary=e.get("summary", ""),
                arguments=ir.freeze(e["arguments"]) if "arguments" in e else None,
                response=ir.freeze(e.get("response")),
            )
            for e in op.get("examples") or []
        ),
        location=_location(source, ("operations", index)),
        download_locations=_download_locations(op, envelope),
        defaults=tuple(
            ir.ArgumentDefault(
                argument=d["argument"],
                description=" ".join(str(d.get("description", "")).split()),
                value=ir.freeze(d.get("value")),
                from_operation=d.get("from_operation"),
                arguments=ir.freeze(d.get("arguments") or {}),
                pick=ir.freeze(d.get("pick")),
                when=ir.freeze(d.get("when") or {}),
            )
            for d in op.get("defaults") or []
        ),
    )


def _download_locations(op: dict[str, Any], envelope: ir.Envelope) -> tuple[ir.DownloadLocation, ...]:
    """Declared download locations; a file download without a declaration may fetch its own path
    only (which bounds where its redirects may take credentials)."""
    declared = (op.get("download") or {}).get("locations")
    if declared:
        return tuple(ir.DownloadLocation(host=loc.get("host"), path=loc.get("path")) for loc in declared)
    if envelope.type == "binary":
        return (ir.DownloadLocation(host=None, path=op["path"]),)
    return ()


def compile_definition(raw: RawDefinition) -> ir.Connector:
    data: dict[str, Any] = raw.connector.data
    registry = {name: entry.schema for name, entry in raw.registry.items()}
    rate_limits = _rate_limits(data)
    paginators = build_paginators(data)
    envelopes = build_envelopes(data, paginators)
    package = data.get("package") or {}
    resources = []
    for source in sorted(raw.resources, key=lambda s: s.data["resource"]):
        spec = source.data
        resources.append(
            ir.Resource(
                name=spec["resource"],
                title=spec["title"],
                description=" ".join(spec["description"].split()),
                client_attribute=spec.get("client_attribute", spec["resource"]),
                tags=tuple(spec.get("tags") or [spec["resource"]]),
                operations=tuple(
                    compile_operation(source, i, op, spec, envelopes, registry)
                    for i, op in enumerate(spec["operations"])
                ),
                location=_location(source, ()),
            )
        )
    server = data["server"]
    return ir.Connector(
        name=data["connector"],
        title=data["title"],
        description=" ".join(data["description"].split()),
        version=str(data.get("version", "0")),
        docs_url=data.get("docs_url"),
        package=ir.PackageNames(
            distribution=package.get("distribution", f"{data['connector']}-client"),
            import_name=package.get("import_name", data["connector"]),
            client_class=package.get("client_class", data["connector"].title().replace("_", "")),
            env_prefix=package.get("env_prefix", f"{data['connector'].upper()}_"),
        ),
        server=ir.Server(
            base_url=server["base_url"],
            base_url_env=server.get("base_url_env"),
            variables=tuple(
                ir.ServerVariable(
                    name=name, description=v["description"], pattern=v.get("pattern"), env=v.get("env"),
                    example=v.get("example"), default=v.get("default"),
                )
                for name, v in (server.get("variables") or {}).items()
            ),
            download_domains=tuple(server.get("download_domains") or ()),
        ),
        auth=_auth(data, rate_limits),
        paginators=tuple(paginators.values()),
        envelopes=tuple(envelopes.values()),
        retry_policy=_retry_policy(data),
        rate_limits=tuple(rate_limits.values()),
        errors=_errors(data),
        timeout_seconds=float((data.get("defaults") or {}).get("timeout_seconds", 30)),
        resources=tuple(resources),
        schemas=ir.freeze(dict(sorted(registry.items()))),
        source_hash=source_hash(raw),
        source_files=tuple(sorted(s.path.relative_to(raw.root).as_posix() for s in raw.files)),
        datetime_offset_optional=data.get("datetime_offset", "required") == "optional",
        sandbox=_sandbox(raw),
        mcp_default_toolsets=tuple((data.get("mcp") or {}).get("default_toolsets") or ()),
    )


def sandbox_references(recipe: Any) -> set[str]:
    """Collections whose existing objects a seed recipe's generators read (`ref`, `sample`)."""
    found: set[str] = set()
    if isinstance(recipe, dict):
        for key in ("ref", "sample"):
            if isinstance(recipe.get(key), str):
                found.add(recipe[key])
        for value in recipe.values():
            found |= sandbox_references(value)
    elif isinstance(recipe, list):
        for value in recipe:
            found |= sandbox_references(value)
    return found


def sandbox_order(collections: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    """Seed collections ordered so each follows the ones it refers to; and a cycle when there is one.

    A collection made as `children` of another is ready once its parent is; declaration order
    breaks ties. Literal records refer to nothing.
    """
    owner: dict[str, str] = {}

    def walk_children(root: str, recipe: Any) -> None:
        for child, specs in ((recipe or {}).get("children") or {}).items():
            owner.setdefault(child, root)
            for spec in specs if isinstance(specs, list) else [specs]:
                walk_children(root, spec)

    for name, spec in collections.items():
        walk_children(name, (spec or {}).get("generate"))
    needs = {
        name: {owner.get(r, r) for r in sandbox_references((spec or {}).get("generate"))} - {name}
        for name, spec in collections.items()
    }
    order: list[str] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        if state.get(name) == 2:
            return None
        if state.get(name) == 1:
            return [*stack[stack.index(name):], name]
        state[name] = 1
        stack.append(name)
        for dep in sorted(needs.get(name, ()), key=lambda n: list(collections).index(n) if n in collections else -1):
            if dep in collections:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[name] = 2
        order.append(name)
        return None

    for name in collections:
        cycle = visit(name)
        if cycle:
            return list(collections), cycle
    return order, None


def _sandbox(raw: RawDefinition) -> ir.Sandbox | None:
    if raw.sandbox is None or not isinstance(raw.sandbox.data, dict):
        return None
    data = raw.sandbox.data
    seed = dict(data.get("seed") or {})
    collections = dict(seed.get("collections") or {})
    order, _ = sandbox_order(collections)
    seed["collections"] = {name: collections[name] for name in order}
    return ir.Sandbox(
        timestamps=ir.freeze(data.get("timestamps") or {}),
        behaviours=ir.freeze(data.get("behaviours") or {}),
        seed=ir.freeze(seed),
    )
