"""The catalogue of named semantic rules run after the language schemas pass.

Each rule has an id (used in `error[rule-id]`), a one-line summary, and a function yielding
diagnostics. Every rule has a failing fixture under `tests/fixtures/rules/<rule-id>/`.
"""

from __future__ import annotations

import base64
import difflib
import json
import keyword
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema

from . import compiler, ir
from .definition import (
    SCHEMA_DATA_KEYWORDS,
    SCHEMA_MAP_KEYWORDS,
    RawDefinition,
    iter_schema_fragments,
    meta_schema_errors,
    resolve_schema,
)
from .diagnostics import Diagnostic, JsonPath
from .loader import SourceFile

TOOL_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_TOOL_NAME = 64
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
DISTRIBUTION_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")  # PEP 508


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    summary: str
    check: Callable[[RuleContext], Iterator[Diagnostic]]


RULES: dict[str, Rule] = {}


def rule(rule_id: str, summary: str) -> Callable[[Callable[[RuleContext], Iterator[Diagnostic]]], Any]:
    def register(fn: Callable[[RuleContext], Iterator[Diagnostic]]) -> Callable[[RuleContext], Iterator[Diagnostic]]:
        RULES[rule_id] = Rule(rule_id, summary, fn)
        return fn

    return register


@dataclass(frozen=True, slots=True)
class OperationSite:
    source: SourceFile
    index: int
    op: dict[str, Any]
    resource: dict[str, Any]

    @property
    def at(self) -> JsonPath:
        return ("operations", self.index)

    def diag(self, rule_id: str, message: str, sub: JsonPath = (), hint: str = "") -> Diagnostic:
        return self.source.diagnostic(rule_id, message, (*self.at, *sub), hint)


class RuleContext:
    def __init__(self, raw: RawDefinition) -> None:
        self.raw = raw
        data = raw.connector.data if isinstance(raw.connector.data, dict) else {}
        self.connector: dict[str, Any] = data
        self.registry = {name: entry.schema for name, entry in raw.registry.items()}
        self.sites: list[OperationSite] = []
        for source in raw.resources:
            if source.path not in raw.structurally_valid:
                continue
            for index, op in enumerate(source.data.get("operations", [])):
                self.sites.append(OperationSite(source, index, op, source.data))

    def names(self, section: str) -> set[str]:
        value = self.connector.get(section)
        return set(value) if isinstance(value, dict) else set()


def run_rules(raw: RawDefinition) -> list[Diagnostic]:
    ctx = RuleContext(raw)
    out: list[Diagnostic] = []
    for r in RULES.values():
        try:
            out.extend(r.check(ctx))
        except Exception as exc:  # a rule must never turn bad input into a traceback
            out.append(raw.connector.diagnostic(
                "internal-error", f"rule '{r.id}' could not finish: {type(exc).__name__}: {exc}",
                hint="fix the other errors first; if this persists, report it as a generator bug",
            ))
    return out


# --- operations --------------------------------------------------------------------------------


@rule("duplicate-tool-name", "Two operations share a tool name.")
def _duplicate_tool_name(ctx: RuleContext) -> Iterator[Diagnostic]:
    seen: dict[str, OperationSite] = {}
    for site in ctx.sites:
        tool = site.op["tool"]
        if tool in seen:
            first = seen[tool]
            line, col = first.source.locate((*first.at, "tool"))
            yield site.diag(
                "duplicate-tool-name", f"tool name '{tool}' is already used", ("tool",),
                f"first used at {first.source.display}:{line}:{col}",
            )
        else:
            seen[tool] = site


@rule("tool-name-format", "Tool names are snake_case and at most 64 characters (MCP clients reject longer).")
def _tool_name_format(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        tool = site.op["tool"]
        if not TOOL_NAME.match(tool):
            yield site.diag("tool-name-format", f"tool name '{tool}' is not snake_case", ("tool",),
                            "use lowercase letters, digits and single underscores")
        elif len(tool) > MAX_TOOL_NAME:
            yield site.diag("tool-name-format", f"tool name '{tool}' is {len(tool)} characters long",
                            ("tool",), f"at most {MAX_TOOL_NAME} characters")


@rule("path-param-undeclared", "A {placeholder} in the path has no path parameter.")
def _path_param_undeclared(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        declared = {p["name"] for p in site.op.get("parameters") or [] if p.get("in") == "path"}
        path = site.op["path"]
        if path.count("{") != path.count("}"):
            yield site.diag("path-param-undeclared", f"unbalanced braces in path '{path}'", ("path",))
            continue
        for name in PLACEHOLDER.findall(path):
            if name not in declared:
                yield site.diag(
                    "path-param-undeclared", f"path placeholder '{{{name}}}' has no path parameter", ("path",),
                    f"add a parameter with name: {name}, in: path, required: true",
                )


@rule("path-param-unused", "A path parameter does not appear in the path template.")
def _path_param_unused(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        placeholders = set(PLACEHOLDER.findall(site.op["path"]))
        for j, p in enumerate(site.op.get("parameters") or []):
            if p.get("in") == "path" and p["name"] not in placeholders:
                yield site.diag(
                    "path-param-unused", f"path parameter '{p['name']}' does not appear in '{site.op['path']}'",
                    ("parameters", j, "name"), "rename it to match a {placeholder} or change 'in'",
                )


@rule("path-param-optional", "Path parameters must be required.")
def _path_param_optional(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        for j, p in enumerate(site.op.get("parameters") or []):
            if p.get("in") == "path" and p.get("required") is False:
                yield site.diag("path-param-optional", f"path parameter '{p['name']}' cannot be optional",
                                ("parameters", j, "required"))


@rule("duplicate-parameter", "The same parameter name is declared twice in one location.")
def _duplicate_parameter(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        seen: set[tuple[str, str]] = set()
        for j, p in enumerate(site.op.get("parameters") or []):
            key = (p["in"], p["name"])
            if key in seen:
                yield site.diag("duplicate-parameter", f"{p['in']} parameter '{p['name']}' is declared twice",
                                ("parameters", j, "name"))
            seen.add(key)


@rule("style-schema-mismatch", "A parameter's style does not fit its schema (repeated/comma need arrays, deep_object an object).")
def _style_schema_mismatch(ctx: RuleContext) -> Iterator[Diagnostic]:
    expected = {"repeated": "array", "comma": "array", "deep_object": "object"}
    for site in ctx.sites:
        for j, p in enumerate(site.op.get("parameters") or []):
            style = p.get("style")
            if style not in expected:
                continue
            if style != "form" and p.get("in") != "query":
                yield site.diag("style-schema-mismatch", f"style '{style}' only applies to query parameters",
                                ("parameters", j, "style"))
                continue
            schema = resolve_schema(ctx.registry, p.get("schema") or {})
            kind = schema.get("type") if isinstance(schema, dict) else None
            kinds = set(kind) if isinstance(kind, list) else {kind}
            if expected[style] not in kinds:
                yield site.diag(
                    "style-schema-mismatch", f"style '{style}' needs a schema of type {expected[style]}",
                    ("parameters", j, "schema"),
                )


@rule("missing-description", "Resources, operations, parameters and named schemas need a description.")
def _missing_description(ctx: RuleContext) -> Iterator[Diagnostic]:
    for source in ctx.raw.resources:
        if source.path not in ctx.raw.structurally_valid:
            continue
        if not str(source.data.get("description", "")).strip():
            yield source.diagnostic("missing-description", "resource has an empty description", ("description",))
    for site in ctx.sites:
        if not str(site.op.get("description", "")).strip():
            yield site.diag("missing-description", f"operation '{site.op['tool']}' has an empty description",
                            ("description",))
        for j, p in enumerate(site.op.get("parameters") or []):
            if not str(p.get("description", "")).strip():
                yield site.diag("missing-description", f"parameter '{p['name']}' has no description",
                                ("parameters", j), "say what the parameter does, in this project's own words")
    for entry in ctx.raw.registry.values():
        if not str(entry.schema.get("description", "")).strip():
            yield entry.file.diagnostic("missing-description", f"schema '{entry.name}' has no description",
                                        entry.json_path or ("title",))


@rule("missing-method-name", "Custom operations, and a second operation of one kind in a resource, need a client method name.")
def _missing_method_name(ctx: RuleContext) -> Iterator[Diagnostic]:
    by_resource: dict[str, dict[str, OperationSite]] = {}
    for site in ctx.sites:
        if site.op["kind"] == "custom" and not site.op.get("name"):
            yield site.diag("missing-method-name", f"custom operation '{site.op['tool']}' needs a 'name'",
                            ("kind",), "the client method name, e.g. name: merge")
            continue
        method = site.op.get("name") or site.op["kind"]
        seen = by_resource.setdefault(site.resource["resource"], {})
        if method in seen:
            yield site.diag(
                "missing-method-name",
                f"client method '{method}' is already used by '{seen[method].op['tool']}' in this resource",
                ("name",) if site.op.get("name") else ("kind",), "give one of them a distinct 'name'",
            )
        else:
            seen[method] = site


@rule("get-with-body", "GET and HEAD requests cannot carry a body.")
def _get_with_body(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        if site.op["method"] in ("GET", "HEAD") and site.op.get("body"):
            yield site.diag("get-with-body", f"{site.op['method']} operation '{site.op['tool']}' declares a body",
                            ("body",), "move the inputs to query parameters")


def _route_key(op: dict[str, Any]) -> tuple[str, str]:
    return op["method"], PLACEHOLDER.sub("{}", op["path"].rstrip("/"))


@rule("duplicate-route", "Two operations call the same method and path without declaring same_endpoint_as.")
def _duplicate_route(ctx: RuleContext) -> Iterator[Diagnostic]:
    seen: dict[tuple[str, str], OperationSite] = {}
    for site in ctx.sites:
        if site.op.get("same_endpoint_as"):
            continue
        key = _route_key(site.op)
        if key in seen:
            yield site.diag(
                "duplicate-route", f"{key[0]} {site.op['path']} is already served by '{seen[key].op['tool']}'",
                ("path",), f"declare same_endpoint_as: {seen[key].op['tool']} if this is an alias",
            )
        else:
            seen[key] = site


@rule("invalid-alias", "same_endpoint_as names an unknown tool, an alias, or a different route.")
def _invalid_alias(ctx: RuleContext) -> Iterator[Diagnostic]:
    tools = {site.op["tool"]: site for site in ctx.sites}
    for site in ctx.sites:
        target_name = site.op.get("same_endpoint_as")
        if not target_name:
            continue
        target = tools.get(target_name)
        if target is None:
            close = difflib.get_close_matches(target_name, sorted(tools), n=1)
            yield site.diag("invalid-alias", f"same_endpoint_as names unknown tool '{target_name}'",
                            ("same_endpoint_as",), f"did you mean '{close[0]}'?" if close else "")
        elif target.op.get("same_endpoint_as"):
            yield site.diag("invalid-alias", f"'{target_name}' is itself an alias", ("same_endpoint_as",),
                            "point at the primary operation")
        elif _route_key(target.op) != _route_key(site.op):
            yield site.diag(
                "invalid-alias",
                f"'{target_name}' calls {target.op['method']} {target.op['path']}, not {site.op['method']} {site.op['path']}",
                ("same_endpoint_as",),
            )


@rule("unknown-behaviour", "A reference to an envelope, paginator, rate limit or retry policy that is not declared.")
def _unknown_behaviour(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path in ctx.raw.structurally_valid:
        paginators = ctx.names("paginators")
        for name, env in ctx.connector["envelopes"].items():
            if env.get("type") == "cursor_list" and env.get("paginator") not in paginators:
                yield connector.diagnostic("unknown-behaviour", f"envelope '{name}' uses unknown paginator "
                                           f"'{env.get('paginator')}'", ("envelopes", name, "paginator"),
                                           f"declared paginators: {', '.join(sorted(paginators)) or 'none'}")
        rate_limits = ctx.names("rate_limits")
        for name, scheme in ctx.connector["auth"].items():
            if "rate_limit" in scheme and scheme["rate_limit"] not in rate_limits:
                yield connector.diagnostic("unknown-behaviour", f"auth '{name}' uses unknown rate limit "
                                           f"'{scheme['rate_limit']}'", ("auth", name, "rate_limit"))
        policy = (ctx.connector.get("defaults") or {}).get("retry_policy")
        if policy is not None and policy not in ctx.names("retry_policies"):
            yield connector.diagnostic("unknown-behaviour", f"unknown retry policy '{policy}'",
                                       ("defaults", "retry_policy"))
    if connector.path not in ctx.raw.structurally_valid:
        return  # the connector's own errors explain it; every envelope would look unknown
    envelopes = ctx.names("envelopes")
    for site in ctx.sites:
        response = site.op["response"]
        references = [(response["envelope"], ("response", "envelope"))]
        references += [(name, ("response", "alternative_envelopes", i))
                       for i, name in enumerate(response.get("alternative_envelopes", []))]
        for name, at in references:
            if name not in envelopes:
                close = difflib.get_close_matches(name, sorted(envelopes), n=1)
                yield site.diag("unknown-behaviour", f"unknown envelope '{name}'", at,
                                f"did you mean '{close[0]}'?" if close else f"declared: {', '.join(sorted(envelopes))}")


@rule("response-schema", "JSON envelopes need a response schema; empty, binary and CSV responses must not have one.")
def _response_schema(ctx: RuleContext) -> Iterator[Diagnostic]:
    envelopes = ctx.connector.get("envelopes") or {}
    for site in ctx.sites:
        env = envelopes.get(site.op["response"]["envelope"])
        if not isinstance(env, dict):
            continue
        has_schema = "schema" in site.op["response"]
        if env["type"] in ir.JSON_ENVELOPES and not has_schema:
            yield site.diag("response-schema", f"'{env['type']}' response of '{site.op['tool']}' has no schema",
                            ("response",), "add schema: {$ref: ../schemas/<object>.yaml}")
        elif env["type"] not in ir.JSON_ENVELOPES and has_schema:
            yield site.diag("response-schema", f"'{env['type']}' responses carry no JSON schema",
                            ("response", "schema"))
        yield from _alternative_envelopes_share_items(site, env, envelopes)


KEYLESS_ENVELOPES = frozenset({"empty", "binary", "csv", "bare_array"})


@rule("response-key-envelope", "A response `key` or side-loads on an envelope that has no top-level object (empty, binary, csv, bare_array).")
def _response_key_envelope(ctx: RuleContext) -> Iterator[Diagnostic]:
    envelopes = ctx.connector.get("envelopes") or {}
    for site in ctx.sites:
        env = envelopes.get(site.op["response"]["envelope"])
        if not isinstance(env, dict) or env.get("type") not in KEYLESS_ENVELOPES:
            continue
        for part in ("key", "sideloads"):
            if part in site.op["response"]:
                yield site.diag("response-key-envelope",
                                f"'{env['type']}' responses have no top-level object to hold '{part}'",
                                ("response", part), "use an object, cursor_list or data_list envelope, or remove it")


@rule("wrap-key-body", "A body `wrap_key` on a body that is not a JSON object.")
def _wrap_key_body(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        body = site.op.get("body")
        if not isinstance(body, dict) or "wrap_key" not in body:
            continue
        if body.get("content_type") != "application/json":
            yield site.diag("wrap-key-body", f"wrap_key needs a JSON body, not {body.get('content_type')}",
                            ("body", "wrap_key"), "remove wrap_key or send application/json")
            continue
        resolved = resolve_schema(ctx.registry, body.get("schema"))
        if "argument" in body or not (isinstance(resolved, dict) and isinstance(resolved.get("properties"), dict)):
            yield site.diag("wrap-key-body", "wrap_key needs an object body schema with properties (the inner object)",
                            ("body", "wrap_key"), "describe the inner object in body.schema, or remove wrap_key")


def _argument_schemas(ctx: RuleContext, op: dict[str, Any]) -> dict[str, Any]:
    """Flat argument name -> schema of an operation (parameters, then body properties)."""
    out: dict[str, Any] = {}
    for param in op.get("parameters") or []:
        if isinstance(param, dict) and isinstance(param.get("name"), str):
            out.setdefault(param["name"], param.get("schema", {}))
    body = op.get("body")
    if isinstance(body, dict):
        if isinstance(body.get("argument"), str):
            out.setdefault(body["argument"], body.get("schema", {}))
        else:
            resolved = resolve_schema(ctx.registry, body.get("schema"))
            properties = resolved.get("properties") if isinstance(resolved, dict) else None
            for name, schema in (properties or {}).items():
                out.setdefault(name, schema)
    return out


@rule("argument-default", "An argument default names an unknown argument or operation, reads through an "
      "operation that changes data, or gives a constant its argument's schema refuses.")
def _argument_default(ctx: RuleContext) -> Iterator[Diagnostic]:
    by_tool = {site.op["tool"]: site for site in ctx.sites}
    for site in ctx.sites:
        defaults = site.op.get("defaults") or []
        if not defaults:
            continue
        own = _argument_schemas(ctx, site.op)
        for i, default in enumerate(defaults):
            at: JsonPath = ("defaults", i)
            name = default["argument"]
            if name not in own:
                hint = difflib.get_close_matches(name, list(own), n=1)
                yield site.diag("argument-default", f"'{name}' is not an argument of '{site.op['tool']}'",
                                (*at, "argument"), f"did you mean '{hint[0]}'?" if hint else
                                f"arguments: {', '.join(sorted(own)) or 'none'}")
                continue
            for key in default.get("when") or {}:
                if key not in own:
                    yield site.diag("argument-default", f"condition on '{key}', which is not an argument of "
                                    f"'{site.op['tool']}'", (*at, "when", key),
                                    "conditions name arguments of the same operation")
            source = default.get("from_operation")
            if ("value" in default) == (source is not None):
                yield site.diag("argument-default", f"the default of '{name}' needs exactly one of value or "
                                "from_operation", at, "a constant is `value:`; a looked-up value is "
                                "`from_operation:` with `pick:`")
                continue
            if source is None:
                schema = resolve_schema(ctx.registry, own[name])
                if isinstance(schema, dict) and "$ref" not in json.dumps(schema):
                    problem = next(jsonschema.Draft202012Validator(schema).iter_errors(default["value"]), None)
                    if problem is not None:
                        yield site.diag("argument-default", f"the default value of '{name}' does not fit its "
                                        f"schema: {problem.message}", (*at, "value"),
                                        "give a value the argument's schema accepts")
                continue
            target = by_tool.get(source)
            if target is None:
                hint = difflib.get_close_matches(source, list(by_tool), n=1)
                yield site.diag("argument-default", f"from_operation '{source}' is not an operation of this "
                                "definition", (*at, "from_operation"),
                                f"did you mean '{hint[0]}'?" if hint else "name the tool of a get or list operation")
                continue
            if not (target.op["method"] in ("GET", "HEAD") or target.op.get("read_only")):
                yield site.diag("argument-default", f"from_operation '{source}' changes data; a default may "
                                "only read", (*at, "from_operation"), "use a get or list operation")
            if "pick" not in default:
                yield site.diag("argument-default", f"the default of '{name}' from '{source}' says nothing to "
                                "pick from its result", at, "add pick: <field> or pick: {key: field}")
            theirs = _argument_schemas(ctx, target.op)
            given = default.get("arguments") or {}
            for key, value in given.items():
                if key not in theirs:
                    yield site.diag("argument-default", f"'{key}' is not an argument of '{source}'",
                                    (*at, "arguments", key), f"arguments: {', '.join(sorted(theirs)) or 'none'}")
                elif isinstance(value, dict) and set(value) == {"argument"} and value["argument"] not in own:
                    yield site.diag("argument-default", f"'{value['argument']}' is not an argument of "
                                    f"'{site.op['tool']}'", (*at, "arguments", key),
                                    "{argument: <name>} passes one of this operation's arguments")
            for param in target.op.get("parameters") or []:
                if isinstance(param, dict) and param.get("required") and param.get("name") not in given:
                    yield site.diag("argument-default", f"'{source}' needs '{param.get('name')}', which the "
                                    "default does not pass", (*at, "arguments"),
                                    "add it under arguments (a constant or {argument: <name>})")
#: An HTTP token (RFC 9110 tchar), less '|' and '`', which no header the APIs use holds and which
#: would break the Markdown the name is documented in.
HEADER_TOKEN = re.compile(r"^[!#$%&'*+\-.^_~0-9A-Za-z]+$")
#: Headers the clients set themselves (credentials, body framing); a parameter may not send them.
MANAGED_HEADERS = frozenset({"authorization", "content-length", "host", "transfer-encoding", "connection"})


@rule("wire-name", "A parameter wire name that cannot be sent: not an HTTP token for a header, "
      "characters a query name cannot hold, a path parameter with one, or a header the client manages.")
def _wire_name(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        for index, param in enumerate(site.op.get("parameters") or []):
            if not isinstance(param, dict) or "wire_name" not in param:
                continue
            wire, where = str(param["wire_name"]), ("parameters", index, "wire_name")
            if param.get("in") == "path":
                yield site.diag("wire-name", "a path parameter has no wire name (its name is its placeholder)",
                                where, "remove wire_name")
            elif param.get("in") == "header" and not HEADER_TOKEN.match(wire):
                yield site.diag("wire-name", f"header name {wire!r} is not an HTTP token",
                                where, "use letters, digits and !#$%&'*+-.^_~ only (e.g. Idempotency-Key)")
            elif param.get("in") == "header" and wire.lower() in MANAGED_HEADERS:
                yield site.diag("wire-name", f"the client sets the {wire} header itself", where,
                                "remove the parameter")
            elif param.get("in") == "query" and (not wire.isprintable() or any(c in wire for c in " &=#|`")):
                yield site.diag("wire-name", f"query name {wire!r} holds a space, one of &=#|` or a control character",
                                where, "use the name exactly as the API spells it, without those characters")


RAW_BODY = "application/octet-stream"


@rule("raw-body", "A raw-bytes body whose schema is not one binary string, or raw-body keys on another body.")
def _raw_body(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        body = site.op.get("body")
        if not isinstance(body, dict):
            continue
        if body.get("content_type") != RAW_BODY:
            for key in ("content_type_argument", "filename_param"):
                if key in body:
                    yield site.diag("raw-body", f"{key} is for raw-bytes bodies ({RAW_BODY}) only",
                                    ("body", key), f"remove {key}")
            continue
        resolved = resolve_schema(ctx.registry, body.get("schema"))
        if not (isinstance(resolved, dict) and resolved.get("type") == "string" and resolved.get("format") == "binary"):
            yield site.diag("raw-body", f"an {RAW_BODY} body is the bytes of one file: its schema must be "
                            "{type: string, format: binary}", ("body", "schema"),
                            "use schema: {type: string, format: binary}, or another content_type")
        for key in ("wrap_key",):
            if key in body:
                yield site.diag("raw-body", f"a raw-bytes body has no {key}", ("body", key), f"remove {key}")
        query = {p.get("name") for p in site.op.get("parameters") or [] if isinstance(p, dict) and p.get("in") == "query"}
        if "filename_param" in body and body["filename_param"] not in query:
            yield site.diag("raw-body", f"filename_param '{body['filename_param']}' is not a query parameter of "
                            f"'{site.op.get('tool')}'", ("body", "filename_param"), "declare it under parameters (in: query)")


def _is_object_schema(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "object" in kinds or (kind is None and isinstance(schema.get("properties"), dict))


@rule("sideload-list", "A side-load's item schema is not an object schema.")
def _sideload_list(ctx: RuleContext) -> Iterator[Diagnostic]:
    for site in ctx.sites:
        sideloads = site.op["response"].get("sideloads") or {}
        for name, schema in sideloads.items():
            if _mentions_unresolved(schema):
                continue
            if not _is_object_schema(resolve_schema(ctx.registry, schema)):
                yield site.diag("sideload-list", f"side-load '{name}' must describe the objects of its array",
                                ("response", "sideloads", name),
                                "give the item schema of one object, e.g. {$ref: ../schemas/user.yaml}")


def _alternative_envelopes_share_items(
    site: OperationSite, env: dict[str, Any], envelopes: dict[str, Any]
) -> Iterator[Diagnostic]:
    """Alternatives reuse the response's item schema, so they and the response must be lists."""
    for i, name in enumerate(site.op["response"].get("alternative_envelopes", [])):
        alternative = envelopes.get(name)
        if not isinstance(alternative, dict):
            continue  # unknown-behaviour reports it
        if env["type"] not in ir.LIST_ENVELOPES or alternative["type"] not in ir.LIST_ENVELOPES:
            yield site.diag("response-schema",
                            f"alternative envelope '{name}' ({alternative['type']}) of a '{env['type']}' "
                            "response: only list envelopes can stand in for each other",
                            ("response", "alternative_envelopes", i),
                            "declare alternatives only between cursor_list, data_list and bare_array envelopes")


def _url_parameter(op: dict[str, Any]) -> str | None:
    """The parameter of a path that is one absolute URL (`/{url}` with `format: uri`), if any."""
    match = re.fullmatch(r"/\{([^{}/]+)\}", op["path"])
    if not match:
        return None
    for param in op.get("parameters") or []:
        if param.get("in") == "path" and param.get("name") == match.group(1):
            return match.group(1) if (param.get("schema") or {}).get("format") == "uri" else None
    return None


DOWNLOAD_SEGMENT = re.compile(r"[^{}/]*|\{[A-Za-z_][A-Za-z0-9_]*\}")


def _download_location_problems(location: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(message, key, hint) for one declared download location."""
    path = location.get("path")
    if "host" not in location and path is None:
        yield ("a download location on the API host needs a path (else every API path could be "
               "fetched with credentials)", "", "add path: /api/<files>/{name}")
    if isinstance(path, str) and not all(DOWNLOAD_SEGMENT.fullmatch(s) for s in path.split("/")):
        yield (f"path {path!r}: a placeholder must be a whole segment like {{name}}", "path",
               "write each variable part as its own /{name}/ segment")


@rule("download-location", "File downloads declare where they may fetch from; only binary GETs declare it.")
def _download_location(ctx: RuleContext) -> Iterator[Diagnostic]:
    envelopes = ctx.connector.get("envelopes") or {}
    for site in ctx.sites:
        op = site.op
        download = op.get("download")
        env = envelopes.get(op["response"]["envelope"])
        binary_get = op["method"] == "GET" and isinstance(env, dict) and env.get("type") == "binary"
        if download is None:
            if _url_parameter(op) is not None:
                yield site.diag("download-location", f"'{op['tool']}' takes a whole URL but declares no download locations",
                                ("path",), "add download: {locations: [{path: /api/<files>/{name}}, {host: files.example.com}]}")
            continue
        if not binary_get:
            yield site.diag("download-location", f"'{op['tool']}' is not a GET answering a binary envelope",
                            ("download",), "declare download locations on file downloads only")
            continue
        for i, location in enumerate(download.get("locations") or []):
            for message, key, hint in _download_location_problems(location):
                sub = ("download", "locations", i, key) if key else ("download", "locations", i)
                yield site.diag("download-location", message, sub, hint)


@rule("unknown-scope", "An operation names an OAuth scope the auth scheme does not declare.")
def _unknown_scope(ctx: RuleContext) -> Iterator[Diagnostic]:
    declared: set[str] = set()
    for scheme in (ctx.connector.get("auth") or {}).values():
        if isinstance(scheme, dict) and isinstance(scheme.get("scopes"), dict):
            declared.update(scheme["scopes"])
    if not declared:
        return
    for source in ctx.raw.resources:
        if source.path not in ctx.raw.structurally_valid:
            continue
        for kind, scopes in (source.data.get("scopes") or {}).items():
            for k, scope in enumerate(scopes):
                if scope not in declared:
                    yield source.diagnostic("unknown-scope", f"unknown OAuth scope '{scope}'", ("scopes", kind, k),
                                            _did_you_mean(scope, declared))
    for site in ctx.sites:
        for k, scope in enumerate(site.op.get("scopes") or []):
            if scope not in declared:
                yield site.diag("unknown-scope", f"unknown OAuth scope '{scope}'", ("scopes", k),
                                _did_you_mean(scope, declared))


def _did_you_mean(value: str, candidates: set[str]) -> str:
    close = difflib.get_close_matches(value, sorted(candidates), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


@rule("duplicate-resource", "Two resource files declare the same resource or client attribute.")
def _duplicate_resource(ctx: RuleContext) -> Iterator[Diagnostic]:
    seen: dict[str, SourceFile] = {}
    for source in ctx.raw.resources:
        if source.path not in ctx.raw.structurally_valid:
            continue
        name = source.data.get("client_attribute") or source.data["resource"]
        if name in seen:
            yield source.diagnostic("duplicate-resource", f"resource '{name}' is also declared in "
                                    f"{seen[name].display}", ("resource",))
        seen[name] = source


# --- names that become code ------------------------------------------------------------------


def _credentials(connector: dict[str, Any]) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """(path, credential) of every credential of every auth scheme."""
    schemes = connector.get("auth") if isinstance(connector.get("auth"), dict) else {}
    for scheme_name, scheme in schemes.items():
        for key, credential in (scheme.items() if isinstance(scheme, dict) else ()):
            if isinstance(credential, dict) and "param" in credential:
                yield ("auth", scheme_name, key), credential


def _env_names(connector: dict[str, Any]) -> Iterator[tuple[JsonPath, Any]]:
    """(path, value) of every environment variable name the connector declares."""
    server = connector.get("server") if isinstance(connector.get("server"), dict) else {}
    if "base_url_env" in server:
        yield ("server", "base_url_env"), server["base_url_env"]
    variables = server.get("variables") if isinstance(server.get("variables"), dict) else {}
    for name, variable in variables.items():
        if isinstance(variable, dict) and "env" in variable:
            yield ("server", "variables", name, "env"), variable["env"]
    for at, credential in _credentials(connector):
        if "env" in credential:
            yield (*at, "env"), credential["env"]


def _names_that_become_code(ctx: RuleContext) -> Iterator[tuple[SourceFile, JsonPath, Any, re.Pattern[str], str]]:
    """(file, path, name, pattern, what it becomes) of every declared name generated code uses as is."""
    connector = ctx.raw.connector
    server = ctx.connector.get("server") if isinstance(ctx.connector.get("server"), dict) else {}
    variables = server.get("variables") if isinstance(server.get("variables"), dict) else {}
    for name in variables:
        yield connector, ("server", "variables", name), name, PYTHON_NAME, "a keyword argument of the client"
    for at, credential in _credentials(ctx.connector):
        yield connector, (*at, "param"), credential["param"], PYTHON_NAME, "a keyword argument of the client"
    for at, name in _env_names(ctx.connector):
        yield connector, at, name, ENV_NAME, "an environment variable name"
    package = ctx.connector.get("package") if isinstance(ctx.connector.get("package"), dict) else {}
    if "distribution" in package:
        yield connector, ("package", "distribution"), package["distribution"], DISTRIBUTION_NAME, "a package name"
    for source, at, node in _all_schemas(ctx):
        names_a_class = at[-2:-1] == ("$defs",) or isinstance(node.get("properties"), dict)
        if names_a_class and "title" in node:
            yield source, (*at, "title"), node["title"], CLASS_NAME, "the class name of a model"


@rule("invalid-identifier", "A name that generated code uses as a Python identifier or environment variable is not one.")
def _invalid_identifier(ctx: RuleContext) -> Iterator[Diagnostic]:
    for source, at, name, pattern, becomes in _names_that_become_code(ctx):
        valid = isinstance(name, str) and pattern.match(name) and not keyword.iskeyword(name)
        if not valid:
            yield source.diagnostic(
                "invalid-identifier", f"{json.dumps(name)} cannot be {becomes}", at,
                f"use a name matching {pattern.pattern} (names are never escaped, only checked)",
            )


# --- schemas ---------------------------------------------------------------------------------


def _walk_schema(node: Any, at: JsonPath) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    if isinstance(node, dict):
        yield at, node
        for key, value in node.items():
            if key in SCHEMA_DATA_KEYWORDS:
                continue
            if key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
                for prop, sub in value.items():
                    yield from _walk_schema(sub, (*at, key, prop))
            elif isinstance(value, dict | list):
                yield from _walk_schema(value, (*at, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk_schema(item, (*at, index))


def _all_schemas(ctx: RuleContext) -> Iterator[tuple[SourceFile, JsonPath, dict[str, Any]]]:
    for source in ctx.raw.schema_files:
        if source.path in ctx.raw.structurally_valid:
            for at, node in _walk_schema(source.data, ()):
                yield source, at, node
    for source, base, fragment in iter_schema_fragments(ctx.raw):
        if source.path in ctx.raw.structurally_valid:
            for at, node in _walk_schema(fragment, base):
                yield source, at, node


@rule("required-property-missing", "`required` names a property the schema does not define.")
def _required_property_missing(ctx: RuleContext) -> Iterator[Diagnostic]:
    for source, at, node in _all_schemas(ctx):
        props = node.get("properties")
        required = node.get("required")
        if not isinstance(props, dict) or not isinstance(required, list):
            continue
        for k, name in enumerate(required):
            if name not in props:
                yield source.diagnostic(
                    "required-property-missing", f"required property '{name}' is not defined in properties",
                    (*at, "required", k), f"defined: {', '.join(props) or 'none'}",
                )


@rule("untitled-object", "Nested object schemas with properties need a title, so generated model names mean something.")
def _untitled_object(ctx: RuleContext) -> Iterator[Diagnostic]:
    for source, at, node in _all_schemas(ctx):
        if not at or "parameters" in at or "page_schema" in at:
            continue
        if at[-2:-1] == ("$defs",) or at == ("errors", "schema"):
            continue
        if isinstance(node.get("properties"), dict) and node["properties"] and "title" not in node:
            yield source.diagnostic(
                "untitled-object", "object schema with properties has no title", at,
                "move it under $defs with a title and $ref it, or add a CamelCase title",
            )


@rule("invalid-json-schema", "A schema written in a resource file is not valid JSON Schema 2020-12.")
def _invalid_json_schema(ctx: RuleContext) -> Iterator[Diagnostic]:
    for source, at, fragment in iter_schema_fragments(ctx.raw):
        if source.path not in ctx.raw.structurally_valid:
            continue
        for error in meta_schema_errors(fragment):
            yield source.diagnostic("invalid-json-schema", error.message[:200], (*at, *error.absolute_path))


def _has_path(registry: dict[str, Any], schema: Any, path: tuple[str, ...]) -> bool:
    for part in path:
        schema = resolve_schema(registry, schema)
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict) or part not in props:
            return False
        schema = props[part]
    return True


@rule("pagination-path-missing", "A paginator's items or cursor path is absent from the envelope's page schema.")
def _pagination_path_missing(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    paginators = ctx.connector.get("paginators") or {}
    for name, env in ctx.connector["envelopes"].items():
        page = env.get("page_schema")
        if page is None:
            continue
        checks: list[tuple[str, str]] = []
        if env["type"] == "cursor_list":
            pag = paginators.get(env.get("paginator"), {})
            checks = [(key, pag[key]) for key in (
                "items_path", "next_cursor_path", "prev_cursor_path", "next_url_path", "prev_url_path",
                "total_path", "has_more_path", "end_of_stream_path", "next_start_path",
            ) if key in pag]
        elif env["type"] == "data_list":
            checks = [("items_path", env["items_path"])]
        for key, dotted in checks:
            if not _has_path(ctx.registry, page, tuple(dotted.split("."))):
                yield connector.diagnostic(
                    "pagination-path-missing", f"{key} '{dotted}' of envelope '{name}' is not in its page schema",
                    ("envelopes", name, "page_schema"), "add the property to the page schema or fix the path",
                )


@rule("paginator-parameter-conflict", "Two query parameters of one paginator (cursor argument, page, offset or start, size) share a name.")
def _paginator_parameter_conflict(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, pag in (ctx.connector.get("paginators") or {}).items():
        seen: dict[str, str] = {}
        if pag.get("type") != "cursor":
            seen[pag.get("cursor_argument", "cursor")] = "cursor_argument"
        for key in ("cursor_param", "page_param", "offset_param", "start_param", "limit_param"):
            value = pag.get(key)
            if not isinstance(value, str):
                continue
            if value in seen:
                yield connector.diagnostic(
                    "paginator-parameter-conflict",
                    f"{key} '{value}' of paginator '{name}' is also its {seen[value]}",
                    ("paginators", name, key), "give each parameter of a paginator its own name",
                )
            else:
                seen[value] = key


@rule("paginator-no-next", "A time-based export paginator says neither where the next start time nor the next URL is.")
def _paginator_no_next(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, pag in (ctx.connector.get("paginators") or {}).items():
        if pag.get("type") == "time_export" and not (pag.get("next_start_path") or pag.get("next_url_path")):
            yield connector.diagnostic(
                "paginator-no-next",
                f"time_export paginator '{name}' cannot continue: it declares neither next_start_path nor next_url_path",
                ("paginators", name), "add next_start_path (e.g. end_time) or next_url_path (e.g. next_page)",
            )


@rule("field-errors-conflict", "An error shape declares both `field_errors_path` and `field_errors`.")
def _field_errors_conflict(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    errors = ctx.connector.get("errors") or {}
    if "field_errors_path" in errors and "field_errors" in errors:
        yield connector.diagnostic(
            "field-errors-conflict", "errors declares both field_errors_path and field_errors",
            ("errors", "field_errors_path"),
            "keep only field_errors (field_errors_path is short for field_errors: {type: string_lists, path: ...})",
        )


@rule("field-errors-path-missing", "The field errors' path is absent from the error schema.")
def _field_errors_path_missing(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    errors = ctx.connector.get("errors") or {}
    shape = errors.get("field_errors")
    where: tuple[str, ...] = ("errors", "field_errors", "path")
    dotted = shape.get("path") if isinstance(shape, dict) else None
    if dotted is None:
        dotted, where = errors.get("field_errors_path"), ("errors", "field_errors_path")
    if not isinstance(dotted, str) or "schema" not in errors:
        return
    if not _has_path(ctx.registry, errors["schema"], tuple(dotted.split("."))):
        yield connector.diagnostic(
            "field-errors-path-missing", f"field errors path '{dotted}' is not in the error schema",
            where, "add the property to the error schema or fix the path",
        )


@rule("rate-limit-headers", "A rate limit's status headers cannot be read as declared.")
def _rate_limit_headers(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, limit in (ctx.connector.get("rate_limits") or {}).items():
        if not isinstance(limit, dict):
            continue
        if "reset_format" in limit and "reset_header" not in limit:
            yield connector.diagnostic(
                "rate-limit-headers", f"rate limit '{name}' declares reset_format but no reset_header",
                ("rate_limits", name, "reset_format"), "add the reset_header it describes or remove reset_format",
            )
        if "usage_header" in limit and ("remaining_header" in limit or "limit_header" in limit):
            yield connector.diagnostic(
                "rate-limit-headers",
                f"rate limit '{name}' declares both a usage_header ('used/limit') and remaining/limit headers",
                ("rate_limits", name, "usage_header"), "declare the headers the API sends, one way only",
            )


@rule("rate-limit-plan", "A rate limit's plan budgets are incomplete or contradict its `requests`.")
def _rate_limit_plan(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, limit in (ctx.connector.get("rate_limits") or {}).items():
        if not isinstance(limit, dict):
            continue
        at: JsonPath = ("rate_limits", name)
        plans = limit.get("plans")
        default = limit.get("default_plan")
        if plans is None:
            if default is not None:
                yield connector.diagnostic("rate-limit-plan", f"rate limit '{name}' has a default_plan but no plans",
                                           (*at, "default_plan"), "declare plans: {<plan>: <requests>} or remove it")
            elif "requests" not in limit:
                yield connector.diagnostic("rate-limit-plan", f"rate limit '{name}' declares neither requests nor plans",
                                           at, "add requests: <per period>, or plans with a default_plan")
            continue
        if "requests" in limit:
            yield connector.diagnostic(
                "rate-limit-plan", f"rate limit '{name}' declares both requests and plan budgets",
                (*at, "requests"), "keep one: plans (with default_plan) when the budget depends on the plan",
            )
        if not plans:
            yield connector.diagnostic("rate-limit-plan", f"rate limit '{name}' declares no plans", (*at, "plans"),
                                       "list each plan with its requests per period, e.g. {team: 200}")
        elif default is None:
            yield connector.diagnostic("rate-limit-plan", f"rate limit '{name}' has plans but no default_plan", at,
                                       f"add default_plan: one of {', '.join(plans)}")
        elif default not in plans:
            yield connector.diagnostic("rate-limit-plan", f"default_plan '{default}' of '{name}' is not one of its plans",
                                       (*at, "default_plan"),
                                       _did_you_mean(default, set(plans)) or f"declared plans: {', '.join(plans)}")


@rule("username-template", "A Basic username template does not contain its username placeholder exactly once.")
def _username_template(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, scheme in (ctx.connector.get("auth") or {}).items():
        if not isinstance(scheme, dict) or "username_template" not in scheme:
            continue
        template, param = scheme["username_template"], scheme["username"]["param"]
        placeholder = "{" + param + "}"
        rest = template.replace(placeholder, "", 1)
        if template.count(placeholder) != 1 or "{" in rest or "}" in rest:
            yield connector.diagnostic(
                "username-template",
                f"username_template of '{name}' must contain {placeholder} exactly once and no other placeholder",
                ("auth", name, "username_template"), f"for example \"{placeholder}/token\"",
            )


@rule("fixed-credential", "A fixed credential value is declared somewhere other than an http_basic password.")
def _fixed_credential(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, scheme in (ctx.connector.get("auth") or {}).items():
        if not isinstance(scheme, dict):
            continue
        for key, cred in scheme.items():
            if isinstance(cred, dict) and "fixed" in cred and (scheme.get("type"), key) != ("http_basic", "password"):
                yield connector.diagnostic(
                    "fixed-credential", f"'{key}' of '{name}' cannot be fixed: only an http_basic password can",
                    ("auth", name, key, "fixed"), "remove fixed, or declare the scheme as http_basic with a fixed password",
                )


@rule("bearer-token-secret", "An http_bearer token is not declared secret.")
def _bearer_token_secret(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, scheme in (ctx.connector.get("auth") or {}).items():
        if isinstance(scheme, dict) and scheme.get("type") == "http_bearer" and not scheme["token"].get("secret"):
            yield connector.diagnostic(
                "bearer-token-secret", f"the token of '{name}' must be secret: it authenticates every request",
                ("auth", name, "token"), "add secret: true",
            )


@rule("api-key-name", "An api_key scheme does not name its header or query parameter.")
def _api_key_name(ctx: RuleContext) -> Iterator[Diagnostic]:
    connector = ctx.raw.connector
    if connector.path not in ctx.raw.structurally_valid:
        return
    for name, scheme in (ctx.connector.get("auth") or {}).items():
        if isinstance(scheme, dict) and scheme.get("type") == "api_key" and not scheme.get("name"):
            yield connector.diagnostic(
                "api-key-name", f"api_key scheme '{name}' must name the {scheme['in']} that carries the key",
                ("auth", name), "add name: X-Api-Key (the header or query parameter name)",
            )


def _mentions_unresolved(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == "#/$defs/__unresolved__" or any(_mentions_unresolved(v) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_unresolved(v) for v in node)
    return False


@rule("invalid-example", "An example does not validate against the operation's arguments or response schema.")
def _invalid_example(ctx: RuleContext) -> Iterator[Diagnostic]:
    envelopes = ctx.connector.get("envelopes") or {}
    defs = dict(ctx.registry)
    if ctx.raw.connector.path not in ctx.raw.structurally_valid:
        return  # the connector's own errors are reported by the schema checks
    compiled = compiler.build_envelopes(ctx.connector, compiler.build_paginators(ctx.connector))
    for site in ctx.sites:
        examples = site.op.get("examples") or []
        if not examples or site.op["response"]["envelope"] not in envelopes:
            continue
        if _mentions_unresolved(site.op):
            continue
        envelope = compiled.get(site.op["response"]["envelope"])
        if envelope is None:
            continue
        params = compiler.effective_parameters(site.op, envelope)
        body = compiler.build_body(site.op, ctx.registry)
        arguments_schema = {**compiler.input_schema(compiler.flat_arguments(params, body)), "$defs": defs}
        response_schema = site.op["response"].get("schema")
        own_fragments = [compiler.input_schema(compiler.flat_arguments(params, body)), response_schema or {}]
        if any(next(meta_schema_errors(s), None) is not None for s in own_fragments):
            continue  # invalid-json-schema reports the broken schema itself
        for k, example in enumerate(examples):
            if "arguments" in example:
                for error in jsonschema.Draft202012Validator(arguments_schema).iter_errors(example["arguments"]):
                    yield site.diag("invalid-example", f"example '{example['name']}': {error.message[:160]}",
                                    ("examples", k, "arguments", *error.absolute_path))
            if "response" in example and response_schema is not None:
                validator = jsonschema.Draft202012Validator({**response_schema, "$defs": defs})
                payload, at = example["response"], ("examples", k, "response")
                key = site.op["response"].get("key")
                if key and envelope.type == "object" and isinstance(payload, dict) and set(payload) == {key}:
                    payload, at = payload[key], (*at, key)  # written as the API sends it: wrapped
                for error in validator.iter_errors(payload):
                    yield site.diag("invalid-example", f"example '{example['name']}': {error.message[:160]}",
                                    (*at, *error.absolute_path))


# --- sandbox definition (sandbox/sandbox.yaml) ---------------------------------------------------

SANDBOX_GENERATORS = (
    "const", "choice", "pick", "one_of", "template", "render", "ref", "sample", "days_ago", "after",
    "sequence", "int", "float", "bool", "copy", "object", "list", "items", "file", "cycle", "hex", "nested_id",
)


def _suggest(value: str, candidates: set[str]) -> str:
    close = _did_you_mean(value, candidates)
    return f"; {close}" if close else ""


class SandboxSite:
    """The sandbox file and the collections the sandbox derives from the rest of the definition."""

    def __init__(self, source: SourceFile, collections: dict[str, set[str]], props: dict[str, dict[str, Any]],
                 parents: dict[str, str | None] | None = None) -> None:
        self.source = source
        self.data: dict[str, Any] = source.data
        self.collections = collections
        self.props = props
        self.parents = parents or {}
        """Collection -> the collection it is scoped under (None: not scoped)."""

    def diag(self, rule_id: str, message: str, at: JsonPath, hint: str = "") -> Diagnostic:
        return self.source.diagnostic(rule_id, message, at, hint)


def _sandbox_site(ctx: RuleContext) -> SandboxSite | None:
    """None when there is no sandbox file, or the definition has errors other checks report."""
    source = ctx.raw.sandbox
    if source is None or source.path not in ctx.raw.structurally_valid:
        return None
    cached = getattr(ctx, "_sandbox_site", None)
    if cached is not None:
        return cached if isinstance(cached, SandboxSite) else None
    site: SandboxSite | bool = False
    if all(f.path in ctx.raw.structurally_valid for f in ctx.raw.files):
        from .emitters.sandbox.plan import build_plan

        try:
            plan = build_plan(compiler.compile_definition(ctx.raw))
        except Exception:  # the definition's own errors are reported by the other rules
            plan = None
        if plan is not None:
            collections: dict[str, set[str]] = {}
            schemas: dict[str, dict[str, Any]] = {}
            for name, col in plan["collections"].items():
                props = ctx.registry.get(col["schema"], {}).get("properties")
                schemas[name] = props if isinstance(props, dict) else {}
                collections[name] = set(schemas[name])
            parents = {name: (col["scope"] or {}).get("parent") for name, col in plan["collections"].items()}
            site = SandboxSite(source, collections, schemas, parents)
    ctx._sandbox_site = site  # type: ignore[attr-defined]
    return site if isinstance(site, SandboxSite) else None


def _generator_specs(spec: Any, at: JsonPath) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """Every field generator (a mapping) inside a field's value, with its path."""
    if not isinstance(spec, dict):
        return
    yield at, spec
    if isinstance(spec.get("object"), dict):
        for name, sub in spec["object"].items():
            yield from _generator_specs(sub, (*at, "object", name))
    if "list" in spec:
        yield from _generator_specs(spec["list"], (*at, "list"))
    if isinstance(spec.get("items"), list):
        for i, sub in enumerate(spec["items"]):
            yield from _generator_specs(sub, (*at, "items", i))
    for key in ("otherwise", "count"):
        if key in spec:
            yield from _generator_specs(spec[key], (*at, key))


def _recipes(site: SandboxSite) -> Iterator[tuple[str, JsonPath, dict[str, Any]]]:
    """(collection, path, recipe) for every generate block and every `children` recipe in it."""

    def walk(name: str, at: JsonPath, recipe: Any) -> Iterator[tuple[str, JsonPath, dict[str, Any]]]:
        if not isinstance(recipe, dict):
            return
        yield name, at, recipe
        for child, specs in (recipe.get("children") or {}).items():
            if isinstance(specs, list):
                for i, spec in enumerate(specs):
                    yield from walk(child, (*at, "children", child, i), spec)
            else:
                yield from walk(child, (*at, "children", child), specs)

    seed = site.data.get("seed") or {}
    for name, spec in (seed.get("collections") or {}).items():
        if isinstance(spec, dict) and "generate" in spec:
            yield from walk(name, ("seed", "collections", name, "generate"), spec["generate"])


def _sandbox_generators(site: SandboxSite) -> Iterator[tuple[str, JsonPath, dict[str, Any]]]:
    for name, at, recipe in _recipes(site):
        for field_name, spec in (recipe.get("fields") or {}).items():
            for where, gen in _generator_specs(spec, (*at, "fields", field_name)):
                yield name, where, gen
        if "count" in recipe:
            for where, gen in _generator_specs(recipe["count"], (*at, "count")):
                yield name, where, gen


def _collection_mentions(site: SandboxSite) -> Iterator[tuple[JsonPath, str]]:
    data = site.data
    behaviours = data.get("behaviours") or {}
    for key in ("unique_fields", "me_alias", "contact_channels"):
        for name in behaviours.get(key) or {}:
            yield ("behaviours", key, name), name
    for prop, name in (behaviours.get("field_collections") or {}).items():
        yield ("behaviours", "field_collections", prop), name
    for parent, spec in (behaviours.get("embedded_writes") or {}).items():
        yield ("behaviours", "embedded_writes", parent), parent
        yield ("behaviours", "embedded_writes", parent, "collection"), spec["collection"]
    for collection, fields in (behaviours.get("found_or_created") or {}).items():
        yield ("behaviours", "found_or_created", collection), collection
        for name, spec in fields.items():
            yield ("behaviours", "found_or_created", collection, name, "collection"), spec["collection"]
    for key in ("item_actions", "tag_fields", "default_order", "final_states", "create_defaults"):
        for name in behaviours.get(key) or {}:
            yield ("behaviours", key, name), name
    for kind, name in ((behaviours.get("query_search") or {}).get("types") or {}).items():
        yield ("behaviours", "query_search", "types", kind), name
    for kind, spec in (behaviours.get("search_types") or {}).items():
        yield ("behaviours", "search_types", kind, "collection"), spec["collection"]
    if behaviours.get("event_log"):
        yield ("behaviours", "event_log", "collection"), behaviours["event_log"]["collection"]
    for prefix, name in ((behaviours.get("reports") or {}).get("sources") or {}).items():
        yield ("behaviours", "reports", "sources", prefix), name
    seed = data.get("seed") or {}
    for key in ("collections", "id_start"):
        for name in seed.get(key) or {}:
            yield ("seed", key, name), name
    for name, at, _ in _recipes(site):
        if "children" in at[-3:-1]:
            yield at[: at.index("children", len(at) - 3) + 2], name
    for _, at, gen in _sandbox_generators(site):
        for key in ("ref", "sample"):
            if isinstance(gen.get(key), str):
                yield (*at, key), gen[key]


@rule("sandbox-unknown-collection", "The sandbox file names a collection the sandbox does not derive from the resources.")
def _sandbox_unknown_collection(ctx: RuleContext) -> Iterator[Diagnostic]:
    site = _sandbox_site(ctx)
    if site is None:
        return
    known = set(site.collections)
    for at, name in _collection_mentions(site):
        if name not in known:
            yield site.diag("sandbox-unknown-collection", f"no collection '{name}' in the sandbox{_suggest(name, known)}",
                            at, f"the sandbox stores: {', '.join(sorted(known)) or 'nothing'}")


@rule("sandbox-unknown-field", "A sandbox record, generated field or behaviour names a field the collection's schema does not have.")
def _sandbox_unknown_field(ctx: RuleContext) -> Iterator[Diagnostic]:
    site = _sandbox_site(ctx)
    if site is None:
        return
    hint = "use a property of the collection's schema, or start a helper field's name with '_'"

    def check(collection: str, field_name: str, at: JsonPath) -> Iterator[Diagnostic]:
        props = site.collections.get(collection)
        if props is not None and not field_name.startswith("_") and field_name not in props:
            yield site.diag("sandbox-unknown-field", f"collection '{collection}' has no field '{field_name}'"
                            f"{_suggest(field_name, props)}", at, hint)

    behaviours = site.data.get("behaviours") or {}
    for collection, fields in (behaviours.get("unique_fields") or {}).items():
        for i, field_name in enumerate(fields):
            yield from check(collection, field_name, ("behaviours", "unique_fields", collection, i))
    for collection, spec in (behaviours.get("contact_channels") or {}).items():
        for key in ("field", "list"):
            yield from check(collection, spec[key], ("behaviours", "contact_channels", collection, key))
    for parent, spec in (behaviours.get("embedded_writes") or {}).items():
        at = ("behaviours", "embedded_writes", parent)
        for key in ("defaults", "copy"):
            for field_name in spec.get(key) or {}:
                yield from check(spec["collection"], field_name, (*at, key, field_name))
        for field_name, source in (spec.get("copy") or {}).items():
            yield from check(spec["collection"], source, (*at, "copy", field_name))
        for field_name, source in (spec.get("first_sets") or {}).items():
            yield from check(parent, field_name, (*at, "first_sets", field_name))
            yield from check(spec["collection"], source, (*at, "first_sets", field_name))
        if spec.get("stamp"):
            yield from check(spec["collection"], spec["stamp"], (*at, "stamp"))
    for collection, spec in (behaviours.get("tag_fields") or {}).items():
        yield from check(collection, spec["field"], ("behaviours", "tag_fields", collection, "field"))
    for collection, defaults in (behaviours.get("create_defaults") or {}).items():
        for field_name in defaults:
            yield from check(collection, field_name, ("behaviours", "create_defaults", collection, field_name))
    for collection, fields in (behaviours.get("found_or_created") or {}).items():
        for name, spec in fields.items():
            at = ("behaviours", "found_or_created", collection, name)
            yield from check(collection, spec["id_field"], (*at, "id_field"))
            yield from check(spec["collection"], spec["by"], (*at, "by"))
            for field_name in spec.get("defaults") or {}:
                yield from check(spec["collection"], field_name, (*at, "defaults", field_name))
    for collection, spec in (behaviours.get("final_states") or {}).items():
        yield from check(collection, spec["field"], ("behaviours", "final_states", collection, "field"))
    for collection, order in (behaviours.get("default_order") or {}).items():
        for part in order.split(","):
            yield from check(collection, part.partition(":")[0], ("behaviours", "default_order", collection))
    for collection, actions in (behaviours.get("item_actions") or {}).items():
        for action, spec in actions.items():
            for field_name in (spec.get("set") or {}):
                yield from check(collection, field_name, ("behaviours", "item_actions", collection, action, "set", field_name))
            for i, field_name in enumerate((spec.get("redact") or {}).get("fields") or []):
                yield from check(collection, field_name,
                                 ("behaviours", "item_actions", collection, action, "redact", "fields", i))
    seed = site.data.get("seed") or {}
    for collection, spec in (seed.get("collections") or {}).items():
        for i, record in enumerate(spec.get("records") or []):
            for field_name in record:
                yield from check(collection, field_name, ("seed", "collections", collection, "records", i, field_name))
    for collection, at, recipe in _recipes(site):
        for field_name in recipe.get("fields") or {}:
            yield from check(collection, field_name, (*at, "fields", field_name))


@rule("sandbox-embedded-write", "An embedded write must store its object in a collection scoped under the written collection.")
def _sandbox_embedded_write(ctx: RuleContext) -> Iterator[Diagnostic]:
    site = _sandbox_site(ctx)
    if site is None:
        return
    for parent, spec in ((site.data.get("behaviours") or {}).get("embedded_writes") or {}).items():
        target = spec["collection"]
        if parent not in site.collections or target not in site.collections:
            continue  # sandbox-unknown-collection says it
        if site.parents.get(target) != parent:
            scoped = sorted(name for name, owner in site.parents.items() if owner == parent)
            yield site.diag("sandbox-embedded-write",
                            f"collection '{target}' is not scoped under '{parent}', so an object written inside "
                            f"a '{parent}' write has nowhere to go",
                            ("behaviours", "embedded_writes", parent, "collection"),
                            f"collections scoped under '{parent}': {', '.join(scoped) or 'none'} "
                            f"(a collection is scoped when its path is `/<{parent}>/{{id}}/<name>`)")


@rule("sandbox-vocabulary-missing", "A `pick` generator names a vocabulary list that seed.vocabulary does not declare.")
def _sandbox_vocabulary_missing(ctx: RuleContext) -> Iterator[Diagnostic]:
    site = _sandbox_site(ctx)
    if site is None:
        return
    vocabulary = set((site.data.get("seed") or {}).get("vocabulary") or {})
    for _, at, gen in _sandbox_generators(site):
        if isinstance(gen.get("pick"), str) and gen["pick"] not in vocabulary:
            yield site.diag("sandbox-vocabulary-missing", f"no vocabulary list '{gen['pick']}'"
                            f"{_suggest(gen['pick'], vocabulary)}", (*at, "pick"),
                            "declare the list under seed.vocabulary")


@rule("sandbox-generator", "A field generator must have exactly one generator key (const, choice, pick, template, ref, ...).")
def _sandbox_generator(ctx: RuleContext) -> Iterator[Diagnostic]:
    site = _sandbox_site(ctx)
    if site is None:
        return
    for _, at, gen in _sandbox_generators(site):
        kinds = [k for k in SANDBOX_GENERATORS if k in gen]
        if len(kinds) != 1:
            found = f"found {', '.join(kinds)}" if kinds else "found none"
            yield site.diag("sandbox-generator", f"a field generator needs exactly one generator key ({found})", at,
                            "wrap a literal mapping in {const: ...}; use `object` for a mapping of generators")
        if "weights" in gen and isinstance(gen.get("choice"), list) and len(gen["weights"]) != len(gen["choice"]):
            yield site.diag("sandbox-generator", "`weights` needs one weight per `choice` value", (*at, "weights"),
                            "give as many weights as choices, in the same order")
        elif isinstance(gen.get("weights"), list) and not sum(w for w in gen["weights"] if isinstance(w, (int, float))) > 0:
            yield site.diag("sandbox-generator", "`weights` add up to zero: no value can be chosen", (*at, "weights"),
                            "give at least one choice a positive weight")
        for key in ("int", "float", "days_ago", "count", "seconds", "minutes", "hours", "days"):
            bounds = gen.get(key)
            if isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, (int, float)) for b in bounds) \
                    and bounds[0] > bounds[1]:
                yield site.diag("sandbox-generator", f"`{key}` range [{bounds[0]}, {bounds[1]}] is empty (low > high)",
                                (*at, key), "write the range as [low, high]")
        content = (gen.get("file") or {}).get("content_base64") if isinstance(gen.get("file"), dict) else None
        if isinstance(content, str):
            try:
                base64.b64decode(content, validate=True)
            except ValueError:
                yield site.diag("sandbox-generator", "`content_base64` is not valid base64", (*at, "file", "content_base64"),
                                "encode the file's bytes with base64 (e.g. `base64 -w0 FILE`)")


@rule("sandbox-ref-cycle", "Seed collections refer to each other in a cycle, so none can be made first.")
def _sandbox_ref_cycle(ctx: RuleContext) -> Iterator[Diagnostic]:
    site = _sandbox_site(ctx)
    if site is None:
        return
    collections = (site.data.get("seed") or {}).get("collections") or {}
    _, cycle = compiler.sandbox_order(collections)
    if cycle:
        yield site.diag("sandbox-ref-cycle", f"seed collections refer to each other in a cycle: {' -> '.join(cycle)}",
                        ("seed", "collections", cycle[0]),
                        "write one side's objects as literal records, or drop one `ref`/`sample`")


#: JSON types each generator always produces (the others depend on their values).
SANDBOX_GENERATOR_TYPES = {
    "template": {"string"}, "render": {"string"}, "hex": {"string"}, "days_ago": {"string"},
    "after": {"string"}, "int": {"integer"}, "sequence": {"integer"}, "nested_id": {"integer"},
    "float": {"number"}, "bool": {"boolean"}, "list": {"array"}, "items": {"array"}, "sample": {"array"},
    "object": {"object"}, "file": {"object"},
}


def _schema_types(registry: dict[str, Any], schema: Any, depth: int = 0) -> set[str] | None:
    """The JSON types a schema allows, None when it does not say (any)."""
    schema = resolve_schema(registry, schema)
    if not isinstance(schema, dict) or depth > 8:
        return None
    found: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        found.add(declared)
    elif isinstance(declared, list):
        found.update(t for t in declared if isinstance(t, str))
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            inner = _schema_types(registry, branch, depth + 1)
            if inner is None:
                return None
            found |= inner
    if not found:
        return None
    if "integer" in found:
        found.add("number")
    return found


@rule("sandbox-field-type", "A field generator always makes a value of a type the field's schema does not allow.")
def _sandbox_field_type(ctx: RuleContext) -> Iterator[Diagnostic]:
    site = _sandbox_site(ctx)
    if site is None:
        return
    for collection, at, recipe in _recipes(site):
        props = site.props.get(collection) or {}
        for field_name, spec in (recipe.get("fields") or {}).items():
            if field_name not in props or not isinstance(spec, dict):
                continue
            kinds = [k for k in SANDBOX_GENERATORS if k in spec]
            makes = SANDBOX_GENERATOR_TYPES.get(kinds[0]) if len(kinds) == 1 else None
            allowed = _schema_types(ctx.registry, props[field_name])
            if makes is None or allowed is None or makes & allowed:
                continue
            if makes == {"integer"} and "number" in allowed:
                continue
            yield site.diag("sandbox-field-type",
                            f"'{kinds[0]}' makes {'/'.join(sorted(makes))} values but '{collection}.{field_name}' "
                            f"is {'/'.join(sorted(allowed - {'number'} if 'integer' in allowed else allowed))}",
                            (*at, "fields", field_name),
                            "use a generator of the field's type (e.g. `copy` to reuse another field's value)")


@rule("sandbox-anchor", "The seed anchor is not an ISO 8601 date-time with a UTC offset.")
def _sandbox_anchor(ctx: RuleContext) -> Iterator[Diagnostic]:
    source = ctx.raw.sandbox
    if source is None or source.path not in ctx.raw.structurally_valid:
        return
    anchor = (source.data.get("seed") or {}).get("anchor")
    if anchor is None:
        return
    try:
        parsed = datetime.fromisoformat(str(anchor).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        yield source.diagnostic("sandbox-anchor", f"seed anchor '{anchor}' is not a date-time with an offset",
                                ("seed", "anchor"), 'write it like "2026-01-12T17:30:00Z"')


# --- MCP server --------------------------------------------------------------------------------


@rule("unknown-toolset", "A default MCP toolset names a tag no operation carries.")
def _unknown_toolset(ctx: RuleContext) -> Iterator[Diagnostic]:
    mcp = ctx.connector.get("mcp")
    toolsets = mcp.get("default_toolsets") if isinstance(mcp, dict) else None
    if not isinstance(toolsets, list):
        return
    tags: set[str] = set()
    for site in ctx.sites:
        tags.update(site.op.get("tags") or site.resource.get("tags") or [site.resource.get("resource")])
    for k, tag in enumerate(toolsets):
        if isinstance(tag, str) and tag not in tags:
            yield ctx.raw.connector.diagnostic(
                "unknown-toolset", f"default toolset '{tag}' is not a tag of any operation",
                ("mcp", "default_toolsets", k), _did_you_mean(tag, {t for t in tags if isinstance(t, str)}),
            )
