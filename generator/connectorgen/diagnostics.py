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
        if self.hint:
            details.append(f"  hint: {self.hint}")
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
