"""The loader has limits: alias bombs, deep nesting and include globs cannot hurt the validator.

Each attack must end in a located `file:line:col: error[rule]` diagnostic and exit code 1, fast
and in bounded memory, both in-process and from a real `connectorgen validate` process.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from connectorgen.loader import MAX_DEPTH, MAX_NODES, load_yaml_file
from connectorgen.pipeline import validate
from tests.test_validator import DIAGNOSTIC_LINE, FIXTURES, MINIMAL, overlay, run_cli

MALFORMED = FIXTURES / "malformed"
#: (fixture, expected "file:line:col: error[rule]: message start")
ATTACKS = [
    (
        "alias-bomb",
        "resources/things.yaml:7:14: error[yaml-limit]: aliases expand this file to more than",
    ),
    (
        "deep-flow-sequence",
        "resources/things.yaml:1:74: error[yaml-limit]: mappings and sequences nest more than 64",
    ),
    (
        "deep-flow-mapping",
        "resources/things.yaml:1:263: error[yaml-limit]: mappings and sequences nest more than 64",
    ),
    (
        "deep-block-sequence",
        "resources/things.yaml:2:129: error[yaml-limit]: mappings and sequences nest more than 64",
    ),
    (
        "include-absolute",
        "connector.yaml:57:3: error[include-outside-definition]: include pattern '/etc/*' is absolute",
    ),
    (
        "include-parent-dir",
        "connector.yaml:56:3: error[include-outside-definition]: include pattern '../../**/*.yaml'",
    ),
]
MAX_SECONDS = 1.0
MAX_PEAK_MB = 16
MAX_CHILD_ADDRESS_SPACE_MB = 512
"""Address space of a `connectorgen validate` child (Python itself takes ~150 MB of it)."""
SECRET = "TOPSECRET-Ab12Cd34"


def _errors(text: str) -> list[str]:
    return DIAGNOSTIC_LINE.findall(text)


def test_the_attack_fixtures_are_as_big_as_the_issue_says() -> None:
    for name in ("deep-flow-sequence", "deep-flow-mapping", "deep-block-sequence"):
        text = (MALFORMED / name / "resources" / "things.yaml").read_text()
        assert text.count("[") + text.count("{") + text.count("- ") >= 50_000, name


@pytest.mark.parametrize(("name", "expected"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_gives_a_located_error_fast_and_in_bounded_memory(
    name: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = overlay(MALFORMED / name, tmp_path)
    monkeypatch.chdir(root)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        connector, diagnostics = validate(Path("."))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert connector is None
    rendered = [d.render().splitlines()[0] for d in diagnostics]
    assert [line for line in rendered if line.startswith(expected)], rendered
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f}s"
    assert peak < MAX_PEAK_MB * 1024 * 1024, f"{peak / 1e6:.1f} MB"


def _limit_address_space() -> None:
    """Runs in the child: past this much memory an allocation fails (MemoryError, a traceback)."""
    limit = MAX_CHILD_ADDRESS_SPACE_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _validate_in_a_child(root: Path, timeout: float = 30.0) -> tuple[int, str, float]:
    """`connectorgen validate root` in a real process with bounded memory: exit code, stderr, seconds.

    Memory is bounded with RLIMIT_AS rather than measured with ru_maxrss: a child forked from
    pytest inherits the parent's peak RSS in ru_maxrss, so that number says nothing about the child.
    """
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "connectorgen.cli", "validate", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            preexec_fn=_limit_address_space,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"connectorgen validate still running after {timeout}s")
    return proc.returncode, proc.stderr, time.perf_counter() - started


@pytest.mark.parametrize(("name", "expected"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_in_a_real_connectorgen_validate_process(
    name: str, expected: str, tmp_path: Path
) -> None:
    root = overlay(MALFORMED / name, tmp_path)
    code, err, elapsed = _validate_in_a_child(root)
    assert code == 1
    assert "Traceback" not in err
    assert any(
        f"{root}/{expected}" in line or line.startswith(expected) for line in err.splitlines()
    ), err
    assert elapsed < 10, f"{elapsed:.1f}s"  # interpreter start-up and imports included


def test_nesting_up_to_the_limit_loads_and_one_more_level_does_not(tmp_path: Path) -> None:
    deepest = tmp_path / "deepest.yaml"
    deepest.write_text("[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH + "\n")
    data = load_yaml_file(deepest).data
    for _ in range(MAX_DEPTH - 1):
        data = data[0]
    assert data == [1]
    too_deep = tmp_path / "too-deep.yaml"
    too_deep.write_text(
        "a:\n" + "".join(f"{'  ' * (level + 1)}a:\n" for level in range(MAX_DEPTH)) + "    x\n"
    )
    code, _, err = run_cli("validate", str(too_deep))
    assert code == 1
    assert re.search(
        rf"too-deep\.yaml:{MAX_DEPTH + 1}:{2 * MAX_DEPTH + 1}: error\[yaml-limit\]", err
    ), err


def test_a_deep_schema_within_the_limit_validates_without_a_recursion_error(tmp_path: Path) -> None:
    root = overlay(MINIMAL, tmp_path)
    thing = root / "schemas" / "thing.yaml"
    levels = (MAX_DEPTH - 3) // 2  # file, properties, then two levels per nested object schema
    deep = (
        "".join(f"{{title: Level{i}, type: object, properties: {{n: " for i in range(levels))
        + "{type: string}"
    )
    deep += "}}" * levels
    thing.write_text(
        thing.read_text().replace("properties:\n", f"properties:\n  deep: {deep}\n", 1)
    )
    assert load_yaml_file(thing).data["properties"]["deep"]["properties"]["n"]["type"] == "object"
    code, _, err = run_cli("validate", str(root))
    assert (code, err) == (0, "")


def test_aliases_within_the_budget_still_expand(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text("base: &base {a: 1, b: [x, y]}\ncopy: *base\nmerged: {<<: *base, a: 2}\n")
    assert load_yaml_file(path).data == {
        "base": {"a": 1, "b": ["x", "y"]},
        "copy": {"a": 1, "b": ["x", "y"]},
        "merged": {"a": 2, "b": ["x", "y"]},
    }


def test_a_file_with_too_many_nodes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("[" + "1," * MAX_NODES + "1]\n")
    code, _, err = run_cli("validate", str(path))
    assert code == 1
    assert f"error[yaml-limit]: file holds more than {MAX_NODES} nodes" in err


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w") as handle:
        handle.write("# " + "x" * 1023 + "\n")
        handle.truncate(5 * 1024 * 1024)
    tracemalloc.start()
    try:
        code, _, err = run_cli("validate", str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 1
    assert "huge.yaml:1:1: error[yaml-limit]: file is larger than 4 MiB" in err
    assert peak < 2 * 1024 * 1024


# --- include globs ------------------------------------------------------------------------------


def _secret_outside(tmp_path: Path) -> Path:
    """A folder next to the definition holding a file whose content must never be echoed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(f"resource: things\n{SECRET}: [unclosed\n")
    return outside


def _with_include(root: Path, kind: str, pattern: str) -> None:
    connector = root / "connector.yaml"
    connector.write_text(connector.read_text() + f"include:\n  {kind}: '{pattern}'\n")


@pytest.mark.parametrize(
    ("kind", "pattern", "message"),
    [
        (
            "resources",
            "../outside/*.yaml",
            "include pattern '../outside/*.yaml' climbs out of the connector folder",
        ),
        (
            "schemas",
            "resources/../../outside/*",
            "include pattern 'resources/../../outside/*' climbs out",
        ),
        ("resources", "{outside}/*.yaml", "include pattern '{outside}/*.yaml' is absolute"),
        ("schemas", "", "include pattern '' names no files"),
    ],
    ids=["parent", "parent-inside-path", "absolute", "empty"],
)
def test_include_pattern_cannot_leave_the_folder(
    kind: str, pattern: str, message: str, tmp_path: Path
) -> None:
    outside = _secret_outside(tmp_path)
    root = overlay(MINIMAL, tmp_path)
    _with_include(root, kind, pattern.format(outside=outside))
    code, out, err = run_cli("validate", str(root))
    assert code == 1
    assert "Traceback" not in err
    assert re.search(
        r"connector\.yaml:\d+:3: error\[include-outside-definition\]: "
        + re.escape(message.format(outside=outside)),
        err,
    ), err
    assert SECRET not in out + err


def test_symlinked_file_out_of_the_folder_is_reported_by_name_and_never_read(
    tmp_path: Path,
) -> None:
    outside = _secret_outside(tmp_path)
    root = overlay(MINIMAL, tmp_path)
    (root / "resources" / "leak.yaml").symlink_to(outside / "secret.yaml")
    code, out, err = run_cli("validate", str(root))
    assert code == 1
    assert SECRET not in out + err
    assert "unclosed" not in err
    assert [re.sub(r"^.*/def/", "", line) for line in _errors(err)] == [
        "connector.yaml:1:1: error[include-outside-definition]: 'resources/leak.yaml' (matched by "
        "'resources/*.yaml') links to a file outside the connector folder"
    ]


def test_symlinked_folder_out_of_the_folder_is_reported_by_name_and_never_read(
    tmp_path: Path,
) -> None:
    outside = _secret_outside(tmp_path)
    root = overlay(MINIMAL, tmp_path)
    (root / "more").symlink_to(outside, target_is_directory=True)
    _with_include(root, "resources", "[mr]*/*.yaml")
    code, out, err = run_cli("validate", str(root))
    assert code == 1
    assert SECRET not in out + err
    assert re.search(
        r"connector\.yaml:\d+:3: error\[include-outside-definition\]: 'more/secret\.yaml' \(matched by "
        r"'\[mr\]\*/\*\.yaml'\) links to a file outside the connector folder",
        err,
    ), err
    assert len(_errors(err)) == 1, err


def test_symlinks_that_stay_inside_the_folder_are_followed(tmp_path: Path) -> None:
    root = overlay(MINIMAL, tmp_path)
    (root / "resources").rename(root / "shared")
    (root / "resources").symlink_to(root / "shared", target_is_directory=True)
    code, out, err = run_cli("validate", str(root))
    assert (code, err) == (0, "")
    assert "3 operations" in out


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    root = overlay(MINIMAL, tmp_path)
    os.mkfifo(root / "resources" / "pipe.yaml")
    code, err, elapsed = _validate_in_a_child(root, timeout=20)
    assert code == 1
    assert "Traceback" not in err
    assert "resources/pipe.yaml:1:1: error[file-not-found]: not a regular file" in err
    assert elapsed < 10
