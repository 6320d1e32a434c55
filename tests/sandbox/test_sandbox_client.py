"""The generated client against the sandbox: reads, writes that later reads reflect, pagination,
errors in Gorgias's shape, and the custom operations (merges, ticket tags, search, files...)."""

from __future__ import annotations

import base64
import importlib
from typing import Any

import httpx
import pytest

from .conftest import API_KEY, EMAIL, client_for

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

gorgias = importlib.import_module("gorgias")
errors = importlib.import_module("gorgias._errors")


@pytest.fixture
def sandbox(fresh: Any) -> Any:
    return fresh(seed=7)


@pytest.fixture
def client(sandbox: Any) -> Any:
    c = client_for(sandbox)
    yield c
    c.close()


def raw(handle: Any) -> httpx.Client:
    return httpx.Client(base_url=handle.base_url, auth=(EMAIL, API_KEY), timeout=10)


# --- reads and pagination ----------------------------------------------------------------------


def test_every_ticket_exactly_once_across_pages(client: Any, sandbox: Any) -> None:
    expected = {t["id"] for t in sandbox.store.col("tickets").all()}
    assert len(expected) >= 200
    seen = [t.id for t in client.tickets.list(limit=17)]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


def test_order_by_and_cursors(sandbox: Any) -> None:
    with raw(sandbox) as http:
        first = http.get(
            "/api/tickets", params={"limit": 5, "order_by": "created_datetime:asc"}
        ).json()
        stamps = [t["created_datetime"] for t in first["data"]]
        assert stamps == sorted(stamps)
        assert first["meta"]["prev_cursor"] is None and first["meta"]["next_cursor"]
        second = http.get(
            "/api/tickets",
            params={
                "limit": 5,
                "order_by": "created_datetime:asc",
                "cursor": first["meta"]["next_cursor"],
            },
        ).json()
        assert second["data"][0]["created_datetime"] >= stamps[-1]
        back = http.get(
            "/api/tickets",
            params={
                "limit": 5,
                "order_by": "created_datetime:asc",
                "cursor": second["meta"]["prev_cursor"],
            },
        ).json()
        assert [t["id"] for t in back["data"]] == [t["id"] for t in first["data"]]
        desc = http.get("/api/tickets", params={"limit": 5}).json()["data"]
        assert [t["created_datetime"] for t in desc] == sorted(
            (t["created_datetime"] for t in desc), reverse=True
        )
        # the cursor is opaque base64 and the limit is bounded by the paginator
        base64.urlsafe_b64decode(first["meta"]["next_cursor"] + "==")
        too_big = http.get("/api/tickets", params={"limit": 101})
        assert too_big.status_code == 400
        assert "limit" in too_big.json()["error"]["data"]
        assert http.get("/api/tickets", params={"cursor": "not-a-cursor"}).status_code == 400


def test_documented_filters(client: Any, sandbox: Any) -> None:
    customer = sorted(sandbox.store.col("tickets").all(), key=lambda t: t["id"])[0]["customer"]
    mine = list(client.tickets.list(customer_id=customer["id"]))
    assert mine and all(t.customer.id == customer["id"] for t in mine)
    ids = [t["id"] for t in sandbox.store.col("tickets").all()][:3]
    assert sorted(t.id for t in client.tickets.list(ticket_ids=ids)) == sorted(ids)
    found = list(client.customers.list(email=customer["email"].upper()))
    assert [c.id for c in found] == [customer["id"]]
    ticket = next(iter(client.tickets.list(limit=1)))
    messages = list(client.messages.list(ticket_id=ticket.id))
    assert messages and all(m.ticket_id == ticket.id for m in messages)
    assert all(
        f.object_type == "Customer" for f in client.custom_fields.list(object_type="Customer")
    )
    active = list(client.macros.list())
    archived = list(client.macros.list(archived=True))
    assert active and archived and not {m.id for m in active} & {m.id for m in archived}
    events = list(client.events.list(types=["ticket-created"], limit=100))
    assert events and all(e.type == "ticket-created" for e in events)


def test_get_includes_messages_and_relationships(client: Any, sandbox: Any) -> None:
    with_fields = next(
        scope[1] for scope, bucket in sandbox.store.col("ticket_fields").items.items() if bucket
    )
    ticket = client.tickets.get(with_fields, relationships=["custom_fields"])
    assert ticket.messages and all(m.ticket_id == with_fields for m in ticket.messages)
    assert ticket.custom_fields
    me = client.users.get(0)
    assert me.email == EMAIL


# --- writes ------------------------------------------------------------------------------------


def test_create_update_delete_are_reflected(client: Any, sandbox: Any) -> None:
    customer = client.customers.create(
        name="Jane Roe",
        email="jane.roe@example.com",
        channels=[{"type": "phone", "address": "+15550000001"}],
    )
    assert customer.id and customer.channels[0].id
    ticket = client.tickets.create(
        customer={"id": customer.id},
        subject="Where is my parcel?",
        messages=[
            {
                "channel": "email",
                "via": "api",
                "from_agent": False,
                "body_text": "Hello!",
                "sender": {"email": "jane.roe@example.com"},
            }
        ],
        tags=[{"name": "brand-new-tag"}],
    )
    assert ticket.status == "open" and ticket.channel == "email"
    assert ticket.customer.id == customer.id
    assert [t.name for t in ticket.tags] == ["brand-new-tag"]
    assert len(ticket.messages) == 1 and ticket.messages[0].ticket_id == ticket.id
    assert client.tickets.get(ticket.id).subject == "Where is my parcel?"

    message = client.messages.create(
        ticket.id,
        channel="email",
        via="helpdesk",
        from_agent=True,
        sender={"id": 11},
        body_text="On its way!",
    )
    assert len(client.tickets.get(ticket.id).messages) == 2
    client.messages.update(ticket.id, message.id, body_text="On its way (edited)")
    assert client.messages.get(ticket.id, message.id).body_text == "On its way (edited)"

    updated = client.tickets.update(ticket.id, status="closed", assignee_user={"id": 11})
    assert updated.status == "closed" and updated.assignee_user_id == 11
    assert client.tickets.get(ticket.id).status == "closed"

    client.customers.update(customer.id, name="Jane Q. Roe")
    assert client.tickets.get(ticket.id).customer.name == "Jane Q. Roe"  # references are live

    client.tickets.delete(ticket.id)
    with pytest.raises(errors.NotFoundError):
        client.tickets.get(ticket.id)
    assert not sandbox.store.col("messages").all() or all(
        m["ticket_id"] != ticket.id for m in sandbox.store.col("messages").all()
    )
    kinds = {e["type"] for e in sandbox.store.col("events").all() if e["object_id"] == ticket.id}
    assert {"ticket-created", "ticket-updated", "ticket-deleted"} <= kinds


def test_statuses_follow_the_definition(sandbox: Any) -> None:
    with raw(sandbox) as http:
        created = http.post("/api/tags", json={"name": "status-check"})
        assert created.status_code == 201
        tag_id = created.json()["id"]
        assert http.put(f"/api/tags/{tag_id}", json={"description": "x"}).status_code == 202
        assert http.put("/api/teams/31", json={"name": "Renamed"}).status_code == 200
        deleted = http.delete(f"/api/tags/{tag_id}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert http.get(f"/api/tags/{tag_id}").status_code == 404
        # trailing slashes, as in object `uri` fields, work too
        assert http.get("/api/tags/101/").status_code == 200


def test_ticket_tags_add_replace_remove(client: Any, sandbox: Any) -> None:
    ticket_id = min(t["id"] for t in sandbox.store.col("tickets").all())
    client.ticket_tags.update(ticket_id, names=["vip"])
    assert [t.name for t in client.ticket_tags.list(ticket_id)] == ["vip"]
    client.ticket_tags.create(ticket_id, names=["urgent", "made-up"])
    assert sorted(t.name for t in client.ticket_tags.list(ticket_id)) == [
        "made-up",
        "urgent",
        "vip",
    ]
    client.ticket_tags.delete(ticket_id, names=["vip", "made-up"])  # DELETE with a JSON body
    assert [t.name for t in client.ticket_tags.list(ticket_id)] == ["urgent"]
    assert [t.name for t in client.tickets.get(ticket_id).tags] == ["urgent"]


def test_merges_and_set_data(client: Any, sandbox: Any) -> None:
    tags = sandbox.store.col("tags")
    target, source = 101, 102
    tickets_with_source = [
        t["id"]
        for t in sandbox.store.col("tickets").all()
        if any(x["id"] == source for x in t["tags"])
    ]
    merged = client.tags.merge(target, source_tags_ids=[source])
    assert merged.id == target and tags.get(source) is None
    for ticket_id in tickets_with_source:
        assert target in [t.id for t in client.tickets.get(ticket_id).tags]

    a = client.customers.create(name="A", email="a.merge@example.com")
    b = client.customers.create(name="B", email="b.merge@example.com")
    ticket = client.tickets.create(
        customer={"id": b.id}, messages=[{"channel": "email", "via": "api", "from_agent": False}]
    )
    result = client.customers.merge(source_id=b.id, target_id=a.id)
    assert result.id == a.id
    assert {c.address for c in result.channels} >= {"a.merge@example.com", "b.merge@example.com"}
    assert client.tickets.get(ticket.id).customer.id == a.id
    with pytest.raises(errors.NotFoundError):
        client.customers.get(b.id)

    client.customers.set_data(a.id, data={"plan": "gold", "orders": [1, 2]})
    assert client.customers.get(a.id).data == {"plan": "gold", "orders": [1, 2]}


def test_custom_field_values_bulk_and_single(client: Any, sandbox: Any) -> None:
    ticket_id = max(t["id"] for t in sandbox.store.col("tickets").all())
    fields = [f for f in sandbox.store.col("custom_fields").all() if f["object_type"] == "Ticket"]
    client.ticket_fields.update(
        ticket_id, fields=[{"id": fields[0]["id"], "value": "Order::Status"}]
    )
    client.ticket_fields.update_value(ticket_id, fields[3]["id"], value="A-1234")
    values = {v.field.id: v.value for v in client.ticket_fields.list(ticket_id)}
    assert values[fields[0]["id"]] == "Order::Status" and values[fields[3]["id"]] == "A-1234"
    client.ticket_fields.delete_value(ticket_id, fields[3]["id"])
    assert fields[3]["id"] not in {v.field.id for v in client.ticket_fields.list(ticket_id)}


def test_views_items_search_and_reports(client: Any, sandbox: Any) -> None:
    inbox = next(v for v in sandbox.store.col("views").all() if v["name"] == "Inbox")
    items = list(client.view_items.list(inbox["id"], limit=50))
    assert items and all(i.status == "open" for i in items)
    adhoc = list(client.view_items.search(0, view={"filters": "eq(ticket.channel, 'chat')"}))
    assert adhoc and all(i.channel == "chat" for i in adhoc)
    customer = sandbox.store.col("customers").all()[0]
    hits = list(client.search.list(type="customer", query=customer["email"][:8]))
    assert customer["id"] in [h.id for h in hits]
    report = client.reporting.stats(
        query={
            "scope": "tickets-created",
            "filters": [],
            "timezone": "UTC",
            "dimensions": ["channel"],
            "measures": ["ticketCount"],
        }
    )
    rows = report.data
    assert sum(r["ticketCount"] for r in rows) == sandbox.store.col("tickets").count()
    with raw(sandbox) as http:
        too_long = http.post(
            "/api/reporting/stats",
            json={
                "query": {
                    "scope": "tickets-created",
                    "timezone": "UTC",
                    "filters": [
                        {
                            "member": "periodStart",
                            "operator": "afterDate",
                            "values": ["2024-01-01"],
                        },
                        {"member": "periodEnd", "operator": "beforeDate", "values": ["2025-06-01"]},
                    ],
                }
            },
        )
        assert too_long.status_code == 400
        csv = http.post("/api/stats/overview/download", json={})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")


def test_upload_then_download(client: Any, sandbox: Any) -> None:
    with raw(sandbox) as http:
        uploaded = http.post(
            "/api/upload", files={"receipt": ("receipt.txt", b"paid in full", "text/plain")}
        )
        assert uploaded.status_code == 201
        (entry,) = uploaded.json()
        assert entry["name"] == "receipt" and entry["size"] == "12"
        first = http.get(entry["url"])
        assert first.status_code == 307
        assert http.get(first.headers["location"]).content == b"paid in full"
    # the client follows the redirect of an attachment URL taken from a message
    message = next(m for m in sandbox.store.col("messages").all() if m["attachments"])
    content = client.attachments.download(message["attachments"][0]["url"])
    assert content[:4] in (b"\x89PNG", b"%PDF")


# --- errors ------------------------------------------------------------------------------------


def test_bad_credentials(sandbox: Any) -> None:
    from gorgias import Gorgias

    bad = Gorgias(
        base_url=sandbox.base_url, email=EMAIL, api_key="wrong", rate_limit=False, max_retries=0
    )
    with pytest.raises(errors.AuthenticationError):
        bad.account.get()
    response = httpx.get(f"{sandbox.base_url}/api/account")
    assert response.status_code == 401 and response.json() == {"error": {"msg": "Unauthorized."}}
    bearer = httpx.get(
        f"{sandbox.base_url}/api/account", headers={"Authorization": "Bearer sandbox"}
    )
    assert bearer.status_code == 200 and bearer.json()["domain"] == "sandbox"


def test_field_errors_404_and_409(client: Any, sandbox: Any) -> None:
    with raw(sandbox) as http:
        bad = http.post(
            "/api/tickets", json={"messages": [{"channel": "email"}], "priority": "meh"}
        )
        assert bad.status_code == 400
        error = bad.json()["error"]
        assert error["msg"] == "Failed to create ticket."
        assert error["data"]["messages"]["0"]["via"] == ["Missing data for required field."]
        assert error["data"]["priority"] == ["Must be one of: critical, high, normal, low."]
        missing = http.get("/api/tickets/1")
        assert missing.status_code == 404 and missing.json() == {
            "error": {"msg": "Resource not found."}
        }
        assert http.get("/api/nothing-here").status_code == 404
    with pytest.raises(errors.BadRequestError) as caught:
        client.users.create(email="not-an-email", name="X", role={"name": "agent"})
    assert "email" in str(caught.value.field_errors)
    existing = sandbox.store.col("customers").all()[0]["email"]
    with pytest.raises(errors.ConflictError):
        client.customers.create(name="Dup", email=existing)
    with raw(sandbox) as http:
        conflict = http.post("/api/customers", json={"email": existing})
        assert conflict.status_code == 409 and conflict.json()["error"]["msg"]


def test_customer_merge_conflict_on_integration_data(sandbox: Any) -> None:
    customers = [c for c in sandbox.store.col("customers").all() if c["integrations"]]
    a, b = customers[0], customers[1]
    assert set(a["integrations"]) & set(b["integrations"])
    with raw(sandbox) as http:
        conflict = http.put(
            "/api/customers/merge", params={"source_id": b["id"], "target_id": a["id"]}, json={}
        )
        assert conflict.status_code == 409
        assert conflict.json()["error"]["msg"]
        assert sandbox.store.col("customers").get(b["id"]) is not None


def test_bulk_operations_and_async_client(client: Any, sandbox: Any) -> None:
    client.tags.bulk_delete(ids=[120, 121])
    assert sandbox.store.col("tags").get(120) is None and sandbox.store.col("tags").get(121) is None
    macros = sorted(
        m["id"] for m in sandbox.store.col("macros").all() if not m["archived_datetime"]
    )[:2]
    archived = client.macros.archive(ids=macros)
    assert sorted(m.id for m in archived) == macros and all(m.archived_datetime for m in archived)
    assert not set(macros) & {m.id for m in client.macros.list()}
    client.macros.unarchive(ids=macros)
    assert set(macros) <= {m.id for m in client.macros.list()}
    rules = sorted(r["id"] for r in sandbox.store.col("rules").all())[:2]
    client.rules.update_priorities(
        priorities=[{"id": rules[0], "priority": 1}, {"id": rules[1], "priority": 2}]
    )
    assert client.rules.get(rules[1]).priority == 2

    import asyncio

    from gorgias import AsyncGorgias

    async def read() -> list[int]:
        async with AsyncGorgias(
            base_url=sandbox.base_url, email=EMAIL, api_key=API_KEY, rate_limit=False
        ) as aclient:
            return [t.id async for t in aclient.tickets.list(limit=50)]

    assert len(asyncio.run(read())) == sandbox.store.col("tickets").count()
