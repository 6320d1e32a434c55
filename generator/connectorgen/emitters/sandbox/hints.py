"""Behaviours of the real API that the definition does not express, keyed by collection name.

Everything else the sandbox does is derived from the IR (see plan.py). Keep this table small:
an entry here is a fact about the vendor, not a route.
"""

from __future__ import annotations

#: Fields that must be unique within a collection; a duplicate answers 409.
UNIQUE_FIELDS: dict[str, list[str]] = {
    "customers": ["email"],
    "users": ["email"],
    "tags": ["name"],
}

#: Collections where id 0 means the authenticated user.
ME_ALIAS: dict[str, int] = {"users": 0}

#: Fields whose name does not say which collection they point at.
FIELD_COLLECTIONS: dict[str, str] = {
    "members": "users",
    "agent": "users",
    "shared_with_users": "users",
    "shared_with_teams": "teams",
    "initiated_by_agent_id": "users",
    "last_answered_by_agent_id": "users",
    "last_rang_agent_id": "users",
    "last_monitoring_agent_id": "users",
    "deleted_by_user_id": "users",
    "call_id": "voice_calls",
}

#: Query parameters accepted but not applied (documented, but not meaningful on fake data).
IGNORED_FILTERS = frozenset(
    {"view_id", "rule_id", "direction", "available_first", "number_predictions", "message_id"}
)

#: Query parameters naming one item to leave out of a page.
EXCLUDE_FILTERS = frozenset({"ignored_item"})

#: Search types -> (collection, how to match). `channels:<type>` searches customer channels.
SEARCH_TYPES: dict[str, dict[str, object]] = {
    "agent": {"collection": "users"},
    "customer": {"collection": "customers"},
    "customer_profile": {"collection": "customers"},
    "customer_channel": {"collection": "customers", "channels": None},
    "customer_channel_email": {"collection": "customers", "channels": "email"},
    "customer_channel_phone": {"collection": "customers", "channels": "phone"},
    "customers_by_phone": {"collection": "customers", "channels": "phone", "owner": True},
    "integration": {"collection": "integrations"},
    "team": {"collection": "teams"},
    "tag": {"collection": "tags"},
}

#: Object-map fields that cannot be merged when both sides hold the same key (409).
MERGE_CONFLICT_FIELDS = ("integrations",)

#: Reporting scopes (by prefix) -> collection the figures are computed from; "*" for the rest.
REPORT_SOURCES: dict[str, str] = {
    "messages-": "messages",
    "satisfaction-surveys": "satisfaction_surveys",
    "voice-": "voice_calls",
    "*": "tickets",
}

#: Reporting dimensions -> field of the source objects.
REPORT_DIMENSIONS: dict[str, str] = {
    "agentId": "assignee_user_id",
    "teamId": "assignee_team_id",
    "channel": "channel",
    "status": "status",
    "priority": "priority",
    "tagId": "tags",
    "integrationId": "integration_id",
    "createdDatetime": "created_datetime",
    "closedDatetime": "closed_datetime",
    "updatedDatetime": "updated_datetime",
    "sentDatetime": "sent_datetime",
    "timestamp": "created_datetime",
}

#: Boolean list filters over a `*_datetime` stamp. `only`: true lists the stamped objects instead
#: of the others (absent = false); `include`: true also lists the stamped ones (absent = true).
FLAG_FILTERS: dict[str, dict[str, object]] = {
    "trashed": {"mode": "include", "fields": ["trashed_datetime"]},
    "archived": {"mode": "only", "fields": ["archived_datetime", "deactivated_datetime"]},
}

#: A new object whose `field` is set gets a matching entry in its list of channels (`list`), as
#: the API does for a customer created with an e-mail address.
CONTACT_CHANNELS: dict[str, dict[str, str]] = {
    "customers": {"field": "email", "list": "channels", "type": "email"},
}
