"""Renders compiled mapping expressions (`unified_ir.Expr`) as plain, straight-line Python.

Every path step is a dict lookup (`src.get("a")`, `(x or _E).get("b")`), value maps are module
constants read with `.get(v, v)`, temporaries are walrus assignments, lists are comprehensions.
Only conversions, jinja2 filters and a few list helpers call small functions from `_runtime`.
"""

from __future__ import annotations

from typing import Any

from ... import ir
from ... import unified_ir as u
from ...escaping import py_str

#: Runtime helpers generated code may call, imported as `_<name>` from `_runtime`.
HELPERS = (
    "E", "dt", "to_int", "to_num", "to_bool", "to_str", "to_obj", "in_int", "in_num", "in_bool", "at",
    "concat", "obj_or_none", "compact", "cat", "f_lower", "f_upper", "f_trim", "f_capitalize", "f_default",
    "f_length", "f_string", "f_int", "f_float", "f_bool", "f_first", "f_last", "f_join", "t_none", "t_true",
    "t_false", "t_defined", "t_undefined", "t_string", "t_number", "t_sequence", "t_mapping", "MappingError",
)

CONVERT = {"string": "to_str", "integer": "to_int", "number": "to_num", "boolean": "to_bool",
           "datetime": "dt", "object": "to_obj"}
STRICT_CONVERT = {"integer": "in_int", "number": "in_num", "boolean": "in_bool"}


def literal(value: Any) -> str:
    """Python source of a JSON-like constant."""
    return repr(ir.thaw(value))


class Module:
    """Shared state of one generated module: value-map constants and the helpers used."""

    def __init__(self) -> None:
        self.constants: dict[str, str] = {}
        self.helpers: set[str] = set()

    def constant(self, source: str) -> str:
        for name, existing in self.constants.items():
            if existing == source:
                return name
        name = f"_MAP_{len(self.constants) + 1}"
        self.constants[name] = source
        return name

    def helper(self, name: str) -> str:
        self.helpers.add(name)
        return f"_{name}"

    def header(self) -> list[str]:
        lines = []
        if self.helpers:
            names = ", ".join(f"{h} as _{h}" if h != "E" else "_E" for h in sorted(self.helpers))
            lines.append(f"from ._runtime import {names}")
        return lines

    def constant_lines(self) -> list[str]:
        return [f"{name}: dict[Any, Any] = {source}" for name, source in self.constants.items()]


class Renderer:
    """Renders the expressions of one generated function."""

    def __init__(self, module: Module, *, strict: bool) -> None:
        self.module = module
        self.strict = strict
        self.counter = 0

    def tmp(self, prefix: str = "_t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def h(self, name: str) -> str:
        return self.module.helper(name)

    def path(self, path: u.Path, env: dict[str, str]) -> str:
        code = env[path.root]
        direct = path.root != "parent"
        for part in path.parts:
            if isinstance(part, int):
                code = f"{self.h('at')}({code}, {part})"
                direct = False
            elif direct:
                code = f"{code}.get({part!r})"
                direct = False
            else:
                code = f"({code} or {self.h('E')}).get({part!r})"
        return code

    def render(self, expr: u.Expr, env: dict[str, str]) -> str:
        if isinstance(expr, u.Path):
            return self.path(expr, env)
        if isinstance(expr, u.Const):
            return literal(expr.value)
        if isinstance(expr, u.Convert):
            inner = self.render(expr.expr, env)
            if self.strict and expr.to in STRICT_CONVERT:
                name = expr.expr.text if isinstance(expr.expr, u.Path) and expr.expr.text else "value"
                if isinstance(expr.expr, u.Path) and expr.expr.root == "src":
                    name = env.get("label", "") + name
                return f"{self.h(STRICT_CONVERT[expr.to])}({inner}, {name!r})"
            if expr.to == "string":
                t = self.tmp()
                return f"(None if ({t} := {inner}) is None else str({t}) if {t}.__class__ is int else {self.h('to_str')}({t}))"
            return f"{self.h(CONVERT[expr.to])}({inner})"
        if isinstance(expr, u.Default):
            t = self.tmp()
            return f"({t} if ({t} := {self.render(expr.expr, env)}) is not None else {literal(expr.value)})"
        if isinstance(expr, u.ValueMap):
            table = "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in expr.table) + "}"
            name = self.module.constant(table)
            t = self.tmp()
            return f"{name}.get(({t} := {self.render(expr.expr, env)}), {t})"
        if isinstance(expr, u.Coalesce):
            code = "None"
            for item in reversed(expr.exprs):
                t = self.tmp()
                present = [f"({t} := {self.render(item, env)}) is not None"]
                if not isinstance(item, u.Record | u.Ref | u.Each | u.ListOf):
                    present.append(f'{t} != ""')
                if not isinstance(item, u.Record | u.Ref | u.Template):
                    present.append(f"{t} != []")
                code = f"({t} if {' and '.join(present)} else {code})"
            return code
        if isinstance(expr, u.Template):
            checks: list[str] = []
            content = ""
            for part in expr.parts:
                if isinstance(part, str):
                    content += part.replace("{", "{{").replace("}", "}}")
                else:
                    t = self.tmp()
                    checks.append(f"({t} := {self.render(part, env)}) is None")
                    content += "{" + t + "}"
            text = "f" + py_str(content)
            if not checks:
                return py_str(content.replace("{{", "{").replace("}}", "}"))
            return f"(None if {' or '.join(checks)} else {text})"
        if isinstance(expr, u.Concat):
            return f"{self.h('concat')}({', '.join(self.render(e, env) for e in expr.exprs)})"
        if isinstance(expr, u.ListOf):
            if len(expr.exprs) == 1:
                t = self.tmp()
                empty = "None" if self.strict else "[]"
                return f"({empty} if ({t} := {self.render(expr.exprs[0], env)}) is None else [{t}])"
            x = self.tmp("_x")
            items = ", ".join(self.render(e, env) for e in expr.exprs)
            if self.strict:
                return f"([{x} for {x} in ({items}) if {x} is not None] or None)"
            return f"[{x} for {x} in ({items}) if {x} is not None]"
        if isinstance(expr, u.Each):
            var = self.tmp("_i")
            source = self.render(expr.source, env)
            label = expr.source.text if isinstance(expr.source, u.Path) and expr.source.root == "src" else "item"
            inner_env = {"src": var, "context": env["context"], "parent": env["src"],
                         "label": f"{env.get('label', '')}{label}[]."}
            body = self.render(expr.item, inner_env)
            conditions = []
            for where in expr.where:
                value_code = self.path(u.Path("src", where.path), inner_env)
                if len(where.values) == 1:
                    v = where.values[0]
                    op = "is" if v is None or isinstance(v, bool) else "=="
                    conditions.append(f"{value_code} {op} {literal(v)}")
                else:
                    conditions.append(f"{value_code} in {literal(tuple(where.values))}")
            for needed in expr.skip_if_missing:
                conditions.append(f"{self.path(needed, inner_env)} is not None")
            cond = f" if {' and '.join(conditions)}" if conditions else ""
            if self.strict:
                # request bodies: a list that was not given stays out of the body (None)
                t = self.tmp()
                return f"(None if ({t} := {source}) is None else [{body} for {var} in {t}{cond}])"
            return f"[{body} for {var} in ({source} or ()){cond}]"
        if isinstance(expr, u.Record):
            fields = ", ".join(f"{name!r}: {self.render(e, env)}" for name, e in expr.fields)
            body = "{" + fields + "}"
            if expr.drop_none:
                return f"{self.h('compact')}({body}, {expr.nullable})"
            if expr.nullable:
                return f"{self.h('obj_or_none')}({body})"
            return body
        if isinstance(expr, u.Ref):
            t = self.tmp()
            id_code = self.render(expr.id, env)
            id_value = f"str({t}) if {t}.__class__ is int else {self.h('to_str')}({t})"
            fields = ", ".join([f"'id': {id_value}", *(f"{n!r}: {self.render(e, env)}" for n, e in expr.fields)])
            body = "{" + fields + "}"
            if expr.drop_none:
                body = f"{self.h('compact')}({body}, True)"
            return f"(None if ({t} := {id_code}) is None else {body})"
        if isinstance(expr, u.Compare):
            return f"({self.render(expr.left, env)} {expr.op} {self.render(expr.right, env)})"
        if isinstance(expr, u.BoolOp):
            return "(" + f" {expr.op} ".join(self.render(e, env) for e in expr.exprs) + ")"
        if isinstance(expr, u.Not):
            return f"(not {self.render(expr.expr, env)})"
        if isinstance(expr, u.IfElse):
            return (f"({self.render(expr.then, env)} if {self.render(expr.test, env)} "
                    f"else {self.render(expr.otherwise, env)})")
        if isinstance(expr, u.Call):
            name = "cat" if expr.name == "concat" else expr.name
            return f"{self.h(name)}({', '.join(self.render(a, env) for a in expr.args)})"
        raise TypeError(f"cannot render {type(expr).__name__}")


def response_function(module: Module, name: str, record: u.Record, doc: str, *, model: str,
                      required: tuple[str, ...] = ()) -> str:
    """The mapping function of one response; it raises `MappingError` rather than return a record
    whose `required` (non-nullable) fields are None."""
    r = Renderer(module, strict=False)
    env = {"src": "src", "context": "ctx", "parent": f"(parent or {module.helper('E')})"}
    body = r.render(record, env)
    sources = dict(record.fields)
    checks = "".join(
        f"    if record[{field!r}] is None:\n"
        f"        raise {module.helper('MappingError')}({model!r}, {field!r}, {source_text(sources[field])!r})\n"
        for field in required
        if field in sources and not is_whole_source(sources[field])
    )
    head = (
        f"def {name}(\n    src: Mapping[str, Any], ctx: Mapping[str, Any], parent: Mapping[str, Any] | None = None\n"
        f") -> dict[str, Any]:\n"
        f"    {py_str(doc)}\n"
    )
    if not checks:
        return head + f"    return {body}\n"
    return head + f"    record = {body}\n" + checks + "    return record\n"


def is_whole_source(expr: u.Expr) -> bool:
    """`$`: the source object itself, which is never None."""
    return isinstance(expr, u.Path) and expr.root == "src" and not expr.parts


def source_text(expr: u.Expr) -> str:
    """How a mapped value is read, for error messages: its source path, or `expression`."""
    while isinstance(expr, u.Convert | u.Default):
        expr = expr.expr
    if isinstance(expr, u.Path):
        return expr.text or ".".join(map(str, expr.parts))
    return "expression"


def request_function(module: Module, name: str, record: u.Record, doc: str) -> str:
    r = Renderer(module, strict=True)
    env = {"src": "body", "context": "ctx", "parent": "body"}
    top = u.Record(record.fields, nullable=False, drop_none=True)
    body = r.render(top, env)
    return (
        f"def {name}(body: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:\n"
        f"    {py_str(doc)}\n"
        f"    return {body} or {{}}\n"
    )


def condition_function(module: Module, name: str, expr: u.Expr, doc: str) -> str:
    r = Renderer(module, strict=True)
    env = {"src": "body", "context": "ctx", "parent": "body"}
    return (
        f"def {name}(body: Mapping[str, Any], ctx: Mapping[str, Any]) -> Any:\n"
        f"    {py_str(doc)}\n"
        f"    return {r.render(expr, env)}\n"
    )
