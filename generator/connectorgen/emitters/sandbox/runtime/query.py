"""Listing: documented filters, `order_by`, opaque cursors, and view filter expressions."""

from __future__ import annotations

import base64
import json
import re
from functools import cmp_to_key
from typing import Any

from . import schemas as S
from .store import ApiError, field_error

# --- filters -----------------------------------------------------------------------------------


def _get(obj: Any, field: str | None, subfield: str | None = None) -> Any:
    value = obj.get(field) if isinstance(obj, dict) and field else None
    if subfield:
        if isinstance(value, dict):
            return value.get(subfield)
        if isinstance(value, list):
            return [v.get(subfield) for v in value if isinstance(v, dict)]
    return value


def _fold(value: Any, ci: bool) -> Any:
    return value.lower() if ci and isinstance(value, str) else value


def _compare_datetime(value: Any, bound: Any) -> tuple[Any, Any]:
    try:
        return S.parse_datetime(str(value)), S.parse_datetime(str(bound))
    except ValueError:
        return str(value), str(bound)


def apply_filters(
    items: list[dict[str, Any]], filters: list[dict[str, Any]], query: dict[str, Any]
) -> list[dict[str, Any]]:
    """Keep the items matching every documented filter present in the query."""
    elements: dict[str, dict[str, Any]] = {}
    for f in filters:
        if f["rule"] == "flag":
            value = query.get(f["param"])
            if value is None:
                value = f["mode"] == "include"
            if f["mode"] == "include" and value:
                continue
            items = [
                item
                for item in items
                if (item.get(f["field"]) is not None) == bool(value and f["mode"] == "only")
            ]
            continue
        if f["param"] not in query or query[f["param"]] is None:
            continue
        value = query[f["param"]]
        rule = f["rule"]
        if rule == "ignore":
            continue
        if rule == "element":
            elements.setdefault(f["field"], {})[f["subfield"]] = value
            continue
        items = [item for item in items if _matches(item, f, value)]
    for field, wanted in elements.items():

        def has_element(
            item: dict[str, Any], field: str = field, wanted: dict[str, Any] = wanted
        ) -> bool:
            return any(
                isinstance(el, dict)
                and all(_fold(el.get(k), True) == _fold(v, True) for k, v in wanted.items())
                for el in (item.get(field) or [])
            )

        items = [item for item in items if has_element(item)]
    return items


def _matches(item: dict[str, Any], f: dict[str, Any], value: Any) -> bool:
    rule = f["rule"]
    if rule == "eq":
        current = _get(item, f["field"], f.get("subfield"))
        ci = f.get("ci", False)
        if isinstance(current, list):
            return _fold(value, ci) in [_fold(c, ci) for c in current]
        return bool(_fold(current, ci) == _fold(value, ci))
    if rule == "in":
        values = value if isinstance(value, list) else [value]
        current = _get(item, f["field"], f.get("subfield"))
        if isinstance(current, list):
            return any(c in values for c in current)
        return bool(current in values)
    if rule == "exclude_id":
        return bool(item.get("id") != value)
    if rule == "search":
        needle = str(value).lower()
        return not needle or any(
            needle in str(item.get(name) or "").lower() for name in f.get("fields", [])
        )
    if rule == "range":
        current = item.get(f["field"])
        if current is None or not isinstance(value, dict):
            return current is not None or not value
        for op, bound in value.items():
            a, b = _compare_datetime(current, bound)
            ok = {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}.get(op, True)
            if not ok:
                return False
        return True
    return True


# --- sorting -----------------------------------------------------------------------------------

PRIORITY_ORDER = {"low": 0, "normal": 1, "high": 2, "critical": 3}


def _sort_value(value: Any, field: str) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if field == "priority" and value in PRIORITY_ORDER:
        return (1, PRIORITY_ORDER[value])
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def parse_order(order_by: str | None, default: str) -> list[tuple[str, bool]]:
    text = order_by or default or "id:asc"
    out = []
    for part in text.split(","):
        name, _, direction = part.strip().partition(":")
        if name:
            out.append((name, direction.lower() == "desc"))
    return out or [("id", False)]


def order_text(value: str, style: str) -> str:
    """A requested order in the sandbox's own `field:dir,...` form: `field_colon_direction` is
    that form already; `minus_prefix` is `field` (ascending) or `-field` (descending)."""
    if style != "minus_prefix":
        return value
    parts = []
    for part in value.split(","):
        part = part.strip()
        if part:
            parts.append(f"{part[1:]}:desc" if part.startswith("-") else f"{part.lstrip('+')}:asc")
    return ",".join(parts)


def sort_key(item: dict[str, Any], order: list[tuple[str, bool]]) -> list[Any]:
    key = [list(_sort_value(item.get(name), name)) for name, _ in order]
    key.append(list(_sort_value(item.get("id"), "id")))
    return key


def compare_keys(a: list[Any], b: list[Any], order: list[tuple[str, bool]]) -> int:
    """Compare two sort keys; ties on every field are broken by id in the last field's direction."""
    directions = [desc for _, desc in order] + [order[-1][1] if order else False]
    for va, vb, desc in zip(a, b, directions):
        va, vb = tuple(va), tuple(vb)
        if va == vb:
            continue
        try:
            result = -1 if va < vb else 1
        except TypeError:
            result = -1 if str(va) < str(vb) else 1
        return -result if desc else result
    return 0


def sort_items(items: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    keyed = [(sort_key(item, order), item) for item in items]

    def compare(x: tuple[list[Any], dict[str, Any]], y: tuple[list[Any], dict[str, Any]]) -> int:
        return compare_keys(x[0], y[0], order)

    keyed.sort(key=cmp_to_key(compare))
    return [item for _, item in keyed]


# --- cursors -----------------------------------------------------------------------------------


def encode_cursor(direction: str, key: list[Any], order: str) -> str:
    payload = json.dumps([direction, key, order], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, param: str) -> tuple[str, list[Any], str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        direction, key, order = data
        if (
            direction not in ("next", "prev")
            or not isinstance(key, list)
            or not isinstance(order, str)
        ):
            raise ValueError
        if not all(isinstance(k, list) and len(k) == 2 and isinstance(k[0], int) for k in key):
            raise ValueError
        return direction, key, order
    except Exception:
        raise field_error((param,), "Invalid cursor.", msg="Invalid cursor.") from None


def cursor_order(cursor: str | None, param: str) -> str | None:
    return decode_cursor(cursor, param)[2] if cursor else None


def paginate(
    items: list[dict[str, Any]],
    *,
    cursor: str | None,
    limit: int,
    order: list[tuple[str, bool]],
    order_text: str,
    cursor_param: str = "cursor",
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """One page of sorted items: (page, next cursor, previous cursor).

    Cursors hold the sort key of the item they continue from (keyset pagination), so items
    created or deleted between two calls neither repeat nor skip the others.
    """
    keys = [sort_key(item, order) for item in items]
    start, end = 0, min(limit, len(items))
    if cursor:
        direction, anchor, cursor_text = decode_cursor(cursor, cursor_param)
        if cursor_text != order_text or len(anchor) != len(order) + 1:
            raise ApiError(
                400,
                "The cursor does not belong to this sort order.",
                {cursor_param: ["Invalid cursor."]},
            )
        if direction == "next":
            start = next(
                (i for i, k in enumerate(keys) if compare_keys(k, anchor, order) > 0), len(items)
            )
            end = min(start + limit, len(items))
        else:
            end = next(
                (i for i, k in enumerate(keys) if compare_keys(k, anchor, order) >= 0), len(items)
            )
            start = max(0, end - limit)
    page = items[start:end]
    nxt = encode_cursor("next", keys[end - 1], order_text) if page and end < len(items) else None
    prv = encode_cursor("prev", keys[start], order_text) if page and start > 0 else None
    return page, nxt, prv


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["rows", offset]).encode()).decode().rstrip("=")


def decode_offset(cursor: str, param: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, offset = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if kind != "rows" or not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except Exception:
        raise field_error((param,), "Invalid cursor.", msg="Invalid cursor.") from None


# --- view filter expressions ---------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[(),\[\]]))"
)


class ExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"unexpected text at {pos}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def parse_expression(text: str) -> Any:
    """Parse `and(eq(ticket.status, 'open'), containsAny(ticket.tags.name, ['vip']))`."""
    tokens = _tokens(text)
    pos = 0

    def parse() -> Any:
        nonlocal pos
        if pos >= len(tokens):
            raise ExpressionError("unexpected end")
        kind, value = tokens[pos]
        pos += 1
        if kind == "str":
            return (
                "lit",
                json.loads('"' + value[1:-1].replace('"', '\\"') + '"')
                if value[0] == "'"
                else json.loads(value),
            )
        if kind == "num":
            return ("lit", float(value) if "." in value else int(value))
        if kind == "punct" and value == "[":
            items = []
            while pos < len(tokens) and tokens[pos][1] != "]":
                items.append(parse())
                if pos < len(tokens) and tokens[pos][1] == ",":
                    pos += 1
            pos += 1
            return ("list", items)
        if kind == "name":
            if pos < len(tokens) and tokens[pos][1] == "(":
                pos += 1
                args = []
                while pos < len(tokens) and tokens[pos][1] != ")":
                    args.append(parse())
                    if pos < len(tokens) and tokens[pos][1] == ",":
                        pos += 1
                pos += 1
                return ("call", value, args)
            if value in ("true", "false", "null"):
                return ("lit", {"true": True, "false": False, "null": None}[value])
            return ("path", value)
        raise ExpressionError(f"unexpected {value!r}")

    tree = parse()
    if pos != len(tokens):
        raise ExpressionError("trailing text")
    return tree


def _evaluate(node: Any, item: dict[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "list":
        return [_evaluate(n, item) for n in node[1]]
    if kind == "path":
        parts = node[1].split(".")
        if len(parts) > 1:
            parts = parts[1:]  # drop the object name (`ticket.`)
        values: list[Any] = [item]
        for part in parts:
            nxt: list[Any] = []
            for v in values:
                if isinstance(v, dict):
                    got = v.get(part)
                    nxt.extend(got if isinstance(got, list) else [got])
                elif isinstance(v, list):
                    nxt.extend(x.get(part) for x in v if isinstance(x, dict))
            values = nxt
        return values[0] if len(values) == 1 else values
    name, args = node[1], node[2]
    values = [_evaluate(a, item) for a in args]
    lname = name.lower()
    if lname == "and":
        return all(values)
    if lname == "or":
        return any(values)
    if lname == "not":
        return not values[0] if values else True
    if len(values) < 1:
        return True
    left = values[0]
    right = values[1] if len(values) > 1 else None
    as_list = left if isinstance(left, list) else [left]
    wanted = right if isinstance(right, list) else [right]
    if lname == "eq":
        return right in as_list if isinstance(left, list) else left == right
    if lname in ("neq", "ne"):
        return right not in as_list if isinstance(left, list) else left != right
    if lname == "contains":
        return any(str(right).lower() in str(v).lower() for v in as_list if v is not None)
    if lname in ("notcontains", "doesnotcontain"):
        return not any(str(right).lower() in str(v).lower() for v in as_list if v is not None)
    if lname in ("containsany", "in"):
        return any(v in wanted for v in as_list)
    if lname == "containsall":
        return all(w in as_list for w in wanted)
    if lname in ("notcontainsany", "notin", "containsnone"):
        return not any(v in wanted for v in as_list)
    if lname in ("isempty", "isnull"):
        return left in (None, "", []) or as_list == [None]
    if lname in ("isnotempty", "isnotnull"):
        return left not in (None, "", []) and as_list != [None]
    if lname in ("gt", "gte", "lt", "lte"):
        if left is None or right is None:
            return False
        a, b = (
            (left, right)
            if isinstance(left, (int, float)) and isinstance(right, (int, float))
            else _compare_datetime(left, right)
        )
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[lname]
    return True


def expression_filter(text: str | None) -> Any:
    """A predicate for a view's filter expression; unknown functions match everything."""
    if not text or not str(text).strip():
        return lambda item: True
    try:
        tree = parse_expression(str(text))
    except ExpressionError:
        return lambda item: True

    def predicate(item: dict[str, Any]) -> bool:
        try:
            return bool(_evaluate(tree, item))
        except Exception:
            return True

    return predicate
