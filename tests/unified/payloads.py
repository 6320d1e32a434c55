"""Gorgias payloads the unified tests replay (cassettes) and map.

Every object here is a documented or recorded Gorgias payload from
`spec/gorgias/reference/examples/` (the file is named on each), copied so the cassettes and
tests are self-contained; variants (other ids, dates, an internal note, attachments, a phone
channel, unknown enum values) change only the fields they say.
"""

from __future__ import annotations

import copy
from typing import Any

# ticket_recorded-webhook-ticket-created.json (Pipedream recording), messages trimmed to the first
_SENDER = {"email": "test@example.com", "firstname": "Test", "id": 387654483, "lastname": "User",
           "meta": {"name_set_via": "agent"}, "name": "Test User"}
_RECEIVER = {"email": "test@example.com", "firstname": "", "id": 387705374, "lastname": "",
             "meta": {"name_set_via": "email"}, "name": None}
_SOURCE = {"extra": {"include_thread": False},
           "from": {"address": "support-acme@example.com", "name": "Company Support"},
           "to": [{"address": "test@example.com", "name": ""}], "type": "email"}

MESSAGE_RECORDED: dict[str, Any] = {
    # message_recorded-webhook-ticket-message-created.json (body shortened)
    "actions": None, "attachments": [], "body_html": "<div>hello</div>", "body_text": "hello",
    "channel": "email", "created_datetime": "2024-02-14T21:49:40.308988+00:00", "external_id": None,
    "failed_datetime": None, "from_agent": True, "headers": None, "id": 208841467, "integration_id": 66567,
    "intents": [], "is_retriable": True, "last_sending_error": None, "message_id": None, "meta": None,
    "opened_datetime": None, "public": True, "receiver": _RECEIVER, "rule_id": None, "sender": _SENDER,
    "sent_datetime": None, "sentiments": [], "source": _SOURCE, "stripped_html": "<div>hello</div>",
    "stripped_signature": None, "stripped_text": "hello", "subject": "", "text": "hello",
    "ticket_id": 86538298, "uri": "/api/tickets/86538298/messages/208841467/", "via": "helpdesk",
}

TICKET: dict[str, Any] = {
    "account": {"domain": "pipedream"},
    "assignee_team": None,
    "assignee_team_id": None,
    "assignee_user": {"bio": None, "email": "test@example.com", "firstname": "Test", "id": 387654483,
                      "lastname": "User", "meta": {"name_set_via": "agent"}, "name": "Test User"},
    "assignee_user_id": 387654483,
    "channel": "email",
    "closed_datetime": None,
    "created_datetime": "2024-02-14T21:30:50.201204+00:00",
    "customer": {
        "channels": [{
            "address": "test@example.com", "created_datetime": "2024-02-14T19:38:02.190391+00:00",
            "customer": {"id": 387705374, "name": None}, "deleted_datetime": None, "id": 457649605,
            "preferred": True, "type": "email", "updated_datetime": "2024-02-14T19:38:02.190395+00:00",
            "user": {"id": 387705374, "name": None},
        }],
        "customer": None, "data": None, "email": "test@example.com", "external_id": None, "firstname": "",
        "id": 387705374, "integrations": {}, "lastname": "", "meta": {"name_set_via": "email"}, "name": None,
        "note": None,
    },
    "external_id": None,
    "from_agent": True,
    "id": 86538298,
    "language": None,
    "last_message_datetime": "2024-02-14T21:30:50.201204+00:00",
    "last_received_message_datetime": None,
    "messages": [{
        **MESSAGE_RECORDED, "id": 208822164, "created_datetime": "2024-02-14T21:30:50.201204+00:00",
        "integration_id": None, "stripped_html": None, "stripped_text": None,
        "uri": "/api/tickets/86538298/messages/208822164/",
    }],
    "meta": None,
    "opened_datetime": None,
    "priority": "normal",
    "reply_options": {"email": {"answerable": True}, "internal-note": {"answerable": True}},
    "satisfaction_survey": None,
    "snooze_datetime": None,
    "spam": False,
    "status": "open",
    "subject": "test",
    "tags": [],
    "trashed_datetime": None,
    "updated_datetime": "2024-02-14T21:30:50.228948+00:00",
    "uri": "/api/tickets/86538298/",
    "via": "helpdesk",
}

# message_get.json (the documented TicketMessage example)
MESSAGE_DOC: dict[str, Any] = {
    "id": 924712, "attachments": [],
    "body_html": "Hello,<br><br>I can't place an order on your site.<br>Cheers,<br>John Doe",
    "body_text": "Hello,\n\nI can't place an order on your site.\nCheers,\nJohn Doe",
    "channel": "email", "created_datetime": "2020-01-27T10:42:21.468912", "external_id": "MSG-78545",
    "failed_datetime": None, "from_agent": True, "integration_id": 28643, "last_sending_error": None,
    "message_id": "<123345676453.2445.234@web>", "receiver": {"id": 8}, "rule_id": 89465, "sender": {"id": 7},
    "source": {"type": "email", "from": {"id": 7, "name": "Sender Doe", "address": "sender@example.com"},
               "to": [{"id": 8, "name": "Receiver Doe", "address": "receiver@example.com"}]},
    "stripped_html": None, "stripped_text": None, "subject": "Re:Refund request", "ticket_id": 12, "via": "api",
    "uri": "/api/tickets/12/messages/924712/",
}

# user_get.json (e-mail address scrubbed in the source; a plain example address here)
USER: dict[str, Any] = {
    "id": 3924, "active": True, "bio": "Full stack developer at Gorgias",
    "created_datetime": "2019-04-13T03:27:56.973873", "country": "FR", "email": "steve@example.com",
    "external_id": "user-84203241", "firstname": "Steve", "lastname": "Frazeli", "language": "fr",
    "meta": {"avatar_url": "https://avatars.example.com/steve-profile.jpeg", "position": "engineer"},
    "name": "Steve Frazelli", "role": {"name": "admin"}, "timezone": "US/Pacific",
    "updated_datetime": "2019-09-25T06:18:22.839271",
}

# team_get.json
TEAM: dict[str, Any] = {
    "created_datetime": "2024-01-15T10:30:00Z", "decoration": {"emoji": "🏬"},
    "description": "Handles warehouse-related support and logistics.", "id": 123,
    "members": [{"email": "marie@example.com", "id": 456, "meta": None, "name": "Marie Curie"}],
    "name": "Warehouse team", "uri": "/api/teams/123",
}

# tag_get.json
TAG: dict[str, Any] = {
    "id": 123456, "decoration": {"color": "#F58D86"}, "description": "Mark a ticket as urgent", "name": "urgent",
    "usage": 123, "uri": "/api/tags/5/", "created_datetime": "2019-07-05T14:42:00.384938", "deleted_datetime": None,
}

# custom-field_get.json
FIELD: dict[str, Any] = {
    "id": 123, "object_type": "Ticket", "label": "Test field", "priority": 1, "required": True,
    "definition": {"data_type": "text", "input_settings": {"input_type": "input", "placeholder": "Enter this here..."}},
    "description": "An amazing field description.", "external_id": "custom-field-84203241",
    "managed_type": "contact_reason", "created_datetime": "2019-01-02T03:04:05.123456",
    "updated_datetime": "2020-01-02T03:04:05.123456", "deactivated_datetime": None,
}

# views_list_item-example.json
VIEW: dict[str, Any] = {
    "category": "user", "created_datetime": "2019-11-23T15:59:41.966927",
    "deactivated_datetime": "2020-01-30T11:04:34.345123", "decoration": {"emoji": "🙏"},
    "fields": ["id", "details", "tags"],
    "filters": "eq(ticket.assignee_user.id, '{{current_user.id}}') && eq(ticket.status, 'open')",
    "id": 123, "name": "My view", "order_by": "updated_datetime", "order_dir": "desc",
    "search": "where is my order?", "slug": "my-tickets", "type": "ticket-list", "uri": "string",
    "visibility": "public",
    "shared_with_users": [{"id": 3924, "meta": {"profile_picture_url": "https://config.gorgi.us/3850e14d"},
                           "name": "Steve Frazelli"}],
    "shared_with_teams": [{"decoration": {"emoji": "🙏"}, "id": 123, "name": "Warehouse team"}],
}

# (e-mail addresses moved to example.com, which the cassette scrubber keeps)
# the customer embedded in the recorded ticket, plus the fields a customer read returns
CUSTOMER: dict[str, Any] = {
    **TICKET["customer"],
    "active": True, "language": "en", "timezone": "Europe/Paris",
    "created_datetime": "2024-02-14T19:38:02.190391+00:00", "updated_datetime": "2024-02-15T08:00:00.000000+00:00",
    "uri": "/api/customers/387705374/",
}
CUSTOMER["channels"] = [
    *TICKET["customer"]["channels"],
    {"address": "+33612345678", "created_datetime": "2024-02-14T19:40:00.000000+00:00",
     "customer": {"id": 387705374, "name": None}, "deleted_datetime": None, "id": 457649606,
     "preferred": False, "type": "phone", "updated_datetime": "2024-02-14T19:40:00.000000+00:00",
     "user": {"id": 387705374, "name": None}},
]


def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of `base` with top-level fields replaced."""
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def ticket(id: int, updated: str, **changes: Any) -> dict[str, Any]:
    """The recorded ticket as another ticket, updated at `updated`."""
    return variant(TICKET, id=id, uri=f"/api/tickets/{id}/", updated_datetime=updated, **changes)


INTERNAL_NOTE = variant(
    MESSAGE_RECORDED, id=208850001, channel="internal-note", via="api", public=False, receiver=None,
    body_text="Customer called back, waiting for the carrier.",
    body_html="<div>Customer called back, waiting for the carrier.</div>", stripped_text=None, stripped_html=None,
    text=None, source={"type": "internal-note", "from": None, "to": []},
    created_datetime="2024-02-15T09:12:00.000000+00:00",
    uri="/api/tickets/86538298/messages/208850001/",
)

WITH_ATTACHMENTS = variant(
    MESSAGE_RECORDED, id=208860002, from_agent=False, sender=_RECEIVER, receiver=_SENDER,
    created_datetime="2024-02-15T10:00:00+00:00",
    attachments=[
        {"url": "https://uploads.gorgias.io/acme/receipt-7f3a.pdf", "name": "receipt.pdf",
         "content_type": "application/pdf", "size": "48213", "public": False, "extra": {}},
        {"url": "https://uploads.gorgias.io/acme/photo-91bc.jpg", "name": "photo.jpg",
         "content_type": "image/jpeg", "size": 102400, "public": False, "extra": None},
    ],
    uri="/api/tickets/86538298/messages/208860002/",
)


def page(items: list[Any], next_cursor: str | None = None, prev_cursor: str | None = None,
         uri: str = "/api/tickets") -> dict[str, Any]:
    """A cursor page as Gorgias sends it (tags_list.json shape)."""
    return {"object": "list", "uri": uri, "data": items,
            "meta": {"next_cursor": next_cursor, "prev_cursor": prev_cursor, "total_resources": None}}
