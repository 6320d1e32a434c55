"""The unified operations as MCP tool entries, in the shape of `mcp/<connector>.tools.json`."""

from __future__ import annotations

import json
from typing import Any

from ... import ir
from ... import unified_ir as u

TOOLS_FILE_FORMAT = 1


def defs_note(package: str) -> str:
    return (
        "Tool schemas reference the shared top-level `$defs` (the unified models) as `#/$defs/<Name>`. "
        f"Run a tool with `{package}.unified.invoke_unified(client, name, arguments)` (async: `ainvoke_unified`)."
    )

VERBS = {"list": "List", "get": "Get", "create": "Create", "update": "Update", "delete": "Delete"}


def _order_text(q: u.SortedScan) -> str:
    return ", ".join(f"{k}={v}" for k, v in q.args)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if not text or text.endswith((".", "!", "?", ")")) else f"{text}."


def _title(resource: u.UnifiedResource, method: u.UnifiedMethod) -> str:
    noun = resource.name if method.kind == "list" else resource.model.singular
    noun = noun.replace("_", " ")
    area = "directory " if resource.category == "user_directory" else ""
    article = "" if method.kind == "list" else "a "
    return f"{VERBS[method.kind]} {article}unified {area}{noun}".replace(" a unified", " a unified")


def _input_properties(method: u.UnifiedMethod) -> tuple[dict[str, Any], list[str]]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for field in method.inputs:
        schema = ir.thaw(field.schema)
        if field.name == "id":
            schema = {"type": "string", "description": schema.get("description", "Id of the record.")}
        elif "description" not in schema and field.description:
            schema["description"] = field.description
        props[field.name] = schema
        if field.required:
            required.append(field.name)
    return props, required


def _list_input(connector: ir.Connector, resource: u.UnifiedResource, method: u.UnifiedMethod) -> dict[str, Any]:
    op = connector.operation(method.operation)
    filters = ir.thaw(resource.model.filters)
    props: dict[str, Any] = {}
    required: list[str] = []
    main = {q.filter for q in method.query}
    extra = [q for c in method.cases for q in c.method.query if q.filter not in main]
    for q in [*method.query, *extra]:
        if q.filter in props:
            continue
        schema = dict(filters[q.filter])
        if isinstance(q, u.QueryParam):
            if q.allowed is not None:
                mapped = dict(q.table)
                accepted = [k for k, v in q.table if v in q.allowed]
                accepted += [a for a in q.allowed if a not in mapped.values() and a not in accepted]
                schema.pop("x-known-values", None)
                schema["enum"] = accepted
            if q.required and q.filter in main:
                required.append(q.filter)
        else:
            schema["description"] = (
                schema.get("description", "") + f" Read in the order {_order_text(q)} and stopped at the first record "
                "that no longer matches.").strip()
        props[q.filter] = schema
    if method.sort is not None and method.sort.fields:
        props["sort_by"] = {"type": "string", "enum": [f for f, _, _ in method.sort.fields],
                            "description": "Field to sort by."}
        props["sort_order"] = {"type": "string", "enum": ["asc", "desc"], "default": "asc",
                               "description": "Sort direction (with sort_by)."}
    for arg in op.arguments:
        if method.limit_arg is not None and arg.name == method.limit_arg:
            limit = ir.thaw(arg.schema)
            limit.setdefault("description", "Maximum number of source records read for one page.")
            props["limit"] = limit
        if method.cursor_arg is not None and arg.name == method.cursor_arg:
            props["cursor"] = {"type": "string", "description": "`next_cursor` of a previous page; omit for the first page."}
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def tool_entry(connector: ir.Connector, resource: u.UnifiedResource, method: u.UnifiedMethod) -> dict[str, Any]:
    op = connector.operation(method.operation)
    model = resource.model
    parts = []
    if method.kind == "list":
        parts.append(f"Lists unified {resource.name} ({model.title}) of {connector.title}, one page at a time.")
    elif method.kind == "get":
        parts.append(f"Reads one unified {model.singular} ({model.title}) from {connector.title}.")
    elif method.kind == "create":
        parts.append(f"Creates a {model.singular} in {connector.title} from unified fields and returns the unified record.")
    elif method.kind == "update":
        parts.append(f"Changes a {connector.title} {model.singular} from unified fields (left-out fields keep their value) "
                     "and returns the unified record.")
    else:
        parts.append(f"Deletes a {model.singular} in {connector.title}.")
    if resource.description:
        parts.append(_sentence(resource.description))
    if method.description:
        parts.append(_sentence(method.description))
    if method.kind == "list" and method.unsupported_filters:
        parts.append(f"Not available from {connector.title}: filters {', '.join(method.unsupported_filters)}.")
    parts.append(f"Backed by {method.operation}"
                 + "".join(f"; by {c.method.operation} when `{c.text}`" for c in method.cases) + ".")
    if method.kind == "list":
        input_schema = _list_input(connector, resource, method)
        output: dict[str, Any] = {
            "type": "object",
            "properties": {
                "result": {"type": "array", "items": {"$ref": f"{ir.SCHEMA_REF_PREFIX}{model.title}"}},
                "next_cursor": {"type": ["string", "null"],
                                "description": "Pass as `cursor` to get the next page; null on the last page."},
                "prev_cursor": {"type": ["string", "null"],
                                "description": "Pass as `cursor` to get the previous page; null on the first page."},
            },
            "required": ["result"],
        }
    else:
        props, required = _input_properties(method)
        input_schema = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            input_schema["required"] = required
        if method.kind == "delete":
            output = {"type": "object", "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}},
                      "required": ["id", "deleted"]}
        else:
            output = {"type": "object", "$ref": f"{ir.SCHEMA_REF_PREFIX}{model.title}"}
    title = _title(resource, method)
    ann = op.annotations
    return {
        "name": method.tool,
        "title": title,
        "description": " ".join(parts),
        "inputSchema": input_schema,
        "outputSchema": output,
        "annotations": {
            "readOnlyHint": ann.read_only,
            "destructiveHint": ann.destructive,
            "idempotentHint": ann.idempotent,
            "openWorldHint": ann.open_world,
        },
        "_meta": {
            "resource": f"unified.{resource.category}.{resource.name}",
            "tags": ["unified", resource.category, *op.tags],
            "kind": method.kind,
            "method": op.http_method,
            "path": op.path,
            "scopes": list(op.scopes),
            "deprecated": False,
            "unified": {"category": resource.category, "resource": resource.name, "model": model.title,
                        "operation": method.operation},
        },
    }


def tools_document(connector: ir.Connector, api: u.UnifiedApi, generator: str = "") -> dict[str, Any]:
    tools = [tool_entry(connector, r, m) for r in api.resources for m in r.methods]
    defs: dict[str, Any] = dict(ir.thaw(api.defs))
    for model in api.models:
        defs[model.title] = ir.thaw(model.schema)
    meta: dict[str, Any] = {
        "format": TOOLS_FILE_FORMAT,
        "connector": connector.name,
        "title": f"{connector.title} unified APIs",
        "version": connector.version,
        "source_sha256": connector.source_hash,
        "tool_count": len(tools),
        "unified": True,
        "schemas": defs_note(connector.package.import_name),
    }
    if generator:
        meta["generated_by"] = generator
    return {"_meta": meta, "tools": tools, "routing": {}, "$defs": dict(sorted(defs.items()))}


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
