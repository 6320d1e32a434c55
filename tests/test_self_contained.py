"""The repository stands on its own: no tracked file reaches outside it.

A user's clone has no sibling folders and no developer's home directory, so a path that climbs out
of the repository (a sibling reference folder, `Path(__file__).parents[3] / ...`) or names a machine's
absolute location (`/work/...`, `/home/...`) breaks the clone. Facts the project needs are copied in
with their sources (see `spec/gorgias/reference/README.md`).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

# The names a path outside the repository would take in text or code.
LEAVING = re.compile(
    r"""
      \.\./shared\b                            # the reference folder beside a checkout
    | (?<![\w/.-])shared/reference\b           # ... named without the ../
    | ["']shared["']\s*/\s*["']reference["']   # ... built with pathlib
    | (?<![\w.-])/(?:work|home|root|Users)/[\w.-]+/   # a developer machine's absolute paths
    """,
    re.VERBOSE,
)
# Relative paths are checked where they are paths (definitions, schemas, project files): every
# `../` chain must resolve to a place inside the repository. Markdown is left out: its examples
# quote paths as seen from other files.
RELATIVE = re.compile(r"""(?:\.\./)+[\w.-]+""")
RELATIVE_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
# Code that walks up from its own file (`parents[N]`, `.parent.parent`) must stay inside too.
PARENTS = re.compile(r"Path\(__file__\)\.resolve\(\)\.parents\[(\d+)\]")


def tracked_files() -> list[Path]:
    proc = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=False
    )
    if proc.returncode == 0 and proc.stdout:
        names = [n for n in proc.stdout.decode().split("\0") if n]
        return [REPO_ROOT / n for n in names if (REPO_ROOT / n).is_file()]
    # Not a git checkout (an unpacked archive): every file but virtualenvs and caches.
    skip = {".git", ".venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
    return [
        p
        for p in REPO_ROOT.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(REPO_ROOT).parts)
    ]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    offenders = []
    for path in tracked_files():
        if path.resolve() == this:
            continue
        text = text_of(path)
        if text is None:
            continue
        for match in LEAVING.finditer(text):  # whole text: a path may be split over lines
            number = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {match.group(0).strip()}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_relative_paths_in_definitions_stay_inside() -> None:
    root = REPO_ROOT.resolve()
    offenders = []
    for path in tracked_files():
        if path.suffix not in RELATIVE_SUFFIXES or path.parts[-2:-1] == ("cassettes",):
            continue
        text = text_of(path)
        if text is None:
            continue
        for match in RELATIVE.finditer(text):
            target = (path.parent / match.group(0)).resolve()
            if not target.is_relative_to(root):
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {match.group(0)}")
    assert not offenders, "relative paths leaving the repository:\n" + "\n".join(offenders)


def test_code_walking_up_from_its_file_stays_inside() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix != ".py":
            continue
        text = text_of(path) or ""
        depth = len(path.relative_to(REPO_ROOT).parts) - 1  # folders between the file and the root
        for match in PARENTS.finditer(text):
            if int(match.group(1)) > depth:
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {match.group(0)}")
    assert not offenders, "code resolving a folder above the repository:\n" + "\n".join(offenders)


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    # The offending texts are assembled here so that this file does not itself name them.
    sibling, quoted = "../" + "shared", '"shared" ' + '/ "reference"'
    assert LEAVING.search(f'EXAMPLES = REPO.parent / {quoted} / "gorgias"')
    assert LEAVING.search('EXAMPLES = (\n    REPO.parent\n    / "shared"\n    / "reference"\n)')
    assert LEAVING.search(f"facts come from {sibling}/reference/gorgias/")
    assert LEAVING.search("see /work/main/spec")
    assert not LEAVING.search("spec/gorgias/reference/examples/SOURCES.md")
    assert not LEAVING.search('visibility: "shared"')
    outside = (REPO_ROOT / "spec" / "gorgias" / "../../../x").resolve()
    assert not outside.is_relative_to(REPO_ROOT.resolve())
