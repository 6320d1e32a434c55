"""Reads definition files with ruamel.yaml, keeping the line and column of every node.

A loaded file is plain JSON-like data (dict, list, str, int, float, bool, None) plus a position
index from JSON path to (line, column), so later stages can work on ordinary data and still point
at the exact spot in the YAML when something is wrong.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .diagnostics import Diagnostic, JsonPath


def display_path(path: Path) -> str:
    """Path as shown in diagnostics: relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


@dataclass(slots=True)
class SourceFile:
    path: Path
    data: Any
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    raw: bytes = b""

    @property
    def display(self) -> str:
        return display_path(self.path)

    def locate(self, json_path: JsonPath) -> tuple[int, int]:
        """1-based (line, column) of the node at json_path, or of its nearest located ancestor."""
        path = tuple(json_path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (1, 1))

    def diagnostic(self, rule: str, message: str, json_path: JsonPath = (), hint: str = "") -> Diagnostic:
        line, column = self.locate(json_path)
        return Diagnostic(rule, message, self.display, line, column, tuple(json_path), hint)


class LoadError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(diagnostic.render())


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def _plain(node: Any, path: JsonPath, positions: dict[JsonPath, tuple[int, int]]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            key_str = str(key)
            child = (*path, key_str)
            try:
                line, col = node.lc.key(key)
                positions[child] = (line + 1, col + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            out[key_str] = _plain(value, child, positions)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            child = (*path, index)
            try:
                line, col = node.lc.item(index)
                positions[child] = (line + 1, col + 1)
            except (KeyError, TypeError, AttributeError, IndexError):
                pass
            items.append(_plain(value, child, positions))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.datetime | dt.date):
        return node.isoformat()
    if isinstance(node, dict):
        return {str(k): _plain(v, (*path, str(k)), positions) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, (*path, i), positions) for i, v in enumerate(node)]
    return str(node)


def load_yaml_file(path: Path) -> SourceFile:
    """Load one YAML file; raises LoadError with a located diagnostic on any problem."""
    shown = display_path(path)
    if not path.exists():
        raise LoadError(Diagnostic("file-not-found", f"file does not exist: {shown}", shown, 1, 1))
    if path.is_dir():
        raise LoadError(Diagnostic("file-not-found", f"expected a file, found a directory: {shown}", shown, 1, 1))
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            Diagnostic("yaml-syntax", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", shown, 1, 1)
        ) from None
    except OSError as exc:
        raise LoadError(Diagnostic("file-not-found", f"cannot read file: {exc.strerror}", shown, 1, 1)) from None
    try:
        node = _yaml().load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (exc.problem or "duplicate key").split("\n")[0]
        raise LoadError(
            Diagnostic("duplicate-key", problem, shown, line, col, hint="each key may appear once per mapping")
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise LoadError(Diagnostic("yaml-syntax", problem, shown, line, col)) from None
    except YAMLError as exc:
        raise LoadError(Diagnostic("yaml-syntax", str(exc).splitlines()[0], shown, 1, 1)) from None
    except RecursionError:
        raise LoadError(Diagnostic("yaml-syntax", "document nests too deeply", shown, 1, 1)) from None
    if node is None:
        raise LoadError(
            Diagnostic("empty-file", "file is empty", shown, 1, 1, hint="a definition file must hold a mapping")
        )
    positions: dict[JsonPath, tuple[int, int]] = {(): (1, 1)}
    try:
        data = _plain(node, (), positions)
    except RecursionError:
        raise LoadError(
            Diagnostic("yaml-syntax", "document nests too deeply (recursive YAML alias?)", shown, 1, 1)
        ) from None
    return SourceFile(path=path, data=data, positions=positions, raw=raw)
