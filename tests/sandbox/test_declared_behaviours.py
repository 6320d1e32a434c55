"""Sandbox behaviours declared in a connector's `sandbox/sandbox.yaml`, run on the Zendesk sandbox
(stored comments written inside ticket writes, comment actions, declared sort parameters, tag
lists, the query search) and, for sorting, on the Gorgias one.

Every expectation is computed from the sandbox's own data (read through its list endpoints), so
the tests check the behaviour, not one seed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import API_KEY, EMAIL

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

ME = 1001  # the seeded admin the sandbox signs `sandbox@example.com` in as


@pytest.fixture(scope="module")
def zd() -> Iterator[httpx.Client]:
    handle = importlib.import_module("zendesk.sandbox").serve_in_thread(seed=1, rate_limit="off")
    with httpx.Client(base_url=handle.base_url, auth=(f"{EMAIL}/token", API_KEY), timeout=30) as http:
        yield http
    handle.stop()


def _all(http: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor list, page after page."""
    items: list[dict[str, Any]] = []
    params = {"page[size]": 100, **params}
    for _ in range(100):
        page = http.get(path, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body[key]
        if not body["meta"]["has_more"]:
            return items
        params = {**params, "page[after]": body["meta"]["after_cursor"]}
    raise AssertionError("the list never ended")


def _ticket(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    reply = http.post("/api/v2/tickets", json={"ticket": {"subject": "Declared behaviours", **fields}})
    assert reply.status_code == 201, reply.text
    ticket: dict[str, Any] = reply.json()["ticket"]
    return ticket


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- stored comments -------------------------------------------------------------------------


def test_every_seeded_ticket_opens_with_its_requesters_comment_then_replies(zd: httpx.Client) -> None:
    tickets = _all(zd, "/api/v2/tickets", "tickets")
    agents = {u["id"] for u in _all(zd, "/api/v2/users", "users") if u["role"] in ("agent", "admin")}
    seen_private = seen_public_reply = False
    for ticket in tickets:
        comments = _all(zd, f"/api/v2/tickets/{ticket['id']}/comments", "comments")  # oldest first by default
        assert len(comments) >= 2, ticket["id"]
        opening = comments[0]
        assert (opening["author_id"], opening["public"], opening["body"]) == (
            ticket["requester_id"], True, ticket["description"])
        assert all(c["author_id"] in agents | {ticket["requester_id"]} for c in comments)
        assert len({c["id"] for c in comments}) == len(comments)
        seen_private |= any(c["public"] is False for c in comments)
        seen_public_reply |= any(c["public"] and c["author_id"] in agents for c in comments)
    assert seen_private and seen_public_reply


def test_comments_of_one_ticket_are_not_listed_on_another(zd: httpx.Client) -> None:
    first, second = _all(zd, "/api/v2/tickets", "tickets", sort="id")[:2]
    mine = {c["id"] for c in _all(zd, f"/api/v2/tickets/{first['id']}/comments", "comments")}
    theirs = {c["id"] for c in _all(zd, f"/api/v2/tickets/{second['id']}/comments", "comments")}
    assert mine and theirs and not mine & theirs
    assert zd.get("/api/v2/tickets/999999/comments").status_code == 404


def test_a_comment_inside_a_ticket_create_or_update_is_stored(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "My parcel is lost."})
    assert ticket["description"] == "My parcel is lost."
    comments = _all(zd, f"/api/v2/tickets/{ticket['id']}/comments", "comments")
    assert [(c["body"], c["public"], c["author_id"]) for c in comments] == [("My parcel is lost.", True, ME)]
    assert _when(comments[0]["created_at"]) == _when(ticket["updated_at"])  # stamped with the write

    reply = zd.put(f"/api/v2/tickets/{ticket['id']}",
                   json={"ticket": {"comment": {"body": "Checked with the carrier.", "public": False, "author_id": 1002}}})
    assert reply.status_code == 200, reply.text
    updated = reply.json()["ticket"]
    assert _when(updated["updated_at"]) > _when(ticket["updated_at"])
    assert updated["description"] == "My parcel is lost."  # only the first comment describes the ticket
    comments = _all(zd, f"/api/v2/tickets/{ticket['id']}/comments", "comments", sort="created_at")
    assert [(c["body"], c["public"], c["author_id"]) for c in comments] == [
        ("My parcel is lost.", True, ME), ("Checked with the carrier.", False, 1002)]
    assert comments[1]["plain_body"] == "Checked with the carrier."
    assert _when(comments[1]["created_at"]) == _when(updated["updated_at"])


def test_an_update_without_a_comment_stores_none(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "Opening."})
    assert zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"priority": "high"}}).status_code == 200
    assert len(_all(zd, f"/api/v2/tickets/{ticket['id']}/comments", "comments")) == 1


def test_comments_are_served_with_the_cursor_paginator(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "c0"})
    for i in range(1, 5):
        zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"comment": {"body": f"c{i}"}}})
    path = f"/api/v2/tickets/{ticket['id']}/comments"
    first = zd.get(path, params={"page[size]": 2, "sort": "created_at"}).json()
    assert [c["body"] for c in first["comments"]] == ["c0", "c1"] and first["meta"]["has_more"] is True
    walked = [c["body"] for c in _all(zd, path, "comments", sort="created_at", **{"page[size]": 2})]
    assert walked == ["c0", "c1", "c2", "c3", "c4"]
    newest = [c["body"] for c in _all(zd, path, "comments", sort="-created_at", **{"page[size]": 2})]
    assert newest == walked[::-1]


def test_make_private_and_redact_change_the_stored_comment(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "My card number is 4111 1111."})
    comment = _all(zd, f"/api/v2/tickets/{ticket['id']}/comments", "comments")[0]
    base = f"/api/v2/tickets/{ticket['id']}/comments/{comment['id']}"
    assert zd.put(f"{base}/make_private").status_code == 200
    redacted = zd.put(f"{base}/redact", json={"text": "4111 1111"})
    assert redacted.status_code == 200, redacted.text
    masked = "My card number is " + "\u2587" * len("4111 1111") + "."
    assert (redacted.json()["comment"]["body"], redacted.json()["comment"]["public"]) == (masked, False)
    stored = _all(zd, f"/api/v2/tickets/{ticket['id']}/comments", "comments")[0]
    assert (stored["body"], stored["plain_body"], stored["public"]) == (masked, masked, False)
    other = _all(zd, "/api/v2/tickets", "tickets", sort="id")[0]
    assert zd.put(f"/api/v2/tickets/{other['id']}/comments/{comment['id']}/make_private").status_code == 404
    assert zd.put(f"/api/v2/tickets/{ticket['id']}/comments/1/make_private").status_code == 404


# --- declared sorting ------------------------------------------------------------------------


@pytest.mark.parametrize(("sort", "field", "reverse"), [
    ("-updated_at", "updated_at", True), ("updated_at", "updated_at", False), ("-id", "id", True), ("id", "id", False),
])
def test_minus_prefix_sort_orders_the_ticket_list(zd: httpx.Client, sort: str, field: str, reverse: bool) -> None:
    tickets = _all(zd, "/api/v2/tickets", "tickets", sort=sort, **{"page[size]": 7})
    values = [t[field] for t in tickets]
    assert len(tickets) >= 30 and len(set(values)) > 1
    assert values == sorted(values, reverse=reverse)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_field_and_direction_parameters_sort_the_search(zd: httpx.Client, direction: str) -> None:
    reply = zd.get("/api/v2/search", params={"query": "type:ticket", "sort_by": "created_at",
                                             "sort_order": direction, "per_page": 100})
    stamps = [_when(r["created_at"]) for r in reply.json()["results"]]
    assert len(stamps) >= 30 and stamps == sorted(stamps, reverse=direction == "desc")


def test_gorgias_declares_field_colon_direction() -> None:
    handle = importlib.import_module("gorgias.sandbox").serve_in_thread(seed=1, rate_limit="off")
    try:
        with httpx.Client(base_url=handle.base_url, auth=(EMAIL, API_KEY)) as http:
            for direction in ("asc", "desc"):
                body = http.get("/api/tickets", params={"limit": 30, "order_by": f"updated_datetime:{direction}"}).json()
                stamps = [t["updated_datetime"] for t in body["data"]]
                assert len(set(stamps)) > 5 and stamps == sorted(stamps, reverse=direction == "desc")
    finally:
        handle.stop()


# --- ticket tags -----------------------------------------------------------------------------


def test_tag_routes_add_set_remove_and_list_the_tickets_tags(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "Tags please."}, tags=["first"])
    path = f"/api/v2/tickets/{ticket['id']}/tags"
    assert zd.get(path).json() == {"tags": ["first"]}
    added = zd.put(path, json={"tags": ["vip", "first", "vip"]})
    assert (added.status_code, added.json()) == (200, {"tags": ["first", "vip"]})
    after_add = zd.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]
    assert after_add["tags"] == ["first", "vip"]
    assert _when(after_add["updated_at"]) > _when(ticket["updated_at"])
    replaced = zd.post(path, json={"tags": ["billing", "refund"]})
    assert (replaced.status_code, replaced.json()) == (201, {"tags": ["billing", "refund"]})
    removed = zd.request("DELETE", path, json={"tags": ["billing", "absent"]})
    assert removed.status_code == 204
    assert zd.get(path).json() == {"tags": ["refund"]}
    assert zd.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]["tags"] == ["refund"]
    assert zd.get("/api/v2/tickets/999999/tags").status_code == 404


def test_closing_a_ticket_through_an_update_sets_status_and_stamp(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "Close me."}, status="open")
    closed = zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "closed"}}).json()["ticket"]
    assert closed["status"] == "closed" and _when(closed["updated_at"]) > _when(ticket["updated_at"])
    newest = zd.get("/api/v2/tickets", params={"sort": "-updated_at", "page[size]": 1}).json()["tickets"][0]
    assert (newest["id"], newest["status"]) == (ticket["id"], "closed")


def test_a_closed_ticket_is_final(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "Soon closed."}, tags=["kept"])
    path = f"/api/v2/tickets/{ticket['id']}"
    closed = zd.put(path, json={"ticket": {"status": "closed", "comment": {"body": "Closing now."}}})
    assert closed.status_code == 200 and closed.json()["ticket"]["status"] == "closed"
    refusals = [
        zd.put(path, json={"ticket": {"status": "open"}}),
        zd.put(path, json={"ticket": {"comment": {"body": "Too late."}}}),
        zd.put(f"{path}/tags", json={"tags": ["late"]}),
        zd.request("DELETE", f"{path}/tags", json={"tags": ["kept"]}),
    ]
    for refused in refusals:
        assert refused.status_code == 422, refused.text
        assert list(refused.json()["details"]) == ["status"]
    after = zd.get(path).json()["ticket"]
    assert (after["status"], after["tags"], after["updated_at"]) == ("closed", ["kept"], closed.json()["ticket"]["updated_at"])
    bodies = [c["body"] for c in _all(zd, f"{path}/comments", "comments")]
    assert bodies == ["Soon closed.", "Closing now."]


# --- query search ----------------------------------------------------------------------------


def _search(zd: httpx.Client, query: str) -> list[dict[str, Any]]:
    reply = zd.get("/api/v2/search", params={"query": query, "per_page": 100})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["count"] == len(body["results"])
    results: list[dict[str, Any]] = body["results"]
    return results


def test_search_terms_filter_stored_objects(zd: httpx.Client) -> None:
    tickets = _all(zd, "/api/v2/tickets", "tickets")
    vip = _ticket(zd, comment={"body": "VIP customer."}, tags=["vip"], status="open", subject="Golden parcel")
    tickets.append(vip)
    expected = {t["id"] for t in tickets if t["status"] == "open" and "vip" in t["tags"]}
    found = _search(zd, "type:ticket status:open tags:vip")
    assert {r["id"] for r in found} == expected and vip["id"] in expected
    assert {r["result_type"] for r in found} == {"ticket"}
    assert [r["id"] for r in _search(zd, "type:ticket golden")] == [vip["id"]]
    assert [r["id"] for r in _search(zd, 'type:ticket "golden parcel"')] == [vip["id"]]
    not_open = {r["id"] for r in _search(zd, "type:ticket -status:open")}
    assert not_open == {t["id"] for t in tickets if t["status"] != "open"}
    statuses = ["new", "open", "pending", "hold", "solved", "closed"]
    unsolved = {r["id"] for r in _search(zd, "type:ticket status<solved")}
    assert unsolved == {t["id"] for t in tickets if statuses.index(t["status"]) < 4}
    assert {r["status"] for r in _search(zd, "type:ticket status>=solved")} == {"solved", "closed"}
    cut = sorted(t["created_at"] for t in tickets)[len(tickets) // 2]
    later = {r["id"] for r in _search(zd, f"type:ticket created>{cut}")}
    assert later == {t["id"] for t in tickets if _when(t["created_at"]) > _when(cut)} and later


def test_search_types_and_count(zd: httpx.Client) -> None:
    users = _all(zd, "/api/v2/users", "users")
    found = _search(zd, "type:user")
    assert {r["id"] for r in found} == {u["id"] for u in users}
    assert {r["result_type"] for r in found} == {"user"}
    for kind, path in (("organization", "organizations"), ("group", "groups"), ("ticket", "tickets")):
        found = _search(zd, f"type:{kind}")
        assert {r["id"] for r in found} == {o["id"] for o in _all(zd, f"/api/v2/{path}", path)}
        assert {r["result_type"] for r in found} == {kind}
    _ticket(zd, comment={"body": "Tagged."}, tags=["vip"])
    mixed = _search(zd, "tags:vip")  # no type: every declared type is searched
    assert {r["result_type"] for r in mixed} == {"organization", "ticket"}
    assert all("vip" in r["tags"] for r in mixed)
    count = zd.get("/api/v2/search/count", params={"query": "type:user role:agent"})
    assert count.json() == {"count": sum(1 for u in users if u["role"] == "agent")}
    exported = zd.get("/api/v2/search/export", params={"query": "role:agent", "filter[type]": "user"}).json()
    assert {r["id"] for r in exported["results"]} == {u["id"] for u in users if u["role"] == "agent"}


# --- create defaults, requester found or created ------------------------------------------------


def test_a_new_ticket_without_requester_is_the_callers(zd: httpx.Client) -> None:
    ticket = _ticket(zd, comment={"body": "Mine."})
    assert (ticket["requester_id"], ticket["submitter_id"], ticket["status"]) == (ME, ME, "new")
    given = _ticket(zd, comment={"body": "Theirs."}, requester_id=1003)
    assert (given["requester_id"], given["submitter_id"]) == (1003, ME)


def test_a_requester_named_by_email_is_found_or_created(zd: httpx.Client) -> None:
    before = {u["email"]: u for u in _all(zd, "/api/v2/users", "users")}
    assert "new.person@customer.example" not in before
    first = _ticket(zd, comment={"body": "Hello."}, requester={"email": "new.person@customer.example", "name": "New Person"})
    user = zd.get(f"/api/v2/users/{first['requester_id']}").json()["user"]
    assert (user["email"], user["name"], user["role"]) == ("new.person@customer.example", "New Person", "end-user")
    again = _ticket(zd, comment={"body": "Again."}, requester={"email": "NEW.person@customer.example"})
    assert again["requester_id"] == user["id"]
    known = next(u for u in before.values() if u["role"] == "end-user")
    third = _ticket(zd, comment={"body": "Known."}, requester={"email": known["email"]})
    assert third["requester_id"] == known["id"]
    assert len(_all(zd, "/api/v2/users", "users")) == len(before) + 1
