"""docs emitter: the Markdown reference and its self-contained HTML rendering.

Writes, under `docs/`:

- `index.md`: what is covered, authentication, pagination, rate limits, errors and retries, and
  how the generated client and MCP tools handle each;
- `resources/<resource>.md`: every operation of a resource (tool name, method and path,
  parameters, body fields, response shape, Python and MCP examples, quirks, deprecation);
- `tools.md`: every MCP tool with its annotations;
- `models.md`: every object schema of the connector, field by field;
- `unified.md`: the unified models, once the IR carries them (`Connector.unified_models`);
- `html/index.html`: all of the above in one offline page with a search box.

Reads only the IR; the page models built here feed both the Markdown and the HTML templates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ... import ir
from ...escaping import register
from ..openapi import ERROR_RESPONSES, lint_expectations
from ..openapi.jinja_cache import TemplateCache
from . import render

TEMPLATES = Path(__file__).parent / "templates"
CLIENT_VAR = "client"

Link = Callable[[str], str]


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        bytecode_cache=TemplateCache(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    register(env)
    env.filters["cell"] = render.cell
    env.filters["inline"] = lambda text: jinja2.utils.markupsafe.Markup(render.inline_html(text))
    env.filters["slug"] = render.slug
    env.filters["dotted"] = lambda path: ".".join(path or ())
    env.filters["yesno"] = lambda value: "yes" if value else "no"
    env.filters["plural"] = lambda count, word: f"{count} {word}{'' if count == 1 else 's'}"
    return env


def _render(template: str, **context: Any) -> str:
    text = _env().get_template(template).render(**context)
    # Markdown: no trailing spaces, at most one blank line in a row, one final newline.
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


# --- page models ---------------------------------------------------------------------------


@dataclass(slots=True)
class Field:
    name: str
    wire: str
    location: str
    type_md: str
    type_html: str
    required: bool
    description: str
    serialization: str = ""


@dataclass(slots=True)
class OperationPage:
    op: ir.Operation
    resource: ir.Resource
    primary: str | None
    """Tool this one aliases (same method and path), if any."""
    primary_link: str
    aliases: list[str]
    params: list[Field]
    body_fields: list[Field]
    body_whole: Field | None
    body_type_md: str
    body_type_html: str
    response_md: str
    response_html: str
    retried: str
    example_name: str
    example_summary: str
    example_declared: bool
    python_call: str
    python_invoke: str
    mcp_call: str
    response_examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def hints(self) -> list[str]:
        a = self.op.annotations
        words = ["read-only" if a.read_only else "writes"]
        if a.destructive:
            words.append("destructive")
        if a.idempotent:
            words.append("idempotent")
        if a.open_world:
            words.append("open-world")
        return words

    @property
    def search_text(self) -> str:
        parts = [
            self.op.tool,
            self.resource.name,
            self.resource.title,
            self.op.http_method,
            self.op.path,
            self.op.summary,
            f"{self.resource.client_attribute}.{self.op.method_name}",
        ]
        return " ".join(parts).lower()


SERIALIZATION = {
    "repeated": "repeated key (`{name}=1&{name}=2`)",
    "comma": "comma-separated (`{name}=1,2`)",
    "deep_object": "deep object (`{name}[key]=value`)",
}


def _links(prefix: str) -> tuple[Link, Link]:
    """Schema-name links for Markdown (relative to a page) and for the HTML page (as markers)."""

    def md(name: str) -> str:
        return f"[{name}]({prefix}models.md#{render.slug(name)})"

    return md, render.html_link_marker


def _response_text(op: ir.Operation, link: Link, code: Callable[[str], str]) -> str:
    response = op.response
    envelope = response.envelope
    item = response.schema
    item_text = render.type_text(item, link) if item is not None else "any"
    status = code(str(response.status))
    if envelope.type == "object":
        shape = f"{item_text} object"
        if response.wrapped and response.key:
            shape += f", wrapped under {code(response.key)} (clients return the inner object)"
    elif envelope.type == "cursor_list":
        paginator = envelope.paginator
        items = ".".join(response.items_path or ("data",))
        if paginator is None or paginator.next_cursor_path:
            next_path = ".".join(paginator.next_cursor_path) if paginator and paginator.next_cursor_path else "next cursor"
            shape = f"a page of {item_text}: items under {code(items)}, next page cursor at {code(next_path)}"
        else:
            how = {
                "page_number": f"pages numbered by {code(paginator.position_param or '')}",
                "offset": f"pages chosen by the offset {code(paginator.position_param or '')}",
                "next_url": f"next page URL at {code('.'.join(paginator.next_url_path or ()))}",
                "link_header": f"next page URL in the {code('Link')} header",
                "time_export": f"an incremental export from {code(paginator.position_param or '')}",
            }[paginator.type]
            shape = f"a page of {item_text}: items under {code(items)}, {how}"
        if envelope.page_schema:
            shape += f" (page: {link(envelope.page_schema)})"
    elif envelope.type == "data_list":
        items = ".".join(response.items_path or ("data",))
        shape = f"the whole list of {item_text} under {code(items)}, no cursors"
    elif envelope.type == "bare_array":
        shape = f"a JSON array of {item_text}"
    elif envelope.type == "empty":
        shape = "no body"
    elif envelope.type == "binary":
        shape = f"file content ({code(envelope.media_type or 'application/octet-stream')})"
    else:
        shape = f"a CSV document ({code(envelope.media_type or 'text/csv')})"
    if response.status in (301, 302, 303, 307, 308):
        shape += f", reached through a {response.status} redirect (the {code('Location')} header)"
    if response.sideloads:
        loads = ", ".join(
            f"{code(s.name)} ({render.type_text(s.schema, link)})" for s in response.sideloads
        )
        shape += (f"; side-loads on request (include=): {loads}, as top-level arrays "
                  f"(`page.included[...]` in the client, `included` in MCP results)")
    return f"{status}: {shape}."


def _field(arg: ir.Argument, md: Link, html: Link) -> Field:
    return Field(
        name=arg.name,
        wire=arg.wire_name,
        location=arg.location,
        type_md=render.type_text(arg.schema, md),
        type_html=render.to_html(render.type_text(arg.schema, html)),
        required=arg.required,
        description=render.describe(arg.schema, arg.description),
        serialization=SERIALIZATION.get(arg.style, "").format(name=arg.wire_name)
        if arg.location == "query"
        else "",
    )


def _tool_link(connector: ir.Connector, here: ir.Resource, tool: str | None) -> str:
    """Link from a resource page to a tool's section."""
    if tool is None:
        return ""
    target = connector.operation(tool).resource
    return f"#{tool}" if target == here.name else f"{target}.md#{tool}"


def _operation_page(
    connector: ir.Connector, resource: ir.Resource, op: ir.Operation, aliases: dict[str, list[str]]
) -> OperationPage:
    md, html = _links("../")
    registry = connector.schemas
    params = [
        _field(a, md, html) for a in op.arguments if a.location in ("path", "query", "header")
    ]
    body_fields = [_field(a, md, html) for a in op.arguments if a.location == "body"]
    whole = next((_field(a, md, html) for a in op.arguments if a.location == "body_whole"), None)
    body_schema = op.body.schema if op.body else None
    arguments, name, summary = render.example_arguments(op, registry)
    kwargs = {}
    by_name = {a.name: a for a in op.arguments}
    for key, value in arguments.items():
        arg = by_name.get(key)
        kwargs[arg.python_name if arg else key] = value
    target = f"{CLIENT_VAR}.{resource.client_attribute}.{op.method_name}"
    mcp = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": op.tool, "arguments": arguments},
    }
    policy = connector.retry_policy
    always = ", ".join(str(s) for s in policy.always_retry_statuses)
    if op.idempotent:
        retried = (
            f"Retried up to {policy.max_retries} times on "
            f"{', '.join(str(s) for s in policy.retry_statuses)}, timeouts and connection errors (idempotent)."
        )
    else:
        retried = (
            f"Retried only on {always} (not idempotent: never sent twice after a timeout or a 5xx)."
        )
    response_examples = []
    for example in op.examples:
        if example.response is not None:
            response_examples.append((example.name, render.json_text(ir.thaw(example.response))))
    return OperationPage(
        op=op,
        resource=resource,
        primary=op.same_endpoint_as,
        primary_link=_tool_link(connector, resource, op.same_endpoint_as),
        aliases=aliases.get(op.tool, []),
        params=params,
        body_fields=body_fields,
        body_whole=whole,
        body_type_md=render.type_text(body_schema, md) if body_schema is not None else "",
        body_type_html=render.to_html(render.type_text(body_schema, html))
        if body_schema is not None
        else "",
        response_md=_response_text(op, md, lambda s: f"`{s}`"),
        response_html=render.to_html(_response_text(op, html, render.html_code_marker)),
        retried=retried,
        example_name=name,
        example_summary=summary,
        example_declared=bool(name),
        python_call=render.py_call(target, kwargs),
        python_invoke=render.py_invoke(f"{CLIENT_VAR}.invoke", op.tool, arguments),
        mcp_call=render.json_text(mcp),
        response_examples=response_examples,
    )


@dataclass(slots=True)
class ModelPage:
    name: str
    description: str
    type_md: str
    type_html: str
    constraints: str
    fields: list[Field]


def _model_pages(connector: ir.Connector) -> list[ModelPage]:
    md, html = _links("")
    pages = []
    for name, schema in connector.schemas.items():
        required = set(schema.get("required") or ())
        properties = schema.get("properties") or {}
        fields = [
            Field(
                name=prop,
                wire=prop,
                location="property",
                type_md=render.type_text(sub, md),
                type_html=render.to_html(render.type_text(sub, html)),
                required=prop in required,
                description=render.describe(sub),
            )
            for prop, sub in properties.items()
        ]
        pages.append(
            ModelPage(
                name=name,
                description=" ".join(str(schema.get("description", "")).split()),
                type_md=render.type_text({k: v for k, v in schema.items() if k != "properties"}, md)
                if not properties
                else "object",
                type_html=render.to_html(
                    render.type_text({k: v for k, v in schema.items() if k != "properties"}, html)
                )
                if not properties
                else "object",
                constraints=render.constraints_text(schema),
                fields=fields,
            )
        )
    return pages


def _scope_usage(connector: ir.Connector) -> dict[str, int]:
    usage: dict[str, int] = {}
    for op in connector.operations:
        for scope in op.scopes:
            usage[scope] = usage.get(scope, 0) + 1
    return usage


def _unified_models(connector: ir.Connector) -> list[dict[str, Any]]:
    """The unified models (`Connector.unified`, compiled from unified_mappings/), or [] without them.

    Read defensively (getattr) so the docs keep building while the unified IR evolves; the
    unified emitter owns the detailed reference.
    """
    unified = getattr(connector, "unified", None)
    if unified is None:
        return []
    methods: dict[str, list[dict[str, str]]] = {}
    for resource in getattr(unified, "resources", ()) or ():
        model = getattr(resource, "model", None)
        key = f"{getattr(model, 'category', '')}/{getattr(model, 'resource', '')}"
        methods.setdefault(key, []).extend(
            {"kind": str(getattr(m, "kind", "")), "tool": str(getattr(m, "tool", ""))}
            for m in getattr(resource, "methods", ()) or ()
        )
    out = []
    for model in getattr(unified, "models", ()) or ():
        category = str(getattr(model, "category", ""))
        resource = str(getattr(model, "resource", ""))
        out.append(
            {
                "name": str(getattr(model, "title", "") or getattr(model, "name", "") or resource),
                "category": category,
                "resource": resource,
                "description": " ".join(str(getattr(model, "description", "")).split()),
                "methods": methods.get(f"{category}/{resource}", []),
            }
        )
    return out


def build_context(connector: ir.Connector) -> dict[str, Any]:
    aliases: dict[str, list[str]] = {}
    for op in connector.operations:
        if op.same_endpoint_as:
            aliases.setdefault(op.same_endpoint_as, []).append(op.tool)
    resources = [
        (
            resource,
            [_operation_page(connector, resource, op, aliases) for op in resource.operations],
        )
        for resource in connector.resources
    ]
    operations = [page for _, pages in resources for page in pages]
    oauth = connector.auth_scheme("oauth2_authorization_code")
    basic = next((a for a in connector.auth if isinstance(a, ir.HttpBasicAuth)), None)
    credentials = []
    for scheme in connector.auth:
        creds = list(scheme.credentials)
        credentials.append((scheme, creds))
    setup_kwargs: dict[str, str] = {}
    for var in connector.server.variables:
        setup_kwargs[var.name] = var.example or var.default or var.name
    if basic is not None:
        setup_kwargs[basic.username.param] = "..."
        if not basic.password.fixed:
            setup_kwargs[basic.password.param] = "..."
    bearer = next((a for a in connector.auth if isinstance(a, ir.HttpBearerAuth | ir.ApiKeyAuth)), None)
    if bearer is not None and basic is None:
        setup_kwargs[bearer.credentials[0].param] = "..."
    env_vars = [v.env for v in connector.server.variables if v.env]
    if bearer is not None and bearer.credentials[0].env:
        env_vars.append(str(bearer.credentials[0].env))
    if basic is not None:
        env_vars += [c.env for c in (basic.username, basic.password) if c.env and not c.fixed]
    return {
        "connector": connector,
        "resources": resources,
        "operations": operations,
        "aliases": aliases,
        "models": _model_pages(connector),
        "unified_models": _unified_models(connector),
        "credentials": credentials,
        "oauth": oauth,
        "basic": basic,
        "scope_usage": _scope_usage(connector),
        "error_responses": ERROR_RESPONSES,
        "client_setup": render.py_call(connector.package.client_class, setup_kwargs),
        "client_env": env_vars,
        "lint_warnings": lint_expectations(connector),
        "openapi_file": f"{connector.name}.openapi.yaml",
        "paginated": [p for p in operations if p.op.paginated],
        "deprecated": [p for p in operations if p.op.deprecated],
        "alias_count": sum(1 for p in operations if p.primary),
    }


def emit(connector: ir.Connector) -> dict[str, str | bytes]:
    context = build_context(connector)
    files: dict[str, str | bytes] = {
        "docs/index.md": _render("index.md.j2", **context),
        "docs/tools.md": _render("tools.md.j2", **context),
        "docs/models.md": _render("models.md.j2", **context),
    }
    for resource, pages in context["resources"]:
        files[f"docs/resources/{resource.name}.md"] = _render(
            "resource.md.j2", **context, resource=resource, pages=pages
        )
    if context["unified_models"]:
        files["docs/unified.md"] = _render("unified.md.j2", **context)
    files["docs/html/index.html"] = _env().get_template("html/page.html.j2").render(**context)
    return files
