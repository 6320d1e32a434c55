"""Unified models and mappings: loading, validation and compilation into `unified_ir`.

Layout (found relative to a definition at `<repo>/spec/<connector>/`):

    <repo>/unified_mappings/models/common.yaml                 shared $defs (UnifiedReference, ...)
    <repo>/unified_mappings/models/<category>/<resource>.yaml   one unified model per resource
    <repo>/unified_mappings/<connector>/<category>/<resource>.yaml  how the connector backs it

Models are JSON Schema in YAML (checked against `language/unified-model.schema.json`); mapping
files are checked against `language/mapping.schema.json` and then by the semantic rules in
`MAPPING_RULES`, all reported as located `FILE:LINE:COL: error[rule-id]: message` diagnostics.
Everything is compiled into the immutable `unified_ir.UnifiedApi`, with every mapping expression
(including the jinja2 escape hatch) turned into an expression tree the emitter renders as plain
Python. A connector without a `unified_mappings/<connector>/` folder has no unified API.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path as FsPath
from typing import Any, cast

import jinja2
from jinja2 import nodes as jn

from . import ir
from . import unified_ir as u
from .definition import check_language
from .diagnostics import Diagnostic, JsonPath
from .loader import LoadError, SourceFile, load_yaml_file

MAPPINGS_DIR = "unified_mappings"
MODELS_DIR = "models"
COMMON_FILE = "common.yaml"

#: The semantic rules of mapping files (ids used in `error[rule-id]`).
MAPPING_RULES: dict[str, str] = {
    "mapping-unknown-source": "A source path, unified filter or sort field does not exist (connector schema for responses, unified model for requests).",
    "mapping-unknown-target": "A target field does not exist (unified model for responses, operation arguments for requests), or the unified model is unknown.",
    "mapping-enum-coverage": "A value map or constant does not cover the source's known values or produces a value the target does not know.",
    "mapping-required-unmapped": "A required target field (unified model or operation argument) is not mapped.",
    "mapping-unknown-operation": "A method, before-step or parameter names a connector operation that does not exist.",
    "mapping-operation-kind": "The backing operation does not fit the method (list needs a list response, get/create/update an object).",
    "mapping-bad-expression": "An expression cannot be compiled (jinja2 syntax, unsupported jinja2 node or filter, bad template, bad scan order).",
    "mapping-duplicate-resource": "Two mapping files back the same unified resource.",
    "mapping-path-filter": "A path argument of a list operation that no unified filter carries (the list cannot be built), or a path filter declared optional.",
    "mapping-sort-direction": "A sort mapping mixes one value per field with a separate direction parameter (or gives one value per field without it).",
    "mapping-case-unreachable": "A method case that can never run: its condition repeats an earlier case's, or an earlier case always runs.",
}

CONVERSIONS = ("string", "integer", "number", "boolean", "datetime", "object")
EXPR_KINDS = ("from", "const", "coalesce", "template", "concat", "list", "each", "ref", "object", "if", "jinja")
RESERVED_ROOTS = ("context", "parent")
#: Values every request context has, besides the connector's server variables and the results of before-steps.
CONTEXT_VALUES: dict[str, dict[str, Any]] = {
    "base_url": {"type": "string", "description": "Base URL the client talks to."},
}
#: jinja2 filters and tests allowed in the escape hatch: name -> (min args, max args) besides the value.
JINJA_FILTERS: dict[str, tuple[int, int]] = {
    "lower": (0, 0), "upper": (0, 0), "trim": (0, 0), "capitalize": (0, 0), "default": (1, 2),
    "d": (1, 2), "length": (0, 0), "count": (0, 0), "string": (0, 0), "int": (0, 0), "float": (0, 0),
    "first": (0, 0), "last": (0, 0), "join": (0, 1), "bool": (0, 0),
}
JINJA_TESTS = ("none", "true", "false", "defined", "undefined", "string", "number", "sequence", "mapping")
JINJA_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "lteq": "<=", "gteq": ">=", "in": "in", "notin": "not in"}
ANY: dict[str, Any] = {}
SCAN_DIRECTION = {">=": "desc", ">": "desc", "<=": "asc", "<": "asc"}


def pagination_args(op: ir.Operation) -> frozenset[str]:
    """Arguments of a list operation that carry the page cursor and size (its paginator's)."""
    paginator = op.response.envelope.paginator
    if paginator is None:
        return frozenset()
    return frozenset(a for a in (paginator.cursor_param, paginator.limit_param) if a)


def context_values(connector: ir.Connector) -> dict[str, dict[str, Any]]:
    """Context values of every mapping: `base_url` and one per server variable of the connector."""
    out = dict(CONTEXT_VALUES)
    for variable in connector.server.variables:
        out[variable.name] = {"type": ["string", "null"], "description": variable.description}
    return out


def _project_path(path: FsPath) -> str:
    """`unified_mappings/...`: how generated text names a mapping file, whatever the working directory."""
    parts = path.resolve().parts
    at = max((i for i, part in enumerate(parts) if part == MAPPINGS_DIR), default=0)
    return "/".join(parts[at:])


def find_unified_root(definition: FsPath, connector_name: str) -> FsPath | None:
    """`<repo>/unified_mappings` when it holds a folder for this connector, else None."""
    root = definition if definition.is_dir() else definition.parent
    candidate = root.resolve().parent.parent / MAPPINGS_DIR
    if (candidate / connector_name).is_dir():
        return candidate
    return None


def tool_names(category: str, resource: str, singular: str) -> dict[str, str]:
    return {
        "list": f"list_all_unified_{category}_{resource}",
        "get": f"get_single_unified_{category}_{singular}_by_id",
        "create": f"create_a_unified_{category}_{singular}",
        "update": f"update_a_unified_{category}_{singular}_by_id",
        "delete": f"delete_a_unified_{category}_{singular}_by_id",
    }


# --- schema walking ----------------------------------------------------------------------------


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list | tuple):
        return {str(k) for k in kind}
    return set()


class Schemas:
    """Walks JSON Schemas whose refs are `#/$defs/<Name>` into one registry."""

    def __init__(self, registry: Mapping[str, Any]) -> None:
        self.registry = registry

    def resolve(self, schema: Any) -> Any:
        for _ in range(32):
            if not isinstance(schema, Mapping):
                return schema
            ref = schema.get("$ref")
            if not isinstance(ref, str) or not ref.startswith(ir.SCHEMA_REF_PREFIX):
                return schema
            target = self.registry.get(ref[len(ir.SCHEMA_REF_PREFIX):])
            if target is None:
                return ANY
            schema = target
        return schema

    def branches(self, schema: Any) -> list[Mapping[str, Any]]:
        schema = self.resolve(schema)
        if not isinstance(schema, Mapping):
            return []
        out: list[Mapping[str, Any]] = []
        union = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(union, list | tuple) and union:
            for branch in union:
                out.extend(self.branches(branch))
            return out
        return [schema]

    @staticmethod
    def is_any(schema: Mapping[str, Any]) -> bool:
        return not _types(schema) and "properties" not in schema and "items" not in schema and "$ref" not in schema \
            and "anyOf" not in schema and "oneOf" not in schema and "enum" not in schema and "const" not in schema

    def child(self, schema: Any, part: str | int) -> Any:
        """Schema of `schema[part]`, ANY when anything is allowed there, None when it cannot exist."""
        results: list[Any] = []
        for branch in self.branches(schema):
            types = _types(branch)
            if self.is_any(branch):
                results.append(ANY)
                continue
            if isinstance(part, int):
                if "array" in types or "items" in branch:
                    results.append(branch.get("items", ANY))
                continue
            props = branch.get("properties")
            if isinstance(props, Mapping) and part in props:
                results.append(props[part])
                continue
            extra = branch.get("additionalProperties")
            if isinstance(extra, Mapping):
                results.append(extra)
            elif extra is True or (extra is None and not props and "object" in types):
                results.append(ANY)
        if not results:
            return None
        if any(r is ANY or (isinstance(r, Mapping) and not r) for r in results):
            return ANY
        return results[0] if len(results) == 1 else {"anyOf": results}

    def properties(self, schema: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for branch in self.branches(schema):
            props = branch.get("properties")
            if isinstance(props, Mapping):
                for k, v in props.items():
                    out.setdefault(k, v)
        return out

    def required(self, schema: Any) -> list[str]:
        for branch in self.branches(schema):
            req = branch.get("required")
            if isinstance(req, list | tuple) and isinstance(branch.get("properties"), Mapping):
                return [str(r) for r in req]
        return []

    def known_values(self, schema: Any) -> list[Any] | None:
        """Known values of an enumeration-like schema (x-known-values, enum, booleans), else None."""
        if schema is None:
            return None
        values: list[Any] = []
        found = False
        for branch in self.branches(schema):
            types = _types(branch)
            if types == {"null"}:
                continue
            known = branch.get("x-known-values") or branch.get("enum")
            if isinstance(known, list | tuple):
                values.extend(v for v in known if v is not None and v not in values)
                found = True
            elif types == {"boolean"}:
                values.extend(v for v in (True, False) if v not in values)
                found = True
            else:
                return None
        return values if found else None

    def closed_values(self, schema: Any) -> list[Any] | None:
        """Values of a closed `enum` (inputs we must respect exactly), else None."""
        values: list[Any] = []
        for branch in self.branches(schema):
            if _types(branch) == {"null"}:
                continue
            enum = branch.get("enum")
            if not isinstance(enum, list | tuple):
                return None
            values.extend(enum)
        return values or None

    def is_array(self, schema: Any) -> bool:
        return any("array" in _types(b) or "items" in b for b in self.branches(schema))


# --- loading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadedModel:
    category: str
    resource: str
    source: SourceFile
    schema: dict[str, Any]


@dataclass(slots=True)
class Loaded:
    root: FsPath
    models: dict[str, LoadedModel] = field(default_factory=dict)
    defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    def_sources: dict[str, tuple[SourceFile, JsonPath]] = field(default_factory=dict)
    mappings: list[SourceFile] = field(default_factory=list)
    files: list[SourceFile] = field(default_factory=list)


def _load(path: FsPath, diagnostics: list[Diagnostic]) -> SourceFile | None:
    try:
        return load_yaml_file(path)
    except LoadError as exc:
        diagnostics.append(exc.diagnostic)
        return None


def _rewrite_refs(node: Any, source: SourceFile, at: JsonPath, titles: dict[FsPath, dict[str, str]],
                  diagnostics: list[Diagnostic]) -> None:
    """Rewrite `file.yaml#/$defs/Name` and `#/$defs/Name` refs to `#/$defs/<Title>`."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            file_part, _, fragment = ref.partition("#")
            target = (source.path.parent / file_part).resolve() if file_part else source.path.resolve()
            names = titles.get(target)
            name = fragment.removeprefix("/$defs/") if fragment.startswith("/$defs/") else None
            if names is None or name is None or name not in names:
                diagnostics.append(source.diagnostic(
                    "unresolved-ref", f"$ref '{ref}' names no unified schema", (*at, "$ref"),
                    "refer to '../common.yaml#/$defs/<Name>' or '#/$defs/<Name>'"))
                node["$ref"] = "#/$defs/__unresolved__"
            else:
                node["$ref"] = ir.SCHEMA_REF_PREFIX + names[name]
        for key, value in node.items():
            if key in ("description", "x-known-values", "enum", "title"):
                continue
            _rewrite_refs(value, source, (*at, key), titles, diagnostics)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _rewrite_refs(item, source, (*at, index), titles, diagnostics)


def load_files(root: FsPath, connector_name: str) -> tuple[Loaded, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    loaded = Loaded(root=root)
    models_dir = root / MODELS_DIR
    model_paths = sorted(p for p in models_dir.rglob("*.yaml") if p.is_file()) if models_dir.is_dir() else []
    sources: list[SourceFile] = []
    for path in model_paths:
        source = _load(path, diagnostics)
        if source is None:
            continue
        errors = check_language(source, "unified-model")
        diagnostics.extend(errors)
        loaded.files.append(source)
        if not errors:
            sources.append(source)
    titles: dict[FsPath, dict[str, str]] = {}
    for source in sources:
        names: dict[str, str] = {}
        for name, schema in (source.data.get("$defs") or {}).items():
            title = schema.get("title", name)
            names[name] = title
            if title in loaded.defs:
                diagnostics.append(source.diagnostic(
                    "duplicate-schema-name", f"unified schema name '{title}' is already defined", ("$defs", name)))
                continue
            loaded.defs[title] = schema
            loaded.def_sources[title] = (source, ("$defs", name))
        titles[source.path.resolve()] = names
    for source in sources:
        _rewrite_refs(source.data, source, (), titles, diagnostics)
        rel = source.path.relative_to(models_dir)
        if rel.as_posix() == COMMON_FILE or len(rel.parts) != 2:
            continue
        category, resource = rel.parts[0], rel.stem
        loaded.models[f"{category}/{resource}"] = LoadedModel(category, resource, source, source.data)
    mapping_dir = root / connector_name
    for path in sorted(p for p in mapping_dir.rglob("*.yaml") if p.is_file()):
        source = _load(path, diagnostics)
        if source is None:
            continue
        errors = check_language(source, "mapping")
        diagnostics.extend(errors)
        loaded.files.append(source)
        if not errors:
            loaded.mappings.append(source)
    return loaded, diagnostics


# --- compiling expressions ----------------------------------------------------------------------


@dataclass(slots=True)
class Scope:
    """What paths can reach while compiling one expression."""

    file: SourceFile
    schemas: Schemas
    direction: u.Direction
    src: Any
    parent: Any
    context: dict[str, Any]
    inputs_used: set[str]
    in_item: bool = False

    def item(self, item_schema: Any) -> Scope:
        return Scope(self.file, self.schemas, self.direction, item_schema, self.src, self.context,
                     self.inputs_used, True)


@dataclass(slots=True)
class Compiler:
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def diag(self, scope: Scope, rule: str, message: str, at: JsonPath, hint: str = "") -> None:
        self.diagnostics.append(scope.file.diagnostic(rule, message, at, hint))

    # paths ---------------------------------------------------------------------------------

    @staticmethod
    def split(text: str) -> tuple[str | int, ...]:
        parts: list[str | int] = []
        for part in text.split("."):
            parts.append(int(part) if part.isdigit() else part)
        return tuple(parts)

    def path(self, text: str, at: JsonPath, scope: Scope) -> tuple[u.Path | None, Any]:
        parts = self.split(text)
        if parts and parts[0] == "$":
            parts = parts[1:]
        return self.resolve_parts(parts, at, scope, text)

    def resolve_parts(self, parts: tuple[str | int, ...], at: JsonPath, scope: Scope,
                      text: str) -> tuple[u.Path | None, Any]:
        root: u.Root = "src"
        schema: Any = scope.src
        rest = parts
        side = "the unified input" if scope.direction == "request" else "the connector object"
        if parts and parts[0] == "context":
            root = "context"
            if len(parts) < 2 or not isinstance(parts[1], str):
                self.diag(scope, "mapping-unknown-source", f"'{text}': say which context value, e.g. context.base_url", at)
                return None, None
            name = parts[1]
            if name not in scope.context:
                close = difflib.get_close_matches(name, list(scope.context), n=1)
                hint = f"did you mean 'context.{close[0]}'?" if close else (
                    f"known context values: {', '.join(sorted(scope.context))}; add a before-step to fetch more")
                self.diag(scope, "mapping-unknown-source", f"unknown context value '{name}' in '{text}'", at, hint)
                return None, None
            schema = scope.context[name]
            walked: tuple[str | int, ...] = (name,)
            rest = parts[2:]
            side = f"context.{name}"
        elif parts and parts[0] == "parent":
            root = "parent"
            if scope.parent is None:
                self.diag(scope, "mapping-unknown-source", f"'{text}': `parent` only exists inside `each` and `flatten`", at)
                return None, None
            schema = scope.parent
            rest = parts[1:]
            walked = ()
            side = "the parent object"
        else:
            walked = ()
            if scope.direction == "request" and parts and not scope.in_item and isinstance(parts[0], str):
                scope.inputs_used.add(parts[0])
        for part in rest:
            child = scope.schemas.child(schema, part)
            if child is None:
                props = list(scope.schemas.properties(schema)) if not isinstance(part, int) else []
                close = difflib.get_close_matches(str(part), props, n=1)
                where = ".".join(map(str, walked)) or "the top level"
                hint = f"did you mean '{close[0]}'?" if close else (
                    f"fields there: {', '.join(sorted(props))}" if props else "")
                if isinstance(part, int):
                    message = f"'{text}': {where} of {side} is not a list"
                else:
                    message = f"'{text}': {side} has no field '{part}' at {where}"
                self.diag(scope, "mapping-unknown-source", message, at, hint)
                return None, None
            schema = child
            walked = (*walked, part)
        final_parts = parts[1:] if root in ("context", "parent") else parts
        return u.Path(root, final_parts, text), schema

    # expressions -----------------------------------------------------------------------------

    def expr(self, raw: Any, at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        if isinstance(raw, str):
            path, _ = self.path(raw, at, scope)
            return path
        if not isinstance(raw, dict):
            self.diag(scope, "mapping-bad-expression", "an expression is a path or an object", at)
            return None
        kinds = [k for k in EXPR_KINDS if k in raw]
        if len(kinds) != 1:
            self.diag(scope, "mapping-bad-expression",
                      f"an expression needs exactly one of {', '.join(EXPR_KINDS)}", at)
            return None
        kind = kinds[0]
        result: u.Expr | None = getattr(self, f"_k_{kind}")(raw, at, scope, target)
        if result is None:
            return None
        if kind in ("from", "coalesce", "jinja"):
            if "as" in raw:
                result = u.Convert(result, raw["as"])
            if "default" in raw:
                result = u.Default(result, raw["default"])
        return result

    def _k_from(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        path, source_schema = self.path(raw["from"], (*at, "from"), scope)
        if path is None:
            return None
        expr: u.Expr = path
        if "map" in raw:
            table = self.value_table(raw["map"], source_schema, scope)
            self.check_map(raw["map"], table, (*at, "map"), scope, source_schema, target, keep=raw.get("keep") or ())
            expr = u.ValueMap(path, table)
        return expr

    def value_table(self, raw_map: dict[str, Any], source_schema: Any,
                    scope: Scope) -> tuple[tuple[Any, Any], ...]:
        types: set[str] = set()
        for branch in scope.schemas.branches(source_schema):
            types |= _types(branch)
        out = []
        for key, value in raw_map.items():
            k: Any = key
            if "boolean" in types and key.lower() in ("true", "false"):
                k = key.lower() == "true"
            elif types & {"integer", "number"} and re.fullmatch(r"-?\d+", key):
                k = int(key)
            out.append((k, value))
        return tuple(out)

    def check_map(self, raw_map: dict[str, Any], table: tuple[tuple[Any, Any], ...], at: JsonPath,
                  scope: Scope, source_schema: Any, target: Any, keep: Iterable[Any] = ()) -> None:
        target_known = scope.schemas.known_values(target) if target is not None else None
        if target_known is not None:
            for (key, value), raw_key in zip(table, raw_map, strict=True):
                if value not in target_known:
                    close = difflib.get_close_matches(str(value), [str(v) for v in target_known], n=1)
                    hint = f"did you mean '{close[0]}'?" if close else f"known values: {', '.join(map(str, target_known))}"
                    self.diag(scope, "mapping-enum-coverage",
                              f"maps '{key}' to {json.dumps(value)}, which the target does not know", (*at, raw_key), hint)
        if scope.direction != "response":
            return
        source_known = scope.schemas.known_values(source_schema)
        if source_known is None:
            return
        keys = {k for k, _ in table}
        kept = set(keep)
        missing = [v for v in source_known
                   if v not in keys and v not in kept and (target_known is None or v not in target_known)]
        if missing:
            self.diag(scope, "mapping-enum-coverage",
                      "value map does not cover the source value(s) "
                      + ", ".join(json.dumps(v) for v in missing) + " and they are not unified values",
                      at, "map every known source value, or list the ones returned unchanged under `keep`")

    def check_const(self, value: Any, at: JsonPath, scope: Scope, target: Any) -> None:
        if target is None or value is None or isinstance(value, dict | list):
            return
        closed = scope.schemas.closed_values(target)
        known = closed if closed is not None else scope.schemas.known_values(target)
        if known is not None and value not in known:
            self.diag(scope, "mapping-enum-coverage", f"{json.dumps(value)} is not a value the target knows", at,
                      f"known values: {', '.join(map(str, known))}")

    def _k_const(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr:
        self.check_const(raw["const"], (*at, "const"), scope, target)
        return u.Const(ir.freeze(raw["const"]))

    def _k_coalesce(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        items = [self.expr(item, (*at, "coalesce", i), scope, target) for i, item in enumerate(raw["coalesce"])]
        if any(i is None for i in items):
            return None
        return u.Coalesce(tuple(cast(list[u.Expr], items)))

    def _k_concat(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        items = [self.expr(item, (*at, "concat", i), scope, target) for i, item in enumerate(raw["concat"])]
        if any(i is None for i in items):
            return None
        return u.Concat(tuple(cast(list[u.Expr], items)))

    def _k_list(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        item_target = scope.schemas.child(target, 0) if target is not None else None
        if target is not None and item_target is None:
            self.diag(scope, "mapping-unknown-target", "`list` builds a list but the target is not a list", at)
            return None
        items = [self.expr(item, (*at, "list", i), scope, item_target) for i, item in enumerate(raw["list"])]
        if any(i is None for i in items):
            return None
        return u.ListOf(tuple(cast(list[u.Expr], items)))

    def _k_template(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        text = raw["template"]
        parts: list[str | u.Expr] = []
        pos = 0
        buf = ""
        ok = True
        while pos < len(text):
            ch = text[pos]
            if text.startswith("{{", pos) or text.startswith("}}", pos):
                buf += ch
                pos += 2
                continue
            if ch == "}":
                self.diag(scope, "mapping-bad-expression", "unmatched '}' in template (write '}}' for a brace)", (*at, "template"))
                return None
            if ch == "{":
                end = text.find("}", pos)
                if end == -1:
                    self.diag(scope, "mapping-bad-expression", "unclosed '{' in template", (*at, "template"))
                    return None
                name = text[pos + 1:end].strip()
                if not re.fullmatch(r"(\$|[A-Za-z_][A-Za-z0-9_-]*|\d+)(\.([A-Za-z_][A-Za-z0-9_-]*|\d+))*", name):
                    self.diag(scope, "mapping-bad-expression", f"template placeholder '{{{name}}}' is not a path", (*at, "template"))
                    return None
                if buf:
                    parts.append(buf)
                    buf = ""
                path, _ = self.path(name, (*at, "template"), scope)
                if path is None:
                    ok = False
                else:
                    parts.append(path)
                pos = end + 1
                continue
            buf += ch
            pos += 1
        if buf:
            parts.append(buf)
        return u.Template(tuple(parts), text) if ok else None

    def _k_each(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        path, list_schema = self.path(raw["each"], (*at, "each"), scope)
        if path is None:
            return None
        if not scope.schemas.is_array(list_schema) and not Schemas.is_any(scope.schemas.resolve(list_schema) or {}):
            self.diag(scope, "mapping-unknown-source", f"'{raw['each']}' is not a list", (*at, "each"))
            return None
        item_schema = scope.schemas.child(list_schema, 0)
        item_schema = self.narrow(scope, item_schema if item_schema is not None else ANY, raw.get("where") or {})
        inner = scope.item(item_schema)
        item_target = scope.schemas.child(target, 0) if target is not None else None
        if target is not None and item_target is None:
            self.diag(scope, "mapping-unknown-target", "`each` builds a list but the target is not a list", at)
            return None
        wheres = []
        for key, value in (raw.get("where") or {}).items():
            where_path, _ = self.path(key, (*at, "where", key), inner)
            if where_path is None:
                return None
            values = tuple(value) if isinstance(value, list) else (value,)
            wheres.append(u.Where(where_path.parts, values))
        needed = []
        for index, key in enumerate(raw.get("skip_if_missing") or ()):
            needed_path, _ = self.path(key, (*at, "skip_if_missing", index), inner)
            if needed_path is None:
                return None
            needed.append(needed_path)
        if "to" in raw:
            item: u.Expr | None = self.fieldmap(raw["to"], (*at, "to"), inner, item_target, nullable=False)
        elif "value" in raw:
            item = self.expr(raw["value"], (*at, "value"), inner, item_target)
        else:
            self.diag(scope, "mapping-bad-expression", "`each` needs `to` (fields) or `value` (one expression)", at)
            return None
        if item is None:
            return None
        return u.Each(path, item, tuple(wheres), tuple(needed))

    @staticmethod
    def narrow(scope: Scope, item_schema: Any, where: dict[str, Any]) -> Any:
        """The item schema with the known values of `where` fields narrowed to the kept values."""
        resolved = scope.schemas.resolve(item_schema)
        if not where or not isinstance(resolved, Mapping) or not isinstance(resolved.get("properties"), Mapping):
            return item_schema
        props = dict(resolved["properties"])
        for key, value in where.items():
            if key in props and isinstance(props[key], Mapping):
                values = value if isinstance(value, list) else [value]
                props[key] = {**props[key], "x-known-values": [v for v in values if v is not None]}
        return {**resolved, "properties": props}

    def _k_ref(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        spec = raw["ref"]
        if target is not None and not scope.schemas.properties(target) and not Schemas.is_any(scope.schemas.resolve(target)):
            self.diag(scope, "mapping-unknown-target", "`ref` builds an object but the target is not an object", at)
            return None
        record = self.fieldmap(spec, (*at, "ref"), scope, target, nullable=True)
        if record is None:
            return None
        fields = dict(record.fields)
        id_expr = fields.pop("id")
        return u.Ref(id_expr, tuple(fields.items()), drop_none=scope.direction == "request")

    def _k_object(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        return self.fieldmap(raw["object"], (*at, "object"), scope, target, nullable=True)

    def _k_if(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        test = self.jinja(raw["if"], (*at, "if"), scope, None)
        then = self.expr(raw["then"], (*at, "then"), scope, target)
        otherwise = self.expr(raw["else"], (*at, "else"), scope, target) if "else" in raw else u.Const(None)
        if test is None or then is None or otherwise is None:
            return None
        return u.IfElse(test, then, otherwise)

    def _k_jinja(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        return self.jinja(raw["jinja"], (*at, "jinja"), scope, target)

    def fieldmap(self, raw: dict[str, Any], at: JsonPath, scope: Scope, target: Any, *,
                 nullable: bool) -> u.Record | None:
        fields: list[tuple[str, u.Expr]] = []
        ok = True
        target_props = scope.schemas.properties(target) if target is not None else {}
        for key, value in raw.items():
            child_target: Any = None
            if target is not None:
                child_target = scope.schemas.child(target, key)
                if child_target is None:
                    close = difflib.get_close_matches(key, list(target_props), n=1)
                    hint = f"did you mean '{close[0]}'?" if close else (
                        f"fields there: {', '.join(sorted(target_props))}" if target_props else "")
                    side = "the operation's arguments" if scope.direction == "request" else "the unified model"
                    self.diag(scope, "mapping-unknown-target", f"'{key}' is not a field of {side} here", (*at, key), hint)
                    ok = False
                    continue
            expr = self.expr(value, (*at, key), scope, child_target)
            if expr is None:
                ok = False
                continue
            fields.append((key, expr))
        if target is not None:
            for name in scope.schemas.required(target):
                if name not in raw:
                    self.diag(scope, "mapping-required-unmapped", f"required field '{name}' is not mapped", at,
                              f"add '{name}: ...' here")
        if not ok:
            return None
        return u.Record(tuple(fields), nullable=nullable, drop_none=scope.direction == "request")

    # jinja2 ----------------------------------------------------------------------------------

    def jinja(self, text: str, at: JsonPath, scope: Scope, target: Any) -> u.Expr | None:
        try:
            tree = _jinja_env().parse("{{ " + text + " }}")
        except jinja2.TemplateSyntaxError as exc:
            self.diag(scope, "mapping-bad-expression", f"jinja2 syntax error: {exc.message}", at)
            return None
        body = tree.body
        if len(body) != 1 or not isinstance(body[0], jn.Output) or len(body[0].nodes) != 1:
            self.diag(scope, "mapping-bad-expression", "write one jinja2 expression, without {{ }} or {% %}", at)
            return None
        try:
            expr = self._jinja_node(body[0].nodes[0], at, scope)
        except _JinjaError as exc:
            self.diag(scope, "mapping-bad-expression", str(exc), at,
                      "allowed: names, .attr, [index], constants, comparisons, and/or/not, if-else, ~, "
                      f"tests {', '.join(JINJA_TESTS)}, filters {', '.join(sorted(JINJA_FILTERS))}")
            return None
        if expr is None:
            return None
        if target is not None:
            known = scope.schemas.closed_values(target) or scope.schemas.known_values(target)
            if known is not None:
                for value in _result_constants(expr):
                    if isinstance(value, str) and value not in known:
                        self.diag(scope, "mapping-enum-coverage",
                                  f"the expression can produce {json.dumps(value)}, which the target does not know", at,
                                  f"known values: {', '.join(map(str, known))}")
        return expr

    def _jinja_chain(self, node: jn.Node) -> tuple[str | int, ...] | None:
        if isinstance(node, jn.Name):
            return (node.name,)
        if isinstance(node, jn.Getattr):
            base = self._jinja_chain(node.node)
            return None if base is None else (*base, node.attr)
        if isinstance(node, jn.Getitem) and isinstance(node.arg, jn.Const) and isinstance(node.arg.value, str | int):
            base = self._jinja_chain(node.node)
            return None if base is None else (*base, node.arg.value)
        return None

    def _jinja_node(self, node: jn.Node, at: JsonPath, scope: Scope) -> u.Expr | None:
        if isinstance(node, jn.Const):
            return u.Const(node.value)
        if isinstance(node, jn.Name | jn.Getattr | jn.Getitem):
            chain = self._jinja_chain(node)
            if chain is None:
                raise _JinjaError("only constant [index] or ['key'] lookups are supported")
            text = ".".join(map(str, chain))
            path, _ = self.resolve_parts(chain, at, scope, text)
            return path
        if isinstance(node, jn.List | jn.Tuple):
            items = [self._jinja_node(i, at, scope) for i in node.items]
            if all(isinstance(i, u.Const) for i in items):
                return u.Const(tuple(cast(u.Const, i).value for i in items))
            raise _JinjaError("lists in jinja2 expressions may only hold constants")
        if isinstance(node, jn.Neg) and isinstance(node.node, jn.Const) and isinstance(node.node.value, int | float):
            return u.Const(-node.node.value)
        if isinstance(node, jn.Compare):
            left = self._jinja_node(node.expr, at, scope)
            parts: list[u.Expr] = []
            for operand in node.ops:
                right = self._jinja_node(operand.expr, at, scope)
                if left is None or right is None:
                    return None
                op = JINJA_COMPARE.get(operand.op)
                if op is None:
                    raise _JinjaError(f"comparison '{operand.op}' is not supported")
                if op in ("==", "!=") and isinstance(right, u.Const) and (right.value is None or isinstance(right.value, bool)):
                    op = "is" if op == "==" else "is not"
                parts.append(u.Compare(cast(u.CompareOp, op), left, right))
                left = right
            return parts[0] if len(parts) == 1 else u.BoolOp("and", tuple(parts))
        if isinstance(node, jn.And | jn.Or):
            op = "and" if isinstance(node, jn.And) else "or"
            items2: list[u.Expr] = []
            for side in (node.left, node.right):
                value = self._jinja_node(side, at, scope)
                if value is None:
                    return None
                if isinstance(value, u.BoolOp) and value.op == op:
                    items2.extend(value.exprs)
                else:
                    items2.append(value)
            return u.BoolOp(cast(Any, op), tuple(items2))
        if isinstance(node, jn.Not):
            inner = self._jinja_node(node.node, at, scope)
            return None if inner is None else u.Not(inner)
        if isinstance(node, jn.CondExpr):
            test = self._jinja_node(node.test, at, scope)
            then = self._jinja_node(node.expr1, at, scope)
            otherwise = self._jinja_node(node.expr2, at, scope) if node.expr2 is not None else u.Const(None)
            if test is None or then is None or otherwise is None:
                return None
            return u.IfElse(test, then, otherwise)
        if isinstance(node, jn.Concat):
            items3 = [self._jinja_node(n, at, scope) for n in node.nodes]
            if any(i is None for i in items3):
                return None
            return u.Call("concat", tuple(cast(list[u.Expr], items3)))
        if isinstance(node, jn.Filter | jn.Test):
            kind = "filter" if isinstance(node, jn.Filter) else "test"
            if node.kwargs or node.dyn_args or node.dyn_kwargs:
                raise _JinjaError(f"{kind} '{node.name}': keyword and * arguments are not supported")
            if kind == "filter":
                if node.name not in JINJA_FILTERS:
                    raise _JinjaError(f"filter '{node.name}' is not supported")
                low, high = JINJA_FILTERS[node.name]
                if not low <= len(node.args) <= high:
                    raise _JinjaError(f"filter '{node.name}' takes {low} to {high} arguments")
            elif node.name not in JINJA_TESTS:
                raise _JinjaError(f"test '{node.name}' is not supported")
            if node.node is None:
                raise _JinjaError(f"{kind} '{node.name}' needs a value")
            value = self._jinja_node(node.node, at, scope)
            args = [self._jinja_node(a, at, scope) for a in node.args]
            if value is None or any(a is None for a in args):
                return None
            name = {"d": "default", "count": "length"}.get(node.name, node.name)
            prefix = "f_" if kind == "filter" else "t_"
            return u.Call(prefix + name, (value, *cast(list[u.Expr], args)))
        raise _JinjaError(f"jinja2 {type(node).__name__} is not supported in mappings")


class _JinjaError(Exception):
    pass


@cache
def _jinja_env() -> jinja2.Environment:
    return jinja2.Environment(autoescape=False)


def _result_constants(expr: u.Expr) -> list[Any]:
    """Constants an expression can produce as its value (for enum checks)."""
    if isinstance(expr, u.Const):
        return [expr.value]
    if isinstance(expr, u.IfElse):
        return _result_constants(expr.then) + _result_constants(expr.otherwise)
    if isinstance(expr, u.BoolOp) and expr.op == "or":
        return [v for e in expr.exprs for v in _result_constants(e)]
    if isinstance(expr, u.Coalesce):
        return [v for e in expr.exprs for v in _result_constants(e)]
    if isinstance(expr, u.Default):
        return [*_result_constants(expr.expr), expr.value]
    if isinstance(expr, u.ValueMap):
        return [v for _, v in expr.table]
    return []


# --- compiling resources ------------------------------------------------------------------------


def _model_ir(model: LoadedModel) -> u.UnifiedModel:
    data = model.schema
    schema = {k: v for k, v in data.items() if not k.startswith("x-") and k not in ("$schema", "$defs")}
    singular = data.get("x-singular") or (model.resource[:-1] if model.resource.endswith("s") else model.resource)
    return u.UnifiedModel(
        category=model.category,
        resource=model.resource,
        singular=singular,
        title=data["title"],
        description=" ".join(str(data.get("description", "")).split()),
        schema=ir.freeze(schema),
        filters=ir.freeze(data.get("x-list-filters") or {}),
        sort_fields=tuple(data.get("x-sort-by") or ()),
        inputs=ir.freeze(data.get("x-inputs") or {}),
        file=_project_path(model.source.path),
    )


def _describe(raw: Any) -> str:
    """Short human description of a raw mapping expression (docs)."""
    if isinstance(raw, str):
        return f"`{raw}`"
    if not isinstance(raw, dict):
        return json.dumps(raw)
    if "from" in raw:
        text = f"`{raw['from']}`"
        if "map" in raw:
            pairs = ", ".join(f"{k}→{v}" for k, v in raw["map"].items())
            text += f" mapped ({pairs}; others unchanged)"
        if "as" in raw:
            text += f" as {raw['as']}"
        if "default" in raw:
            text += f", default {json.dumps(raw['default'])}"
        return text
    if "const" in raw:
        return f"always {json.dumps(raw['const'])}"
    if "coalesce" in raw:
        return "first present of " + ", ".join(_describe(r) for r in raw["coalesce"])
    if "template" in raw:
        return f"`{raw['template']}`"
    if "concat" in raw:
        return " + ".join(_describe(r) for r in raw["concat"])
    if "list" in raw:
        return "list of " + ", ".join(_describe(r) for r in raw["list"])
    if "each" in raw:
        where = ""
        if raw.get("where"):
            where = " where " + ", ".join(f"{k} = {v}" for k, v in raw["where"].items())
        if raw.get("skip_if_missing"):
            where += " (skipping items without " + ", ".join(f"`{k}`" for k in raw["skip_if_missing"]) + ")"
        inner = raw.get("to") or raw.get("value")
        if isinstance(inner, dict) and "to" in raw:
            inner_text = "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in inner.items()) + "}"
        else:
            inner_text = _describe(inner)
        return f"each of `{raw['each']}`{where} → {inner_text}"
    if "ref" in raw:
        return "reference {" + ", ".join(f"{k}: {_describe(v)}" for k, v in raw["ref"].items()) + "} (null without id)"
    if "object" in raw:
        return "{" + ", ".join(f"{k}: {_describe(v)}" for k, v in raw["object"].items()) + "}"
    if "if" in raw:
        return f"if `{raw['if']}` then {_describe(raw['then'])} else {_describe(raw.get('else'))}"
    if "jinja" in raw:
        return f"`{' '.join(str(raw['jinja']).split())}`"
    return json.dumps(raw)


def _op_arguments_schema(op: ir.Operation, *, drop: frozenset[str] = frozenset()) -> dict[str, Any]:
    props = {a.name: ir.thaw(a.schema) for a in op.arguments if a.name not in drop}
    required = [a.name for a in op.arguments if a.required and a.name not in drop]
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _input_schema(model: u.UnifiedModel) -> dict[str, Any]:
    props = dict(ir.thaw(model.schema).get("properties", {}))
    props.update(ir.thaw(model.inputs))
    return {"type": "object", "properties": props, "additionalProperties": False}


class ResourceCompiler:
    def __init__(self, connector: ir.Connector, schemas: Schemas, compiler: Compiler) -> None:
        self.connector = connector
        self.schemas = schemas
        self.c = compiler
        self.ops = {op.tool: op for op in connector.operations}

    def scope(self, source: SourceFile, direction: u.Direction, src: Any, parent: Any = None,
              context: dict[str, Any] | None = None, inputs: set[str] | None = None) -> Scope:
        ctx = context_values(self.connector)
        ctx.update(context or {})
        return Scope(source, self.schemas, direction, src, parent, ctx, inputs if inputs is not None else set())

    def operation(self, source: SourceFile, tool: Any, at: JsonPath) -> ir.Operation | None:
        op = self.ops.get(tool) if isinstance(tool, str) else None
        if op is None:
            close = difflib.get_close_matches(str(tool), list(self.ops), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "use the tool name of an operation of the definition"
            self.c.diagnostics.append(source.diagnostic(
                "mapping-unknown-operation", f"no operation '{tool}' in the {self.connector.name} definition", at, hint))
        return op

    def compile(self, source: SourceFile, model: LoadedModel) -> u.UnifiedResource | None:
        data = source.data
        model_ir = _model_ir(model)
        model_schema = ir.thaw(model_ir.schema)
        names = tool_names(model_ir.category, model_ir.resource, model_ir.singular)
        methods: list[u.UnifiedMethod] = []
        start = len(self.c.diagnostics)
        for kind in u.METHOD_KINDS:
            spec = data["methods"].get(kind)
            if spec is None:
                continue
            at: JsonPath = ("methods", kind)
            method = self.method(source, kind, spec, at, data, model_ir, model_schema, names[kind])
            if method is not None:
                methods.append(method)
        if len(self.c.diagnostics) > start:
            return None
        response = data.get("response") or {}
        return u.UnifiedResource(
            model=model_ir,
            connector=self.connector.name,
            description=" ".join(str(data.get("description", "")).split()),
            methods=tuple(methods),
            file=_project_path(source.path),
            field_sources=tuple((k, _describe(v)) for k, v in response.items()),
        )

    def method(self, source: SourceFile, kind: u.MethodKind, spec: dict[str, Any], at: JsonPath,
               data: dict[str, Any], model: u.UnifiedModel, model_schema: dict[str, Any],
               tool: str) -> u.UnifiedMethod | None:
        op = self.operation(source, spec["operation"], (*at, "operation"))
        if op is None:
            return None
        env = op.response.envelope
        fits = {
            "list": env.is_list,
            "get": env.type == "object",
            "create": env.type == "object",
            "update": env.type == "object",
            "delete": op.kind == "delete" or op.http_method == "DELETE",
        }[kind]
        if not fits:
            self.c.diagnostics.append(source.diagnostic(
                "mapping-operation-kind",
                f"'{op.tool}' ({op.kind}, {env.type} response) cannot back the unified {kind} method",
                (*at, "operation"),
                "list needs a list response; get, create and update an object response; delete a DELETE"))
            return None
        inputs_used: set[str] = set()
        input_schema = _input_schema(model)
        # before-steps
        context: dict[str, Any] = {}
        steps: list[u.BeforeStep] = []
        for name, step in (spec.get("before") or {}).items():
            step_at = (*at, "before", name)
            step_op = self.operation(source, step["operation"], (*step_at, "operation"))
            if step_op is None:
                continue
            scope = self.scope(source, "request", input_schema, context=context, inputs=inputs_used)
            request = self.c.fieldmap(step.get("request") or {}, (*step_at, "request"), scope,
                                      _op_arguments_schema(step_op, drop=pagination_args(step_op)), nullable=False)
            when = self.c.jinja(step["when"], (*step_at, "when"), scope, None) if "when" in step else None
            if request is None or ("when" in step and when is None):
                continue
            steps.append(u.BeforeStep(name, step_op.tool, request, when))
            context[name] = step_op.response.schema or ANY
        # request (flat arguments of the operation)
        drop = pagination_args(op) if kind == "list" else frozenset()
        args_schema = _op_arguments_schema(op, drop=drop)
        query: list[u.QueryMapping] = []
        sort: u.SortMapping | None = None
        if kind == "list":
            query, covered = self.query(source, spec, at, op, model)
            for arg in op.arguments:
                if arg.location == "path" and arg.name not in covered and arg.name not in (spec.get("request") or {}):
                    self.c.diagnostics.append(source.diagnostic(
                        "mapping-path-filter",
                        f"'{op.tool}' lists per '{arg.name}' (a path argument) but no filter carries it",
                        (*at, "query") if "query" in spec else (*at, "operation"),
                        f"add e.g. '<filter>: {{param: {arg.name}}}' under query (the filter becomes required)"))
                    covered.add(arg.name)
            args_schema = {**args_schema, "required": [r for r in args_schema["required"] if r not in covered]}
            sort = self.sort(source, spec, at, op, model)
        scope = self.scope(source, "request", input_schema, context=context, inputs=inputs_used)
        request = self.c.fieldmap(spec.get("request") or {}, (*at, "request"), scope, args_schema, nullable=False)
        read_op = op
        read_back: u.ReadBack | None = None
        if "read_back" in spec and kind in ("create", "update"):
            read_back, read_op_found = self.read_back(source, spec["read_back"], (*at, "read_back"), op,
                                                      input_schema, context, inputs_used)
            if read_back is None or read_op_found is None:
                return None
            read_op = read_op_found
        # response
        response: u.Record | None = None
        flatten: tuple[str | int, ...] | None = None
        if kind != "delete":
            raw_response = spec.get("response", data.get("response") or {})
            response_at: JsonPath = (*at, "response") if "response" in spec else ("response",)
            item_schema: Any = read_op.response.schema if read_op.response.schema is not None else ANY
            parent: Any = None
            if kind == "list" and "flatten" in spec:
                rscope = self.scope(source, "response", item_schema)
                path, list_schema = self.c.path(spec["flatten"], (*at, "flatten"), rscope)
                if path is None:
                    return None
                if not self.schemas.is_array(list_schema):
                    self.c.diagnostics.append(source.diagnostic(
                        "mapping-unknown-source", f"'{spec['flatten']}' is not a list", (*at, "flatten")))
                    return None
                flatten = path.parts
                parent = item_schema
                item_schema = self.schemas.child(list_schema, 0) or ANY
            given = ({"type": "object", "properties": ir.thaw(model.filters)} if kind == "list" else input_schema)
            rscope = self.scope(source, "response", item_schema, parent=parent, context={"input": given})
            response = self.c.fieldmap(raw_response, response_at, rscope, model_schema, nullable=False)
            if response is not None:
                response = u.Record(response.fields, nullable=False, drop_none=False)
        if request is None or (kind != "delete" and response is None):
            return None
        case_inputs = {"type": "object", "properties": ir.thaw(model.filters)} if kind == "list" else input_schema
        cases = self.cases(source, kind, spec, at, data, model, model_schema, tool, case_inputs,
                           inputs_used if kind != "list" else set())
        if cases is None:
            return None
        # inputs
        required = set(spec.get("required") or ())
        for name in sorted(required - inputs_used - {"id"}):
            index = list(spec["required"]).index(name)
            self.c.diagnostics.append(source.diagnostic(
                "mapping-unknown-source", f"required input '{name}' is not used by the request mapping",
                (*at, "required", index)))
        props = input_schema["properties"]
        inputs: list[u.InputField] = []
        if kind in ("get", "update", "delete"):
            inputs.append(u.InputField("id", ir.freeze({"type": "string", "description": f"Id of the {model.singular}."}), True,
                                       f"Id of the {model.singular}."))
        if kind != "list":
            for name in sorted(inputs_used - {"id"}):
                schema = props.get(name, {})
                inputs.append(u.InputField(name, ir.freeze(schema), name in required,
                                           " ".join(str(schema.get("description", "")).split())))
        mapped_filters = {q.filter for q in query} | {q.filter for c in cases for q in c.method.query}
        mapped_sort = {f for f, _, _ in sort.fields} if sort else set()
        return u.UnifiedMethod(
            kind=kind,
            tool=tool,
            operation=op.tool,
            description=" ".join(str(spec.get("description", "")).split()),
            request=request,
            response=response,
            inputs=tuple(inputs),
            before=tuple(steps),
            query=tuple(query),
            sort=sort,
            flatten=flatten,
            unsupported_filters=tuple(f for f in model.filters if f not in mapped_filters) if kind == "list" else (),
            unsupported_sort=tuple(f for f in model.sort_fields if f not in mapped_sort) if kind == "list" else (),
            cursor_arg=(env.paginator.cursor_param if env.paginator else None) if kind == "list" else None,
            limit_arg=(env.paginator.limit_param if env.paginator else None) if kind == "list" else None,
            cases=tuple(cases),
            read_back=read_back,
        )

    def read_back(self, source: SourceFile, raw: dict[str, Any], at: JsonPath, written: ir.Operation,
                  input_schema: dict[str, Any], context: dict[str, Any],
                  inputs_used: set[str]) -> tuple[u.ReadBack | None, ir.Operation | None]:
        op = self.operation(source, raw["operation"], (*at, "operation"))
        if op is None:
            return None, None
        many = op.response.envelope.is_list
        if not many and op.response.envelope.type != "object":
            self.c.diagnostics.append(source.diagnostic(
                "mapping-operation-kind", f"'{op.tool}' answers no object or list to read the record from",
                (*at, "operation")))
            return None, None
        scope = self.scope(source, "request", input_schema, context={**context, "written": written.response.schema or ANY},
                           inputs=inputs_used)
        request = self.c.fieldmap(raw.get("request") or {}, (*at, "request"), scope,
                                  _op_arguments_schema(op, drop=pagination_args(op)), nullable=False)
        if request is None:
            return None, None
        pick = raw.get("pick", "first")
        field: tuple[str | int, ...] = ()
        if isinstance(pick, dict):
            rscope = self.scope(source, "response", op.response.schema or ANY)
            path, _ = self.c.path(pick["max"], (*at, "pick", "max"), rscope)
            if path is None:
                return None, None
            field, pick = path.parts, "max"
        return u.ReadBack(op.tool, request, many, pick, field), op

    def cases(self, source: SourceFile, kind: u.MethodKind, spec: dict[str, Any], at: JsonPath,
              data: dict[str, Any], model: u.UnifiedModel, model_schema: dict[str, Any], tool: str,
              input_schema: dict[str, Any], inputs_used: set[str]) -> list[u.MethodCase] | None:
        """The method's alternatives (`cases`), each compiled as a method of its own; None on errors.
        Inputs the cases read are added to `inputs_used`."""
        out: list[u.MethodCase] = []
        ok = True
        seen: dict[str, int] = {}
        always: int | None = None
        for index, case in enumerate(spec.get("cases") or ()):
            c_at: JsonPath = (*at, "cases", index)
            text = " ".join(str(case["when"]).split())
            earlier = seen.get(text, always)
            if earlier is not None:
                reason = "repeats the condition of" if text in seen else "comes after the always-true"
                self.c.diagnostics.append(source.diagnostic(
                    "mapping-case-unreachable", f"case {index + 1} never runs: it {reason} case {earlier + 1}",
                    (*c_at, "when"), "remove the case or give it a condition of its own"))
                ok = False
                continue
            seen[text] = index
            scope = self.scope(source, "request", input_schema, inputs=inputs_used)
            when = self.c.jinja(case["when"], (*c_at, "when"), scope, None)
            sub = {k: v for k, v in case.items() if k != "when"}
            method = self.method(source, kind, sub, c_at, data, model, model_schema, tool)
            if when is None or method is None:
                ok = False
                continue
            inputs_used |= {i.name for i in method.inputs}
            if isinstance(when, u.Const) and when.value:
                always = index
            out.append(u.MethodCase(when, text, method))
        return out if ok else None

    def _arg(self, source: SourceFile, op: ir.Operation, name: Any, at: JsonPath) -> ir.Argument | None:
        arg = next((a for a in op.arguments if a.name == name), None)
        if arg is None:
            names = [a.name for a in op.arguments]
            close = difflib.get_close_matches(str(name), names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"arguments: {', '.join(names)}"
            self.c.diagnostics.append(source.diagnostic(
                "mapping-unknown-target", f"'{op.tool}' has no argument '{name}'", at, hint))
        return arg

    def query(self, source: SourceFile, spec: dict[str, Any], at: JsonPath, op: ir.Operation,
              model: u.UnifiedModel) -> tuple[list[u.QueryMapping], set[str]]:
        out: list[u.QueryMapping] = []
        covered: set[str] = set()
        scope = self.scope(source, "response", op.response.schema or ANY)
        for name, mapping in (spec.get("query") or {}).items():
            q_at = (*at, "query", name)
            if name not in model.filters:
                close = difflib.get_close_matches(name, list(model.filters), n=1)
                hint = f"did you mean '{close[0]}'?" if close else (
                    f"filters of {model.title}: {', '.join(model.filters) or 'none'} (x-list-filters in the model)")
                self.c.diagnostics.append(source.diagnostic(
                    "mapping-unknown-source", f"'{name}' is not a list filter of {model.title}", q_at, hint))
                continue
            if "sorted_scan" in mapping:
                scan = mapping["sorted_scan"]
                ok = True
                for key, value in scan["with"].items():
                    arg = self._arg(source, op, key, (*q_at, "sorted_scan", "with", key))
                    if arg is None:
                        ok = False
                        continue
                    closed = self.schemas.closed_values(arg.schema)
                    if closed is not None and value not in closed:
                        self.c.diagnostics.append(source.diagnostic(
                            "mapping-enum-coverage", f"{json.dumps(value)} is not a value of '{key}'",
                            (*q_at, "sorted_scan", "with", key), f"allowed: {', '.join(map(str, closed))}"))
                        ok = False
                direction = SCAN_DIRECTION[scan["op"]]
                if scan["order"] != direction:
                    self.c.diagnostics.append(source.diagnostic(
                        "mapping-bad-expression",
                        f"op '{scan['op']}' stops early only on {'a descending' if direction == 'desc' else 'an ascending'} order",
                        (*q_at, "sorted_scan", "op"), f"ask for the {direction} order (order: {direction})"))
                    continue
                path, _ = self.c.path(scan["field"], (*q_at, "sorted_scan", "field"), scope)
                if path is None or not ok:
                    continue
                out.append(u.SortedScan(name, tuple(scan["with"].items()), scan["order"], path.parts, scan["op"]))
                continue
            arg = self._arg(source, op, mapping["param"], (*q_at, "param"))
            if arg is None:
                continue
            if arg.location not in ("query", "path"):
                self.c.diagnostics.append(source.diagnostic(
                    "mapping-unknown-target",
                    f"'{arg.name}' of '{op.tool}' is a {arg.location} argument, not a query or path parameter",
                    (*q_at, "param")))
                continue
            in_path = arg.location == "path"
            if in_path and mapping.get("required") is False:
                self.c.diagnostics.append(source.diagnostic(
                    "mapping-path-filter",
                    f"'{name}' goes into the path of '{op.tool}': it cannot be optional", (*q_at, "required"),
                    "leave out `required` (a path filter is always required)"))
                covered.add(arg.name)
                continue
            table: tuple[tuple[Any, Any], ...] = tuple((mapping.get("map") or {}).items())
            item_schema = self.schemas.child(arg.schema, 0) if self.schemas.is_array(arg.schema) else arg.schema
            known = self.schemas.closed_values(item_schema) or self.schemas.known_values(item_schema)
            if known is not None:
                for key, value in table:
                    if value not in known:
                        self.c.diagnostics.append(source.diagnostic(
                            "mapping-enum-coverage", f"maps '{key}' to {json.dumps(value)}, not a value of '{arg.name}'",
                            (*q_at, "map", key), f"allowed: {', '.join(map(str, known))}"))
            extra: list[tuple[str, Any]] = []
            for key, value in (mapping.get("with") or {}).items():
                extra_arg = self._arg(source, op, key, (*q_at, "with", key))
                if extra_arg is not None:
                    extra.append((key, value))
            if mapping.get("required") or in_path:
                covered.add(arg.name)
            closed_values = self.schemas.closed_values(item_schema)
            out.append(u.QueryParam(
                filter=name, param=arg.name, convert=mapping.get("as"), table=table, extra=tuple(extra),
                required=bool(mapping.get("required")) or in_path, wrap_list=self.schemas.is_array(arg.schema),
                allowed=tuple(closed_values) if closed_values is not None else None,
            ))
        return out, covered

    def sort(self, source: SourceFile, spec: dict[str, Any], at: JsonPath, op: ir.Operation,
             model: u.UnifiedModel) -> u.SortMapping | None:
        raw = spec.get("sort_by")
        if raw is None:
            return None
        s_at = (*at, "sort_by")
        arg = self._arg(source, op, raw["param"], (*s_at, "param"))
        if arg is None:
            return None
        closed = self.schemas.closed_values(arg.schema)
        fields: list[tuple[str, str, str]] = []
        dir_spec = raw.get("direction")
        direction_param: str | None = None
        direction_values = ("asc", "desc")
        if dir_spec is not None:
            d_arg = self._arg(source, op, dir_spec["param"], (*s_at, "direction", "param"))
            if d_arg is None:
                return None
            direction_param = d_arg.name
            direction_values = (dir_spec.get("asc", "asc"), dir_spec.get("desc", "desc"))
            d_closed = self.schemas.closed_values(d_arg.schema)
            for key, value in zip(("asc", "desc"), direction_values, strict=True):
                if d_closed is not None and value not in d_closed:
                    self.c.diagnostics.append(source.diagnostic(
                        "mapping-enum-coverage", f"{json.dumps(value)} is not a value of '{d_arg.name}'",
                        (*s_at, "direction", key if key in dir_spec else "param"),
                        f"allowed: {', '.join(map(str, d_closed))}"))
        for name, values in raw["fields"].items():
            if isinstance(values, str) != (dir_spec is not None):
                message = (f"'{name}' gives one value, but no `direction` parameter carries the direction"
                           if isinstance(values, str) else
                           f"'{name}' gives a value per direction, but `direction` already carries the direction")
                hint = ("add `direction: {param: <argument>}` or give {asc: ..., desc: ...}" if isinstance(values, str)
                        else "give the field's one value, e.g. " + f"'{name}: {values['asc']}'")
                self.c.diagnostics.append(source.diagnostic(
                    "mapping-sort-direction", message, (*s_at, "fields", name), hint))
                continue
            if isinstance(values, str):
                values = {"asc": values, "desc": values}
            if name not in model.sort_fields:
                close = difflib.get_close_matches(name, list(model.sort_fields), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"sortable fields: {', '.join(model.sort_fields)}"
                self.c.diagnostics.append(source.diagnostic(
                    "mapping-unknown-source", f"'{name}' is not a sort field of {model.title}", (*s_at, "fields", name), hint))
                continue
            for direction in ("asc", "desc"):
                if closed is not None and values[direction] not in closed:
                    self.c.diagnostics.append(source.diagnostic(
                        "mapping-enum-coverage", f"{json.dumps(values[direction])} is not a value of '{arg.name}'",
                        (*s_at, "fields", name, direction), f"allowed: {', '.join(map(str, closed))}"))
            fields.append((name, values["asc"], values["desc"]))
        return u.SortMapping(arg.name, tuple(fields), direction_param, direction_values)


def _dedupe(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for d in diagnostics:
        key = (d.rule, d.message, d.file, d.line, d.column)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _hash(files: Iterable[SourceFile], root: FsPath) -> str:
    digest = hashlib.sha256()
    for source in sorted(files, key=lambda s: s.path.as_posix()):
        digest.update(source.path.resolve().relative_to(root.resolve()).as_posix().encode())
        digest.update(b"\0")
        digest.update(source.raw)
        digest.update(b"\0")
    return digest.hexdigest()


def compile_unified(connector: ir.Connector, root: FsPath) -> tuple[u.UnifiedApi | None, list[Diagnostic]]:
    """Load, check and compile the unified models and this connector's mappings under `root`."""
    loaded, diagnostics = load_files(root, connector.name)
    registry: dict[str, Any] = dict(ir.thaw(connector.schemas))
    for title, schema in loaded.defs.items():
        if title in registry:
            source, at = loaded.def_sources[title]
            diagnostics.append(source.diagnostic(
                "duplicate-schema-name", f"unified schema '{title}' has the name of a {connector.title} schema", at))
            continue
        registry[title] = schema
    schemas = Schemas(registry)
    compiler = Compiler()
    rc = ResourceCompiler(connector, schemas, compiler)
    resources: list[u.UnifiedResource] = []
    seen: dict[str, SourceFile] = {}
    for source in loaded.mappings:
        key = source.data["unified"]
        model = loaded.models.get(key)
        if model is None:
            close = difflib.get_close_matches(key, list(loaded.models), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"models: {', '.join(sorted(loaded.models))}"
            compiler.diagnostics.append(source.diagnostic(
                "mapping-unknown-target", f"no unified model '{key}' under {MAPPINGS_DIR}/{MODELS_DIR}/", ("unified",), hint))
            continue
        if key in seen:
            first = seen[key]
            compiler.diagnostics.append(source.diagnostic(
                "mapping-duplicate-resource", f"'{key}' is already mapped by {first.display}", ("unified",)))
            continue
        seen[key] = source
        resource = rc.compile(source, model)
        if resource is not None:
            resources.append(resource)
    diagnostics.extend(compiler.diagnostics)
    diagnostics = _dedupe(diagnostics)
    if any(d.severity == "error" for d in diagnostics):
        return None, diagnostics
    models = tuple(_model_ir(m) for _, m in sorted(loaded.models.items()))
    resources.sort(key=lambda r: (r.category, r.name))
    api = u.UnifiedApi(
        connector=connector.name,
        models=models,
        defs=ir.freeze({k: _clean_def(v) for k, v in sorted(loaded.defs.items())}),
        resources=tuple(resources),
        source_hash=_hash(loaded.files, root),
        source_files=tuple(sorted(s.path.resolve().relative_to(root.resolve()).as_posix() for s in loaded.files)),
    )
    return api, diagnostics


def _clean_def(schema: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(schema)
