"""Works out, from the IR alone, how the sandbox serves each operation.

The result (`build_plan`) is plain JSON data written into the generated `_spec.py`: the stored
collections (which schema, under which paths, scoped by which parent, how they reference each
other) and one route per method + path with the handler that serves it. Handlers are chosen by
operation kind, envelope and path shape, never by tool name, so an operation added to the
definition is served without touching the sandbox. The vendor behaviours the API definition
cannot express (which fields are unique, the id meaning "me", ...) come from the connector's
sandbox definition (`ir.Sandbox.behaviours`); without one there are none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ... import ir

REF = ir.SCHEMA_REF_PREFIX
TEXT_FIELDS = (
    "name",
    "label",
    "title",
    "subject",
    "email",
    "firstname",
    "lastname",
    "description",
    "address",
)


# --- small helpers -------------------------------------------------------------------------


def segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def param_name(segment: str) -> str:
    return segment[1:-1]


def join(parts: Iterable[str]) -> str:
    return "/" + "/".join(parts)


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def snake(segment: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", segment).strip("_").lower()


def strip_null(schema: Any) -> Any:
    """The non-null branch of `anyOf: [null, X]` / `type: [X, null]`, else the schema itself."""
    if not isinstance(schema, dict):
        return schema
    if "anyOf" in schema:
        branches = [
            b for b in schema["anyOf"] if not (isinstance(b, dict) and b.get("type") == "null")
        ]
        if len(branches) == 1:
            return strip_null(branches[0])
    return schema


def ref_target(schema: Any) -> str | None:
    schema = strip_null(schema)
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            return ref[len(REF) :]
    return None


def types_of(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return set(t)
    return set()


def array_item_ref(schema: Any) -> str | None:
    schema = strip_null(schema)
    if isinstance(schema, dict) and "array" in types_of(schema):
        return ref_target(schema.get("items"))
    return None


class Planner:
    def __init__(self, connector: ir.Connector) -> None:
        self.c = connector
        sandbox = connector.sandbox
        self.behaviours: dict[str, Any] = ir.thaw(sandbox.behaviours) if sandbox else {}
        self.timestamps: dict[str, Any] = ir.thaw(sandbox.timestamps) if sandbox else {}
        self.schemas: dict[str, Any] = ir.thaw(connector.schemas)
        self.primary = [op for op in connector.operations if not op.same_endpoint_as]
        self.aliases: dict[str, list[str]] = {}
        for op in connector.operations:
            if op.same_endpoint_as:
                self.aliases.setdefault(op.same_endpoint_as, []).append(op.tool)

    # --- schemas ---------------------------------------------------------------------------

    def props(self, name: str | None) -> dict[str, Any]:
        if not name or name not in self.schemas:
            return {}
        props = self.schemas[name].get("properties")
        return props if isinstance(props, dict) else {}

    def resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and ref_target(schema) and seen < 20:
            schema = self.schemas.get(ref_target(schema) or "", {})
            seen += 1
        return strip_null(schema)

    # --- collections -----------------------------------------------------------------------

    def bases(self) -> dict[str, dict[str, Any]]:
        """Collection base paths: where list/create answer and where `/{id}` items live."""
        found: dict[str, dict[str, Any]] = {}
        for op in self.primary:
            segs = segments(op.path)
            if not segs:
                continue
            if op.kind in ("get", "update", "delete") and is_param(segs[-1]):
                base = join(segs[:-1])
                entry = found.setdefault(
                    base, {"ops": [], "item_param": param_name(segs[-1]), "singleton": False}
                )
                entry["item_param"] = param_name(segs[-1])
            elif op.kind in ("list", "create", "get", "update", "delete") and not is_param(
                segs[-1]
            ):
                base = op.path
                entry = found.setdefault(base, {"ops": [], "item_param": None, "singleton": False})
                if op.kind == "get":
                    entry["singleton"] = True
            else:
                continue
            entry["ops"].append(op)
        return found

    def build(self) -> dict[str, Any]:
        bases = self.bases()
        # schema of each base: the response schema of its ops (object or list items).
        base_schema: dict[str, str | None] = {}
        for base, entry in bases.items():
            names = [op.response.schema_name for op in entry["ops"] if op.response.schema_name]
            base_schema[base] = names[0] if names else None

        # which schemas are stored: answered by a get/create/update, or deleted by id.
        stored_schemas: set[str] = set()
        for base, entry in bases.items():
            schema = base_schema[base]
            if schema is None:
                continue
            if (
                entry["item_param"]
                or entry["singleton"]
                or any(
                    op.kind in ("create", "update", "delete")
                    and op.body is not None
                    and op.body.content_type == "application/json"
                    for op in entry["ops"]
                )
            ):
                stored_schemas.add(schema)
        # collections receiving embedded writes are stored even when only listed.
        embedded = {w.get("collection") for w in self.behaviours.get("embedded_writes", {}).values()}
        for base, entry in bases.items():
            if base_schema[base] and self._collection_name(entry["ops"], base) in embedded:
                stored_schemas.add(base_schema[base] or "")
        # uploads answer File lists but are kept in the file store, not a collection.
        for base, entry in bases.items():
            if any(
                op.body is not None and (op.body.content_type.startswith("multipart/") or op.body.raw)
                for op in entry["ops"]
            ):
                stored_schemas.discard(base_schema[base] or "")

        collections: dict[str, dict[str, Any]] = {}
        base_kind: dict[str, dict[str, Any]] = {}
        # global bases first, so nested bases can find their parent.
        for base in sorted(bases, key=lambda b: (len(segments(b)), b)):
            entry = bases[base]
            schema = base_schema[base]
            segs = segments(base)
            params = [param_name(s) for s in segs if is_param(s)]
            parent_base = None
            parent_param = None
            if params:
                idx = max(i for i, s in enumerate(segs) if is_param(s))
                parent_base = join(segs[:idx])
                parent_param = param_name(segs[idx])
            parent = base_kind.get(parent_base or "") if parent_base else None
            parent_collection = parent.get("collection") if parent else None
            if parent_collection is None and not params:
                # e.g. /api/account/settings under the singleton /api/account
                for other, info in base_kind.items():
                    if (
                        base.startswith(other + "/")
                        and info.get("collection")
                        and collections[info["collection"]]["singleton"]
                    ):
                        parent_collection = info["collection"]
            if schema is None:
                base_kind[base] = {"kind": "none"}
                continue
            last = snake(segs[-1]) if segs else ""
            if parent_collection and parent_param:
                parent_schema = collections[parent_collection]["schema"]
                relation_prop = self._relation_prop(parent_schema, last, schema)
                if (
                    relation_prop
                    and parent_param not in self.props(schema)
                    and schema in stored_schemas
                    and self._has_own_base(schema, base, bases, base_schema)
                ):
                    base_kind[base] = {
                        "kind": "relation",
                        "parent": parent_collection,
                        "parent_param": parent_param,
                        "property": relation_prop,
                        "target": self._collection_of_schema(collections, schema),
                    }
                    continue
            if schema not in stored_schemas:
                base_kind[base] = {
                    "kind": "derived",
                    "schema": schema,
                    "parent": parent_collection,
                    "parent_param": parent_param,
                }
                continue
            scope = None
            parent_field = None
            if parent_param and parent_collection:
                if parent_param in self.props(schema):
                    parent_field = {
                        "param": parent_param,
                        "field": parent_param,
                        "parent": parent_collection,
                    }
                else:
                    scope = {"param": parent_param, "parent": parent_collection}
            name = self._collection_name(entry["ops"], base)
            existing = next(
                (
                    n
                    for n, col in collections.items()
                    if col["schema"] == schema and col["scope"] is None and scope is None
                ),
                None,
            )
            if existing:
                col = collections[existing]
                col["bases"].append(base)
                if parent_field:
                    col["parent_fields"][parent_param] = parent_field
                if entry["item_param"] and not col["item_param"]:
                    col["item_param"] = entry["item_param"]
                    col["uri"] = self._uri_template(
                        f"{base}/{{{entry['item_param']}}}", parent_field, scope
                    )
                base_kind[base] = {"kind": "collection", "collection": existing}
                continue
            if name in collections:
                name = f"{name}_{snake(segs[-1])}"
            item_path = f"{base}/{{{entry['item_param']}}}" if entry["item_param"] else None
            collections[name] = {
                "name": name,
                "schema": schema,
                "bases": [base],
                "singleton": bool(entry["singleton"] and not entry["item_param"]),
                "item_param": entry["item_param"],
                "scope": scope,
                "parent_fields": {parent_param: parent_field} if parent_field else {},
                "uri": self._uri_template(item_path or base, parent_field, scope),
            }
            base_kind[base] = {"kind": "collection", "collection": name}
        self._relationships(collections)
        for name, col in collections.items():
            col["unique"] = [
                f
                for f in self.behaviours.get("unique_fields", {}).get(name, [])
                if f in self.props(col["schema"])
            ]
            col["me_alias"] = self.behaviours.get("me_alias", {}).get(name)
            col["me_match"] = self.behaviours.get("me_match") if col["me_alias"] is not None else None
            contact = self.behaviours.get("contact_channels", {}).get(name)
            props = self.props(col["schema"])
            col["contact_channel"] = (
                contact
                if contact and contact["field"] in props and contact["list"] in props
                else None
            )
            col["order_default"] = self.behaviours.get("default_order", {}).get(name) or self._default_order(col["schema"])
            col["text_fields"] = [f for f in TEXT_FIELDS if f in self.props(col["schema"])]
        routes = self._routes(bases, base_kind, collections)
        return {"collections": collections, "routes": routes}

    def _has_own_base(
        self, schema: str, here: str, bases: dict[str, Any], base_schema: dict[str, Any]
    ) -> bool:
        return any(
            b != here and base_schema.get(b) == schema and not any(is_param(s) for s in segments(b))
            for b in bases
        )

    def _collection_of_schema(self, collections: dict[str, Any], schema: str) -> str | None:
        for name, col in collections.items():
            if col["schema"] == schema and col["scope"] is None:
                return name
        return None

    def _relation_prop(self, parent_schema: str, segment: str, schema: str) -> str | None:
        props = self.props(parent_schema)
        for name in (segment, segment.replace("-", "_")):
            if name in props and array_item_ref(props[name]) == schema:
                return name
        return None

    def _collection_name(self, ops: list[ir.Operation], base: str) -> str:
        for op in sorted(
            ops, key=lambda o: ("list", "get", "create", "update", "delete", "custom").index(o.kind)
        ):
            return op.resource
        return snake(segments(base)[-1])

    def _uri_template(self, path: str, parent_field: Any, scope: Any) -> str:
        out = []
        for seg in segments(path):
            if is_param(seg):
                name = param_name(seg)
                if parent_field and name == parent_field["param"]:
                    out.append("{" + parent_field["field"] + "}")
                elif scope and name == scope["param"]:
                    out.append("{_parent}")
                else:
                    out.append("{id}")
            else:
                out.append(seg)
        return join(out) + "/"

    def _default_order(self, schema: str) -> str:
        props = self.props(schema)
        created = self.timestamps.get("created")
        if created and created in props:
            return f"{created}:desc"
        return "id:desc" if "id" in props else ""

    def _relationships(self, collections: dict[str, Any]) -> None:
        by_schema = {
            col["schema"]: name for name, col in collections.items() if col["scope"] is None
        }
        singular_names = {
            singular(name): name for name in collections if collections[name]["scope"] is None
        }
        for name, col in collections.items():
            props = self.props(col["schema"])
            belongs: dict[str, str] = {}
            relations: dict[str, str] = {}
            has_many: dict[str, dict[str, Any]] = {}
            id_fields: dict[str, str] = {}
            summaries: dict[str, str] = {}
            for prop, schema in props.items():
                target = ref_target(schema)
                item = array_item_ref(schema)
                if target and target in by_schema and not collections[by_schema[target]]["singleton"]:
                    belongs[prop] = by_schema[target]
                elif item and item in by_schema:
                    child = collections[by_schema[item]]
                    link = next(
                        (pf for pf in child["parent_fields"].values() if pf["parent"] == name), None
                    )
                    if link:
                        has_many[prop] = {"collection": by_schema[item], "field": link["field"]}
                    elif (
                        child["bases"]
                        and any(b.startswith(f"{col['bases'][0]}/") for b in child["bases"])
                        and col["singleton"]
                    ):
                        has_many[prop] = {"collection": by_schema[item], "field": None}
                    else:
                        relations[prop] = by_schema[item]
                else:
                    target_col = self._field_collection(prop, singular_names)
                    if target_col and target_col != name:
                        resolved = self.resolve(schema)
                        if prop.endswith("_id") and types_of(resolved) & {"integer"}:
                            id_fields[prop] = target_col
                        elif "id" in (self._object_of(resolved).get("properties") or {}):
                            summaries[prop] = target_col
            col["belongs_to"] = belongs
            col["relations"] = relations
            col["has_many"] = has_many
            col["id_fields"] = id_fields
            col["summaries"] = summaries

    def _object_of(self, schema: Any) -> dict[str, Any]:
        """The object schema of a property, or of its items when it is an array."""
        if isinstance(schema, dict) and "array" in types_of(schema):
            schema = self.resolve(schema.get("items"))
        return schema if isinstance(schema, dict) else {}

    def _field_collection(self, prop: str, singular_names: dict[str, str]) -> str | None:
        declared: dict[str, str] = self.behaviours.get("field_collections", {})
        if prop in declared:
            return declared[prop]
        base = prop[:-3] if prop.endswith("_id") else prop[:-4] if prop.endswith("_ids") else prop
        for candidate in (base, singular(base)):
            for sing, name in sorted(singular_names.items(), key=lambda kv: -len(kv[0])):
                if candidate == sing or candidate.endswith("_" + sing):
                    return name
        return None

    # --- routes ----------------------------------------------------------------------------

    def _routes(
        self, bases: dict[str, Any], base_kind: dict[str, Any], collections: dict[str, Any]
    ) -> list[dict[str, Any]]:
        routes = []
        for op in self.primary:
            route = self._route(op, bases, base_kind, collections)
            routes.append(route)
        routes.sort(key=lambda r: (route_sort_key(r["path"]), r["method"]))
        return routes

    def _locate(self, path: str, base_kind: dict[str, Any]) -> tuple[str | None, str, str | None]:
        """(base, level, action): level is `collection`, `item`, `collection_action` or `item_action`."""
        segs = segments(path)
        for cut, level in (
            (0, "collection"),
            (1, "item"),
            (1, "collection_action"),
            (2, "item_action"),
        ):
            if cut > len(segs):
                continue
            base = join(segs[: len(segs) - cut]) if cut else path
            if base not in base_kind:
                continue
            rest = segs[len(segs) - cut :]
            if level == "collection" and not rest:
                return base, level, None
            if level == "item" and rest and is_param(rest[0]):
                return base, level, None
            if level == "collection_action" and rest and not is_param(rest[0]):
                return base, level, rest[0]
            if (
                level == "item_action"
                and len(rest) == 2
                and is_param(rest[0])
                and not is_param(rest[1])
            ):
                return base, level, rest[1]
        return None, "none", None

    def _route(
        self,
        op: ir.Operation,
        bases: dict[str, Any],
        base_kind: dict[str, Any],
        collections: dict[str, Any],
    ) -> dict[str, Any]:
        env = op.response.envelope
        base, level, action = self._locate(op.path, base_kind)
        info = base_kind.get(base or "", {"kind": "none"})
        collection = info.get("collection")
        handler, extra = self._handler(op, level, action, info, collections)
        tag = self._tag_route(op, base_kind)
        if tag is not None:
            collection, level, action = tag["collection"], "item_action", tag["path"]
            handler, extra = "tag_field", {"tag_field": tag}
        elif collection is None and self._query_search(op) is not None:
            handler, extra = "query_search", {"query_search": self._query_search(op)}
        segs = segments(op.path)
        route_path = op.path
        if len(segs) == 1 and is_param(segs[0]):
            route_path = "/{" + param_name(segs[0]) + ":path}"
        route: dict[str, Any] = {
            "tool": op.tool,
            "aliases": sorted(self.aliases.get(op.tool, [])),
            "resource": op.resource,
            "kind": op.kind,
            "name": op.method_name,
            "method": op.http_method,
            "path": op.path,
            "route_path": route_path,
            "handler": handler,
            "status": op.response.status,
            "envelope": {
                "type": env.type,
                "items_path": list(op.response.items_path) if op.response.items_path else None,
                "next_cursor_path": list(env.paginator.next_cursor_path)
                if env.paginator and env.paginator.next_cursor_path
                else None,
                "prev_cursor_path": list(env.paginator.prev_cursor_path)
                if env.paginator and env.paginator.prev_cursor_path
                else None,
                "cursor_param": env.paginator.cursor_param if env.paginator else None,
                "limit_param": env.paginator.limit_param if env.paginator else None,
                "media_type": env.media_type,
                "page_paths": self._page_paths(env.page_schema),
            },
            "schema": op.response.schema_name,
            "inline_schema": ir.thaw(op.response.schema)
            if op.response.schema is not None and not op.response.schema_name
            else None,
            "collection": collection,
            "level": level,
            "action": action,
            "read_only": op.read_only,
            "params": [
                {
                    "name": p.name,
                    "in": p.location,
                    "style": p.style,
                    "required": p.required,
                    "schema": ir.thaw(p.schema),
                    "paginator": p.from_paginator,
                }
                for p in op.parameters
                if not p.client_only
            ],
            "body": None,
            "filters": [],
        }
        pagination = _pagination(env.paginator)
        if pagination is not None:
            route["envelope"]["pagination"] = pagination
        if op.response.wrapped:
            route["envelope"]["key"] = op.response.key
        if op.response.sideloads:
            route["sideloads"] = {
                s.name: next(
                    (n for n, col in sorted(collections.items()) if col["schema"] == s.schema_name and col["scope"] is None),
                    None,
                )
                for s in op.response.sideloads
            }
        if op.body is not None:
            route["body"] = {
                "content_type": op.body.content_type,
                "required": op.body.required,
                "schema": ir.thaw(op.body.schema),
                "properties": sorted(
                    (ir.thaw(op.body.resolved_schema).get("properties") or {}).keys()
                ),
            }
        if op.body is not None and op.body.wrap_key:
            route["body"]["wrap_key"] = op.body.wrap_key
        if op.body is not None and op.body.filename_param:
            route["body"]["filename_param"] = op.body.filename_param
        route.update(extra)
        if op.kind == "list" or handler in ("list", "derived_list"):
            source = route.get("source") or collection
            schema = (
                collections[source]["schema"] if source in collections else op.response.schema_name
            )
            route["filters"] = self._filters(op, schema, source, collections)
        return route

    def _tag_route(self, op: ir.Operation, base_kind: dict[str, Any]) -> dict[str, Any] | None:
        """`/{id}/<path>` of a collection with a declared tag list (`behaviours.tag_fields`)."""
        segs = segments(op.path)
        if len(segs) < 3 or not is_param(segs[-2]) or is_param(segs[-1]):
            return None
        info = base_kind.get(join(segs[:-2]), {})
        collection = info.get("collection")
        declared = self.behaviours.get("tag_fields", {}).get(collection or "")
        if not declared or segs[-1] != declared.get("path", declared["field"]):
            return None
        mode = None if op.http_method == "GET" else declared["methods"].get(op.http_method)
        if op.http_method != "GET" and mode is None:
            return None
        return {"collection": collection, "field": declared["field"], "path": segs[-1], "mode": mode}

    def _query_search(self, op: ir.Operation) -> dict[str, Any] | None:
        """The declared query search, when this operation takes its query parameter."""
        declared = self.behaviours.get("query_search")
        if not declared:
            return None
        param = declared.get("param", "query")
        if not any(p.name == param for p in op.query_parameters):
            return None
        return {"param": param, **{k: v for k, v in declared.items() if k != "param"}}

    def _page_paths(self, schema: str | None) -> list[str] | None:
        """Dotted paths (two levels deep) of a list envelope's page schema, None without one."""
        if not schema:
            return None
        paths = []
        for name, sub in self.props(schema).items():
            paths.append(name)
            resolved = self.resolve(sub)
            inner = resolved.get("properties") if isinstance(resolved, dict) else None
            paths.extend(f"{name}.{key}" for key in inner or {})
        return sorted(paths)

    def _handler(
        self,
        op: ir.Operation,
        level: str,
        action: str | None,
        info: dict[str, Any],
        collections: dict[str, Any],
    ) -> tuple[str, dict[str, Any]]:
        env = op.response.envelope.type
        kind = info.get("kind")
        segs = segments(op.path)
        extra: dict[str, Any] = {}
        if len(segs) == 1 and is_param(segs[0]):
            return "raw_url", extra
        if env == "binary":
            return ("file_redirect" if 300 <= op.response.status < 400 else "file_bytes"), extra
        if op.body is not None and op.body.content_type.startswith("multipart/"):
            return "upload", extra
        if op.body is not None and op.body.raw:
            return "raw_upload", extra
        if env == "csv":
            return "csv_export", extra
        if kind == "relation":
            extra["relation"] = {
                k: info[k] for k in ("parent", "parent_param", "property", "target")
            }
            if op.kind == "list" or (op.http_method == "GET"):
                return "relation_list", extra
            mode = {"create": "add", "update": "set", "delete": "remove"}.get(op.kind)
            if mode is None:
                mode = {"POST": "add", "PUT": "set", "DELETE": "remove"}.get(op.http_method, "set")
            extra["relation"]["mode"] = mode
            return "relation_change", extra
        if kind == "derived":
            source = self._derived_source(info["schema"], collections)
            if op.body is not None and "query" in (
                ir.thaw(op.body.resolved_schema).get("properties") or {}
            ):
                extra["search"] = self.behaviours.get("search_types", {})
                return "search", extra
            if source is None:  # no stored collection resembles the items: made up from the schema
                return "generic", extra
            extra["source"] = source
            extra["derived"] = {
                "parent": info.get("parent"),
                "parent_param": info.get("parent_param"),
                "schema": info["schema"],
                "counts": self._derived_counts(info["schema"], source, collections),
            }
            return "derived_list", extra
        if kind == "collection":
            if level == "collection":
                if op.kind == "list" or (op.http_method == "GET" and env in ir.LIST_ENVELOPES):
                    return "list", extra
                if op.kind == "get" or (op.http_method == "GET" and env == "object"):
                    return "singleton_get", extra
                if op.kind == "create" or (op.http_method == "POST" and env == "object"):
                    return "create", extra
                if op.kind == "update" and op.body is not None and op.body.argument is not None:
                    return "bulk_update", extra
                if op.kind == "update":
                    return "singleton_update", extra
                if op.kind == "delete":
                    return "bulk_delete", extra
            if level == "item":
                if op.kind == "get" or (op.kind == "custom" and op.http_method == "GET"):
                    return "get", extra
                if op.kind == "update" or (
                    op.kind == "custom" and op.http_method in ("PUT", "PATCH")
                ):
                    return "update", extra
                if op.kind == "delete" or (op.kind == "custom" and op.http_method == "DELETE"):
                    return "delete", extra
            if level == "item_action" and action:
                col = collections[info["collection"]]
                declared = self.behaviours.get("item_actions", {}).get(info["collection"], {})
                if action in declared:
                    extra["item_action"] = declared[action]
                    return "item_action", extra
                if action == "merge":
                    return "merge", extra
                prop = snake(action)
                if prop in self.props(col["schema"]) and op.body is not None:
                    extra["property"] = prop
                    return "set_property", extra
                return ("get" if op.http_method == "GET" else "update"), extra
            if level == "collection_action" and action:
                col = collections[info["collection"]]
                props = self.props(col["schema"])
                if action == "merge":
                    return "merge", extra
                stamp = self._stamp_field(action, props)
                if stamp:
                    extra["stamp"] = stamp
                    return "stamp_many", extra
                if op.body is not None and self._patch_list_property(op):
                    extra["patch_list"] = self._patch_list_property(op)
                    return "bulk_patch", extra
        # Anything else: a generic behaviour from method and envelope.
        if op.read_only and env == "object":
            me = next(
                (
                    name
                    for name, col in sorted(collections.items())
                    if col.get("me_alias") is not None and col["schema"] == op.response.schema_name
                ),
                None,
            )
            if me and not any(is_param(s) for s in segs):
                extra["me_collection"] = me
                return "me", extra
            if "reports" not in self.behaviours:
                return "generic", extra
            schema = self.props(op.response.schema_name)
            if "data" in schema and "array" in types_of(self.resolve(schema["data"])):
                return "report_rows", extra
            return "statistic", extra
        return "generic", extra

    def _stamp_field(self, action: str, props: dict[str, Any]) -> dict[str, Any] | None:
        name = snake(action)
        suffix = self.timestamps.get("suffix")
        if not suffix:
            return None
        for verb, value in ((name, "now"), (name[2:] if name.startswith("un") else "", None)):
            if not verb:
                continue
            for field in (f"{verb}d{suffix}", f"{verb}ed{suffix}", f"{verb}{suffix}"):
                if field in props:
                    return {"field": field, "value": value}
        return None

    def _patch_list_property(self, op: ir.Operation) -> str | None:
        assert op.body is not None
        props = ir.thaw(op.body.resolved_schema).get("properties") or {}
        for name, schema in props.items():
            item = self.resolve(
                strip_null(schema).get("items") if isinstance(strip_null(schema), dict) else None
            )
            if (
                isinstance(item, dict)
                and "id" in (item.get("properties") or {})
                and "id" in (item.get("required") or [])
            ):
                return name
        return None

    def _derived_source(self, schema: str, collections: dict[str, Any]) -> str | None:
        mine = set(self.props(schema)) - {"id", "uri"}
        best, score = None, 0
        for name, col in sorted(collections.items()):
            if col["scope"] is not None:
                continue
            overlap = len(mine & set(self.props(col["schema"])))
            if overlap > score:
                best, score = name, overlap
        return best

    def _derived_counts(
        self, schema: str, source: str | None, collections: dict[str, Any]
    ) -> dict[str, str]:
        """`<x>_count` fields of a derived item counted from the source's has-many `<x>`."""
        out = {}
        if not source:
            return out
        src_props = self.props(collections[source]["schema"])
        for prop in self.props(schema):
            if prop.endswith("_count") and prop[:-6] in src_props:
                out[prop] = prop[:-6]
        return out

    def _filters(
        self, op: ir.Operation, schema: str | None, source: str | None, collections: dict[str, Any]
    ) -> list[dict[str, Any]]:
        props = self.props(schema)
        singular_self = singular(source) if source else ""
        filters = []
        for p in op.query_parameters:
            if p.from_paginator or p.name in ("order_by", "cursor", "limit") or p.name in self.sort_params():
                continue
            name = p.name
            pschema = self.resolve(ir.thaw(p.schema))
            is_list = p.style in ("repeated", "comma") or "array" in types_of(pschema)
            rule: dict[str, Any] | None = None
            if name in self.behaviours.get("ignored_filters", []):
                rule = {"rule": "ignore"}
            elif name in self.behaviours.get("exclude_filters", []):
                rule = {"rule": "exclude_id"}
            elif p.style == "deep_object" and name in props:
                rule = {"rule": "range", "field": name}
            elif name == "search":
                rule = {"rule": "search", "fields": [f for f in TEXT_FIELDS if f in props]}
            elif is_list and singular(name) in props:
                rule = {
                    "rule": "in",
                    "field": singular(name),
                    "subfield": self._name_subfield(props[singular(name)]),
                }
            elif is_list and name in (f"{singular_self}_ids", "ids"):
                rule = {"rule": "in", "field": "id", "subfield": None}
            elif name in props and not is_list:
                rule = {
                    "rule": "eq",
                    "field": name,
                    "subfield": self._name_subfield(props[name]),
                    "ci": name in ("email",),
                }
            elif "boolean" in types_of(pschema) and self._flag_field(name, props):
                flag = self.behaviours.get("flag_filters", {}).get(name, {})
                rule = {
                    "rule": "flag",
                    "field": self._flag_field(name, props),
                    "mode": flag.get("mode", "only"),
                }
            elif name.endswith("_id") and name[:-3] in props:
                rule = {"rule": "eq", "field": name[:-3], "subfield": "id", "ci": False}
            else:
                element = self._element_filter(name, props)
                rule = element or {"rule": "ignore"}
            filters.append({"param": name, **rule})
        return filters

    def sort_params(self) -> set[str]:
        """Query parameters the declared `sorting` reads (never filters)."""
        out: set[str] = set()
        for spec in self.behaviours.get("sorting", []):
            out.update(spec[k] for k in ("param", "field_param", "direction_param") if spec.get(k))
        return out

    def _flag_field(self, name: str, props: dict[str, Any]) -> str | None:
        suffix = self.timestamps.get("suffix")
        declared = self.behaviours.get("flag_filters", {}).get(name, {}).get("fields")
        candidates = declared or ([f"{name}{suffix}", f"{name}d{suffix}"] if suffix else [])
        return next((f for f in candidates if f in props), None)

    def _name_subfield(self, schema: Any) -> str | None:
        resolved = self.resolve(schema)
        if isinstance(resolved, dict) and "name" in (resolved.get("properties") or {}):
            return "name"
        return None

    def _element_filter(self, name: str, props: dict[str, Any]) -> dict[str, Any] | None:
        """`channel_type` -> any element of `channels` whose `type` matches."""
        for prop, schema in props.items():
            item = (
                self.resolve((strip_null(schema) or {}).get("items"))
                if "array" in types_of(strip_null(schema))
                else None
            )
            if not isinstance(item, dict):
                continue
            prefix = singular(prop) + "_"
            if name.startswith(prefix) and name[len(prefix) :] in (item.get("properties") or {}):
                return {"rule": "element", "field": prop, "subfield": name[len(prefix) :]}
        return None


def route_sort_key(path: str) -> tuple[Any, ...]:
    """Literal segments before parameters at each position; catch-all paths last."""
    segs = segments(path)
    if len(segs) == 1 and is_param(segs[0]):
        return (1,)
    return (
        0,
        tuple((1 if is_param(s) else 0, s if not is_param(s) else "") for s in segs),
        -len(segs),
    )


def build_plan(connector: ir.Connector) -> dict[str, Any]:
    return Planner(connector).build()


def _pagination(paginator: ir.Paginator | None) -> dict[str, Any] | None:
    """How the sandbox serves a paginator other than a plain cursor one (None for those)."""
    if paginator is None or (
        paginator.type == "cursor" and not paginator.has_more_path and not paginator.end_of_stream_path
    ):
        return None

    def path(value: tuple[str, ...] | None) -> list[str] | None:
        return list(value) if value else None

    return {
        "type": paginator.type,
        "position_param": paginator.position_param,
        "first_page": paginator.first_page,
        "limit_default": paginator.limit_default,
        "total_path": path(paginator.total_path),
        "has_more_path": path(paginator.has_more_path),
        "end_of_stream_path": path(paginator.end_of_stream_path),
        "next_start_path": path(paginator.next_start_path),
        "next_url_path": path(paginator.next_url_path),
    }
