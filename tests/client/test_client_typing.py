"""Static typing: the generated package passes `mypy --strict`, and so does code using it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

GENERATED_PYTHON = REPO_ROOT / "generated" / "gorgias" / "python"


USAGE = """
from pathlib import Path
from typing import Any, assert_type

from gorgias import AsyncGorgias, AsyncPager, Gorgias, Page, SyncPager, models


def sync_usage(client: Gorgias) -> None:
    pager = client.tickets.list(order_by="updated_datetime:desc", limit=50)
    assert_type(pager, SyncPager[models.Ticket])
    for ticket in pager:
        assert_type(ticket, models.Ticket)
        assert_type(ticket.id, int | None)
    page = pager.first_page()
    assert_type(page, Page[models.Ticket])
    assert_type(page.next_cursor, str | None)
    assert_type(page.to_dict(), dict[str, Any])
    assert_type(client.tickets.get(123), models.Ticket)
    client.tickets.create(messages=[{"channel": "email", "via": "api", "from_agent": True}], customer={"email": "x@y.z"})
    assert_type(client.ticket_tags.create(ticket_id=1, names=["vip"]), None)
    assert_type(client.files.download("attachment", "h", "n.png"), bytes)
    assert_type(client.files.download("attachment", "h", "n.png", to="out.png"), Path)
    assert_type(client.files.upload(files=[b"data"]), list[models.File])
    client.invoke("list_all_gorgias_tickets", {"limit": 10})
    client.request("GET", "/api/tickets", params={"limit": 1})


async def async_usage() -> None:
    async with AsyncGorgias(subdomain="acme", email="me@example.com", api_key="k") as c:
        assert_type(c.tickets.list(), AsyncPager[models.Ticket])
        tickets = [t async for t in c.tickets.list()]
        assert_type(tickets, list[models.Ticket])
        assert_type(await c.tickets.get(1), models.Ticket)
"""

BAD_USAGE = """
from gorgias import Gorgias

def bad(client: Gorgias) -> None:
    client.tickets.get("1/../../account")
    client.tickets.list(order_by="sideways")
"""


def _mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # MYPYPATH: an editable install of the package is an import hook mypy cannot follow.
    env = {**os.environ, "MYPYPATH": str(GENERATED_PYTHON)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def _client_modules() -> list[str]:
    """The files of the client itself; subpackages such as `gorgias/mcp` come from other emitters."""
    package = GENERATED_PYTHON / "gorgias"
    files = sorted(p.name for p in package.glob("*.py"))
    return [f"gorgias/{name}" for name in files] + ["gorgias/resources"]


def test_generated_client_passes_mypy_strict() -> None:
    proc = _mypy(*_client_modules(), cwd=GENERATED_PYTHON)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout


def test_public_api_types(tmp_path: Path) -> None:
    (tmp_path / "usage.py").write_text(USAGE)
    (tmp_path / "bad_usage.py").write_text(BAD_USAGE)
    ok = _mypy("usage.py", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _mypy("bad_usage.py", cwd=tmp_path)
    assert bad.returncode == 1
    assert (
        'Argument 1 to "get" of "TicketsResource" has incompatible type "str"; expected "int"'
        in bad.stdout
    )
    assert 'Argument "order_by" to "list" of "TicketsResource" has incompatible type' in bad.stdout
