"""Running a script against a generated package that is importable only in a subprocess.

Fixture connectors are generated into temporary folders; their packages are imported by a child
Python with that folder on `PYTHONPATH`. The script prints JSON on its last stdout line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_probe(
    script: str,
    python_dir: Path | None,
    *args: str,
    cwd: Path | None = None,
    env_prefix: str | None = None,
    timeout: float = 300,
) -> tuple[dict[str, Any], str]:
    """Run `script` with `python_dir` importable; return its last stdout line as JSON and stderr.

    Environment variables starting with `env_prefix` are removed, so a developer's own settings for
    that connector cannot leak into the probe.
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if python_dir is not None:
        env["PYTHONPATH"] = str(python_dir)
    if env_prefix:
        env = {name: value for name, value in env.items() if not name.startswith(env_prefix)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=cwd or python_dir, env=env, capture_output=True,
        text=True, timeout=timeout, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, done.stderr
