"""Runs every benchmark in bench/ (modules named bench_*.py with a `run() -> dict` function).

    python bench/run.py            # all
    python bench/run.py client mcp # some

Each benchmark compares against a baseline measured in the same run and prints ratios.
Results are also written to bench/results/<name>.json (not committed).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    modules = sorted(HERE.glob("bench_*.py"))
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    failures = 0
    for path in modules:
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== {name}", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        started = time.perf_counter()
        try:
            result = module.run()
        except Exception as exc:  # report and go on with the other benchmarks
            print(f"   FAILED: {type(exc).__name__}: {exc}")
            failures += 1
            continue
        result["elapsed_seconds"] = round(time.perf_counter() - started, 2)
        (results_dir / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        for key, value in result.items():
            print(f"   {key}: {value}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
