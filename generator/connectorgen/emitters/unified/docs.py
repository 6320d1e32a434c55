"""`docs/unified.md`: the unified models, field-by-field mapping tables and supported filters."""

from __future__ import annotations

from typing import Any

from ... import ir
from ... import unified_ir as u
from ...escaping import markdown_inline, markdown_table_cell, markdown_text
from .pyapi import pascal


def _type(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    if "anyOf" in schema:
        parts = [_type(b) for b in schema["anyOf"]]
        return " or ".join(p for p in parts if p != "null") + (" or null" if "null" in parts else "")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else ["any"]
    out = []
    for k in kinds:
        if k == "array":
            out.append(f"list of {_type(schema.get('items') or {})}")
        elif k == "string" and schema.get("format") == "date-time":
            out.append("date-time")
        else:
            out.append(str(k))
    return " or ".join(out)


def _known(schema: dict[str, Any]) -> str:
    known = schema.get("x-known-values")
    return (" Known values: " + ", ".join(f"`{v}`" for v in known) + " (others returned unchanged).") if known else ""


def render(connector: ir.Connector, api: u.UnifiedApi) -> str:
    title = markdown_inline(connector.title)
    pkg = connector.package.import_name
    client = connector.package.client_class
    lines = [
        f"# {title} unified APIs",
        "",
        f"Write helpdesk code once: the unified ticketing and user-directory APIs present {title} objects in",
        "this project's own models (ids are strings, references are `{id, name}` objects, timestamps end in",
        "`_at` and carry an offset, every record keeps the untouched source object in `remote_data`).",
        "The models and the mappings are data in `unified_mappings/`, validated by `connectorgen validate` and",
        "compiled into plain Python at generate time; nothing is interpreted at run time.",
        "",
        "```python",
        f"from {pkg} import {client}",
        f"from {pkg}.unified import Unified",
        "",
        f"client = {client}()               # credentials and server variables from the environment",
        "unified = Unified(client)          # or client.unified",
        "for t in unified.ticketing.tickets.list(updated_after=\"2026-01-01T00:00:00Z\"):",
        "    print(t.id, t.status, t.contact, t.remote_data)",
        "page = unified.ticketing.comments.list(ticket_id=\"123\").first_page()   # result, next_cursor, prev_cursor",
        "unified.ticketing.comments.create(ticket_id=\"123\", body=\"Called the carrier.\", is_internal=True)",
        "unified.user_directory.users.get(\"42\")",
        "```",
        "",
        f"`Async{client}` works the same with `AsyncUnified` (`async for`, `await`). Calls go through the",
        "client, so errors, retries, pagination and rate limiting are the client's. A filter the",
        f"source cannot apply server-side raises `{pkg}.unified.UnsupportedFilterError` (an",
        "`InvalidArgumentsError`) before any request; it is never silently ignored.",
        "",
        f"The same operations are MCP tools (`mcp/{connector.name}.unified.tools.json`), run with",
        f"`{pkg}.unified.invoke_unified(client, tool, arguments)`:",
        "",
        "| tool | backed by |",
        "|---|---|",
    ]
    for resource in api.resources:
        for method in resource.methods:
            backing = f"`{method.operation}`" + "".join(
                f"; `{case.method.operation}` when `{case.text}`" for case in method.cases)
            lines.append(f"| `{method.tool}` | {backing} |")
    lines.append("")
    for resource in api.resources:
        model = resource.model
        schema = ir.thaw(model.schema)
        required = set(schema.get("required") or ())
        sources = dict(resource.field_sources)
        lines += [
            f"## {pascal(resource.category).replace('UserDirectory', 'User directory')}: {resource.name}",
            "",
            f"`{model.title}` — {markdown_inline(model.description)}",
            "",
            markdown_text(resource.description),
            "",
            f"Python: `unified.{resource.category}.{resource.name}` · mapping: `{resource.file}` · model: `{model.file}`",
            "",
            "| method | unified tool | backing operation | notes |",
            "|---|---|---|---|",
        ]
        for method in resource.methods:
            notes = method.description
            inputs = [f"`{i.name}`" + (" (required)" if i.required else "") for i in method.inputs if i.name != "id"]
            if inputs and method.kind != "list":
                notes = (notes + " " if notes else "") + "Inputs: " + ", ".join(inputs) + "."
            lines.append(f"| {method.kind} | `{method.tool}` | `{method.operation}` | {markdown_table_cell(notes)} |")
        missing = [k for k in u.METHOD_KINDS if resource.method(k) is None]
        if missing:
            lines.append(f"| {', '.join(missing)} | — | not available from {title} | |")
        lines += ["", "| field | type | from " + title + " | description |", "|---|---|---|---|"]
        for name, prop in (schema.get("properties") or {}).items():
            star = " (required)" if name in required else ""
            source = sources.get(name, "— (not available)")
            lines.append(f"| `{name}`{star} | {markdown_table_cell(_type(prop))} | {markdown_table_cell(source)} | "
                         f"{markdown_table_cell(prop.get('description', ''))}{markdown_table_cell(_known(prop))} |")
        lst = resource.method("list")
        if lst is not None and (model.filters or model.sort_fields):
            lines += ["", "| list filter | how " + title + " applies it |", "|---|---|"]
            filters = ir.thaw(model.filters)
            by_name: dict[str, Any] = {q.filter: q for c in lst.cases for q in c.method.query}
            by_name.update({q.filter: q for q in lst.query})
            via = {q.filter: c.method.operation for c in lst.cases for q in c.method.query}
            for name in filters:
                q = by_name.get(name)
                if q is None:
                    how = "not available: raises `UnsupportedFilterError`"
                elif isinstance(q, u.SortedScan):
                    how = ("ordered read: " + ", ".join(f"`{k}={v}`" for k, v in q.args) + ", stops at the first record whose "
                           f"`{'.'.join(map(str, q.field))}` is not {q.op} the value")
                else:
                    how = f"parameter `{q.param}`"
                    if q.table:
                        how += " (" + ", ".join(f"{k}→{v}" for k, v in q.table) + ")"
                    if q.extra:
                        how += " with " + ", ".join(f"`{k}={v}`" for k, v in q.extra)
                    if q.required:
                        how += "; required"
                if q is not None and name in via and q not in lst.query:
                    how += f" (through `{via[name]}`)"
                lines.append(f"| `{name}` | {markdown_table_cell(how)} |")
            if model.sort_fields:
                sortable = [f for f, _, _ in lst.sort.fields] if lst.sort else []
                lines.append(f"| `sort_by` | {', '.join(f'`{s}`' for s in sortable) or 'nothing'}"
                             + (f"; not: {', '.join(lst.unsupported_sort)}" if lst.unsupported_sort else "") + " |")
        lines.append("")
    shared = ir.thaw(api.defs)
    lines += ["## Shared objects", ""]
    for name, schema in shared.items():
        lines += [f"### {name}", "", markdown_table_cell(schema.get("description", "")), "", "| field | type | description |",
                  "|---|---|---|"]
        for field, prop in (schema.get("properties") or {}).items():
            lines.append(f"| `{field}` | {markdown_table_cell(_type(prop))} | {markdown_table_cell(prop.get('description', ''))}{markdown_table_cell(_known(prop))} |")
        lines.append("")
    return "\n".join(lines)
