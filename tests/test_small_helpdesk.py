"""A second, small helpdesk on the same language: the shapes the first non-Gorgias API broke.

`tests/fixtures/small_helpdesk` combines numbered pages announced by the `Link` header, errors as a
list of `{field, message, code}` objects, Basic auth with the API key and a fixed password, and
`X-RateLimit-Total`/`X-RateLimit-Remaining` headers (Freshdesk's conventions, see its SOURCES.md).
It is generated into a temporary folder and its own generated sandbox started with page size 2:
the generated client and MCP list tool must read every page (a first version stopped after page
1), and a 400 must keep every field error (a first version returned `field_errors={}`).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.probe import run_probe
from tests.test_generate import run as run_cli

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "small_helpdesk"

#: Runs in a subprocess where the generated package `smalldesk` is importable; prints JSON.
PROBE = r"""
import asyncio, json, httpx
from smalldesk import AsyncSmalldesk, BadRequestError, Smalldesk
from smalldesk.mcp.server import ToolRunner, load_tools
from smalldesk.sandbox import serve_in_thread

out = {}
h = serve_in_thread(rate_limit="off", seed=1, page_size=2)
try:
    auth = h.client_kwargs()
    client = Smalldesk(**auth)
    # The raw walk: follow the sandbox's Link headers by hand.
    url, raw_ids, links = h.base_url + "/api/v2/tickets", [], []
    while url:
        answer = httpx.get(url, auth=(h.api_key, "X"))
        raw_ids += [item["id"] for item in answer.json()["data"]]
        links.append(answer.headers.get("link"))
        url = answer.links.get("next", {}).get("url")
    out["raw_ids"], out["links"] = raw_ids, links
    out["sync_ids"] = [ticket.id for ticket in client.tickets.list()]
    out["sync_pages"] = [len(page) for page in client.tickets.list().pages()]

    async def walk_async():
        async with AsyncSmalldesk(**auth) as aclient:
            out["async_ids"] = [ticket.id async for ticket in aclient.tickets.list()]
        runner = ToolRunner(load_tools(), client_factory=lambda: AsyncSmalldesk(**auth))
        try:
            args, seen, cursors = {}, [], []
            for _ in range(50):
                result = await runner.call("list_all_smalldesk_tickets", args)
                assert not result.is_error, result.content
                page = result.structured_content
                seen += [item["id"] for item in page["result"]]
                cursors.append(page["next_cursor"])
                if page["next_cursor"] is None:
                    break
                args = {"cursor": page["next_cursor"]}
            out["mcp_ids"], out["mcp_cursors"] = seen, cursors
        finally:
            await runner.aclose()

    asyncio.run(walk_async())

    body = {"subject": "", "priority": 9}
    raw = httpx.post(h.base_url + "/api/v2/tickets", json=body, auth=(h.api_key, "X"))
    out["raw_error"] = {"status": raw.status_code, "body": raw.json()}
    try:
        client.request("POST", "/api/v2/tickets", json=body)
        out["caught"] = None
    except BadRequestError as exc:
        out["caught"] = {"status": exc.status_code, "message": exc.message, "field_errors": exc.field_errors}
finally:
    h.stop()

seen = []
def record(request):
    seen.append(request.headers.get("authorization"))
probe = Smalldesk(base_url="http://127.0.0.1:9", api_key="k-123", max_retries=0,
                  http_client=httpx.Client(event_hooks={"request": [record]}))
try:
    probe.tickets.get(1)
except Exception as exc:
    out["offline_error"] = type(exc).__name__
out["authorization"] = seen[0] if seen else None
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("smalldesk") / "out"
    code, output = run_cli("generate", str(FIXTURE), "-o", str(out))
    assert code == 0, output
    result, stderr = run_probe(PROBE, out / "python", cwd=out, env_prefix="SMALLDESK_")
    result["generated"] = out
    result["stderr"] = stderr
    return result


def test_the_sandbox_announces_every_page_but_the_last_in_the_link_header(probed: dict[str, Any]) -> None:
    links = probed["links"]
    assert len(links) >= 3, links                       # several pages of two
    assert all('rel="next"' in link for link in links[:-1])
    assert links[-1] is None
    assert len(probed["raw_ids"]) == len(set(probed["raw_ids"]))


def test_the_client_reads_every_page_exactly_once(probed: dict[str, Any]) -> None:
    assert probed["sync_ids"] == probed["raw_ids"]
    assert probed["async_ids"] == probed["raw_ids"]
    assert sum(probed["sync_pages"]) == len(probed["raw_ids"])
    assert all(size == 2 for size in probed["sync_pages"][:-1])


def test_the_mcp_list_tool_hands_out_a_cursor_until_the_last_page(probed: dict[str, Any]) -> None:
    assert probed["mcp_ids"] == probed["raw_ids"]
    cursors = probed["mcp_cursors"]
    assert cursors[-1] is None
    assert all(isinstance(cursor, str) and cursor for cursor in cursors[:-1])


def test_a_400_keeps_every_field_error_of_the_list_of_objects(probed: dict[str, Any]) -> None:
    raw = probed["raw_error"]
    assert raw["status"] == 400
    wire_fields = {entry["field"] for entry in raw["body"]["errors"]}
    assert {"subject", "email", "priority"} <= wire_fields
    caught = probed["caught"]
    assert caught["status"] == 400
    assert set(caught["field_errors"]) == wire_fields
    assert all(messages and all(isinstance(m, str) and m for m in messages)
               for messages in caught["field_errors"].values())


def test_the_sandbox_data_matches_the_declared_schemas(probed: dict[str, Any]) -> None:
    # Synthesised items must respect the schema's bounds (`priority` is 1..4), or the typed
    # client drops the values and warns.
    assert "do not match the model" not in probed["stderr"], probed["stderr"][-2000:]


def test_basic_auth_sends_the_api_key_with_the_fixed_password(probed: dict[str, Any]) -> None:
    expected = "Basic " + base64.b64encode(b"k-123:X").decode()
    assert probed["authorization"] == expected


def test_docs_and_openapi_describe_this_connector_not_another(probed: dict[str, Any]) -> None:
    generated: Path = probed["generated"]
    readme = (generated / "python" / "README.md").read_text()
    assert "from smalldesk import Smalldesk" in readme
    assert "SMALLDESK_API_KEY" in readme
    texts = [readme, (generated / "docs" / "index.md").read_text(),
             (generated / "openapi" / "smalldesk.openapi.json").read_text()]
    for text in texts:
        assert "gorgias" not in text.lower()
