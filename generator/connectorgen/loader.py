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
from ruamel.yaml.constructor import ConstructorError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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
    # Composing nodes (not constructing Python objects) keeps every node's start mark; with
    # ruamel.yaml.clib installed this runs in C, several times faster than the round-trip loader.
    return YAML(typ="safe", pure=False)


MERGE_TAG = "tag:yaml.org,2002:merge"

#: Deepest nesting of mappings and sequences a file may use. Real definitions stay below 15; the
#: limit keeps the C composer (which recurses without a guard and would overflow the C stack) and
#: every later recursive stage (conversion, language schemas, $ref rewriting) far from any limit.
MAX_DEPTH = 64
#: Most nodes a file may hold once its aliases are expanded. Expanded aliases are copies, so a
#: "billion laughs" file would otherwise grow exponentially; a large real definition file has ~2,000.
MAX_NODES = 100_000
#: Largest definition file read at all (large real definition files are ~20 KB).
MAX_FILE_BYTES = 4 * 1024 * 1024
LIMIT_RULE = "yaml-limit"


def _limit_error(shown: str, event: NodeEvent, message: str, hint: str) -> LoadError:
    mark = event.start_mark
    return LoadError(Diagnostic(LIMIT_RULE, message, shown, mark.line + 1, mark.column + 1, hint=hint))


def check_limits(yaml: YAML, text: str, shown: str) -> None:
    """Reject too-deep nesting and alias bombs from the parse events, before anything is composed.

    The event parser is a state machine (no recursion), and the walk stops at the first event past
    a limit, so a hostile file costs time and memory proportional to the limits, not to its size.
    """
    open_sizes = [0]  # nodes inside each open collection (expanded); [0] is the document level
    open_anchors: list[str | None] = []
    anchor_sizes: dict[str, int] = {}
    total = 0
    for event in yaml.parse(text):
        if isinstance(event, AliasEvent):
            size = anchor_sizes.get(event.anchor, 1)  # unknown or still open: the composer reports it
            open_sizes[-1] += size
            total += size
            if total > MAX_NODES:
                raise _limit_error(
                    shown, event, f"aliases expand this file to more than {MAX_NODES} nodes",
                    "refer to large anchors less often, or write the data out once (a YAML alias bomb?)",
                )
            continue
        if isinstance(event, CollectionEndEvent):
            size = open_sizes.pop()
            open_sizes[-1] += size
            anchor = open_anchors.pop()
            if anchor is not None:
                anchor_sizes[anchor] = size
            continue
        if not isinstance(event, ScalarEvent | CollectionStartEvent):
            continue
        total += 1
        if total > MAX_NODES:
            raise _limit_error(
                shown, event, f"file holds more than {MAX_NODES} nodes", "split the definition into more files"
            )
        if isinstance(event, ScalarEvent):
            open_sizes[-1] += 1
            if event.anchor is not None:
                anchor_sizes[event.anchor] = 1
            continue
        if len(open_anchors) >= MAX_DEPTH:
            raise _limit_error(
                shown, event, f"mappings and sequences nest more than {MAX_DEPTH} levels deep",
                "flatten the structure, e.g. move nested schemas under $defs and refer to them",
            )
        open_sizes.append(1)
        open_anchors.append(event.anchor)


class _Converter:
    """Turns composed YAML nodes into plain JSON-like data plus a JSON path -> position index."""

    def __init__(self, yaml: YAML, shown: str) -> None:
        self.constructor = yaml.constructor
        self.shown = shown
        self.positions: dict[JsonPath, tuple[int, int]] = {(): (1, 1)}
        self.active: set[int] = set()

    def fail(self, rule: str, message: str, node: Node, hint: str = "") -> LoadError:
        mark = node.start_mark
        return LoadError(Diagnostic(rule, message, self.shown, mark.line + 1, mark.column + 1, hint=hint))

    def scalar(self, node: Node) -> Any:
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return str(value)

    def key_text(self, node: Node) -> str:
        if isinstance(node, ScalarNode):
            value = self.scalar(node)
            return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        raise self.fail("wrong-type", "mapping keys must be plain scalars", node)

    def convert(self, node: Node, path: JsonPath) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            raise self.fail("yaml-syntax", "an alias refers to a node that contains it (recursive YAML alias)", node)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                items = []
                for index, child in enumerate(node.value):
                    child_path = (*path, index)
                    self.positions[child_path] = (child.start_mark.line + 1, child.start_mark.column + 1)
                    items.append(self.convert(child, child_path))
                return items
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            raise self.fail("yaml-syntax", f"unsupported YAML node {type(node).__name__}", node)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise self.fail("yaml-syntax", "a merge key (<<) needs a mapping or a list of mappings", source)
                    merged.append(source)
                continue
            key = self.key_text(key_node)
            if key in out:
                raise self.fail(
                    "duplicate-key", f'found duplicate key "{key}"', key_node, "each key may appear once per mapping"
                )
            child_path = (*path, key)
            self.positions[child_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.convert(value_node, child_path)
        for source in merged:  # explicit keys win over merged ones
            for key, value in self.mapping(source, path).items():
                out.setdefault(key, value)
        return out


def load_yaml_file(path: Path) -> SourceFile:
    """Load one YAML file; raises LoadError with a located diagnostic on any problem."""
    shown = display_path(path)
    if not path.exists():
        raise LoadError(Diagnostic("file-not-found", f"file does not exist: {shown}", shown, 1, 1))
    if path.is_dir():
        raise LoadError(Diagnostic("file-not-found", f"expected a file, found a directory: {shown}", shown, 1, 1))
    if not path.is_file():  # a FIFO or device would block or never end
        raise LoadError(Diagnostic("file-not-found", f"not a regular file: {shown}", shown, 1, 1))
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise LoadError(
                Diagnostic(
                    LIMIT_RULE, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", shown, 1, 1,
                    hint="split the definition into more files",
                )
            )
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            Diagnostic("yaml-syntax", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", shown, 1, 1)
        ) from None
    except OSError as exc:
        raise LoadError(Diagnostic("file-not-found", f"cannot read file: {exc.strerror}", shown, 1, 1)) from None
    yaml = _yaml()
    try:
        check_limits(yaml, text, shown)
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise LoadError(Diagnostic("yaml-syntax", problem, shown, line, col)) from None
    except YAMLError as exc:
        raise LoadError(Diagnostic("yaml-syntax", str(exc).splitlines()[0], shown, 1, 1)) from None
    if node is None:
        raise LoadError(
            Diagnostic("empty-file", "file is empty", shown, 1, 1, hint="a definition file must hold a mapping")
        )
    converter = _Converter(yaml, shown)
    try:
        data = converter.convert(node, ())
    except (ConstructorError, ValueError, TypeError) as exc:
        mark = getattr(exc, "problem_mark", None) or node.start_mark
        raise LoadError(Diagnostic("yaml-syntax", str(exc).splitlines()[0], shown, mark.line + 1, mark.column + 1)) from None
    positions = converter.positions
    return SourceFile(path=path, data=data, positions=positions, raw=raw)
