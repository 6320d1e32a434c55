"""Pydantic v2 models of every schema in the connector registry, via datamodel-code-generator.

The registry (`Connector.schemas`, refs `#/$defs/<Name>`) is handed to datamodel-code-generator as
the `components/schemas` of an OpenAPI 3.1 document, so every registry entry becomes one class named
after its title (never `Model1`) and nothing else is invented at the top level. Models are tolerant:
extra fields are allowed and kept, `x-known-values` strings stay `str` (their known values are
appended to the field docstring), date-times use `_types.ApiDatetime` (a `datetime`; naive, aware
and date-only values parse, `""` reads as `None`), and e-mail formats stay `str` (no
email-validator dependency). Every model derives from `TolerantModel` (`runtime/_model.py`):
validation is tolerant per field, leaving out and reporting only the values that do not match.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

from ... import ir
from ...escaping import py_docline

_BASE_MODULE = "_model"
_BASE_CLASS = "TolerantModel"
_REF_PREFIX = '"' + ir.SCHEMA_REF_PREFIX
_OPENAPI_PREFIX = '"#/components/schemas/'


def _annotate_known_values(node: Any) -> Any:
    """Copy of a schema with `x-known-values` listed in the description (they stay plain str)."""
    if isinstance(node, Mapping):
        out = {k: _annotate_known_values(v) for k, v in node.items()}
        known = node.get("x-known-values")
        if isinstance(known, list | tuple) and known:
            listed = ", ".join(f"`{v}`" for v in known)
            description = str(out.get("description", "")).rstrip()
            sep = " " if description else ""
            out["description"] = f"{description}{sep}Known values (others may appear): {listed}."
        return out
    if isinstance(node, list | tuple):
        return [_annotate_known_values(v) for v in node]
    return node


def _document(connector: ir.Connector) -> str:
    schemas = _annotate_known_values(ir.thaw(connector.schemas))
    doc = {
        "openapi": "3.1.0",
        "info": {"title": connector.title, "version": connector.version},
        "paths": {},
        "components": {"schemas": schemas},
    }
    return json.dumps(doc, sort_keys=False).replace(_REF_PREFIX, _OPENAPI_PREFIX)


def generate_models(connector: ir.Connector) -> str:
    """Source of `models.py` (unformatted; the pipeline runs ruff on it)."""
    import datamodel_code_generator as dcg

    source = dcg.generate(
        _document(connector),
        input_file_type=dcg.InputFileType.OpenAPI,
        output_model_type=dcg.DataModelType.PydanticV2BaseModel,
        target_python_version=dcg.PythonVersion.PY_311,
        use_title_as_name=True,
        use_annotated=True,
        use_union_operator=True,
        collapse_root_models=True,
        # Constrained array items (`ids: [int >= 1]`) become type aliases named after their parent
        # (`TagBulkDeleteId`), so `list[int]` is accepted where they are used.
        use_type_alias=True,
        parent_scoped_naming=True,
        disable_timestamp=True,
        extra_fields="allow",
        # Every model is tolerant per field (see `runtime/_model.py`); imported relatively below.
        base_class=f"{connector.package.import_name}.{_BASE_MODULE}.{_BASE_CLASS}",
        allow_population_by_field_name=True,
        enum_field_as_literal="all",
        use_field_description=True,
        use_schema_description=True,
        output_datetime_class="datetime",
        type_mappings=["string+email=string"],
        use_double_quotes=True,
        keep_model_order=True,
        formatters=[],
    )
    if not isinstance(source, str):  # pragma: no cover - single module expected
        raise RuntimeError("datamodel-code-generator produced several modules")
    source = _use_api_datetime(source)
    source = source.replace(
        f"from {connector.package.import_name}.{_BASE_MODULE} import {_BASE_CLASS}\n",
        f"from .{_BASE_MODULE} import {_BASE_CLASS}\n",
        1,
    )
    # Drop its own header (ours is stamped by the pipeline) and add a module docstring.
    source = re.sub(r"\A(#[^\n]*\n)+\n*", "", source)
    doc = (
        f'"""Pydantic models of the {py_docline(connector.title)} API objects.\n\n'
        "Generated from the definition's object schemas. Models accept and keep unknown fields\n"
        "(`model_extra`), keep unknown values of extensible enumerations as plain strings and parse\n"
        "date-times with or without offset and microseconds, date-only ones as midnight and an\n"
        'empty date-time as None. Use `model_dump(mode="json", by_alias=True, exclude_unset=True)`\n'
        "to get the wire form back.\n\n"
        "`Model.model_validate(payload)` is tolerant per field: a value that does not match is left\n"
        "out (kept raw in `model_invalid_fields`, one warning per payload) and everything else stays\n"
        'typed; pass `strict=True` / `strict=False` for pydantic\'s raising validation (see `_model`).\n"""\n\n'
    )
    return doc + source


_STDLIB_DATETIME_IMPORT = "from datetime import datetime\n"


def _use_api_datetime(source: str) -> str:
    """Type every date-time of the models as `_types.ApiDatetime` instead of `datetime`.

    datamodel-code-generator can only emit a standard date-time class, which rejects the `""`
    some objects carry for "no date-time". The annotations are found with `ast` (so field names
    such as `created_datetime` and docstrings are left alone) and rewritten from the last one up,
    keeping earlier positions valid.
    """
    lines = [line.encode() for line in source.splitlines(keepends=True)]  # ast offsets are bytes
    uses = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and node.id == "datetime"
    ]
    for node in sorted(uses, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        line = lines[node.lineno - 1]
        lines[node.lineno - 1] = (
            line[: node.col_offset] + b"ApiDatetime" + line[node.end_col_offset :]
        )
    rewritten = b"".join(lines).decode()
    if uses:
        rewritten = rewritten.replace(
            _STDLIB_DATETIME_IMPORT, "from ._types import ApiDatetime\n", 1
        )
    return rewritten


def model_names(connector: ir.Connector) -> list[str]:
    return sorted(connector.schemas)
