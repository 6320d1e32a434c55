"""Static typing: the gateway package passes `mypy --strict` (it loads connector packages at run
time through their entry points, so it is checked on its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"


def test_gateway_passes_mypy_strict() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            "connector_gateway",
        ],
        capture_output=True,
        text=True,
        cwd=GATEWAY,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
