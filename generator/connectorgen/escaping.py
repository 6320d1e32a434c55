"""Definition text can never become code: one escaping function per output language.

Every string that travels from a definition into generated output (descriptions, titles,
summaries, quirks, names, enum values, examples, the connector's own title and description) goes
through exactly one of these functions, chosen by where it lands:

- `py_str`: a Python string literal;
- `py_docstring` / `py_docline`: the inside of a `\"\"\"...\"\"\"` docstring (multi-line / one line);
- `py_comment`: the rest of a `#` comment line;
- `markdown_text` / `markdown_inline` / `markdown_table_cell` / `markdown_url`: Markdown (a block,
  one line, a table cell, a link destination);
- `html_text` / `html_attr`: HTML element content / a quoted attribute value;
- `yaml_str`, `json_value`, `toml_str`: values of those formats, written by their serializers.

Each function returns text that reads back as exactly the input (no character dropped except
where a one-line form folds line breaks into spaces), and from which the input cannot escape the
construct it is placed in. Names that become Python identifiers are not escaped: the validator
rejects them (`rules.py`), because no escaping turns arbitrary text into an identifier.
`register(env)` installs all of them as jinja2 filters of an emitter environment.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from typing import Any

import jinja2

_BACKTICK_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_MARKDOWN_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN_HTML_CHARS = re.compile("[&<>]")
#: URL characters kept as typed: reserved delimiters and `%` (already-encoded text stays as is).
_URL_SAFE = ":/?#[]@!$&'*+,;=%~"
#: Characters YAML forbids or that some YAML/JSON readers take for line breaks.
_YAML_UNSAFE = re.compile("[\u007f-\u009f\u2028\u2029\ufeff]")


def _char_escape(char: str) -> str:
    """Python escape sequence of one character (`\\r`, `\\x00`, `\\u2028`)."""
    return repr(char)[1:-1]


def one_line(text: Any) -> str:
    """The text on one line: every run of whitespace, line breaks included, becomes one space.

    `str.split()` splits on every Unicode line break (`\\r`, `\\x0b`, `\\x1c`, `\\x85`,
    `\\u2028`...), not only on `\\n`, which is what a line-based construct needs.
    """
    return " ".join(str(text).split())


# --- Python ------------------------------------------------------------------------------------


def py_str(value: Any) -> str:
    """A double-quoted Python string literal whose value is exactly `value` (what `repr` does,
    with the quotes ruff prefers, so the literal reads the same inside a docstring example)."""
    out = []
    for char in str(value):
        if char in '\\"':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(_char_escape(char))
    return '"' + "".join(out) + '"'


def py_docstring(text: Any) -> str:
    """Text to put between `\"\"\"` and `\"\"\"`: reads back as `text` and cannot end the docstring.

    Backslashes are doubled (no `\\N{`, `\\x`, line continuation or escaped closing quote); a
    double quote is escaped when another one follows it or when it is the last character, so
    no run of three unescaped quotes can form, not even with the closing `\"\"\"` of the template.
    Characters Python would not keep as typed (`\\r`, NUL, ...) are written as escapes.
    """
    text = str(text)
    out: list[str] = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char == '"' and (index + 1 == len(text) or text[index + 1] == '"'):
            out.append('\\"')
        elif char in "\n\t" or char.isprintable():
            out.append(char)
        else:
            out.append(_char_escape(char))
    return "".join(out)


def py_docline(text: Any) -> str:
    """`py_docstring` of the text folded onto one line (summaries, titles, argument docs)."""
    return py_docstring(one_line(text))


def py_comment(text: Any) -> str:
    """Text for the rest of a `#` comment: one line, so nothing after it can be code."""
    return "".join(char if char.isprintable() else _char_escape(char) for char in one_line(text))


# --- Markdown and HTML -------------------------------------------------------------------------


def _escape_outside_code_spans(text: str) -> str:
    """HTML-escape `&`, `<`, `>` except inside backtick code spans, which Markdown shows verbatim."""
    out: list[str] = []
    position = 0
    for match in _BACKTICK_CODE_SPAN.finditer(text):
        out.append(_MARKDOWN_HTML_CHARS.sub(lambda m: _MARKDOWN_HTML[m.group()], text[position : match.start()]))
        out.append(match.group())
        position = match.end()
    out.append(_MARKDOWN_HTML_CHARS.sub(lambda m: _MARKDOWN_HTML[m.group()], text[position:]))
    return "".join(out)


def markdown_text(text: Any) -> str:
    """A Markdown block: the definition's own Markdown (`code`, **bold**) is kept, raw HTML is not.

    Definition text is written in Markdown, so its formatting stays; `<`, `>` and `&` outside
    code spans become entities, so no tag, script or comment can be opened by it.
    """
    return _escape_outside_code_spans(str(text))


def markdown_inline(text: Any) -> str:
    """`markdown_text` on one line (headings, list items, link texts): no new block can start."""
    return markdown_text(one_line(text))


def markdown_table_cell(text: Any) -> str:
    """`markdown_inline` that cannot end its table cell (`|` escaped, code spans included)."""
    return markdown_inline(text).replace("|", "\\|")


def markdown_url(url: Any) -> str:
    """A URL for a Markdown link destination `(...)`: characters that would end it are %-encoded."""
    return urllib.parse.quote(one_line(url), safe=_URL_SAFE)


def html_text(text: Any) -> str:
    """Text for the content of an HTML element."""
    return html.escape(str(text), quote=False)


def html_attr(text: Any) -> str:
    """Text for a quoted HTML attribute value (both quote characters escaped)."""
    return html.escape(str(text), quote=True)


# --- data formats ------------------------------------------------------------------------------


def json_value(value: Any) -> str:
    """JSON text of a value (the serializer escapes quotes, backslashes and control characters)."""
    return json.dumps(value, ensure_ascii=False)


def yaml_str(text: Any) -> str:
    """A double-quoted YAML scalar: JSON string escapes are YAML escapes, plus the characters
    YAML forbids or reads as line breaks."""
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(str(text), ensure_ascii=False))


def toml_str(text: Any) -> str:
    """A TOML basic string (JSON's string escapes are a subset of TOML's)."""
    return json.dumps(str(text))


FILTERS = {
    "py_str": py_str,
    "py_docstring": py_docstring,
    "py_docline": py_docline,
    "py_comment": py_comment,
    "one_line": one_line,
    "markdown_text": markdown_text,
    "markdown_inline": markdown_inline,
    "markdown_table_cell": markdown_table_cell,
    "markdown_url": markdown_url,
    "html_text": html_text,
    "html_attr": html_attr,
    "json_value": json_value,
    "yaml_str": yaml_str,
    "toml_str": toml_str,
}


def register(env: jinja2.Environment) -> jinja2.Environment:
    """Install every escaping function as a jinja2 filter of `env` (and return it)."""
    env.filters.update(FILTERS)
    return env
