"""load -> validate -> IR -> emitters -> files. The one place that strings the stages together."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import ir
from .compiler import compile_definition
from .definition import load_definition
from .diagnostics import DefinitionError, Diagnostic, JsonPath
from .emitters import GeneratedCodeError
from .loader import LoadError, SourceFile, display_path, load_yaml_file
from .rules import run_rules

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "generated"


def validate(path: Path) -> tuple[ir.Connector | None, list[Diagnostic]]:
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


GENERATED_CODE_RULE = "generated-code-invalid"
#: Shorter pieces of text are too common to say which field they came from.
MIN_BLAMED_TEXT = 3


def _text_leaves(node: Any, at: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(node, str):
        yield at, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _text_leaves(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _text_leaves(value, (*at, index))


def _definition_sources(path: Path) -> list[SourceFile]:
    """Every file of the definition, and of its unified models and mappings when there are some."""
    from .unified import find_unified_root

    raw, _ = load_definition(Path(path))
    if raw is None:
        return []
    sources = list(raw.files)
    name = raw.connector.data.get("connector") if isinstance(raw.connector.data, dict) else None
    mappings = find_unified_root(raw.root, name) if isinstance(name, str) else None
    for file in sorted(mappings.rglob("*.yaml")) if mappings is not None else ():
        with contextlib.suppress(LoadError):
            sources.append(load_yaml_file(file))
    return sources


def blame_generated_code(path: Path, error: GeneratedCodeError) -> Diagnostic:
    """`error[generated-code-invalid]` at the definition field whose text is on the broken line.

    The field is the one with the longest text (or line of text) found on the lines around the
    position Python reports; without one the diagnostic points at the connector file.
    """
    where = f"{error.path}:{error.line}:{error.column} ({error.reason})"
    hint = "a template or emitter does not escape this text: report it as a generator bug; rewording the text avoids it"
    best: tuple[int, SourceFile, JsonPath] | None = None
    for source in _definition_sources(path):
        for at, text in _text_leaves(source.data, ()):
            for piece in {text.strip(), *(line.strip() for line in text.splitlines())}:
                longer = len(piece) >= MIN_BLAMED_TEXT and (best is None or len(piece) > best[0])
                if longer and any(piece in line for line in error.lines):
                    best = (len(piece), source, at)
    if best is None:
        return Diagnostic(GENERATED_CODE_RULE, f"generated code is not valid Python: {where}",
                          _connector_file(path), 1, 1, hint=hint)
    return best[1].diagnostic(GENERATED_CODE_RULE, f"this text breaks the generated Python at {where}", best[2], hint)


def _connector_file(path: Path) -> str:
    return display_path(Path(path) / "connector.yaml" if Path(path).is_dir() else Path(path))


def generator_failure(path: Path, error: Exception) -> Diagnostic:
    """`error[internal-error]` for an emitter that failed on a valid definition (a generator bug)."""
    return Diagnostic("internal-error", f"generating failed: {type(error).__name__}: {error}", _connector_file(path),
                      1, 1, hint="report it as a generator bug, with the definition that triggers it")


def build(path: Path) -> ir.Connector:
    """The IR of a valid definition; raises DefinitionError listing every problem otherwise."""
    connector, diagnostics = validate(path)
    if connector is None:
        raise DefinitionError(diagnostics)
    return connector
