"""Definition text can never become code.

Hostile text is placed in every text field of every kind of definition file (connector, resource,
operation, parameter, schema, unified model and mapping), the definition is generated, and the
generated package is imported and its MCP server started with `--list-tools` in a subprocess whose
working directory is the temporary folder: a payload that became code would create `PWNED` there.
The text must also come back intact (docstrings, tool descriptions) and escaped in Markdown/HTML.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectorgen import escaping
from tests.conftest import REPO_ROOT
from tests.test_generate import run as run_cli

MINIMAL = REPO_ROOT / "tests" / "fixtures" / "minimal"
SCHEMA_2020 = "https://json-schema.org/draft/2020-12/schema"

PAYLOADS = {
    "triple-quotes": 'x"""; open("PWNED","w"); """',
    "string-concat": 'Gorgias" + str(open("PWNED","w")) + "',
    "backslashes": "a\\b \\\\ \\N{DIGIT ONE} \\x41 \\u0041 \\",
    "trailing-quote": 'ends with a quote"',
    "newline-code": 'line one\n"""\nopen("PWNED","w")\n# \'\'\'\nimport os; os.system("touch PWNED")',
    "html-script": '</script><script>open("PWNED")</script> <!-- & -->',
}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000))


def _connector(text: str) -> dict[str, Any]:
    c = _load(MINIMAL / "connector.yaml")
    c["title"] = "Demo " + text
    c["description"] = text
    c["server"]["variables"]["subdomain"]["description"] = text
    c["auth"]["basic"]["description"] = text
    c["auth"]["basic"]["username"]["description"] = text
    c["auth"]["oauth2"]["description"] = text
    c["auth"]["oauth2"]["scopes"]["things:read"] = text
    c["paginators"]["cursor"]["description"] = text
    for envelope in c["envelopes"].values():
        envelope["description"] = text
    c["rate_limits"]["standard"]["description"] = text
    c["retry_policies"]["default"]["description"] = text
    c["errors"]["description"] = text
    return c


def _resource(text: str) -> dict[str, Any]:
    r = _load(MINIMAL / "resources" / "things.yaml")
    r["title"] = text
    r["description"] = text
    for op in r["operations"]:
        op["summary"] = text[:80]
        op["description"] = text
        op["quirks"] = [text]
    get = r["operations"][1]
    get["parameters"][0]["description"] = text
    get["parameters"].append(
        {
            "name": "mode",
            "in": "query",
            "description": text,
            "schema": {
                "type": "string",
                "enum": [text, "plain"],
                "default": text,
                "examples": [text],
            },
        }
    )
    get["examples"][0].update(
        name=text, arguments={"id": 7, "mode": text}, response={"id": 7, "name": text}
    )
    return r


def _thing_schema(text: str) -> dict[str, Any]:
    t = _load(MINIMAL / "schemas" / "thing.yaml")
    t["description"] = text
    t["properties"]["name"].update(description=text, examples=[text])
    t["properties"]["kind"] = {
        "type": "string",
        "enum": [text, "plain"],
        "description": text,
        "default": text,
    }
    t["properties"]["label"] = {
        "type": "string",
        "title": text,
        "description": text,
        "x-known-values": [text],
    }
    for part in t["$defs"].values():
        part["description"] = text
    t["$defs"]["ThingCreate"]["properties"]["name"]["description"] = text
    return t


def _unified(root: Path, text: str) -> None:
    common = {
        "$schema": SCHEMA_2020,
        "title": "UnifiedCommon",
        "description": text,
        "type": "object",
        "$defs": {
            "UnifiedReference": {
                "title": "UnifiedReference",
                "type": "object",
                "description": text,
                "required": ["id"],
                "properties": {"id": {"type": "string", "description": text}},
            }
        },
    }
    model = {
        "$schema": SCHEMA_2020,
        "title": "UnifiedThing",
        "description": text,
        "type": "object",
        "required": ["id", "remote_data"],
        "properties": {
            "id": {"type": "string", "description": text},
            "name": {"type": ["string", "null"], "description": text},
            "kind": {
                "type": ["string", "null"],
                "description": text,
                "x-known-values": [text, "plain"],
            },
            "remote_data": {"type": "object", "description": text, "additionalProperties": True},
        },
        "x-list-filters": {"name": {"type": "string", "description": text}},
    }
    mapping = {
        "unified": "ticketing/things",
        "description": text,
        "response": {
            "id": {"from": "id", "as": "string"},
            "name": "name",
            "kind": {"const": text},
            "remote_data": "$",
        },
        "methods": {
            "list": {"operation": "list_all_demo_things", "description": text},
            "get": {
                "operation": "get_single_demo_thing_by_id",
                "description": text,
                "request": {"id": {"from": "id", "as": "integer"}},
            },
        },
    }
    _dump(root / "unified_mappings" / "models" / "common.yaml", common)
    _dump(root / "unified_mappings" / "models" / "ticketing" / "things.yaml", model)
    _dump(root / "unified_mappings" / "demo" / "ticketing" / "things.yaml", mapping)


def hostile_definition(root: Path, text: str) -> Path:
    """The minimal fixture with `text` in every text field, plus unified mappings; returns spec/demo."""
    spec = root / "spec" / "demo"
    _dump(spec / "connector.yaml", _connector(text))
    _dump(spec / "resources" / "things.yaml", _resource(text))
    _dump(spec / "schemas" / "thing.yaml", _thing_schema(text))
    for name in ("error", "page"):
        _dump(spec / "schemas" / f"{name}.yaml", _load(MINIMAL / "schemas" / f"{name}.yaml"))
    _unified(root, text)
    return spec


@pytest.fixture(scope="module", params=list(PAYLOADS), ids=list(PAYLOADS))
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """(payload, temporary root) with the hostile definition generated into `<root>/out`."""
    text = PAYLOADS[request.param]
    root = tmp_path_factory.mktemp(f"hostile-{request.param}")
    spec = hostile_definition(root, text)
    code, output = run_cli("generate", str(spec), "-o", str(root / "out"))
    assert code == 0, output
    return text, root


#: Imports every generated module and prints the texts that must round-trip, as JSON.
PROBE = """
import importlib, json, pkgutil, demo
names = sorted(m.name for m in pkgutil.walk_packages(demo.__path__, "demo."))
for name in names:
    importlib.import_module(name)
from demo.resources.things import ThingsResource
from demo.unified.models import UnifiedThing
print(json.dumps({
    "modules": names,
    "method_doc": ThingsResource.get.__doc__,
    "unified_field": UnifiedThing.model_fields["name"].description,
}))
"""


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "out" / "python"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DEMO_SUBDOMAIN", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _outside_code(markdown: str) -> str:
    """Markdown without its fenced code blocks and code spans (which no renderer reads as HTML)."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"(`+).+?\1", "", markdown)


def _no_pwned_file(root: Path) -> None:
    assert not [p for p in root.rglob("*PWNED*")], "a definition text ran as code"
    assert not (Path.cwd() / "PWNED").exists()


def test_generated_python_is_valid_and_never_runs_definition_text(
    hostile: tuple[str, Path],
) -> None:
    text, root = hostile
    for path in (root / "out" / "python").rglob("*.py"):
        ast.parse(path.read_text(), str(path))
    probe = _run(root, "-c", PROBE)
    assert probe.returncode == 0, probe.stderr
    listed = _run(root, "-m", "demo.mcp", "--list-tools")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == [
        "list_all_demo_things",
        "get_single_demo_thing_by_id",
        "create_a_demo_thing",
    ]
    _no_pwned_file(root)
    seen = json.loads(probe.stdout)
    assert {"demo.models", "demo.mcp.server", "demo.sandbox", "demo.unified.mappers"} <= set(
        seen["modules"]
    )
    # the text is data again: exactly what the definition said (folded onto one line in one-line docs)
    assert escaping.one_line(text) in seen["method_doc"]
    assert seen["unified_field"] == escaping.one_line(text)


def test_definition_text_round_trips_into_tools_and_openapi(hostile: tuple[str, Path]) -> None:
    text, root = hostile
    tools = json.loads((root / "out" / "mcp" / "demo.tools.json").read_text())
    get = next(t for t in tools["tools"] if t["name"] == "get_single_demo_thing_by_id")
    assert escaping.one_line(get["description"]).startswith(escaping.one_line(text))
    assert get["inputSchema"]["properties"]["mode"]["enum"] == [text, "plain"]
    openapi = json.loads((root / "out" / "openapi" / "demo.openapi.json").read_text())
    assert openapi["info"]["title"] == f"Demo {text} API"
    yaml_doc = yaml.safe_load((root / "out" / "openapi" / "demo.openapi.yaml").read_text())
    assert yaml_doc["info"]["title"] == f"Demo {text} API"
    assert yaml_doc["components"]["schemas"]["Thing"]["properties"]["kind"]["enum"] == [
        text,
        "plain",
    ]


def test_markdown_and_html_docs_hold_the_escaped_text(hostile: tuple[str, Path]) -> None:
    text, root = hostile
    docs = root / "out" / "docs"
    markdown = "\n".join(p.read_text() for p in docs.rglob("*.md"))
    html_pages = "\n".join(p.read_text() for p in docs.rglob("*.html"))
    assert escaping.markdown_inline(text) in markdown
    if "<" in text:
        # Markdown shows code spans and fenced blocks verbatim; everywhere else no tag may open
        assert "<script" not in _outside_code(markdown) and "&lt;script&gt;" in markdown
        assert "<script>open" not in html_pages and "&lt;script&gt;open" in html_pages
    else:
        assert escaping.markdown_text(text) in markdown


# --- the escaping functions ------------------------------------------------------------------


@pytest.mark.parametrize("text", [*PAYLOADS.values(), "\r\x00\u2028é\t", '""""', "\\"], ids=repr)
def test_python_escapes_read_back_as_the_text(text: str) -> None:
    assert ast.literal_eval(escaping.py_str(text)) == text
    assert escaping.py_str(text).startswith('"')
    assert ast.literal_eval('"""' + escaping.py_docstring(text) + '"""') == text
    assert ast.literal_eval('"""' + escaping.py_docline(text) + '"""') == escaping.one_line(text)
    # a comment stays one line: nothing after it can be code
    source = f"# {escaping.py_comment(text)}\nvalue = 1\n"
    assert len(source.splitlines()) == 2 and ast.parse(source).body[0].lineno == 2


def test_markdown_escapes_keep_code_spans_and_neutralise_html() -> None:
    assert (
        escaping.markdown_text("use `a && b` <b>x</b> & co")
        == "use `a && b` &lt;b&gt;x&lt;/b&gt; &amp; co"
    )
    assert escaping.markdown_inline("one\n# two") == "one # two"
    assert escaping.markdown_table_cell("a | `b|c`\nd") == "a \\| `b\\|c` d"
    assert escaping.markdown_url("https://x.example/a b)c") == "https://x.example/a%20b%29c"
    assert escaping.html_attr("\"<x>'") == "&quot;&lt;x&gt;&#x27;"


def test_data_format_escapes_use_their_serializers() -> None:
    for text in PAYLOADS.values():
        assert yaml.safe_load("key: " + escaping.yaml_str(text))["key"] == text
        assert json.loads(escaping.json_value({"k": text})) == {"k": text}
        assert json.loads(escaping.toml_str(text)) == text


# --- names are checked, and an unescaped text is reported at its field -----------------------


def test_unified_field_names_must_be_python_names(tmp_path: Path) -> None:
    hostile_definition(tmp_path, "plain text")
    model_file = tmp_path / "unified_mappings" / "models" / "ticketing" / "things.yaml"
    model = _load(model_file)
    model["properties"]['name"); import os; ("'] = {"type": ["string", "null"], "description": "x"}
    model["x-list-filters"]["class"] = {"type": "string", "description": "a keyword"}
    _dump(model_file, model)
    code, output = run_cli("validate", str(tmp_path / "spec" / "demo"))
    assert code == 1
    assert (
        'things.yaml:8:1: error[invalid-value]: "name\\"); import os; (\\"" does not match'
        in output
    )
    assert (
        "error[invalid-value]: \"class\" does not match the pattern of 'x-list-filters'" in output
    )
    assert "Traceback" not in output


def test_a_text_that_breaks_generated_code_is_reported_at_its_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were a template to forget escaping, `generate` names the field instead of crashing."""
    spec = hostile_definition(tmp_path, "plain text")
    resource = _load(spec / "resources" / "things.yaml")
    resource["operations"][1]["summary"] = 'Breaks """ here'
    _dump(spec / "resources" / "things.yaml", resource)
    summary_line = 1 + next(
        i
        for i, line in enumerate((spec / "resources" / "things.yaml").read_text().splitlines())
        if "Breaks" in line
    )
    import connectorgen.emitters.python as python_emitter

    monkeypatch.setattr(python_emitter, "py_docline", str)  # the old, unescaped behaviour
    code, output = run_cli("generate", str(spec), "-o", str(tmp_path / "out"))
    assert code == 1
    assert (
        f"things.yaml:{summary_line}:3: error[generated-code-invalid]: this text breaks the generated "
        "Python at python/demo/resources/things.py:"
    ) in output
    assert "at $.operations[1].summary" in output
    assert "Traceback" not in output


def test_an_emitter_failure_is_a_located_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = hostile_definition(tmp_path, "plain text")
    import connectorgen.emitters.docs as docs_emitter

    def broken(connector: Any) -> dict[str, str]:
        raise ValueError("cannot render")

    monkeypatch.setattr(docs_emitter, "emit", broken)
    code, output = run_cli("generate", str(spec), "-o", str(tmp_path / "out"))
    assert code == 1
    assert (
        "connector.yaml:1:1: error[internal-error]: generating failed: ValueError: cannot render"
        in output
    )
    assert "Traceback" not in output
