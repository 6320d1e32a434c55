"""The in-memory store: one collection per stored object type, plus uploaded files.

Objects are kept in the shape of their response schema. References to other collections are kept
as small snapshots (`{"id": 3, ...}`) and refreshed from the referenced collection when an object
is rendered, so a later change (a renamed tag, a deleted message) shows wherever it is referenced.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import schemas as S
from ._spec import SPEC
from .sandbox_data import BEHAVIOURS, CREATED, UPDATED

Scope = tuple[Any, ...]
DEFAULT_FILE_URL = "/_sandbox/files/{token}/{name}"


class ApiError(Exception):
    """An error answered in the API's error shape."""

    def __init__(
        self,
        status: int,
        msg: str,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.data = data
        self.headers = headers or {}


class DataFileError(ValueError):
    """The `--data` file cannot be loaded: unreadable, not JSON, or not in the export format."""


def not_found() -> ApiError:
    return ApiError(404, "Resource not found.")


def field_error(
    path: Iterable[Any], message: str, msg: str = "Invalid request data.", status: int = 400
) -> ApiError:
    data: dict[str, Any] = {}
    node = data
    parts = [str(p) for p in path]
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1] if parts else "_schema"] = [message]
    return ApiError(status, msg, data)


class Collection:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.schema: str = spec["schema"]
        self.props: dict[str, Any] = S.schema_props(self.schema)
        self.scoped = spec["scope"] is not None
        self.singleton: bool = spec["singleton"]
        self.items: dict[Scope, dict[Any, dict[str, Any]]] = {}
        self.next_id = 1

    def scope_items(self, scope: Scope = ()) -> dict[Any, dict[str, Any]]:
        return self.items.setdefault(scope, {})

    def all(self, scope: Scope | None = ()) -> list[dict[str, Any]]:
        if scope is None:
            return [obj for bucket in self.items.values() for obj in bucket.values()]
        return list(self.items.get(scope, {}).values())

    def get(self, key: Any, scope: Scope = ()) -> dict[str, Any] | None:
        return self.items.get(scope, {}).get(key)

    def put(self, obj: dict[str, Any], scope: Scope = ()) -> dict[str, Any]:
        key = obj.get("id", 0) if not self.singleton else 0
        self.scope_items(scope)[key] = obj
        if isinstance(key, int) and key >= self.next_id:
            self.next_id = key + 1
        return obj

    def remove(self, key: Any, scope: Scope = ()) -> dict[str, Any] | None:
        return self.items.get(scope, {}).pop(key, None)

    def allocate(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def count(self) -> int:
        return sum(len(bucket) for bucket in self.items.values())

    def find(self, field_name: str, value: Any, scope: Scope = ()) -> dict[str, Any] | None:
        folded = value.lower() if isinstance(value, str) else value
        for obj in self.items.get(scope, {}).values():
            current = obj.get(field_name)
            if (
                current.lower() if isinstance(current, str) else current
            ) == folded and current is not None:
                return obj
        return None


@dataclass
class StoredFile:
    token: str
    file_type: str
    domain_hash: str
    resource_name: str
    name: str
    content_type: str
    content: bytes

    def url(self, base_url: str) -> str:
        """Where the API serves it: the `file_url` behaviour, else the sandbox's own file path."""
        template = str(BEHAVIOURS.get("file_url") or DEFAULT_FILE_URL)
        return base_url + template.format(
            type=self.file_type, account=self.domain_hash, name=self.resource_name, token=self.token
        )


@dataclass
class Store:
    spec: dict[str, Any] = field(default_factory=lambda: SPEC)
    base_url: str = "http://127.0.0.1"
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def __post_init__(self) -> None:
        self.collections: dict[str, Collection] = {
            name: Collection(col) for name, col in self.spec["collections"].items()
        }
        self.files: dict[str, StoredFile] = {}
        self.lock = threading.RLock()
        self.nested_ids = 1
        self.me_login = ""
        self.account_domain = "sandbox"
        self.writes: dict[str, int] = {}

    # --- basics -----------------------------------------------------------------------------

    def col(self, name: str) -> Collection:
        return self.collections[name]

    def now(self) -> str:
        return S.format_datetime(self.clock())

    def nested_id(self) -> int:
        value = self.nested_ids
        self.nested_ids += 1
        return value

    def domain_hash(self) -> str:
        return hashlib.sha1(self.account_domain.encode()).hexdigest()[:10]

    def me(self) -> dict[str, Any] | None:
        users: Collection | None = next(
            (c for c in self.collections.values() if c.spec.get("me_alias") is not None), None
        )
        if users is None:
            return None
        match = users.spec.get("me_match")
        found = users.find(match, self.me_login) if match and self.me_login else None
        if found is None:
            everyone = users.all()
            found = min(everyone, key=lambda u: u.get("id", 0)) if everyone else None
        return found

    def resolve_id(self, col: Collection, raw: Any) -> Any:
        alias = col.spec.get("me_alias")
        if alias is not None and raw == alias:
            me = self.me()
            return me.get("id") if me else raw
        return raw

    def scope_of(self, col: Collection, path_params: dict[str, Any]) -> Scope:
        scope = col.spec["scope"]
        if not scope:
            return ()
        return (scope["parent"], path_params.get(scope["param"]))

    # --- rendering --------------------------------------------------------------------------

    def render(
        self, col: Collection, obj: dict[str, Any], full: bool = False, depth: int = 0
    ) -> dict[str, Any]:
        """The object as the API answers it, with references refreshed from their collections."""
        out = dict(obj)
        spec = col.spec
        if depth < 2:
            for prop, target in spec["belongs_to"].items():
                value = out.get(prop)
                if isinstance(value, dict) and "id" in value and target in self.collections:
                    tcol = self.collections[target]
                    current = tcol.get(value["id"])
                    if current is not None:
                        out[prop] = self.render(tcol, current, depth=depth + 1)
            for prop, target in spec["relations"].items():
                value = out.get(prop)
                if isinstance(value, list) and target in self.collections:
                    tcol = self.collections[target]
                    fresh = []
                    for link in value:
                        current = tcol.get(link.get("id")) if isinstance(link, dict) else None
                        if current is not None:
                            fresh.append(self.render(tcol, current, depth=depth + 1))
                    out[prop] = fresh
            for prop, target in spec["summaries"].items():
                value = out.get(prop)
                if target not in self.collections:
                    continue
                tcol = self.collections[target]
                item_schema = col.props.get(prop, {})
                if isinstance(value, dict) and "id" in value:
                    current = tcol.get(value["id"])
                    if current is not None:
                        out[prop] = project(current, item_schema)
                elif isinstance(value, list):
                    out[prop] = [
                        project(tcol.get(v["id"]) or v, item_schema)
                        if isinstance(v, dict) and "id" in v
                        else v
                        for v in value
                    ]
        if full:
            for prop, link in spec["has_many"].items():
                child = self.collections.get(link["collection"])
                if child is None:
                    continue
                items = child.all()
                if link["field"]:
                    items = [c for c in items if c.get(link["field"]) == obj.get("id")]
                items.sort(key=lambda c: (str(c.get(CREATED or "") or ""), c.get("id", 0)))
                out[prop] = [self.render(child, c, depth=depth + 1) for c in items]
        return out

    # --- writing ----------------------------------------------------------------------------

    def blank(self, col: Collection) -> dict[str, Any]:
        return {name: S.blank_value(schema) for name, schema in col.props.items()}

    def build(
        self,
        col: Collection,
        body: dict[str, Any],
        existing: dict[str, Any] | None = None,
        *,
        parents: dict[str, Any] | None = None,
        scope: Scope = (),
        new_id: Any = None,
        body_schema: Any = None,
    ) -> tuple[dict[str, Any], list[tuple[Collection, list[dict[str, Any]], str]]]:
        """A new or updated object from a validated request body.

        Returns the object and the child objects still to create once it is stored (e.g. the
        messages of a new ticket), as (collection, bodies, parent field) triples.
        """
        creating = existing is None
        obj = copy.deepcopy(existing) if existing is not None else self.blank(col)
        body = dict(body or {})
        if body_schema is not None and creating:
            for name, schema in S.properties(body_schema).items():
                if (
                    name not in body
                    and isinstance(schema, dict)
                    and "default" in schema
                    and name in col.props
                ):
                    body[name] = copy.deepcopy(schema["default"])
        children: list[tuple[Collection, list[dict[str, Any]], str]] = []
        spec = col.spec
        for name, value in body.items():
            if name not in col.props or (name == "id" and not col.scoped):
                self._scoped_values(col, name, value, obj, children)
                continue
            prop_schema = col.props[name]
            if name in spec["has_many"]:
                link = spec["has_many"][name]
                if isinstance(value, list) and link["field"] and creating:
                    children.append(
                        (
                            self.collections[link["collection"]],
                            [v for v in value if isinstance(v, dict)],
                            link["field"],
                        )
                    )
                continue
            if name in spec["belongs_to"]:
                obj[name] = self._link(self.collections[spec["belongs_to"][name]], value, (name,))
            elif name in spec["relations"]:
                target = self.collections[spec["relations"][name]]
                obj[name] = (
                    [self._link(target, v, (name, i)) for i, v in enumerate(value or [])]
                    if value is not None
                    else []
                )
            elif name in spec["summaries"]:
                target = self.collections[spec["summaries"][name]]
                obj[name] = self._summary(target, value, prop_schema, (name,))
            elif name in spec["id_fields"] and value is not None:
                pointed = self.collections.get(spec["id_fields"][name])
                if (
                    pointed is not None
                    and not pointed.singleton
                    and pointed.get(self.resolve_id(pointed, value)) is None
                ):
                    raise field_error((name,), "Object not found.")
                obj[name] = value
            elif not self._scoped_values(col, name, value, obj, children):
                value = self._finish_nested(copy.deepcopy(value), prop_schema)
                if S.is_valid(prop_schema, value):
                    obj[name] = value
            sibling = f"{name}_id"
            if (
                sibling in col.props
                and sibling not in body
                and (name in spec["summaries"] or name in spec["belongs_to"])
            ):
                obj[sibling] = obj[name].get("id") if isinstance(obj[name], dict) else None
        # fields a new parent takes from its first child when not given (channel, via, subject...)
        owned = [bodies for _, bodies, link in children if link != "__scope__" and bodies]
        if creating and owned:
            first = owned[0][0]
            for name, value in first.items():
                if name in col.props and name not in body and name not in ("id", "uri", CREATED):
                    if S.is_valid(col.props[name], value):
                        obj[name] = copy.deepcopy(value)
        for name, value in list(obj.items()):
            if name in col.props and S.is_datetime_schema(col.props[name]):
                obj[name] = S.canonical_datetime(value)
        if parents:
            for name, value in parents.items():
                if name in col.props:
                    obj[name] = value
        now = self.now()
        if creating:
            if "id" in col.props:
                obj["id"] = new_id if new_id is not None else col.allocate()
            self._contact_channel(col, obj)
            if CREATED and CREATED in col.props and not body.get(CREATED):
                obj[CREATED] = now
        if UPDATED and UPDATED in col.props and not body.get(UPDATED):
            obj[UPDATED] = now
        if "uri" in col.props:
            obj["uri"] = self.uri(col, obj, scope)
        self.repair(col, obj)
        return obj, children

    def _contact_channel(self, col: Collection, obj: dict[str, Any]) -> None:
        """A customer created with an e-mail address also gets that address as a channel."""
        contact = col.spec.get("contact_channel")
        address = obj.get(contact["field"]) if contact else None
        if not contact or not address:
            return
        channels = obj.get(contact["list"]) or []
        if any(
            isinstance(c, dict) and str(c.get("address", "")).lower() == str(address).lower()
            for c in channels
        ):
            return
        item_schema = S.resolve(col.props[contact["list"]]).get("items", {})
        channel = {"type": contact["type"], "address": address, "preferred": not channels}
        channel = self._finish_nested(channel, item_schema)
        owner = {"id": obj.get("id"), "name": obj.get("name")}
        if "customer" in S.properties(item_schema):
            channel["customer"] = owner
        obj[contact["list"]] = [channel, *channels]

    def uri(self, col: Collection, obj: dict[str, Any], scope: Scope = ()) -> str:
        template: str = col.spec["uri"]
        values = {k: v for k, v in obj.items() if isinstance(v, (int, str))}
        values["_parent"] = scope[1] if scope else ""
        values.setdefault("id", "")
        try:
            return template.format(**values).replace("//", "/")
        except (KeyError, IndexError, ValueError):
            return template.split("{")[0]

    def repair(self, col: Collection, obj: dict[str, Any]) -> None:
        """Reset top-level fields that do not fit the response schema (never expected, but the
        sandbox must always answer schema-valid objects)."""
        for _ in range(3):
            errs = S.errors(S.named(col.schema), obj)
            if not errs:
                return
            for error in errs:
                path = list(error.absolute_path)
                if path and path[0] in col.props:
                    obj[path[0]] = S.blank_value(col.props[path[0]])

    def _finish_nested(self, value: Any, schema: Any) -> Any:
        """Give nested objects with an `id` field (e.g. customer channels) an id and timestamps."""
        resolved = S.resolve(schema)
        if isinstance(value, list) and isinstance(resolved, dict):
            item = resolved.get("items")
            return [self._finish_nested(v, item) for v in value]
        if isinstance(value, dict) and isinstance(resolved, dict):
            props = S.properties(resolved)
            if (
                "id" in props
                and "id" not in value
                and "integer" in S.types_of(S.resolve(props["id"]))
            ):
                value["id"] = self.nested_id()
                for stamp in (CREATED, UPDATED):
                    if stamp and stamp in props and stamp not in value:
                        value[stamp] = self.now()
            for key, sub in list(value.items()):
                if key in props and S.is_datetime_schema(props[key]):
                    value[key] = S.canonical_datetime(sub)
        return value

    def _scoped_values(
        self, col: Collection, name: str, value: Any, obj: dict[str, Any], children: list[Any]
    ) -> bool:
        """`custom_fields: [{id, value}]` on a parent also sets the values of its scoped collection."""
        key = name.replace("_", "-")
        for other in self.collections.values():
            scope = other.spec["scope"]
            if (
                scope
                and scope["parent"] == col.name
                and any(b.endswith("/" + key) for b in other.spec["bases"])
            ):
                if not isinstance(value, list):
                    return False
                items = [v for v in value if isinstance(v, dict) and "id" in v]
                targets = list(other.spec["belongs_to"].values())
                target = self.collections.get(targets[0]) if targets else None
                for i, item in enumerate(items):
                    if target is not None and target.get(item["id"]) is None:
                        raise field_error((name, i, "id"), "Object not found.")
                children.append((other, items, "__scope__"))
                if name in col.props:
                    as_map = {str(v["id"]): v.get("value") for v in items}
                    if S.is_valid(col.props[name], as_map):
                        obj[name] = as_map
                return True
        return False

    def _link(self, target: Collection, value: Any, path: tuple[Any, ...]) -> Any:
        """Resolve `{id}` / `{email}` / `{name}` (or a bare id) to a stored object, creating it by
        its unique field when it does not exist yet (as the API does for customers and tags)."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = {"id": value}
        if not isinstance(value, dict):
            raise field_error(path, "Invalid value.")
        if value.get("id") is not None:
            found = target.get(self.resolve_id(target, value["id"]))
            if found is None:
                raise field_error(path + ("id",), "Object not found.")
            return self.render(target, found, depth=2)
        for unique in target.spec["unique"]:
            if value.get(unique):
                found = target.find(unique, value[unique])
                if found is None:
                    found, _ = self.build(
                        target, {k: v for k, v in value.items() if k in target.props}
                    )
                    self.insert(target, found)
                return self.render(target, found, depth=2)
        raise field_error(path, "Object not found.")

    def _summary(self, target: Collection, value: Any, schema: Any, path: tuple[Any, ...]) -> Any:
        if value is None:
            return None
        resolved = S.resolve(schema)
        if isinstance(value, list):
            item_schema = resolved.get("items", {}) if isinstance(resolved, dict) else {}
            return [self._summary(target, v, item_schema, path + (i,)) for i, v in enumerate(value)]
        if isinstance(value, int) and not isinstance(value, bool):
            value = {"id": value}
        if isinstance(value, dict) and value.get("id") is not None:
            found = target.get(self.resolve_id(target, value["id"]))
            if found is None:
                raise field_error(path + ("id",), "Object not found.")
            return project(found, schema)
        if isinstance(value, dict):
            for unique in target.spec["unique"]:
                if value.get(unique):
                    found = target.find(unique, value[unique])
                    if found is None:
                        raise field_error(path + (unique,), "Object not found.")
                    return project(found, schema)
        return project(value, schema) if isinstance(value, dict) else None

    def check_unique(self, col: Collection, obj: dict[str, Any], scope: Scope = ()) -> None:
        for name in col.spec["unique"]:
            value = obj.get(name)
            if value in (None, ""):
                continue
            other = col.find(name, value, scope)
            if other is not None and other.get("id") != obj.get("id"):
                raise ApiError(
                    409, "The resource already exists.", {name: [f"This {name} is already used."]}
                )

    def insert(
        self, col: Collection, obj: dict[str, Any], scope: Scope = (), children: Any = ()
    ) -> dict[str, Any]:
        self.check_unique(col, obj, scope)
        col.put(obj, scope)
        for child_col, bodies, parent_field in children:
            for body in bodies:
                if parent_field == "__scope__":
                    child_scope = (col.name, obj.get("id"))
                    key = body.get("id")
                    existing = child_col.get(key, child_scope)
                    child, _ = self.build(child_col, body, existing, scope=child_scope, new_id=key)
                    self.link_scoped(child_col, child)
                    child_col.put(child, child_scope)
                    continue
                child, grandchildren = self.build(
                    child_col, body, parents={parent_field: obj.get("id")}
                )
                self.insert(child_col, child, children=grandchildren)
        self.record(col, obj, "created")
        return obj

    def link_scoped(self, col: Collection, obj: dict[str, Any]) -> None:
        """A scoped value keyed by the id of another object (a custom-field value keyed by its field)."""
        for prop, target in col.spec["belongs_to"].items():
            if obj.get(prop) is None and target in self.collections:
                found = self.collections[target].get(obj.get("id"))
                if found is not None:
                    obj[prop] = copy.deepcopy(found)

    def delete(self, col: Collection, key: Any, scope: Scope = ()) -> dict[str, Any] | None:
        removed = col.remove(key, scope)
        if removed is None:
            return None
        for other in self.collections.values():
            for link in other.spec["parent_fields"].values():
                if link["parent"] == col.name:
                    for child in [c for c in other.all() if c.get(link["field"]) == key]:
                        other.remove(child.get("id"))
            scope_spec = other.spec["scope"]
            if scope_spec and scope_spec["parent"] == col.name:
                other.items.pop((col.name, key), None)
        self.record(col, removed, "deleted")
        return removed

    def record(self, col: Collection, obj: dict[str, Any], verb: str) -> None:
        """Write an event for a change, when the definition has an event log."""
        self.writes[col.name] = self.writes.get(col.name, 0) + 1
        log = BEHAVIOURS.get("event_log") or {}
        events = self.collections.get(log.get("collection") or "")
        if events is None or col is events or col.scoped or col.singleton:
            return
        me = self.me()
        word = col.schema
        kebab = "".join("-" + ch.lower() if ch.isupper() else ch for ch in word).lstrip("-")
        event = {name: S.blank_value(schema) for name, schema in events.props.items()}
        if "id" in events.props:
            event["id"] = events.allocate()
        event[log["type"]] = f"{kebab}-{verb}"
        event[log["object_type"]] = col.schema
        event[log["object_id"]] = obj.get("id")
        if log.get("user"):
            event[log["user"]] = me.get("id") if me else None
        if CREATED and CREATED in events.props:
            event[CREATED] = self.now()
        if "uri" in events.props:
            event["uri"] = self.uri(events, event)
        events.put(event)

    # --- export / import --------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        out: dict[str, Any] = {"_format": EXPORT_FORMAT}
        for name, col in self.collections.items():
            if col.singleton:
                items = col.all()
                out[name] = items[0] if items else None
            elif col.scoped:
                out[name] = {
                    f"{scope[1]}": list(bucket.values())
                    for scope, bucket in col.items.items()
                    if bucket
                }
            else:
                out[name] = sorted(col.all(), key=lambda o: o.get("id", 0))
        out["_files"] = [
            {
                "name": f.name,
                "content_type": f.content_type,
                "file_type": f.file_type,
                "resource_name": f.resource_name,
                "token": f.token,
                "content_hex": f.content.hex(),
            }
            for f in self.files.values()
        ]
        return out

    def load_checked(self, data: Any) -> None:
        """`load` data from outside (`/_sandbox/load`) only when it all fits the schemas.

        Otherwise a 400 lists the first problems and the current data stays: a half-loaded or
        ill-typed store would make later calls fail instead of this one.
        """
        problems = self.load_problems(data)
        if problems:
            raise ApiError(400, "The data could not be loaded.", problems)
        self.load(data)

    def load_problems(self, data: Any, limit: int = 20) -> dict[str, Any]:
        """Field errors (at most `limit`) that keep `data` (export format) from being loaded."""
        if not isinstance(data, dict) or data.get("_format") != EXPORT_FORMAT:
            return {
                "_format": [
                    f"Expected an object in the format GET /_sandbox/export answers (_format {EXPORT_FORMAT})."
                ]
            }
        problems: dict[str, Any] = {
            str(key): ["Unknown collection."]
            for key in data
            if key not in self.collections and key not in ("_format", "_files")
        }
        seen = 0
        for name, col in self.collections.items():
            for where, obj in _loaded_objects(col, data.get(name)):
                seen += 1
                if seen > MAX_LOADED_OBJECTS:
                    return {"_schema": [f"More than {MAX_LOADED_OBJECTS} objects."]}
                if not isinstance(obj, dict):
                    problems[f"{name}{where}"] = [
                        "Expected an object, in the format GET /_sandbox/export answers."
                    ]
                elif errs := S.errors(S.named(col.schema), obj):
                    problems[f"{name}{where}"] = S.field_errors(errs)
                if len(problems) >= limit:
                    return problems
        files = data.get("_files", [])
        for index, entry in enumerate(files if isinstance(files, list) else [None]):
            if not _is_file_entry(entry):
                problems[f"_files[{index}]"] = [
                    "Expected name, content_type, file_type, resource_name, token and content_hex strings."
                ]
                if len(problems) >= limit:
                    break
        return problems

    def load(self, data: dict[str, Any]) -> None:
        self.files.clear()
        for name, col in self.collections.items():
            col.items.clear()
            col.next_id = 1
            value = data.get(name)
            if value is None:
                continue
            if col.singleton:
                col.put(value)
            elif col.scoped:
                parent = col.spec["scope"]["parent"]
                for key, items in value.items():
                    pkey: Any = int(key) if str(key).lstrip("-").isdigit() else key
                    for obj in items:
                        col.put(obj, (parent, pkey))
            else:
                for obj in value:
                    col.put(obj)
        for entry in data.get("_files", []):
            stored = StoredFile(
                token=entry["token"],
                file_type=entry["file_type"],
                domain_hash=self.domain_hash(),
                resource_name=entry["resource_name"],
                name=entry["name"],
                content_type=entry["content_type"],
                content=bytes.fromhex(entry.get("content_hex", "")),
            )
            self.files[stored.token] = stored
        ids = [
            o.get("id")
            for c in self.collections.values()
            for o in c.all(None)
            for o in [o]
            if isinstance(o, dict)
        ]
        self.nested_ids = 1 + max([0, *[i for i in ids if isinstance(i, int)]]) + 100000

    def counts(self) -> dict[str, int]:
        return {name: col.count() for name, col in self.collections.items()}

    def add_file(
        self, name: str, content_type: str, content: bytes, file_type: str = "attachment"
    ) -> StoredFile:
        token = hashlib.sha1(content + name.encode() + str(len(self.files)).encode()).hexdigest()[
            :16
        ]
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name) or "file"
        stored = StoredFile(
            token=token,
            file_type=file_type,
            domain_hash=self.domain_hash(),
            resource_name=f"{token}-{safe}",
            name=name,
            content_type=content_type,
            content=content,
        )
        self.files[token] = stored
        return stored

    def find_file(self, resource_name: str) -> StoredFile | None:
        token = resource_name.split("-", 1)[0]
        stored = self.files.get(token)
        if stored is not None and stored.resource_name == resource_name:
            return stored
        return None


EXPORT_FORMAT = 1
#: Most objects `/_sandbox/load` validates (each against its schema); seeded data has ~2,500.
MAX_LOADED_OBJECTS = 50_000
_MALFORMED = object()
"""Stands for a collection whose container (list, or mapping of lists) has the wrong type."""
_FILE_FIELDS = ("name", "content_type", "file_type", "resource_name", "token", "content_hex")


def _loaded_objects(col: Collection, value: Any) -> Iterable[tuple[str, Any]]:
    """(where, object) for each object of one collection in export data."""
    if value is None:
        return
    if col.singleton:
        yield "", value
    elif col.scoped:
        if not isinstance(value, dict):
            yield "", _MALFORMED
            return
        for key, items in value.items():
            if not isinstance(items, list):
                yield f"[{key}]", _MALFORMED
                continue
            for index, obj in enumerate(items):
                yield f"[{key}][{index}]", obj
    elif not isinstance(value, list):
        yield "", _MALFORMED
    else:
        for index, obj in enumerate(value):
            yield f"[{index}]", obj


def _is_file_entry(entry: Any) -> bool:
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in _FILE_FIELDS):
        return False
    try:
        bytes.fromhex(entry["content_hex"])
    except ValueError:
        return False
    return True


def project(obj: Any, schema: Any) -> Any:
    """Keep the fields a (summary) schema declares, recursively for nested objects."""
    resolved = S.resolve(schema)
    if isinstance(resolved, dict) and "array" in S.types_of(resolved) and isinstance(obj, list):
        return [project(v, resolved.get("items", {})) for v in obj]
    props = S.properties(resolved)
    if not props or not isinstance(obj, dict):
        return obj
    out = {}
    for name, sub in props.items():
        if name in obj:
            value = obj[name]
            if isinstance(value, (dict, list)) and S.properties(sub):
                value = project(value, sub)
            out[name] = value
    return out


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
