"""One contract for the unified APIs of every connector: the same unified calls, run against each
connector's generated sandbox (started in process), must give the same unified shapes and values.

The flow: create a ticket, tag it, close it, then list the tickets changed since it was created;
and on a ticket, add a public reply and an internal note, then list its comments. Connector
specifics (credentials, whether tags are created before use) live in `CONNECTORS` only; the
unified calls and the assertions are the same for all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

TICKET_STATUSES = {"open", "pending", "on_hold", "in_progress", "active", "closed", "resolved", "completed",
                   "archived", "spam", "deleted"}


@dataclass(frozen=True)
class Connector:
    name: str
    client_class: str
    credentials: dict[str, str] = field(default_factory=dict)


CONNECTORS = {
    "gorgias": Connector("gorgias", "Gorgias", {"email": "sandbox@example.com", "api_key": "sandbox"}),
    "zendesk": Connector("zendesk", "Zendesk", {"email": "sandbox@example.com", "api_token": "sandbox"}),
}
#: Connectors whose sandbox keeps the comments added through the API (the comment steps need it).
COMMENT_CONNECTORS = ["gorgias", "zendesk"]


def _import(connector: Connector, module: str) -> Any:
    return importlib.import_module(f"{connector.name}{module}")


@pytest.fixture(params=sorted(CONNECTORS))
def connector(request: pytest.FixtureRequest) -> Connector:
    return CONNECTORS[request.param]


def _unified(connector: Connector) -> Iterator[Any]:
    assert (REPO_ROOT / "unified_mappings" / connector.name).is_dir()
    handle = _import(connector, ".sandbox").serve_in_thread(seed=1, rate_limit="off")
    client_cls = getattr(_import(connector, ""), connector.client_class)
    client = client_cls(base_url=handle.base_url, rate_limit=False, retry_initial_delay=0.01, retry_max_delay=0.05,
                        **connector.credentials)
    try:
        yield _import(connector, ".unified").Unified(client, subdomain="acme")
    finally:
        client.close()
        handle.stop()


@pytest.fixture
def unified(connector: Connector) -> Iterator[Any]:
    yield from _unified(connector)


@pytest.fixture(params=COMMENT_CONNECTORS)
def commenting(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _unified(CONNECTORS[request.param])


def tag_reference(unified: Any, name: str) -> dict[str, str]:
    """A unified tag reference: created first where tags are records of their own, else by name."""
    tags = unified.ticketing.tags
    if hasattr(tags, "create"):
        return {"id": tags.create(name=name).id, "name": name}
    return {"id": name, "name": name}


def new_ticket(unified: Any, subject: str) -> Any:
    return unified.ticketing.tickets.create(
        name=subject, description="The parcel did not arrive.", contact_email="contract@example.com", status="open")


def test_ticket_lifecycle_gives_the_same_unified_records(unified: Any) -> None:
    tickets = unified.ticketing.tickets
    ticket = new_ticket(unified, "Contract lifecycle")
    assert isinstance(ticket.id, str) and ticket.id.isdigit()
    assert ticket.name == "Contract lifecycle"
    assert ticket.status == "open"
    assert ticket.ticket_url is not None and ticket.ticket_url.startswith("https://acme.")
    assert ticket.ticket_url.endswith("/" + ticket.id)
    assert isinstance(ticket.created_at, datetime) and ticket.created_at.tzinfo is not None
    assert ticket.remote_data["id"] == int(ticket.id)
    created = ticket.updated_at
    assert isinstance(created, datetime)
    assert ticket.contact is not None  # the person with contact_email, found or created
    contact = unified.ticketing.contacts.get(ticket.contact.id)
    assert [e.email for e in contact.emails] == ["contract@example.com"]

    tag = tag_reference(unified, "contract-vip")
    tagged = tickets.update(ticket.id, tags=[tag])
    assert tagged.id == ticket.id
    assert [(t.id, t.name) for t in tagged.tags if t.name == "contract-vip"] == [(tag["id"], "contract-vip")]
    assert all(isinstance(t.id, str) for t in tagged.tags)

    closed = tickets.update(ticket.id, status="closed")
    assert closed.status == "closed"
    assert closed.updated_at is not None and closed.updated_at >= created
    again = tickets.get(ticket.id)
    assert (again.id, again.status, again.name) == (ticket.id, "closed", "Contract lifecycle")
    assert "contract-vip" in {t.name for t in again.tags}

    changed = tickets.list(updated_after=created.isoformat()).to_list()
    assert ticket.id in [t.id for t in changed]
    assert all(t.updated_at is not None and t.updated_at >= created for t in changed)
    assert all(t.status in TICKET_STATUSES for t in changed)
    assert tickets.list(updated_after=closed.updated_at.isoformat()).to_list()[0].id == ticket.id


def test_unsupported_filters_are_rejected_before_any_request(unified: Any, connector: Connector) -> None:
    errors = _import(connector, ".unified")
    with pytest.raises(errors.UnsupportedFilterError):
        unified.ticketing.tickets.list(tag_id="1")


def test_public_reply_and_internal_note_are_comments_with_flags(commenting: Any) -> None:
    unified = commenting
    ticket = new_ticket(unified, "Contract comments")
    comments = unified.ticketing.comments
    reply = comments.create(ticket_id=ticket.id, body="We are looking into it.")
    note = comments.create(ticket_id=ticket.id, body="Carrier says it is lost.", is_internal=True)
    assert isinstance(reply.id, str) and isinstance(note.id, str) and reply.id != note.id
    assert (reply.is_internal, reply.body) == (False, "We are looking into it.")
    assert (note.is_internal, note.body) == (True, "Carrier says it is lost.")
    listed = {c.id: c for c in comments.list(ticket_id=ticket.id).to_list()}
    assert {reply.id, note.id} <= set(listed)
    assert (listed[reply.id].is_internal, listed[note.id].is_internal) == (False, True)
    assert {c.ticket.id for c in listed.values() if c.ticket is not None} == {ticket.id}
    assert all(c.author is None or c.author.type in ("user", "contact", "system") for c in listed.values())


def test_tool_pages_follow_each_connector_paginator(unified: Any, connector: Connector) -> None:
    tools = _import(connector, ".unified")
    first = tools.invoke_unified(unified, "list_all_unified_ticketing_tickets", {"limit": 2})
    assert len(first["result"]) == 2 and isinstance(first["next_cursor"], str)
    second = tools.invoke_unified(unified, "list_all_unified_ticketing_tickets",
                                  {"limit": 2, "cursor": first["next_cursor"]})
    assert len(second["result"]) == 2
    assert not {r["id"] for r in first["result"]} & {r["id"] for r in second["result"]}
    assert all(isinstance(r["id"], str) and r["remote_data"]["id"] == int(r["id"]) for r in second["result"])


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_ticket_lists_follow_the_requested_order(unified: Any, direction: str) -> None:
    tickets = unified.ticketing.tickets
    fresh = new_ticket(unified, f"Contract order {direction}")
    listed = tickets.list(sort_by="updated_at", sort_order=direction).to_list()
    stamps = [t.updated_at for t in listed]
    assert None not in stamps and len(set(stamps)) > 10
    assert stamps == sorted(stamps, reverse=direction == "desc")
    assert (listed[0] if direction == "desc" else listed[-1]).id == fresh.id


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_comment_lists_follow_the_requested_order(commenting: Any, direction: str) -> None:
    unified = commenting
    ticket = new_ticket(unified, f"Contract comment order {direction}")
    comments = unified.ticketing.comments
    first = comments.create(ticket_id=ticket.id, body="First answer.")
    second = comments.create(ticket_id=ticket.id, body="Second answer.", is_internal=True)
    listed = comments.list(ticket_id=ticket.id, sort_by="created_at", sort_order=direction).to_list()
    stamps = [c.created_at for c in listed]
    assert len(listed) >= 2 and stamps == sorted(stamps, reverse=direction == "desc")
    ids = [c.id for c in listed]
    expected = [first.id, second.id] if direction == "asc" else [second.id, first.id]
    assert [i for i in ids if i in expected] == expected
