"""The generated Zendesk client: `mypy --strict` clean, and typed as Zendesk code expects to use it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

GENERATED_PYTHON = REPO_ROOT / "generated" / "zendesk" / "python"

USAGE = """
from typing import Any, assert_type

from zendesk import AsyncPager, AsyncZendesk, Page, SyncPager, Zendesk, models


def sync_usage(client: Zendesk) -> None:
    pager = client.tickets.list(sort="-updated_at", include=["users"])
    assert_type(pager, SyncPager[models.Ticket])
    page = pager.first_page()
    assert_type(page, Page[models.Ticket])
    assert_type(page.next_cursor, str | None)
    assert_type(client.tickets.get(35436), models.Ticket)
    ticket = client.tickets.create(comment={"body": "Hi", "public": True}, subject="Printer", priority="urgent")
    assert_type(ticket, models.Ticket)
    assert_type(client.ticket_comments.list(ticket_id=1), SyncPager[models.Comment])
    assert_type(client.tickets.merge(1, ids=[2, 3]), models.JobStatus)
    assert_type(client.users.me(), models.User)
    assert_type(client.incremental_exports.tickets_time(start_time=0), SyncPager[models.Ticket])
    assert_type(client.incremental_exports.tickets_cursor(start_time=0), SyncPager[models.Ticket])
    assert_type(client.search.list(query="type:ticket"), SyncPager[models.SearchResult])
    client.invoke("list_all_zendesk_tickets", {"page[size]": 10})
    client.request("GET", "/api/v2/tickets", params={"page[size]": 1})


async def async_usage() -> None:
    async with AsyncZendesk(subdomain="acme", email="me@example.com", api_token="t", plan="enterprise") as c:
        assert_type(c.users.list(), AsyncPager[models.User])
        users = [u async for u in c.users.list()]
        assert_type(users, list[models.User])
        assert_type(await c.groups.get(1), models.Group)
"""

BAD_USAGE = """
from zendesk import Zendesk

def bad(client: Zendesk) -> None:
    client.tickets.get("1/../../users")
    client.tickets.list(sort="sideways")
"""


def _mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPYPATH": str(GENERATED_PYTHON)}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )


def test_generated_zendesk_client_passes_mypy_strict() -> None:
    package = GENERATED_PYTHON / "zendesk"
    modules = [f"zendesk/{p.name}" for p in sorted(package.glob("*.py"))] + ["zendesk/resources"]
    proc = _mypy(*modules, cwd=GENERATED_PYTHON)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout


def test_public_api_types(tmp_path: Path) -> None:
    (tmp_path / "usage.py").write_text(USAGE)
    (tmp_path / "bad_usage.py").write_text(BAD_USAGE)
    ok = _mypy("usage.py", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _mypy("bad_usage.py", cwd=tmp_path)
    assert bad.returncode == 1
    assert 'Argument 1 to "get" of "TicketsResource" has incompatible type "str"; expected "int"' in bad.stdout
    assert 'Argument "sort" to "list" of "TicketsResource" has incompatible type' in bad.stdout


def test_cursor_lists_always_send_the_page_size() -> None:
    """Zendesk answers its offset envelope when `page[size]` is left out, so the client sends it."""
    import httpx
    from zendesk import Zendesk

    sent: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        more = "page[after]" not in request.url.params
        return httpx.Response(
            200,
            json={
                request.url.path.rsplit("/", 1)[-1]: [{"id": len(sent)}],
                "meta": {"has_more": more, "after_cursor": "abc" if more else None, "before_cursor": None},
                "links": {"next": None, "prev": None},
            },
        )

    client = Zendesk(
        subdomain="acme", email="a@example.com", api_token="t", rate_limit=False,
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    assert [t.id for t in client.tickets.list()] == [1, 2]
    assert [dict(url.params) for url in sent] == [{"page[size]": "100"}, {"page[size]": "100", "page[after]": "abc"}]
    sent.clear()
    list(client.tickets.list(page_size_=5))
    assert [url.params.get_list("page[size]") for url in sent] == [["5"], ["5"]]
    sent.clear()
    list(client.incremental_exports.tickets_time(start_time=0))  # other paginators send nothing extra
    assert dict(sent[0].params) == {"start_time": "0"}
    sent.clear()
    client.invoke("list_all_zendesk_groups", {})
    assert dict(sent[0].params) == {"page[size]": "100"}


def test_cursor_export_stops_at_the_end_of_the_stream() -> None:
    """The last page of a cursor-based export still carries a cursor; `end_of_stream` ends it."""
    import httpx
    from zendesk import Zendesk

    sent: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        last = request.url.params.get("cursor") == "c2"
        return httpx.Response(
            200,
            json={
                "users": [{"id": len(sent)}],
                "after_cursor": f"c{len(sent) + 1}" if not last else "c9",
                "after_url": None,
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": last,
            },
        )

    client = Zendesk(
        subdomain="acme", email="a@example.com", api_token="t", rate_limit=False,
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    pages = list(client.incremental_exports.users_cursor(start_time=0).pages())
    assert [[u.id for u in page] for page in pages] == [[1], [2]]
    assert pages[-1].next_cursor is None
    assert [url.params.get("cursor") for url in sent] == [None, "c2"]
