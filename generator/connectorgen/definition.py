"""Loading a whole connector definition and checking it against the language schemas.

Stages (all problems are collected, none stops the others unless later stages would only repeat
them):

1. load `connector.yaml` and the resource and schema files it includes (`loader`);
2. check each file against its language schema (`language/*.schema.json`), turning jsonschema
   errors into located diagnostics with a rule id per kind of mistake;
3. resolve every `$ref` across files into a connector-wide schema registry, rewriting refs to
   `#/$defs/<Name>`.

The semantic rule catalogue (`rules`) and the IR compiler (`compiler`) run on the result.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources as importlib_resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from .diagnostics import Diagnostic, JsonPath
from .loader import LoadError, SourceFile, load_yaml_file

SCHEMA_DATA_KEYWORDS = frozenset(
    {"examples", "example", "default", "const", "enum", "x-known-values", "description", "title"}
)
SCHEMA_MAP_KEYWORDS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
DEFINITION_FILE = "connector.yaml"
#: The optional sandbox definition (seed data and vendor behaviours), next to connector.yaml.
SANDBOX_FILE = "sandbox/sandbox.yaml"


@cache
def language_schema(name: str) -> dict[str, Any]:
    """One of the language schemas shipped with the generator (connector, resource, schema-file)."""
    text = importlib_resources.files("connectorgen.language").joinpath(f"{name}.schema.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result


@cache
def _language_validator(name: str) -> jsonschema.protocols.Validator:
    schema = language_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


META_2020_12 = "https://json-schema.org/draft/2020-12/schema"
#: Where the flattened copy of the draft 2020-12 meta-schema is registered (never fetched).
FLAT_META_ID = "https://connectorgen.dev/schemas/flat-2020-12-meta.json"
_VOCABULARIES = ("core", "applicator", "unevaluated", "validation", "meta-data", "format-annotation", "content")


def _flat_refs(node: Any) -> Any:
    """`$dynamicRef: "#meta"` -> `$ref: "#"`, `meta/<vocabulary>#/$defs/X` -> `#/$defs/X`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$dynamicRef" and value == "#meta":
                out["$ref"] = "#"
            elif key == "$ref" and isinstance(value, str) and "#" in value:
                out["$ref"] = "#" + value.split("#", 1)[1]
            else:
                out[key] = _flat_refs(value)
        return out
    if isinstance(node, list):
        return [_flat_refs(v) for v in node]
    return node


@cache
def flat_meta_schema() -> dict[str, Any]:
    """The draft 2020-12 meta-schema as one document: its vocabulary meta-schemas merged (their
    properties and $defs are disjoint) and every `$dynamicRef` to the meta-schema a plain `$ref` to
    the root. Within a document that declares no `$dynamicAnchor` of its own, as ours, it accepts
    exactly what the original accepts; jsonschema only checks it far faster."""
    from jsonschema_specifications import REGISTRY

    root = REGISTRY.contents(META_2020_12)
    flat: dict[str, Any] = {"$schema": META_2020_12, "$id": FLAT_META_ID, "type": ["object", "boolean"]}
    properties: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for part in [*(REGISTRY.contents(f"{META_2020_12.rsplit('/', 1)[0]}/meta/{v}") for v in _VOCABULARIES), root]:
        for name, value in part.get("properties", {}).items():
            if name in properties:
                raise RuntimeError(f"meta-schema vocabularies both define {name}")
            properties[name] = _flat_refs(value)
        for name, value in part.get("$defs", {}).items():
            if name in defs:
                raise RuntimeError(f"meta-schema vocabularies both define $defs/{name}")
            defs[name] = _flat_refs(value)
    flat["properties"], flat["$defs"] = properties, defs
    return flat


def _uses_meta(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == META_2020_12 or any(_uses_meta(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_meta(v) for v in node)
    return False


def _to_flat_meta(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: FLAT_META_ID if k == "$ref" and v == META_2020_12 else _to_flat_meta(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_flat_meta(v) for v in node]
    return node


@cache
def _fast_validator(name: str) -> jsonschema.protocols.Validator | None:
    """The language schema with its references to the 2020-12 meta-schema pointed at the flat copy
    (None when it has none). It only accepts valid files quickly: a file it rejects is validated
    again by the real validator, so diagnostics never depend on it."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    schema = language_schema(name)
    if not _uses_meta(schema):
        return None
    registry: Registry[Any] = Registry().with_resource(
        FLAT_META_ID, Resource.from_contents(flat_meta_schema(), default_specification=DRAFT202012)
    )
    cls = jsonschema.validators.validator_for(schema)
    return cls(_to_flat_meta(schema), registry=registry)


@dataclass(slots=True)
class SchemaEntry:
    """A named schema of the registry and where it was written."""

    name: str
    file: SourceFile
    json_path: JsonPath
    schema: dict[str, Any]


@dataclass(slots=True)
class RawDefinition:
    """A loaded definition whose files passed (or partly passed) the language schemas."""

    root: Path
    connector: SourceFile
    resources: list[SourceFile] = field(default_factory=list)
    schema_files: list[SourceFile] = field(default_factory=list)
    registry: dict[str, SchemaEntry] = field(default_factory=dict)
    structurally_valid: set[Path] = field(default_factory=set)
    sandbox: SourceFile | None = None

    @property
    def files(self) -> list[SourceFile]:
        return [self.connector, *self.resources, *self.schema_files, *([self.sandbox] if self.sandbox else [])]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For anyOf/oneOf failures, the errors of the branch that got furthest (not all branches)."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return _leaf_errors(best) if best is not None else [error]
    return [error]


def _schema_diagnostics(source: SourceFile, error: ValidationError) -> list[Diagnostic]:
    path: JsonPath = tuple(error.absolute_path)
    instance = error.instance
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        pattern_props = schema.get("patternProperties", {})
        out = []
        for key in instance:
            if key in known or any(re.search(p, key) for p in pattern_props):
                continue
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(sorted(known))}"
            out.append(source.diagnostic("unknown-key", f"unknown key '{key}'", (*path, key), hint))
        if out:
            return out
    if validator == "unevaluatedProperties" and isinstance(instance, dict):
        return [source.diagnostic("unknown-key", error.message, path)]
    if validator == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        name = missing[0] if missing else str(error.validator_value)
        return [source.diagnostic("missing-key", f"missing required key '{name}'", path)]
    if validator in ("enum", "const"):
        allowed = error.validator_value if validator == "enum" else [error.validator_value]
        key = path[-1] if path else ""
        rule = "unknown-kind" if key in ("type", "kind", "in", "style", "method", "content_type") else "invalid-value"
        close = difflib.get_close_matches(str(instance), [str(a) for a in allowed], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(map(str, allowed))}"
        return [source.diagnostic(rule, f"{json.dumps(instance)} is not a valid '{key}'", path, hint)]
    if validator == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return [
            source.diagnostic("wrong-type", f"expected {expected_text}, found {_json_type(instance)}", path)
        ]
    if validator == "pattern":
        key = path[-1] if path else "value"
        return [
            source.diagnostic(
                "invalid-value", f"{json.dumps(instance)} does not match the pattern of '{key}'",
                path, f"pattern: {error.validator_value}",
            )
        ]
    if validator == "propertyNames":
        return [source.diagnostic("invalid-value", f"invalid name: {error.message}", path)]
    message = error.message
    if len(message) > 200:
        message = message[:197] + "..."
    return [source.diagnostic("invalid-value", message, path)]


def check_language(source: SourceFile, schema_name: str) -> list[Diagnostic]:
    """Validate one loaded file against a language schema; [] when it conforms."""
    if not isinstance(source.data, dict):
        return [
            source.diagnostic(
                "wrong-type", f"expected a mapping at the top of the file, found {_json_type(source.data)}"
            )
        ]
    fast = _fast_validator(schema_name)
    if fast is not None and fast.is_valid(source.data):
        return []
    validator = _language_validator(schema_name)
    diagnostics: list[Diagnostic] = []
    for error in validator.iter_errors(source.data):
        for leaf in _leaf_errors(error):
            diagnostics.extend(_schema_diagnostics(source, leaf))
    return _dedupe(diagnostics)


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for d in diagnostics:
        key = (d.rule, d.message, d.line, d.column, d.file)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _load(path: Path, diagnostics: list[Diagnostic]) -> SourceFile | None:
    try:
        return load_yaml_file(path)
    except LoadError as exc:
        diagnostics.append(exc.diagnostic)
        return None


INCLUDE_RULE = "include-outside-definition"


def _include_pattern_problem(pattern: str) -> str | None:
    """Why an include glob cannot be used, or None. Globs stay inside the connector folder."""
    posix, windows = PurePosixPath(pattern), PureWindowsPath(pattern)
    if posix.is_absolute() or windows.anchor:
        return f"include pattern '{pattern}' is absolute"
    if ".." in posix.parts or ".." in windows.parts:
        return f"include pattern '{pattern}' climbs out of the connector folder with '..'"
    if not posix.parts:
        return f"include pattern '{pattern}' names no files"
    return None


def _inside_folder(
    connector: SourceFile, base: Path, kind: str, pattern: str, matched: list[Path], diagnostics: list[Diagnostic]
) -> list[Path]:
    """The matched files that really are inside the connector folder (not links out of it).

    An escaping file is reported by its name inside the folder and never read, so no diagnostic
    can echo the content of a file outside the definition.
    """
    folder = base.resolve()
    inside = []
    for path in matched:
        if path.resolve().is_relative_to(folder):
            inside.append(path)
            continue
        name = path.relative_to(base).as_posix()
        message = f"'{name}' (matched by '{pattern}') links to a file outside the connector folder"
        hint = "copy the file into the connector folder instead of linking to it"
        diagnostics.append(connector.diagnostic(INCLUDE_RULE, message, ("include", kind), hint))
    return inside


def load_definition(root: Path) -> tuple[RawDefinition | None, list[Diagnostic]]:
    """Load and structurally check a connector folder (or its connector.yaml)."""
    diagnostics: list[Diagnostic] = []
    connector_path = root / DEFINITION_FILE if root.is_dir() else root
    base = connector_path.parent
    connector = _load(connector_path, diagnostics)
    if connector is None:
        return None, diagnostics
    raw = RawDefinition(root=base, connector=connector)
    connector_errors = check_language(connector, "connector")
    diagnostics.extend(connector_errors)
    if not connector_errors:
        raw.structurally_valid.add(connector.path)
    include = connector.data.get("include", {}) if isinstance(connector.data, dict) else {}
    include = include if isinstance(include, dict) else {}
    for kind, default, schema_name, target in (
        ("resources", "resources/*.yaml", "resource", raw.resources),
        ("schemas", "schemas/*.yaml", "schema-file", raw.schema_files),
    ):
        pattern = include.get(kind, default)
        if not isinstance(pattern, str):
            continue
        problem = _include_pattern_problem(pattern)
        if problem:
            hint = f"use a glob relative to {DEFINITION_FILE} without '..', like '{default}'"
            diagnostics.append(connector.diagnostic(INCLUDE_RULE, problem, ("include", kind), hint))
            continue
        paths = sorted(base.glob(pattern))
        if not paths:
            diagnostics.append(
                connector.diagnostic(
                    "file-not-found", f"no {kind} files match '{pattern}'", ("include", kind),
                    f"create {pattern.replace('*', '<name>')} next to {DEFINITION_FILE}",
                )
            )
        for path in _inside_folder(connector, base, kind, pattern, paths, diagnostics):
            loaded = _load(path, diagnostics)
            if loaded is None:
                continue
            errors = check_language(loaded, schema_name)
            diagnostics.extend(errors)
            target.append(loaded)
            if not errors:
                raw.structurally_valid.add(loaded.path)
    sandbox_path = base / SANDBOX_FILE
    if sandbox_path.is_file() and sandbox_path.resolve().is_relative_to(base.resolve()):
        raw.sandbox = _load(sandbox_path, diagnostics)
        if raw.sandbox is not None:
            errors = check_language(raw.sandbox, "sandbox")
            diagnostics.extend(errors)
            if not errors:
                raw.structurally_valid.add(raw.sandbox.path)
    diagnostics.extend(build_registry(raw))
    return raw, diagnostics


# --- $ref resolution -------------------------------------------------------------------------


def _root_schema(document: dict[str, Any]) -> dict[str, Any]:
    """A schema file's root schema, without its `$defs` (registered separately) and meta keys."""
    return {k: v for k, v in document.items() if k not in ("$defs", "$schema", "$id")}


def _schema_name_of_file(source: SourceFile) -> str | None:
    data = source.data
    if isinstance(data, dict) and isinstance(data.get("title"), str):
        return str(data["title"])
    return None


def build_registry(raw: RawDefinition) -> list[Diagnostic]:
    """Register every named schema and rewrite all `$ref`s to `#/$defs/<Name>`."""
    diagnostics: list[Diagnostic] = []
    by_path: dict[Path, SourceFile] = {}
    for source in raw.schema_files:
        if not isinstance(source.data, dict):
            continue
        by_path[source.path.resolve()] = source
        root_name = _schema_name_of_file(source)
        entries: list[tuple[str, JsonPath, dict[str, Any]]] = []
        if root_name:
            entries.append((root_name, (), _root_schema(source.data)))
        defs = source.data.get("$defs", {})
        if isinstance(defs, dict):
            for name, schema in defs.items():
                if isinstance(schema, dict):
                    entries.append((name, ("$defs", name), schema))
        for name, json_path, schema in entries:
            if name in raw.registry:
                first = raw.registry[name]
                line, col = first.file.locate(first.json_path)
                diagnostics.append(
                    source.diagnostic(
                        "duplicate-schema-name", f"schema name '{name}' is already defined",
                        json_path or ("title",), f"first defined at {first.file.display}:{line}:{col}",
                    )
                )
                continue
            raw.registry[name] = SchemaEntry(name, source, json_path, schema)

    def resolve(source: SourceFile, ref: str, at: JsonPath) -> str | None:
        file_part, _, fragment = ref.partition("#")
        if file_part:
            target_path = (source.path.parent / file_part).resolve()
            target = by_path.get(target_path)
            if target is None:
                hint = "refs point at files under schemas/, relative to the file that holds the ref"
                diagnostics.append(source.diagnostic("unresolved-ref", f"$ref to unknown file '{file_part}'", at, hint))
                return None
        else:
            target = source
        if fragment in ("", "/"):
            name = _schema_name_of_file(target) if target in raw.schema_files else None
            if name is None:
                diagnostics.append(
                    source.diagnostic("unresolved-ref", f"'{ref}' does not point at a schema file with a title", at)
                )
                return None
            return name
        parts = fragment.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "$defs":
            name = parts[1]
            entry = raw.registry.get(name)
            if entry is not None and entry.file is target:
                return name
            known = [n for n, e in raw.registry.items() if e.file is target]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '#/$defs/{close[0]}'?" if close else "declare it under $defs of that file"
            diagnostics.append(source.diagnostic("unresolved-ref", f"'{ref}' names no schema", at, hint))
            return None
        diagnostics.append(
            source.diagnostic(
                "unresolved-ref", f"unsupported $ref '{ref}'", at,
                "refer to a whole schema file or to '<file>#/$defs/<Name>'",
            )
        )
        return None

    def rewrite(node: Any, source: SourceFile, at: JsonPath) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#/$defs/__resolved__"):
                name = resolve(source, ref, (*at, "$ref"))
                node["$ref"] = f"#/$defs/{name}" if name else "#/$defs/__unresolved__"
            for key, value in node.items():
                if key in SCHEMA_DATA_KEYWORDS:
                    continue
                if key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
                    for prop, sub in value.items():
                        rewrite(sub, source, (*at, key, prop))
                elif isinstance(value, dict | list):
                    rewrite(value, source, (*at, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                rewrite(item, source, (*at, index))

    # Rewrite in schema files (registry entries share the dicts of the file data).
    for source in raw.schema_files:
        if isinstance(source.data, dict):
            rewrite(source.data, source, ())
    for entry in raw.registry.values():
        if entry.json_path == ():  # the copy taken above predates the rewrite of top-level refs
            entry.schema = _root_schema(entry.file.data)
    for fragment_source, at, fragment in iter_schema_fragments(raw):
        rewrite(fragment, fragment_source, at)
    diagnostics.extend(_alias_cycles(raw))
    return diagnostics


def iter_schema_fragments(raw: RawDefinition) -> list[tuple[SourceFile, JsonPath, dict[str, Any]]]:
    """JSON Schema fragments written inside connector and resource files."""
    found: list[tuple[SourceFile, JsonPath, dict[str, Any]]] = []
    data = raw.connector.data if isinstance(raw.connector.data, dict) else {}
    errors = data.get("errors")
    if isinstance(errors, dict) and isinstance(errors.get("schema"), dict):
        found.append((raw.connector, ("errors", "schema"), errors["schema"]))
    envelopes = data.get("envelopes")
    if isinstance(envelopes, dict):
        for name, env in envelopes.items():
            if isinstance(env, dict) and isinstance(env.get("page_schema"), dict):
                found.append((raw.connector, ("envelopes", name, "page_schema"), env["page_schema"]))
    for source in raw.resources:
        ops = source.data.get("operations") if isinstance(source.data, dict) else None
        if not isinstance(ops, list):
            continue
        for i, op in enumerate(ops):
            if not isinstance(op, dict):
                continue
            for j, param in enumerate(op.get("parameters") or []):
                if isinstance(param, dict) and isinstance(param.get("schema"), dict):
                    found.append((source, ("operations", i, "parameters", j, "schema"), param["schema"]))
            for section in ("body", "response"):
                part = op.get(section)
                if isinstance(part, dict) and isinstance(part.get("schema"), dict):
                    found.append((source, ("operations", i, section, "schema"), part["schema"]))
            response = op.get("response")
            sideloads = response.get("sideloads") if isinstance(response, dict) else None
            if isinstance(sideloads, dict):
                for name, schema in sideloads.items():
                    if isinstance(schema, dict):
                        found.append((source, ("operations", i, "response", "sideloads", name), schema))
    return found


ANNOTATION_KEYS = frozenset({"description", "title", "examples", "deprecated", "readOnly", "writeOnly"})


def _alias_cycles(raw: RawDefinition) -> list[Diagnostic]:
    diagnostics = []
    reported: set[str] = set()
    for start in raw.registry:
        chain = [start]
        current = start
        while True:
            schema = raw.registry[current].schema
            if not isinstance(schema, dict) or set(schema) - ANNOTATION_KEYS != {"$ref"}:
                break
            ref = schema["$ref"]
            nxt = ref.removeprefix("#/$defs/") if isinstance(ref, str) else ""
            if nxt not in raw.registry:
                break
            if nxt in chain:
                cycle = chain[chain.index(nxt) :]
                if not reported.intersection(cycle):
                    reported.update(cycle)
                    entry = raw.registry[start]
                    diagnostics.append(
                        entry.file.diagnostic(
                            "cyclic-ref", f"schemas refer to each other in a loop: {' -> '.join([*cycle, nxt])}",
                            (*entry.json_path, "$ref"), "one schema in the loop must define properties",
                        )
                    )
                break
            chain.append(nxt)
            current = nxt
    return diagnostics


def resolve_schema(registry: dict[str, Any], schema: Any, limit: int = 32) -> Any:
    """Follow a top-level `$ref` chain through the registry (name -> schema)."""
    for _ in range(limit):
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return schema
        target = registry.get(ref.removeprefix("#/$defs/"))
        if target is None:
            return schema
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**copy.deepcopy(target), **extra} if extra else target
    return schema
