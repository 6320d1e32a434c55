"""Sources of the generated unified package: mapping functions (`mappers.py`), method specs and
query planners (`methods.py`), resource classes (`resources.py`) and the tool dispatcher
(`tools.py`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import ir
from ... import unified_ir as u
from ...escaping import py_docline, py_str
from .pycode import Module, condition_function, literal, request_function, response_function
from .pymodels import filter_type, input_type

QUERY_CONVERT = {"integer": "q_int", "boolean": "q_bool", "number": "q_num", "string": "q_str", None: "q_str"}


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def prefix(resource: u.UnifiedResource) -> str:
    return f"{resource.category}_{resource.name}"


def spec_name(resource: u.UnifiedResource, method: u.UnifiedMethod) -> str:
    return f"{prefix(resource)}_{method.kind}".upper()


def class_name(resource: u.UnifiedResource) -> str:
    return pascal(resource.category) + pascal(resource.name)


def server_variables(connector: ir.Connector) -> tuple[str, ...]:
    """Names of the connector's server variables (context values of the mappings)."""
    return tuple(v.name for v in connector.server.variables)


def method_variants(method: u.UnifiedMethod) -> list[tuple[str, u.UnifiedMethod]]:
    """The method and its cases, each with the suffix naming its generated functions."""
    return [(method.kind, method), *((f"{method.kind}_case{i + 1}", c.method) for i, c in enumerate(method.cases))]


def allows_null(schema: Any) -> bool:
    """Whether a (model field) schema accepts null: `type` lists it or an `anyOf` branch is null."""
    if not isinstance(schema, Mapping):
        return True
    types = schema.get("type")
    if types == "null" or (isinstance(types, list | tuple) and "null" in types):
        return True
    return any(allows_null(branch) for branch in schema.get("anyOf") or schema.get("oneOf") or ())


def non_null_required(schema: Any) -> tuple[str, ...]:
    """Required fields of a unified model that may not be null: a record lacking one is a
    mapping error, not a record."""
    props = schema.get("properties") or {}
    return tuple(name for name in schema.get("required") or () if name in props and not allows_null(props[name]))


# --- mappers.py ---------------------------------------------------------------------------------


class Mappers:
    """Names of the generated functions, shared between modules."""

    def __init__(self, connector: ir.Connector, api: u.UnifiedApi) -> None:
        self.connector = connector
        self.api = api
        self.module = Module()
        self.functions: list[str] = []
        self.response_names: dict[tuple[str, str], str] = {}
        self.request_names: dict[tuple[str, str], str] = {}
        self.before_names: dict[tuple[str, str, str], tuple[str, str | None]] = {}
        self.case_names: dict[tuple[str, str, int], str] = {}
        self.read_back_names: dict[tuple[str, str], str] = {}
        self._records: dict[u.Record, str] = {}
        self._build()

    def _build(self) -> None:
        c = self.connector.title
        for resource in self.api.resources:
            model = resource.model
            base = f"{resource.category}_{model.singular}"
            for variant, method in (v for m in resource.methods for v in method_variants(m)):
                key = (prefix(resource), variant)
                if method.response is not None:
                    name = self._records.get(method.response)
                    if name is None:
                        suffix = "" if not self._records_for(base) else f"_{variant}"
                        name = f"{base}_from_{self.connector.name}{suffix}"
                        op = self.connector.operation(method.operation)
                        source = op.response.schema_name or "object"
                        if method.flatten:
                            source = f"item of `{'.'.join(map(str, method.flatten))}` of a {source}"
                        doc = f"{model.title} from a {c} {source} ({resource.file})."
                        self.functions.append(response_function(
                            self.module, name, method.response, doc,
                            model=model.title, required=non_null_required(model.schema)))
                        self._records[method.response] = name
                    self.response_names[key] = name
                req_name = f"{prefix(resource)}_{variant}_request"
                doc = f"Arguments of {method.operation} for {method.tool}."
                self.functions.append(request_function(self.module, req_name, method.request, doc))
                self.request_names[key] = req_name
                if method.read_back is not None:
                    rb_name = f"{prefix(resource)}_{variant}_read_back"
                    self.functions.append(request_function(
                        self.module, rb_name, method.read_back.request,
                        f"Arguments of {method.read_back.tool} (reading the record back after {method.operation})."))
                    self.read_back_names[key] = rb_name
                for step in method.before:
                    step_name = f"{prefix(resource)}_{variant}_before_{step.name}"
                    self.functions.append(request_function(
                        self.module, step_name, step.request, f"Arguments of {step.tool} (before-step `{step.name}`)."))
                    when_name = None
                    if step.when is not None:
                        when_name = f"{step_name}_when"
                        self.functions.append(condition_function(
                            self.module, when_name, step.when, f"Whether before-step `{step.name}` is needed."))
                    self.before_names[(*key, step.name)] = (step_name, when_name)
            for method in resource.methods:
                for index, case in enumerate(method.cases):
                    case_name = f"{prefix(resource)}_{method.kind}_case{index + 1}_when"
                    self.functions.append(condition_function(
                        self.module, case_name, case.when, f"Whether case {index + 1} of {method.tool} runs: `{case.text}`."))
                    self.case_names[(prefix(resource), method.kind, index)] = case_name

    def _records_for(self, base: str) -> bool:
        return any(n.startswith(f"{base}_from_") for n in self._records.values())

    def source(self) -> str:
        header = (
            f'"""Mapping functions of the {py_docline(self.connector.title)} unified APIs, compiled from unified_mappings/.\n\n'
            "Plain Python, one function per mapping: `<model>_from_<connector>(src, ctx, parent)` turns a\n"
            f"{py_docline(self.connector.title)} object into a unified record (a JSON-ready dict); `<resource>_<method>_request(body, ctx)`\n"
            f"turns unified input into the flat arguments of the {py_docline(self.connector.title)} operation.\n"
            '"""\n\n'
            "from __future__ import annotations\n\n"
            "from collections.abc import Mapping\n"
            "from typing import Any\n\n"
        )
        functions = "\n\n".join(self.functions)
        lines = self.module.header()
        constants = self.module.constant_lines()
        names = sorted({*self.response_names.values(), *self.request_names.values()})
        return (header + "\n".join(lines) + "\n\n" + f"__all__ = {json.dumps(names)}\n\n"
                + "\n".join(constants) + "\n\n\n" + functions)


# --- methods.py ---------------------------------------------------------------------------------


def _plan_function(connector: ir.Connector, resource: u.UnifiedResource, method: u.UnifiedMethod,
                   mappers: Mappers, module: Module, variant: str = "list") -> str:
    suffix = variant.removeprefix("list")
    name = f"plan_{prefix(resource)}{suffix}"
    model = resource.model
    supported = sorted({q.filter for q in method.query})
    unsupported = sorted(method.unsupported_filters)
    title = connector.title
    lines = [
        f"def {name}(filters: Mapping[str, Any], sort_by: str | None, sort_order: str | None) -> QueryPlan:",
        f'    """{py_docline(title)} arguments for {method.tool}; rejects what {py_docline(title)} cannot do, before any request."""',
        f"    tool = {method.tool!r}",
    ]
    for index, _case in enumerate(method.cases):
        when = mappers.case_names[(prefix(resource), "list", index)]
        lines += [f"    if _m.{when}(filters, {{}}):",
                  f"        chosen = plan_{prefix(resource)}_case{index + 1}(filters, sort_by, sort_order)",
                  f"        chosen.spec = {prefix(resource).upper()}_LIST_CASE{index + 1}",
                  "        return chosen"]
    lines += [
        f"    check_filters(tool, filters, frozenset({supported!r}), frozenset({unsupported!r}), {title!r})",
        f"    plan = QueryPlan(_m.{mappers.request_names[(prefix(resource), variant)]}({{}}, {{}}))",
        "    plan.filters = {k: v for k, v in filters.items() if v is not None}",
    ]
    if method.query:
        lines.append("    value: Any = None")
    for q in method.query:
        if isinstance(q, u.QueryParam):
            lines.append(f"    value = filters.get({q.filter!r})")
            if q.required:
                accepted = _accepted(q)
                hint = f"{title} lists one at a time" + (f"; one of: {', '.join(map(str, accepted))}" if accepted else "")
                lines.append("    if value is None:")
                lines.append(f"        raise InvalidArgumentsError(tool, {{{q.filter!r}: [{('is required: ' + hint)!r}]}})")
                indent = "    "
            else:
                lines.append("    if value is not None:")
                indent = "        "
            if q.table:
                table = module.constant("{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in q.table) + "}")
                lines.append(f"{indent}value = [{table}.get(v, v) for v in value] if isinstance(value, list) "
                             f"else {table}.get(value, value)")
            lines.append(f"{indent}value = {QUERY_CONVERT.get(q.convert, 'q_str')}(tool, {q.filter!r}, value)")
            if q.allowed is not None:
                lines.append(f"{indent}value = q_allowed(tool, {q.filter!r}, value, {tuple(q.allowed)!r}, "
                             f"{tuple(_accepted(q))!r}, {title!r})")
            if q.wrap_list:
                lines.append(f"{indent}plan.args[{q.param!r}] = value if isinstance(value, list) else [value]")
            else:
                lines.append(f"{indent}plan.args[{q.param!r}] = value")
            for key, extra in q.extra:
                lines.append(f"{indent}plan.args[{key!r}] = {literal(extra)}")
    for q in method.query:
        if isinstance(q, u.SortedScan):
            lines.append(f"    value = filters.get({q.filter!r})")
            lines.append("    if value is not None:")
            lines.append(f"        q_scan(tool, plan, {q.filter!r}, value, {dict(q.args)!r}, "
                         f"{tuple(q.field)!r}, {q.op!r})")
    orders = {f: (asc, desc) for f, asc, desc in method.sort.fields} if method.sort else {}
    param = method.sort.param if method.sort else ""
    direction = ""
    if method.sort is not None and method.sort.direction_param is not None:
        direction = f", direction=({method.sort.direction_param!r}, {tuple(method.sort.direction_values)!r})"
    lines.append("    if sort_by is not None:")
    lines.append(f"        q_sort(tool, plan, {param!r}, sort_by, sort_order, {orders!r}, "
                 f"frozenset({sorted(method.unsupported_sort)!r}), {title!r}{direction})")
    lines.append("    elif sort_order is not None:")
    lines.append("        raise InvalidArgumentsError(tool, {'sort_order': ['needs sort_by']})")
    lines.append("    return plan")
    del model
    return "\n".join(lines) + "\n"


def _accepted(q: u.QueryParam) -> list[Any]:
    """Unified values that reach an allowed connector value."""
    if q.allowed is None:
        return []
    mapped = dict(q.table)
    out = [k for k, v in q.table if v in q.allowed]
    out.extend(a for a in q.allowed if a not in mapped.values() and a not in out)
    return out


def methods_source(connector: ir.Connector, api: u.UnifiedApi, mappers: Mappers) -> str:
    module = Module()
    blocks: list[str] = []
    specs: list[str] = []
    model_names: set[str] = set()
    for resource in api.resources:
        key = prefix(resource)
        for variant, method in (v for m in resource.methods for v in reversed(method_variants(m))):
            plan = "None"
            if method.kind == "list":
                blocks.append(_plan_function(connector, resource, method, mappers, module, variant))
                plan = f"plan_{key}{variant.removeprefix('list')}"
            befores = []
            for step in method.before:
                step_fn, when_fn = mappers.before_names[(key, variant, step.name)]
                befores.append(f"BeforeSpec({step.name!r}, {step.tool!r}, _m.{step_fn}, "
                               f"{'_m.' + when_fn if when_fn else 'None'})")
            response = f"_m.{mappers.response_names[(key, variant)]}" if method.response is not None else "None"
            model = resource.model.title if method.response is not None else "None"
            if method.response is not None:
                model_names.add(resource.model.title)
            inputs = tuple(i.name for i in method.inputs)
            required = tuple(i.name for i in method.inputs if i.required)
            reread = "None"
            getter = resource.method("get")
            if method.kind in ("create", "update") and getter is not None:
                reread = spec_name(resource, getter)
            cases = [f"(_m.{mappers.case_names[(key, method.kind, i)]}, {key.upper()}_{method.kind.upper()}_CASE{i + 1})"
                     for i in range(len(method.cases))]
            pages = ""
            if method.read_back is not None:
                rb = method.read_back
                pages += (f"    read_back=ReadBack({rb.tool!r}, _m.{mappers.read_back_names[(key, variant)]}, "
                          f"{rb.many!r}, {rb.pick!r}, {tuple(rb.field)!r}),\n")
            if method.kind == "list":
                pages = f"    cursor_arg={method.cursor_arg!r},\n    limit_arg={method.limit_arg!r},\n"
            specs.append(
                f"{key.upper()}_{variant.upper()} = MethodSpec(\n"
                f"    tool={method.tool!r},\n    kind={method.kind!r},\n    operation={method.operation!r},\n"
                f"    request=_m.{mappers.request_names[(key, variant)]},\n    response={response},\n"
                f"    model={model},\n    inputs={inputs!r},\n    required={required!r},\n"
                f"    before=({', '.join(befores)}{',' if len(befores) == 1 else ''}),\n"
                f"    plan={plan},\n    flatten={tuple(method.flatten) if method.flatten else None!r},\n"
                f"    reread={reread},\n{pages}"
                + (f"    cases=({', '.join(cases)},),\n" if cases else "") + ")"
            )
    uses_read_back = any(v.read_back is not None for r in api.resources for m in r.methods for _, v in method_variants(m))
    all_specs = [spec_name(r, m) for r in api.resources for m in r.methods]
    header = (
        f'"""Unified methods of the {py_docline(connector.title)} connector: one `MethodSpec` per method and one query\n'
        "planner per list (filters -> arguments, early-stopping scans, sort orders).\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "from collections.abc import Mapping\n"
        "from typing import Any\n\n"
        "from .._errors import InvalidArgumentsError\n"
        "from . import mappers as _m\n"
        "from ._runtime import BeforeSpec, MethodSpec, QueryPlan, " + ("ReadBack, " if uses_read_back else "")
        + "check_filters, q_allowed, q_bool, q_int, "
        "q_num, q_scan, q_sort, q_str\n"
        f"from .models import {', '.join(sorted(model_names))}\n\n"
    )
    constants = "\n".join(module.constant_lines())
    methods_map = "METHODS: dict[str, MethodSpec] = {\n" + "".join(
        f"    {name}.tool: {name},\n" for name in all_specs) + "}\n"
    return (header + constants + "\n\n\n" + "\n\n".join(blocks) + "\n\n" + "\n\n".join(specs) + "\n\n"
            + methods_map)


# --- resources.py -------------------------------------------------------------------------------


def _resource_class(connector: ir.Connector, resource: u.UnifiedResource, asynchronous: bool) -> str:
    model = resource.model
    name = ("Async" if asynchronous else "") + class_name(resource)
    runner = "AsyncRunner" if asynchronous else "SyncRunner"
    kinds = ", ".join(m.kind for m in resource.methods)
    lines = [
        f"class {name}:",
        f'    """Unified {resource.category.replace("_", " ")} {resource.name} backed by {py_docline(connector.title)} ({kinds}).',
        "",
        f"    {py_docline(resource.description)}",
        '    """',
        "",
        f"    def __init__(self, runner: {runner}) -> None:",
        "        self._runner = runner",
    ]
    aw = "await " if asynchronous else ""
    adef = "async def" if asynchronous else "def"
    for method in resource.methods:
        spec = f"_s.{spec_name(resource, method)}"
        lines.append("")
        if method.kind == "list":
            params = []
            for fname, fschema in ir.thaw(model.filters).items():
                params.append(f"{fname}: {filter_type(fname, fschema)} | None = None")
            sort_fields = list(model.sort_fields)
            sort_type = ("Literal[" + ", ".join(py_str(s) for s in sort_fields) + "]") if sort_fields else "str"
            params += [f"sort_by: {sort_type} | None = None", 'sort_order: Literal["asc", "desc"] | None = None',
                       "limit: int | None = None", "cursor: str | None = None"]
            pager = "AsyncUnifiedPager" if asynchronous else "SyncUnifiedPager"
            lines.append(f"    def list(self, *, {', '.join(params)}) -> {pager}[{model.title}]:")
            doc = [f"{model.title} records, lazily page by page ({method.operation}).", ""]
            if method.description:
                doc.append(py_docline(method.description))
            if method.unsupported_filters:
                doc.append(f"Not available from {py_docline(connector.title)} (raise UnsupportedFilterError): "
                           + ", ".join(method.unsupported_filters) + ".")
            if method.unsupported_sort:
                doc.append(f"Cannot sort by: {', '.join(method.unsupported_sort)}.")
            lines.append('        """' + "\n\n        ".join(d for d in doc if d) + '\n        """')
            filters = ", ".join(f"{f!r}: {f}" for f in ir.thaw(model.filters))
            lines.append(f"        plan = _s.plan_{prefix(resource)}({{{filters}}}, sort_by, sort_order)")
            lines.append(f"        return {pager}(self._runner, {spec}, plan, {model.title}, limit=limit, cursor=cursor)")
            continue
        params = []
        body_items = []
        positional = ""
        required = [i for i in method.inputs if i.required and i.name != "id"]
        optional = [i for i in method.inputs if not i.required and i.name != "id"]
        if any(i.name == "id" for i in method.inputs):
            positional = "id: str | int, "
            body_items.append("'id': id")
        for field in [*required, *optional]:
            annotation = input_type(ir.thaw(field.schema), is_id=field.name.endswith("_id"))
            if field.required:
                params.append(f"{field.name}: {annotation}")
            else:
                params.append(f"{field.name}: {annotation} | None = None")
            body_items.append(f"{field.name!r}: {field.name}")
        star = "*, " if params else ""
        returns = "None" if method.kind == "delete" else model.title
        signature = f"    {adef} {method.kind}(self, {positional}{star}{', '.join(params)}) -> {returns}:"
        lines.append(signature.replace(", ) ->", ") ->").replace("(self, ) ->", "(self) ->"))
        verb = {"get": "Read", "create": "Create", "update": "Change", "delete": "Delete"}[method.kind]
        text = f"{verb} a {model.singular} ({method.operation})."
        if method.description:
            text += "\n\n        " + py_docline(method.description)
        if method.kind == "update":
            text += "\n\n        Arguments left out (None) keep their value."
        lines.append(f'        """{text}\n        """')
        lines.append(f"        _body = check_inputs({spec}, {{k: v for k, v in {{{', '.join(body_items)}}}.items() if v is not None}})")
        if method.kind == "delete":
            lines.append(f"        {aw}self._runner.call({spec}, _body)")
        else:
            lines.append(f"        return {model.title}.model_validate({aw}self._runner.call({spec}, _body))")
    return "\n".join(lines) + "\n"


def resources_source(connector: ir.Connector, api: u.UnifiedApi) -> str:
    client = connector.package.client_class
    variables = server_variables(connector)
    used = {t for r in api.resources for m in r.methods for _, v in method_variants(m)
            for t in (v.operation, *(b.tool for b in v.before), *((v.read_back.tool,) if v.read_back else ()))}
    sideloaded = {op.tool for op in connector.operations
                  if op.tool in used and op.response.envelope.type == "object" and getattr(op.response, "sideloads", ())}
    blocks: list[str] = []
    for asynchronous in (False, True):
        for resource in api.resources:
            blocks.append(_resource_class(connector, resource, asynchronous))
    for asynchronous in (False, True):
        runner = "AsyncRunner" if asynchronous else "SyncRunner"
        for category in api.categories:
            cls = ("Async" if asynchronous else "") + pascal(category)
            lines = [f"class {cls}:", f'    """Unified {category.replace("_", " ")} resources."""', "",
                     f"    def __init__(self, runner: {runner}) -> None:"]
            for resource in api.resources:
                if resource.category == category:
                    lines.append(f"        self.{resource.name} = {('Async' if asynchronous else '') + class_name(resource)}(runner)")
            blocks.append("\n".join(lines) + "\n")
        main = "AsyncUnified" if asynchronous else "Unified"
        client_cls = ("Async" if asynchronous else "") + client
        lines = [
            f"class {main}:",
            f'    """Unified APIs over a `{client_cls}`: ' + ", ".join(f"`.{c}`" for c in api.categories) + ".",
            "",
            "    Calls go through the client's `invoke`, so authentication, retries, rate limiting and",
            "    errors are the client's. Before-step results (e.g. the current user) are cached per instance.",
            "    Server variables (" + (", ".join(f"`{v}`" for v in variables) or "none")
            + ") are read from the client's base URL unless given here.",
            '    """',
            "",
            f"    def __init__(self, client: {client_cls}"
            + "".join(f", {'*, ' if i == 0 else ''}{v}: str | None = None" for i, v in enumerate(variables))
            + ") -> None:",
            f"        self._runner = {runner}(client, {{{', '.join(f'{v!r}: {v}' for v in variables)}}}, SERVER_TEMPLATE, SIDELOADED)",
        ]
        for category in api.categories:
            lines.append(f"        self.{category} = {('Async' if asynchronous else '') + pascal(category)}(self._runner)")
        adef = "async def" if asynchronous else "def"
        aw = "await " if asynchronous else ""
        lines += [
            "",
            f"    {adef} invoke(self, tool: str, arguments: Mapping[str, Any] | None = None) -> Any:",
            '        """Run a unified tool by name with flat arguments; JSON-ready result (lists: one page)."""',
            f"        return {aw}{'ainvoke_with' if asynchronous else 'invoke_with'}(self._runner, tool, arguments)",
        ]
        blocks.append("\n".join(lines) + "\n")
    titles = sorted({r.model.title for r in api.resources})
    header = (
        f'"""Unified resource classes of the {py_docline(connector.title)} client: `Unified(client).ticketing.tickets.list(...)`."""\n\n'
        "from __future__ import annotations\n\n"
        "from collections.abc import Mapping, Sequence\n"
        "from datetime import datetime\n"
        "from typing import TYPE_CHECKING, Any, Literal\n\n"
        "from . import methods as _s\n"
        "from ._runtime import AsyncRunner, AsyncUnifiedPager, SyncRunner, SyncUnifiedPager, check_inputs\n"
        "from .models import " + ", ".join(sorted({*titles, *ir.thaw(api.defs)})) + "\n"
        "from .tools import ainvoke_with, invoke_with\n\n"
        "if TYPE_CHECKING:\n"
        f"    from .._client import Async{client}, {client}\n\n"
        f"__all__ = {json.dumps(['AsyncUnified', 'Unified'])}\n\n"
        "#: The server URL template whose variables are context values of the mappings.\n"
        f"SERVER_TEMPLATE = {py_str(connector.server.base_url)}\n"
        "#: Tools whose `invoke` results keep the object under `result` (next to its side-loads).\n"
        f"SIDELOADED: frozenset[str] = frozenset({sorted(sideloaded)!r})\n\n\n"
    )
    return header + "\n\n".join(blocks)


# --- tools.py -----------------------------------------------------------------------------------


def tools_source(connector: ir.Connector) -> str:
    client = connector.package.client_class
    return f'''"""Unified operations as tools: `invoke_unified(client, "list_all_unified_ticketing_tickets", {{...}})`.

The tool entries (name, description, inputSchema, outputSchema, annotations, _meta) are in
`tools.json` next to this module, in the same shape as the {py_docline(connector.title)} MCP tools file. Results are
JSON-ready: lists give one page `{{"result": [...], "next_cursor", "prev_cursor"}}` (pass
`next_cursor` back as `cursor`), get/create/update the unified record, delete `{{"id", "deleted"}}`.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from .._errors import InvalidArgumentsError
from ._runtime import AsyncRunner, SyncRunner, check_inputs
from .methods import METHODS

if TYPE_CHECKING:
    from .._client import Async{client}, {client}
    from .resources import AsyncUnified, Unified

__all__ = ["UNIFIED_TOOL_NAMES", "ainvoke_unified", "invoke_unified", "unified_tools"]

UNIFIED_TOOL_NAMES: frozenset[str] = frozenset(METHODS)
_RUNNERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


@cache
def _document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("tools.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def unified_tools() -> list[dict[str, Any]]:
    """The unified tool entries (copies), in the MCP tools-file shape."""
    tools: list[dict[str, Any]] = json.loads(json.dumps(_document()["tools"]))
    return tools


def unified_tools_document() -> dict[str, Any]:
    """The whole unified tools file: `_meta`, `tools` and the shared `$defs`."""
    document: dict[str, Any] = json.loads(json.dumps(_document()))
    return document


def _spec(tool: str) -> Any:
    spec = METHODS.get(tool)
    if spec is None:
        raise InvalidArgumentsError(tool, {{"tool": ["unknown unified tool"]}})
    return spec


def invoke_with(runner: SyncRunner, tool: str, arguments: Mapping[str, Any] | None = None) -> Any:
    spec = _spec(tool)
    args = dict(arguments or {{}})
    if spec.kind == "list":
        cursor = args.pop("cursor", None)
        limit = args.pop("limit", None)
        plan = spec.plan(args, args.pop("sort_by", None), args.pop("sort_order", None))
        return runner.page(spec, plan, cursor, limit)
    return runner.call(spec, check_inputs(spec, args))


async def ainvoke_with(runner: AsyncRunner, tool: str, arguments: Mapping[str, Any] | None = None) -> Any:
    spec = _spec(tool)
    args = dict(arguments or {{}})
    if spec.kind == "list":
        cursor = args.pop("cursor", None)
        limit = args.pop("limit", None)
        plan = spec.plan(args, args.pop("sort_by", None), args.pop("sort_order", None))
        return await runner.page(spec, plan, cursor, limit)
    return await runner.call(spec, check_inputs(spec, args))


def _runner(client: Any) -> Any:
    from .resources import AsyncUnified, Unified

    if isinstance(client, Unified | AsyncUnified):
        return client._runner
    unified = getattr(client, "__dict__", {{}}).get("unified")
    if isinstance(unified, Unified | AsyncUnified):
        return unified._runner
    try:
        found = _RUNNERS.get(client)
    except TypeError:
        found = None
    if found is None:
        found = (AsyncUnified if hasattr(client, "aclose") else Unified)(client)._runner
        try:
            _RUNNERS[client] = found
        except TypeError:
            pass
    return found


def invoke_unified(client: {client} | Unified, tool: str, arguments: Mapping[str, Any] | None = None) -> Any:
    """Run a unified tool on a synchronous client (errors are the client's, e.g. InvalidArgumentsError)."""
    return invoke_with(_runner(client), tool, arguments)


async def ainvoke_unified(
    client: Async{client} | AsyncUnified, tool: str, arguments: Mapping[str, Any] | None = None
) -> Any:
    """Async twin of `invoke_unified` for an `Async{client}`."""
    return await ainvoke_with(_runner(client), tool, arguments)
'''
