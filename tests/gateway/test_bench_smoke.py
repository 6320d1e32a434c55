"""The gateway benchmark (bench/bench_gateway.py) runs end to end, briefly, so it cannot rot:
2 accounts x 2 MCP sessions through `connector-gateway serve --workers 2` on the session's
PostgreSQL and Redis, against a Gorgias sandbox process, plus the direct baseline."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gateway import services

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

redis_url = services.redis_url
postgres_url = services.postgres_url

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_gateway.py"


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_gateway", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their annotations there
    spec.loader.exec_module(module)
    return module


def test_bench_gateway_smoke(postgres_url: str, redis_url: str) -> None:
    bench = _bench()
    result = bench.run(
        seconds=1.5,
        accounts=2,
        sessions=2,
        baseline_seconds=0.5,
        warmup=0.5,
        database_url=services.create_database(postgres_url),
        redis_url=redis_url,
    )
    direct, gateway = result["direct"], result["gateway"]
    assert result["errors"] == 0, result
    assert direct["errors"] == gateway["errors"] == 0
    assert direct["calls"] > 10 and gateway["calls"] > 5, result
    for phase in (direct, gateway):
        assert 0 < phase["p50_ms"] <= phase["p99_ms"] < 30_000
    assert math.isclose(
        result["overhead_p50_ms"], gateway["p50_ms"] - direct["p50_ms"], abs_tol=0.02
    )
    assert result["target_p50"] in ("PASS", "MISS") and result["target_p99"] in ("PASS", "MISS")
    # the accounts' declared budget was raised in the gateway's workers (it never throttles)
    assert result["account_rate_budget"]["requests"] == bench.UNPACED_BUDGET[0]
    # CPU was measured for the processes on the gateway's path
    assert gateway["cpu_ms_per_call"]["gateway"] > 0
    assert gateway["cpu_ms_per_call"]["sandbox"] > 0
    assert set(gateway["cpu_ms_per_call"]) >= {"client", "postgres", "redis"}
    table = bench._table(result)
    assert "p50 ms" in table and "p99 ms" in table and "2 accounts x 2 MCP sessions" in table
