"""Golden record: `generated/gorgias/python` is exactly what the python emitter renders from spec/ now.

(`connectorgen generate --check` checks every emitter in CI; this test pinpoints the client.)
"""

from __future__ import annotations

import difflib

import pytest

from tests.conftest import GORGIAS_SPEC, REPO_ROOT

GENERATED = REPO_ROOT / "generated" / "gorgias"


def test_generated_python_is_up_to_date() -> None:
    from connectorgen.emitters import render_all
    from connectorgen.pipeline import build

    files = render_all(build(GORGIAS_SPEC), only=("python",))
    stale = []
    for name, data in files.items():
        path = GENERATED / name
        if not path.is_file() or path.read_bytes() != data:
            stale.append(name)
    if stale:
        first = stale[0]
        old = (GENERATED / first).read_text().splitlines() if (GENERATED / first).is_file() else []
        diff = "\n".join(
            list(difflib.unified_diff(old, files[first].decode().splitlines(), lineterm=""))[:40]
        )
        pytest.fail(f"stale generated files (run `connectorgen generate`): {stale}\n{diff}")
    assert "python/gorgias/_client.py" in files and "python/gorgias/models.py" in files
