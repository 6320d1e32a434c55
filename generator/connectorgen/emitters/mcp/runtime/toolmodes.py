"""How the tools reach the model: `static` (every enabled tool in tools/list, lean) or `dynamic`.

- `static`: each enabled tool with its name, description, complete input schema and annotations.
  Lean by default: no `_meta` or display title, annotation hints equal to the MCP defaults left
  out, and the descriptions of an input object shared by several tools sent once per list (the
  other tools carry its bare shape: what they accept is unchanged). Output schemas are opt-in
  (`--output-schemas`): `none` (default), `compact` (the result's shape with nested objects
  reduced to their type and name, no `$defs`), `shared` or `full`.
- `dynamic`: exactly three tools. `search_tools` finds enabled tools by keywords (BM25 over names,
  titles, descriptions and tags), `describe_tools` gives their complete input schemas and a short
  account of what they return, `call_tool` runs one with the same validation and results as a
  static call. A tool the access filters hide is never found, described or called.

Toolsets: the tags of the tools, chosen with `--toolsets a,b` (same as `--tags`); `default` stands
for the connector's declared everyday set (`DEFAULT_TOOLSETS` in `_spec.py`).

Nothing here is written per connector or per tool.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from mcp import types

__all__ = [
    "DYNAMIC_INSTRUCTIONS",
    "DYNAMIC_TOOLS",
    "OUTPUT_SCHEMAS",
    "STATIC_INSTRUCTIONS",
    "TOOL_MODES",
    "DynamicTools",
    "ToolSearch",
    "compact_output_schema",
    "expand_toolsets",
    "lean_tools",
    "output_summary",
    "summary",
]

TOOL_MODES = ("static", "dynamic")
#: `--output-schemas` values; `none` is the default.
OUTPUT_SCHEMAS = ("none", "compact", "shared", "full")
DEFAULT_TOOLSET = "default"
SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 50
MAX_DESCRIBE = 20
SUMMARY_CHARS = 140


class _Spec(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def tool(self) -> types.Tool: ...
    @property
    def tags(self) -> frozenset[str]: ...


# --- toolsets ----------------------------------------------------------------------------------


def expand_toolsets(values: Iterable[str], default_toolsets: Iterable[str]) -> frozenset[str]:
    """`--toolsets` values (comma lists) as tags; `default` stands for the declared default set."""
    out: set[str] = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part == DEFAULT_TOOLSET:
                out.update(default_toolsets)
            elif part:
                out.add(part)
    return frozenset(out)


# --- static: lean tools/list --------------------------------------------------------------------

#: Annotation keywords (validation ignores them).
_ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "x-known-values",
        "examples",
        "format",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
    }
)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
)


def _map_schema(schema: Any, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """Apply `fn` to every (sub)schema object, bottom-up."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            value = {name: _map_schema(sub, fn) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            value = [_map_schema(sub, fn) for sub in value]
        elif key in _SCHEMA_ONE:
            value = _map_schema(value, fn)
        out[key] = value
    return fn(out)


def without_annotations(schema: Any) -> Any:
    """The schema without annotation keywords (what it accepts is unchanged)."""
    return _map_schema(schema, lambda s: {k: v for k, v in s.items() if k not in _ANNOTATIONS})


def lean_annotations(annotations: types.ToolAnnotations | None) -> types.ToolAnnotations | None:
    """The hints that differ from the MCP defaults (read-only false, destructive true, idempotent
    false, open-world true); destructive and idempotent mean nothing for a read-only tool."""
    if annotations is None:
        return None
    read_only = bool(annotations.read_only_hint)
    return types.ToolAnnotations(
        read_only_hint=True if read_only else None,
        destructive_hint=False if not read_only and annotations.destructive_hint is False else None,
        idempotent_hint=True if not read_only and annotations.idempotent_hint else None,
        open_world_hint=False if annotations.open_world_hint is False else None,
    )


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return ref[len("#/$defs/") :]
    return None


def compact_output_schema(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The result's outer shape with every shared object reduced to its type and name: no `$defs`,
    no descriptions below the top. Results still validate against it (it only accepts more)."""
    if not schema:
        return None
    defs = schema.get("$defs") or {}

    def reduce(sub: dict[str, Any]) -> dict[str, Any]:
        name = _ref_name(sub)
        if name is None:
            return {k: v for k, v in sub.items() if k not in _ANNOTATIONS}
        target = defs.get(name) or {}
        out: dict[str, Any] = {"title": name}
        if isinstance(target.get("type"), str | list):
            out["type"] = target["type"]
        return out

    body = {k: v for k, v in schema.items() if k != "$defs"}
    reduced: dict[str, Any] = _map_schema(body, reduce)
    return reduced


def _def_title_dropped(name: str, schema: Any) -> Any:
    if isinstance(schema, dict) and schema.get("title") == name:
        return {k: v for k, v in schema.items() if k != "title"}
    return schema


_INT64_BOUNDS = (("minimum", -(2**63)), ("maximum", 2**63 - 1))


def _sent_lean(key: str, value: Any) -> bool:
    """Whether a schema keyword is worth the model's tokens. Two are not: the int64 range put on
    id arguments and `additionalProperties: false`. The server still enforces both before
    anything is sent (every call is validated against the full schema, and an unknown argument
    is refused by name), so dropping them from `tools/list` loses nothing but tokens."""
    if key == "additionalProperties" and value is False:
        return False
    return not any(key == bound and value == limit for bound, limit in _INT64_BOUNDS)


def lean_input_schema(schema: Any) -> Any:
    """An input schema as `tools/list` sends it in static mode (see `_sent_lean`)."""
    return _map_schema(schema, lambda s: {k: v for k, v in s.items() if _sent_lean(k, v)})


STATIC_INSTRUCTIONS = (
    " Arguments a tool does not list are refused, and ids are checked against 64-bit bounds."
)


def lean_tools(
    specs: Iterable[_Spec],
    output_schemas: str = "none",
    shared_output: Callable[[list[_Spec]], list[types.Tool]] | None = None,
) -> list[types.Tool]:
    """The static `tools/list` entries (see the module docstring)."""
    specs = list(specs)
    outputs: dict[str, Any] = {}
    if output_schemas == "compact":
        outputs = {s.name: compact_output_schema(s.tool.output_schema) for s in specs}
    elif output_schemas in ("shared", "full") and shared_output is not None:
        outputs = {t.name: t.output_schema for t in shared_output(specs)}
    described: set[str] = set()
    seen_arguments: set[str] = set()
    tools = []
    for spec in specs:
        schema = dict(lean_input_schema(spec.tool.input_schema))
        properties = schema.get("properties")
        if isinstance(properties, dict):
            lean_properties = {}
            for name, sub in properties.items():
                key = json.dumps([name, sub], sort_keys=True)
                lean_properties[name] = without_annotations(sub) if key in seen_arguments else sub
                seen_arguments.add(key)
            schema["properties"] = lean_properties
        defs = schema.get("$defs")
        if isinstance(defs, dict):
            lean_defs = {}
            for name, sub in defs.items():
                sub = _def_title_dropped(name, sub)
                lean_defs[name] = without_annotations(sub) if name in described else sub
            described.update(defs)
            schema["$defs"] = lean_defs
        tools.append(
            types.Tool(
                name=spec.tool.name,
                description=spec.tool.description,
                input_schema=schema,
                output_schema=outputs.get(spec.name),
                annotations=lean_annotations(spec.tool.annotations),
            )
        )
    return tools


# --- dynamic: search --------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    # plural and singular meet: "tickets" finds "ticket" and the other way round
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def summary(tool: types.Tool) -> str:
    """One line: the first sentence of the description, clipped."""
    text = " ".join((tool.description or tool.title or "").split())
    match = re.search(r"(?<=[.!?])\s", text)
    line = text[: match.start()] if match else text
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


class ToolSearch:
    """BM25 over each tool's name, title, description, tags and arguments (names and tags weigh
    most, then the title), plus a bonus for names that the query words cover: `list tickets`
    ranks `list_all_tickets` above `list_all_ticket_tags`."""

    K1 = 1.2
    B = 0.75
    NAME_BONUS = 4.0

    def __init__(self, specs: Iterable[_Spec]) -> None:
        self.specs = list(specs)
        self.docs: list[Counter[str]] = []
        names: list[set[str]] = []
        for spec in self.specs:
            tool = spec.tool
            strong = _words(tool.name.replace("_", " ")) + _words(" ".join(sorted(spec.tags)))
            words = strong * 3 + _words(tool.title or "") * 2 + _words(tool.description or "")
            for name, prop in (tool.input_schema.get("properties") or {}).items():
                words += _words(name.replace("_", " "))
                if isinstance(prop, dict) and isinstance(prop.get("description"), str):
                    words += _words(prop["description"])
            self.docs.append(Counter(words))
            names.append(set(_words(tool.name.replace("_", " "))))
        self.lengths = [sum(doc.values()) for doc in self.docs]
        self.average = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        frequency: Counter[str] = Counter()
        for doc in self.docs:
            frequency.update(doc.keys())
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in frequency.items()}
        # name words most tools share (the vendor, `all`, `by`, `id`) say nothing about a tool
        common: Counter[str] = Counter(w for words in names for w in words)
        self.names = [{w for w in words if common[w] * 2 <= n} or words for words in names]

    def search(self, query: str, limit: int = SEARCH_LIMIT) -> list[_Spec]:
        exact = [s for s in self.specs if s.name == query.strip()]
        terms = list(dict.fromkeys(_words(query)))
        scored = []
        for index, doc in enumerate(self.docs):
            score = 0.0
            norm = self.K1 * (1 - self.B + self.B * self.lengths[index] / self.average)
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    score += self.idf[term] * tf * (self.K1 + 1) / (tf + norm)
            name = self.names[index]
            covered = len(name.intersection(terms))
            if covered:
                score += self.NAME_BONUS * (covered / len(terms)) * (covered / len(name))
            if score > 0:
                scored.append((-score, index))
        scored.sort()
        found = exact + [self.specs[i] for _, i in scored if self.specs[i] not in exact]
        return found[:limit]


# --- dynamic: the three tools -----------------------------------------------------------------

DYNAMIC_TOOLS = ("search_tools", "describe_tools", "call_tool")
#: Appended to the server's instructions in dynamic mode.
DYNAMIC_INSTRUCTIONS = (
    " The API's tools are reached through three: search_tools finds them by keywords, "
    "describe_tools gives their arguments, call_tool runs one (pass its arguments as `arguments`)."
)

_READ = types.ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _dynamic_definitions(tags: Iterable[str]) -> list[types.Tool]:
    tag_list = ", ".join(sorted(tags))
    return [
        types.Tool(
            name="search_tools",
            description="Find the API tools for a task by keywords (matched against tool names, "
            "titles, descriptions and tags). Answers tool names with one-line summaries; then "
            f"call describe_tools for their arguments. Tags: {tag_list}.",
            input_schema={
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Keywords, e.g. `list tickets` or a tool name.",
                    },
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_SEARCH_LIMIT,
                        "default": SEARCH_LIMIT,
                    },
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            annotations=_READ,
        ),
        types.Tool(
            name="describe_tools",
            description="Complete input schema, annotations and a short account of the result "
            "of the named tools (from search_tools).",
            input_schema={
                "type": "object",
                "properties": {
                    "names": {
                        "type": "array",
                        "items": {"type": "string"},
                        "minItems": 1,
                        "maxItems": MAX_DESCRIBE,
                    },
                },
                "required": ["names"],
                "additionalProperties": False,
            },
            annotations=_READ,
        ),
        types.Tool(
            name="call_tool",
            description="Run an API tool by name with its arguments (as describe_tools gives them). "
            "Answers exactly what the tool answers; invalid arguments are refused before anything is sent.",
            input_schema={
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "arguments": {"type": "object", "default": {}},
                },
                "required": ["name"],
                "additionalProperties": False,
            },
            annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=True),
        ),
    ]


def output_summary(schema: Mapping[str, Any] | None) -> str:
    """A short account of what a tool returns, from its output schema."""
    if not schema:
        return "No content: {ok: true, status} on success."
    props = schema.get("properties") or {}
    result = props.get("result")
    if isinstance(result, dict) and result.get("type") == "array":
        items = result.get("items") or {}
        item = _ref_name(items) or str(items.get("type") or "item")
        extra = [name for name in props if name != "result"]
        return "One page: {result: [" + item + "]" + "".join(f", {n}" for n in extra) + "}."
    for choice in schema.get("anyOf") or ():
        if isinstance(choice, dict) and _ref_name(choice):
            schema = choice
            break
    name = _ref_name(schema)
    target = (schema.get("$defs") or {}).get(name) if name else schema
    fields = list((target or {}).get("properties") or {})
    label = f"{name} object" if name else "object"
    if not fields:
        return f"{label}."
    shown = ", ".join(fields[:12]) + (f", ... ({len(fields)} fields)" if len(fields) > 12 else "")
    return f"{label}: {shown}."


def _result(data: dict[str, Any]) -> types.CallToolResult:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=data
    )


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


class DynamicTools:
    """`search_tools`, `describe_tools` and `call_tool` over the enabled tools of a runner."""

    def __init__(
        self,
        enabled: Mapping[str, _Spec],
        call: Callable[[str, Mapping[str, Any] | None], Awaitable[types.CallToolResult]],
    ) -> None:
        self.enabled = dict(enabled)
        self._call = call
        self.index = ToolSearch(self.enabled.values())
        self.tools = _dynamic_definitions({tag for s in self.enabled.values() for tag in s.tags})
        self._schemas = {tool.name: tool.input_schema for tool in self.tools}

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        return self._schemas.get(name)

    def _unknown(self, names: Iterable[str]) -> str:
        parts = []
        for name in names:
            hint = difflib.get_close_matches(name, list(self.enabled), n=3)
            parts.append(f"`{name}`" + (f" (did you mean {', '.join(hint)}?)" if hint else ""))
        return "Unknown tools: " + "; ".join(parts) + ". Find tools with search_tools."

    async def call(self, name: str, arguments: Mapping[str, Any] | None) -> types.CallToolResult:
        args = dict(arguments or {})
        if name == "search_tools":
            query = args.get("query")
            limit = args.get("limit", SEARCH_LIMIT)
            if not isinstance(query, str) or not query.strip():
                return _error("search_tools needs `query`: keywords such as `list tickets`.")
            if (
                not isinstance(limit, int)
                or isinstance(limit, bool)
                or not 1 <= limit <= MAX_SEARCH_LIMIT
            ):
                return _error(f"`limit` must be an integer from 1 to {MAX_SEARCH_LIMIT}.")
            found = self.index.search(query, limit)
            return _result({"tools": [{"name": s.name, "summary": summary(s.tool)} for s in found]})
        if name == "describe_tools":
            names = args.get("names")
            if isinstance(names, str):
                names = [n.strip() for n in names.split(",") if n.strip()]
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str) for n in names)
            ):
                return _error(
                    "describe_tools needs `names`: a list of tool names from search_tools."
                )
            if len(names) > MAX_DESCRIBE:
                return _error(f"describe_tools takes at most {MAX_DESCRIBE} names at a time.")
            unknown = [n for n in names if n not in self.enabled]
            if unknown:
                return _error(self._unknown(unknown))
            described = []
            for tool_name in dict.fromkeys(names):
                tool = self.enabled[tool_name].tool
                entry: dict[str, Any] = {
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": tool.input_schema,
                    "returns": output_summary(tool.output_schema),
                }
                annotations = lean_annotations(tool.annotations)
                if annotations is not None:
                    entry["annotations"] = annotations.model_dump(
                        by_alias=True, mode="json", exclude_none=True
                    )
                described.append(entry)
            return _result({"tools": described})
        if name == "call_tool":
            target = args.get("name")
            if not isinstance(target, str) or not target:
                return _error("call_tool needs `name`: a tool name from search_tools.")
            if target not in self.enabled:
                return _error(self._unknown([target]))
            inner = args.get("arguments", {})
            if inner is None:
                inner = {}
            return await self._call(target, inner)
        return _error(
            f"Unknown tool `{name}`. This server is in dynamic mode: its tools are "
            + ", ".join(DYNAMIC_TOOLS)
            + "."
        )
