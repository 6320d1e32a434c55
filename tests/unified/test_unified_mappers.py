"""The generated mapping functions on the shared recorded and documented Gorgias payloads
(`spec/gorgias/reference/examples/`), field by field; no HTTP."""

from __future__ import annotations

import copy
import importlib
import json
from typing import Any

from gorgias.unified import mappers
from gorgias.unified.models import (
    UnifiedCollection,
    UnifiedComment,
    UnifiedDirectoryUser,
    UnifiedField,
    UnifiedTag,
    UnifiedTeam,
    UnifiedTicket,
    UnifiedUser,
)
from tests.conftest import GORGIAS_REFERENCE

EXAMPLES = GORGIAS_REFERENCE / "examples"
CTX = {"subdomain": "acme", "base_url": "https://acme.gorgias.com"}


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def test_recorded_ticket() -> None:
    raw = load("ticket_recorded-webhook-ticket-created.json")
    before = copy.deepcopy(raw)
    record = mappers.ticketing_ticket_from_gorgias(raw, CTX)
    assert record["remote_data"] is raw and raw == before  # untouched
    assert {k: v for k, v in record.items() if k != "remote_data"} == {
        "id": "86538298",
        "number": "86538298",
        "name": "test",
        "description": "hello",  # the first message's text, not the subject
        "status": "open",
        "priority": "normal",
        "channel": "email",
        "contact": {"id": "387705374", "name": "test@sample.com"},
        "created_by": {"id": "387654483", "name": "Test User", "email": "test@sample.com", "type": "user"},
        "assignees": [{"id": "387654483", "name": "Test User"}],
        "team": None,  # assignee_team is null
        "tags": [],
        "language": None,
        "ticket_url": "https://acme.gorgias.com/app/ticket/86538298",
        "custom_fields": None,
        "closed_at": None,
        "last_activity_at": "2024-02-14T21:30:50.201204+00:00",
        "created_at": "2024-02-14T21:30:50.201204+00:00",
        "updated_at": "2024-02-14T21:30:50.228948+00:00",
    }
    ticket = UnifiedTicket.model_validate(record)
    assert ticket.team is None and ticket.remote_data["account"] == {"domain": "pipedream"}


def test_ticket_without_subdomain_has_no_url_and_keeps_unknown_values() -> None:
    raw = load("ticket_recorded-webhook-ticket-created.json")
    raw.update(status="pending-review", priority="blocker", channel="tiktok", trashed_datetime=None, spam=None)
    record = mappers.ticketing_ticket_from_gorgias(raw, {"subdomain": None})
    assert (record["status"], record["priority"], record["channel"]) == ("pending-review", "blocker", "tiktok")
    assert record["ticket_url"] is None
    raw.update(trashed_datetime="2024-03-01T00:00:00", status="closed")
    assert mappers.ticketing_ticket_from_gorgias(raw, CTX)["status"] == "deleted"
    raw.update(priority="critical", messages=[], first_message=None, customer=None, assignee_user=None,
               assignee_user_id=None)
    record = mappers.ticketing_ticket_from_gorgias(raw, CTX)
    assert record["priority"] == "urgent"
    assert record["description"] is None and record["created_by"] is None
    assert record["contact"] is None and record["assignees"] == []


def test_recorded_message() -> None:
    record = mappers.ticketing_comment_from_gorgias(load("message_recorded-webhook-ticket-message-created.json"), CTX)
    comment = UnifiedComment.model_validate(record)
    assert comment.id == "208841467"
    assert record["ticket"] == {"id": "86538298"}
    assert comment.body is not None and comment.body.startswith("hello\n\nOn Wed, Feb 14, 2024")
    assert comment.html_body is not None and comment.html_body.startswith("<div>hello</div>")
    assert record["author"] == {"id": "387654483", "name": "Test User", "email": "test@sample.com", "type": "user"}
    assert record["receiver"] == {"id": "387705374", "name": "test@sample.com", "email": "test@sample.com",
                                  "type": "contact"}
    assert (comment.is_internal, comment.is_private, comment.channel) == (False, False, "email")
    assert record["created_at"] == "2024-02-14T21:49:40.308988+00:00"


def test_documented_message_and_an_internal_note() -> None:
    raw = load("message_get.json")
    record = mappers.ticketing_comment_from_gorgias(raw, CTX)
    assert record["author"] == {"id": "7", "name": None, "email": None, "type": "system"}  # sent by a rule
    assert record["receiver"] == {"id": "8", "name": None, "email": None, "type": "contact"}
    assert record["subject"] == "Re:Refund request"
    assert record["created_at"] == "2020-01-27T10:42:21.468912+00:00"  # no offset on the wire: UTC
    assert record["is_internal"] is False
    note = dict(raw, channel="internal-note", public=False, rule_id=None, receiver=None)
    record = mappers.ticketing_comment_from_gorgias(note, CTX)
    assert (record["is_internal"], record["channel"], record["receiver"]) == (True, "internal_note", None)
    assert record["author"]["type"] == "user"
    hidden = dict(raw, public=False, channel="email")  # public false alone makes it internal
    assert mappers.ticketing_comment_from_gorgias(hidden, CTX)["is_internal"] is True
    from_customer = dict(raw, from_agent=False, rule_id=None)
    assert mappers.ticketing_comment_from_gorgias(from_customer, CTX)["author"]["type"] == "contact"


def test_user_as_helpdesk_user_and_directory_user() -> None:
    raw = load("user_get.json")
    user = UnifiedUser.model_validate(mappers.ticketing_user_from_gorgias(raw, CTX))
    assert (user.id, user.name, user.first_name, user.last_name) == ("3924", "Steve Frazelli", "Steve", "Frazeli")
    assert user.is_active is True
    assert [(r.id, r.name) for r in user.roles] == [("admin", "admin")]
    assert user.avatar == "https://avatars.example.com/steve-profile.jpeg"
    person = mappers.user_directory_user_from_gorgias(raw, CTX)
    assert person["status"] == "active"
    assert person["title"] == "engineer"
    assert person["external_id"] == "user-84203241"
    assert person["languages"] == ["fr"] and person["country"] == "FR" and person["timezone"] == "US/Pacific"
    assert person["bio"] == "Full stack developer at Gorgias"
    assert person["roles"] == [{"id": "admin", "name": "admin"}]
    assert person["created_at"] == "2019-04-13T03:27:56.973873+00:00"
    UnifiedDirectoryUser.model_validate(person)
    off = mappers.user_directory_user_from_gorgias(dict(raw, active=False, role=None, language=None), CTX)
    assert (off["status"], off["roles"], off["languages"]) == ("inactive", [], [])


def test_team_tag_field_view() -> None:
    team = UnifiedTeam.model_validate(mappers.ticketing_team_from_gorgias(load("team_get.json"), CTX))
    assert (team.id, team.name, [(u.id, u.name) for u in team.users]) == ("123", "Warehouse team", [("456", "Marie Curie")])
    tag = UnifiedTag.model_validate(mappers.ticketing_tag_from_gorgias(load("tag_get.json"), CTX))
    assert (tag.id, tag.name, tag.color, tag.status, tag.description) == (
        "123456", "urgent", "#F58D86", "active", "Mark a ticket as urgent")
    field = UnifiedField.model_validate(mappers.ticketing_field_from_gorgias(load("custom-field_get.json"), CTX))
    assert (field.id, field.label, field.type, field.entity_type, field.is_required) == (
        "123", "Test field", "text", "ticket", True)
    assert (field.is_hidden, field.is_user_defined, field.format) == (False, False, "input")
    customer_field = mappers.ticketing_field_from_gorgias(dict(load("custom-field_get.json"), object_type="Customer"), CTX)
    assert customer_field["entity_type"] == "contact"
    (raw_view,) = load("views_list_item-example.json")
    view = UnifiedCollection.model_validate(mappers.ticketing_collection_from_gorgias(raw_view, CTX))
    assert (view.id, view.name, view.type, view.entity_type, view.access_level) == (
        "123", "My view", "view", "ticket", "public")
    assert [u.url for u in view.urls] == ["https://acme.gorgias.com/app/views/123"]


def test_contact_emails_and_phones_come_from_channels() -> None:
    customer = load("ticket_recorded-webhook-ticket-created.json")["customer"]
    customer["channels"].append({"id": 1, "type": "sms", "address": "+15550100", "preferred": True})
    customer["channels"].append({"id": 2, "type": "email", "address": "other@sample.com", "preferred": False})
    customer["channels"].append({"id": 3, "type": "facebook", "address": "fb-123", "preferred": False})
    record = mappers.ticketing_contact_from_gorgias(customer, CTX)
    assert record["emails"] == [
        {"email": "test@sample.com", "type": "primary", "is_primary": True},
        {"email": "other@sample.com", "type": "other", "is_primary": False},
    ]
    assert record["phones"] == [{"number": "+15550100", "type": "mobile", "is_primary": True}]
    assert record["name"] == "test@sample.com"


def test_attachments_are_flattened_from_messages() -> None:
    message = load("message_recorded-webhook-ticket-message-created.json")
    message["attachments"] = [{"url": "https://uploads.gorgias.io/x/a.png", "name": "a.png",
                               "content_type": "image/png", "size": "2048", "public": True}]
    (attachment,) = message["attachments"]
    record = mappers.ticketing_attachment_from_gorgias(attachment, CTX, message)
    assert record == {
        "id": "https://uploads.gorgias.io/x/a.png", "file_name": "a.png", "file_url": "https://uploads.gorgias.io/x/a.png",
        "content_type": "image/png", "size": 2048, "ticket": {"id": "86538298"}, "comment": {"id": "208841467"},
        "uploaded_by": {"id": "387654483", "name": "Test User", "email": "test@sample.com", "type": "user"},
        "is_public": True, "created_at": "2024-02-14T21:49:40.308988+00:00", "remote_data": attachment,
    }


def test_request_mappings() -> None:
    methods = importlib.import_module("gorgias.unified.methods")
    body = {"ticket_id": "86538298", "body": "note", "is_internal": True}
    # the internal note is a case of the create method, chosen from the input
    spec = methods.TICKETING_COMMENTS_CREATE.choose(body, {})
    assert spec is methods.TICKETING_COMMENTS_CREATE_CASE1
    assert methods.TICKETING_COMMENTS_CREATE.choose({**body, "is_internal": False}, {}) is methods.TICKETING_COMMENTS_CREATE
    args = spec.request(body, {"me": {"id": 3924}})
    assert args == {"ticket_id": 86538298, "channel": "internal-note", "via": "api", "from_agent": True,
                    "public": False, "sender": {"id": 3924}, "body_text": "note"}
    reply = mappers.ticketing_comments_create_request(
        {"ticket_id": "1", "body": "hi", "channel": "help_center", "author": {"id": "9", "type": "contact"}}, {})
    assert (reply["channel"], reply["public"], reply["from_agent"], reply["sender"]) == (
        "help-center", True, False, {"id": 9})
    # update: only what was given is sent; explicit empty lists are sent (they clear)
    assert mappers.ticketing_tickets_update_request({"id": "5", "tags": []}, {}) == {"id": 5, "tags": []}
    assert mappers.ticketing_tickets_update_request({"id": "5"}, {}) == {"id": 5}
    contact = mappers.ticketing_contacts_create_request(
        {"emails": [{"email": "a@b.c"}], "phones": [{"number": "+1", "type": "fax"}]}, {})
    assert contact == {"email": "a@b.c", "channels": [{"type": "email", "address": "a@b.c"},
                                                       {"type": "phone", "address": "+1"}]}
