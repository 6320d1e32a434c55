"""Response keys, wrapped request bodies, side-loads and plan budgets, end to end.

`tests/fixtures/enveloped` is a help desk API shaped like Zendesk Support: one object comes
wrapped under a key (`{"ticket": {...}}`) and is sent the same way (`body.wrap_key`), lists put
their items under a named key with a total and a next-page URL (`{"tickets": [...], "count": n,
"next_page": url}`), `include=users` side-loads the users the tickets point at, a search answers
tickets and users mixed (told apart by `result_type`), and the rate limit depends on the plan.
It is generated into a temporary folder and its generated client, MCP tools, sandbox, OpenAPI
document and docs are checked; the client runs in a subprocess against the generated sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.probe import run_probe
from tests.test_generate import run as run_cli

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "enveloped"

#: Runs in a subprocess (the generated package `envdemo` is importable there only); prints JSON.
PROBE = r"""
import asyncio, json, time
import httpx
from envdemo import AsyncEnvdemo, ConfigurationError, Envdemo, models
from envdemo import _ratelimit
from envdemo.mcp.server import ToolRunner, load_tools
from envdemo.sandbox.server import serve_in_thread

handle = serve_in_thread(port=0, quiet=True, page_size=2, rate_limit="off")
auth = {"base_url": handle.base_url, "email": "sandbox@example.com", "api_token": "sandbox"}
out = {}
sent = []

def capture(request):
    if request.method in ("POST", "PUT"):
        sent.append([request.method, request.url.path, json.loads(request.content)])

client = Envdemo(**auth, http_client=httpx.Client(event_hooks={"request": [capture]}))
users = client.users.list(per_page=100).first_page().items
user_id = users[0].id
created = client.tickets.create(subject="Broken lamp", requester_id=user_id)
updated = client.tickets.update(created.id, status="solved")
got = client.tickets.get(created.id)
out["created"] = [type(created).__name__, created.subject, created.requester_id]
out["updated"] = [type(updated).__name__, updated.status]
out["got"] = [type(got).__name__, got.id == created.id, got.subject, got.status]
out["sent"] = [[m, p.replace(str(created.id), "{id}"), b] for m, p, b in sent]
out["invoke_get"] = client.invoke("get_envdemo_ticket", {"ticket_id": created.id})
with_users = client.invoke("get_envdemo_ticket", {"ticket_id": created.id, "include": ["users"]})
out["invoke_get_users"] = [with_users["result"]["id"] == created.id, [u["id"] for u in with_users["included"]["users"]]]
first = client.tickets.list(per_page=2).first_page()
out["total"] = [first.total, first.to_dict()["total"], client.invoke("list_envdemo_tickets", {"per_page": 2})["total"]]
out["all"] = sorted(t.id for t in client.tickets.list(per_page=100))
out["sync"] = [t.id for t in client.tickets.list()]
pages = list(client.tickets.list(include=["users"]).pages())
out["pages"] = [len(p) for p in pages]
out["paged_ids"] = [t.id for p in pages for t in p]
mine = next(p for p in pages if any(t.id == created.id for t in p))
out["included"] = {name: [[type(u).__name__, u.id] for u in items] for name, items in mine.included.items()}
out["included_dict"] = sorted(mine.to_dict()["included"])
out["no_include"] = [bool(p.included) for p in client.tickets.list().pages()]
raw = httpx.get(handle.base_url + "/api/v2/tickets/%d" % created.id, auth=("sandbox@example.com/token", "sandbox"))
out["raw_get"] = [raw.status_code, sorted(raw.json())]
bare = httpx.post(handle.base_url + "/api/v2/tickets", json={"subject": "not wrapped"},
                  auth=("sandbox@example.com/token", "sandbox"))
out["bare_post"] = [bare.status_code, bare.json()]


async def run_async():
    async with AsyncEnvdemo(**auth) as aclient:
        out["async"] = [t.id async for t in aclient.tickets.list()]
        ticket = await aclient.tickets.get(created.id)
        out["async_get"] = [type(ticket).__name__, ticket.subject]
    tools = load_tools()
    out["tool_inputs"] = {name: sorted(tools[name].tool.input_schema["properties"])
                          for name in ("create_envdemo_ticket", "update_envdemo_ticket")}
    runner = ToolRunner(tools, client_factory=lambda: AsyncEnvdemo(**auth))
    try:
        made = await runner.call("create_envdemo_ticket", {"subject": "From MCP", "requester_id": user_id})
        assert not made.is_error, made.content
        out["mcp_create"] = made.structured_content
        seen, args, included = [], {"include": ["users"]}, {}
        for _ in range(50):
            result = await runner.call("list_envdemo_tickets", args)
            assert not result.is_error, result.content
            page = result.structured_content
            seen += [item["id"] for item in page["result"]]
            for name, items in page["included"].items():
                included.setdefault(name, []).extend(u["id"] for u in items)
            if page["next_cursor"] is None:
                break
            args = {"include": ["users"], "cursor": page["next_cursor"]}
        out["mcp_ids"] = seen
        out["mcp_included"] = included
    finally:
        await runner.aclose()

asyncio.run(run_async())

# search: tickets and users mixed, each typed by its result_type
def search_answer(request):
    return httpx.Response(200, json={"results": [
        {"result_type": "ticket", "id": 1, "subject": "Lamp"},
        {"result_type": "user", "id": 2, "name": "Ada"},
    ], "count": 2, "next_page": None})

mocked = Envdemo(**auth, http_client=httpx.Client(transport=httpx.MockTransport(search_answer)))
found = mocked.search.search(query="lamp").first_page()
out["search"] = [[type(r).__name__, r.result_type, r.id] for r in found]
out["search_invoke"] = mocked.invoke("search_envdemo", {"query": "lamp"})["result"]

# plan budgets: the limiter is sized for the plan, measured on a fake clock
clock = [1000.0]
_ratelimit.time.monotonic = lambda: clock[0]
budgets = {}
for plan in (None, "team", "growth", "enterprise"):
    limiter = Envdemo(**auth, plan=plan).rate_limiter
    free = 0
    while limiter.reserve() == 0.0:
        free += 1
    budgets[str(plan)] = [limiter.requests, limiter.period, limiter.window, free]
out["budgets"] = budgets
os_env = __import__("os").environ
os_env["ENVDEMO_PLAN"] = "enterprise"
out["env_plan"] = [Envdemo(**auth).plan, Envdemo(**auth).rate_limiter.requests]
del os_env["ENVDEMO_PLAN"]
try:
    Envdemo(**auth, plan="platinum")
    out["unknown_plan"] = None
except ConfigurationError as exc:
    out["unknown_plan"] = [type(exc).__name__, str(exc)]
handle.stop()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("enveloped") / "out"
    code, output = run_cli("generate", str(FIXTURE), "-o", str(out))
    assert code == 0, output
    return out


@pytest.fixture(scope="module")
def probed(generated: Path) -> dict[str, Any]:
    result, _ = run_probe(PROBE, generated / "python", cwd=generated, env_prefix="ENVDEMO_")
    return result


def test_the_fixture_is_a_valid_definition() -> None:
    code, output = run_cli("validate", str(FIXTURE))
    assert code == 0, output


def test_get_create_update_return_the_inner_typed_object(probed: dict[str, Any]) -> None:
    assert probed["created"][:2] == ["Ticket", "Broken lamp"]
    assert probed["updated"] == ["Ticket", "solved"]
    assert probed["got"] == ["Ticket", True, "Broken lamp", "solved"]
    assert probed["async_get"] == ["Ticket", "Broken lamp"]
    assert probed["invoke_get"]["subject"] == "Broken lamp"  # invoke() unwraps too
    assert "ticket" not in probed["invoke_get"]
    # asked for side-loads, invoke() keeps them beside the object
    assert probed["invoke_get_users"] == [True, [probed["created"][2]]]


def test_list_pages_carry_the_total(probed: dict[str, Any]) -> None:
    count = len(probed["all"])
    assert probed["total"] == [count, count, count]


def test_bodies_are_sent_wrapped_exactly(probed: dict[str, Any]) -> None:
    user_id = probed["created"][2]
    assert probed["sent"] == [
        ["POST", "/api/v2/tickets", {"ticket": {"subject": "Broken lamp", "requester_id": user_id}}],
        ["PUT", "/api/v2/tickets/{id}", {"ticket": {"status": "solved"}}],
    ]


def test_sandbox_answers_wrapped_and_wants_wrapped_bodies(probed: dict[str, Any]) -> None:
    assert probed["raw_get"] == [200, ["ticket"]]
    status, body = probed["bare_post"]
    assert status == 400
    assert "ticket" in body["details"]


def test_lists_read_every_item_exactly_once_with_page_size_two(probed: dict[str, Any]) -> None:
    every = probed["all"]
    assert len(every) >= 5
    assert sorted(probed["sync"]) == every and len(set(probed["sync"])) == len(every)
    assert probed["async"] == probed["sync"]
    assert sorted(probed["paged_ids"]) == every
    assert probed["pages"] == [2] * (len(every) // 2) + ([1] if len(every) % 2 else [])


def test_pages_expose_the_side_loaded_users(probed: dict[str, Any]) -> None:
    user_id = probed["created"][2]
    assert ["User", user_id] in probed["included"]["users"]
    assert all(kind == "User" for kind, _ in probed["included"]["users"])
    assert probed["included_dict"] == ["users"]
    assert not any(probed["no_include"])  # nothing side-loaded unless asked


def test_mcp_tools_take_the_inner_fields_and_keep_side_loads(probed: dict[str, Any]) -> None:
    assert probed["tool_inputs"]["create_envdemo_ticket"] == ["assignee_id", "requester_id", "status", "subject"]
    assert probed["tool_inputs"]["update_envdemo_ticket"] == [
        "assignee_id", "requester_id", "status", "subject", "ticket_id",
    ]
    created = probed["mcp_create"]
    assert created["subject"] == "From MCP" and "ticket" not in created
    assert sorted(probed["mcp_ids"]) == sorted([*probed["all"], created["id"]])
    assert len(probed["mcp_ids"]) == len(set(probed["mcp_ids"]))
    assert probed["created"][2] in probed["mcp_included"]["users"]


def test_search_results_of_mixed_types_are_typed_by_result_type(probed: dict[str, Any]) -> None:
    assert probed["search"] == [["TicketResult", "ticket", 1], ["UserResult", "user", 2]]
    assert [r["result_type"] for r in probed["search_invoke"]] == ["ticket", "user"]


def test_plan_budgets_size_the_client_throttle(probed: dict[str, Any]) -> None:
    budgets = probed["budgets"]
    assert budgets["None"] == [200, 60, True, 200]  # default_plan: team
    assert budgets["team"] == [200, 60, True, 200]
    assert budgets["growth"] == [400, 60, True, 400]
    assert budgets["enterprise"] == [700, 60, True, 700]
    assert probed["env_plan"] == ["enterprise", 700]
    kind, message = probed["unknown_plan"]
    assert kind == "ConfigurationError"
    assert "'platinum'" in message and "team, growth, professional, enterprise" in message


def test_mcp_tools_file_documents_wrapping_and_side_loads(generated: Path) -> None:
    document = json.loads((generated / "mcp" / "envdemo.tools.json").read_text())
    tools = {tool["name"]: tool for tool in document["tools"]}
    listing = tools["list_envdemo_tickets"]["outputSchema"]
    assert listing["properties"]["included"]["properties"]["users"]["items"] == {"$ref": "#/$defs/User"}
    assert document["routing"]["create_envdemo_ticket"]["wrap_key"] == "ticket"
    assert listing["properties"]["total"]["type"] == ["integer", "null"]
    getting = tools["get_envdemo_ticket"]["outputSchema"]
    assert getting["anyOf"][0] == {"type": "object", "$ref": "#/$defs/Ticket"}
    assert sorted(getting["anyOf"][1]["properties"]) == ["included", "result"]
    assert "ticket" not in tools["create_envdemo_ticket"]["inputSchema"]["properties"]


def test_openapi_is_valid_and_shows_the_wrappers(generated: Path) -> None:
    from openapi_spec_validator import validate

    doc = json.loads((generated / "openapi" / "envdemo.openapi.json").read_text())
    validate(doc)
    ops = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op}
    get = ops["get_envdemo_ticket"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert get["required"] == ["ticket"]
    assert get["properties"]["ticket"] == {"$ref": "#/components/schemas/Ticket"}
    assert get["properties"]["users"]["items"] == {"$ref": "#/components/schemas/User"}
    body = ops["create_envdemo_ticket"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"type": "object", "properties": {"ticket": {"$ref": "#/components/schemas/TicketInput"}},
                    "required": ["ticket"]}
    page_ref = ops["list_envdemo_tickets"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = doc["components"]["schemas"][page_ref.rsplit("/", 1)[-1]]
    assert page["properties"]["tickets"]["items"] == {"$ref": "#/components/schemas/Ticket"}
    assert page["properties"]["users"]["items"] == {"$ref": "#/components/schemas/User"}
    assert "results" not in page["properties"]  # the key replaces the paginator's items path
    assert ops["list_envdemo_tickets"]["x-pagination"]["items_path"] == "tickets"
    assert ops["list_envdemo_tickets"]["x-codegen"]["sideloads"] == ["users"]
    example = ops["get_envdemo_ticket"]["responses"]["200"]["content"]["application/json"]["examples"]["wrapped"]
    assert example["value"] == {"ticket": {"id": 7, "subject": "Broken lamp", "status": "open"}}


def test_docs_list_the_plans_and_the_wrappers(generated: Path) -> None:
    text = "\n".join(p.read_text() for p in (generated / "docs").rglob("*.md"))
    assert "`team`" in text and "`enterprise`" in text and "ENVDEMO_PLAN" in text
    assert "wrapped under `ticket`" in text
    assert "include=" in text or "side-load" in text


def test_the_generated_client_with_envelopes_and_plans_passes_mypy_strict(generated: Path) -> None:
    python = generated / "python"
    files = [f"envdemo/{p.name}" for p in sorted((python / "envdemo").glob("*.py"))] + ["envdemo/resources"]
    usage = python / "usage_check.py"
    usage.write_text(
        "from typing import Any, assert_type\n"
        "from envdemo import Envdemo, Page, models\n\n"
        "def use(client: Envdemo) -> None:\n"
        "    assert_type(client.tickets.get(1), models.Ticket)\n"
        "    assert_type(client.tickets.create(subject='x'), models.Ticket)\n"
        "    page = client.tickets.list(include=['users']).first_page()\n"
        "    assert_type(page, Page[models.Ticket])\n"
        "    assert_type(page.included, dict[str, list[Any]])\n"
        "    assert_type(client.plan, str | None)\n\n"
        "Envdemo(email='a', api_token='b', plan='growth')\n"
    )
    env = {**os.environ, "MYPYPATH": str(python)}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", *files,
         "usage_check.py"],
        capture_output=True, text=True, cwd=python, env=env, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
