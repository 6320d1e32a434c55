"""Many connectors: `spec/<connector>/` → `generated/<connector>/`, and no command touches another's output.

A project root in a tmp folder holds the real Gorgias definition, mappings and committed output,
plus a second, tiny connector copied from tests/fixtures/minimal.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectorgen import layout
from connectorgen.emitters import MANIFEST
from tests.conftest import REPO_ROOT
from tests.test_generate import run

MINIMAL = REPO_ROOT / "tests" / "fixtures" / "minimal"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (the ignored manifest included) and its sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not any(x.endswith(".egg-info") for x in p.parts)
    }


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "spec" / "gorgias", root / "spec" / "gorgias")
    shutil.copytree(REPO_ROOT / "unified_mappings", root / "unified_mappings")
    shutil.copytree(
        REPO_ROOT / "generated" / "gorgias",
        root / "generated" / "gorgias",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", MANIFEST),
    )
    shutil.copytree(MINIMAL, root / "spec" / "tiny")
    return root


def test_generating_one_connector_leaves_the_others_untouched(project: Path) -> None:
    gorgias_before = snapshot(project / "generated" / "gorgias")
    repo_before = snapshot(REPO_ROOT / "generated")
    assert len(gorgias_before) > 100

    code, text = run("generate", str(project / "spec" / "tiny"))
    assert code == 0, text
    assert "removed 0" in text
    tiny = project / "generated" / "tiny"
    assert (tiny / "python" / "pyproject.toml").is_file()
    assert (tiny / "mcp" / "demo.tools.json").is_file()
    assert (tiny / "openapi" / "demo.openapi.json").is_file()
    assert (tiny / "docs" / "index.md").is_file()
    pyproject = (tiny / "python" / "pyproject.toml").read_text()  # a package of its own, named after it
    assert 'name = "demo-client"' in pyproject and '"demo-mcp" = "demo.mcp.__main__:main"' in pyproject
    assert snapshot(project / "generated" / "gorgias") == gorgias_before
    assert snapshot(REPO_ROOT / "generated") == repo_before
    # only a run over every connector writes the requirements file
    assert sorted(p.name for p in (project / "generated").iterdir()) == ["gorgias", "tiny"]
    assert run("generate", str(project / "spec" / "tiny"), "--check")[0] == 0


def test_one_connector_into_the_folder_of_every_connector_is_refused(project: Path) -> None:
    before = snapshot(project / "generated")
    code, text = run("generate", str(project / "spec" / "tiny"), "-o", str(project / "generated"))
    assert code == 2
    assert "gorgias" in text and str(project / "generated" / "tiny") in text
    assert snapshot(project / "generated") == before


def test_no_argument_handles_every_connector(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "spec" / "tiny" / "resources")  # the project is found from any folder in it
    assert layout.project_root() == project.resolve()

    code, text = run("validate")
    assert code == 0, text
    assert "gorgias: valid" in text and "tiny: valid" in text

    code, text = run("generate", "--check")
    assert code == 1  # tiny and the requirements file are not generated yet
    assert "tiny: generated output is out of date" in text
    assert "gorgias: generated output is up to date" in text

    code, text = run("generate")
    assert code == 0, text
    assert "gorgias: wrote 0 of" in text and "removed 0" in text
    assert "tiny: wrote" in text
    assert (project / "generated" / "tiny" / "python" / "demo" / "_client.py").is_file()
    requirements = (project / "generated" / "requirements.txt").read_text().splitlines()
    assert [line for line in requirements if not line.startswith("#")] == [
        "-e ./generated/gorgias/python[mcp,sandbox]",
        "-e ./generated/tiny/python[mcp,sandbox]",
    ]
    assert run("generate", "--check")[0] == 0

    # the no-change fast path, per connector: a changed connector does not regenerate the others
    code, text = run("generate")
    assert code == 0, text
    assert "gorgias: nothing changed" in text and "tiny: nothing changed" in text
    things = project / "spec" / "tiny" / "resources" / "things.yaml"
    things.write_text(things.read_text().replace("Returns one thing.", "Returns one stored thing."))
    code, text = run("generate")
    assert code == 0, text
    assert "gorgias: nothing changed" in text
    assert "tiny: wrote" in text and "tiny: nothing changed" not in text

    # a stale requirements file fails --check and is rewritten by generate
    (project / "generated" / "requirements.txt").write_text("-e ./generated/gorgias/python\n")
    code, text = run("generate", "--check")
    assert code == 1 and "requirements.txt" in text
    assert run("generate")[0] == 0
    assert run("generate", "--check")[0] == 0


def test_a_folder_of_connectors_is_handled_like_spec(project: Path) -> None:
    (project / "spec" / "tiny" / "connector.yaml").write_text("connector: [\n")
    code, text = run("validate", str(project / "spec"))
    assert code == 1
    assert "gorgias: valid" in text
    assert "connector.yaml:" in text and "error[" in text


def test_sandbox_serves_the_chosen_connector(project: Path) -> None:
    assert run("generate", str(project / "spec" / "tiny"))[0] == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}

    def sandbox(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "connectorgen.cli", "sandbox", *args],
            capture_output=True, text=True, timeout=120, check=False, cwd=project, env=env,
        )

    tiny = sandbox("tiny", "--help")
    assert tiny.returncode == 0, tiny.stderr
    assert tiny.stdout.startswith("usage: connectorgen sandbox tiny") and "--error-rate" in tiny.stdout
    unnamed = sandbox("--help")
    assert unnamed.returncode == 2
    assert "name the connector" in unnamed.stderr and "gorgias, tiny" in unnamed.stderr
    unknown = sandbox("nope")
    assert unknown.returncode == 2 and "no connector 'nope'" in unknown.stderr


def test_readme_installs_every_connector_package() -> None:
    """The quickstart's test command installs the generated requirements file, which lists each connector."""
    readme = (REPO_ROOT / "README.md").read_text()
    test_command = next(line[2:] for line in readme.splitlines() if line.startswith("$ ") and "pytest" in line)
    assert "-r generated/requirements.txt" in test_command
    requirements = (REPO_ROOT / "generated" / "requirements.txt").read_text()
    for folder in layout.connector_folders(REPO_ROOT / "spec"):
        assert f"-e ./generated/{folder.name}/python[mcp,sandbox]" in requirements
        assert (REPO_ROOT / "generated" / folder.name / "python" / "pyproject.toml").is_file()
