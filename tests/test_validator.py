"""The definition validator: rule catalogue fixtures, malformed input, exit codes, locations."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from connectorgen.cli import main
from connectorgen.definition import language_schema
from connectorgen.pipeline import REPO_ROOT, validate
from connectorgen.rules import RULES

FIXTURES = Path(__file__).parent / "fixtures"
MINIMAL = FIXTURES / "minimal"
GORGIAS = REPO_ROOT / "spec" / "gorgias"
RULE_FIXTURES = sorted(p for p in (FIXTURES / "rules").iterdir() if p.is_dir())
MALFORMED = sorted(p for p in (FIXTURES / "malformed").iterdir() if p.is_dir())
DIAGNOSTIC_LINE = re.compile(r"^\S+:\d+:\d+: error\[[a-z0-9-]+\]: \S.*$", re.MULTILINE)
#: Rule ids produced before the semantic catalogue runs (loader and language-schema checks).
STRUCTURAL_RULES = {
    "yaml-syntax", "empty-file", "file-not-found", "duplicate-key", "unknown-key", "missing-key",
    "wrong-type", "unknown-kind", "invalid-value", "unresolved-ref", "cyclic-ref", "duplicate-schema-name",
    "yaml-limit", "include-outside-definition",
}


def overlay(fixture: Path, tmp_path: Path) -> Path:
    """The minimal definition with the fixture's files laid over it (DELETE lists files to drop)."""
    root = tmp_path / "def"
    shutil.copytree(MINIMAL, root)
    shutil.copytree(fixture, root, dirs_exist_ok=True)
    (root / "expected.txt").unlink(missing_ok=True)
    deletions = root / "DELETE"
    if deletions.exists():
        for name in deletions.read_text().split():
            (root / name).unlink()
        deletions.unlink()
    return root


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_bundled_gorgias_definition_is_valid() -> None:
    connector, diagnostics = validate(GORGIAS)
    assert [d.render() for d in diagnostics] == []
    assert connector is not None
    assert connector.name == "gorgias"
    assert len(connector.operations) >= 104


def test_minimal_fixture_is_valid() -> None:
    code, out, err = run_cli("validate", str(MINIMAL))
    assert (code, err) == (0, "")
    assert "3 operations" in out


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: p.name)
def test_rule_fixture_reports_exact_rule_and_location(fixture: Path, tmp_path: Path) -> None:
    root = overlay(fixture, tmp_path)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        connector, diagnostics = validate(Path("."))
    finally:
        os.chdir(cwd)
    assert connector is None
    got = [f"{d.file}:{d.line}:{d.column} {d.rule}" for d in sorted(diagnostics, key=lambda d: d.sort_key())]
    expected = (fixture / "expected.txt").read_text().split("\n")
    assert got == [line for line in expected if line]
    assert any(line.endswith(f" {fixture.name}") for line in got), "the fixture must trigger its own rule"


def test_every_rule_has_a_failing_fixture() -> None:
    fixture_names = {p.name for p in RULE_FIXTURES}
    assert set(RULES) | STRUCTURAL_RULES <= fixture_names


@pytest.mark.parametrize("fixture", MALFORMED, ids=lambda p: p.name)
def test_malformed_input_gives_located_errors_not_tracebacks(fixture: Path, tmp_path: Path) -> None:
    root = overlay(fixture, tmp_path)
    code, _, err = run_cli("validate", str(root))
    assert code == 1
    assert "Traceback" not in err
    assert "internal-error" not in err
    assert DIAGNOSTIC_LINE.search(err), err


def test_enough_malformed_fixtures() -> None:
    assert len(MALFORMED) >= 25


@pytest.mark.parametrize("name", ["binary-garbage", "deep-nesting", "recursive-alias", "missing-connector"])
def test_malformed_input_in_a_real_process(name: str, tmp_path: Path) -> None:
    root = overlay(FIXTURES / "malformed" / name, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "connectorgen.cli", "validate", str(root)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert DIAGNOSTIC_LINE.search(proc.stderr)


def test_all_problems_reported_at_once_sorted_by_file_and_line(tmp_path: Path) -> None:
    root = overlay(FIXTURES / "rules" / "unknown-key", tmp_path)
    things = root / "resources" / "things.yaml"
    text = things.read_text().replace("kind: create", "kind: creat").replace("tool: list_all_demo_things", "tool: Bad")
    things.write_text(text)
    code, _, err = run_cli("validate", str(root))
    assert code == 1
    lines = DIAGNOSTIC_LINE.findall(err)
    rules = [re.search(r"error\[([a-z-]+)\]", line).group(1) for line in lines]  # type: ignore[union-attr]
    assert {"unknown-key", "unknown-kind"} <= set(rules)
    positions = [tuple(map(int, line.split(":")[1:3])) for line in lines]
    assert positions == sorted(positions)
    assert "hint: did you mean 'create'?" in err
    assert "at $.operations[2].kind" in err


def test_usage_errors_exit_2() -> None:
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["no-such-command"]) == 2
        assert main([]) == 2


def test_language_schemas_are_valid_json_schema() -> None:
    for name in ("connector", "resource", "schema-file"):
        schema = language_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_definition_files_point_editors_at_the_language_schemas() -> None:
    for path in GORGIAS.rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target.exists(), f"{path}: {target}"


@pytest.mark.parametrize("fixture", RULE_FIXTURES + MALFORMED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_diagnostic_has_a_path_and_a_one_line_hint(fixture: Path, tmp_path: Path) -> None:
    code, _, err = run_cli("validate", str(overlay(fixture, tmp_path)))
    assert code == 1
    blocks = re.split(r"\n(?=\S+:\d+:\d+: error\[)", err.strip().rsplit("\n", 1)[0])
    for block in blocks:
        lines = block.splitlines()
        assert DIAGNOSTIC_LINE.match(lines[0]), block
        hints = [line for line in lines[1:] if line.startswith("  hint: ")]
        assert len(hints) == 1 and hints[0].strip() != "hint:", block


def _with_alternatives(tmp_path: Path, envelope: str, alternatives: str) -> Path:
    """The minimal definition with `alternative_envelopes` on the response of one operation."""
    root = tmp_path / "def"
    shutil.copytree(MINIMAL, root)
    connector = root / "connector.yaml"
    connector.write_text(
        connector.read_text().replace(
            "  empty:\n", "  bare_array:\n    type: bare_array\n    description: Items.\n  empty:\n", 1
        )
    )
    resource = next((root / "resources").glob("*.yaml"))
    text = resource.read_text()
    marker = f"      envelope: {envelope}\n"
    assert marker in text
    resource.write_text(text.replace(marker, f"{marker}      alternative_envelopes: {alternatives}\n", 1))
    return root


def test_alternative_envelopes_compile_into_the_response(tmp_path: Path) -> None:
    connector, diagnostics = validate(_with_alternatives(tmp_path, "cursor_list", "[bare_array]"))
    assert [d.render() for d in diagnostics] == []
    assert connector is not None
    (op,) = [op for op in connector.operations if op.response.envelope.type == "cursor_list"]
    assert [e.name for e in op.response.alternatives] == ["bare_array"]


@pytest.mark.parametrize(
    ("envelope", "alternatives", "rule", "words"),
    [
        ("cursor_list", "[bare_arrays]", "unknown-behaviour", "unknown envelope 'bare_arrays'"),
        ("cursor_list", "[object]", "response-schema", "only list envelopes"),
        ("object", "[bare_array]", "response-schema", "only list envelopes"),
    ],
)
def test_alternative_envelopes_must_be_declared_lists(
    tmp_path: Path, envelope: str, alternatives: str, rule: str, words: str
) -> None:
    connector, diagnostics = validate(_with_alternatives(tmp_path, envelope, alternatives))
    assert connector is None
    (problem,) = diagnostics
    assert problem.rule == rule and words in problem.message
    assert DIAGNOSTIC_LINE.match(problem.render())
    assert problem.file.endswith(".yaml") and problem.line > 1
