"""MCP emitter: one tool per operation, plus the MCP server shipped inside the Python client.

Writes

- `mcp/<connector>.tools.json`: every operation as an MCP tool (`name`, `title`, `description`,
  `inputSchema`, `outputSchema`, `annotations`, `_meta`). Connector schemas that tools reference
  are emitted once in a shared top-level `$defs`; tool schemas point at them as `#/$defs/Name`.
  A top-level `routing` map records where each flat argument goes on the wire.
- `python/<package>/mcp/`: a server on the official `mcp` SDK's low-level `Server` that registers
  the tools from a copy of that file (`tools.json`, package data) and runs them through the
  generated client's `invoke`.
  The server modules (`server.py`, `__init__.py`, `__main__.py`) are the same for every connector:
  real Python files in `runtime/`, copied as they are; what they know of the connector (names,
  environment variables, credentials help, whether there is a unified API) is in the generated
  `_spec.py` beside them.

Reads only the IR.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from ... import ir
from ...compiler import input_schema
from ...escaping import register

TEMPLATES = Path(__file__).parent / "templates"
RUNTIME = Path(__file__).parent / "runtime"
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TOOLS_FILE_FORMAT = 1

#: Description of the shared `$defs` and the routing map, written into the file's `_meta`.
DEFS_NOTE = (
    "Tool schemas reference the shared top-level `$defs` as `#/$defs/<Name>`. To use one tool's "
    "inputSchema or outputSchema on its own, attach the `$defs` entries it reaches (the MCP "
    "server does this for tools/list)."
)
ROUTING_NOTE = (
    "Arguments are one flat object. `routing.<tool>.arguments.<argument>` gives where it goes on the "
    "wire: `in` (path, query, header, body = a property of the JSON/form body, body_whole = the "
    "whole body), `name` on the wire when it differs, and the query `style` when not `form`. "
    "The generated Python client carries the same map, and `client.invoke(tool, arguments)` applies it."
)
DEFAULT_STYLE = {
    "path": "simple",
    "header": "simple",
    "query": "form",
    "body": "simple",
    "body_whole": "simple",
}


# --- schema helpers ------------------------------------------------------------------------


def _refs(value: Any, found: set[str]) -> None:
    """Collect registry names referenced anywhere in a (thawed) schema."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(ir.SCHEMA_REF_PREFIX):
            found.add(ref[len(ir.SCHEMA_REF_PREFIX) :])
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)


def closure(names: set[str], schemas: dict[str, Any]) -> list[str]:
    """Registry names reachable from `names` (sorted), following refs inside the schemas."""
    seen: set[str] = set()
    todo = sorted(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in schemas:
            raise KeyError(f"schema {name!r} is referenced but not in the connector registry")
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(sorted(found - seen))
    return sorted(seen)


def _binary_to_base64(value: Any) -> Any:
    """MCP arguments are JSON: a `format: binary` string travels base64-encoded."""
    if isinstance(value, dict):
        if value.get("type") == "string" and value.get("format") == "binary":
            out = {k: v for k, v in value.items() if k != "format"}
            out["contentEncoding"] = "base64"
            return out
        return {k: _binary_to_base64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_binary_to_base64(v) for v in value]
    return value


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _int64_bounds(schema: Any) -> None:
    """Gives an integer schema (or an array of integers) the signed 64-bit bounds it lacks."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "array":
        _int64_bounds(schema.get("items"))
    elif schema.get("type") == "integer":
        schema.setdefault("minimum", INT64_MIN)
        schema.setdefault("maximum", INT64_MAX)


def _is_id(name: str) -> bool:
    return name in ("id", "ids") or name.endswith(("_id", "_ids"))


def tool_input_schema(op: ir.Operation) -> dict[str, Any]:
    schema = _binary_to_base64(input_schema(op.arguments))
    for name, prop in schema.get("properties", {}).items():
        if _is_id(name):  # ids are checked against int64 before any request
            _int64_bounds(prop)
    always = {d.argument for d in op.defaults if not d.when}
    if always and "required" in schema:  # the server fills these in when they are left out
        schema["required"] = [name for name in schema["required"] if name not in always]
        if not schema["required"]:
            del schema["required"]
    deprecated = {(p.location, p.name) for p in op.parameters if p.deprecated}
    for arg in op.arguments:
        if (arg.location, arg.wire_name) in deprecated:
            schema["properties"][arg.name]["deprecated"] = True
    return schema


#: What `client.invoke` answers for file and CSV downloads (see the client's `invoke`).
BINARY_RESULT = {
    "type": "object",
    "properties": {
        "content_type": {"type": "string", "description": "Media type of the file."},
        "size": {"type": "integer", "description": "Size in bytes."},
        "content_base64": {
            "type": "string",
            "contentEncoding": "base64",
            "description": "The file's bytes.",
        },
        "url": {"type": "string", "description": "URL the bytes were read from (after redirects)."},
    },
    "required": ["content_type", "size", "content_base64"],
}
CSV_RESULT = {
    "type": "object",
    "properties": {
        "content_type": {"type": "string"},
        "text": {"type": "string", "description": "The CSV text."},
    },
    "required": ["text"],
}


def _included_schema(response: ir.Response) -> dict[str, Any] | None:
    """The side-loaded objects of a result (`included`), by name; None when none are declared."""
    if not response.sideloads:
        return None
    return {
        "type": "object",
        "description": "Related objects the answer side-loads (ask for them with the operation's include argument).",
        "properties": {s.name: {"type": "array", "items": ir.thaw(s.schema)} for s in response.sideloads},
    }


def tool_output_schema(op: ir.Operation) -> dict[str, Any] | None:
    """`outputSchema`: the object, one page for list envelopes, or the file/CSV result shape.

    Operations that answer no content have none (their result is `{"ok": true, "status": n}`).
    """
    response = op.response
    if response.envelope.type == "binary":
        return BINARY_RESULT
    if response.envelope.type == "csv":
        return CSV_RESULT
    if not response.envelope.is_json or response.schema is None:
        return None
    schema = ir.thaw(response.schema)
    included = _included_schema(response)
    if not response.envelope.is_list:
        plain = {"type": "object", **schema} if ir.ref_name(schema) else (
            schema if schema.get("type") == "object" else {"type": "object", "allOf": [schema]}
        )
        if included is not None:  # when side-loads were asked for: the object and them, apart
            apart = {"type": "object", "properties": {"result": schema, "included": included},
                     "required": ["result", "included"]}
            return {"type": "object", "anyOf": [plain, apart]}
        return plain
    properties: dict[str, Any] = {"result": {"type": "array", "items": schema}}
    paginator = response.envelope.paginator
    if paginator is not None and paginator.total_path:
        properties["total"] = {"type": ["integer", "null"], "description": "How many items the whole list has."}
    if included is not None:
        properties["included"] = included
    if response.envelope.paginator is not None:
        cursor_param = response.envelope.paginator.cursor_param
        properties["next_cursor"] = {
            "type": ["string", "null"],
            "description": f"Pass as `{cursor_param}` to get the next page; null on the last page.",
        }
        if response.envelope.paginator.prev_cursor_path is not None:
            properties["prev_cursor"] = {
                "type": ["string", "null"],
                "description": f"Pass as `{cursor_param}` to get the previous page; null on the first page.",
            }
    return {"type": "object", "properties": properties, "required": ["result"]}


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", ")")) else f"{text}."


def _literal(value: Any) -> str:
    return json.dumps(ir.thaw(value), ensure_ascii=False)


def _default_text(default: ir.ArgumentDefault) -> str:
    """One default in words: `arg`: what it is [when ...]."""
    if default.from_operation is None:
        what = _literal(default.value)
    else:
        args = ", ".join(
            f"{key} `{value['argument']}`" if isinstance(value, Mapping) and set(value) == {"argument"}
            else f"{key} {_literal(value)}"
            for key, value in default.arguments.items()
        )
        picked = default.pick if isinstance(default.pick, str) else ", ".join(default.pick)
        origin = f"{picked} from `{default.from_operation}`" + (f" with {args}" if args else "")
        what = f"{default.description} ({origin})" if default.description else origin
    if default.description and default.from_operation is None:
        what = f"{what} ({default.description})"
    when = " and ".join(f"`{key}` is {_literal(value)}" for key, value in default.when.items())
    return f"`{default.argument}` = {what}" + (f" when {when}" if when else "")


def tool_description(op: ir.Operation) -> str:
    parts = []
    if op.deprecated:
        parts.append("Deprecated: still served for existing integrations; avoid it in new code.")
    parts.append(_sentence(op.description))
    if op.quirks:
        parts.append("Notes: " + " ".join(_sentence(q) for q in op.quirks))
    if op.same_endpoint_as:
        parts.append(f"Same endpoint as {op.same_endpoint_as}.")
    if op.defaults:
        parts.append("Left out, the server fills in: " + "; ".join(map(_default_text, op.defaults)) + ".")
    return " ".join(parts)


def _how_to_find(op: ir.Operation) -> dict[str, str]:
    """Flat argument name -> the declared `how_to_find` text of its parameter."""
    declared = {(p.location, p.name): p.how_to_find for p in op.parameters if p.how_to_find}
    return {
        arg.name: declared[(arg.location, arg.wire_name)]
        for arg in op.arguments
        if (arg.location, arg.wire_name) in declared
    }


def tool_defaults(op: ir.Operation) -> list[dict[str, Any]]:
    """The declared defaults as the server applies them (in order)."""
    out = []
    for d in op.defaults:
        entry: dict[str, Any] = {"argument": d.argument}
        if d.from_operation is None:
            entry["value"] = ir.thaw(d.value)
        else:
            entry["from_operation"] = d.from_operation
            entry["arguments"] = ir.thaw(d.arguments)
            entry["pick"] = ir.thaw(d.pick)
        if d.when:
            entry["when"] = ir.thaw(d.when)
        out.append(entry)
    return out


def tool_routing(op: ir.Operation) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for arg in op.arguments:
        entry: dict[str, Any] = {"in": arg.location}
        if arg.location != "body_whole" and arg.wire_name != arg.name:
            entry["name"] = arg.wire_name
        if arg.style != DEFAULT_STYLE[arg.location]:
            entry["style"] = arg.style
        arguments[arg.name] = entry
    routing: dict[str, Any] = {"arguments": arguments}
    if op.body is not None:
        routing["body"] = op.body.content_type
        if op.body.wrap_key:
            routing["wrap_key"] = op.body.wrap_key
    return routing


def tool_entry(op: ir.Operation) -> dict[str, Any]:
    if not TOOL_NAME.match(op.tool):
        raise ValueError(
            f"tool name {op.tool!r} is not a valid MCP tool name (1-64 of A-Z a-z 0-9 _ -)"
        )
    ann = op.annotations
    tool: dict[str, Any] = {
        "name": op.tool,
        "title": ann.title,
        "description": tool_description(op),
        "inputSchema": tool_input_schema(op),
    }
    output = tool_output_schema(op)
    if output is not None:
        tool["outputSchema"] = output
    # The display title is the tool's own `title`; repeating it in annotations only costs tokens.
    tool["annotations"] = {
        "readOnlyHint": ann.read_only,
        "destructiveHint": ann.destructive,
        "idempotentHint": ann.idempotent,
        "openWorldHint": ann.open_world,
    }
    meta: dict[str, Any] = {
        "resource": op.resource,
        "tags": list(op.tags),
        "kind": op.kind,
        "method": op.http_method,
        "path": op.path,
        "scopes": list(op.scopes),
    }
    if op.deprecated:  # stated only when true: 112 of 117 tools are not deprecated
        meta["deprecated"] = True
    if op.same_endpoint_as:
        meta["same_endpoint_as"] = op.same_endpoint_as
    paginator = op.response.envelope.paginator
    if paginator is not None:  # what the server's result cap needs to resume a page it cut
        meta["pagination"] = {"cursor": paginator.cursor_param, "limit": paginator.limit_param}
    tool["_meta"] = meta
    return tool


def tools_document(connector: ir.Connector, generator: str = "") -> dict[str, Any]:
    """The whole tools file as a plain dict."""
    tools = [tool_entry(op) for op in connector.operations]
    names = [t["name"] for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate tool names: {', '.join(duplicates)}")
    schemas = ir.thaw(connector.schemas)
    referenced: set[str] = set()
    for tool in tools:
        _refs(tool["inputSchema"], referenced)
        _refs(tool.get("outputSchema"), referenced)
    defs = {name: _binary_to_base64(schemas[name]) for name in closure(referenced, schemas)}
    meta: dict[str, Any] = {
        "format": TOOLS_FILE_FORMAT,
        "connector": connector.name,
        "title": connector.title,
        "version": connector.version,
        "source_sha256": connector.source_hash,
        "tool_count": len(tools),
        "schemas": DEFS_NOTE,
        "routing": ROUTING_NOTE,
    }
    if generator:
        meta["generated_by"] = generator
    document = {
        "_meta": meta,
        "tools": tools,
        "routing": {op.tool: tool_routing(op) for op in connector.operations},
        "$defs": defs,
    }
    how_to_find = {op.tool: found for op in connector.operations if (found := _how_to_find(op))}
    if how_to_find:  # where ids come from, said when an argument is missing or wrong
        document["how_to_find"] = how_to_find
    defaults = {op.tool: tool_defaults(op) for op in connector.operations if op.defaults}
    if defaults:  # argument defaults the server applies (see `defaults:` in the definition)
        document["defaults"] = defaults
    return document


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dump_tools(document: dict[str, Any]) -> str:
    """Serialised tools file: compact JSON, one line per tool, routing entry and schema.

    Small on disk and in the package, and a change to one operation is a one-line diff.
    """
    out = ["{"]
    keys = list(document)
    for i, key in enumerate(keys):
        value = document[key]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(value, list):
            items = [_line(item) for item in value]
            out.append(f"{_line(key)}:[")
            out.extend(f"{item}{',' if j < len(items) - 1 else ''}" for j, item in enumerate(items))
            out.append(f"]{comma}")
        elif isinstance(value, dict) and key != "_meta":
            entries = [f"{_line(k)}:{_line(v)}" for k, v in value.items()]
            out.append(f"{_line(key)}:{{")
            out.extend(
                f"{entry}{',' if j < len(entries) - 1 else ''}" for j, entry in enumerate(entries)
            )
            out.append(f"}}{comma}")
        else:
            out.append(f"{_line(key)}:{_line(value)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


# --- server package ------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    return register(
        jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )


def _env_names(connector: ir.Connector) -> dict[str, Any]:
    """Environment variables the client reads, and which of them hold secrets."""
    variables: list[str] = [v.env for v in connector.server.variables if v.env]
    secrets: list[str] = []
    for scheme in connector.auth:
        creds = list(scheme.credentials)
        for cred in creds:
            if cred.env and cred.env not in variables:
                variables.append(cred.env)
            if cred.env and cred.secret:
                secrets.append(cred.env)
    if connector.server.base_url_env:
        variables.append(connector.server.base_url_env)
    return {"variables": variables, "secrets": secrets}


def _auth_help(connector: ir.Connector) -> str:
    lines = []
    for var in connector.server.variables:
        if var.env:
            lines.append(f"{var.env}: {var.description}")
    for scheme in connector.auth:
        if isinstance(scheme, ir.HttpBasicAuth):
            envs = [c.env for c in (scheme.username, scheme.password) if c.env and not c.fixed]
            lines.append(f"{' + '.join(envs) or scheme.name}: {scheme.description}")
        elif isinstance(scheme, ir.ApiKeyAuth):
            lines.append(f"{scheme.key.env or scheme.name}: {scheme.description}")
        elif isinstance(scheme, ir.HttpBearerAuth):
            lines.append(f"{scheme.token.env or scheme.name}: {scheme.description}")
        else:
            lines.append(f"{scheme.access_token.env or scheme.name}: {scheme.description}")
    if connector.server.base_url_env:
        lines.append(f"{connector.server.base_url_env}: base URL override (a sandbox or proxy).")
    return "\n".join(lines)


def _instructions(connector: ir.Connector) -> str:
    lists = any(op.paginated for op in connector.operations)
    text = (
        f"Tools for the {connector.title} API of one account. "
        "Tools that list return one page as {result: [...], next_cursor, prev_cursor}"
    )
    paginator = next((p for p in connector.paginators), None)
    if lists and paginator is not None:
        text += f"; pass next_cursor as `{paginator.cursor_param}` to read the next page."
    else:
        text += "."
    text += (
        " Failures come back as tool errors that say what to fix: invalid arguments, the API's "
        "message and field errors, or how long to wait after a rate limit."
    )
    return text


def emit(connector: ir.Connector) -> dict[str, str | bytes]:
    from .. import header_line

    document = tools_document(connector, header_line(connector))
    tools_json = dump_tools(document)
    package = connector.package
    env = _env_names(connector)
    context = {
        "connector": connector,
        "package": package,
        "has_unified": getattr(connector, "unified", None) is not None,
        "server_name": f"{package.import_name}-mcp",
        "tools_file": "tools.json",
        "token_env": f"{package.env_prefix}MCP_TOKEN",
        "tool_mode_env": f"{package.env_prefix}MCP_TOOL_MODE",
        "default_toolsets": list(connector.mcp_default_toolsets),
        "env_variables": env["variables"],
        "secret_env": env["secrets"],
        "auth_help": _auth_help(connector),
        "instructions": _instructions(connector),
        "kinds": ["list", "get", "create", "update", "delete", "custom"],
    }
    jinja = _environment()
    base = f"python/{package.import_name}/mcp"
    files: dict[str, str | bytes] = {
        f"mcp/{connector.name}.tools.json": tools_json,
        f"{base}/tools.json": tools_json,
    }
    files[f"{base}/_spec.py"] = jinja.get_template("_spec.py.j2").render(**context)
    # connector-independent modules, copied as they are (they read the package's `_spec`)
    for path in sorted(RUNTIME.glob("*.py")):
        files[f"{base}/{path.name}"] = path.read_text(encoding="utf-8")
    return files
