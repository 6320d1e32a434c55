"""Helpers of the docs emitter: schema types in words, example arguments, Python and JSON literals.

Everything here works on IR JSON Schema fragments (`FrozenDict`, refs `#/$defs/<Name>`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ... import ir
from ...escaping import html_text, markdown_table_cell

MAX_WIDTH = 88
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


# --- text ------------------------------------------------------------------------------------


def cell(text: Any) -> str:
    """Text made safe for one Markdown table cell."""
    return markdown_table_cell(text)


def slug(text: str) -> str:
    """GitHub-style heading anchor."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def inline_html(text: str) -> str:
    """Escape text for HTML and render the inline Markdown we use (`code`, **bold**)."""
    escaped = html_text(text)
    escaped = _INLINE_CODE.sub(lambda m: f"<code>{m.group(2)}</code>", escaped)
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", escaped)


_LINK = re.compile("\x00([^\x01]*)\x01")
_CODE = re.compile("\x02([^\x03]*)\x03")


def html_link_marker(name: str) -> str:
    """Placeholder for a schema link, turned into an anchor by `to_html` after escaping."""
    return f"\x00{name}\x01"


def html_code_marker(text: str) -> str:
    return f"\x02{text}\x03"


def to_html(text: str) -> str:
    """Escape text built with the markers above, then render the markers as links and code."""
    escaped = html_text(text)
    escaped = _LINK.sub(lambda m: f'<a href="#model-{m.group(1)}">{m.group(1)}</a>', escaped)
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)


# --- schema in words -------------------------------------------------------------------------


def ref_target(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(ir.SCHEMA_REF_PREFIX):
        return ref[len(ir.SCHEMA_REF_PREFIX) :]
    return None


def type_text(schema: Any, link: Any = None) -> str:
    """Short type of a schema: `string (date-time)`, `list of Tag`, `Customer or null`.

    `link(name)` turns a schema name into a reference (a Markdown or HTML link); plain name if None.
    """
    name_of = link or (lambda n: n)
    if not isinstance(schema, Mapping) or not schema:
        return "any"
    target = ref_target(schema)
    if target is not None:
        return name_of(target)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [type_text(s, link) for s in schema[key]]
            return " or ".join(dict.fromkeys(parts))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_text(schema["allOf"][0], link)
    if "const" in schema:
        return json.dumps(ir.thaw(schema["const"]))
    types = schema.get("type")
    if types is None:
        if "properties" in schema:
            types = "object"
        elif "enum" in schema:
            types = "string"
        else:
            return "any"
    if isinstance(types, str):
        types = (types,)
    words = []
    for kind in types:
        if kind == "array":
            words.append(f"list of {type_text(schema.get('items') or {}, link)}")
        elif kind == "object" and "properties" not in schema:
            extra = schema.get("additionalProperties")
            words.append(
                f"map of {type_text(extra, link)}"
                if isinstance(extra, Mapping) and extra
                else "object"
            )
        elif kind == "string" and "format" in schema:
            words.append(f"string ({schema['format']})")
        else:
            words.append(str(kind))
    return " or ".join(words)


def constraints_text(schema: Any) -> str:
    """Allowed values, bounds and defaults of a schema, as one sentence ('' when none)."""
    if not isinstance(schema, Mapping):
        return ""
    parts: list[str] = []
    if "enum" in schema:
        parts.append("One of " + ", ".join(f"`{v}`" for v in schema["enum"]) + ".")
    if "x-known-values" in schema:
        parts.append(
            "Known values: "
            + ", ".join(f"`{v}`" for v in schema["x-known-values"])
            + " (others may appear)."
        )
    bounds = []
    for key, label in (
        ("minimum", "min"),
        ("maximum", "max"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
    ):
        if key in schema:
            bounds.append(f"{label} {schema[key]}")
    if bounds:
        parts.append(", ".join(bounds).capitalize() + ".")
    if "default" in schema:
        default = schema["default"]
        shown = (
            default
            if isinstance(default, str) and default.strip() == default and default
            else json.dumps(ir.thaw(default))
        )
        parts.append(f"Default `{shown}`.")
    return " ".join(parts)


def describe(schema: Any, fallback: str = "") -> str:
    """Description plus constraints of a schema."""
    text = fallback
    if isinstance(schema, Mapping) and isinstance(schema.get("description"), str):
        text = text or schema["description"]
    extra = constraints_text(schema)
    return " ".join(p for p in (" ".join(str(text).split()), extra) if p)


# --- example values ------------------------------------------------------------------------------


def example_value(schema: Any, registry: Mapping[str, Any], depth: int = 0, name: str = "") -> Any:
    """A plausible value for a schema: declared example/default/enum first, then by type."""
    if not isinstance(schema, Mapping):
        return None
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return ir.thaw(schema[key])
    if schema.get("examples"):
        return ir.thaw(schema["examples"][0])
    if schema.get("enum"):
        return ir.thaw(schema["enum"][0])
    if schema.get("x-known-values"):
        return ir.thaw(schema["x-known-values"][0])
    target = ref_target(schema)
    if target is not None:
        if depth > 4 or target not in registry:
            return {}
        return example_value(registry[target], registry, depth + 1, name)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [
                s for s in schema[key] if not (isinstance(s, Mapping) and s.get("type") == "null")
            ]
            return example_value(options[0] if options else {}, registry, depth + 1, name)
    types = schema.get("type")
    if isinstance(types, list | tuple):
        types = next((t for t in types if t != "null"), "null")
    if types is None and "properties" in schema:
        types = "object"
    if types == "integer":
        low = schema.get("minimum", 1)
        return max(int(low), 1) if schema.get("maximum", 1) >= 1 else int(low)
    if types == "number":
        return float(schema.get("minimum", 1))
    if types == "boolean":
        return True
    if types == "string":
        fmt = str(schema.get("format", ""))
        return {
            "date-time": "2024-01-01T00:00:00+00:00",
            "date": "2024-01-01",
            "email": "jane@example.com",
            "uri": "https://example.com",
            "binary": "<file bytes>",
        }.get(fmt, f"<{name}>" if name else "text")
    if types == "array":
        if depth > 4:
            return []
        return [example_value(schema.get("items") or {}, registry, depth + 1, name)]
    if types == "object":
        properties = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        if not required and properties and depth == 0:
            required = list(properties)[:1]
        return {
            prop: example_value(properties[prop], registry, depth + 1, prop)
            for prop in required
            if prop in properties
        }
    return None


def example_arguments(
    op: ir.Operation, registry: Mapping[str, Any]
) -> tuple[dict[str, Any], str, str]:
    """Flat arguments for the operation's example: (arguments, name, summary).

    The first declared example wins; otherwise the required arguments get schema-based values,
    plus one body argument when they alone would send no body.
    """
    for example in op.examples:
        if example.arguments is not None:
            return ir.thaw(example.arguments), example.name, example.summary
    arguments = {
        a.name: example_value(a.schema, registry, name=a.name) for a in op.arguments if a.required
    }
    arguments.update(_minimal_body(op, arguments, registry))
    return arguments, "", ""


def _minimal_body(
    op: ir.Operation, arguments: Mapping[str, Any], registry: Mapping[str, Any]
) -> dict[str, Any]:
    """One body argument when the required ones alone would send no body.

    Updates often declare no required field, yet an empty body is refused ("Missing request
    body"). The smallest call that works sets a plain value (a name, a flag) rather than an
    object or a list, and no identifier: an invented id would point at nothing.
    """
    candidates = [a for a in op.arguments if a.location in ("body", "body_whole")]
    if not candidates or any(a.name in arguments for a in candidates):
        return {}
    values = {a.name: example_value(a.schema, registry, name=a.name) for a in candidates}

    def cost(name: str) -> tuple[bool, bool]:
        is_reference = name == "id" or name.endswith(("_id", "ids"))
        return is_reference, isinstance(values[name], dict | list | None)

    chosen = min(values, key=cost)  # min keeps declaration order among equals
    return {chosen: values[chosen]}


# --- literals ------------------------------------------------------------------------------------


def py_literal(value: Any, indent: int = 0, width: int = MAX_WIDTH) -> str:
    """Python source of JSON data, one line when it fits, else one item per line."""
    flat = _py_flat(value)
    if len(flat) + indent <= width or not isinstance(value, dict | list) or not value:
        return flat
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [
            f"{pad}{_py_flat(str(k))}: {py_literal(v, indent + 4, width)},"
            for k, v in value.items()
        ]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{py_literal(v, indent + 4, width)}," for v in value]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _py_flat(value: Any) -> str:
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py_flat(str(k))}: {_py_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_py_flat(v) for v in value) + "]"
    return json.dumps(value)


def py_call(target: str, kwargs: dict[str, Any], width: int = MAX_WIDTH) -> str:
    """`target(k=v, ...)`, one line when it fits, else one keyword per line."""
    flat = f"{target}(" + ", ".join(f"{k}={_py_flat(v)}" for k, v in kwargs.items()) + ")"
    if len(flat) <= width:
        return flat
    lines = [f"    {k}={py_literal(v, 4, width)}," for k, v in kwargs.items()]
    return f"{target}(\n" + "\n".join(lines) + "\n)"


def py_invoke(target: str, tool: str, arguments: dict[str, Any], width: int = MAX_WIDTH) -> str:
    flat = f'{target}("{tool}", {_py_flat(arguments)})'
    if len(flat) <= width:
        return flat
    return f'{target}(\n    "{tool}",\n    {py_literal(arguments, 4, width)},\n)'


def json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
