"""The immutable IR of the unified APIs: unified models and compiled mappings.

Built by `unified.compile_unified` from `unified_mappings/` once the connector itself is valid,
and attached to `ir.Connector.unified`. Emitters read only these classes.

Mapping expressions are a small tree of nodes (`Expr`). Every syntax of the mapping language
(`from`, `const`, `map`, `coalesce`, `template`, `each`, `ref`, `object`, `if`, and the jinja2
escape hatch, which is parsed into the same nodes at generate time) ends up here, so the emitter
turns one tree into plain, straight-line Python and nothing is interpreted at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .ir import FrozenDict

Root = Literal["src", "context", "parent"]
Conversion = Literal["string", "integer", "number", "boolean", "datetime", "object"]
MethodKind = Literal["list", "get", "create", "update", "delete"]
Direction = Literal["response", "request"]
CompareOp = Literal["==", "!=", "<", ">", "<=", ">=", "in", "not in", "is", "is not"]
ScanOp = Literal[">=", ">", "<=", "<"]

METHOD_KINDS: tuple[MethodKind, ...] = ("list", "get", "create", "update", "delete")


# --- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Path:
    """A value read from the current source object (`src`), the context or the parent object."""

    root: Root
    parts: tuple[str | int, ...]
    text: str = ""
    """The path as written, for docs."""


@dataclass(frozen=True, slots=True)
class Const:
    value: Any


@dataclass(frozen=True, slots=True)
class Convert:
    expr: Expr
    to: Conversion


@dataclass(frozen=True, slots=True)
class Default:
    expr: Expr
    value: Any


@dataclass(frozen=True, slots=True)
class ValueMap:
    """`table.get(value, value)`: unmapped values pass through unchanged."""

    expr: Expr
    table: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True, slots=True)
class Coalesce:
    """First value that is not None, not "" and not []."""

    exprs: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Template:
    """Text parts and values; a None value renders as an empty string."""

    parts: tuple[str | Expr, ...]
    text: str = ""


@dataclass(frozen=True, slots=True)
class Concat:
    """Lists joined (None parts skipped), or strings joined."""

    exprs: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list of the values that are not None."""

    exprs: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Where:
    path: tuple[str | int, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Each:
    """One output per item of `source`; inside `item`, `src` is the item and `parent` the outer source."""

    source: Expr
    item: Expr
    where: tuple[Where, ...] = ()
    skip_if_missing: tuple[Path, ...] = ()
    """Paths (usually into the item) that must have a value (not None) for the item to be kept."""


@dataclass(frozen=True, slots=True)
class Record:
    """An object built field by field. `nullable`: None when every field is None."""

    fields: tuple[tuple[str, Expr], ...]
    nullable: bool = True
    drop_none: bool = False
    """Request direction: leave out keys whose value is None."""


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference object: None when `id` is None, else {"id": str(id), **fields}."""

    id: Expr
    fields: tuple[tuple[str, Expr], ...]
    drop_none: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: Literal["and", "or"]
    exprs: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    expr: Expr


@dataclass(frozen=True, slots=True)
class IfElse:
    test: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """A whitelisted jinja2 filter or test, rendered as a runtime helper call."""

    name: str
    args: tuple[Expr, ...]


Expr = (
    Path | Const | Convert | Default | ValueMap | Coalesce | Template | Concat | ListOf | Each | Record
    | Ref | Compare | BoolOp | Not | IfElse | Call
)


# --- models ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnifiedModel:
    category: str
    """`ticketing` or `user_directory`."""
    resource: str
    """Plural resource name, e.g. `tickets`."""
    singular: str
    title: str
    """Class name, e.g. `UnifiedTicket`."""
    description: str
    schema: FrozenDict
    """The model's object schema; refs are `#/$defs/<Title>` into `UnifiedApi.defs`."""
    filters: FrozenDict
    """List filter name -> JSON Schema of its value (the unified vocabulary)."""
    sort_fields: tuple[str, ...]
    inputs: FrozenDict
    """Create/update inputs that are not model fields: name -> JSON Schema."""
    file: str


# --- mappings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryParam:
    filter: str
    param: str
    """Flat argument of the backing operation."""
    convert: Conversion | None
    table: tuple[tuple[Any, Any], ...]
    extra: tuple[tuple[str, Any], ...]
    """Constant arguments sent together with this one."""
    required: bool
    wrap_list: bool
    """The parameter takes a list: a single value is sent as a one-item list."""
    allowed: tuple[Any, ...] | None = None
    """Closed set of values the parameter accepts: other (mapped) values are rejected at call time."""


@dataclass(frozen=True, slots=True)
class SortedScan:
    filter: str
    args: tuple[tuple[str, Any], ...]
    """Constant arguments that ask the connector for the order (e.g. `order_by`, or `sort_by` + `sort_order`)."""
    order: Literal["asc", "desc"]
    field: tuple[str | int, ...]
    op: ScanOp


QueryMapping = QueryParam | SortedScan


@dataclass(frozen=True, slots=True)
class SortMapping:
    param: str
    fields: tuple[tuple[str, str, str], ...]
    """(unified field, ascending value, descending value); both the same with `direction_param`."""
    direction_param: str | None = None
    """Separate parameter carrying the direction (e.g. `sort_order`), or None when `param` carries both."""
    direction_values: tuple[str, str] = ("asc", "desc")
    """Values of `direction_param` for ascending and descending."""


@dataclass(frozen=True, slots=True)
class BeforeStep:
    name: str
    tool: str
    request: Record
    when: Expr | None


@dataclass(frozen=True, slots=True)
class ReadBack:
    """After a write whose answer is not the record (e.g. a comment added through its ticket), the
    record is read with another operation: its object, or one item of its first page."""

    tool: str
    request: Record
    """Arguments (sources: the unified input, `context`, and `context.written`: the write's answer)."""
    many: bool
    """The operation answers a list: `pick` chooses the item."""
    pick: Literal["first", "last", "max"] = "first"
    field: tuple[str | int, ...] = ()
    """For `max`: the item with the greatest value here (e.g. the newest id)."""


@dataclass(frozen=True, slots=True)
class InputField:
    name: str
    schema: FrozenDict
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class UnifiedMethod:
    kind: MethodKind
    tool: str
    """Unified tool name, e.g. `list_all_unified_ticketing_tickets`."""
    operation: str
    """Tool name of the backing connector operation."""
    description: str
    request: Record
    """Flat arguments of the backing operation (request direction, sources: the unified input)."""
    response: Record | None
    """Connector object -> unified record; None for delete."""
    inputs: tuple[InputField, ...]
    """Unified inputs of create/update/get/delete (id first when the method takes one)."""
    before: tuple[BeforeStep, ...] = ()
    query: tuple[QueryMapping, ...] = ()
    sort: SortMapping | None = None
    flatten: tuple[str | int, ...] | None = None
    unsupported_filters: tuple[str, ...] = ()
    """Filters of the unified vocabulary this connector cannot apply (rejected at call time)."""
    unsupported_sort: tuple[str, ...] = ()
    cursor_arg: str | None = None
    """Argument of the backing list operation carrying the page cursor (its paginator's)."""
    limit_arg: str | None = None
    """Argument of the backing list operation carrying the page size, if it has one."""
    cases: tuple[MethodCase, ...] = ()
    """Alternatives chosen from the unified input: the first case whose `when` holds runs instead."""
    read_back: ReadBack | None = None


@dataclass(frozen=True, slots=True)
class MethodCase:
    """One alternative of a method: its own backing operation and request, used when `when` holds."""

    when: Expr
    text: str
    """The condition as written, for docs."""
    method: UnifiedMethod


@dataclass(frozen=True, slots=True)
class UnifiedResource:
    model: UnifiedModel
    connector: str
    description: str
    methods: tuple[UnifiedMethod, ...]
    file: str
    field_sources: tuple[tuple[str, str], ...]
    """Unified field -> human-readable description of its source (docs)."""

    @property
    def category(self) -> str:
        return self.model.category

    @property
    def name(self) -> str:
        return self.model.resource

    def method(self, kind: str) -> UnifiedMethod | None:
        return next((m for m in self.methods if m.kind == kind), None)


@dataclass(frozen=True, slots=True)
class UnifiedApi:
    connector: str
    models: tuple[UnifiedModel, ...]
    defs: FrozenDict
    """Shared object schemas (UnifiedReference, ...) by title."""
    resources: tuple[UnifiedResource, ...]
    source_hash: str
    source_files: tuple[str, ...]

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({r.category for r in self.resources}))

    def resource(self, category: str, name: str) -> UnifiedResource:
        for r in self.resources:
            if r.category == category and r.name == name:
                return r
        raise KeyError(f"{category}/{name}")
