"""Rate-limit types and header sets, end to end.

Variants of the `tests/fixtures/rest_variants` connector declare a fixed window with
`X-RateLimit-Total` / `X-RateLimit-Remaining` / `X-RateLimit-Reset` (seconds or a Unix time) and
`Retry-After`, or a leaky bucket with a `used/limit` usage header (Gorgias's
`X-Gorgias-Account-Api-Call-Limit`). Each is generated into a temporary folder, its sandbox started
in a subprocess, and the generated client's `rate_limit_status` and the sandbox's headers checked.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
import yaml

from connectorgen.cli import main
from tests.conftest import REPO_ROOT
from tests.probe import run_probe

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "rest_variants"

LIMITS: dict[str, dict[str, Any]] = {
    "fixed_window_delta": {
        "type": "fixed_window", "requests": 3, "period_seconds": 60, "retry_after_header": "Retry-After",
        "limit_header": "X-RateLimit-Total", "remaining_header": "X-RateLimit-Remaining",
        "reset_header": "X-RateLimit-Reset",
    },
    "fixed_window_epoch": {
        "type": "fixed_window", "requests": 3, "period_seconds": 60, "retry_after_header": "Retry-After",
        "remaining_header": "ratelimit-remaining", "reset_header": "ratelimit-reset",
        "reset_format": "epoch_seconds",
    },
    "leaky_bucket_usage": {
        "type": "leaky_bucket", "requests": 3, "period_seconds": 60, "retry_after_header": "Retry-after",
        "usage_header": "X-Gorgias-Account-Api-Call-Limit",
    },
}

PROBE = r"""
import json, httpx
from restdemo import Restdemo, RateLimitError
from restdemo.sandbox import serve_in_thread
h = serve_in_thread(seed=1)   # the declared rate limit
try:
    client = Restdemo(**h.client_kwargs(), rate_limit=False, max_retries=0)
    statuses = []
    for _ in range(3):
        client.things.list(limit=1).first_page()
        s = client.rate_limit_status
        statuses.append([s.used, s.limit, s.remaining, s.reset_seconds])
    try:
        client.things.list(limit=1).first_page()
        limited = None
    except RateLimitError as exc:
        limited = {"status": exc.status_code, "retry_after": exc.retry_after}
    raw = httpx.get(h.base_url + "/api/things", auth=(h.api_key, "X"))
    print(json.dumps({"statuses": statuses, "limited": limited, "raw_status": raw.status_code,
                      "raw_headers": {k.lower(): v for k, v in raw.headers.items()}}))
finally:
    h.stop()
"""


@pytest.fixture(scope="module", params=list(LIMITS))
def probed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp(f"limit-{request.param}")
    spec = root / "spec"
    shutil.copytree(FIXTURE, spec)
    connector = yaml.safe_load((spec / "connector.yaml").read_text())
    connector["rate_limits"] = {"standard": LIMITS[request.param]}
    (spec / "connector.yaml").write_text(yaml.safe_dump(connector, sort_keys=False))
    assert main(["generate", str(spec), "-o", str(root / "out")]) == 0
    result, _ = run_probe(PROBE, root / "out" / "python", cwd=root, timeout=120)
    openapi = json.loads((root / "out" / "openapi" / "restdemo.openapi.json").read_text())
    result["openapi_headers"] = openapi["components"]["headers"]
    result["docs"] = (root / "out" / "docs" / "index.md").read_text()
    return request.param, result


def test_client_exposes_the_status_from_the_declared_headers(probed: tuple[str, dict[str, Any]]) -> None:
    variant, result = probed
    used_limit = [s[:3] for s in result["statuses"]]
    assert used_limit == [[1, 3, 2], [2, 3, 1], [3, 3, 0]]
    resets = [s[3] for s in result["statuses"]]
    if variant == "leaky_bucket_usage":
        assert resets == [None, None, None]
    else:
        assert all(50 <= r <= 61 for r in resets), resets


def test_sandbox_refuses_past_the_budget_with_the_declared_headers(probed: tuple[str, dict[str, Any]]) -> None:
    variant, result = probed
    assert result["limited"]["status"] == 429
    assert 1 <= result["limited"]["retry_after"] <= 60
    assert result["raw_status"] == 429
    headers = result["raw_headers"]
    assert 1 <= int(headers["retry-after"]) <= 60
    if variant == "fixed_window_delta":
        assert headers["x-ratelimit-total"] == "3"
        assert headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(headers["x-ratelimit-reset"]) <= 60
    elif variant == "fixed_window_epoch":
        assert headers["ratelimit-remaining"] == "0"
        assert "x-ratelimit-total" not in headers
    else:
        assert headers["x-gorgias-account-api-call-limit"].endswith("/3")


def test_fixed_window_limiter_waits_for_the_next_window() -> None:
    from gorgias._ratelimit import RateLimiter

    limiter = RateLimiter(2, 60, window=True)
    assert [limiter.reserve(), limiter.reserve()] == [0.0, 0.0]
    third, fourth, fifth = limiter.reserve(), limiter.reserve(), limiter.reserve()
    assert 59 < third <= 60 and 59 < fourth <= 60 and 119 < fifth <= 120
    assert repr(limiter) == "RateLimiter(requests=2, period=60, window=True)"


def test_openapi_and_docs_describe_the_declared_headers(probed: tuple[str, dict[str, Any]]) -> None:
    variant, result = probed
    headers, docs = result["openapi_headers"], result["docs"]
    if variant == "fixed_window_delta":
        assert headers["XRateLimitRemaining"]["schema"] == {"type": "integer", "minimum": 0}
        assert headers["XRateLimitReset"]["description"] == "Seconds until the rate-limit window resets."
        assert "| `standard` | 3 | 60 s (fixed window) |" in docs
        assert "`X-RateLimit-Reset` the seconds until the window resets" in docs
    elif variant == "fixed_window_epoch":
        assert headers["RatelimitReset"]["description"] == "Unix time when the rate-limit window resets."
        assert "`ratelimit-reset` the Unix time when the window resets" in docs
    else:
        assert "Requests used in the current rate-limit window" in headers["XGorgiasAccountApiCallLimit"]["description"]
        assert "| `standard` | 3 | 60 s |" in docs
