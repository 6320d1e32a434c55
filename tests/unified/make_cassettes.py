"""Writes the hand-made cassettes of the unified tests (`cassettes/unified_<module>/<test>.yaml`).

    python -m tests.unified.make_cassettes

The responses are the documented / recorded Gorgias payloads of `payloads.py` (each names its
source in `spec/gorgias/reference/examples/`); requests are what the generated client sends
for each unified call. Tests replay them with `--record-mode=none`. To check a cassette against a
real account instead, run the test with `--record-mode=rewrite` and GORGIAS_SUBDOMAIN,
GORGIAS_EMAIL, GORGIAS_API_KEY set (the shared scrubber maps the account back to `acme`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from . import payloads as p

BASE = "https://acme.gorgias.com"
ROOT = Path(__file__).resolve().parents[2] / "cassettes"
HEADER = ("# Hand-made from documented Gorgias payloads (tests/unified/payloads.py); regenerate with\n"
          "# `python -m tests.unified.make_cassettes`.\n")


def call(method: str, path: str, query: list[tuple[str, Any]] | None = None, body: Any = None,
         status: int = 200, response: Any = None) -> dict[str, Any]:
    uri = BASE + path + (("?" + urlencode(query)) if query else "")
    request: dict[str, Any] = {"body": "" if body is None else json.dumps(body, ensure_ascii=False),
                               "headers": {} if body is None else {"Content-Type": ["application/json"]},
                               "method": method, "uri": uri}
    reason = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content"}[status]
    resp: dict[str, Any] = {"status": {"code": status, "message": reason},
                            "headers": {"Content-Type": ["application/json"]} if response is not None else {},
                            "body": {"string": "" if response is None else json.dumps(response, ensure_ascii=False)}}
    return {"request": request, "response": resp}


T1 = p.ticket(86538301, "2024-03-03T12:00:00+00:00")
T2 = p.ticket(86538300, "2024-03-02T12:00:00+00:00")
T3 = p.ticket(86538299, "2024-03-01T10:00:00")  # Gorgias also sends datetimes without offset (UTC)
T_OLD = p.ticket(86538200, "2023-12-31T23:59:59+00:00")
TEAM_REF = {"decoration": {"emoji": "🚚"}, "id": 77, "name": "Tier 2"}
T_ODD = p.ticket(86538555, "2024-03-04T08:00:00+00:00", status="snoozed", priority="extreme",
                 channel="tiktok", assignee_user=None, assignee_user_id=None, assignee_team=TEAM_REF,
                 assignee_team_id=77, tags=[p.TAG], custom_fields={"123": {"id": 123, "value": "refund"}},
                 trashed_datetime=None, spam=False)
T_SPAM = p.ticket(86538556, "2024-03-04T09:00:00+00:00", spam=True)
CREATED = p.ticket(86538999, "2024-03-05T10:00:00+00:00", subject="Where is my order?", via="api",
                   channel="api", from_agent=False,
                   messages=[p.variant(p.MESSAGE_RECORDED, id=208899999, channel="api", via="api", from_agent=False,
                                       sender=p.TICKET["customer"] | {}, body_text="My parcel never arrived.",
                                       body_html=None, ticket_id=86538999)])
USER_42 = p.variant(p.USER, id=42, email="sam@example.com", name="Sam Agent", firstname="Sam", lastname="Agent",
                    role={"name": "agent"}, external_id=None, meta={"profile_picture_url": "https://img.example.com/sam.png"})
USER_OFF = p.variant(USER_42, active=False, deactivated_datetime="2024-03-01T00:00:00+00:00")
CUSTOMER_FIELDS = p.variant(p.CUSTOMER, custom_fields=[{"id": 5, "field": {"id": 5, "label": "Tier"}, "value": "gold"}])
FIELD_DROPDOWN = p.variant(p.FIELD, id=124, object_type="Customer", label="Tier", managed_type=None,
                           definition={"data_type": "text", "input_settings": {
                               "input_type": "dropdown", "choices": ["gold", "silver"], "default": "silver"}},
                           deactivated_datetime="2024-01-01T00:00:00")


CASSETTES: dict[str, dict[str, list[dict[str, Any]]]] = {
    "unified_tickets": {
        "test_list_updated_after_stops_early": [
            call("GET", "/api/tickets", [("order_by", "updated_datetime:desc"), ("limit", 2)],
                 response=p.page([T1, T2], "c2")),
            call("GET", "/api/tickets", [("order_by", "updated_datetime:desc"), ("limit", 2), ("cursor", "c2")],
                 response=p.page([T3, T_OLD], "c3", "p2")),
        ],
        "test_first_page_by_contact_and_collection": [
            call("GET", "/api/tickets", [("customer_id", 387705374), ("view_id", 123), ("limit", 1)],
                 response=p.page([p.TICKET], "c2")),
        ],
        "test_sort_by_created_at": [
            call("GET", "/api/tickets", [("order_by", "created_datetime:asc"), ("ticket_ids", 86538298),
                                         ("ticket_ids", 86538555)],
                 response=p.page([p.TICKET, T_ODD])),
        ],
        "test_get_ticket": [
            call("GET", "/api/tickets/86538298", [("relationships", "custom_fields")], response=p.TICKET),
        ],
        "test_unknown_values_and_null_objects": [
            call("GET", "/api/tickets/86538555", [("relationships", "custom_fields")], response=T_ODD),
            call("GET", "/api/tickets/86538556", [("relationships", "custom_fields")], response=T_SPAM),
        ],
        "test_create_ticket_from_contact": [
            call("POST", "/api/tickets", body={
                "subject": "Where is my order?", "channel": "api", "via": "api", "from_agent": False,
                "priority": "critical", "customer": {"email": "test@example.com"}, "tags": [{"name": "vip"}],
                "messages": [{"channel": "api", "via": "api", "from_agent": False, "public": True,
                              "subject": "Where is my order?", "body_text": "My parcel never arrived.",
                              "sender": {"email": "test@example.com"}}],
            }, status=201, response=CREATED),
        ],
        "test_create_ticket_by_agent": [
            call("GET", "/api/users/0", response=p.USER),
            call("POST", "/api/tickets", body={
                "subject": "Your refund", "channel": "email", "via": "api", "from_agent": True,
                "customer": {"id": 387705374}, "assignee_team": {"id": 77},
                "messages": [{"channel": "email", "via": "api", "from_agent": True, "public": True,
                              "subject": "Your refund", "body_text": "We refunded your order.",
                              "body_html": "<p>We refunded your order.</p>", "sender": {"id": 3924}}],
            }, status=201, response=p.variant(CREATED, subject="Your refund", from_agent=True)),
        ],
        "test_update_ticket": [
            call("PUT", "/api/tickets/86538298", body={
                "status": "closed", "priority": "critical", "assignee_team": {"id": 77},
                "assignee_user": {"id": 387654483}, "tags": [{"name": "vip"}, {"id": 123456}],
            }, response=p.variant(p.TICKET, status="closed", priority="critical", assignee_team=TEAM_REF,
                                  assignee_team_id=77, closed_datetime="2024-03-06T10:00:00.000000+00:00",
                                  tags=[p.TAG, p.variant(p.TAG, id=99, name="vip", decoration=None)])),
            call("PUT", "/api/tickets/86538298", body={"status": "open", "spam": True},
                 response=p.variant(p.TICKET, spam=True)),
        ],
        "test_delete_ticket": [call("DELETE", "/api/tickets/86538298", status=204)],
        "test_async_list_and_get": [
            call("GET", "/api/tickets", [("order_by", "updated_datetime:desc")], response=p.page([T1, T2, T3, T_OLD], "c2")),
            call("GET", "/api/tickets/86538298", [("relationships", "custom_fields")], response=p.TICKET),
        ],
    },
    "unified_comments": {
        "test_list_comments_of_ticket": [
            call("GET", "/api/messages", [("ticket_id", 86538298), ("order_by", "created_datetime:asc")],
                 response=p.page([p.MESSAGE_RECORDED, p.INTERNAL_NOTE], None, None, "/api/messages")),
        ],
        "test_created_after_stops_early": [
            call("GET", "/api/messages", [("ticket_id", 86538298), ("order_by", "created_datetime:desc")],
                 response=p.page([p.INTERNAL_NOTE, p.MESSAGE_RECORDED], "m2", None, "/api/messages")),
        ],
        "test_get_comment": [call("GET", "/api/tickets/12/messages/924712", response=p.MESSAGE_DOC)],
        "test_create_internal_note": [
            call("GET", "/api/users/0", response=p.USER),
            call("POST", "/api/tickets/86538298/messages", body={
                "channel": "internal-note", "via": "api", "from_agent": True, "public": False,
                "sender": {"id": 3924}, "body_text": "Customer called back, waiting for the carrier.",
            }, status=201, response=p.INTERNAL_NOTE),
        ],
        "test_create_reply_as_author": [
            call("POST", "/api/tickets/86538298/messages", body={
                "channel": "email", "via": "api", "from_agent": True, "public": True,
                "sender": {"id": 387654483}, "receiver": {"id": 387705374}, "body_text": "hello",
                "body_html": "<div>hello</div>",
            }, status=201, response=p.MESSAGE_RECORDED),
        ],
        "test_update_and_delete_comment": [
            call("PUT", "/api/tickets/86538298/messages/208841467", body={"body_text": "hello again"},
                 status=202, response=p.variant(p.MESSAGE_RECORDED, body_text="hello again")),
            call("DELETE", "/api/tickets/86538298/messages/208841467", status=204),
        ],
        "test_async_comments": [
            call("GET", "/api/messages", [("ticket_id", 86538298)],
                 response=p.page([p.MESSAGE_RECORDED, p.INTERNAL_NOTE], None, None, "/api/messages")),
            call("GET", "/api/users/0", response=p.USER),
            call("POST", "/api/tickets/86538298/messages", body={
                "channel": "internal-note", "via": "api", "from_agent": True, "public": False,
                "sender": {"id": 3924}, "body_text": "Customer called back, waiting for the carrier.",
            }, status=201, response=p.INTERNAL_NOTE),
        ],
    },
    "unified_contacts": {
        "test_list_contacts_by_email": [
            call("GET", "/api/customers", [("email", "test@example.com")],
                 response=p.page([p.CUSTOMER], None, None, "/api/customers")),
        ],
        "test_list_contacts_by_phone": [
            call("GET", "/api/customers", [("channel_address", "+33612345678"), ("channel_type", "phone")],
                 response=p.page([p.CUSTOMER], None, None, "/api/customers")),
        ],
        "test_get_contact": [
            call("GET", "/api/customers/387705374", [("relationships", "custom_fields")], response=CUSTOMER_FIELDS),
        ],
        "test_create_update_delete_contact": [
            call("POST", "/api/customers", body={
                "name": "Jane Doe", "firstname": "Jane", "lastname": "Doe", "email": "jane@example.com",
                "note": "VIP since 2021", "channels": [
                    {"type": "email", "address": "jane@example.com", "preferred": True},
                    {"type": "phone", "address": "+33612345678"},
                    {"type": "whatsapp", "address": "+33699999999"}],
            }, status=201, response=p.variant(p.CUSTOMER, id=387705999, name="Jane Doe", firstname="Jane",
                                               lastname="Doe", email="jane@example.com", note="VIP since 2021")),
            call("PUT", "/api/customers/387705999", body={"timezone": "America/New_York", "language": "en"},
                 response=p.variant(p.CUSTOMER, id=387705999, timezone="America/New_York")),
            call("DELETE", "/api/customers/387705999", status=204),
        ],
        "test_async_contacts": [
            call("GET", "/api/customers", [("order_by", "updated_datetime:desc")],
                 response=p.page([p.CUSTOMER, p.variant(p.CUSTOMER, id=1, updated_datetime="2020-01-01T00:00:00")],
                                 "c2", None, "/api/customers")),
            call("GET", "/api/customers/387705374", [("relationships", "custom_fields")], response=p.CUSTOMER),
        ],
    },
    "unified_tags": {
        "test_tags_crud": [
            call("GET", "/api/tags", [("search", "urg"), ("order_by", "name:asc")],
                 response=p.page([p.TAG, p.variant(p.TAG, id=99, name="urgent-2", deleted_datetime="2024-01-01T00:00:00",
                                                   decoration=None)], None, None, "/api/tags")),
            call("GET", "/api/tags/123456", response=p.TAG),
            call("POST", "/api/tags", body={"name": "vip", "description": "Big customers",
                                             "decoration": {"color": "#FFD700"}},
                 status=201, response=p.variant(p.TAG, id=777, name="vip", description="Big customers",
                                                decoration={"color": "#FFD700"}, usage=0)),
            call("PUT", "/api/tags/777", body={"name": "VIP"}, status=202,
                 response=p.variant(p.TAG, id=777, name="VIP", decoration={"color": "#FFD700"})),
            call("DELETE", "/api/tags/777", status=204),
        ],
    },
    "unified_teams": {
        "test_teams_crud": [
            call("GET", "/api/teams", [("order_by", "created_datetime:desc")],
                 response=p.page([p.TEAM], None, None, "/api/teams")),
            call("GET", "/api/teams/123", response=p.TEAM),
            call("POST", "/api/teams", body={"name": "Returns", "description": "Handles returns",
                                              "members": [{"id": 456}, {"id": 3924}]},
                 status=201, response=p.variant(p.TEAM, id=124, name="Returns", description="Handles returns",
                                                members=[p.TEAM["members"][0], {"id": 3924, "name": "Steve Frazelli",
                                                                                "email": "steve@example.com"}])),
            call("PUT", "/api/teams/124", body={"members": []},
                 response=p.variant(p.TEAM, id=124, name="Returns", members=[])),
            call("DELETE", "/api/teams/124", status=204),
        ],
    },
    "unified_attachments": {
        "test_list_attachments_of_ticket": [
            call("GET", "/api/messages", [("ticket_id", 86538298), ("limit", 2)],
                 response=p.page([p.MESSAGE_RECORDED, p.WITH_ATTACHMENTS], "a2", None, "/api/messages")),
            call("GET", "/api/messages", [("ticket_id", 86538298), ("limit", 2)],
                 response=p.page([p.MESSAGE_RECORDED, p.WITH_ATTACHMENTS], "a2", None, "/api/messages")),
            call("GET", "/api/messages", [("ticket_id", 86538298), ("limit", 2), ("cursor", "a2")],
                 response=p.page([p.INTERNAL_NOTE], None, "a1", "/api/messages")),
        ],
    },
    "unified_fields": {
        "test_fields_crud": [
            call("GET", "/api/custom-fields", [("object_type", "Customer"), ("archived", "true")],
                 response=p.page([FIELD_DROPDOWN], None, None, "/api/custom-fields")),
            call("GET", "/api/custom-fields/123", response=p.FIELD),
            call("POST", "/api/custom-fields", body={
                "object_type": "Ticket", "label": "Contact reason", "required": True,
                "definition": {"data_type": "text", "input_settings": {
                    "input_type": "dropdown", "choices": ["refund", "shipping"], "default": "shipping"}},
            }, status=201, response=p.variant(p.FIELD, id=125, label="Contact reason", managed_type=None,
                                               definition={"data_type": "text", "input_settings": {
                                                   "input_type": "dropdown", "choices": ["refund", "shipping"],
                                                   "default": "shipping"}})),
            call("PUT", "/api/custom-fields/125", body={
                "object_type": "Ticket", "label": "Reason", "definition": {"data_type": "number",
                                                                          "input_settings": {"input_type": "input_number"}},
            }, response=p.variant(p.FIELD, id=125, label="Reason", managed_type=None,
                                  definition={"data_type": "number", "input_settings": {"input_type": "input_number"}})),
        ],
    },
    "unified_collections": {
        "test_collections_crud": [
            call("GET", "/api/views", response=p.page([p.VIEW], None, None, "/api/views")),
            call("GET", "/api/views/123", response=p.VIEW),
            call("POST", "/api/views", body={"name": "Open e-mails", "type": "ticket-list", "visibility": "private",
                                              "filters": "eq(ticket.status, 'open') && eq(ticket.channel, 'email')"},
                 status=201, response=p.variant(p.VIEW, id=124, name="Open e-mails", visibility="private",
                                                deactivated_datetime=None,
                                                filters="eq(ticket.status, 'open') && eq(ticket.channel, 'email')")),
            call("PUT", "/api/views/124", body={"name": "Open mail", "visibility": "public"},
                 response=p.variant(p.VIEW, id=124, name="Open mail", visibility="public")),
            call("DELETE", "/api/views/124", status=204),
        ],
    },
    "unified_users": {
        "test_users_crud": [
            call("GET", "/api/users", [("roles", "agent"), ("order_by", "email:desc")],
                 response=p.page([USER_42], None, None, "/api/users")),
            call("GET", "/api/users/3924", response=p.USER),
            call("POST", "/api/users", body={"email": "sam@example.com", "name": "Sam Agent", "role": {"name": "agent"}},
                 status=201, response=USER_42),
            call("PUT", "/api/users/42", body={"active": False}, response=USER_OFF),
            call("DELETE", "/api/users/42", status=204),
        ],
    },
    "unified_directory_users": {
        "test_directory_users_crud": [
            call("GET", "/api/users", [("email", "sam@example.com")], response=p.page([USER_42], None, None, "/api/users")),
            call("GET", "/api/users/42", response=USER_42),
            call("POST", "/api/users", body={
                "email": "ada@example.com", "name": "Ada Admin", "firstname": "Ada", "lastname": "Admin",
                "role": {"name": "admin"}, "external_id": "okta-00u1", "country": "GB", "language": "en",
                "timezone": "Europe/London", "meta": {"position": "Head of support"}},
                 status=201, response=p.variant(p.USER, id=43, email="ada@example.com", name="Ada Admin",
                                                firstname="Ada", lastname="Admin", external_id="okta-00u1",
                                                country="GB", language="en", timezone="Europe/London",
                                                meta={"position": "Head of support"})),
            call("PUT", "/api/users/42", body={"active": False}, response=USER_OFF),
            call("DELETE", "/api/users/43", status=204),
        ],
        "test_async_directory_users": [
            call("GET", "/api/users/42", response=USER_42),
            call("GET", "/api/users", [("search", "sam")], response=p.page([USER_42, USER_OFF], None, None, "/api/users")),
        ],
    },
    "unified_tools": {
        "test_invoke_unified_tools": [
            call("GET", "/api/tickets", [("customer_id", 387705374), ("limit", 2)], response=p.page([p.TICKET], "c2")),
            call("GET", "/api/users/42", response=USER_42),
            call("GET", "/api/users/0", response=p.USER),
            call("POST", "/api/tickets/86538298/messages", body={
                "channel": "internal-note", "via": "api", "from_agent": True, "public": False,
                "sender": {"id": 3924}, "body_text": "Customer called back, waiting for the carrier.",
            }, status=201, response=p.INTERNAL_NOTE),
            call("DELETE", "/api/tags/777", status=204),
        ],
        "test_ainvoke_unified_tools": [
            call("GET", "/api/messages", [("ticket_id", 86538298), ("order_by", "created_datetime:desc")],
                 response=p.page([p.INTERNAL_NOTE, p.MESSAGE_RECORDED], "m2", None, "/api/messages")),
            call("GET", "/api/custom-fields/123", response=p.FIELD),
        ],
    },
}


def render() -> dict[Path, str]:
    """Every cassette file and its text."""
    out: dict[Path, str] = {}
    for module, tests in CASSETTES.items():
        for name, interactions in tests.items():
            text = yaml.safe_dump({"interactions": interactions, "version": 1}, sort_keys=False,
                                  allow_unicode=True, width=120)
            out[ROOT / module / f"{name}.yaml"] = HEADER + text
    return out


def main() -> None:
    files = render()
    for module in CASSETTES:
        folder = ROOT / module
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.yaml"):
            if old not in files:
                old.unlink()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {sum(len(t) for t in CASSETTES.values())} cassettes under {ROOT}")


if __name__ == "__main__":
    main()
