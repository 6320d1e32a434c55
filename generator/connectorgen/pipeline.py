"""load -> validate -> IR -> emitters -> files. The one place that strings the stages together."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import ir
from .compiler import compile_definition
from .definition import load_definition
from .diagnostics import DefinitionError, Diagnostic
from .rules import run_rules

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DEFINITION = REPO_ROOT / "spec" / "gorgias"
DEFAULT_OUTPUT = REPO_ROOT / "generated"


def validate(path: Path = DEFAULT_DEFINITION) -> tuple[ir.Connector | None, list[Diagnostic]]:
    """Check a definition; returns the IR when there is no error, and every diagnostic found."""
    raw, diagnostics = load_definition(Path(path))
    if raw is None:
        return None, diagnostics
    diagnostics.extend(run_rules(raw))
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        return None, diagnostics
    connector = compile_definition(raw)
    return _with_unified(connector, raw.root, diagnostics), diagnostics


def _with_unified(connector: ir.Connector, root: Path, diagnostics: list[Diagnostic]) -> ir.Connector | None:
    """Attach the unified API compiled from `<repo>/unified_mappings/<connector>/`, when it exists."""
    from .unified import compile_unified, find_unified_root

    mappings = find_unified_root(root, connector.name)
    if mappings is None:
        return connector
    unified, found = compile_unified(connector, mappings)
    diagnostics.extend(found)
    if unified is None:
        return None
    return dataclasses.replace(connector, unified=unified)


def build(path: Path = DEFAULT_DEFINITION) -> ir.Connector:
    """The IR of a valid definition; raises DefinitionError listing every problem otherwise."""
    connector, diagnostics = validate(path)
    if connector is None:
        raise DefinitionError(diagnostics)
    return connector
