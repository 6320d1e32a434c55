"""Deterministic seed data, interpreted from the connector's sandbox definition.

`_sandbox_data.json` (compiled from `spec/<connector>/sandbox/sandbox.yaml`) holds, per
collection, literal `records` and a `generate` recipe of field generators. The same seed always
gives the same data: times are relative to the definition's `anchor`, never to today, and every
random choice comes from one `random.Random(seed)`. `--scale` multiplies the `generate` counts
(never the literal records). Collections the definition does not mention are filled from their
schema, so a connector without a sandbox definition is served with made-up data too.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from . import schemas as S
from .sandbox_data import SEED
from .store import Collection, Store

DEFAULT_ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
#: The keys that make a mapping a field generator (every other mapping is an error at generate time).
GENERATORS = (
    "const",
    "choice",
    "pick",
    "template",
    "ref",
    "sample",
    "days_ago",
    "after",
    "sequence",
    "int",
    "float",
    "bool",
    "copy",
    "object",
    "list",
    "items",
    "file",
    "cycle",
    "hex",
    "one_of",
    "render",
    "nested_id",
)
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")
GENERIC_COUNT = 8


class _Scope:
    """Where generators look names up: the object being built, then its context (`parent`,
    `index`), innermost first, without merging dicts."""

    __slots__ = ("layers",)

    def __init__(self, *layers: dict[str, Any]) -> None:
        self.layers = layers

    def get(self, key: str, default: Any = None) -> Any:
        for layer in self.layers:
            if key in layer:
                return layer[key]
        return default

    def push(self, layer: dict[str, Any]) -> _Scope:
        return _Scope(layer, *self.layers)


def _copy(value: Any) -> Any:
    """A copy of JSON data (faster than copy.deepcopy, which seeding would spend most time in)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _lookup(context: dict[str, Any] | _Scope, path: str) -> Any:
    node: Any = context
    for part in path.split("."):
        if isinstance(node, (dict, _Scope)):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _range(value: Any) -> tuple[float, float]:
    if isinstance(value, list):
        return float(value[0]), float(value[-1])
    return float(value), float(value)


class Seeder:
    def __init__(self, store: Store, seed: int, scale: float = 1.0) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.scale = max(0.05, float(scale))
        self.definition: dict[str, Any] = SEED
        anchor = self.definition.get("anchor")
        self.anchor = S.parse_datetime(anchor) if anchor else DEFAULT_ANCHOR
        self.vocabulary: dict[str, list[Any]] = self.definition.get("vocabulary") or {}
        self.filled: set[str] = set()
        self.sequences: dict[str, int] = {}
        self.candidates: dict[tuple[str, str], tuple[int, list[dict[str, Any]]]] = {}
        self.kinds: dict[int, str] = {}
        self.blanks: dict[str, dict[str, Any]] = {}
        self.dispatch: dict[str, Callable[[dict[str, Any], Any, _Scope, str], Any]] = {
            kind: getattr(self, f"g_{kind}") for kind in GENERATORS
        }

    # --- helpers ----------------------------------------------------------------------------

    def n(self, count: int) -> int:
        return max(1, round(count * self.scale))

    def iso(self, moment: datetime) -> str:
        return S.format_datetime(moment)

    def before_anchor(self, max_days: float, min_days: float = 0.0) -> datetime:
        seconds = self.rng.uniform(min_days * 86400, max_days * 86400)
        return (self.anchor - timedelta(seconds=seconds)).replace(
            microsecond=self.rng.randrange(0, 999999)
        )

    def finish(
        self, col: Collection, obj: dict[str, Any], scope: tuple[Any, ...] = ()
    ) -> dict[str, Any]:
        """Drop helper fields (`_name`), fill the fields left out (null or empty), set `uri`, store it."""
        for name in [k for k in obj if k.startswith("_")]:
            del obj[name]
        if "id" in col.props and obj.get("id") is None and not col.singleton:
            obj["id"] = col.allocate()
        blanks = self.blanks.get(col.name)
        if blanks is None:
            blanks = self.blanks[col.name] = {
                name: S.blank_value(schema) for name, schema in col.props.items()
            }
        for name, blank in blanks.items():
            if name not in obj:
                obj[name] = _copy(blank)
        if "uri" in col.props:
            obj["uri"] = self.store.uri(col, obj, scope)
        col.put(obj, scope)
        self.filled.add(col.name)
        return obj

    # --- run --------------------------------------------------------------------------------

    def run(self) -> None:
        store = self.store
        id_start: dict[str, int] = self.definition.get("id_start") or {}
        for name, col in store.collections.items():
            col.items.clear()
            col.next_id = int(id_start.get(name, 1))
        store.files.clear()
        store.nested_ids = int(self.definition.get("nested_id_start", 1))
        if self.definition.get("account_domain"):
            store.account_domain = str(self.definition["account_domain"])
        for name, recipe in (self.definition.get("collections") or {}).items():
            target = store.collections.get(name)
            if target is None:
                continue
            for record in recipe.get("records") or []:
                self.finish(target, _copy(record))
            generate = recipe.get("generate")
            if generate:
                self.generate(target, generate, self.n(int(generate.get("count", 0))), None, ())
        for name, col in store.collections.items():
            if name not in self.filled and not col.scoped and not col.spec.get("parent_fields"):
                self.generic(col)
        for name, col in store.collections.items():  # then those whose objects point at others
            if name not in self.filled:
                self.generic(col)

    def generate(
        self,
        col: Collection,
        recipe: dict[str, Any],
        count: int,
        parent: dict[str, Any] | None,
        scope: tuple[Any, ...],
    ) -> None:
        fields: dict[str, Any] = recipe.get("fields") or {}
        for index in range(count):
            obj: dict[str, Any] = {}
            here = _Scope(obj, {"parent": parent, "index": index})
            if "id" in col.props and not col.singleton and "id" not in fields:
                obj["id"] = col.allocate()
            for name, spec in fields.items():
                obj[name] = self.value(spec, here, col.name)
            helpers = {k: v for k, v in obj.items() if k.startswith("_")}
            made = self.finish(col, obj, scope)
            self.children(col, recipe, {**helpers, **made})

    def children(self, col: Collection, recipe: dict[str, Any], parent: dict[str, Any]) -> None:
        for child_name, specs in (recipe.get("children") or {}).items():
            target = self.store.collections.get(child_name)
            if target is None:
                continue
            for child in specs if isinstance(specs, list) else [specs]:
                if not self._matches(child.get("when"), parent):
                    continue
                if "probability" in child and self.rng.random() >= float(child["probability"]):
                    continue
                count = self._count(child.get("count", 1), _Scope({"parent": parent, "index": 0}))
                scope = (col.name, parent.get("id")) if target.scoped else ()
                self.generate(target, child, count, parent, scope)

    def _count(self, spec: Any, scope: _Scope) -> int:
        if isinstance(spec, int):
            return spec
        if isinstance(spec, list):
            return self.rng.randint(int(spec[0]), int(spec[-1]))
        value = self.value(spec, scope, "")
        return int(value) if isinstance(value, (int, float)) else 0

    def _matches(self, when: Any, obj: dict[str, Any] | _Scope) -> bool:
        if not when:
            return True
        for path, wanted in when.items():
            current = _lookup(obj, path)
            if isinstance(wanted, list):
                if current not in wanted:
                    return False
            elif current != wanted:
                return False
        return True

    # --- field generators -------------------------------------------------------------------

    def value(self, spec: Any, scope: _Scope, collection: str) -> Any:
        if not isinstance(spec, dict):
            return _copy(spec)
        if "when" in spec and not self._matches(spec["when"], scope):
            return self.value(spec.get("otherwise"), scope, collection)
        if "null_rate" in spec and self.rng.random() < float(spec["null_rate"]):
            return None
        kind = self.kinds.get(id(spec))
        if kind is None:
            kind = next((k for k in GENERATORS if k in spec), None)
            if kind is None:
                raise ValueError(f"not a field generator: {sorted(spec)}")
            self.kinds[id(spec)] = kind
        return self.dispatch[kind](spec, spec[kind], scope, collection)

    def g_const(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return _copy(arg)

    def g_choice(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        weights = spec.get("weights")
        return _copy(self.rng.choices(arg, weights=weights)[0] if weights else self.rng.choice(arg))

    def g_pick(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return _copy(self.rng.choice(self.vocabulary.get(arg) or [None]))

    def g_one_of(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        found = _lookup(scope, arg)
        return _copy(self.rng.choice(found)) if isinstance(found, list) and found else None

    def g_template(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return self.template(str(arg), scope, bool(spec.get("lower")))

    def g_render(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        text = _lookup(scope, str(arg))
        return (
            self.template(text, scope, bool(spec.get("lower"))) if isinstance(text, str) else None
        )

    def g_nested_id(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return self.store.nested_id()

    def g_ref(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return self.ref(arg, spec, scope)

    def g_sample(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return self.sample(arg, spec, scope)

    def g_days_ago(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        low, high = _range(arg)
        return self.iso(self.before_anchor(high, low))

    def g_after(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        start = _lookup(scope, str(arg))
        if not isinstance(start, str):
            return None
        seconds = 0.0
        for unit, size in (("seconds", 1), ("minutes", 60), ("hours", 3600), ("days", 86400)):
            if unit in spec:
                low, high = _range(spec[unit])
                seconds += self.rng.uniform(low, high) * size
        try:
            moment = S.parse_datetime(start) + timedelta(seconds=seconds)
        except ValueError:  # not a date-time: nothing to be after
            return None
        if spec.get("cap") and moment > self.anchor:
            moment = self.anchor
        return self.iso(moment)

    def g_sequence(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        key = f"{collection}.{id(spec)}"
        current = self.sequences.get(key, int(arg))
        self.sequences[key] = current + 1
        return current

    def g_int(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        low, high = _range(arg)
        return self.rng.randint(int(low), int(high))

    def g_float(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        low, high = _range(arg)
        return round(self.rng.uniform(low, high), int(spec.get("digits", 2)))

    def g_bool(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return self.rng.random() < float(arg)

    def g_copy(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return _copy(_lookup(scope, str(arg)))

    def g_object(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        out: dict[str, Any] = {}
        inner = scope.push(out)
        for name, sub in arg.items():
            out[name] = self.value(sub, inner, collection)
        return {k: v for k, v in out.items() if not k.startswith("_")}

    def g_list(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        count = self._count(spec.get("count", [0, 2]), scope)
        return [self.value(arg, scope.push({"item": i}), collection) for i in range(count)]

    def g_items(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        values = [self.value(item, scope, collection) for item in arg]
        return [v for v in values if v is not None]

    def g_file(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return self.file(arg, scope)

    def g_cycle(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return _copy(arg[int(scope.get("index") or 0) % len(arg)])

    def g_hex(self, spec: dict[str, Any], arg: Any, scope: _Scope, collection: str) -> Any:
        return f"{self.rng.getrandbits(4 * int(arg)):0{int(arg)}x}"

    def template(self, text: str, scope: _Scope, lower: bool) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            found = _lookup(scope, name)
            if found is None and name in self.vocabulary:
                found = self.rng.choice(self.vocabulary[name] or [""])
            return "" if found is None else str(found)

        result = PLACEHOLDER.sub(fill, text)
        return result.lower() if lower else result

    def _candidates(self, name: str, spec: dict[str, Any], scope: _Scope) -> list[dict[str, Any]]:
        col = self.store.collections.get(name)
        if col is None:
            return []
        where = spec.get("where")
        key = (name, json.dumps(where, sort_keys=True) if where else "")
        count = col.count()
        cached = self.candidates.get(key)
        if cached is not None and cached[0] == count:
            return cached[1]
        items = sorted(col.all(None), key=lambda o: (str(type(o.get("id"))), o.get("id") or 0))
        found = [o for o in items if self._matches(where, o)] if where else items
        self.candidates[key] = (count, found)
        return found

    def _project(self, obj: dict[str, Any], fields: Any) -> Any:
        if fields is None:
            return obj.get("id")
        if fields == "*":
            return _copy(obj)
        return {f: _copy(obj.get(f)) for f in fields}

    def ref(self, name: str, spec: dict[str, Any], scope: _Scope) -> Any:
        items = self._candidates(name, spec, scope)
        if not items:
            return None
        return self._project(self.rng.choice(items), spec.get("fields"))

    def sample(self, name: str, spec: dict[str, Any], scope: _Scope) -> list[Any]:
        items = self._candidates(name, spec, scope)
        count = min(len(items), self._count(spec.get("count", [0, 2]), scope))
        return [self._project(o, spec.get("fields")) for o in self.rng.sample(items, k=count)]

    def file(self, spec: dict[str, Any], scope: _Scope) -> dict[str, Any]:
        name = self.template(str(spec.get("name", "file")), scope, False)
        content_type = str(spec.get("content_type", "application/octet-stream"))
        content = base64.b64decode(str(spec.get("content_base64", "")))
        stored = self.store.add_file(name, content_type, content)
        return {
            "url": stored.url(self.store.base_url),
            "name": name,
            "content_type": content_type,
            "size": len(content),
        }

    # --- collections the definition does not describe ----------------------------------------

    def generic(self, col: Collection) -> None:
        """Objects for a collection without a recipe, made up from its schema; fields the sandbox
        knows to point at other collections (parents, `<x>_id`) get ids of existing objects."""
        if col.singleton:
            self.finish(
                col, {name: self.synth(schema, name, 0) for name, schema in col.props.items()}
            )
            return
        scope_spec = col.spec.get("scope")
        if scope_spec:
            parent = self.store.collections.get(scope_spec["parent"])
            owners = (
                sorted(parent.all(), key=lambda o: str(o.get("id")))[:GENERIC_COUNT]
                if parent
                else []
            )
            for owner in owners:
                for _ in range(2):
                    self.finish(col, self.made_up(col), (scope_spec["parent"], owner.get("id")))
            return
        for _ in range(self.n(GENERIC_COUNT)):
            self.finish(col, self.made_up(col))

    def made_up(self, col: Collection) -> dict[str, Any]:
        obj = {name: self.synth(schema, name, 0) for name, schema in col.props.items()}
        if "id" in col.props:
            obj["id"] = col.allocate()
        links = [
            (link["field"], link["parent"])
            for link in (col.spec.get("parent_fields") or {}).values()
        ]
        links += list((col.spec.get("id_fields") or {}).items())
        for field_name, target in links:
            found = self.ref(target, {}, _Scope({}))
            if found is not None and field_name in obj:
                obj[field_name] = found
        return obj

    def word(self, *lists: str) -> str | None:
        for name in lists:
            words = self.vocabulary.get(name)
            if words:
                return str(self.rng.choice(words))
        return None

    def synth(self, schema: Any, name: str, depth: int) -> Any:
        """A made-up value valid for `schema`: its const/enum/default, a value of its format, a
        number within its bounds, a string within its lengths, an array within its item counts."""
        resolved = S.resolve(schema)
        if not isinstance(resolved, dict):
            return None
        if depth > 3:
            return S.blank_value(schema)
        if "const" in resolved:
            return _copy(resolved["const"])
        if "enum" in resolved:
            return self.rng.choice(resolved["enum"])
        if "default" in resolved:
            return resolved["default"]
        types = S.types_of(resolved) - {"null"}
        if not types:
            for key in ("oneOf", "anyOf", "allOf"):
                branches = [
                    b for b in resolved.get(key) or [] if S.types_of(S.resolve(b)) != {"null"}
                ]
                if branches:
                    return self.synth(branches[0], name, depth)
        fmt = resolved.get("format")
        if fmt == "date-time":
            return self.iso(self.before_anchor(300))
        if fmt == "date" and ("string" in types or not types):
            return self.before_anchor(300).date().isoformat()
        if resolved.get("x-known-values"):
            return self.rng.choice(resolved["x-known-values"])
        if "string" in types:
            number = self.rng.randrange(1, 1000)
            if fmt == "uuid":
                return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
                return self._fit_length(
                    f"https://example.com/{name.replace('_', '-') or 'item'}/{number}", resolved
                )
            if "email" in name or fmt == "email":
                local = f"{(self.word('first_names') or 'user').lower()}{number}"
                return self._fit_length(local, resolved, suffix="@example.com")
            if name.endswith("name"):
                first, last = self.word("first_names"), self.word("last_names")
                if first and last:
                    return self._fit_length(f"{first} {last}", resolved)
            return self._fit_length(f"{name.replace('_', ' ')} {number}", resolved)
        if "integer" in types:
            return self._integer(resolved)
        if "number" in types:
            return self._number(resolved)
        if "boolean" in types:
            return self.rng.random() < 0.5
        if "array" in types:
            return self._array(resolved, name, depth)
        if "object" in types or "properties" in resolved:
            props = resolved.get("properties") or {}
            return {k: self.synth(v, k, depth + 1) for k, v in props.items()}
        return None

    @staticmethod
    def _fit_length(text: str, schema: dict[str, Any], suffix: str = "") -> str:
        """`text` + `suffix` padded or cut to the schema's minLength/maxLength (the suffix is kept)."""
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if high is not None and len(text) + len(suffix) > int(high):
            text = (
                text[: max(0, int(high) - len(suffix))].rstrip()
                or text[: max(0, int(high) - len(suffix))]
            )
        if len(text) + len(suffix) < low:
            text += "x" * (low - len(text) - len(suffix))
        out = text + suffix
        return out if high is None else out[: int(high)]

    @staticmethod
    def _bounds(schema: dict[str, Any], step: float) -> tuple[float | None, float | None]:
        low: float | None = None
        high: float | None = None
        if isinstance(schema.get("minimum"), (int, float)):
            low = schema["minimum"]
        if isinstance(schema.get("exclusiveMinimum"), (int, float)):
            low = (
                max(low, schema["exclusiveMinimum"] + step)
                if low is not None
                else schema["exclusiveMinimum"] + step
            )
        if isinstance(schema.get("maximum"), (int, float)):
            high = schema["maximum"]
        if isinstance(schema.get("exclusiveMaximum"), (int, float)):
            high = (
                min(high, schema["exclusiveMaximum"] - step)
                if high is not None
                else schema["exclusiveMaximum"] - step
            )
        return low, high

    def _integer(self, schema: dict[str, Any]) -> int:
        low, high = self._bounds(schema, 1)
        lo = math.ceil(low) if low is not None else None
        hi = math.floor(high) if high is not None else None
        start = max(1, lo) if lo is not None else 1  # ids and counts read better from 1
        if hi is not None and start > hi:
            start = lo if lo is not None else hi - 998
        stop = hi if hi is not None else max(start, 1) + 998
        value = self.rng.randrange(start, stop + 1)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            value += step - value % step
            if hi is not None and value > hi:
                value -= step
        return value

    def _number(self, schema: dict[str, Any]) -> float:
        low, high = self._bounds(schema, 0.01)
        lo = low if low is not None else (min(0.0, high - 100) if high is not None else 0.0)
        hi = high if high is not None else lo + 100
        value = round(self.rng.uniform(lo, hi), 2)
        return min(max(value, lo), hi)

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = int(schema["maxItems"]) if "maxItems" in schema else max(low, 2)
        count = self.rng.randint(low, max(low, high))
        items: list[Any] = []
        for _ in range(count * 4 if schema.get("uniqueItems") else count):
            value = self.synth(schema.get("items", {}), name, depth + 1)
            if schema.get("uniqueItems") and value in items:
                continue
            items.append(value)
            if len(items) == count:
                break
        return items


def seed_store(store: Store, seed: int = 1, scale: float = 1.0) -> None:
    """Replace the store's content with the data generated from `seed`."""
    Seeder(store, seed, scale).run()
