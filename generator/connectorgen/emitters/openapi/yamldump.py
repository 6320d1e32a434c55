"""A small, deterministic YAML writer for JSON data (dicts, lists, str, int, float, bool, None).

Keys keep their insertion order, so the YAML and JSON documents list everything in the same
order. Strings are written plain when that is unambiguous, as literal blocks when they span
lines, and JSON-style double-quoted otherwise (JSON string escapes are valid YAML escapes). The
output parses back to exactly the input with any YAML 1.1 or 1.2 loader.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...escaping import yaml_str

_PLAIN = re.compile(r"^[A-Za-z_$][A-Za-z0-9_ .,/()+=@$-]*$")
_RESERVED = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"})
_UNSAFE_CHARS = re.compile("[\u007f-\u009f\u2028\u2029\ufeff]")
_quoted = yaml_str


def scalar(value: Any) -> str:
    """One-line YAML form of a scalar (or an empty container)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    text = str(value)
    if (
        _PLAIN.match(text)
        and not text.endswith(" ")
        and "  " not in text
        and text.lower() not in _RESERVED
    ):
        return text
    return _quoted(text)


def _literal(text: str) -> str | None:
    """Header of a literal block (`|` or `|-`) when `text` can be written as one, else None."""
    if (
        "\n" not in text
        or "\r" in text
        or text.startswith((" ", "\n"))
        or _UNSAFE_CHARS.search(text)
    ):
        return None
    if any(not ch.isprintable() and ch not in "\n\t" for ch in text):
        return None
    body = text[:-1] if text.endswith("\n") else text
    if body.endswith("\n") or any(line.endswith((" ", "\t")) for line in body.split("\n")):
        return None
    return "|" if text.endswith("\n") else "|-"


def _emit(value: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            _emit_entry(f"{pad}{scalar(str(key))}:", item, indent, lines)
    else:
        for item in value:
            _emit_entry(f"{pad}-", item, indent, lines, in_list=True)


def _emit_entry(
    prefix: str, item: Any, indent: int, lines: list[str], *, in_list: bool = False
) -> None:
    if isinstance(item, dict | list | tuple) and item:
        if in_list:
            nested: list[str] = []
            _emit(item if not isinstance(item, tuple) else list(item), indent + 2, nested)
            lines.append(prefix + " " + nested[0][indent + 2 :])
            lines.extend(nested[1:])
        else:
            lines.append(prefix)
            _emit(item if not isinstance(item, tuple) else list(item), indent + 2, lines)
        return
    if isinstance(item, str):
        header = _literal(item)
        if header is not None:
            lines.append(f"{prefix} {header}")
            inner = " " * (indent + 2)
            body = item[:-1] if item.endswith("\n") else item
            lines.extend(f"{inner}{line}" if line else "" for line in body.split("\n"))
            return
    lines.append(f"{prefix} {scalar(item)}")


def dump(data: Any) -> str:
    """YAML text of `data` (a dict or list at the top), ending with a newline."""
    if not isinstance(data, dict | list) or not data:
        return scalar(data) + "\n"
    lines: list[str] = []
    _emit(data, 0, lines)
    return "\n".join(lines) + "\n"
