"""Every paginator type of the language, end to end.

`tests/fixtures/paginated` declares one list per paginator type (cursor with Zendesk's
`page[size]`/`page[after]` and `meta.has_more`, page number, offset, next-page URL in the body,
`Link` header, time-based incremental export). It is generated into a temporary directory, its
generated sandbox is started with page size 2, and the generated client (sync and async) and the
MCP list tools must read every item exactly once, for every type.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.probe import run_probe
from tests.test_generate import run as run_cli

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "paginated"

#: client method -> (MCP tool, extra arguments every call needs)
LISTS: dict[str, tuple[str, dict[str, Any]]] = {
    "list": ("list_things_by_cursor", {}),
    "list_by_page": ("list_things_by_page", {}),
    "list_by_offset": ("list_things_by_offset", {}),
    "list_by_next_url": ("list_things_by_next_url", {}),
    "list_by_link_header": ("list_things_by_link_header", {}),
    "list_by_export": ("list_things_by_export", {"start_time": 0}),
}

#: Runs in a subprocess (the generated package `demo` is importable there only); prints JSON.
PROBE = r"""
import asyncio, json, sys
from demo import AsyncDemo, Demo
from demo.mcp.server import ToolRunner, load_tools
from demo.sandbox.server import serve_in_thread

LISTS = json.loads(sys.argv[1])
handle = serve_in_thread(port=0, quiet=True, page_size=2, rate_limit="off")
auth = {"base_url": handle.base_url, "email": "sandbox@example.com", "api_key": "sandbox"}
out = {"sync": {}, "pages": {}, "short_pages": {}, "async": {}, "mcp": {}, "mcp_cursors": {}}
client = Demo(**auth)
out["all"] = sorted(thing.id for thing in client.things.list(page_size_=100))
for method, (tool, extra) in LISTS.items():
    out["sync"][method] = [thing.id for thing in getattr(client.things, method)(**extra)]
    out["pages"][method] = [len(page) for page in getattr(client.things, method)(**extra).pages()]
out["short_pages"]["list_by_page"] = [len(p) for p in client.things.list_by_page(per_page=3).pages()]
out["short_pages"]["list_by_offset"] = [len(p) for p in client.things.list_by_offset(limit=3).pages()]


async def run_async():
    async with AsyncDemo(**auth) as aclient:
        for method, (tool, extra) in LISTS.items():
            out["async"][method] = [thing.id async for thing in getattr(aclient.things, method)(**extra)]
    runner = ToolRunner(load_tools(), client_factory=lambda: AsyncDemo(**auth))
    try:
        for method, (tool, extra) in LISTS.items():
            cursor_arg = "page[after]" if method == "list" else "cursor"
            args, seen, cursors = dict(extra), [], []
            for _ in range(20):
                result = await runner.call(tool, args)
                assert not result.is_error, result.content
                page = result.structured_content
                seen += [item["id"] for item in page["result"]]
                cursors.append(page["next_cursor"])
                if page["next_cursor"] is None:
                    break
                args = {**extra, cursor_arg: page["next_cursor"]}
            out["mcp"][tool] = seen
            out["mcp_cursors"][tool] = cursors
    finally:
        await runner.aclose()

asyncio.run(run_async())
handle.stop()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("paginated") / "out"
    code, output = run_cli("generate", str(FIXTURE), "-o", str(out))
    assert code == 0, output
    return out


@pytest.fixture(scope="module")
def walked(generated: Path) -> dict[str, Any]:
    result, _ = run_probe(PROBE, generated / "python", json.dumps(LISTS), cwd=generated, env_prefix="DEMO_")
    return result


def test_the_fixture_is_a_valid_definition() -> None:
    code, output = run_cli("validate", str(FIXTURE))
    assert code == 0, output
    paginators = yaml.safe_load((FIXTURE / "connector.yaml").read_text())["paginators"]
    assert sorted(p["type"] for p in paginators.values()) == sorted(
        ["cursor", "page_number", "offset", "next_url", "link_header", "time_export"]
    )


def test_the_sandbox_holds_enough_items_for_several_pages(walked: dict[str, Any]) -> None:
    assert len(walked["all"]) >= 5
    assert len(set(walked["all"])) == len(walked["all"])


@pytest.mark.parametrize("method", list(LISTS))
def test_sync_client_reads_every_item_exactly_once(walked: dict[str, Any], method: str) -> None:
    ids = walked["sync"][method]
    assert sorted(ids) == walked["all"]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("method", list(LISTS))
def test_async_client_reads_every_item_exactly_once(walked: dict[str, Any], method: str) -> None:
    ids = walked["async"][method]
    assert sorted(ids) == walked["all"]
    assert ids == walked["sync"][method]  # same order too


@pytest.mark.parametrize("method", list(LISTS))
def test_mcp_list_tool_reads_every_item_exactly_once(walked: dict[str, Any], method: str) -> None:
    tool = LISTS[method][0]
    assert walked["mcp"][tool] == walked["sync"][method]
    cursors = walked["mcp_cursors"][tool]
    assert cursors[-1] is None
    assert all(isinstance(c, str) and c for c in cursors[:-1])  # opaque strings for every type


def test_pages_are_the_sandbox_page_size_and_stop_where_the_type_says(walked: dict[str, Any]) -> None:
    count = len(walked["all"])
    full = [2] * (count // 2) + ([count % 2] if count % 2 else [])
    pages = walked["pages"]
    assert pages["list"] == full  # meta.has_more false ends it, though a cursor may still be given
    assert pages["list_by_page"] == full  # the total (`count`) or the missing next_page URL ends it
    assert pages["list_by_next_url"] == full
    assert pages["list_by_link_header"] == full
    assert pages["list_by_export"] == full  # end_of_stream ends it
    # offset without a total: a full last page is followed by one empty page, which ends it
    assert pages["list_by_offset"] == ([*full, 0] if count % 2 == 0 else full)
    # a page shorter than the page size asked for is the last one
    short = [3] * (count // 3) + ([count % 3] if count % 3 else [])
    assert walked["short_pages"]["list_by_page"] == short
    assert walked["short_pages"]["list_by_offset"] == ([*short, 0] if count % 3 == 0 else short)


def test_mcp_cursors_encode_the_position_of_each_type(walked: dict[str, Any]) -> None:
    cursors = walked["mcp_cursors"]
    assert cursors["list_things_by_page"][:2] == ["2", "3"]
    assert cursors["list_things_by_offset"][:2] == ["2", "4"]
    assert cursors["list_things_by_export"][:2] == ["2", "4"]
    assert "sandbox_page=2" in cursors["list_things_by_next_url"][0]
    assert "per_page" not in cursors["list_things_by_link_header"][0]  # no size sent, none carried
    assert "sandbox_page=2" in cursors["list_things_by_link_header"][0]


def test_openapi_documents_each_paginator_without_the_client_cursor(generated: Path) -> None:
    doc = json.loads((generated / "openapi" / "demo.openapi.json").read_text())
    ops = {op["operationId"]: op for item in doc["paths"].values() for op in item.values() if isinstance(op, dict) and "operationId" in op}
    by_page = ops["list_things_by_page"]
    assert [p["name"] for p in by_page["parameters"]] == ["page", "per_page"]
    assert by_page["x-pagination"] == {
        "type": "page_number", "cursor_argument": "cursor", "position_param": "page", "limit_param": "per_page",
        "items_path": "results", "total_path": "count", "next_url_path": "next_page", "first_page": 1,
    }
    export = ops["list_things_by_export"]
    assert [(p["name"], p["required"]) for p in export["parameters"]] == [("start_time", True), ("per_page", False)]
    assert export["x-pagination"]["end_of_stream_path"] == "end_of_stream"
    cursor = ops["list_things_by_cursor"]
    assert [p["name"] for p in cursor["parameters"]] == ["page[after]", "page[size]"]
    assert cursor["x-pagination"]["has_more_path"] == "meta.has_more"
    assert ops["list_things_by_link_header"]["x-pagination"]["type"] == "link_header"
    assert "`Link` response header" in doc["info"]["description"]


def test_docs_describe_every_paginator(generated: Path) -> None:
    text = "\n".join(p.read_text() for p in (generated / "docs").rglob("*.md"))
    for phrase in (
        "Numbered pages: send the page number as `page`",
        "Offset pagination: send the number of items to skip as `offset`",
        "Each page gives the URL of the next one at `paging.next`",
        "`Link` response header",
        "Incremental export: send the start time (Unix seconds) as `start_time`",
        "the list ends when `meta.has_more` is false",
    ):
        assert phrase in text, phrase


def test_link_header_parsing() -> None:
    from gorgias._base import link_next

    assert link_next('<https://a.example/x?page=2>; rel="next", <https://a.example/x?page=9>; rel="last"') == (
        "https://a.example/x?page=2"
    )
    assert link_next('<https://a.example/x?page=1>; rel="prev", <https://a.example/x?page=3>; rel=next') == (
        "https://a.example/x?page=3"
    )
    assert link_next('<https://a.example/x?page=9>; rel="last"') is None
    assert link_next(None) is None


def test_a_cursor_that_is_not_a_position_is_refused_before_sending(generated: Path) -> None:
    script = (
        "from demo import Demo\n"
        "from demo._errors import InvalidArgumentsError\n"
        "c = Demo(base_url='http://127.0.0.1:9', email='e', api_key='k', max_retries=0)\n"
        "try:\n"
        "    c.invoke('list_things_by_offset', {'cursor': '../etc'})\n"
        "except InvalidArgumentsError as exc:\n"
        "    print('refused', sorted(exc.errors))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(generated / "python"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=generated, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "refused ['cursor']"


def test_a_paginator_path_missing_from_the_page_schema_is_reported(tmp_path: Path) -> None:
    import shutil

    spec = tmp_path / "paginated"
    shutil.copytree(FIXTURE, spec)
    text = (spec / "connector.yaml").read_text()
    (spec / "connector.yaml").write_text(text.replace("total_path: count", "total_path: meta.total"))
    code, output = run_cli("validate", str(spec))
    assert code == 1
    assert "error[pagination-path-missing]: total_path 'meta.total' of envelope 'page_list' is not in its page schema" in output


def test_the_generated_client_of_every_paginator_type_passes_mypy_strict(generated: Path) -> None:
    package = generated / "python"
    modules = [f"demo/{p.name}" for p in sorted((package / "demo").glob("*.py"))] + ["demo/resources"]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", *modules],
        cwd=package, env={**os.environ, "MYPYPATH": str(package)}, capture_output=True, text=True, timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
