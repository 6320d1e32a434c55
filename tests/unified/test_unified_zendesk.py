"""The generated Zendesk unified mappings on the recorded and documented Zendesk payloads
(`spec/zendesk/reference/examples/`), and the run-time pieces a second API needed: records read
back after a write (`read_back`), objects of tools with side-loads, the unified input as
`context.input` and the paginator's own argument names."""

from __future__ import annotations

import json
from typing import Any

from zendesk.unified import mappers, methods
from zendesk.unified._runtime import ReadBack, object_result
from zendesk.unified.models import UnifiedComment, UnifiedTicket
from zendesk.unified.resources import SERVER_TEMPLATE, SIDELOADED

from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "spec" / "zendesk" / "reference" / "examples"
CTX = {"subdomain": "acme", "base_url": "https://acme.zendesk.com", "input": {"ticket_id": "35436"}}


def example(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def test_ticket_from_zendesk() -> None:
    ticket = example("ticket_show-response_documented")["ticket"]
    record = mappers.ticketing_ticket_from_zendesk(ticket, CTX, None)
    assert record["id"] == "35436" and record["number"] == "35436"
    assert (record["name"], record["description"]) == ("Help, my printer is on fire!", "The fire is very colorful.")
    assert (record["status"], record["priority"], record["channel"]) == ("open", "high", "contact_form")
    assert record["ticket_type"] == {"id": "incident", "name": "incident"}
    assert record["contact"] == {"id": "20978392"} and record["assignees"] == [{"id": "235323"}]
    assert record["team"] == {"id": "98738"} and record["account"] == {"id": "509974"}
    assert record["tags"] == [{"id": "enterprise", "name": "enterprise"}, {"id": "other_tag", "name": "other_tag"}]
    assert record["ticket_url"] == "https://acme.zendesk.com/agent/tickets/35436"
    assert record["custom_fields"]["27642"] == {"id": 27642, "value": "745"}
    assert record["created_at"] == "2009-07-20T22:55:29+00:00"
    assert record["remote_data"] is ticket
    assert UnifiedTicket.model_validate(record).id == "35436"


def test_zendesk_statuses_become_unified_ones_and_back() -> None:
    ticket = example("ticket_show-response_documented")["ticket"]
    seen = {s: mappers.ticketing_ticket_from_zendesk({**ticket, "status": s}, CTX, None)["status"]
            for s in ("new", "open", "pending", "hold", "solved", "closed")}
    assert seen == {"new": "open", "open": "open", "pending": "pending", "hold": "on_hold", "solved": "resolved",
                    "closed": "closed"}
    sent = mappers.ticketing_tickets_update_request(
        {"id": "7", "status": "on_hold", "tags": [{"id": "vip"}], "team": {"id": "20001"}}, {})
    assert sent == {"ticket_id": 7, "status": "hold", "tags": ["vip"], "group_id": 20001}
    # a channel with no unified counterpart is returned unchanged (`keep`)
    assert mappers.ticketing_ticket_from_zendesk({**ticket, "via": {"channel": "rule"}}, CTX, None)["channel"] == "rule"


def test_comment_from_zendesk_reads_its_ticket_from_the_input() -> None:
    comment = example("comments_list-response_documented")["comments"][0]
    record = mappers.ticketing_comment_from_zendesk(comment, CTX, None)
    assert (record["id"], record["ticket"], record["body"]) == ("1274", {"id": "35436"}, "Thanks for your help!")
    assert (record["is_internal"], record["author"]) == (False, {"id": "123123", "type": "user"})
    assert record["attachments"] == [{"id": "498483", "file_name": "crash.log", "content_type": "text/plain",
                                      "file_url": "https://company.zendesk.com/attachments/crash.log", "size": 2532}]
    note = mappers.ticketing_comment_from_zendesk({**comment, "public": False}, CTX, None)
    assert (note["is_internal"], note["is_private"]) == (True, True)
    assert UnifiedComment.model_validate(record).ticket is not None


def test_comment_create_is_a_ticket_update_chosen_by_is_internal_and_read_back() -> None:
    spec = methods.TICKETING_COMMENTS_CREATE
    assert spec.operation == "create_a_zendesk_ticket_comment"
    note_spec = spec.choose({"ticket_id": "5", "body": "x", "is_internal": True}, {})
    assert note_spec is methods.TICKETING_COMMENTS_CREATE_CASE1
    assert note_spec.request({"ticket_id": "5", "body": "x", "is_internal": True}, {}) == {
        "ticket_id": 5, "comment": {"body": "x", "public": False}}
    assert spec.request({"ticket_id": "5", "body": "x"}, {}) == {"ticket_id": 5, "comment": {"body": "x", "public": True}}
    back = spec.read_back
    assert back is not None and (back.tool, back.many, back.pick, back.field) == (
        "list_all_zendesk_ticket_comments", True, "max", ("id",))
    assert back.request({"ticket_id": "5"}, {}) == {"ticket_id": 5, "sort": "-created_at"}


def test_read_back_picks_the_item() -> None:
    page = {"result": [{"id": 3}, {"id": 9}, {"id": None}, {"id": 5}], "next_cursor": None}
    assert ReadBack("t", lambda b, c: {}, True, "max", ("id",)).select(page) == {"id": 9}
    assert ReadBack("t", lambda b, c: {}, True, "first").select(page) == {"id": 3}
    assert ReadBack("t", lambda b, c: {}, True, "last").select(page) == {"id": 5}
    assert ReadBack("t", lambda b, c: {}, True, "first").select({"result": []}) is None
    assert ReadBack("t", lambda b, c: {}, False).select({"id": 1}) == {"id": 1}


def test_objects_of_tools_with_side_loads() -> None:
    assert "get_single_zendesk_ticket_by_id" in SIDELOADED
    wrapped = {"result": {"id": 1}, "included": {"users": []}}
    assert object_result(SIDELOADED, "get_single_zendesk_ticket_by_id", wrapped) == {"id": 1}
    assert object_result(frozenset(), "get_single_zendesk_ticket_by_id", wrapped) is wrapped
    assert SERVER_TEMPLATE == "https://{subdomain}.zendesk.com"


def test_lists_use_zendesk_cursor_arguments_and_orders() -> None:
    assert (methods.TICKETING_TICKETS_LIST.cursor_arg, methods.TICKETING_TICKETS_LIST.limit_arg) == (
        "page[after]", "page[size]")
    plan = methods.plan_ticketing_tickets({"updated_after": "2026-01-01T00:00:00Z"}, None, None)
    assert plan.args == {"sort": "-updated_at"} and plan.scan is not None
    comments = methods.plan_ticketing_comments({"ticket_id": "12"}, "created_at", "desc")
    assert comments.args == {"ticket_id": 12, "sort": "-created_at"}
    contacts = methods.plan_ticketing_contacts({"external_id": "x"}, None, None)
    assert contacts.args == {"role": "end-user", "external_id": "x"}


def test_other_resources_from_zendesk() -> None:
    group = example("group_show-response_documented")["group"]
    assert mappers.ticketing_team_from_zendesk(group, CTX, None)["name"] == "MCs"
    field = example("ticket-field_show-response_documented")["ticket_field"]
    mapped = mappers.ticketing_field_from_zendesk(field, CTX, None)
    assert (mapped["id"], mapped["label"], mapped["entity_type"], mapped["is_hidden"]) == ("89", "Age", "ticket", False)
    view = example("view_show-response_documented")["view"]
    collection = mappers.ticketing_collection_from_zendesk(view, CTX, None)
    assert (collection["name"], collection["type"]) == ("Tickets updated less than 12 Hours", "view")
    assert collection["urls"] == [{"url": "https://acme.zendesk.com/agent/filters/25", "type": "web"}]
    user = example("user_create-response_recorded")["user"]
    directory = mappers.user_directory_user_from_zendesk(user, CTX, None)
    assert directory["id"] == str(user["id"]) and directory["status"] in ("active", "inactive", "deleted")
    assert mappers.ticketing_tag_from_zendesk({"name": "vip", "count": 3}, CTX, None) == {
        "id": "vip", "name": "vip", "remote_data": {"name": "vip", "count": 3}}


def test_tickets_of_a_view_come_from_the_view_list_with_separate_sort_parameters() -> None:
    plan = methods.plan_ticketing_tickets({"collection_id": "25"}, "updated_at", "desc")
    assert plan.spec is methods.TICKETING_TICKETS_LIST_CASE1
    assert plan.spec.operation == "zendesk_views_list_tickets"
    assert plan.args == {"view_id": 25, "sort_by": "updated_at", "sort_order": "desc"}
    scan = methods.plan_ticketing_tickets({"collection_id": "25", "updated_after": "2026-01-01T00:00:00Z"}, None, None)
    assert scan.args == {"view_id": 25, "sort_by": "updated_at", "sort_order": "desc"} and scan.scan is not None
    plain = methods.plan_ticketing_tickets({}, "updated_at", "asc")
    assert plain.spec is None and plain.args == {"sort": "updated_at"}
