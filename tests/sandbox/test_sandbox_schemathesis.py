"""schemathesis against the sandbox with the generated OpenAPI document.

Runs the schemathesis CLI (all phases: examples, coverage, fuzzing, stateful) with a bounded
number of examples and a fixed seed. Generated ids mostly answer 404; the stateful phase creates
objects and follows the links schemathesis infers (create, then read / update / delete them), and
`test_sandbox_routes.py` reads every operation with the ids of seeded objects and validates the
answers against the schemas. Every check runs except:

- `positive_data_acceptance`: the sandbox, like Gorgias, answers 400 to schema-valid requests that
  refer to objects that do not exist (`customer_id: 0`) or carry a cursor it did not issue; the
  check counts those as rejections of valid data.
- `object_level_authorization`: one account and one set of credentials, nothing to separate.

`GET /{attachment_url}` is left out: its single path parameter is a whole absolute URL, which
schemathesis cannot generate as a path (health check `filter_too_much`); the client requests
attachment URLs as is and `test_sandbox_client.py` covers that download.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import API_KEY, EMAIL, REPO_ROOT

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

OPENAPI = REPO_ROOT / "generated" / "gorgias" / "openapi" / "gorgias.openapi.json"
MAX_EXAMPLES = int(os.environ.get("SANDBOX_SCHEMATHESIS_EXAMPLES", "10"))
SEED = 1
EXCLUDED_CHECKS = "positive_data_acceptance,object_level_authorization"


def _cli() -> list[str]:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which(
        "schemathesis"
    )
    assert exe is not None, "schemathesis CLI not found (pip install -e '.[test]')"
    return [exe]


def _run(cli: list[str], base_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        *cli,
        "run",
        str(OPENAPI),
        "--url",
        base_url,
        "--auth",
        f"{EMAIL}:{API_KEY}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--exclude-path",
        "/{attachment_url}",
        "--generation-database",
        "none",
        "--no-color",
        "--request-timeout",
        "10",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=cwd, env=env, check=False
    )


def test_schemathesis_finds_no_failures(fresh: Any, tmp_path: Path) -> None:
    cli = _cli()
    sandbox = fresh(seed=SEED)
    result = _run(cli, sandbox.base_url, cwd=tmp_path)
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    assert result.returncode == 0, f"schemathesis found problems:\n{output[-20000:]}"
    assert "passed" in summary
    statuses = sandbox.stats()["statuses"]
    assert not any(code.startswith("5") for code in statuses), statuses
