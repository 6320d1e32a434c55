"""One handler per kind of operation (list, get, create, update, delete, relation changes, merge,
search, uploads, reports...). Routes pick their handler from the plan in `_spec.py`; no handler
knows a particular endpoint, so an operation added to the definition is served by the handler of
its kind."""

from __future__ import annotations

import copy
import csv
import io
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from . import query as Q
from . import schemas as S
from .sandbox_data import BEHAVIOURS, CREATED, UPDATED, stamp_updated
from .store import ApiError, Collection, Store, dumps, field_error, not_found, project


@dataclass
class Reply:
    status: int
    body: Any = None
    """JSON-serialisable body; `None` means no body."""
    raw: bytes | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else dumps(self.body)


@dataclass
class Call:
    route: dict[str, Any]
    store: Store
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    base_url: str
    request_path: str
    files: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    """Uploaded parts: (field name, file name, content type, bytes)."""
    page_size: int | None = None
    """Page size of lists when a request gives none (the `page_size` option)."""
    position: str | None = None
    """The `sandbox_page` query value: where the next-page URLs the sandbox hands out continue."""

    @property
    def col(self) -> Collection:
        name = self.route.get("collection")
        if not name:
            raise not_found()
        return self.store.col(name)

    @property
    def envelope(self) -> dict[str, Any]:
        envelope: dict[str, Any] = self.route["envelope"]
        return envelope

    def item_param(self) -> str | None:
        if self.route["level"] not in ("item", "item_action"):
            return None
        params = [p["name"] for p in self.route["params"] if p["in"] == "path"]
        return params[-1] if params else None

    def scope(self) -> tuple[Any, ...]:
        return self.store.scope_of(self.col, self.path)

    def parents(self) -> dict[str, Any]:
        """Parent fields set from the path (`ticket_id` of a message) after checking the parent exists."""
        out = {}
        col = self.col
        for param, link in col.spec["parent_fields"].items():
            if param in self.path:
                parent = self.store.col(link["parent"])
                if parent.get(self.path[param]) is None:
                    raise not_found()
                out[link["field"]] = self.path[param]
        scope = col.spec["scope"]
        if scope and scope["param"] in self.path:
            parent = self.store.col(scope["parent"])
            if parent.get(self.path[scope["param"]]) is None:
                raise not_found()
        return out

    def item(self) -> tuple[Any, dict[str, Any]]:
        col = self.col
        self.parents()
        if col.singleton:
            items = col.all()
            if not items:
                raise not_found()
            return 0, items[0]
        key = self.store.resolve_id(col, self.path.get(self.item_param() or "", None))
        obj = col.get(key, self.scope())
        if obj is None:
            raise not_found()
        for param, link in col.spec["parent_fields"].items():
            if param in self.path and obj.get(link["field"]) != self.path[param]:
                raise not_found()
        return key, obj

    def object_reply(self, obj: Any, status: int | None = None) -> Reply:
        status = status or self.route["status"]
        if self.envelope["type"] == "empty":
            return Reply(status)
        if self.envelope["type"] in ("cursor_list", "data_list", "bare_array"):
            return self.list_reply([obj], paginate=False, status=status)
        return Reply(status, obj)

    def list_reply(
        self,
        items: list[Any],
        *,
        paginate: bool = True,
        status: int | None = None,
        order: list[tuple[str, bool]] | None = None,
        order_text: str = "",
        render: Callable[[Any], Any] | None = None,
    ) -> Reply:
        env = self.envelope
        status = status or self.route["status"]
        render = render or (lambda x: x)
        if env["type"] == "bare_array":
            return Reply(status, [render(i) for i in items])
        if env["type"] == "object":
            return Reply(status, render(items[0]) if items else None)
        if env["type"] == "empty":
            return Reply(status)
        page: dict[str, Any] = {}
        pagination = env.get("pagination")
        if (
            env["type"] == "cursor_list"
            and paginate
            and pagination
            and pagination["type"] != "cursor"
        ):
            return self.position_reply(items, pagination, status, render)
        if env["type"] == "cursor_list" and paginate:
            limit = self.size()
            cursor_param = env.get("cursor_param") or "cursor"
            chunk, nxt, prv = Q.paginate(
                items,
                cursor=self.query.get(cursor_param),
                limit=int(limit),
                order=order or [("id", False)],
                order_text=order_text,
                cursor_param=cursor_param,
            )
            declared = set(env.get("page_paths") or ())
            if "object" in declared:
                page["object"] = "list"
            if "uri" in declared:
                page["uri"] = self.request_path
            _set(page, env["items_path"] or ["data"], [render(i) for i in chunk])
            if env.get("next_cursor_path"):
                _set(page, env["next_cursor_path"], nxt)
            if env.get("prev_cursor_path"):
                _set(page, env["prev_cursor_path"], prv)
            meta_path = (env.get("next_cursor_path") or ["meta", "x"])[:-1]
            if meta_path and ".".join([*meta_path, "total_resources"]) in declared:
                _set(page, [*meta_path, "total_resources"], len(items))
            if pagination:  # a cursor that also says whether more follows, and the next URL
                if pagination.get("has_more_path"):
                    _set(page, pagination["has_more_path"], nxt is not None)
                if pagination.get("end_of_stream_path"):
                    _set(page, pagination["end_of_stream_path"], nxt is None)
                if pagination.get("next_url_path"):
                    _set(
                        page,
                        pagination["next_url_path"],
                        self.url_with({cursor_param: nxt}) if nxt else None,
                    )
            return Reply(status, page)
        _set(page, env.get("items_path") or ["data"], [render(i) for i in items])
        return Reply(status, page)

    def size(self) -> int:
        """Page size: the request's, else the `page_size` option, else the definition's default, else 30."""
        limit_param = self.envelope.get("limit_param") or "limit"
        limit = self.query.get(limit_param)
        if limit is None:
            limit = self.page_size or _param_default(self.route, limit_param, 30)
        return int(limit)

    def url_with(self, changes: dict[str, Any], *, keep: bool = True) -> str:
        """This request's URL with some query parameters changed (the ones the sandbox parsed are kept)."""
        query: dict[str, Any] = {}
        if keep:
            for p in self.route["params"]:
                value = self.query.get(p["name"]) if p["in"] == "query" else None
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    query[p["name"]] = value
        query.update(changes)
        return f"{self.base_url}{self.request_path}?{urlencode(query)}"

    def position_reply(
        self,
        items: list[Any],
        pagination: dict[str, Any],
        status: int,
        render: Callable[[Any], Any],
    ) -> Reply:
        """One page of a page-number, offset, next-URL, Link-header or time-based export list.

        Items keep their list order. A time-based export stands the position of an item in that
        order in for its change time: `start_time=N` starts at the item N, and `end_time` (the next
        start) is the position after the page.
        """
        env = self.envelope
        kind = pagination["type"]
        param = pagination.get("position_param") or ""
        size = self.size()
        headers: dict[str, str] = {}
        if kind == "page_number":
            number = int(self.query.get(param) or pagination["first_page"])
            start = max(0, number - pagination["first_page"]) * size
        elif kind in ("offset", "time_export"):
            start = int(self.query.get(param) or 0)
        else:
            text = self.position or "0"
            if not text.isascii() or not text.isdigit() or len(text) > 12:
                raise ApiError(400, "Invalid page.", {"sandbox_page": ["Not a page of this list."]})
            start = int(text)
        chunk = items[start : start + size]
        end = start + len(chunk)
        more = end < len(items)
        page: dict[str, Any] = {}
        _set(page, env.get("items_path") or ["data"], [render(i) for i in chunk])
        if pagination.get("total_path") and kind in ("page_number", "offset"):
            _set(page, pagination["total_path"], len(items))
        if kind == "page_number" and pagination.get("next_url_path"):
            _set(
                page,
                pagination["next_url_path"],
                self.url_with({param: number + 1}) if more else None,
            )
        elif kind == "next_url":
            _set(
                page,
                pagination["next_url_path"],
                self.url_with({"sandbox_page": end}) if more else None,
            )
        elif kind == "link_header" and more:
            headers["Link"] = f'<{self.url_with({"sandbox_page": end})}>; rel="next"'
        elif kind == "time_export":
            # as some APIs do, the next request is given even at the end of the stream
            if pagination.get("next_start_path"):
                _set(page, pagination["next_start_path"], end)
            if pagination.get("next_url_path"):
                _set(page, pagination["next_url_path"], self.url_with({param: end}))
            _set(page, pagination["end_of_stream_path"], not more)
        return Reply(status, page, headers=headers)

    def order(self, default: str) -> tuple[list[tuple[str, bool]], str]:
        """The order asked for through a declared sort parameter (`behaviours.sorting`), else the
        one a cursor carries, else a declared parameter's default, else `default`."""
        cursor_param = self.envelope.get("cursor_param") or "cursor"
        requested = self.requested_order(self.query)
        from_cursor = (
            Q.cursor_order(self.query.get(cursor_param), cursor_param)
            if self.envelope["type"] == "cursor_list"
            else None
        )
        defaults = {
            s["param"]: _param_default(self.route, s["param"], None)
            for s in _sorting()
            if s.get("param")
        }
        text = requested or from_cursor or self.requested_order(defaults) or default or "id:asc"
        return Q.parse_order(text, default), text

    def requested_order(self, values: dict[str, Any]) -> str | None:
        """`field:dir,...` from the first declared sort parameter this route takes and `values` holds."""
        taken = {p["name"] for p in self.route["params"] if p["in"] == "query"}
        for spec in _sorting():
            if spec.get("param") in taken and values.get(spec["param"]):
                return Q.order_text(str(values[spec["param"]]), spec["style"])
            if spec.get("field_param") in taken and values.get(spec["field_param"]):
                direction = str(values.get(spec["direction_param"]) or "asc").lower()
                return f"{values[spec['field_param']]}:{'desc' if direction == 'desc' else 'asc'}"
        return None


def _sorting() -> list[dict[str, Any]]:
    sorting: list[dict[str, Any]] = BEHAVIOURS.get("sorting") or []
    return sorting


def _param_default(route: dict[str, Any], name: str, fallback: Any) -> Any:
    for p in route["params"]:
        if p["name"] == name and p["in"] == "query":
            return p["schema"].get("default", fallback)
    return fallback


def _set(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _body_dict(call: Call) -> dict[str, Any]:
    body: dict[str, Any] = call.body if isinstance(call.body, dict) else {}
    return body


def _int_list(values: Any) -> list[int]:
    return [v for v in values or [] if isinstance(v, int) and not isinstance(v, bool)]


# --- collection handlers ---------------------------------------------------------------------


def h_list(call: Call) -> Reply:
    col = call.col
    parents = call.parents()
    items = col.all(call.scope())
    for name, value in parents.items():
        items = [i for i in items if i.get(name) == value]
    items = Q.apply_filters(items, call.route["filters"], call.query)
    order, text = call.order(col.spec["order_default"])
    items = Q.sort_items(items, order)
    return call.list_reply(
        items, order=order, order_text=text, render=lambda o: call.store.render(col, o)
    )


def h_get(call: Call) -> Reply:
    _, obj = call.item()
    rendered = call.store.render(call.col, obj, full=True)
    if "relationships" in call.query:
        rendered = _with_relationships(call, obj, rendered, call.query.get("relationships") or [])
    return call.object_reply(rendered)


def _with_relationships(
    call: Call, obj: dict[str, Any], rendered: dict[str, Any], wanted: Any
) -> dict[str, Any]:
    """`?relationships=custom_fields` fills a field from the object's scoped collection."""
    wanted = wanted if isinstance(wanted, list) else [wanted]
    for name in wanted:
        key = str(name).replace("_", "-")
        for other in call.store.collections.values():
            scope = other.spec["scope"]
            if (
                scope
                and scope["parent"] == call.col.name
                and any(b.endswith("/" + key) for b in other.spec["bases"])
            ):
                values = other.all((call.col.name, obj.get("id")))
                as_map = {str(v.get("id")): v for v in values}
                if name in call.col.props and S.is_valid(call.col.props[name], as_map):
                    rendered[name] = as_map
    return rendered


def h_singleton_get(call: Call) -> Reply:
    _, obj = call.item()
    return call.object_reply(call.store.render(call.col, obj, full=True))


def _declared_value(value: Any, me: dict[str, Any]) -> Any:
    """A declared default: a literal, or `{me: field}` for a field of the authenticated user."""
    if isinstance(value, dict) and set(value) == {"me"}:
        return me.get(value["me"])
    return copy.deepcopy(value)


def resolved_body(call: Call, col: Collection, *, creating: bool) -> dict[str, Any]:
    """The request body with the declared `found_or_created` objects turned into ids and, on a
    create, the declared `create_defaults` filled in."""
    body = dict(_body_dict(call))
    store = call.store
    for name, spec in ((BEHAVIOURS.get("found_or_created") or {}).get(col.name) or {}).items():
        given = body.pop(name, None)
        wanted = given.get(spec["by"]) if isinstance(given, dict) else None
        if (
            not isinstance(wanted, str)
            or not wanted
            or spec["collection"] not in store.collections
            or body.get(spec["id_field"]) is not None
        ):
            continue
        target = store.col(spec["collection"])
        found = next(
            (o for o in target.all() if str(o.get(spec["by"]) or "").lower() == wanted.lower()),
            None,
        )
        if found is None:
            fields = {
                **(spec.get("defaults") or {}),
                **{k: v for k, v in given.items() if k in target.props and v is not None},
            }
            if "name" in target.props and not fields.get("name"):
                fields["name"] = wanted
            found, _ = store.build(target, fields)
            store.insert(target, found)
        body[spec["id_field"]] = found.get("id")
    if creating:
        me = store.me() or {}
        for name, value in ((BEHAVIOURS.get("create_defaults") or {}).get(col.name) or {}).items():
            if body.get(name) is None:
                body[name] = _declared_value(value, me)
    return body


def h_create(call: Call) -> Reply:
    col = call.col
    parents = call.parents()
    scope = call.scope()
    obj, children = call.store.build(
        col,
        resolved_body(call, col, creating=True),
        parents=parents,
        scope=scope,
        body_schema=(call.route.get("body") or {}).get("schema"),
    )
    call.store.insert(col, obj, scope, children)
    embedded_write(call, col, obj, creating=True)
    return call.object_reply(call.store.render(col, obj, full=True))


def refuse_if_final(col: Collection, obj: dict[str, Any] | None) -> None:
    """Refuse a change to an object in a declared final state (`behaviours.final_states`)."""
    final = (BEHAVIOURS.get("final_states") or {}).get(col.name)
    if final and obj is not None and obj.get(final["field"]) in final["values"]:
        detail = final.get("detail") or final["message"]
        raise ApiError(final.get("status") or 422, final["message"], {final["field"]: [detail]})


def embedded_write(
    call: Call, col: Collection, obj: dict[str, Any], *, creating: bool = False
) -> None:
    """Store the object a write carries in a declared body field (`behaviours.embedded_writes`)
    under the written object, e.g. a comment sent inside a ticket update."""
    spec = (BEHAVIOURS.get("embedded_writes") or {}).get(col.name)
    carried = _body_dict(call).get(spec["field"]) if spec else None
    if (
        not spec
        or not isinstance(carried, dict)
        or spec["collection"] not in call.store.collections
    ):
        return
    store = call.store
    target = store.col(spec["collection"])
    data = {k: copy.deepcopy(v) for k, v in carried.items() if k in target.props and v is not None}
    me = store.me() or {}
    for name, value in (spec.get("defaults") or {}).items():
        if name not in data:
            data[name] = _declared_value(value, me)
    for name, source in (spec.get("copy") or {}).items():
        if data.get(name) is None and data.get(source) is not None:
            data[name] = copy.deepcopy(data[source])
    scope = (col.name, obj.get("id"))
    child, _ = store.build(target, data, scope=scope)
    stamp = spec.get("stamp") or CREATED
    if stamp and stamp in target.props:  # the time of the write that carried it
        child[stamp] = obj.get(UPDATED) if UPDATED and obj.get(UPDATED) else store.now()
    store.insert(target, child, scope)
    if creating and spec.get("first_sets"):
        for name, source in spec["first_sets"].items():
            if (
                name in col.props
                and obj.get(name) in (None, "")
                and S.is_valid(col.props[name], child.get(source))
            ):
                obj[name] = copy.deepcopy(child.get(source))
        col.put(obj)


def h_update(call: Call) -> Reply:
    col = call.col
    scope = call.scope()
    call.parents()
    if col.scoped:
        key = call.path.get(call.item_param() or "")
        existing = col.get(key, scope)
        targets = list(col.spec["belongs_to"].values())
        if existing is None and targets and call.store.col(targets[0]).get(key) is None:
            raise not_found()
        obj, children = call.store.build(
            col, {**_body_dict(call), "id": key}, existing, scope=scope, new_id=key
        )
        call.store.link_scoped(col, obj)
        col.put(obj, scope)
        call.store.record(col, obj, "updated")
        return call.object_reply(call.store.render(col, obj, full=True))
    key, existing = call.item()
    refuse_if_final(col, existing)
    obj, children = call.store.build(
        col, resolved_body(call, col, creating=False), existing, scope=scope
    )
    call.store.check_unique(col, obj, scope)
    col.put(obj, scope)
    for child_col, bodies, link in children:
        if link == "__scope__":
            for body in bodies:
                child_scope = (col.name, obj.get("id"))
                child, _ = call.store.build(
                    child_col,
                    body,
                    child_col.get(body["id"], child_scope),
                    scope=child_scope,
                    new_id=body["id"],
                )
                call.store.link_scoped(child_col, child)
                child_col.put(child, child_scope)
    call.store.record(col, obj, "updated")
    embedded_write(call, col, obj)
    return call.object_reply(call.store.render(col, obj, full=True))


def h_singleton_update(call: Call) -> Reply:
    return h_update(call)


def h_delete(call: Call) -> Reply:
    key, _ = call.item()
    call.store.delete(call.col, key, call.scope())
    return (
        Reply(call.route["status"]) if call.envelope["type"] == "empty" else call.object_reply({})
    )


def h_bulk_update(call: Call) -> Reply:
    col = call.col
    scope = call.scope()
    call.parents()
    items = (
        call.body
        if isinstance(call.body, list)
        else next((v for v in _body_dict(call).values() if isinstance(v, list)), [])
    )
    updated = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise field_error((index, "id"), "Missing data for required field.")
        existing = col.get(item["id"], scope)
        if existing is None and not col.scoped:
            raise field_error((index, "id"), "Object not found.")
        if col.scoped:
            targets = list(col.spec["belongs_to"].values())
            if targets and call.store.col(targets[0]).get(item["id"]) is None:
                raise field_error((index, "id"), "Object not found.")
        obj, _ = call.store.build(col, item, existing, scope=scope, new_id=item["id"])
        call.store.link_scoped(col, obj)
        updated.append(obj)
    for obj in updated:
        col.put(obj, scope)
        call.store.record(col, obj, "updated")
    return call.list_reply(
        updated, paginate=False, render=lambda o: call.store.render(col, o, full=True)
    )


def h_bulk_delete(call: Call) -> Reply:
    col = call.col
    body = call.body
    ids = (
        _int_list(body)
        if isinstance(body, list)
        else next((_int_list(v) for v in _body_dict(call).values() if isinstance(v, list)), [])
    )
    for key in ids:
        call.store.delete(col, key, call.scope())
    return Reply(call.route["status"])


def h_set_property(call: Call) -> Reply:
    col = call.col
    key, obj = call.item()
    prop = call.route["property"]
    body = _body_dict(call)
    updated = copy.deepcopy(obj)
    updated[prop] = copy.deepcopy(body.get(prop))
    stamp_updated(updated, col.props, call.store.now())
    call.store.repair(col, updated)
    col.put(updated, call.scope())
    call.store.record(col, updated, "updated")
    return call.object_reply(call.store.render(col, updated, full=True))


def h_item_action(call: Call) -> Reply:
    """A declared action on one stored object (`behaviours.item_actions`): set fields, blank out text."""
    col = call.col
    _, obj = call.item()
    action = call.route["item_action"]
    updated = copy.deepcopy(obj)
    for name, value in (action.get("set") or {}).items():
        if name in col.props:
            updated[name] = copy.deepcopy(value)
    redact = action.get("redact")
    text = _body_dict(call).get(redact["param"]) if redact else None
    if redact and isinstance(text, str) and text:
        mask = redact.get("mask") or "\u2587"
        for name in redact["fields"]:
            if isinstance(updated.get(name), str):
                updated[name] = updated[name].replace(text, mask * len(text))
    stamp_updated(updated, col.props, call.store.now())
    call.store.repair(col, updated)
    col.put(updated, call.scope())
    call.store.record(col, updated, "updated")
    return call.object_reply(call.store.render(col, updated, full=True))


def h_tag_field(call: Call) -> Reply:
    """Read or change an object's declared list of tag strings (`behaviours.tag_fields`)."""
    col = call.col
    spec = call.route["tag_field"]
    name = spec["field"]
    _, obj = call.item()
    current = [t for t in obj.get(name) or [] if isinstance(t, str)]
    mode = spec.get("mode")
    if mode:
        refuse_if_final(col, obj)
        given = [t for t in _body_dict(call).get(name) or [] if isinstance(t, str)]
        if mode == "add":
            result = current + [t for t in dict.fromkeys(given) if t not in current]
        elif mode == "set":
            result = list(dict.fromkeys(given))
        else:
            result = [t for t in current if t not in given]
        obj = copy.deepcopy(obj)
        obj[name] = result
        stamp_updated(obj, col.props, call.store.now())
        col.put(obj)
        call.store.record(col, obj, "updated")
        current = result
    if call.envelope["type"] == "empty":
        return Reply(call.route["status"])
    schema = S.named(call.route["schema"]) if call.route.get("schema") else {}
    key = name if name in S.properties(schema) else next(iter(S.properties(schema)), name)
    return Reply(call.route["status"], {key: current})


def h_stamp_many(call: Call) -> Reply:
    col = call.col
    stamp = call.route["stamp"]
    ids = next((_int_list(v) for v in _body_dict(call).values() if isinstance(v, list)), [])
    changed = []
    for key in ids:
        obj = col.get(key)
        if obj is None:
            raise field_error(
                ("ids",), f"Object {key} not found.", status=404, msg="Resource not found."
            )
        obj = copy.deepcopy(obj)
        obj[stamp["field"]] = call.store.now() if stamp["value"] == "now" else None
        stamp_updated(obj, col.props, call.store.now())
        col.put(obj)
        call.store.record(col, obj, "updated")
        changed.append(obj)
    return call.list_reply(changed, paginate=False, render=lambda o: call.store.render(col, o))


def h_bulk_patch(call: Call) -> Reply:
    col = call.col
    prop = call.route["patch_list"]
    entries = _body_dict(call).get(prop) or []
    changed = []
    for index, entry in enumerate(entries):
        existing = col.get(entry.get("id"))
        if existing is None:
            raise field_error((prop, index, "id"), "Object not found.")
        obj, _ = call.store.build(col, {k: v for k, v in entry.items() if k != "id"}, existing)
        changed.append(obj)
    for obj in changed:
        col.put(obj)
        call.store.record(col, obj, "updated")
    order = Q.parse_order(None, col.spec["order_default"])
    if "priority" in col.props:
        order = [("priority", True)]
    return call.list_reply(
        Q.sort_items(changed, order), paginate=False, render=lambda o: call.store.render(col, o)
    )


def h_merge(call: Call) -> Reply:
    """Merge objects into one: references to the sources are moved to the target, their owned
    lists (channels...) are appended to it, and the sources are deleted."""
    col = call.col
    store = call.store
    body = _body_dict(call)
    target_key = (
        call.path.get(call.item_param() or "") if call.route["level"] == "item_action" else None
    )
    source_keys: list[int] = []
    for name, value in call.query.items():
        if name.startswith("target") and value is not None:
            target_key = value
        elif name.startswith("source") and value is not None:
            source_keys.extend(value if isinstance(value, list) else [value])
    for name, value in body.items():
        if name.startswith("source") and isinstance(value, list):
            source_keys.extend(_int_list(value))
    if target_key is None:
        raise field_error(("target_id",), "Missing data for required field.")
    target = col.get(target_key)
    if target is None:
        raise not_found()
    sources = []
    for key in source_keys:
        if key == target_key:
            raise field_error(("source_id",), "Cannot merge an object into itself.")
        source = col.get(key)
        if source is None:
            raise not_found()
        sources.append(source)
    merged = copy.deepcopy(target)
    for source in sources:
        for name in BEHAVIOURS.get("merge_conflict_fields", []):
            a, b = merged.get(name), source.get(name)
            if isinstance(a, dict) and isinstance(b, dict) and set(a) & set(b):
                raise ApiError(
                    409,
                    "Both objects hold data for the same integration and cannot be merged.",
                    {name: sorted(set(a) & set(b))},
                )
        for name, schema in col.props.items():
            resolved = S.resolve(schema)
            if name in col.spec["relations"] or name in col.spec["has_many"]:
                continue
            if (
                isinstance(resolved, dict)
                and "array" in S.types_of(resolved)
                and isinstance(source.get(name), list)
            ):
                have = {json_key(v) for v in merged.get(name) or []}
                extra = [v for v in source[name] if json_key(v) not in have]
                merged[name] = (merged.get(name) or []) + copy.deepcopy(extra)
            elif merged.get(name) in (None, "", {}) and source.get(name) not in (None, "", {}):
                merged[name] = copy.deepcopy(source[name])
    if body:
        update_body = {k: v for k, v in body.items() if not k.startswith("source")}
        merged, _ = store.build(col, update_body, merged)
    for source in sources:
        _repoint(store, col, source.get("id"), target_key)
        col.remove(source.get("id"))
        store.record(col, source, "deleted")
    stamp_updated(merged, col.props, store.now())
    store.repair(col, merged)
    store.check_unique(col, merged)
    col.put(merged)
    store.record(col, merged, "updated")
    return call.object_reply(store.render(col, merged, full=True))


def json_key(value: Any) -> str:
    if isinstance(value, dict) and "id" in value:
        return f"id:{value['id']}"
    return dumps(value).decode()


def _repoint(store: Store, col: Collection, old: Any, new: Any) -> None:
    """Point every reference to `old` (in any collection) at `new`."""
    for other in store.collections.values():
        spec = other.spec
        for obj in other.all(None):
            for prop, target in spec["belongs_to"].items():
                value = obj.get(prop)
                if target == col.name and isinstance(value, dict) and value.get("id") == old:
                    obj[prop] = {**value, "id": new}
            for prop, target in spec["relations"].items():
                value = obj.get(prop)
                if target == col.name and isinstance(value, list):
                    seen: set[Any] = set()
                    fresh = []
                    for link in value:
                        if isinstance(link, dict) and link.get("id") == old:
                            link = {**link, "id": new}
                        ident = link.get("id") if isinstance(link, dict) else None
                        if ident in seen:
                            continue
                        seen.add(ident)
                        fresh.append(link)
                    obj[prop] = fresh
            for prop, target in spec["id_fields"].items():
                if target == col.name and obj.get(prop) == old:
                    obj[prop] = new
            for link in spec["parent_fields"].values():
                if link["parent"] == col.name and obj.get(link["field"]) == old:
                    obj[link["field"]] = new


# --- relations (a parent's list of references, e.g. the tags of a ticket) ----------------------


def _relation_parent(call: Call) -> tuple[Collection, dict[str, Any], str, Collection]:
    rel = call.route["relation"]
    parent_col = call.store.col(rel["parent"])
    parent = parent_col.get(call.path.get(rel["parent_param"]))
    if parent is None:
        raise not_found()
    return parent_col, parent, rel["property"], call.store.col(rel["target"])


def h_relation_list(call: Call) -> Reply:
    parent_col, parent, prop, target = _relation_parent(call)
    rendered = call.store.render(parent_col, parent)
    items = rendered.get(prop) or []
    order, text = call.order(target.spec["order_default"])
    return call.list_reply(
        Q.sort_items(items, order) if call.envelope["type"] == "cursor_list" else items,
        order=order,
        order_text=text,
    )


def h_relation_change(call: Call) -> Reply:
    parent_col, parent, prop, target = _relation_parent(call)
    mode = call.route["relation"]["mode"]
    body = _body_dict(call) if not isinstance(call.body, list) else {"ids": call.body}
    links: list[dict[str, Any]] = []
    for name, values in body.items():
        if not isinstance(values, list):
            continue
        unique = next((u for u in target.spec["unique"] if singular(name) == u), None)
        for index, value in enumerate(values):
            if unique:
                found = target.find(unique, value)
                if found is None:
                    if mode == "remove":
                        continue
                    found, _ = call.store.build(target, {unique: value})
                    call.store.insert(target, found)
            else:
                found = target.get(value) if isinstance(value, int) else None
                if found is None:
                    raise field_error((name, index), "Object not found.")
            links.append(found)
    current = [link for link in parent.get(prop) or [] if isinstance(link, dict)]
    current_ids = [link.get("id") for link in current]
    new_ids = [link.get("id") for link in links]
    if mode == "add":
        result = current + [link for link in links if link.get("id") not in current_ids]
    elif mode == "set":
        result, seen = [], set()
        for link in links:
            if link.get("id") not in seen:
                seen.add(link.get("id"))
                result.append(link)
    else:
        result = [link for link in current if link.get("id") not in new_ids]
    updated = copy.deepcopy(parent)
    updated[prop] = [copy.deepcopy(call.store.render(target, link, depth=2)) for link in result]
    stamp_updated(updated, parent_col.props, call.store.now())
    parent_col.put(updated)
    call.store.record(parent_col, updated, "updated")
    if call.envelope["type"] == "empty":
        return Reply(call.route["status"])
    return call.list_reply(call.store.render(parent_col, updated).get(prop) or [], paginate=False)


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# --- derived lists (items of a view) ----------------------------------------------------------


def h_derived_list(call: Call) -> Reply:
    store = call.store
    derived = call.route["derived"]
    source = store.col(call.route["source"])
    spec: dict[str, Any] = {}
    parent_param = derived.get("parent_param")
    if derived.get("parent") and parent_param:
        parent_id = call.path.get(parent_param)
        if parent_id:
            parent = store.col(derived["parent"]).get(parent_id)
            if parent is None:
                raise not_found()
            spec.update({k: v for k, v in parent.items() if v is not None})
    for value in _body_dict(call).values():
        if isinstance(value, dict):
            spec.update({k: v for k, v in value.items() if v is not None})
    items = source.all()
    predicate = Q.expression_filter(spec.get("filters"))
    rendered = [store.render(source, item) for item in items]
    rendered = [r for r in rendered if predicate(r)]
    if spec.get("search"):
        needle = str(spec["search"]).lower()
        text_fields = source.spec["text_fields"]
        rendered = [
            r
            for r in rendered
            if any(needle in str(r.get(f) or "").lower() for f in text_fields)
            or any(  # or in a summary of another object (its name or e-mail)
                needle in str(v.get(f) or "").lower()
                for v in r.values()
                if isinstance(v, dict)
                for f in ("name", "email")
            )
        ]
    rendered = Q.apply_filters(rendered, call.route["filters"], call.query)
    default = source.spec["order_default"]
    if spec.get("order_by"):
        default = f"{spec['order_by']}:{spec.get('order_dir') or 'desc'}"
    order, text = call.order(default)
    rendered = Q.sort_items(rendered, order)
    counts = derived.get("counts") or {}
    child_counts: dict[str, Counter[Any]] = {}
    for count_field, prop in counts.items():
        link = source.spec["has_many"].get(prop)
        if link and link.get("field"):
            child_counts[count_field] = Counter(
                c.get(link["field"]) for c in store.col(link["collection"]).all()
            )
    schema = S.named(derived["schema"])

    def render(item: dict[str, Any]) -> Any:
        out = project(item, schema)
        for count_field, counter in child_counts.items():
            out[count_field] = counter.get(item.get("id"), 0)
        return out

    return call.list_reply(rendered, order=order, order_text=text, render=render)


# --- search ----------------------------------------------------------------------------------


def h_search(call: Call) -> Reply:
    store = call.store
    body = _body_dict(call)
    kind = body.get("type")
    needle = str(body.get("query") or "").lower()
    size = int(body.get("size") or 10)
    how = (call.route.get("search") or {}).get(kind)
    if how is None or how["collection"] not in store.collections:
        return call.list_reply([], paginate=False)
    col = store.col(how["collection"])
    results: list[dict[str, Any]] = []
    schema = S.named(call.route["schema"]) if call.route.get("schema") else {}
    if "channels" in how:
        channel_type = how["channels"]
        for owner in sorted(col.all(), key=lambda o: o.get("id", 0)):
            for channel in owner.get("channels") or []:
                if channel_type and channel.get("type") != channel_type:
                    continue
                address = str(channel.get("address") or "")
                digits = "".join(ch for ch in needle if ch.isdigit())
                if needle in address.lower() or (
                    digits and digits in "".join(ch for ch in address if ch.isdigit())
                ):
                    if how.get("owner"):
                        results.append(project({**owner, "type": kind}, schema))
                    else:
                        results.append(
                            project(
                                {
                                    "id": channel.get("id"),
                                    "address": address,
                                    "type": channel.get("type"),
                                    "customer": {
                                        "id": owner.get("id"),
                                        "name": owner.get("name"),
                                        "email": owner.get("email"),
                                    },
                                },
                                schema,
                            )
                        )
                    break
            if len(results) >= size:
                break
    else:
        fields = col.spec["text_fields"]
        for obj in sorted(col.all(), key=lambda o: o.get("id", 0)):
            if not needle or any(needle in str(obj.get(f) or "").lower() for f in fields):
                results.append(
                    project(
                        {
                            **obj,
                            "type": obj.get("type") if isinstance(obj.get("type"), str) else kind,
                        },
                        schema,
                    )
                )
            if len(results) >= size:
                break
    return call.list_reply(results[:size], paginate=False)


def _query_terms(text: str) -> list[tuple[bool, str, str, str]]:
    """(negated, key, operator, value) per term of a query text; free words have no key."""
    terms = []
    for word in shlex_split(text):
        negated = word.startswith("-") and len(word) > 1
        word = word[1:] if negated else word
        for op in (">=", "<=", ":", ">", "<"):
            key, found, value = word.partition(op)
            if found and key and value and key.replace("_", "").isalnum():
                terms.append((negated, key.lower(), op, value))
                break
        else:
            terms.append((negated, "", ":", word))
    return terms


def shlex_split(text: str) -> list[str]:
    """Words of a query, a double-quoted phrase being one word (unbalanced quotes end the text)."""
    words, current, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch.isspace() and not quoted:
            if current:
                words.append(current)
            current = ""
        else:
            current += ch
    if current:
        words.append(current)
    return words


def _term_matches(
    obj: dict[str, Any], field_name: str, op: str, wanted: str, ranks: list[str] | None = None
) -> bool:
    value = obj.get(field_name)
    if op == ":":
        values = value if isinstance(value, list) else [value]
        return any(v is not None and str(v).lower() == wanted.lower() for v in values)
    if value is None or isinstance(value, (list, dict)):
        return False
    left: Any = value
    right: Any = wanted
    try:
        if ranks is not None:
            if str(value) not in ranks or wanted.lower() not in ranks:
                return False
            left, right = ranks.index(str(value)), ranks.index(wanted.lower())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            right = float(wanted)
        else:
            left, right = S.parse_datetime(str(value)), S.parse_datetime(wanted)
    except ValueError:
        left, right = str(value).lower(), wanted.lower()
    return bool(
        {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]
    )


def h_query_search(call: Call) -> Reply:
    """The declared query search (`behaviours.query_search`): `type:`, `field:value`, `field>value`
    terms and free words, over the stored objects of the declared types."""
    spec = call.route["query_search"]
    store = call.store
    terms = _query_terms(str(call.query.get(spec["param"]) or ""))
    types: dict[str, str] = spec["types"]
    kinds = [v.lower() for neg, k, _, v in terms if k == "type" and not neg] or list(types)
    given = call.query.get(spec.get("type_param") or "")
    given = given.get("type") if isinstance(given, dict) else given
    if isinstance(given, str):
        kinds = [k for k in kinds if k == given.lower()]
    aliases: dict[str, str] = spec.get("aliases") or {}
    ordered: dict[str, list[str]] = spec.get("ordered_values") or {}
    results: list[dict[str, Any]] = []
    for kind in kinds:
        name = types.get(kind)
        if name not in store.collections:
            continue
        col = store.col(name)
        for obj in col.all():
            rendered = store.render(col, obj)
            ok = True
            for negated, key, op, value in terms:
                if key == "type":
                    continue
                if key:
                    field_name = aliases.get(key, key)
                    hit = _term_matches(rendered, field_name, op, value, ordered.get(field_name))
                else:
                    hit = any(
                        value.lower() in str(rendered.get(f) or "").lower()
                        for f in col.spec["text_fields"]
                    )
                if hit == negated:
                    ok = False
                    break
            if ok:
                if spec.get("type_field"):
                    rendered[spec["type_field"]] = kind
                results.append(rendered)
    order, text = call.order("id:asc")
    results = Q.sort_items(results, order)
    if call.envelope["type"] == "object":
        count_field = spec.get("count_field") or "count"
        return Reply(call.route["status"], {count_field: len(results)})
    return call.list_reply(results, order=order, order_text=text)


# --- files -----------------------------------------------------------------------------------


def h_upload(call: Call) -> Reply:
    if not call.files:
        raise field_error(("files",), "Missing data for required field.")
    file_type = call.query.get("type") or "attachment"
    out = []
    for field_name, filename, content_type, content in call.files:
        stored = call.store.add_file(
            filename or field_name,
            content_type or "application/octet-stream",
            content,
            str(file_type),
        )
        out.append(
            {
                "url": stored.url(call.base_url),
                "name": field_name or filename,
                "content_type": stored.content_type,
                "size": str(len(content)),
            }
        )
    return call.list_reply(out, paginate=False)


def h_raw_upload(call: Call) -> Reply:
    """A raw-bytes upload: the file is stored, and the answer (the response schema) is filled from
    what is known of it: its token, URL, name, media type, size and a new id, wherever the schema
    has a field of that name; other fields get their blank value, date-times the current time."""
    if not call.files:
        raise field_error(("file",), "Missing data for required field.")
    _, filename, content_type, content = call.files[0]
    stored = call.store.add_file(filename, content_type, content)
    url = stored.url(call.base_url)
    facts: dict[str, Any] = {
        "token": stored.token,
        "url": url,
        "content_url": url,
        "mapped_content_url": url,
        "name": filename,
        "file_name": filename,
        "filename": filename,
        "content_type": content_type,
        "size": len(content),
    }
    schema = (
        S.named(call.route["schema"])
        if call.route.get("schema")
        else call.route.get("inline_schema")
    )
    return call.object_reply(_describe_file(call.store, schema, facts, 0))


def _describe_file(store: Store, schema: Any, facts: dict[str, Any], depth: int) -> Any:
    resolved = S.resolve(schema)
    if not isinstance(resolved, dict) or depth > 4:
        return S.blank_value(schema)
    types = S.types_of(resolved)
    if "object" in types or "properties" in resolved:
        out: dict[str, Any] = {}
        for name, prop in (resolved.get("properties") or {}).items():
            value = facts.get(name, _MISSING)
            if name == "id" and value is _MISSING:
                value = store.nested_id()
            if value is not _MISSING and S.is_valid(prop, value):
                out[name] = value
                continue
            inner = S.resolve(prop)
            if isinstance(inner, dict) and ("array" in S.types_of(inner)):
                out[name] = [_describe_file(store, inner.get("items", {}), facts, depth + 1)]
            elif isinstance(inner, dict) and (
                "object" in S.types_of(inner) or "properties" in inner
            ):
                out[name] = _describe_file(store, inner, facts, depth + 1)
            elif S.is_datetime_schema(prop):
                out[name] = store.now()
            else:
                out[name] = S.blank_value(prop)
        return out
    return S.blank_value(schema)


_MISSING = object()


def h_file_redirect(call: Call) -> Reply:
    resource = str(call.path.get("resource_name") or list(call.path.values())[-1])
    stored = call.store.find_file(resource)
    if stored is None:
        raise not_found()
    location = f"{call.base_url}/_sandbox/files/{stored.token}/{stored.resource_name}"
    return Reply(
        call.route["status"],
        raw=b"",
        headers={"location": location},
        media_type=stored.content_type,
    )


def h_file_bytes(call: Call) -> Reply:
    value = str(list(call.path.values())[-1]) if call.path else ""
    stored = call.store.find_file(value.rstrip("/").rsplit("/", 1)[-1])
    if stored is None:
        raise not_found()
    return Reply(200, raw=stored.content, media_type=stored.content_type)


def h_raw_url(call: Call) -> Reply:
    """An absolute URL requested as is (an attachment URL): serve it when it is one of ours."""
    value = str(next(iter(call.path.values()), ""))
    parts = [p for p in value.split("/") if p]
    if len(parts) >= 2:
        stored = call.store.find_file(parts[-1])
        if stored is not None:
            location = f"{call.base_url}/_sandbox/files/{stored.token}/{stored.resource_name}"
            return Reply(
                307, raw=b"", headers={"location": location}, media_type=stored.content_type
            )
    raise not_found()


# --- reporting ---------------------------------------------------------------------------------


def _period(filters: list[Any]) -> tuple[Any, Any]:
    start = end = None
    for f in filters or []:
        if not isinstance(f, dict):
            continue
        member = str(f.get("member") or "")
        values = f.get("values") or []
        if not values:
            continue
        try:
            if member.lower().endswith("periodstart") or (f.get("operator") == "afterDate"):
                start = S.parse_datetime(str(values[0]))
            elif member.lower().endswith("periodend") or (f.get("operator") == "beforeDate"):
                end = S.parse_datetime(str(values[0]))
            elif f.get("operator") == "inDateRange" and len(values) >= 2:
                start, end = S.parse_datetime(str(values[0])), S.parse_datetime(str(values[1]))
        except ValueError:
            raise field_error(("query", "filters"), "Not a valid datetime.") from None
    return start, end


def _bucket(value: str | None, granularity: str) -> str | None:
    if not value:
        return None
    moment = S.parse_datetime(value)
    if granularity == "hour":
        moment = moment.replace(minute=0, second=0, microsecond=0)
    elif granularity == "week":
        moment = (moment - timedelta(days=moment.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
    elif granularity == "month":
        moment = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return S.format_datetime(moment)


def _measure(name: str, items: list[dict[str, Any]], rng: random.Random) -> Any:
    lower = name.lower()
    if "count" in lower or not items:
        return len(items)
    if "time" in lower:
        durations = []
        for item in items:
            start = item.get(_report_time_field())
            end = next((item[f] for f in _reports().get("end_fields", []) if item.get(f)), None)
            if start and end:
                durations.append((S.parse_datetime(end) - S.parse_datetime(start)).total_seconds())
        durations.sort()
        return (
            round(durations[len(durations) // 2], 1)
            if durations
            else round(rng.uniform(60, 86400), 1)
        )
    if "score" in lower or "satisfaction" in lower:
        scores: list[float] = [
            i["score"] for i in items if isinstance(i.get("score"), (int, float))
        ]
        return round(sum(scores) / len(scores), 2) if scores else round(rng.uniform(3.5, 5), 2)
    if "rate" in lower or "percent" in lower:
        return round(rng.uniform(0, 1), 4)
    return len(items)


def _reports() -> dict[str, Any]:
    reports: dict[str, Any] = BEHAVIOURS.get("reports") or {}
    return reports


def _report_time_field() -> str:
    return str(_reports().get("time_field") or CREATED or "")


def report_rows(call: Call, query: dict[str, Any]) -> list[dict[str, Any]]:
    store = call.store
    time_field = _report_time_field()
    scope = str(query.get("scope") or "")
    sources = _reports().get("sources", {})
    source_name = next(
        (col for prefix, col in sources.items() if scope.startswith(prefix)), None
    ) or sources.get("*")
    if source_name not in store.collections:
        source_name = max(store.collections, key=lambda n: store.col(n).count())
    items = store.col(source_name).all()
    start, end = _period(query.get("filters") or [])
    if start and end and (end - start).days > 366:
        raise ApiError(
            400,
            "Maximum allowed period size is 366 days",
            {"query": {"filters": ["Maximum allowed period size is 366 days"]}},
        )

    def in_period(item: dict[str, Any]) -> bool:
        stamp = item.get(time_field)
        if not stamp:
            return True
        moment = S.parse_datetime(stamp)
        return (start is None or moment >= start) and (end is None or moment <= end)

    items = [i for i in items if in_period(i)]
    dims_map: dict[str, str] = _reports().get("dimensions", {})
    dimensions = [d for d in query.get("dimensions") or [] if isinstance(d, str)]
    time_dims = query.get("timeDimensions") or query.get("time_dimensions") or []
    measures = [m for m in query.get("measures") or [] if isinstance(m, str)] or ["count"]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for item in items:
        key: list[Any] = []
        for dim in dimensions:
            field_name = dims_map.get(dim, dim)
            value = item.get(field_name)
            if isinstance(value, list):
                value = ",".join(str(v.get("id") if isinstance(v, dict) else v) for v in value)
            elif isinstance(value, dict):
                value = value.get("id", value.get("name"))
            key.append(value)
        for td in time_dims:
            if isinstance(td, dict):
                field_name = dims_map.get(str(td.get("dimension")), time_field)
                key.append(
                    _bucket(
                        item.get(field_name) or item.get(time_field),
                        str(td.get("granularity") or "day"),
                    )
                )
        groups.setdefault(tuple(key), []).append(item)
    rng = random.Random(len(items))
    rows: list[dict[str, Any]] = []
    for group, members in sorted(groups.items(), key=lambda kv: [str(k) for k in kv[0]]):
        row: dict[str, Any] = {}
        names = dimensions + [
            f"{td.get('dimension')}.{td.get('granularity')}"
            for td in time_dims
            if isinstance(td, dict)
        ]
        for name, value in zip(names, group):
            row[name] = value
        for measure in measures:
            row[measure] = _measure(measure, members, rng)
        rows.append(row)
    for spec in reversed(query.get("order") or []):
        if isinstance(spec, list) and len(spec) == 2:
            name, direction = str(spec[0]), spec[1]

            def row_key(row: dict[str, Any], name: str = name) -> tuple[bool, str, float]:
                value = row.get(name)
                number = float(value) if isinstance(value, (int, float)) else 0.0
                return (
                    value is None,
                    "" if isinstance(value, (int, float)) else str(value),
                    number,
                )

            rows.sort(key=row_key, reverse=direction == "desc")
    return rows


def h_report_rows(call: Call) -> Reply:
    body = _body_dict(call)
    inner = body.get("query")
    query: dict[str, Any] = inner if isinstance(inner, dict) else body
    rows = report_rows(call, query)
    shape: dict[str, Any] = _reports().get("page") or {}
    limit_param, cursor_param = (
        shape.get("limit_param") or "limit",
        shape.get("cursor_param") or "cursor",
    )
    limit = int(call.query.get(limit_param) or _param_default(call.route, limit_param, 30))
    offset = (
        Q.decode_offset(call.query[cursor_param], cursor_param)
        if call.query.get(cursor_param)
        else 0
    )
    chunk = rows[offset : offset + limit]
    nxt = Q.encode_offset(offset + limit) if offset + limit < len(rows) else None
    prv = Q.encode_offset(max(0, offset - limit)) if offset > 0 else None
    page: dict[str, Any] = {}
    _set(page, str(shape.get("items") or "data").split("."), chunk)
    for key, value in (("next_cursor", nxt), ("prev_cursor", prv), ("total", len(rows))):
        if shape.get(key):
            _set(page, str(shape[key]).split("."), value)
    return Reply(call.route["status"], page)


def _statistic(call: Call) -> dict[str, Any]:
    body = _body_dict(call)
    raw_filters = body.get("filters")
    filters: dict[str, Any] = raw_filters if isinstance(raw_filters, dict) else {}
    raw_period = filters.get("period")
    period: dict[str, Any] = raw_period if isinstance(raw_period, dict) else {}
    end = (
        S.parse_datetime(period["end_datetime"])
        if period.get("end_datetime")
        else call.store.clock()
    )
    start = (
        S.parse_datetime(period["start_datetime"])
        if period.get("start_datetime")
        else end - timedelta(days=7)
    )
    if start > end:
        start, end = end, start
    days = max(1, min(366, math.ceil((end - start).total_seconds() / 86400)))
    name = str(next(iter(call.path.values()), "statistic"))
    sources = _reports().get("sources", {})
    time_field = _report_time_field()
    source = sources.get("*")
    items = call.store.col(source).all() if source in call.store.collections else []
    lines = []
    for day in range(days):
        bucket_start = start + timedelta(days=day)
        bucket_end = bucket_start + timedelta(days=1)
        count = sum(
            1
            for i in items
            if i.get(time_field) and bucket_start <= S.parse_datetime(i[time_field]) < bucket_end
        )
        lines.append([S.format_datetime(bucket_start), count])
    return {
        "data": {"label": name, "axes": {"x": "datetime", "y": "count"}, "lines": lines},
        "meta": {
            "name": name,
            "start_datetime": S.format_datetime(start),
            "end_datetime": S.format_datetime(end),
        },
    }


def h_me(call: Call) -> Reply:
    """The authenticated user (a read of the collection that has a `me_alias`)."""
    col = call.store.col(call.route["me_collection"])
    me = call.store.me()
    if me is None:
        raise not_found()
    return call.object_reply(call.store.render(col, me, full=True))


def h_statistic(call: Call) -> Reply:
    return Reply(call.route["status"], _statistic(call))


def h_csv_export(call: Call) -> Reply:
    stat = _statistic(call)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["datetime", stat["data"]["label"]])
    for stamp, value in stat["data"]["lines"]:
        writer.writerow([stamp, value])
    return Reply(
        call.route["status"],
        raw=out.getvalue().encode(),
        media_type=call.envelope.get("media_type") or "text/csv",
    )


# --- anything else -----------------------------------------------------------------------------


def h_generic(call: Call) -> Reply:
    """An operation no pattern recognises: answer from method and envelope."""
    route = call.route
    env = call.envelope["type"]
    if route.get("collection") and route["level"] in ("item", "item_action"):
        if route["method"] == "GET":
            return h_get(call)
        if route["method"] == "DELETE":
            return h_delete(call)
        return h_update(call)
    if route.get("collection") and route["method"] == "GET":
        return h_list(call)
    if env == "empty":
        return Reply(route["status"])
    if env in ("binary", "csv"):
        return Reply(
            route["status"],
            raw=b"",
            media_type=call.envelope.get("media_type") or "application/octet-stream",
        )
    schema = S.named(route["schema"]) if route.get("schema") else route.get("inline_schema") or {}
    if env == "object":
        value = {name: S.blank_value(s) for name, s in S.properties(schema).items()}
        for name, v in _body_dict(call).items():
            if name in value and S.is_valid(S.properties(schema)[name], v):
                value[name] = v
        return Reply(route["status"], value)
    return call.list_reply([], paginate=False)


HANDLERS: dict[str, Callable[[Call], Reply]] = {
    "list": h_list,
    "get": h_get,
    "singleton_get": h_singleton_get,
    "create": h_create,
    "update": h_update,
    "singleton_update": h_singleton_update,
    "delete": h_delete,
    "bulk_update": h_bulk_update,
    "bulk_delete": h_bulk_delete,
    "bulk_patch": h_bulk_patch,
    "set_property": h_set_property,
    "stamp_many": h_stamp_many,
    "merge": h_merge,
    "relation_list": h_relation_list,
    "relation_change": h_relation_change,
    "derived_list": h_derived_list,
    "search": h_search,
    "query_search": h_query_search,
    "item_action": h_item_action,
    "tag_field": h_tag_field,
    "upload": h_upload,
    "raw_upload": h_raw_upload,
    "file_redirect": h_file_redirect,
    "file_bytes": h_file_bytes,
    "raw_url": h_raw_url,
    "report_rows": h_report_rows,
    "statistic": h_statistic,
    "me": h_me,
    "csv_export": h_csv_export,
    "generic": h_generic,
}
