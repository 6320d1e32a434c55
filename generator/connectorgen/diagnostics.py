"""Problems found in a definition, reported as `FILE:LINE:COL: error[rule-id]: message`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
JsonPath = tuple[str | int, ...]


def format_json_path(path: JsonPath) -> str:
    """`$.operations[3].parameters[0].schema` style path inside a file."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


#: One-line hints for diagnostics that were not given a more specific one where they were found.
DEFAULT_HINTS: dict[str, str] = {
    "yaml-syntax": "check the indentation and quoting around this position (tabs are not allowed)",
    "wrong-type": "change the value to the expected type; quote strings that look like numbers or booleans",
    "missing-key": "add the key; spec/README.md and your editor's schema completion describe it",
    "invalid-value": "use a value the language schema allows (your editor shows the schema)",
    "unknown-key": "remove the key or fix its spelling",
    "file-not-found": "create the file or fix the path or glob that names it",
    "duplicate-parameter": "remove one of them or change its 'in'",
    "duplicate-resource": "rename one of the resources, or give it another client_attribute",
    "invalid-alias": "point same_endpoint_as at the primary operation's tool name",
    "invalid-example": "make the example what the API really accepts or returns, or fix the schema",
    "invalid-json-schema": "fix the schema (JSON Schema 2020-12: type is one of string, integer, number, boolean, array, object, null)",
    "missing-description": "describe it in this project's own words: what it does, returns, and its quirks",
    "path-param-optional": "remove 'required: false': a path parameter is always required",
    "style-schema-mismatch": "give the parameter an array schema (object for deep_object), or remove the style",
    "unknown-scope": "declare the scope under auth.<scheme>.scopes in connector.yaml, or fix its spelling",
    "internal-error": "fix the other errors first; if this persists, report it as a generator bug",
    "mapping-unknown-source": "use a path that exists in the source schema (spec/<connector>/schemas or the unified model)",
    "mapping-unknown-target": "use a field of the unified model (or an argument of the backing operation for requests)",
    "mapping-enum-coverage": "add the missing values to the value map, or map them to known unified values",
    "mapping-required-unmapped": "map the required field, or make it optional in the unified model",
    "mapping-unknown-operation": "use a tool name of the connector definition (connectorgen validate lists them in errors)",
    "mapping-operation-kind": "back list methods with list operations and get/create/update with object responses",
    "mapping-bad-expression": "simplify the expression, or use one of the declarative kinds (from, map, coalesce, template, each)",
    "mapping-duplicate-resource": "keep one mapping file per unified resource",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    rule: str
    message: str
    file: str
    line: int
    column: int
    json_path: JsonPath = ()
    hint: str = ""
    severity: Severity = "error"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.rule, self.message)

    def render(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.severity}[{self.rule}]: {self.message}"
        details = [f"  at {format_json_path(self.json_path)}"] if self.json_path else []
        hint = self.hint or DEFAULT_HINTS.get(self.rule, "")
        if hint:
            details.append(f"  hint: {hint}")
        return "\n".join([text, *details])


class DefinitionError(Exception):
    """Raised when a definition cannot be compiled; carries every diagnostic found."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(render_all(self.diagnostics))


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    items = sorted(diagnostics, key=Diagnostic.sort_key)
    errors = sum(1 for d in items if d.severity == "error")
    warnings = len(items) - errors
    lines = [d.render() for d in items]
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)
