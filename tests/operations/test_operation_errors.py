"""Error answers replayed through the generated client: the typed error class and its fields
(status_code, message, field_errors, method, path), and the retry rules (429 with Retry-after is
retried, a 5xx GET is retried, a 5xx POST is not).

Cassettes: cassettes/operation_errors/<test name>.yaml, hand-written from Gorgias's documented
error bodies (never re-recorded: the conftest skips these tests when recording).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gorgias import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GorgiasError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ServerError,
    models,
)

from .conftest import Recorder

pytestmark = pytest.mark.hand_written_only

NO_BODY_MATCH = ["method", "scheme", "host", "port", "path", "query"]
MESSAGE = {"channel": "email", "via": "api", "from_agent": True, "body_text": "Hello"}


@pytest.mark.vcr
def test_400_field_errors(make_client: Any, recorder: Recorder, vcr: Any) -> None:
    client = make_client()
    with pytest.raises(BadRequestError) as typed:
        client.tickets.create(messages=[MESSAGE])
    err = typed.value
    assert isinstance(err, APIError) and isinstance(err, GorgiasError)
    assert (err.status_code, err.method, err.path) == (400, "POST", "/api/tickets")
    assert err.message == "Failed to create ticket"
    assert err.field_errors == {
        "sender": ["Missing data for required field."],
        "channel": ["Missing data for required field."],
    }
    assert "sender: Missing data for required field." in str(err)

    with pytest.raises(BadRequestError) as invoked:  # invoke() raises the same typed errors
        client.invoke("create_a_gorgias_ticket", {"messages": [MESSAGE]})
    assert invoked.value.field_errors == err.field_errors
    assert len(recorder.requests) == 2 and vcr.all_played


@pytest.mark.vcr
def test_400_retired_statistic(make_client: Any) -> None:
    client = make_client()
    period = {
        "start_datetime": "2024-01-01T00:00:00+00:00",
        "end_datetime": "2024-01-31T23:59:59+00:00",
    }
    with pytest.raises(BadRequestError) as exc:
        client.statistics.retrieve("support-volume", filters={"period": period})
    assert exc.value.message == "Statistic support-volume does not exist."
    assert exc.value.field_errors == {"filters.period": ["Maximum allowed period size is 366 days"]}
    assert exc.value.path == "/api/stats/support-volume"


@pytest.mark.vcr
def test_401_unauthorized(make_client: Any, vcr: Any) -> None:
    client = make_client()
    with pytest.raises(AuthenticationError) as live_shape:
        client.account.get()
    assert (live_shape.value.status_code, live_shape.value.message) == (401, "Unauthorized.")
    assert live_shape.value.field_errors == {}
    # the `{"message": ...}` shape of the spec examples, through invoke()
    with pytest.raises(AuthenticationError) as spec_shape:
        client.invoke("get_single_gorgias_account_by_id", {})
    assert spec_shape.value.message == "Unauthorized"
    assert vcr.play_count == 2  # a 401 with Basic auth is not retried


@pytest.mark.vcr
def test_403_forbidden(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    with pytest.raises(PermissionDeniedError) as exc:
        client.users.delete(3924)
    assert exc.value.status_code == 403
    assert exc.value.message == "You do not have the permission to perform this action."
    assert (exc.value.method, exc.value.path) == ("DELETE", "/api/users/3924")
    assert len(recorder.requests) == 1


@pytest.mark.vcr
def test_404_not_found(make_client: Any, vcr: Any) -> None:
    client = make_client()
    with pytest.raises(NotFoundError) as typed:
        client.tickets.get(404404)
    assert (typed.value.status_code, typed.value.message) == (404, "Resource not found.")
    assert typed.value.path == "/api/tickets/404404"
    with pytest.raises(NotFoundError):
        client.invoke("get_single_gorgias_ticket_by_id", {"id": 404404})
    assert vcr.all_played


@pytest.mark.vcr
def test_409_conflict(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    with pytest.raises(ConflictError) as exc:
        client.customers.create(name="Jane Doe", email="jane@example.com")
    assert (exc.value.status_code, exc.value.message) == (409, "The resource already exists.")
    assert exc.value.field_errors == {}
    assert len(recorder.requests) == 1  # a POST conflict is final


@pytest.mark.vcr(match_on=NO_BODY_MATCH)
def test_413_payload_too_large(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    with pytest.raises(PayloadTooLargeError) as exc:
        client.files.upload(
            files=[("scan.tiff", b"II*\0" + b"\0" * 2048, "image/tiff")], type="attachment"
        )
    assert (exc.value.status_code, exc.value.message) == (413, "File too large.")
    assert b'filename="scan.tiff"' in recorder.requests[0].read()
    assert len(recorder.requests) == 1


@pytest.mark.vcr
def test_429_retry_after_then_success(
    make_client: Any, recorder: Recorder, vcr: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # rate_limit=False: the "40/40" usage header would otherwise make the client-side limiter
    # pause before the retry; this test is about the server's 429 and Retry-after.
    client = make_client(rate_limit=False)
    with caplog.at_level(logging.INFO, logger="gorgias"):
        tags = list(client.tags.list(limit=1))
    assert [type(t) for t in tags] == [models.Tag] and tags[0].name == "urgent"
    assert len(recorder.requests) == 2 and vcr.all_played
    # Retry-after: 5 was honoured, capped by the test client's max_retry_after (0.01 s)
    assert "retrying GET /api/tags after status 429 in 0.01 s (retry 1 of 3)" in caplog.text
    assert client.rate_limit_status is not None and client.rate_limit_status.used == 1


@pytest.mark.vcr
def test_500_then_success_for_get(make_client: Any, recorder: Recorder, vcr: Any) -> None:
    client = make_client()
    ticket = client.tickets.get(86538298)
    assert isinstance(ticket, models.Ticket)
    assert ticket.customer is not None and ticket.customer.email == "jane@example.com"
    assert [r.method for r in recorder.requests] == ["GET", "GET"] and vcr.all_played


@pytest.mark.vcr
def test_500_for_post_is_not_retried(make_client: Any, recorder: Recorder, vcr: Any) -> None:
    client = make_client()
    with pytest.raises(ServerError) as exc:
        client.messages.create(
            86538298,
            channel="internal-note",
            via="api",
            from_agent=True,
            sender={"id": 387654483},
            public=False,
            body_text="Refund approved.",
        )
    assert (exc.value.status_code, exc.value.message) == (500, "An external service had an issue.")
    assert len(recorder.requests) == 1
    assert vcr.play_count == 1
