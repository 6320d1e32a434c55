"""invoke() (flat arguments by tool name, JSON-ready results), argument and body validation
before any request, typed create/update/delete, and the raw request() passthrough."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gorgias import NOT_GIVEN, OPERATIONS, InvalidArgumentsError, models

from .conftest import Recorder

EMAIL_MESSAGE = {
    "via": "api",
    "channel": "email",
    "from_agent": True,
    "body_text": "Your order has shipped.",
    "sender": {"email": "support@example.com"},
    "source": {
        "type": "email",
        "from": {"name": "Support", "address": "support@example.com"},
        "to": [{"name": "Jane Doe", "address": "jane@example.com"}],
    },
}


@pytest.mark.vcr
def test_invoke_shapes(make_client: Any, recorder: Recorder) -> None:
    client = make_client()

    listed = client.invoke(
        "list_all_gorgias_tickets",
        {"limit": 10, "ticket_ids": [86538298, 86538297], "trashed": False},
    )
    assert listed == {
        "result": [
            {
                "id": 86538298,
                "status": "open",
                "subject": "Where is my order?",
                "created_datetime": "2024-02-14T21:30:50.201204+00:00",
            }
        ],
        "next_cursor": None,
        "prev_cursor": None,
    }

    message = client.invoke("get_single_gorgias_message_by_id", {"ticket_id": 12, "id": 924712})
    assert message["id"] == 924712
    assert message["source"]["from"] == {
        "id": 7,
        "name": "Sender Doe",
        "address": "sender@example.com",
    }
    assert message["failed_datetime"] is None
    assert message["created_datetime"] == "2020-01-27T10:42:21.468912"  # the wire value, untouched

    created = client.invoke(
        "create_a_gorgias_ticket",
        {
            "messages": [EMAIL_MESSAGE],
            "customer": {"email": "jane@example.com"},
            "subject": "Your order",
        },
    )
    assert created["id"] == 86539000
    assert created["messages"][0]["body_text"] == "Your order has shipped."

    assert client.invoke(
        "create_a_gorgias_ticket_tag", {"ticket_id": 86538298, "names": ["urgent", "refund"]}
    ) == {
        "ok": True,
        "status": 201,
    }

    raw = client.request("GET", "/api/tickets", params={"limit": 1})
    assert raw == {"data": [], "meta": {"next_cursor": None, "prev_cursor": None}}
    assert recorder.paths == [
        "GET /api/tickets?ticket_ids=86538298&ticket_ids=86538297&trashed=false&limit=10",
        "GET /api/tickets/12/messages/924712",
        "POST /api/tickets",
        "POST /api/tickets/86538298/tags",
        "GET /api/tickets?limit=1",
    ]


@pytest.mark.vcr
def test_typed_create_and_update(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    ticket = client.tickets.create(
        messages=[{k: v for k, v in EMAIL_MESSAGE.items() if k != "source"}],
        customer={"email": "x@y.z"},
        assignee_user=None,  # explicit null is sent; NOT_GIVEN fields are not
        subject=NOT_GIVEN,
    )
    assert isinstance(ticket, models.Ticket)
    assert (ticket.id, ticket.status, ticket.assignee_user) == (86539001, "open", None)
    assert ticket.customer is not None and ticket.customer.email == "x@y.z"

    updated = client.tickets.update(
        86539001, status="closed", priority=models.TicketUpdate(priority="high").priority
    )
    assert (updated.status, updated.priority) == ("closed", "high")
    assert client.tickets.delete(86539001) is None
    assert [r.method for r in recorder.requests] == ["POST", "PUT", "DELETE"]


def test_invoke_rejects_bad_arguments_before_any_request(
    mock_client: Any, recorder: Recorder
) -> None:
    client = mock_client(lambda r: httpx.Response(200, json={}))

    with pytest.raises(InvalidArgumentsError) as unknown:
        client.invoke(
            "list_all_gorgias_tickets", {"limt": 10, "customer_id": "abc", "order_by": "sideways"}
        )
    assert set(unknown.value.errors) == {"limt", "customer_id", "order_by"}
    assert unknown.value.errors["limt"][0].startswith(
        "unknown argument (expected: order_by, customer_id,"
    )
    assert unknown.value.errors["customer_id"] == [
        "Input should be a valid integer, unable to parse string as an integer"
    ]

    with pytest.raises(InvalidArgumentsError) as missing:
        client.invoke("create_a_gorgias_ticket_tag", {"names": ["vip"]})
    assert missing.value.errors == {"ticket_id": ["required"]}
    assert (
        str(missing.value)
        == "invalid arguments for create_a_gorgias_ticket_tag: ticket_id: required"
    )

    with pytest.raises(InvalidArgumentsError) as required_query:
        client.invoke("list_all_gorgias_custom_fields", {})
    assert required_query.value.errors == {"object_type": ["required"]}

    with pytest.raises(KeyError, match="did you mean list_all_gorgias_tickets"):
        client.invoke("list_all_gorgias_ticket", {})
    assert recorder.requests == []


def test_body_validation_names_the_field(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(lambda r: httpx.Response(201, json={"id": 1}))

    with pytest.raises(InvalidArgumentsError) as exc:
        client.tickets.create(messages=[{"channel": "email", "body_text": "Hi"}])
    assert exc.value.errors == {
        "messages.0.via": ["Field required"],
        "messages.0.from_agent": ["Field required"],
    }
    assert "messages.0.via: Field required" in str(exc.value)

    with pytest.raises(InvalidArgumentsError) as empty:
        client.invoke("create_a_gorgias_ticket", {"messages": []})
    assert list(empty.value.errors) == ["messages"]
    assert "at least 1 item" in empty.value.errors["messages"][0]

    with pytest.raises(InvalidArgumentsError) as wrong_type:
        client.invoke("update_a_gorgias_ticket_by_id", {"id": 1, "spam": "maybe"})
    assert wrong_type.value.errors == {
        "spam": ["Input should be a valid boolean, unable to interpret input"]
    }

    # whole-body arguments (a bare array) are validated too, with the argument name as prefix
    with pytest.raises(InvalidArgumentsError) as bulk:
        client.invoke(
            "update_a_gorgias_ticket_field_by_id", {"ticket_id": 1, "fields": [{"value": "x"}]}
        )
    assert list(bulk.value.errors) == ["fields.0.id"]
    assert recorder.requests == []


def test_routing_table_covers_every_argument() -> None:
    op = OPERATIONS["list_all_gorgias_events"]
    assert (op.method, op.path, op.envelope, op.read_only, op.idempotent) == (
        "GET",
        "/api/events",
        "cursor_list",
        True,
        True,
    )
    assert (op.items_path, op.next_cursor_path, op.prev_cursor_path, op.cursor_param) == (
        ("data",),
        ("meta", "next_cursor"),
        ("meta", "prev_cursor"),
        "cursor",
    )
    styles = {a.name: (a.location, a.style) for a in op.arguments}
    assert styles["types"] == ("query", "repeated")
    assert styles["created_datetime"] == ("query", "deep_object")
    create = OPERATIONS["create_a_gorgias_ticket"]
    assert (create.method, create.success_status, create.read_only, create.idempotent) == (
        "POST",
        201,
        False,
        False,
    )
    assert create.body_type is models.TicketCreate and create.response_type is models.Ticket
    ticket_get = OPERATIONS["get_single_gorgias_ticket_by_id"]
    assert ticket_get.by_name["id"].path_type is int
    bulk = OPERATIONS["update_a_gorgias_ticket_field_by_id"]
    assert (
        bulk.by_name["fields"].location == "body_whole" and bulk.by_name["fields"].wire_name == ""
    )
    upload = OPERATIONS["create_a_gorgias_file"]
    assert (
        upload.by_name["files"].file == "many" and upload.body_content_type == "multipart/form-data"
    )
    assert OPERATIONS["gorgias_attachments_download"].absolute_url_argument == "attachment_url"


def test_query_styles_on_the_wire(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(
        lambda r: httpx.Response(200, json={"data": [], "meta": {"next_cursor": None}})
    )
    client.invoke(
        "list_all_gorgias_events",
        {
            "types": ["ticket-created", "ticket-updated"],
            "user_ids": [1, 2],
            "created_datetime": {"gte": "2024-01-01T00:00:00Z", "lt": "2024-02-01T00:00:00Z"},
            "object_type": "Ticket",
        },
    )
    assert recorder.requests[0].url.params.multi_items() == [
        ("object_type", "Ticket"),
        ("types", "ticket-created"),
        ("types", "ticket-updated"),
        ("user_ids", "1"),
        ("user_ids", "2"),
        ("created_datetime[gte]", "2024-01-01T00:00:00Z"),
        ("created_datetime[lt]", "2024-02-01T00:00:00Z"),
    ]


def test_request_passthrough_uses_retries_and_errors(mock_client: Any, recorder: Recorder) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"domain": "acme"})])
    client = mock_client(lambda r: next(answers))
    assert client.request("GET", "api/account") == {"domain": "acme"}
    assert recorder.paths == ["GET /api/account", "GET /api/account"]
    with pytest.raises(InvalidArgumentsError):
        client.request("GET", "https://evil.example.com/api/account")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"limit": 500}, "limit"),
        ({"limit": 0}, "limit"),
        ({"ticket_ids": list(range(1, 102))}, "ticket_ids"),
    ],
)
def test_query_bounds_from_the_definition_are_enforced_before_sending(
    arguments: dict[str, Any], problem: str
) -> None:
    import httpx

    from gorgias import Gorgias, InvalidArgumentsError

    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    client = Gorgias(
        subdomain="acme", email="agent@example.com", api_key="k",
        http_client=httpx.Client(transport=transport), max_retries=0,
    )
    with pytest.raises(InvalidArgumentsError, match=problem):
        client.invoke("list_all_gorgias_tickets", arguments)
    with pytest.raises(InvalidArgumentsError, match=problem):
        next(iter(client.tickets.list(**arguments)))
    assert sent == []
