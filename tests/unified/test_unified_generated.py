"""The generated unified package: typed usage passes `mypy --strict`, wrong usage does not, the
docs describe every resource, and the emitter writes only its own paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from connectorgen.emitters import unified as unified_emitter
from connectorgen.pipeline import build
from tests.conftest import GORGIAS_SPEC, REPO_ROOT

GENERATED = REPO_ROOT / "generated" / "gorgias"

USAGE = """
from datetime import datetime, timezone
from typing import Any, assert_type

from gorgias import AsyncGorgias, Gorgias
from gorgias.unified import AsyncUnified, AsyncUnifiedPager, SyncUnifiedPager, Unified, UnifiedPage, invoke_unified
from gorgias.unified.models import UnifiedComment, UnifiedDirectoryUser, UnifiedReference, UnifiedTicket


def sync_usage(client: Gorgias) -> None:
    unified = Unified(client)
    pager = unified.ticketing.tickets.list(updated_after="2026-01-01T00:00:00Z", contact_id=5)
    assert_type(pager, SyncUnifiedPager[UnifiedTicket])
    for t in pager:
        assert_type(t.status, str | None)
        assert_type(t.contact, UnifiedReference | None)
        assert_type(t.remote_data, dict[str, Any])
        assert_type(t.created_at, datetime | None)
    page = unified.ticketing.comments.list(ticket_id="123").first_page()
    assert_type(page, UnifiedPage[UnifiedComment])
    assert_type(page.next_cursor, str | None)
    assert_type(unified.ticketing.comments.create(ticket_id="123", body="...", is_internal=True), UnifiedComment)
    assert_type(unified.user_directory.users.get("42"), UnifiedDirectoryUser)
    assert_type(unified.ticketing.tickets.delete("1"), None)
    unified.ticketing.tickets.update(1, status="closed", team=UnifiedReference(id="7"), assignees=[{"id": "3"}])
    invoke_unified(client, "list_all_unified_ticketing_tickets", {"limit": 5})


async def async_usage(client: AsyncGorgias) -> None:
    unified = AsyncUnified(client)
    assert_type(unified.ticketing.tickets.list(created_after=datetime.now(timezone.utc)),
                AsyncUnifiedPager[UnifiedTicket])
    tickets = [t async for t in unified.ticketing.tickets.list()]
    assert_type(tickets, list[UnifiedTicket])
    assert_type(await unified.ticketing.tickets.get(1), UnifiedTicket)
"""

BAD_USAGE = """
from gorgias import Gorgias
from gorgias.unified import Unified

def bad(client: Gorgias) -> None:
    Unified(client).ticketing.tickets.list(updated_afterr="2026-01-01")
    Unified(client).ticketing.comments.create(body="no ticket")
"""


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "usage.py"
    target.write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.11",
         str(GENERATED / "python" / "gorgias" / "unified"), str(target)],
        capture_output=True, text=True, check=False, cwd=GENERATED / "python", timeout=600,
    )


def test_unified_package_and_typed_usage_pass_mypy_strict(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, USAGE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wrong_usage_is_caught_by_mypy(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, BAD_USAGE)
    assert proc.returncode == 1
    assert 'Unexpected keyword argument "updated_afterr"' in proc.stdout
    assert 'Missing named argument "ticket_id"' in proc.stdout


def test_emitter_writes_only_its_paths() -> None:
    files = unified_emitter.emit(build(GORGIAS_SPEC))
    for path in files:
        assert path.startswith(("python/gorgias/unified/", "mcp/gorgias.unified.")) or path.startswith("docs/unified")
    assert "python/gorgias/unified/mappers.py" in files


def test_reference_docs_cover_every_resource() -> None:
    text = (GENERATED / "docs" / "unified-reference.md").read_text()
    for heading in ("Ticketing: tickets", "Ticketing: comments", "Ticketing: contacts", "Ticketing: tags",
                    "Ticketing: teams", "Ticketing: attachments", "Ticketing: fields", "Ticketing: collections",
                    "Ticketing: users", "User directory: users"):
        assert f"## {heading}" in text
    assert "| `description` | string or null | first present of `messages.0.body_text`" in text
    assert "| `status` | not available: raises `UnsupportedFilterError` |" in text
    assert "ordered read: `order_by=updated_datetime:desc`" in text


def test_generated_code_has_no_interpreter() -> None:
    mappers = (GENERATED / "python" / "gorgias" / "unified" / "mappers.py").read_text()
    for forbidden in ("jinja2", "eval(", "exec(", "jsonata", "import yaml"):
        assert forbidden not in mappers
    assert "def ticketing_ticket_from_gorgias(" in mappers


def test_cassettes_are_what_the_builder_writes() -> None:
    from .make_cassettes import CASSETTES, ROOT, render

    files = render()
    for path, text in files.items():
        assert path.read_text(encoding="utf-8") == text, f"{path}: run `python -m tests.unified.make_cassettes`"
    on_disk = {p for module in CASSETTES for p in (ROOT / module).glob("*.yaml")}
    assert on_disk == set(files)
