"""A second connector gets its own names everywhere, and the static runtime fits it too.

The rest-variants fixture is copied under another connector name with package names of its own
(`widget_co`, `WidgetCo`, `widget-co-client`, `WIDGETCO_`), generated (client, MCP, OpenAPI,
docs, sandbox) into a temporary folder, then:

- README, package and MCP server docstrings and the reference docs name its import name, client
  class, distribution and environment variables, and never another connector's;
- every constructor call the README and the docs show takes only arguments the generated client
  accepts, and the environment variables they name are the ones the client reads;
- the connector-independent runtime modules are copied byte for byte from
  `generator/connectorgen/emitters/{python,mcp}/runtime/` (they carry no template syntax), and the
  client and its MCP server, runtime included, pass `mypy --strict` for this connector too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectorgen.emitters import render_all
from connectorgen.pipeline import build
from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "rest_variants"
RUNTIME = {
    "python": REPO_ROOT / "generator" / "connectorgen" / "emitters" / "python" / "runtime",
    "mcp": REPO_ROOT / "generator" / "connectorgen" / "emitters" / "mcp" / "runtime",
}
IMPORT, CLIENT, DISTRIBUTION, PREFIX = "widget_co", "WidgetCo", "widget-co-client", "WIDGETCO_"
#: Names of the project's other connectors that must not leak into this one's output.
OTHER_NAMES = sorted(
    {p.name for p in (REPO_ROOT / "spec").iterdir() if (p / "connector.yaml").is_file()}
    | {"restdemo"}
)
#: Every output a client package holds (the sandbox too: the MCP server imports it).
OUTPUTS = ("python", "mcp", "openapi", "docs", "sandbox")


def _definition(root: Path) -> Path:
    folder = root / "spec" / "widgets"
    shutil.copytree(FIXTURE, folder)
    connector = folder / "connector.yaml"
    text = connector.read_text().replace("RESTDEMO_", PREFIX)
    text = text.replace(
        "connector: restdemo\n",
        "connector: widgets\n"
        f"package: {{distribution: {DISTRIBUTION}, import_name: {IMPORT}, "
        f"client_class: {CLIENT}, env_prefix: {PREFIX}}}\n",
        1,
    )
    assert "restdemo" not in text.lower()
    connector.write_text(text)
    for path in folder.rglob("*.yaml"):
        path.write_text(path.read_text().replace("restdemo", "widgets"))
    return folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("second")
    files = render_all(build(_definition(root)), only=OUTPUTS)
    out = root / "generated"
    for name, data in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    texts = {name: data.decode("utf-8") for name, data in files.items() if not name.endswith(".png")}
    texts["__root__"] = str(out)
    return texts


@pytest.fixture(scope="module")
def package(generated: dict[str, str]) -> Iterator[Any]:
    path = str(Path(generated["__root__"]) / "python")
    sys.path.insert(0, path)
    try:
        yield importlib.import_module(IMPORT)
    finally:
        sys.path.remove(path)
        for name in [m for m in sys.modules if m == IMPORT or m.startswith(IMPORT + ".")]:
            del sys.modules[name]


def _code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, re.S | re.M)


def _constructor_calls(code: str) -> list[tuple[str, set[str]]]:
    """(class name, keyword names) of every `WidgetCo(...)` / `AsyncWidgetCo(...)` call, comments included."""
    calls = []
    for line in code.splitlines():
        line = line.lstrip("# ").split("  #", 1)[0]
        for match in re.finditer(rf"\b((?:Async)?{CLIENT})\((.*?)\)", line):
            args = match.group(2)
            names = set(re.findall(r"(\w+)=", args))
            calls.append((match.group(1), names))
    return calls


def test_outputs_name_this_package(generated: dict[str, str]) -> None:
    readme = generated["python/README.md"]
    assert f"# {DISTRIBUTION}" in readme and f"pip install {DISTRIBUTION}" in readme
    assert f"from {IMPORT} import {CLIENT}, Async{CLIENT}" in readme
    assert f"{PREFIX}API_KEY" in readme and f"{PREFIX}BASE_URL" in readme
    assert f"`{IMPORT}-mcp`" in readme and f'logging.getLogger("{IMPORT}")' in readme
    assert f"`{CLIENT}Error` > `APIError`" in readme

    init = generated[f"python/{IMPORT}/__init__.py"]
    assert f"from {IMPORT} import {CLIENT}\n" in init and f"client = {CLIENT}(" in init

    server = generated[f"python/{IMPORT}/mcp/server.py"]
    assert f"run by `{CLIENT}`" in server and f"`Async{CLIENT}.invoke`" in server
    assert f'SERVER_NAME = "{IMPORT}-mcp"' in server and f'TOKEN_ENV = "{PREFIX}MCP_TOKEN"' in server
    assert f"\n    {PREFIX}API_KEY: " in server and "\n    None: " not in server
    assert "--tags things" in server

    spec = generated[f"python/{IMPORT}/_spec.py"]
    assert f'IMPORT_NAME: Final = "{IMPORT}"' in spec and f"class {CLIENT}Error(Exception)" in spec

    docs = generated["docs/index.md"]
    assert f"`{DISTRIBUTION}`, imported as `{IMPORT}`" in docs
    assert f"from {IMPORT} import {CLIENT}" in docs and f"`{PREFIX}API_KEY`" in docs


def test_outputs_name_no_other_connector(generated: dict[str, str]) -> None:
    pattern = re.compile("|".join(OTHER_NAMES), re.I)
    found = [
        f"{name}:{number}: {line.strip()[:120]}"
        for name, text in generated.items()
        if name != "__root__"
        for number, line in enumerate(text.splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)


def test_readme_and_docs_constructors_are_real(generated: dict[str, str], package: Any) -> None:
    accepted = {
        CLIENT: set(inspect.signature(package.WidgetCo.__init__).parameters) - {"self"},
        f"Async{CLIENT}": set(inspect.signature(package.AsyncWidgetCo.__init__).parameters) - {"self"},
    }
    shown = 0
    for name in ("python/README.md", "docs/index.md"):
        for block in _code_blocks(generated[name]):
            for cls, keywords in _constructor_calls(block):
                assert keywords <= accepted[cls], (name, cls, keywords - accepted[cls])
                shown += 1
    docstring = package.__doc__ or ""
    for cls, keywords in _constructor_calls(docstring):
        assert keywords <= accepted[cls], ("__init__ docstring", keywords - accepted[cls])
        shown += 1
    assert shown >= 4
    # the fixed password is not something to pass, and the README does not offer it
    assert "password=" not in generated["python/README.md"]


def test_environment_variables_shown_are_read(generated: dict[str, str], package: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = set(re.findall(rf"\b{PREFIX}[A-Z0-9_]+\b", generated["python/README.md"]))
    assert shown == {f"{PREFIX}API_KEY", f"{PREFIX}BASE_URL"}
    monkeypatch.setenv(f"{PREFIX}API_KEY", "k-from-env")
    monkeypatch.setenv(f"{PREFIX}BASE_URL", "http://127.0.0.1:9")
    client = package.WidgetCo()
    try:
        assert str(client.base_url).rstrip("/") == "http://127.0.0.1:9"
    finally:
        client.close()
    monkeypatch.delenv(f"{PREFIX}API_KEY")
    with pytest.raises(package.ConfigurationError, match="api_key"):
        package.WidgetCo()


def test_runtime_modules_are_copied_verbatim(generated: dict[str, str]) -> None:
    copied = 0
    for output, folder in RUNTIME.items():
        target = f"python/{IMPORT}" + ("/mcp" if output == "mcp" else "")
        for path in sorted(folder.glob("*.py")):
            source = path.read_text(encoding="utf-8")
            assert "{{" not in source and "{%" not in source, f"{path.name} holds template syntax"
            ast.parse(source)
            rendered = generated[f"{target}/{path.name}"]
            stamp, _, body = rendered.partition("\n")
            assert stamp.startswith("# Generated by connectorgen"), path.name
            assert body == source, f"{target}/{path.name} differs from {path}"
            copied += 1
    assert copied >= 9


def test_runtime_and_package_pass_mypy_strict(generated: dict[str, str]) -> None:
    python = Path(generated["__root__"]) / "python"
    env = {**os.environ, "MYPYPATH": str(python)}
    # the client and its MCP server; the sandbox (imported by the server) is the sandbox tests' own
    checked = [str(p.relative_to(python)) for p in sorted((python / IMPORT).glob("*.py"))]
    checked += [f"{IMPORT}/resources", f"{IMPORT}/mcp"]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         "--follow-imports", "silent", *checked],
        capture_output=True, text=True, cwd=python, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
