"""JSON Schema fragments (from the IR) to Python type expressions for the generated client.

Two flavours:

- ``annotation`` (signatures): what a caller may pass. Named schemas accept the model or a plain
  dict, arrays accept any sequence, date-times accept a string or a datetime, binary accepts
  ``FileInput``.
- ``validator`` (runtime checks in ``_operations.py``): the strict shape pydantic validates
  against; named schemas become their model class.

Names refer to ``_models.<Name>`` (the generated ``models`` module imported as ``_models``) and
``builtins.list`` (resource classes have a method called ``list``, which would shadow the builtin
in annotations evaluated inside the class).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ... import ir

Flavour = Literal["annotation", "validator"]

_SIMPLE = {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def _union(parts: list[str]) -> str:
    seen: list[str] = []
    for part in parts:
        for piece in _split_union(part):
            if piece not in seen:
                seen.append(piece)
    if "Any" in seen:
        return "Any"
    # None last reads best: `str | None`.
    if "None" in seen:
        seen = [p for p in seen if p != "None"] + ["None"]
    return " | ".join(seen) if seen else "Any"


def _split_union(expr: str) -> list[str]:
    """Split a top-level `a | b[c | d]` expression into its members."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expr[start:i].strip())
            start = i + 1
    parts.append(expr[start:].strip())
    return [p for p in parts if p]


def _literal(values: Any) -> str:
    return "Literal[" + ", ".join(repr(v) for v in values) + "]"


_BOUNDS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_length",
    "maxItems": "max_length",
}


def _bounded(expr: str, schema: Mapping[str, Any], flavour: Flavour) -> str:
    """Validator types carry the schema's numeric and length bounds (checked before sending)."""
    if flavour != "validator":
        return expr
    bounds = [f"{_BOUNDS[k]}={schema[k]!r}" for k in _BOUNDS if isinstance(schema.get(k), int | float)]
    return f"Annotated[{expr}, Field({', '.join(bounds)})]" if bounds else expr


def python_type(
    schema: Mapping[str, Any] | None, flavour: Flavour, *, models: str = "_models"
) -> str:
    """The Python type expression for a JSON Schema fragment."""
    if not schema:
        return "Any"
    name = ir.ref_name(schema)
    if name is not None:
        if flavour == "annotation":
            return f"{models}.{name} | Mapping[str, Any]"
        return f"{models}.{name}"
    if "$ref" in schema:  # $ref with siblings (description...): the ref decides the type
        return python_type({"$ref": schema["$ref"]}, flavour, models=models)
    if "const" in schema:
        return _literal([schema["const"]])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _union([python_type(s, flavour, models=models) for s in schema[key]])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return python_type(schema["allOf"][0], flavour, models=models)
    types = schema.get("type")
    if isinstance(types, tuple | list):
        return _union([python_type({**schema, "type": t}, flavour, models=models) for t in types])
    if types is None:
        return "Any"
    if "enum" in schema and types in ("string", "integer"):
        values = [v for v in schema["enum"] if v is not None]
        expr = _literal(values) if values else "Any"
        return _union([expr, "None"]) if None in schema["enum"] else expr
    if types == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "str | datetime"
        if fmt == "date":
            return "str | date"
        if fmt == "binary":
            return "FileInput" if flavour == "annotation" else "Any"
        return _bounded("str", schema, flavour)
    if types in _SIMPLE:
        return _bounded(_SIMPLE[types], schema, flavour)
    if types == "array":
        item = python_type(schema.get("items") or {}, flavour, models=models)
        if flavour == "annotation":
            return f"Sequence[{item}]"
        return _bounded(f"builtins.list[{item}]", schema, flavour)
    if types == "object":
        return "Mapping[str, Any]" if flavour == "annotation" else "dict[str, Any]"
    return "Any"


def path_param_type(schema: Mapping[str, Any]) -> str:
    """`int` for integer path parameters, else `str` (what a path segment may be built from)."""
    types = schema.get("type")
    if types == "integer" or (
        isinstance(types, tuple | list) and "integer" in types and "string" not in types
    ):
        return "int"
    return "str"


def response_type(
    schema_name: str | None, schema: Mapping[str, Any] | None, *, models: str = "_models"
) -> str:
    """What a typed method returns for one object / list item."""
    if schema_name:
        return f"{models}.{schema_name}"
    if schema and schema.get("type") == "object":
        return "dict[str, Any]"
    return "Any"
