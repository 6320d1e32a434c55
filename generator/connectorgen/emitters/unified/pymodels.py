"""Pydantic v2 models of the unified models, and Python annotations of unified inputs.

Generated directly from the small JSON Schema subset the unified models use (see
`language/unified-model.schema.json`): `x-known-values` become `Literal[...] | str` (unknown
values are kept, never rejected), date-times become `datetime`, references become the shared
classes (`UnifiedReference`, ...), every model allows and keeps extra fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import ir
from ... import unified_ir as u
from ...escaping import one_line, py_docline, py_str

SCALARS = {"integer": "int", "boolean": "bool", "object": "dict[str, Any]"}


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list | tuple):
        return [str(k) for k in kind]
    return []


def _ref_title(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(ir.SCHEMA_REF_PREFIX):
        return ref[len(ir.SCHEMA_REF_PREFIX):]
    return None


def _union(parts: list[str]) -> str:
    seen: list[str] = []
    for part in parts:
        for piece in part.split(" | "):
            if piece not in seen:
                seen.append(piece)
    if "None" in seen:
        seen = [p for p in seen if p != "None"] + ["None"]
    if "Any" in seen:
        return "Any"
    return " | ".join(seen)


def py_type(schema: Mapping[str, Any]) -> str:
    """Annotation of a model field (output side)."""
    title = _ref_title(schema)
    if title:
        return title
    if "anyOf" in schema:
        return _union([py_type(b) for b in schema["anyOf"]])
    types = _types(schema)
    if not types:
        return "Any"
    parts: list[str] = []
    for kind in types:
        if kind == "null":
            parts.append("None")
        elif kind == "string":
            known = schema.get("x-known-values")
            if schema.get("format") == "date-time":
                parts.append("datetime")
            elif known:
                parts.append("Literal[" + ", ".join(py_str(v) for v in known) + "] | str")
            else:
                parts.append("str")
        elif kind == "number":
            parts.append("int | float")
        elif kind == "array":
            items = schema.get("items")
            parts.append(f"list[{py_type(items) if isinstance(items, Mapping) else 'Any'}]")
        else:
            parts.append(SCALARS.get(kind, "Any"))
    return _union(parts)


def input_type(schema: Mapping[str, Any], *, is_id: bool = False) -> str:
    """Annotation of a unified input (keyword argument): lenient (mappings for objects)."""
    if is_id:
        return "str | int"
    title = _ref_title(schema)
    if title:
        return f"{title} | Mapping[str, Any]"
    if "anyOf" in schema:
        return _union([input_type(b) for b in schema["anyOf"] if _types(b) != ["null"]])
    parts: list[str] = []
    for kind in _types(schema):
        if kind == "null":
            continue
        if kind == "string":
            parts.append("str | datetime" if schema.get("format") == "date-time" else "str")
        elif kind == "number":
            parts.append("int | float")
        elif kind == "array":
            items = schema.get("items")
            parts.append(f"Sequence[{input_type(items) if isinstance(items, Mapping) else 'Any'}]")
        elif kind == "object":
            parts.append("Mapping[str, Any]")
        else:
            parts.append(SCALARS.get(kind, "Any"))
    return _union(parts) if parts else "Any"


def filter_type(name: str, schema: Mapping[str, Any]) -> str:
    types = _types(schema)
    if "array" in types:
        items = schema.get("items") or {}
        inner = "str | int" if name.endswith("ids") else input_type(items)
        return f"Sequence[{inner}]"
    if name.endswith("_id"):
        return "str | int"
    return input_type(schema)


def _class(title: str, schema: Mapping[str, Any]) -> str:
    description = one_line(schema.get("description", title))
    required = set(schema.get("required") or ())
    lines = [f"class {title}(BaseModel):", f"    {py_str(description)}", "",
             '    model_config = ConfigDict(extra="allow")', ""]
    for name, prop in (schema.get("properties") or {}).items():
        annotation = py_type(prop)
        doc = one_line(prop.get("description", ""))
        known = prop.get("x-known-values")
        if known:
            doc += " Known values: " + ", ".join(map(str, known)) + "."
        if name in required:
            lines.append(f"    {name}: {annotation} = Field(description={py_str(doc)})")
        elif "array" in _types(prop):
            lines.append(f"    {name}: {annotation} = Field(default_factory=list, description={py_str(doc)})")
        else:
            if "None" not in annotation.split(" | ") and annotation != "Any":
                annotation += " | None"
            lines.append(f"    {name}: {annotation} = Field(default=None, description={py_str(doc)})")
    return "\n".join(lines) + "\n"


def models_source(api: u.UnifiedApi, title: str) -> str:
    defs = ir.thaw(api.defs)
    blocks = [_class(name, schema) for name, schema in defs.items()]
    for model in api.models:
        blocks.append(_class(model.title, ir.thaw(model.schema)))
    names = [*defs, *(m.title for m in api.models)]
    header = (
        f'"""Unified models (pydantic v2) of the {py_docline(title)} unified ticketing and user-directory APIs.\n\n'
        "Every record keeps the untouched source object in `remote_data`. Fields with known values\n"
        "accept any other value too: a source value with no unified counterpart is returned as is.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "from datetime import datetime\n"
        "from typing import Any, Literal\n\n"
        "from pydantic import BaseModel, ConfigDict, Field\n\n"
        f"__all__ = {json.dumps(sorted(names))}\n\n\n"
    )
    return header + "\n\n".join(blocks)
