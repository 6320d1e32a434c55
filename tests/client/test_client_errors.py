"""Errors: one class per status with Gorgias's message and field errors; retry rules."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from gorgias import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GorgiasError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    models,
)

from .conftest import API_KEY, Recorder

NO_BODY_MATCH = ["method", "scheme", "host", "port", "path", "query"]


@pytest.mark.vcr
def test_error_classes(make_client: Any) -> None:
    client = make_client()

    with pytest.raises(BadRequestError) as bad:
        client.tickets.create(
            messages=[{"channel": "email", "via": "api", "from_agent": True, "body_text": "Hello"}]
        )
    err = bad.value
    assert isinstance(err, APIError) and isinstance(err, GorgiasError)
    assert err.status_code == 400
    assert err.message == "Failed to create ticket"
    assert err.field_errors == {
        "sender": ["Missing data for required field."],
        "channel": ["Missing data for required field."],
    }
    assert (err.method, err.path) == ("POST", "/api/tickets")
    assert err.request_id == "5f0c2d3e-9a8b-4c1d-8e2f-0123456789ab"
    assert str(err) == (
        "400 POST /api/tickets: Failed to create ticket (sender: Missing data for required field.; "
        "channel: Missing data for required field.) [request id 5f0c2d3e-9a8b-4c1d-8e2f-0123456789ab]"
    )

    with pytest.raises(AuthenticationError) as unauthorized:
        client.account.get()
    assert (unauthorized.value.status_code, unauthorized.value.message) == (401, "Unauthorized.")

    with pytest.raises(PermissionDeniedError) as forbidden:
        client.users.get(7)
    # the alternative `{"message": ...}` body shape
    assert forbidden.value.message == "You do not have the permission to access this resource."
    assert forbidden.value.path == "/api/users/7"

    with pytest.raises(NotFoundError) as missing:
        client.tickets.get(404)
    assert missing.value.message == "Resource not found."
    assert missing.value.field_errors == {}

    with pytest.raises(NotFoundError) as html:
        client.customers.get(5)
    assert html.value.message.startswith("the server answered an HTML page instead of JSON")
    assert "<html" not in str(html.value)

    with pytest.raises(ConflictError) as conflict:
        client.customers.create(email="jane@example.com", name="Jane Doe")
    assert (conflict.value.status_code, conflict.value.message) == (
        409,
        "The resource already exists.",
    )

    with pytest.raises(ConflictError) as in_use:
        client.macros.delete(3)
    assert in_use.value.message == "This macro is used by rules and cannot be deleted."
    assert in_use.value.field_errors == {"rules.0.id": ["17"], "rules.0.name": ["Auto-close spam"]}


@pytest.mark.vcr(match_on=NO_BODY_MATCH)
def test_payload_too_large(make_client: Any) -> None:
    client = make_client()
    with pytest.raises(PayloadTooLargeError) as exc:
        client.files.upload(files=[("huge.bin", b"\0" * 1024)], type="attachment")
    assert exc.value.status_code == 413
    assert exc.value.message == "File too large."


@pytest.mark.vcr
def test_429_then_success(
    make_client: Any, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    # rate_limit=False: the limiter would otherwise pause after the "40/40" usage header
    # (tested in test_client_ratelimit.py); this test is about the retry.
    client = make_client(rate_limit=False)
    with caplog.at_level(logging.INFO, logger="gorgias"):
        account = client.account.get()
    assert isinstance(account, models.Account)
    assert account.domain == "acme"
    assert account.status is not None and account.status.status == "active"
    assert len(recorder.requests) == 2
    assert "retrying GET /api/account after status 429 in 0.01 s (retry 1 of 3)" in caplog.text
    assert client.rate_limit_status is not None
    assert (client.rate_limit_status.used, client.rate_limit_status.limit) == (1, 40)


@pytest.mark.vcr
def test_429_exhausted(make_client: Any, recorder: Recorder) -> None:
    client = make_client(max_retries=1, rate_limit=False)
    with pytest.raises(RateLimitError) as exc:
        client.account.get()
    assert exc.value.status_code == 429
    assert exc.value.retry_after == 7.0  # as the server asked, not the capped wait
    assert exc.value.message == "Too many requests."
    assert len(recorder.requests) == 2


@pytest.mark.vcr
def test_post_429_is_retried(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    assert client.ticket_tags.create(86538298, names=["vip"]) is None
    assert recorder.paths == ["POST /api/tickets/86538298/tags"] * 2


@pytest.mark.vcr
def test_500_then_success_for_get(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    tag = client.tags.get(123456)
    assert tag.name == "urgent"
    assert len(recorder.requests) == 3


@pytest.mark.vcr("test_500_then_success_for_get.yaml")
def test_no_retries_surfaces_the_server_error(make_client: Any, recorder: Recorder) -> None:
    client = make_client(max_retries=0)
    with pytest.raises(ServerError) as exc:
        client.tags.get(123456)
    assert exc.value.status_code == 500
    assert exc.value.message.startswith("the server answered an HTML page")
    assert len(recorder.requests) == 1


@pytest.mark.vcr("test_500_then_success_for_get.yaml")
def test_per_call_max_retries(make_client: Any, recorder: Recorder) -> None:
    client = make_client(max_retries=0)
    tag = client.tags.get(123456, request_options={"max_retries": 2})
    assert tag.id == 123456
    assert len(recorder.requests) == 3


@pytest.mark.vcr
def test_500_on_post_is_not_retried(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    with pytest.raises(ServerError) as exc:
        client.tags.create(name="vip")
    assert exc.value.status_code == 500
    assert exc.value.message == "Internal server error."
    assert len(recorder.requests) == 1


def test_connection_errors_retried_only_when_idempotent(
    mock_client: Any, recorder: Recorder
) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1 or request.method == "POST":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"id": 1, "name": "vip"})

    client = mock_client(handler)
    assert client.tags.get(1).name == "vip"
    assert calls["n"] == 2

    with pytest.raises(APIConnectionError) as exc:
        client.tags.create(name="vip")
    assert calls["n"] == 3  # one POST, never repeated
    assert (exc.value.method, exc.value.path) == ("POST", "/api/tags")


def test_timeouts(mock_client: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = mock_client(handler, max_retries=2)
    with pytest.raises(APITimeoutError) as exc:
        client.tags.get(1)
    assert isinstance(exc.value, APIConnectionError)
    assert exc.value.path == "/api/tags/1"


def test_unknown_status_and_error_repr(mock_client: Any) -> None:
    client = mock_client(
        lambda r: httpx.Response(
            405, json={"error": {"msg": "The specified HTTP method is not allowed."}}
        )
    )
    with pytest.raises(APIError) as exc:
        client.tags.get(1)
    assert type(exc.value) is APIError
    assert exc.value.message == "The specified HTTP method is not allowed."
    assert repr(exc.value) == (
        "APIError(status_code=405, method='GET', path='/api/tags/1', message='The specified HTTP method is not allowed.')"
    )
    assert API_KEY not in repr(exc.value)


def test_with_options_shares_the_connection_and_limiter(
    mock_client: Any, recorder: Recorder
) -> None:
    answers = iter(
        [
            httpx.Response(500),
            httpx.Response(500),
            httpx.Response(200, json={"id": 1, "name": "vip"}),
        ]
    )
    client = mock_client(lambda r: next(answers), max_retries=0)
    patient = client.with_options(max_retries=2, timeout=5.0)
    assert (client.max_retries, patient.max_retries) == (0, 2)
    assert patient.timeout == 5.0
    assert patient._http is client._http and patient.rate_limiter is client.rate_limiter
    assert patient.tags.get(1).name == "vip"
    assert len(recorder.requests) == 3
    patient.close()  # does not close the shared pool
    assert not client._http.is_closed
