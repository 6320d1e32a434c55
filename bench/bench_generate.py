"""Wall time of `connectorgen generate` (every output) against `openapi-python-client generate`.

Both run on this machine in the same run, as subprocesses, on the same definition:

- ours: `connectorgen generate --force -o <tmp>` — validates the Gorgias definition and writes all
  four outputs (Python client with MCP server, MCP tool list, OpenAPI YAML and JSON, docs and
  HTML), formatting the Python with ruff;
- theirs: `openapi-python-client generate` on our own OpenAPI document — a client only, with its
  default post-hooks (ruff) like ours.

Then a no-change re-run of `connectorgen generate -o <same tmp>` (the manifest makes it skip),
timed as a subprocess and in-process (`cli.main`, imports already warm).

Targets: ours <= 1.0x theirs; no-change re-run <= 0.3 s.

    python bench/bench_generate.py [--repeat N]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "spec" / "gorgias"
TARGET_RATIO = 1.0
TARGET_NO_CHANGE_SECONDS = 0.3


def _env() -> dict[str, str]:
    # Tools installed next to this interpreter (ruff, openapi-python-client) come first on PATH.
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return elapsed


def _openapi_python_client() -> list[str]:
    script = Path(sys.executable).parent / "openapi-python-client"
    if script.exists():
        return [str(script)]
    found = shutil.which("openapi-python-client")
    if found:
        return [found]
    raise RuntimeError("openapi-python-client is not installed (pip install -e '.[bench]')")


def _stages() -> dict[str, float]:
    """In-process breakdown of one cold generate (where the time goes), in a fresh interpreter."""
    code = """
import importlib, json, time
t0 = time.perf_counter()
from connectorgen import emitters, pipeline
t1 = time.perf_counter()
connector, _ = pipeline.validate(DEFINITION)
t2 = time.perf_counter()
out = {"import": t1 - t0, "validate_and_compile": t2 - t1}
for name in emitters.EMITTERS:
    module = importlib.import_module(f"connectorgen.emitters.{name}")
    start = time.perf_counter()
    module.emit(connector)
    out[f"emit_{name}"] = time.perf_counter() - start
print(json.dumps({k: round(v, 3) for k, v in out.items()}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(repeat: int = 3) -> dict[str, Any]:
    ours_cmd = [sys.executable, "-m", "connectorgen.cli", "generate", str(DEFINITION)]
    theirs = _openapi_python_client()
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        root = Path(tmp)
        out = root / "generated"
        ours_times, theirs_times = [], []
        for i in range(repeat):
            ours_times.append(_timed([*ours_cmd, "--force", "-o", str(out)], root))
            document = out / "openapi" / "gorgias.openapi.yaml"
            client_dir = root / f"opc-{i}"
            theirs_times.append(
                _timed(
                    [
                        *theirs,
                        "generate",
                        "--path",
                        str(document),
                        "--output-path",
                        str(client_dir),
                        "--meta",
                        "none",
                    ],
                    root,
                )
            )
            if not (client_dir / "client.py").exists():
                raise RuntimeError("openapi-python-client wrote no client")
        outputs = sorted(p.name for p in out.iterdir() if p.is_dir())
        files = sum(1 for p in out.rglob("*") if p.is_file())

        no_change_sub = [_timed([*ours_cmd, "-o", str(out)], root) for _ in range(repeat)]

        from connectorgen import cli

        no_change_in = []
        for _ in range(repeat + 1):  # the first call pays for imports; it is dropped
            sink = io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                code = cli.main(["generate", str(DEFINITION), "-o", str(out)])
            no_change_in.append(time.perf_counter() - started)
            if code != 0 or "nothing changed" not in sink.getvalue():
                raise RuntimeError(f"no-change run did not skip: {sink.getvalue()}")
        no_change_in = no_change_in[1:]

    ours = statistics.median(ours_times)
    base = statistics.median(theirs_times)
    ratio = ours / base
    sub = statistics.median(no_change_sub)
    inproc = statistics.median(no_change_in)
    return {
        "ours_generate_all_seconds": round(ours, 3),
        "stage_seconds": _stages(),
        "ours_outputs": ", ".join(outputs),
        "ours_files": files,
        "openapi_python_client_seconds": round(base, 3),
        "ratio_ours_over_theirs": round(ratio, 2),
        "ratio_of_best_runs": round(min(ours_times) / min(theirs_times), 2),
        "ratio_target": f"<= {TARGET_RATIO}x (medians): {'met' if ratio <= TARGET_RATIO else 'MISSED'}",
        "no_change_subprocess_seconds": round(sub, 3),
        "no_change_in_process_seconds": round(inproc, 3),
        "no_change_target": f"<= {TARGET_NO_CHANGE_SECONDS} s: "
        + ("met" if max(sub, inproc) <= TARGET_NO_CHANGE_SECONDS else "MISSED"),
        "repeats": repeat,
        "all_ours_seconds": [round(t, 3) for t in ours_times],
        "all_theirs_seconds": [round(t, 3) for t in theirs_times],
    }


if __name__ == "__main__":
    repeats = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    for key, value in run(repeats).items():
        print(f"{key}: {value}")
