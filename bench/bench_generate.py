"""Wall time of `connectorgen generate` against `openapi-python-client generate`, per connector.

For every connector of the project (each folder of spec/ with a connector.yaml), both run on this
machine in the same run, as subprocesses, cold (a new interpreter, a fresh output folder):

- ours: `connectorgen generate spec/<connector> --force -o <tmp>` — validates the definition and
  writes every output (Python client with MCP server and sandbox, MCP tool list, OpenAPI YAML and
  JSON, docs and HTML, unified package when the connector has mappings), formatting the Python
  with ruff;
- theirs: `openapi-python-client generate` on that connector's own generated OpenAPI document — a
  client only, with its default post-hooks (ruff) like ours.

Then a no-change re-run of `connectorgen generate -o <same tmp>` (the manifest makes it skip),
timed as a subprocess and in-process (`cli.main`, imports already warm).

Targets: ours <= 1.0x theirs for every connector (medians); no-change re-run <= 0.3 s.

    python bench/bench_generate.py [--repeat N] [connector ...]
    python bench/run.py generate
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
SPEC = ROOT / "spec"
TARGET_RATIO = 1.0
TARGET_NO_CHANGE_SECONDS = 0.3


def connectors() -> list[Path]:
    return sorted(p for p in SPEC.iterdir() if (p / "connector.yaml").is_file())


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


def _stages(definition: Path) -> dict[str, float]:
    """In-process breakdown of one cold generate (where the time goes), in a fresh interpreter."""
    code = """
import importlib, json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from connectorgen import emitters, pipeline
t1 = time.perf_counter()
connector, _ = pipeline.validate(Path(sys.argv[1]))
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
        [sys.executable, "-c", code, str(definition)],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _one_connector(definition: Path, repeat: int, root: Path) -> dict[str, Any]:
    name = definition.name
    ours_cmd = [sys.executable, "-m", "connectorgen.cli", "generate", str(definition)]
    theirs = _openapi_python_client()
    ours_times, theirs_times = [], []
    out = root / name / "generated"
    for i in range(repeat):
        shutil.rmtree(out, ignore_errors=True)  # cold: nothing to compare with, everything written
        ours_times.append(_timed([*ours_cmd, "--force", "-o", str(out)], root))
        documents = sorted((out / "openapi").glob("*.openapi.yaml"))
        if len(documents) != 1:
            raise RuntimeError(f"{name}: expected one OpenAPI document, found {documents}")
        client_dir = root / name / f"opc-{i}"
        theirs_times.append(
            _timed(
                [
                    *theirs,
                    "generate",
                    "--path",
                    str(documents[0]),
                    "--output-path",
                    str(client_dir),
                    "--meta",
                    "none",
                ],
                root,
            )
        )
        if not (client_dir / "client.py").exists():
            raise RuntimeError(f"{name}: openapi-python-client wrote no client")
    files = sum(1 for p in out.rglob("*") if p.is_file())
    no_change = [_timed([*ours_cmd, "-o", str(out)], root) for _ in range(repeat)]

    from connectorgen import cli

    no_change_in = []
    for _ in range(repeat + 1):  # the first call pays for imports; it is dropped
        sink = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = cli.main(["generate", str(definition), "-o", str(out)])
        no_change_in.append(time.perf_counter() - started)
        if code != 0 or "nothing changed" not in sink.getvalue():
            raise RuntimeError(f"{name}: no-change run did not skip: {sink.getvalue()}")
    ours, base = statistics.median(ours_times), statistics.median(theirs_times)
    return {
        "ours_seconds": round(ours, 3),
        "openapi_python_client_seconds": round(base, 3),
        "ratio": round(ours / base, 2),
        "ratio_of_best_runs": round(min(ours_times) / min(theirs_times), 2),
        "files": files,
        "no_change_subprocess_seconds": round(statistics.median(no_change), 3),
        "no_change_in_process_seconds": round(statistics.median(no_change_in[1:]), 3),
        "stage_seconds": _stages(definition),
        "all_ours_seconds": [round(t, 3) for t in ours_times],
        "all_theirs_seconds": [round(t, 3) for t in theirs_times],
    }


def run(repeat: int = 3, only: list[str] | None = None) -> dict[str, Any]:
    chosen = [d for d in connectors() if not only or d.name in only]
    if not chosen:
        raise RuntimeError(f"no connector under {SPEC} matches {only}")
    result: dict[str, Any] = {}
    worst_ratio, worst_no_change = 0.0, 0.0
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        for definition in chosen:
            one = _one_connector(definition, repeat, Path(tmp))
            worst_ratio = max(worst_ratio, one["ratio"])
            worst_no_change = max(
                worst_no_change,
                one["no_change_subprocess_seconds"],
                one["no_change_in_process_seconds"],
            )
            result[f"{definition.name}_ratio_ours_over_theirs"] = one["ratio"]
            result[definition.name] = one
    result["ratio_target"] = f"<= {TARGET_RATIO}x (medians, every connector): " + (
        "met" if worst_ratio <= TARGET_RATIO else "MISSED"
    )
    result["no_change_target"] = f"<= {TARGET_NO_CHANGE_SECONDS} s: " + (
        "met" if worst_no_change <= TARGET_NO_CHANGE_SECONDS else "MISSED"
    )
    result["repeats"] = repeat
    return result


if __name__ == "__main__":
    args = sys.argv[1:]
    repeats = 3
    if "--repeat" in args:
        at = args.index("--repeat")
        repeats = int(args[at + 1])
        del args[at : at + 2]
    for key, value in run(repeats, args or None).items():
        print(f"{key}: {value}")
