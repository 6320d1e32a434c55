"""MCP server of this package's API: every operation is a tool, run by the package's client.

Tools come from `tools.json` (generated beside this module); nothing here is written per tool, nor
per connector (what the server knows of its connector is in `_spec.py` beside it). Each call
validates its arguments against the tool's `inputSchema`, then goes through the async client's
`invoke`, so auth, retries, rate limits and pagination behave as in Python. Failures come back as
tool results with `isError: true` and a message an agent can act on.

    <import name>-mcp                                     # stdio
    <import name>-mcp --http --port 8765 --token "$TOKEN"  # streamable HTTP on 127.0.0.1:8765/mcp
    <import name>-mcp --read-only --tags <resource>       # only read tools tagged `<resource>`

Credentials come from the environment, as for the client (`--help` lists them).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import difflib
import hmac
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any

import anyio
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings

from .. import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    InvalidArgumentsError,
    RateLimitError,
)
from . import shaping, toolmodes
from ._spec import (
    CREDENTIALS_HELP,
    DEFAULT_TOOLSETS,
    DESCRIPTION,
    DISTRIBUTION,
    HAS_UNIFIED,
    INSTRUCTIONS,
    KINDS,
    SECRET_ENV,
    SERVER_NAME,
    TITLE,
    TOKEN_ENV,
    TOOL_MODE_ENV,
    TOOLS_FILE,
    AsyncClient,
    ClientError,
)

__all__ = [
    "METHOD_GROUPS",
    "ToolFilter",
    "ToolRunner",
    "ToolSpec",
    "build_server",
    "load_tools",
    "main",
    "parse_args",
    "wire_tools",
]

#: The package this server belongs to (`<import name>`), and its logger under `<import name>.mcp`.
_PACKAGE = __name__.rsplit(".", 2)[0]
logger = logging.getLogger(f"{_PACKAGE}.mcp")

#: `--methods` values: `read` (list/get and read-only customs), `write` (create/update/delete and
#: customs that change data), `custom`, or one operation kind (`KINDS`).
METHOD_GROUPS = ("read", "write", *KINDS)

MAX_ERRORS = 8
MAX_MESSAGE = 300


# --- tools -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: its MCP definition (self-contained schemas) and what filters look at."""

    name: str
    tool: types.Tool
    validator: Draft202012Validator
    kind: str
    tags: frozenset[str]
    read_only: bool
    scopes: tuple[str, ...]
    base64_arguments: frozenset[str]
    """Arguments that carry base64 text to be decoded into bytes before the call."""
    defaults: tuple[Mapping[str, Any], ...] = ()
    """Declared argument defaults (the tools file's `defaults`), applied in order."""
    how_to_find: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Argument -> where its value comes from (the tools file's `how_to_find`)."""


def _refs(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref[len("#/$defs/") :])
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)


def _with_defs(schema: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """The schema plus exactly the shared `$defs` it reaches, so it stands on its own."""
    needed: set[str] = set()
    todo: set[str] = set()
    _refs(schema, todo)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        found: set[str] = set()
        _refs(defs[name], found)
        todo |= found - needed
    if not needed:
        return schema
    return {**schema, "$defs": {name: defs[name] for name in sorted(needed)}}


#: Order in which tools get the described copy of a shared output object (`--output-schemas shared`).
_DESCRIBE_FIRST = {"get": 0, "list": 1}


def wire_tools(specs: Iterable[ToolSpec], output_schemas: str = "none") -> list[types.Tool]:
    """The `tools/list` entries for these tools.

    `none` (default) and `compact`: the lean entries of `toolmodes.lean_tools` (no output schema,
    or a compact one without `$defs`). The two below send each tool as the tools file has it:
    `full`: every outputSchema carries its objects with all annotations. `shared`: every tool keeps
    its complete output structure (so results still validate per tool), but the annotations of an
    object shared by several tools (descriptions, titles, known values) are sent once per list, in
    the first tool that returns it (get tools first, then list tools, then the rest); the other
    tools carry its bare shape. Input schemas are always complete.
    """
    specs = list(specs)
    if output_schemas in ("none", "compact"):
        return toolmodes.lean_tools(specs, output_schemas)
    if output_schemas == "full":
        return [spec.tool for spec in specs]
    described: set[str] = set()
    replaced: dict[str, types.Tool] = {}
    for spec in sorted(specs, key=lambda s: _DESCRIBE_FIRST.get(s.kind, 2)):
        output = spec.tool.output_schema
        if not output or "$defs" not in output:
            continue
        defs = dict(output["$defs"])
        repeated = [name for name in defs if name in described]
        described.update(defs)
        if repeated:
            for name in repeated:
                defs[name] = toolmodes.without_annotations(defs[name])
            replaced[spec.name] = spec.tool.model_copy(
                update={"output_schema": {**output, "$defs": defs}}
            )
    return [replaced.get(spec.name, spec.tool) for spec in specs]


def _base64_arguments(schema: Mapping[str, Any]) -> frozenset[str]:
    names = set()
    for name, prop in (schema.get("properties") or {}).items():
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        if prop.get("contentEncoding") == "base64" or items.get("contentEncoding") == "base64":
            names.add(name)
    return frozenset(names)


def read_tools_document() -> dict[str, Any]:
    """The generated tools file shipped with this package."""
    text = resources.files(__package__).joinpath(TOOLS_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def load_tools(document: Mapping[str, Any] | None = None) -> dict[str, ToolSpec]:
    """Every tool of the tools file, keyed by name, with `$defs` attached per schema."""
    document = read_tools_document() if document is None else document
    defs = document.get("$defs", {})
    defaults = document.get("defaults", {})
    how_to_find = document.get("how_to_find", {})
    specs: dict[str, ToolSpec] = {}
    for entry in document["tools"]:
        definition = dict(entry)
        input_schema = _with_defs(entry["inputSchema"], defs)
        definition["inputSchema"] = input_schema
        if "outputSchema" in entry:
            definition["outputSchema"] = _with_defs(entry["outputSchema"], defs)
        meta = entry.get("_meta", {})
        specs[entry["name"]] = ToolSpec(
            name=entry["name"],
            tool=types.Tool.model_validate(definition),
            validator=Draft202012Validator(input_schema),
            kind=meta.get("kind", "custom"),
            tags=frozenset(meta.get("tags", ())),
            read_only=bool(entry.get("annotations", {}).get("readOnlyHint")),
            scopes=tuple(meta.get("scopes", ())),
            base64_arguments=_base64_arguments(input_schema),
            defaults=tuple(defaults.get(entry["name"], ())),
            how_to_find=dict(how_to_find.get(entry["name"], {})),
        )
    return specs


# --- access control --------------------------------------------------------------------------


def _split(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(
        part.strip() for value in values or () for part in value.split(",") if part.strip()
    )


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """Which tools this server offers. Every option given must hold (they combine with AND).

    - `methods`: `read` = list/get and read-only customs; `write` = create/update/delete and the
      customs that change data; `custom`; or an operation kind (list, get, create, update, delete).
      A tool passes when it is in any of the groups named.
    - `tags`: a tool passes when it carries any of these tags.
    - `tools`: only these tools. `exclude_tools`: never these.
    - `read_only`: only tools whose `readOnlyHint` is true.
    """

    methods: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    tools: frozenset[str] = frozenset()
    exclude_tools: frozenset[str] = frozenset()
    read_only: bool = False

    def refusal(self, spec: ToolSpec) -> str | None:
        """Why the tool is filtered out (the option that excludes it), or None when it is offered."""
        if self.tools and spec.name not in self.tools:
            return "it is not in --tools"
        if spec.name in self.exclude_tools:
            return "it is in --exclude-tools"
        if self.read_only and not spec.read_only:
            return "the server is --read-only and this tool changes data"
        if self.methods and not any(self._in_group(spec, group) for group in self.methods):
            return f"--methods {','.join(sorted(self.methods))} does not include it"
        if self.tags and not (spec.tags & self.tags):
            return f"--tags {','.join(sorted(self.tags))} does not include it"
        return None

    def allows(self, spec: ToolSpec) -> bool:
        return self.refusal(spec) is None

    @staticmethod
    def _in_group(spec: ToolSpec, group: str) -> bool:
        if group == "read":
            return spec.kind in ("list", "get") or (spec.kind == "custom" and spec.read_only)
        if group == "write":
            return spec.kind in ("create", "update", "delete") or (
                spec.kind == "custom" and not spec.read_only
            )
        return spec.kind == group

    def check(self, specs: Mapping[str, ToolSpec]) -> list[str]:
        """Problems with the options themselves (unknown names), each with a suggestion."""
        problems = []
        for group in sorted(self.methods - set(METHOD_GROUPS)):
            problems.append(f"unknown --methods value {group!r} (use {', '.join(METHOD_GROUPS)})")
        known_tags = {tag for spec in specs.values() for tag in spec.tags}
        for tag in sorted(self.tags - known_tags):
            problems.append(f"unknown tag {tag!r} (known: {', '.join(sorted(known_tags))})")
        for option, names in (("--tools", self.tools), ("--exclude-tools", self.exclude_tools)):
            for name in sorted(names - set(specs)):
                hint = difflib.get_close_matches(name, list(specs), n=3)
                problems.append(
                    f"unknown tool {name!r} in {option}"
                    + (f" (did you mean {', '.join(hint)}?)" if hint else "")
                )
        return problems


# --- calls -------------------------------------------------------------------------------------


class Redactor:
    """Removes secret values (from the environment) and credential headers from text."""

    _HEADER = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    @classmethod
    def from_environment(cls, extra: Iterable[str | None] = ()) -> Redactor:
        return cls([os.environ.get(name, "") for name in SECRET_ENV] + [s for s in extra if s])

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return self._HEADER.sub(lambda m: f"{m.group(1)} [redacted]", text)


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _argument_path(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _json(value: Any) -> str:
    return _clip(json.dumps(value, ensure_ascii=False, default=str), 80)


def _error_text(error: ValidationError) -> str:
    """jsonschema's message, in JSON terms (null, not None) for the common cases."""
    kind, expected = error.validator, error.validator_value
    if kind == "type":
        types_ = expected if isinstance(expected, list) else [expected]
        return f"must be {' or '.join(map(str, types_))}, got {_json(error.instance)}"
    if kind == "enum":
        return f"must be one of {', '.join(map(_json, expected))}; got {_json(error.instance)}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }
        return f"must be {word[kind]} {expected}, got {_json(error.instance)}"
    if kind in ("minItems", "maxItems", "minLength", "maxLength"):
        unit = "items" if kind.endswith("Items") else "characters"
        return f"must have {'at least' if kind.startswith('min') else 'at most'} {expected} {unit}"
    return _clip(error.message)


def _id_hints(specs: Iterable[ToolSpec]) -> dict[str, str]:
    """Resource name -> the list tool that finds its ids (for `<resource>_id` arguments)."""
    hints: dict[str, str] = {}
    for spec in specs:
        resource = (spec.tool.meta or {}).get("resource")
        if spec.kind == "list" and isinstance(resource, str):
            hints.setdefault(resource, spec.name)
    return hints


def id_hint_for(name: str, list_tools: Mapping[str, str]) -> str:
    """` (ids come from `<list tool>`)` for an argument `<x>_id(s)` whose resource `x` has a list
    tool among the enabled ones, else ""."""
    match = re.fullmatch(r"(.+)_ids?", name)
    if match is None:
        return ""
    stem = match.group(1)
    for resource in (
        stem,
        f"{stem}s",
        f"{stem}es",
        f"{stem[:-1]}ies" if stem.endswith("y") else "",
    ):
        if resource in list_tools:
            return f" (ids come from `{list_tools[resource]}`)"
    return ""


def describe_validation_errors(
    spec: ToolSpec, arguments: Any, list_tools: Mapping[str, str] | None = None
) -> list[str]:
    """One line per problem, each naming the argument, for a tool's input schema. A missing
    `<x>_id` says which list tool finds it (`list_tools`: resource -> list tool)."""
    if not isinstance(arguments, dict):
        return [f"arguments must be a JSON object, got {type(arguments).__name__}"]
    lines: list[str] = []
    missing_named: set[str] = set()

    def id_hint(name: str) -> str:
        declared = spec.how_to_find.get(name)
        return f" ({declared})" if declared else id_hint_for(name, list_tools or {})

    properties = spec.tool.input_schema.get("properties", {})
    errors = sorted(
        spec.validator.iter_errors(arguments),
        key=lambda e: (list(map(str, e.absolute_path)), e.message),
    )
    for error in errors:
        where = _argument_path(error)
        if error.validator == "required" and not where:
            # jsonschema reports each missing name as its own error: name each once
            for name in error.validator_value:
                if name not in arguments and name not in missing_named:
                    missing_named.add(name)
                    lines.append(f"missing required argument `{name}`" + id_hint(name))
        elif error.validator == "additionalProperties" and not where:
            unknown = sorted(set(arguments) - set(properties))
            for name in unknown:
                hint = difflib.get_close_matches(name, list(properties), n=1)
                lines.append(
                    f"unknown argument `{name}`" + (f" (did you mean `{hint[0]}`?)" if hint else "")
                )
        else:
            lines.append(f"`{where or '(arguments)'}`: {_error_text(error)}")
    if len(lines) > MAX_ERRORS:
        lines = [*lines[:MAX_ERRORS], f"... and {len(lines) - MAX_ERRORS} more"]
    return lines


def _decode_base64(spec: ToolSpec, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    if not spec.base64_arguments:
        return arguments, []
    out = dict(arguments)
    problems = []
    for name in spec.base64_arguments & set(arguments):
        value = arguments[name]
        try:
            if isinstance(value, list):
                out[name] = [base64.b64decode(v, validate=True) for v in value]
            elif isinstance(value, str):
                out[name] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"`{name}`: not valid base64")
    return out, problems


def _hint_for_status(status: int | None, spec: ToolSpec) -> str:
    if status == 401:
        return "The API refused the server's credentials; the server operator must check them."
    if status == 403:
        scopes = f" (this tool needs scopes: {', '.join(spec.scopes)})" if spec.scopes else ""
        return f"The account or token is not allowed to do this{scopes}."
    if status == 404:
        return "Nothing was found there: check the ids in the arguments."
    if status == 409:
        return "The request conflicts with the current state of the object; read it again before retrying."
    if status in (400, 422):
        return "Fix the arguments named above and call again."
    if status is not None and status >= 500:
        return "The API had a server error; retrying later may work."
    return ""


def _json_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


MAX_IMAGE_BYTES = 4 * 1024 * 1024


def _structured(data: Any) -> dict[str, Any]:
    """The call's answer as a JSON object (models dumped, bytes base64-encoded)."""
    structured = data if isinstance(data, dict) else {"result": data}
    try:
        json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    except TypeError:
        text = json.dumps(
            structured, ensure_ascii=False, separators=(",", ":"), default=_json_default
        )
        structured = json.loads(text)
    return structured


def _success_result(
    data: Any, summary: str | None = None, result_text: str = "json", *, clean: bool = False
) -> types.CallToolResult:
    """`structuredContent` carries the data; the text block a summary line (`summary`) or the
    summary and the compact JSON (`json`), see `--result-text`. `clean`: the data is already
    a JSON object (`_structured`'s output, shaped), so it is not checked again."""
    structured = data if clean and isinstance(data, dict) else _structured(data)
    try:
        text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    except TypeError:  # not clean after all: dumped models, base64 bytes
        structured = _structured(data)
        text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    if summary is not None:
        text = summary if result_text == "summary" else f"{summary}\n{text}"
    content: list[Any] = [types.TextContent(type="text", text=text)]
    media_type = str(structured.get("content_type") or "").split(";")[0].strip()
    encoded = structured.get("content_base64")
    if (
        media_type.startswith("image/")
        and isinstance(encoded, str)
        and len(encoded) * 3 // 4 <= MAX_IMAGE_BYTES
    ):
        content.append(
            types.ImageContent(type="image", data=encoded, mime_type=media_type)
        )  # a model can look at it
    return types.CallToolResult(content=content, structured_content=structured)


class DefaultLookupError(Exception):
    """A declared default could not be looked up (its text is the tool result)."""


def _plain(value: Any) -> Any:
    """A client result as plain JSON data."""
    return json.loads(json.dumps(value, default=_json_default))


def _pick(result: Any, pick: Any) -> Any:
    """`pick` of a looked-up result: one field's value, or an object of several (absent fields
    left out); None when nothing is there."""
    if not isinstance(result, dict):
        return None
    if isinstance(pick, str):
        return result.get(pick)
    if isinstance(pick, dict):
        picked = {
            key: result[field] for key, field in pick.items() if result.get(field) is not None
        }
        return picked or None
    return None


ClientFactory = Callable[[], Any]
ClientProvider = Callable[[], Awaitable[Any]]
Invoke = Callable[[str, dict[str, Any]], Awaitable[Any]]


class ToolRunner:
    """Runs tool calls: access check, argument validation, `client.invoke`, error shaping."""

    def __init__(
        self,
        specs: Mapping[str, ToolSpec],
        tool_filter: ToolFilter | None = None,
        *,
        client_factory: ClientFactory | None = None,
        client_provider: ClientProvider | None = None,
        redactor: Redactor | None = None,
        output_schemas: str = "none",
        shaping_config: shaping.ShapingConfig | None = None,
    ) -> None:
        """`client_factory` makes the client once (the runner owns it and closes it in `aclose`);
        `client_provider`, instead, is awaited for the client of every call and what it returns is
        never closed by the runner (a client shared with others, e.g. one per account in a
        multi-tenant host that may replace it when the account's credentials change)."""
        self.unified_tools: frozenset[str] = frozenset()
        self.tool_mode = "static"
        self.shaping = shaping_config or shaping.ShapingConfig()
        self.specs, self.shaped_tools = shaping.shaped_specs(specs, self.shaping)
        self.filter = tool_filter or ToolFilter()
        self.enabled = {name: spec for name, spec in self.specs.items() if self.filter.allows(spec)}
        self.tools = wire_tools(self.enabled.values(), output_schemas)
        self.list_tools_by_resource = _id_hints(self.enabled.values())
        self._default_cache: dict[str, Any] = {}
        self._client_factory = client_factory or AsyncClient
        self._client_provider = client_provider
        self._client: Any = None
        self._lock = anyio.Lock()
        self.redact = redactor or Redactor.from_environment()

    async def client(self) -> Any:
        if self._client_provider is not None:
            return await self._client_provider()
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = self._client_factory()
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        close = getattr(client, "aclose", None) or getattr(client, "close", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result

    def list_tools(self) -> list[types.Tool]:
        return self.tools

    async def call(self, name: str, arguments: Mapping[str, Any] | None) -> types.CallToolResult:
        spec = self.specs.get(name)
        if spec is None:
            hint = difflib.get_close_matches(name, list(self.enabled), n=3, cutoff=0.5)
            return _error_result(
                f"Unknown tool `{name}`."
                + (f" Nearest names: {', '.join(hint)}." if hint else " See tools/list.")
            )
        refusal = self.filter.refusal(spec)
        if refusal is not None:
            return _error_result(
                f"Tool `{name}` is not enabled on this server: {refusal}. Use one of the tools from tools/list."
            )
        args: Any = {} if arguments is None else arguments
        problems = describe_validation_errors(spec, args, self.list_tools_by_resource)
        if not problems and spec.defaults:
            try:
                args = await self.apply_defaults(spec, dict(args))
            except DefaultLookupError as exc:
                return _error_result(self.redact(str(exc)))
            problems = [
                f"{line} (filled in by the server's default; pass it yourself)"
                for line in describe_validation_errors(spec, args, self.list_tools_by_resource)
            ]
        if not problems:
            args, problems = _decode_base64(spec, dict(args))
        if not problems:
            try:
                args, request = shaping.prepare(spec, args, self.shaping, name in self.shaped_tools)
            except ValueError as exc:
                problems = [str(exc)]
        if problems:
            return _error_result(
                f"Invalid arguments for `{name}`; nothing was sent:\n- "
                + "\n- ".join(problems)
                + "\nFix them and call again (the tool's inputSchema lists every argument)."
            )
        try:
            client = await self.client()
            if name in self.unified_tools:  # only ever set when the package has a unified API
                unified = importlib.import_module(f"{_PACKAGE}.unified")
                data = await unified.ainvoke_unified(client, name, args)
            else:
                data = await client.invoke(name, args)
        except Exception as exc:  # every failure becomes a tool error, never a crash
            return _error_result(self.redact(self.describe_exception(spec, exc)))
        shaped = shaping.shape(spec, _structured(data), request, self.shaping)
        return _success_result(
            shaped.structured, shaped.summary, self.shaping.result_text, clean=True
        )

    async def apply_defaults(self, spec: ToolSpec, args: dict[str, Any]) -> dict[str, Any]:
        """The arguments with the tool's declared defaults filled in where left out.

        A default applies when its argument is absent and its `when` values all hold (against the
        arguments as they stand, earlier defaults included). A looked-up default calls its
        read-only `from_operation` (the server's own lookup, whatever the tool filters) and
        remembers the answer for the server's lifetime when its arguments are constants.
        """
        for default in spec.defaults:
            name = default["argument"]
            when = default.get("when") or {}
            if name in args or any(args.get(key) != value for key, value in when.items()):
                continue
            if "from_operation" not in default:
                args[name] = json.loads(json.dumps(default.get("value")))
                continue
            source = default["from_operation"]
            call_args: dict[str, Any] = {}
            constant = True
            for key, value in (default.get("arguments") or {}).items():
                if isinstance(value, dict) and set(value) == {"argument"}:
                    constant = False
                    if value["argument"] not in args:
                        break
                    call_args[key] = args[value["argument"]]
                else:
                    call_args[key] = value
            else:
                key = json.dumps([source, call_args], sort_keys=True, default=str)
                result = self._default_cache.get(key)
                if result is None:
                    try:
                        client = await self.client()
                        result = _plain(await client.invoke(source, call_args))
                    except Exception as exc:
                        reason = (
                            self.describe_exception(self.specs[source], exc)
                            if source in self.specs
                            else repr(exc)
                        )
                        raise DefaultLookupError(
                            f"`{spec.name}` could not fill in `{name}` from `{source}`; nothing was sent. "
                            f"Pass `{name}` yourself. The lookup said: {_clip(reason, 400)}"
                        ) from None
                    if constant:
                        self._default_cache[key] = result
                picked = _pick(result, default.get("pick"))
                if picked is not None:
                    args[name] = picked
        return args

    def describe_exception(self, spec: ToolSpec, exc: Exception) -> str:
        name = spec.name
        if isinstance(exc, RateLimitError):
            retry_after = getattr(exc, "retry_after", None)
            when = (
                f"Retry after {retry_after:g} seconds."
                if isinstance(retry_after, int | float)
                else "Wait a few seconds before retrying."
            )
            return f"`{name}` hit the API rate limit (HTTP 429) and retries were exhausted. {when}"
        if isinstance(exc, InvalidArgumentsError):
            errors = getattr(exc, "errors", None)
            if isinstance(errors, dict) and errors:
                details = "\n- ".join(
                    f"`{field}`: {_clip('; '.join(map(str, msgs)) if isinstance(msgs, list | tuple) else msgs, 200)}"
                    for field, msgs in list(errors.items())[:MAX_ERRORS]
                )
                return f"Invalid arguments for `{name}`; nothing was sent:\n- {details}"
            return f"Invalid arguments for `{name}`; nothing was sent: {_clip(str(exc), 1000)}"
        if isinstance(exc, APITimeoutError):
            return f"`{name}` timed out waiting for the API. Retrying later may work."
        if isinstance(exc, APIConnectionError):
            return f"`{name}` could not reach the API ({_clip(str(exc))}). Retrying later may work."
        if isinstance(exc, APIError):
            status = getattr(exc, "status_code", None)
            message = getattr(exc, "message", None) or str(exc)
            request = " ".join(
                str(p) for p in (getattr(exc, "method", None), getattr(exc, "path", None)) if p
            )
            text = (
                f"The API answered HTTP {status}"
                + (f" to {request}" if request else "")
                + f": {_clip(message)}"
            )
            field_errors = getattr(exc, "field_errors", None) or {}
            if field_errors:
                details = "; ".join(
                    f"`{field}`: {_clip(' '.join(map(str, msgs)) if isinstance(msgs, list | tuple) else msgs, 200)}"
                    for field, msgs in list(field_errors.items())[:MAX_ERRORS]
                )
                text += f"\nField errors: {details}"
            hint = _hint_for_status(status, spec)
            return f"{text}\n{hint}" if hint else text
        if isinstance(exc, ClientError):
            return f"`{name}` failed: {_clip(str(exc), 500)}\nCredentials and account come from: {CREDENTIALS_HELP}"
        logger.error("unexpected error in %s: %s", name, self.redact(repr(exc)))
        return (
            f"`{name}` failed with an unexpected {type(exc).__name__}; the server log has details."
        )


# --- server ------------------------------------------------------------------------------------


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0"


def build_server(
    tool_filter: ToolFilter | None = None,
    *,
    specs: Mapping[str, ToolSpec] | None = None,
    client_factory: ClientFactory | None = None,
    client_provider: ClientProvider | None = None,
    output_schemas: str = "none",
    tool_mode: str | None = None,
    shaping_config: shaping.ShapingConfig | None = None,
) -> tuple[Server[Any], ToolRunner]:
    """The low-level MCP server and the runner behind it (close the runner when done).

    `client_factory` / `client_provider`: see `ToolRunner`.

    `tool_mode`: `static` (every enabled tool listed) or `dynamic` (search_tools, describe_tools,
    call_tool); default from the environment variable `TOOL_MODE_ENV`, else static.
    """
    runner = ToolRunner(
        specs if specs is not None else load_tools(),
        tool_filter,
        client_factory=client_factory,
        client_provider=client_provider,
        output_schemas=output_schemas,
        shaping_config=shaping_config,
    )
    mode = tool_mode or os.environ.get(TOOL_MODE_ENV, "").strip() or "static"
    if mode not in toolmodes.TOOL_MODES:
        raise ValueError(f"unknown tool mode {mode!r} (use {', '.join(toolmodes.TOOL_MODES)})")
    dynamic = toolmodes.DynamicTools(runner.enabled, runner.call) if mode == "dynamic" else None
    runner.tool_mode = mode

    async def on_list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        if dynamic is not None:
            return types.ListToolsResult(tools=dynamic.tools)
        return types.ListToolsResult(tools=runner.list_tools())

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if dynamic is not None:
            return await dynamic.call(params.name, params.arguments)
        return await runner.call(params.name, params.arguments)

    def input_schema(name: str) -> Mapping[str, Any] | None:
        if dynamic is not None:
            return dynamic.input_schema(name)
        spec = runner.enabled.get(name)
        return spec.tool.input_schema if spec is not None else None

    server: Server[Any] = Server(
        SERVER_NAME,
        version=_version(),
        title=TITLE,
        instructions=INSTRUCTIONS
        + (toolmodes.DYNAMIC_INSTRUCTIONS if dynamic is not None else toolmodes.STATIC_INSTRUCTIONS)
        + shaping.instructions(runner.shaping),
        get_tool_input_schema=input_schema,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )
    return server, runner


class BearerTokenMiddleware:
    """ASGI middleware: every HTTP request needs `Authorization: Bearer <token>` (constant-time check)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            body = json.dumps(
                {"error": "invalid_token", "error_description": "Missing or wrong bearer token."}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b'Bearer realm="' + SERVER_NAME.encode() + b'"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Any) -> bool:
        supplied = b""
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                supplied = value
                break
        scheme, _, token = supplied.partition(b" ")
        ok_scheme = scheme.lower() == b"bearer"
        ok_token = hmac.compare_digest(token.strip(), self._token)
        return ok_scheme and ok_token


async def serve_stdio(server: Server[Any], runner: ToolRunner) -> None:
    from mcp.server.stdio import stdio_server

    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await runner.aclose()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def transport_security(
    bind_host: str, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = ()
) -> TransportSecuritySettings:
    """Host and Origin checks (against DNS rebinding and cross-site calls), on whatever the bind
    address: the loopback names, the bind address itself unless it is a wildcard, and the hosts
    and origins given on the command line; each with any port unless one is given."""
    hosts = list(LOOPBACK_HOSTS)
    if bind_host not in WILDCARD_BINDS:
        hosts.append(f"[{bind_host}]" if ":" in bind_host else bind_host)
    hosts += allowed_hosts
    hosts = list(dict.fromkeys(hosts))
    origins = [f"http://{h}" for h in LOOPBACK_HOSTS] + [o.rstrip("/") for o in allowed_origins]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[p for h in hosts for p in _with_any_port(h)],
        allowed_origins=[p for o in origins for p in _with_any_port(o)],
    )


def _with_any_port(value: str) -> list[str]:
    """`name` -> [`name`, `name:*`]; a value that names its port stays as is."""
    has_port = re.search(r":\d+$", value) is not None
    return [value] if has_port else [value, f"{value}:*"]


async def serve_http(
    server: Server[Any],
    runner: ToolRunner,
    *,
    host: str,
    port: int,
    path: str,
    token: str,
    security: TransportSecuritySettings | None = None,
) -> None:
    import uvicorn

    app = BearerTokenMiddleware(
        server.streamable_http_app(
            streamable_http_path=path,
            host=host,
            transport_security=security or transport_security(host),
        ),
        token,
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    try:
        await uvicorn.Server(config).serve()
    finally:
        await runner.aclose()


# --- command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=SERVER_NAME,
        description=DESCRIPTION,
        epilog="Credentials and account (environment):\n  "
        + CREDENTIALS_HELP.replace("\n", "\n  ")
        + f"\nHTTP mode token: --token or {TOKEN_ENV}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    transport = parser.add_argument_group("transport")
    transport.add_argument(
        "--http", action="store_true", help="serve streamable HTTP instead of stdio"
    )
    transport.add_argument(
        "--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)"
    )
    transport.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    transport.add_argument("--path", default="/mcp", help="HTTP endpoint path (default /mcp)")
    transport.add_argument(
        "--allowed-hosts",
        action="append",
        metavar="HOSTS",
        help="comma list: Host header values accepted besides the loopback names and the bind address "
        "(e.g. mcp.example.com, or mcp.example.com:8443); checked whatever the bind address",
    )
    transport.add_argument(
        "--allowed-origins",
        action="append",
        metavar="ORIGINS",
        help="comma list: browser Origin values accepted besides http://localhost (e.g. "
        "https://app.example.com); requests without an Origin are not browser calls and are accepted",
    )
    transport.add_argument(
        "--token",
        default=None,
        help=f"bearer token HTTP clients must send (default: ${TOKEN_ENV}); required with --http",
    )
    access = parser.add_argument_group(
        "access control (options combine; a filtered tool is hidden and refused)"
    )
    access.add_argument(
        "--methods",
        action="append",
        metavar="GROUPS",
        help="comma list of: read (list/get + read-only customs), write (create/update/delete + "
        "customs that change data), custom, list, get, create, update, delete",
    )
    access.add_argument(
        "--tags", action="append", metavar="TAGS", help="comma list: tools with any of these tags"
    )
    access.add_argument(
        "--toolsets",
        action="append",
        metavar="TOOLSETS",
        help="comma list of tags (same as --tags); `default` = the everyday set: "
        + ", ".join(DEFAULT_TOOLSETS),
    )
    access.add_argument(
        "--tools", action="append", metavar="NAMES", help="comma list: only these tools"
    )
    access.add_argument(
        "--exclude-tools", action="append", metavar="NAMES", help="comma list: never these tools"
    )
    access.add_argument(
        "--read-only", action="store_true", help="only tools that do not change data"
    )
    client = parser.add_argument_group("client (defaults: the generated client's retry policy)")
    client.add_argument("--max-retries", type=int, default=None, help="retries of a failed request")
    client.add_argument(
        "--max-retry-wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="cap on each wait for a Retry-after header before a retry; with --max-retries 0 a rate "
        "limit comes straight back to the agent, saying when to retry",
    )
    parser.add_argument(
        "--tool-mode",
        choices=toolmodes.TOOL_MODES,
        default=None,
        help="static (default): every enabled tool in tools/list; dynamic: only search_tools, "
        f"describe_tools and call_tool, which reach the same tools (default: ${TOOL_MODE_ENV})",
    )
    parser.add_argument(
        "--output-schemas",
        choices=toolmodes.OUTPUT_SCHEMAS,
        default="none",
        help="none (default): tools/list carries no outputSchema; compact: each result's shape "
        "without $defs; shared: complete, with the descriptions of an object returned by several "
        "tools sent once; full: every tool as the tools file has it",
    )
    results = parser.add_argument_group("results")
    results.add_argument(
        "--response-format",
        choices=shaping.FORMATS,
        default=shaping.DEFAULT_FORMAT,
        help="default of the read tools' response_format argument (default concise: nested "
        "objects cut to id and name/email, long texts truncated with a marker); detailed: everything",
    )
    results.add_argument(
        "--max-result-tokens",
        type=int,
        default=shaping.DEFAULT_MAX_RESULT_TOKENS,
        metavar="N",
        help="cap on a result's size (estimated tokens, default %(default)s); over it a list page "
        "loses items from its end and says how to get them (its next_cursor continues there)",
    )
    results.add_argument(
        "--result-text",
        choices=shaping.RESULT_TEXTS,
        default="summary",
        help="text block of a result: summary (default; the data is sent once, in "
        "structuredContent) or json (the summary and the compact JSON, for clients that only "
        "read text content)",
    )
    if HAS_UNIFIED:
        parser.add_argument(
            "--unified",
            action="store_true",
            help="also serve the Unified Ticketing / User Directory tools (list_all_unified_ticketing_tickets, ...)",
        )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="start the local sandbox in-process and serve it (no account needed; needs the [sandbox] extra)",
    )
    parser.add_argument(
        "--list-tools", action="store_true", help="print the enabled tools and exit"
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="log level on stderr (default WARNING)"
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def filter_from_args(args: argparse.Namespace) -> ToolFilter:
    return ToolFilter(
        methods=_split(args.methods),
        tags=_split(args.tags)
        | toolmodes.expand_toolsets(getattr(args, "toolsets", None) or (), DEFAULT_TOOLSETS),
        tools=_split(args.tools),
        exclude_tools=_split(args.exclude_tools),
        read_only=bool(args.read_only),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=str(args.log_level).upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if toolmodes.DEFAULT_TOOLSET in _split(args.toolsets) and not DEFAULT_TOOLSETS:
        print(
            f"{SERVER_NAME}: this connector declares no default toolsets; name tags with --toolsets",
            file=sys.stderr,
        )
        return 2
    tool_filter = filter_from_args(args)
    document = read_tools_document()
    unified_names: frozenset[str] = frozenset()
    if HAS_UNIFIED and args.unified:
        unified_tools = importlib.import_module(f"{_PACKAGE}.unified.tools")
        extra = unified_tools.unified_tools_document()
        document = {
            **document,
            "tools": [*document["tools"], *extra["tools"]],
            "$defs": {**document.get("$defs", {}), **extra.get("$defs", {})},
        }
        unified_names = frozenset(unified_tools.UNIFIED_TOOL_NAMES)
    specs = load_tools(document)
    problems = tool_filter.check(specs)
    if problems:
        for problem in problems:
            print(f"{SERVER_NAME}: {problem}", file=sys.stderr)
        return 2
    client_options: dict[str, Any] = {}
    if args.max_retries is not None:
        client_options["max_retries"] = args.max_retries
    if args.max_retry_wait is not None:
        client_options["max_retry_after"] = args.max_retry_wait
    if args.sandbox and not args.list_tools:
        try:
            from ..sandbox import serve_in_thread
        except ImportError as exc:
            print(
                f"{SERVER_NAME}: --sandbox needs the sandbox extra: pip install '{DISTRIBUTION}[sandbox]' ({exc})",
                file=sys.stderr,
            )
            return 2
        sandbox = serve_in_thread()
        client_options.update(sandbox.client_kwargs())
        print(f"{SERVER_NAME}: using the local sandbox at {sandbox.base_url}", file=sys.stderr)
    client_factory: ClientFactory = lambda: AsyncClient(**client_options)  # noqa: E731
    if not args.list_tools:
        # Without credentials no call can work: say so once, at start, not in every tool result.
        try:
            first_client = AsyncClient(**client_options)
        except ConfigurationError as exc:
            print(
                f"{SERVER_NAME}: cannot start: {_clip(str(exc), 400)} (--help lists the environment; "
                "--sandbox serves a local sandbox without an account)",
                file=sys.stderr,
            )
            return 2
        made = [first_client]
        client_factory = lambda: made.pop() if made else AsyncClient(**client_options)  # noqa: E731
    try:
        server, runner = build_server(
            tool_filter,
            specs=specs,
            output_schemas=args.output_schemas,
            client_factory=client_factory,
            tool_mode=args.tool_mode,
            shaping_config=shaping.ShapingConfig(
                response_format=args.response_format,
                max_result_tokens=max(args.max_result_tokens, 500),
                result_text=args.result_text,
            ),
        )
    except ValueError as exc:  # an unknown tool mode from the environment
        print(f"{SERVER_NAME}: {exc} (from {TOOL_MODE_ENV})", file=sys.stderr)
        return 2
    runner.unified_tools = unified_names
    if not runner.enabled:
        print(f"{SERVER_NAME}: the filters leave no tool to serve", file=sys.stderr)
        return 2
    if args.list_tools:
        for spec in runner.enabled.values():
            print(spec.name)
        return 0
    if args.http:
        token = args.token or os.environ.get(TOKEN_ENV, "")
        if not token.strip():
            print(
                f"{SERVER_NAME}: refusing to serve HTTP without a bearer token; pass --token or set {TOKEN_ENV}",
                file=sys.stderr,
            )
            return 2
        runner.redact = Redactor.from_environment([token])
        print(
            f"{SERVER_NAME}: {len(runner.enabled)} tools on http://{args.host}:{args.port}{args.path}",
            file=sys.stderr,
        )
        security = transport_security(
            args.host, sorted(_split(args.allowed_hosts)), sorted(_split(args.allowed_origins))
        )
        anyio.run(
            lambda: serve_http(
                server,
                runner,
                host=args.host,
                port=args.port,
                path=args.path,
                token=token.strip(),
                security=security,
            )
        )
        return 0
    anyio.run(serve_stdio, server, runner)
    return 0
