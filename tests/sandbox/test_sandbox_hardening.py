"""The sandbox cannot be wedged: admin routes need credentials, bad settings answer 400 and change
nothing, /reset restores the start state, and no request body makes any route answer 5xx."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
from typing import Any

import httpx
import pytest

from .conftest import API_KEY, EMAIL

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

ADMIN_ROUTES = [
    ("GET", "/_sandbox"),
    ("GET", "/_sandbox/stats"),
    ("DELETE", "/_sandbox/stats"),
    ("GET", "/_sandbox/routes"),
    ("GET", "/_sandbox/export"),
    ("POST", "/_sandbox/reset"),
    ("POST", "/_sandbox/load"),
    ("GET", "/_sandbox/faults"),
    ("PUT", "/_sandbox/faults"),
    ("GET", "/_sandbox/nothing-here"),
]
BAD_SETTINGS = [
    {"rate_limit": "x/y"},
    {"rate_limit": "40/0"},
    {"rate_limit": "40/-1"},
    {"rate_limit": "-5/20"},
    {"rate_limit": "1e999/20"},
    {"rate_limit": "40/nan"},
    {"rate_limit": ["40/20"]},
    {"rate_limit": True},
    {"error_rate": "0.5"},
    {"error_rate": 2},
    {"error_rate": -0.1},
    {"error_rate": None},
    {"error_rate": True},
    {"throttle_rate": "abc"},
    {"drop_connection_rate": [1]},
    {"latency_ms": "inf"},
    {"latency_ms": "nan"},
    {"latency_ms": "1e9"},
    {"latency_ms": "-5"},
    {"latency_ms": "50-10"},
    {"latency_ms": 10**12},
    {"latency_ms": {"a": 1}},
    {"seed": 3},
    {"error_rate": 0.5, "rate_limit": "x/y"},
    [],
    "off",
    7,
    None,
]
#: Bodies no route may answer with a 5xx (or a traceback).
HOSTILE_BODIES: list[tuple[str, bytes, str]] = [
    ("deep-array", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("deep-object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    ("just-under-recursion-limit", b"[" * 900 + b"]" * 900, "application/json"),
    ("empty-array", b"[]", "application/json"),
    ("null", b"null", "application/json"),
    ("string", b'"text"', "application/json"),
    ("number", b"1e999", "application/json"),
    ("nan", b'{"name": NaN}', "application/json"),
    ("huge-int", b'{"id": ' + b"9" * 5000 + b"}", "application/json"),
    ("garbage", bytes(range(256)) * 4, "application/json"),
    ("not-utf8", b'{"name": "\xff\xfe\xfd"}', "application/json"),
    ("truncated", b'{"name": "abc', "application/json"),
    ("huge", b'{"name": "' + b"x" * (6 * 1024 * 1024) + b'"}', "application/json"),
    ("form-garbage", b"\xff=\xfe&&==%zz", "application/x-www-form-urlencoded"),
    ("multipart-garbage", b"--x\r\n\r\n\xff", "multipart/form-data; boundary=x"),
    ("empty", b"", "application/json"),
]


def _http(handle: Any, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=handle.base_url, timeout=30, **kwargs)


@pytest.mark.parametrize(
    ("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES]
)
def test_admin_routes_need_the_sandbox_credentials(method: str, path: str, server: Any) -> None:
    for auth in (None, ("intruder@example.com", API_KEY), (EMAIL, "wrong")):
        with _http(server, auth=auth) as http:
            answer = http.request(method, path)
        assert answer.status_code == 401, (auth, answer.text)
        assert answer.json() == {"error": {"msg": "Unauthorized."}}
    with _http(server, headers={"Authorization": "Bearer wrong"}) as http:
        assert http.request(method, path).status_code == 401


def test_stored_files_are_the_one_admin_path_served_by_token_alone(server: Any) -> None:
    with _http(server) as http:
        assert http.get("/_sandbox/files/0123456789abcdef/x.txt").status_code == 404
        assert http.get("/_sandbox/filesx").status_code == 401


def test_admin_routes_answer_with_the_credentials(server: Any) -> None:
    with _http(server, auth=(EMAIL, API_KEY)) as http:
        info = http.get("/_sandbox")
        assert info.status_code == 200
        assert info.json()["name"].endswith(" sandbox")
        assert API_KEY not in json.dumps(info.json()["counts"])
        assert "credentials" not in info.json()  # the admin overview no longer echoes secrets
        assert http.get("/_sandbox/faults").json()["rate_limit"] == "off"
    with _http(server, headers={"Authorization": "Bearer sandbox"}) as http:
        assert http.get("/_sandbox/stats").status_code == 200


@pytest.mark.parametrize("settings", BAD_SETTINGS, ids=[json.dumps(s)[:40] for s in BAD_SETTINGS])
def test_bad_settings_answer_400_and_change_nothing(settings: Any, fresh: Any) -> None:
    sandbox = fresh(rate_limit="100/10", error_rate=0.0)
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        before = http.get("/_sandbox/faults").json()
        answer = http.put(
            "/_sandbox/faults",
            content=json.dumps(settings),
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["msg"] == "Invalid sandbox settings."
        assert http.get("/_sandbox/faults").json() == before
        for _ in range(3):
            assert http.get("/api/account").status_code == 200
            assert http.get("/api/tickets", params={"limit": 1}).status_code == 200


def test_rate_limit_x_over_y_no_longer_wedges_the_sandbox(fresh: Any) -> None:
    sandbox = fresh()
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        assert http.put("/_sandbox/faults", json={"rate_limit": "x/y"}).status_code == 400
        assert [http.get("/api/account").status_code for _ in range(5)] == [200] * 5
        assert sandbox.app.options.rate_limit == "off"


def test_good_settings_apply_together_and_reset_restores_the_start_settings(fresh: Any) -> None:
    sandbox = fresh(rate_limit="off")
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        start = http.get("/_sandbox/faults").json()
        changed = http.put(
            "/_sandbox/faults", json={"error_rate": 1, "latency_ms": "1-2", "rate_limit": "2/60"}
        )
        assert changed.status_code == 200
        assert changed.json() == {
            **start,
            "error_rate": 1,
            "latency_ms": "1-2",
            "rate_limit": "2/60",
        }
        assert http.get("/api/account").status_code >= 500  # injected
        tags = http.get("/_sandbox/export").json()["tags"]
        assert http.post("/_sandbox/reset").json()["counts"]["tags"] == len(tags)
        assert http.get("/_sandbox/faults").json() == start
        assert [http.get("/api/account").status_code for _ in range(5)] == [200] * 5


@pytest.mark.parametrize(
    "body",
    [
        b"garbage",
        b"[]",
        b'{"seed": "x"}',
        b'{"seed": [1]}',
        b'{"seed": 1.5}',
        b'{"seed": true}',
        b"[" * 5000,
    ],
)
def test_reset_with_a_bad_body_answers_400(body: bytes, fresh: Any) -> None:
    sandbox = fresh()
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        answer = http.post(
            "/_sandbox/reset", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400, answer.text
        assert isinstance(answer.json()["error"]["msg"], str)
        assert http.post("/_sandbox/reset", json={"seed": 2}).status_code == 200
        assert http.get("/api/account").status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        [],
        "x",
        {},
        {"tags": []},
        {"_format": 1, "tickets": {"a": 1}},
        {"_format": 1, "tickets": [1, 2]},
        {"_format": 1, "tickets": [{"id": "not-an-int"}]},
        {"_format": 1, "ticket": []},
        {"_format": 1, "tags": [{"id": 1, "name": ["not", "a", "string"]}]},
        {"_format": 1, "_files": [{"token": 1}]},
        {
            "_format": 1,
            "_files": [
                {
                    k: "zz"
                    for k in (
                        "name",
                        "content_type",
                        "file_type",
                        "resource_name",
                        "token",
                        "content_hex",
                    )
                }
            ],
        },
    ],
    ids=lambda d: json.dumps(d)[:40],
)
def test_load_of_bad_data_answers_400_and_keeps_the_data(data: Any, fresh: Any) -> None:
    sandbox = fresh()
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        before = http.get("/_sandbox/export").json()
        answer = http.post("/_sandbox/load", json=data)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["msg"] == "The data could not be loaded."
        assert http.get("/_sandbox/export").json() == before
        assert http.get("/api/tickets", params={"limit": 5}).status_code == 200
        assert http.get("/api/tags").status_code == 200


def test_load_of_an_export_round_trips(fresh: Any) -> None:
    sandbox = fresh(seed=5)
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        exported = http.get("/_sandbox/export").json()
        exported["tags"][0]["name"] = "loaded-tag"
        answer = http.post("/_sandbox/load", json=exported)
        assert answer.status_code == 200, answer.text[:500]
        assert http.get(f"/api/tags/{exported['tags'][0]['id']}").json()["name"] == "loaded-tag"


def _write_routes() -> list[dict[str, Any]]:
    spec = importlib.import_module("gorgias.sandbox._spec").SPEC
    return [r for r in spec["routes"] if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]


def _url(route: dict[str, Any]) -> str:
    path = route["path"]
    for param in route["params"]:
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", "1")
    return path


def _extreme_values(schema: Any) -> list[Any]:
    """Values of a property's own type at its edges, which pass the type check and reach handlers."""
    schemas = importlib.import_module("gorgias.sandbox.schemas")
    types = schemas.types_of(schemas.resolve(schema)) or {"string"}
    by_type: dict[str, list[Any]] = {
        "integer": [0, -1, 2**63, 10**30],
        "number": [0.0, -1e308, 1e308],
        "string": ["", "x" * 100_000, "\x00", "💥" * 10],
        "boolean": [True, False],
        "array": [[], [None], [{}]],
        "object": [{}, {"": None}],
        "null": [None],
    }
    return [value for kind in sorted(types) for value in by_type.get(kind, [])]


def _edge_bodies(route: dict[str, Any]) -> list[dict[str, Any]]:
    schemas = importlib.import_module("gorgias.sandbox.schemas")
    body = route.get("body") or {}
    props = schemas.properties(schemas.resolve(body.get("schema"))) if body.get("schema") else {}
    values = {name: _extreme_values(schema) for name, schema in props.items()}
    width = max((len(v) for v in values.values()), default=0)
    return [
        {name: vals[i % len(vals)] for name, vals in values.items() if vals} for i in range(width)
    ]


def _assert_no_5xx(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:300]}"
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert isinstance(error["msg"], str) and error["msg"], what


def test_hostile_bodies_never_get_a_5xx_from_any_write_route(
    fresh: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = fresh()
    routes = _write_routes()
    assert len(routes) >= 50
    sent = 0
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        for route in routes:
            url = _url(route)
            for name, content, content_type in HOSTILE_BODIES:
                answer = http.request(
                    route["method"], url, content=content, headers={"content-type": content_type}
                )
                _assert_no_5xx(answer, f"{route['tool']} {name}")
                sent += 1
            for index, body in enumerate(_edge_bodies(route)):
                answer = http.request(route["method"], url, json=body)
                _assert_no_5xx(
                    answer, f"{route['tool']} edge body {index}: {json.dumps(body)[:200]}"
                )
                sent += 1
        assert sent > 1000
        assert "Traceback" not in caplog.text
        statuses = sandbox.stats()["statuses"]
        assert not [status for status in statuses if status.startswith("5")], statuses
        assert http.get("/api/account").status_code == 200  # still answering


@pytest.mark.parametrize(
    ("name", "content", "content_type"), HOSTILE_BODIES, ids=[b[0] for b in HOSTILE_BODIES]
)
def test_hostile_bodies_to_admin_routes_get_a_4xx(
    name: str, content: bytes, content_type: str, fresh: Any
) -> None:
    sandbox = fresh()
    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        for method, path in (
            ("PUT", "/_sandbox/faults"),
            ("POST", "/_sandbox/reset"),
            ("POST", "/_sandbox/load"),
        ):
            answer = http.request(
                method, path, content=content, headers={"content-type": content_type}
            )
            if name == "empty" and path != "/_sandbox/load":
                assert answer.status_code == 200, (
                    path,
                    answer.text,
                )  # no body: no change, or plain reset
                continue
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
            assert answer.json()["error"]["msg"], path
        assert http.get("/api/account").status_code == 200


def test_a_huge_body_is_refused_without_reading_it_all(fresh: Any) -> None:
    sandbox = fresh()

    def endless() -> Any:
        chunk = b"x" * 65536
        for _ in range(1024):  # 64 MiB, sent without a content-length
            yield chunk

    with _http(sandbox, auth=(EMAIL, API_KEY)) as http:
        answer = http.post(
            "/api/tags", content=endless(), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413
        assert answer.json() == {"error": {"msg": "The request body is too large."}}


def test_a_client_that_disconnects_mid_body_gets_a_4xx_and_no_traceback(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = base64.b64encode(f"{EMAIL}:{API_KEY}".encode()).decode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/tags",
        "raw_path": b"/api/tags",
        "query_string": b"",
        "headers": [
            (b"authorization", f"Basic {token}".encode()),
            (b"content-type", b"application/json"),
        ],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "http_version": "1.1",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(server.app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {"error": {"msg": "The request body was cut short."}}
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"tickets": [', "is not JSON"),
        ("[" * 100_000, "is not JSON"),
        ('{"_format": "something else"}', "cannot be loaded: _format: Expected an object"),
        (None, "cannot read"),
    ],
    ids=["truncated", "deep", "wrong-format", "missing"],
)
def test_a_bad_data_file_at_start_up_is_one_clear_line(
    content: str | None, message: str, tmp_path: Any
) -> None:
    import subprocess
    import sys

    path = tmp_path / "data.json"
    if content is not None:
        path.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "gorgias.sandbox", "--data", str(path), "--port", "0", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sandbox: --data: "), proc.stderr
    assert message in lines[0]
