"""`connectorgen generate`: deterministic, stamped output; `--check` catches any drift."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from connectorgen.cli import main
from connectorgen.emitters import MANIFEST, render_all
from connectorgen.pipeline import DEFAULT_OUTPUT, build

MINIMAL = Path(__file__).parent / "fixtures" / "minimal"


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("out")
    code, text = run("generate", str(MINIMAL), "-o", str(output))
    assert code == 0, text
    return output


def test_output_is_deterministic() -> None:
    connector = build(MINIMAL)
    assert render_all(connector) == render_all(connector)


def test_every_text_output_names_its_definition_hash(generated: Path) -> None:
    digest = build(MINIMAL).source_hash[:16]
    files = [p for p in generated.rglob("*") if p.is_file() and p.name != MANIFEST]
    assert files
    stamped = [p for p in files if p.suffix in (".py", ".md", ".yaml", ".toml", ".html")]
    assert stamped
    for path in stamped:
        assert f"sha256:{digest}" in path.read_text()[:400], path


def test_check_passes_on_fresh_output(generated: Path) -> None:
    assert run("generate", str(MINIMAL), "-o", str(generated), "--check")[0] == 0


@pytest.mark.parametrize("change", ["edit", "delete", "add"])
def test_check_fails_on_any_hand_change(change: str, generated: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    shutil.copytree(generated, output)
    victim = sorted(p for p in output.rglob("*.py") if p.is_file())[0]
    name = victim.relative_to(output).as_posix()
    if change == "edit":
        victim.write_text(victim.read_text() + "\n# hand edit\n")
    elif change == "delete":
        victim.unlink()
    else:
        name = "python/stray.py"
        (output / name).write_text("x = 1\n")
    code, text = run("generate", str(MINIMAL), "-o", str(output), "--check")
    assert code == 1
    assert name in text
    # a plain generate repairs it, even though the definition did not change
    assert run("generate", str(MINIMAL), "-o", str(output))[0] == 0
    assert run("generate", str(MINIMAL), "-o", str(output), "--check")[0] == 0
    assert not (output / "python" / "stray.py").exists()


def test_committed_output_matches_the_bundled_definition() -> None:
    code, text = run("generate", "--check")
    assert code == 0, text
    assert DEFAULT_OUTPUT.exists()
