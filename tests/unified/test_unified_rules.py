"""Mapping validation: every rule of `MAPPING_RULES` has a failing fixture under
`tests/fixtures/mapping_rules/<rule-id>/` that reports exactly that rule, file and line.

A fixture holds files laid over a copy of the repository's `spec/gorgias/` and `unified_mappings/`
(in a temporary folder), and `expected.txt` with the `FILE:LINE:COL rule` of every diagnostic."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest

from connectorgen.cli import main
from connectorgen.pipeline import validate
from connectorgen.unified import MAPPING_RULES
from tests.conftest import GORGIAS_SPEC, REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "mapping_rules"
RULE_FIXTURES = sorted(p for p in FIXTURES.iterdir() if p.is_dir())


def overlay(fixture: Path | None, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "spec" / "gorgias", root / "spec" / "gorgias")
    shutil.copytree(REPO_ROOT / "unified_mappings", root / "unified_mappings")
    if fixture is not None:
        shutil.copytree(fixture, root, dirs_exist_ok=True)
        (root / "expected.txt").unlink(missing_ok=True)
    return root


def diagnostics_in(root: Path) -> list[str]:
    cwd = Path.cwd()
    os.chdir(root)
    try:
        connector, diagnostics = validate(Path("spec/gorgias"))
    finally:
        os.chdir(cwd)
    assert connector is None
    return [f"{d.file}:{d.line}:{d.column} {d.rule}" for d in sorted(diagnostics, key=lambda d: d.sort_key())]


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: p.name)
def test_mapping_rule_fixture_reports_rule_file_and_line(fixture: Path, tmp_path: Path) -> None:
    got = diagnostics_in(overlay(fixture, tmp_path))
    expected = [line for line in (fixture / "expected.txt").read_text().splitlines() if line]
    assert got == expected
    assert any(line.endswith(f" {fixture.name}") for line in got), "the fixture must trigger its own rule"


def test_every_mapping_rule_has_a_fixture() -> None:
    assert set(MAPPING_RULES) <= {p.name for p in RULE_FIXTURES}


def test_bundled_mappings_are_valid_and_compiled() -> None:
    connector, diagnostics = validate(GORGIAS_SPEC)
    assert [d.render() for d in diagnostics] == []
    assert connector is not None and connector.unified is not None
    resources = {(r.category, r.name): [m.kind for m in r.methods] for r in connector.unified.resources}
    assert resources[("ticketing", "tickets")] == ["list", "get", "create", "update", "delete"]
    assert resources[("ticketing", "attachments")] == ["list"]
    assert resources[("ticketing", "fields")] == ["list", "get", "create", "update"]
    assert resources[("user_directory", "users")] == ["list", "get", "create", "update", "delete"]
    assert len(resources) == 10


def test_cli_reports_mapping_errors_in_the_located_format(tmp_path: Path) -> None:
    root = overlay(FIXTURES / "mapping-unknown-source", tmp_path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(root / "spec" / "gorgias")])
    assert code == 1
    text = err.getvalue()
    assert "tags.yaml:10:3: error[mapping-unknown-source]: 'decoration.colour'" in text
    assert "hint: did you mean 'color'?" in text
    assert "Traceback" not in text


def test_definitions_without_mappings_have_no_unified_api(tmp_path: Path) -> None:
    root = overlay(None, tmp_path)
    shutil.rmtree(root / "unified_mappings" / "gorgias")
    connector, diagnostics = validate(root / "spec" / "gorgias")
    assert diagnostics == [] and connector is not None and connector.unified is None


def test_mapping_files_point_editors_at_the_language_schemas() -> None:
    for path in (REPO_ROOT / "unified_mappings").rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target.exists(), f"{path}: {target}"
