"""Rate limit and fault injection: the leaky bucket with its headers, injected 5xx / 429 /
dropped connections, and what the generated client makes of them."""

from __future__ import annotations

import importlib
import time
from typing import Any

import httpx
import pytest

from .conftest import API_KEY, EMAIL, client_for

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

errors = importlib.import_module("gorgias._errors")


def test_leaky_bucket_answers_429_with_headers(fresh: Any) -> None:
    sandbox = fresh(rate_limit="5/2")
    with httpx.Client(base_url=sandbox.base_url, auth=(EMAIL, API_KEY)) as http:
        answers = [http.get("/api/account") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert [a.headers["X-Gorgias-Account-Api-Call-Limit"] for a in answers[:5]] == [
            f"{i}/5" for i in range(1, 6)
        ]
        limited = answers[-1]
        assert limited.headers["X-Gorgias-Account-Api-Call-Limit"] == "5/5"
        assert int(limited.headers["Retry-after"]) >= 1
        assert limited.json()["error"]["msg"]
        time.sleep(0.5)  # the bucket leaks 2.5 requests per second
        assert http.get("/api/account").status_code == 200


def test_default_rate_limit_comes_from_the_definition(fresh: Any) -> None:
    sandbox = fresh(rate_limit=None)
    with httpx.Client(base_url=sandbox.base_url, auth=(EMAIL, API_KEY)) as http:
        assert http.get("/api/account").headers["X-Gorgias-Account-Api-Call-Limit"] == "1/40"
    with httpx.Client(
        base_url=sandbox.base_url, headers={"Authorization": "Bearer sandbox"}
    ) as http:
        assert http.get("/api/account").headers["X-Gorgias-Account-Api-Call-Limit"] == "1/80"


def test_client_paces_and_retries_through_the_rate_limit(fresh: Any) -> None:
    sandbox = fresh(rate_limit="4/1")
    client = client_for(sandbox, max_retry_after=0.3, max_retries=10)
    seen = [t.id for t in client.tickets.list(limit=100)]
    assert sorted(seen) == sorted(t["id"] for t in sandbox.store.col("tickets").all())


def test_all_tickets_exactly_once_with_20_percent_5xx(fresh: Any) -> None:
    sandbox = fresh(error_rate=0.2, fault_seed=11)
    client = client_for(sandbox, max_retries=6)
    seen = [t.id for t in client.tickets.list(limit=20)]
    expected = {t["id"] for t in sandbox.store.col("tickets").all()}
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    injected = sum(v for k, v in sandbox.stats()["faults"].items() if k.startswith("error_"))
    assert injected >= 1


def test_no_post_is_duplicated_under_injected_429s(fresh: Any) -> None:
    sandbox = fresh(throttle_rate=0.4, fault_seed=5)
    client = client_for(sandbox, max_retries=10, max_retry_after=0.01)
    before = sandbox.store.col("customers").count()
    created = [
        client.customers.create(name=f"Load {i}", email=f"load{i}@example.com").id
        for i in range(25)
    ]
    stats = sandbox.stats()
    assert stats["faults"]["throttle"] >= 5
    assert len(set(created)) == 25
    assert sandbox.store.col("customers").count() == before + 25
    assert stats["responses"]["create_a_gorgias_customer 201"] == 25
    # throttled requests never reached a handler
    assert stats["requests"]["create_a_gorgias_customer"] == 25


def test_post_is_not_retried_after_a_5xx(fresh: Any) -> None:
    sandbox = fresh(error_rate=1.0)
    client = client_for(sandbox, max_retries=3)
    with pytest.raises(errors.ServerError):
        client.tags.create(name="never")
    assert sum(v for k, v in sandbox.stats()["faults"].items() if k.startswith("error_")) == 1
    with pytest.raises(errors.ServerError):
        client.tags.get(101)
    assert sum(v for k, v in sandbox.stats()["faults"].items() if k.startswith("error_")) == 1 + 4


def test_dropped_connections(fresh: Any) -> None:
    sandbox = fresh(drop_connection_rate=1.0)
    with (
        httpx.Client(base_url=sandbox.base_url, auth=(EMAIL, API_KEY)) as http,
        pytest.raises(httpx.TransportError),
    ):
        http.get("/api/account")
    client = client_for(sandbox, max_retries=2)
    with pytest.raises(errors.APIConnectionError):
        client.customers.create(name="Dropped", email="dropped@example.com")
    assert sandbox.stats()["faults"]["drop"] == 2  # one raw GET, one POST sent once
    assert sandbox.store.col("customers").find("email", "dropped@example.com") is None


def test_all_tickets_exactly_once_with_dropped_connections(fresh: Any) -> None:
    sandbox = fresh(drop_connection_rate=0.15, fault_seed=3)
    client = client_for(sandbox, max_retries=6)
    seen = [t.id for t in client.tickets.list(limit=25)]
    assert sorted(seen) == sorted(t["id"] for t in sandbox.store.col("tickets").all())
    assert sandbox.stats()["faults"]["drop"] >= 1


def test_latency(fresh: Any) -> None:
    sandbox = fresh(latency_ms="120")
    with httpx.Client(base_url=sandbox.base_url, auth=(EMAIL, API_KEY)) as http:
        started = time.perf_counter()
        assert http.get("/api/account").status_code == 200
        assert time.perf_counter() - started >= 0.11


def test_faults_can_change_at_run_time(fresh: Any) -> None:
    sandbox = fresh()
    with httpx.Client(base_url=sandbox.base_url, auth=(EMAIL, API_KEY)) as http:
        assert http.put("/_sandbox/faults", json={"error_rate": 1.0}).json()["error_rate"] == 1.0
        assert http.get("/api/account").status_code >= 500
        http.put("/_sandbox/faults", json={"error_rate": 0})
        assert http.get("/api/account").status_code == 200
