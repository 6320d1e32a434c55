"""Results shaped for agents: `fields`, `response_format` and a hard cap on result size.

Every read tool (read-only, answering JSON) takes two more arguments, handled here and never sent
to the API:

- `fields`: dotted paths to keep (`["id", "customer.email", "tags.name"]`); on a list page they
  apply to each item, and a path through a list applies to each of its elements.
- `response_format`: `concise` or `detailed`. Concise drops empty values, cuts nested objects to
  their id plus name and email (or title/subject/label when there is no name), and truncates
  long texts with a visible marker that says how to get them whole. Detailed returns everything.
  The server's default is `concise` unless `--response-format detailed` is given.

Every JSON result is held under `--max-result-tokens` (a cheap estimate that overcounts o200k,
see `estimate_text_tokens`). Nothing is cut silently: over the cap a
list page loses whole items from its end and an object loses whole fields from its end, and the
result's `truncated` member says what was left out and how to get it. For a page, `next_cursor`
then points at the first item left out (a cursor of this server that replays the same API page
and skips what was already shown), so walking the pages sees every item exactly once.

Only the server module imports this one; it knows nothing of any connector.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("concise", "detailed")
DEFAULT_FORMAT = "concise"
DEFAULT_MAX_RESULT_TOKENS = 20_000
#: Concise mode: texts longer than this many characters are cut.
TEXT_LIMIT = 300
#: Run-time token estimate: one token per word piece the way o200k splits text (letters, up to 3
#: digits, punctuation, spaces), plus one per 8 letters of a long word and per 3 characters of a
#: punctuation run; mixed-case runs (base64 cursors, ids) two per 3 letters. It overcounts o200k by 20-40 % on API JSON and never undercounts it in the
#: tests (tests/mcp/test_response_shaping.py); bytes / 4 undercounts JSON full of dates and ids.
_PIECES = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]+|\s+")
#: What the text block of a successful call carries: a one-line summary (the data is in
#: `structuredContent` only) or the summary and the compact JSON.
RESULT_TEXTS = ("summary", "json")

FIELDS_ARG = "fields"
FORMAT_ARG = "response_format"
CURSOR_PREFIX = "mcp~"

#: Concise mode cuts a nested object that has an `id` to the id and the first of these present.
LABEL_KEYS = ("name", "email", "title", "subject", "label", "address")

#: Concise mode writes UTC timestamps to the minute: `2026-01-11T16:41Z` (detailed: as sent).
_UTC_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(?:\+00:00|Z)$")

#: Kept small: every read tool carries both (their descriptions are sent once per tools/list).
FIELDS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "description": 'Only these fields, as dotted paths (e.g. ["id", "customer.email", '
    '"tags.name"]); on a list they apply to each item. Handled by this server, not sent to the API.',
}


def format_schema(default: str) -> dict[str, Any]:
    return {
        "enum": list(FORMATS),
        "default": default,
        "description": "concise: nested objects cut to their id and name (or email, title, subject), "
        "long texts truncated with a marker, UTC times to the minute, null/false/empty values and "
        "links to the object itself left out; detailed: everything the API returned. "
        f"This server's default: {default}.",
    }


@dataclass(frozen=True, slots=True)
class ShapingConfig:
    response_format: str = DEFAULT_FORMAT
    max_result_tokens: int = DEFAULT_MAX_RESULT_TOKENS
    text_limit: int = TEXT_LIMIT
    result_text: str = "summary"


@dataclass(frozen=True, slots=True)
class Request:
    """What one call asked of the shaping (taken out of its arguments before the API call)."""

    fields: tuple[str, ...] = ()
    response_format: str = DEFAULT_FORMAT
    shaped: bool = False
    """False for tools that take no shaping arguments (only the size cap applies)."""
    page_cursor: str | None = None
    """The API cursor the page was fetched with (None: first page)."""
    limit: Any = None
    skip: int = 0
    """Items of the API page already shown by an earlier, cut result."""


# --- tool definitions --------------------------------------------------------------------------


def _is_file_result(output: Mapping[str, Any]) -> bool:
    props = set((output.get("properties") or {}).keys())
    return bool(props) and props <= {"content_type", "size", "content_base64", "url", "text"}


def takes_shaping(spec: Any) -> bool:
    """Read tools answering JSON take `fields` and `response_format`."""
    output = spec.tool.output_schema
    properties = spec.tool.input_schema.get("properties") or {}
    return bool(
        spec.read_only
        and output
        and not _is_file_result(output)
        and FIELDS_ARG not in properties
        and FORMAT_ARG not in properties
    )


def _without_required(schema: Any) -> Any:
    """A shaped result may leave members out: the same schema with no `required` anywhere."""
    if isinstance(schema, dict):
        return {k: _without_required(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [_without_required(v) for v in schema]
    return schema


def shaped_specs(
    specs: Mapping[str, Any], config: ShapingConfig
) -> tuple[dict[str, Any], frozenset[str]]:
    """The tool specs with the shaping arguments on read tools (and output schemas that allow
    the members concise results and projections leave out), and the names of those tools."""
    out = {}
    names = set()
    for name, spec in specs.items():
        if not takes_shaping(spec):
            out[name] = spec
            continue
        names.add(name)
        schema = dict(spec.tool.input_schema)
        schema["properties"] = {
            **(schema.get("properties") or {}),
            FIELDS_ARG: FIELDS_SCHEMA,
            FORMAT_ARG: format_schema(config.response_format),
        }
        tool = spec.tool.model_copy(
            update={
                "input_schema": schema,
                "output_schema": _without_required(spec.tool.output_schema),
            }
        )
        out[name] = dataclasses.replace(spec, tool=tool, validator=type(spec.validator)(schema))
    return out, frozenset(names)


def instructions(config: ShapingConfig) -> str:
    """What the server's instructions say about results."""
    return (
        f" Read tools answer in response_format={config.response_format} unless asked otherwise "
        "(concise: nested objects as id and name, long texts truncated; detailed: everything) and "
        "take `fields` (dotted paths) to keep only some fields. Results are capped at about "
        f"{config.max_result_tokens:,} tokens; a cut result says so in `truncated`, and a cut "
        "page's next_cursor continues at the first item left out."
    )


def _pagination(tool: Any) -> Mapping[str, Any]:
    meta = tool.meta or {}
    pagination = meta.get("pagination")
    return pagination if isinstance(pagination, Mapping) else {}


# --- before the call ---------------------------------------------------------------------------


def encode_cursor(page_cursor: str | None, skip: int, limit: Any) -> str:
    """`mcp~<skip>~<limit>[~<API cursor>]`: replay that API page, leaving out its first `skip` items."""
    parts = [CURSOR_PREFIX.rstrip("~"), str(skip), "" if limit is None else json.dumps(limit)]
    return "~".join(parts if page_cursor is None else [*parts, page_cursor])


def decode_cursor(text: str) -> tuple[str | None, int, Any]:
    parts = text.split("~", 3)
    try:
        skip = int(parts[1])
        limit = json.loads(parts[2]) if parts[2] else None
    except (IndexError, ValueError) as exc:
        raise ValueError(
            "not a cursor of this server; pass the next_cursor of a previous page"
        ) from exc
    if skip < 0 or isinstance(limit, dict | list):
        raise ValueError("not a cursor of this server; pass the next_cursor of a previous page")
    return (parts[3] if len(parts) > 3 else None), skip, limit


def prepare(
    spec: Any, arguments: Mapping[str, Any], config: ShapingConfig, shaped: bool
) -> tuple[dict[str, Any], Request]:
    """Split validated arguments into the API's and the shaping request (`shaped`: the tool takes
    the shaping arguments); raise ValueError on a cursor this server did not issue."""
    args = dict(arguments)
    fields = tuple(args.pop(FIELDS_ARG, ()) or ()) if shaped else ()
    fmt = str(args.pop(FORMAT_ARG, config.response_format)) if shaped else "detailed"
    pagination = _pagination(spec.tool)
    cursor_param = str(pagination.get("cursor") or "")
    limit_param = str(pagination.get("limit") or "")
    skip = 0
    given = args.get(cursor_param) if cursor_param else None
    if isinstance(given, str) and given.startswith(CURSOR_PREFIX):
        page_cursor, skip, limit = decode_cursor(given)
        if page_cursor is None:
            args.pop(cursor_param, None)
        else:
            args[cursor_param] = page_cursor
        if limit_param:  # the page is replayed exactly as it was first fetched
            if limit is None:
                args.pop(limit_param, None)
            else:
                args[limit_param] = limit
    page_cursor = args.get(cursor_param) if cursor_param else None
    limit = args.get(limit_param) if limit_param else None
    request = Request(
        fields=fields,
        response_format=fmt,
        shaped=shaped,
        page_cursor=page_cursor if isinstance(page_cursor, str) else None,
        limit=limit,
        skip=skip,
    )
    return args, request


# --- projection and concise form -----------------------------------------------------------------


Tree = dict[str, "Tree"]


def field_tree(paths: Iterable[str]) -> Tree:
    tree: Tree = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            if part:
                node = node.setdefault(part, {})
    return tree


def project(value: Any, tree: Tree, prefix: str, found: set[str]) -> Any:
    """Only the members named in `tree` (lists: per element)."""
    if isinstance(value, list):
        return [project(item, tree, prefix, found) for item in value]
    if not isinstance(value, dict):
        _mark(tree, prefix, found)  # a null or scalar where an object was expected: nothing below
        return value
    out = {}
    for key, sub in tree.items():
        if key not in value:
            continue
        path = f"{prefix}{key}"
        if sub:
            out[key] = project(value[key], sub, f"{path}.", found)
        else:
            found.add(path)
            out[key] = value[key]
    return out


def _mark(tree: Tree, prefix: str, found: set[str]) -> None:
    for key, sub in tree.items():
        if sub:
            _mark(sub, f"{prefix}{key}.", found)
        else:
            found.add(f"{prefix}{key}")


def _empty(value: Any) -> bool:
    """Left out in concise mode: null, false, empty text, list or object."""
    return value is None or value is False or value == [] or value == {} or value == ""


def _repeats_reference(item: Mapping[str, Any], key: str, value: Any) -> bool:
    """Says nothing the id does not: `<name>_id` beside a `<name>` object carrying the same id,
    or a link to the object itself (a URL or path ending in its id)."""
    if isinstance(value, str) and "id" in item and value.startswith(("/", "http")):
        own = re.escape(str(item["id"]))
        return re.search(rf"/{own}(?:\.json)?/?(?:[?#].*)?$", value) is not None
    if not key.endswith("_id"):
        return False
    other = item.get(key[:-3])
    return isinstance(other, dict) and other.get("id") == value


class Concise:
    def __init__(self, text_limit: int) -> None:
        self.text_limit = text_limit
        self.cut_texts = 0

    def text(self, value: str, path: str) -> str:
        if len(value) <= self.text_limit:
            stamp = _UTC_TIMESTAMP.match(value) if len(value) <= 32 else None
            return f"{stamp.group(1)}Z" if stamp else value
        self.cut_texts += 1
        rest = len(value) - self.text_limit
        return (
            f"{value[: self.text_limit]}… [truncated {rest:,} chars; use "
            f'response_format=detailed or fields=["{path}"]]'
        )

    def item(self, value: Any, tree: Tree | None, prefix: str) -> Any:
        """An item of the result (or an object asked for by name): its own values kept, nested
        objects cut to references."""
        if isinstance(value, list):
            return [self.item(v, tree, prefix) for v in value if not _empty(v)]
        if not isinstance(value, dict):
            return self.nested(value, f"{prefix}".rstrip("."))
        out = {}
        for key, member in value.items():
            if _empty(member) or _repeats_reference(value, key, member):
                continue
            path = f"{prefix}{key}"
            sub = tree.get(key) if tree is not None else None
            if sub:  # the caller descended into it with a dotted path: keep what they asked
                short = self.item(member, sub, f"{path}.")
            elif sub is not None:  # named as a whole
                short = member if isinstance(member, str) else self.item(member, None, f"{path}.")
            else:
                short = self.nested(member, path)
            if not _empty(short):
                out[key] = short
        return out

    def nested(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            return self.text(value, path)
        if isinstance(value, list):
            items = [self.nested(v, path) for v in value if not _empty(v)]
            return [v for v in items if not _empty(v)]
        if isinstance(value, dict):
            return self.reference(value, path)
        return value

    def reference(self, value: dict[str, Any], path: str) -> dict[str, Any]:
        if "id" in value:
            out = {"id": value["id"]}
            labels = [k for k in LABEL_KEYS if not _empty(value.get(k))][:1]
            for key in labels:
                label = value[key]
                out[key] = self.text(label, f"{path}.{key}") if isinstance(label, str) else label
            return out
        return {  # no id: a small value object; its scalar members only
            k: self.text(v, f"{path}.{k}") if isinstance(v, str) else v
            for k, v in value.items()
            if not _empty(v) and not isinstance(v, dict | list)
        }


# --- the result --------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def estimate_text_tokens(text: str) -> int:
    count = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isascii() and first.isalpha():
            mixed = not piece[1:].islower() and not piece.isupper()  # base64, ids, camelCase
            count += max(1, 2 * len(piece) // 3) if mixed else 1 + len(piece) // 8
        elif first.isdigit():
            count += 1
        else:
            count += 1 + len(piece) // 3
    return count


def estimate_tokens(value: Any) -> int:
    """Estimated o200k tokens of the value as compact JSON (an overcount)."""
    return estimate_text_tokens(_dumps(value))


def _is_page(structured: Mapping[str, Any], spec: Any) -> bool:
    output = spec.tool.output_schema or {}
    result = (output.get("properties") or {}).get("result") or {}
    return isinstance(structured.get("result"), list) and result.get("type") == "array"


@dataclass
class Shaped:
    structured: dict[str, Any]
    summary: str | None
    notes: list[str] = field(default_factory=list)


def shape(spec: Any, structured: dict[str, Any], request: Request, config: ShapingConfig) -> Shaped:
    """The result as the agent gets it: skipped, projected, concise, capped; with a summary line."""
    if _is_file_like(structured):
        return Shaped(structured, None)
    page = _is_page(structured, spec)
    notes: list[str] = []
    if page and request.skip:
        structured = {**structured, "result": structured["result"][request.skip :]}
    if request.shaped:
        structured = _shape_data(structured, page, request, config, notes)
    structured, capped = _cap(spec, structured, page, request, config)
    if capped:
        notes.insert(0, capped)
    summary = _summary(structured, page, request, notes)
    return Shaped(structured, summary, notes)


def _is_file_like(structured: Mapping[str, Any]) -> bool:
    return "content_base64" in structured


def _shape_data(
    structured: dict[str, Any],
    page: bool,
    request: Request,
    config: ShapingConfig,
    notes: list[str],
) -> dict[str, Any]:
    tree = field_tree(request.fields) if request.fields else None
    found: set[str] = set()
    concise = Concise(config.text_limit) if request.response_format == "concise" else None

    def one(item: Any) -> Any:
        if tree is not None:
            item = project(item, tree, "", found)
        if concise is not None:
            item = concise.item(item, tree, "")
        return item

    out = dict(structured)
    if page:
        out["result"] = [one(item) for item in structured["result"]]
        items = len(structured["result"])
    elif set(structured) == {"result", "included"} and isinstance(structured["result"], dict):
        out["result"] = one(structured["result"])
        items = 1
    else:
        out = one(structured)
        items = 1
    included = out.get("included") if "included" in structured else None
    if concise is not None and isinstance(included, dict):
        out["included"] = {k: concise.item(v, None, "") for k, v in included.items()}
    if tree is not None and items:
        unknown = sorted(
            set(request.fields) - found - {p for p in request.fields if _under(p, found)}
        )
        if unknown:
            notes.append(f"no such field in the result: {', '.join(unknown)}")
    if concise is not None and concise.cut_texts:
        notes.append(f"{concise.cut_texts} long text(s) truncated")
    return out


def _under(path: str, found: set[str]) -> bool:
    return any(f.startswith(f"{path}.") for f in found)


def _cap(
    spec: Any,
    structured: dict[str, Any],
    page: bool,
    request: Request,
    config: ShapingConfig,
) -> tuple[dict[str, Any], str]:
    budget = config.max_result_tokens
    if estimate_tokens(structured) <= budget:
        return structured, ""
    reserve = min(200, budget // 3)  # room for the `truncated` member
    if not page:
        cut, dropped = _cut_object(structured, budget - reserve)
        info = {
            "omitted_fields": dropped,
            "how_to_get_the_rest": "ask for the omitted fields with `fields`"
            if request.shaped
            else "the result was too large for this server's --max-result-tokens",
        }
        cut["truncated"] = info
        return cut, (
            f"fields {', '.join(dropped)} left out to stay under about "
            f"{config.max_result_tokens:,} tokens: {info['how_to_get_the_rest']}"
        )
    items = structured["result"]
    used = estimate_tokens({**structured, "result": []}) + reserve
    count = 0
    for item in items:
        used += estimate_tokens(item) + 1
        if used > budget:
            break
        count += 1
    fields_cut: list[str] = []
    first = items[0] if items else None
    if count == 0 and items:  # one item alone is over the cap: it loses fields instead
        room = budget - estimate_tokens({**structured, "result": []}) - reserve
        first, fields_cut = _cut_object(items[0], room)
        count = 1
    while True:  # the `truncated` member counts too
        kept = [first, *items[1:count]] if count else []
        out, note = _cut_page(spec, structured, kept, len(items), fields_cut, request, config)
        if count <= 1 or estimate_tokens(out) <= budget:
            return out, note
        count -= 1


def _cut_page(
    spec: Any,
    structured: dict[str, Any],
    kept: list[Any],
    total: int,
    fields_cut: list[str],
    request: Request,
    config: ShapingConfig,
) -> tuple[dict[str, Any], str]:
    omitted = total - len(kept)
    out = {**structured, "result": kept}
    info: dict[str, Any] = {"items_shown": len(kept), "items_omitted": omitted}
    pagination = _pagination(spec.tool)
    how = []
    if omitted and pagination.get("cursor"):
        cursor = encode_cursor(request.page_cursor, request.skip + len(kept), request.limit)
        out["next_cursor"] = cursor
        info["next_cursor"] = cursor
        how.append(
            f"pass next_cursor as `{pagination['cursor']}` to continue at the first item left out"
        )
    if pagination.get("limit"):
        how.append(f"pass a smaller `{pagination['limit']}`")
    if request.shaped:
        how.append("or ask for fewer fields with `fields`")
    if fields_cut:
        info["omitted_fields"] = fields_cut
    info["how_to_get_the_rest"] = "; ".join(how)
    out["truncated"] = info
    note = (
        f"cut to {len(kept)} of the {total} items of this page to stay under about "
        f"{config.max_result_tokens:,} tokens: {info['how_to_get_the_rest']}"
    )
    if fields_cut:
        note += f"; the first item lost fields {', '.join(fields_cut)}"
    return out, note


def _cut_object(value: Any, budget: int) -> tuple[Any, list[str]]:
    """Whole members in order while they fit; the names of the others."""
    if not isinstance(value, dict):
        return value, []
    out: dict[str, Any] = {}
    dropped: list[str] = []
    used = 2
    for key, member in value.items():
        size = estimate_tokens({key: member})
        if dropped or used + size > budget:
            dropped.append(key)
            continue
        out[key] = member
        used += size
    return out, dropped


def _summary(structured: Mapping[str, Any], page: bool, request: Request, notes: list[str]) -> str:
    how = request.response_format if request.shaped else "as returned"
    if request.fields:
        how += f", fields {', '.join(request.fields)}"
    if page:
        count = len(structured.get("result") or [])
        total = structured.get("total")
        text = f"{count} item{'s' if count != 1 else ''}" + (
            f" of {total}" if isinstance(total, int) else ""
        )
        nxt = structured.get("next_cursor")
        text += f" ({how}); " + (f"next_cursor: {nxt}" if nxt else "last page")
    else:
        text = f"1 object ({how})"
    if notes:
        text += ". " + "; ".join(notes)
    return text + "."
