"""Authentication: Basic, OAuth2 renewal (on 401 and on expiry), the connect-flow helpers,
configuration from the environment, and secrets kept out of reprs, errors and logs."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import gorgias
from gorgias import (
    AuthenticationError,
    ConfigurationError,
    Gorgias,
    OAuthToken,
    PermissionDeniedError,
    build_authorize_url,
    exchange_code,
)

from .conftest import API_KEY, Recorder

OAUTH = {
    "access_token": "at-old-4b7e",
    "refresh_token": "rt-old-2f9c",
    "client_id": "app-123",
    "client_secret": "cs-secret-77d1",
}
SECRETS = [API_KEY, *(v for k, v in OAUTH.items() if k != "client_id")]
# The shared cassette scrubber (tests/conftest.py) redacts token values in recorded bodies, also on
# playback, so the renewed tokens the client receives read "REDACTED".
NEW = "REDACTED"


def test_basic_auth_header(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(lambda r: httpx.Response(200, json={"domain": "acme"}))
    assert client.account.get().domain == "acme"
    expected = base64.b64encode(f"agent@example.com:{API_KEY}".encode()).decode()
    assert recorder.requests[0].headers["Authorization"] == f"Basic {expected}"
    assert (
        recorder.requests[0]
        .headers["User-Agent"]
        .startswith(f"gorgias-client/{gorgias.__version__}")
    )
    assert client.auth_kind == "basic"
    assert (client.rate_limiter.requests, client.rate_limiter.period) == (40, 20.0)


@pytest.mark.vcr
def test_oauth_refresh_on_401(make_client: Any, recorder: Recorder) -> None:
    renewed: list[OAuthToken] = []
    client = make_client(**OAUTH, on_token_refresh=renewed.append)
    assert client.auth_kind == "oauth2"
    assert (client.rate_limiter.requests, client.rate_limiter.period) == (80, 20.0)

    account = client.account.get()

    assert account.domain == "acme"
    assert recorder.paths == ["GET /api/account", "POST /oauth/token", "GET /api/account"]
    assert recorder.requests[0].headers["Authorization"] == "Bearer at-old-4b7e"
    assert "Authorization" not in recorder.requests[1].headers  # client credentials go in the form
    assert recorder.requests[2].headers["Authorization"] == f"Bearer {NEW}"
    assert len(renewed) == 1
    token = renewed[0]
    assert (token.access_token, token.refresh_token, token.token_type) == (NEW, NEW, "Bearer")
    assert token.scope == "openid offline account:read"
    assert token.expires_at is not None and abs(token.expires_at - (time.time() + 86400)) < 60
    assert NEW not in repr(token)
    assert client.rate_limit_status is not None and client.rate_limit_status.limit == 80


@pytest.mark.vcr("test_oauth_refresh_on_401.yaml")
async def test_async_oauth_refresh_on_401(make_async_client: Any, recorder: Recorder) -> None:
    renewed: list[OAuthToken] = []
    async with make_async_client(**OAUTH, on_token_refresh=renewed.append) as client:
        account = await client.account.get()
    assert account.domain == "acme"
    assert recorder.paths == ["GET /api/account", "POST /oauth/token", "GET /api/account"]
    assert recorder.requests[2].headers["Authorization"] == f"Bearer {NEW}"
    assert [t.access_token for t in renewed] == [NEW]


@pytest.mark.vcr
def test_oauth_refresh_when_expired(make_client: Any, recorder: Recorder) -> None:
    renewed: list[OAuthToken] = []
    client = make_client(
        **OAUTH, token_expires_at=time.time() - 10, on_token_refresh=renewed.append
    )
    assert client.tags.get(123456).name == "urgent"
    assert recorder.paths == ["POST /oauth/token", "GET /api/tags/123456"]
    assert recorder.requests[1].headers["Authorization"] == f"Bearer {NEW}"
    # the answer had no refresh token: the old one is kept
    assert renewed[0].refresh_token == "rt-old-2f9c"


@pytest.mark.vcr
def test_oauth_refresh_rejected(make_client: Any, recorder: Recorder) -> None:
    client = make_client(**OAUTH)
    with pytest.raises(AuthenticationError) as exc:
        client.account.get()
    assert exc.value.status_code == 400
    assert exc.value.message == (
        "token endpoint refused the grant: invalid_grant (The refresh token is invalid or expired.)"
    )
    assert exc.value.path == "/oauth/token"
    assert len(recorder.requests) == 2  # no loop of renewals


def test_oauth_without_refresh_token_surfaces_401(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(
        lambda r: httpx.Response(401, json={"error": {"msg": "Unauthorized."}}),
        email=None,
        api_key=None,
        access_token="at-only-1234",
    )
    with pytest.raises(AuthenticationError) as exc:
        client.account.get()
    assert exc.value.message == "Unauthorized."
    assert len(recorder.requests) == 1


def test_build_authorize_url_adds_offline_scope() -> None:
    url = build_authorize_url(
        subdomain="acme",
        client_id="app-123",
        redirect_uri="https://app.example.com/oauth/callback",
        scopes=["openid", "tickets:read"],
        state="st-42",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "acme.gorgias.com",
        "/oauth/authorize",
    )
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["app-123"],
        "redirect_uri": ["https://app.example.com/oauth/callback"],
        "scope": ["openid tickets:read offline"],
        "state": ["st-42"],
    }
    no_offline = build_authorize_url(
        base_url="http://127.0.0.1:8080",
        client_id="x",
        redirect_uri="http://localhost/cb",
        offline=False,
    )
    assert (
        no_offline
        == "http://127.0.0.1:8080/oauth/authorize?response_type=code&client_id=x&redirect_uri=http%3A%2F%2Flocalhost%2Fcb"
    )
    with pytest.raises(ConfigurationError):
        build_authorize_url(
            subdomain="evil.com/x#", client_id="x", redirect_uri="http://localhost/cb"
        )


@pytest.mark.vcr
def test_exchange_code() -> None:
    token = exchange_code(
        "code-abc123",
        client_id="app-123",
        client_secret="cs-secret-77d1",
        redirect_uri="https://app.example.com/oauth/callback",
        subdomain="acme",
    )
    assert (token.access_token, token.refresh_token) == (NEW, NEW)
    assert token.scope == "openid offline tickets:read"
    assert token.id_token == "eyJhbGciOi.fake.token"
    # the token drives a client directly
    client = Gorgias(
        subdomain="acme",
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        client_id="app-123",
        client_secret="cs-secret-77d1",
        token_expires_at=token.expires_at,
    )
    assert client.auth_kind == "oauth2"
    client.close()


def test_configuration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GORGIAS_BASE_URL",
        "GORGIAS_ACCESS_TOKEN",
        "GORGIAS_REFRESH_TOKEN",
        "GORGIAS_CLIENT_ID",
        "GORGIAS_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GORGIAS_SUBDOMAIN", "acme")
    monkeypatch.setenv("GORGIAS_EMAIL", "agent@example.com")
    monkeypatch.setenv("GORGIAS_API_KEY", API_KEY)
    with Gorgias() as client:
        assert client.base_url == "https://acme.gorgias.com"
        assert client.auth_kind == "basic"

    monkeypatch.setenv("GORGIAS_BASE_URL", "http://127.0.0.1:9999/")
    with Gorgias() as client:
        assert client.base_url == "http://127.0.0.1:9999"
    with Gorgias(base_url="https://proxy.example.com") as client:  # argument beats environment
        assert client.base_url == "https://proxy.example.com"
    monkeypatch.delenv("GORGIAS_BASE_URL")

    monkeypatch.setenv("GORGIAS_ACCESS_TOKEN", "at-env-1")
    with Gorgias() as client:
        assert client.auth_kind == "oauth2"
    with Gorgias(email="someone@example.com", api_key="k") as client:  # explicit credentials win
        assert client.auth_kind == "basic"
    with Gorgias(subdomain="other", rate_limit=False) as client:
        assert client.base_url == "https://other.gorgias.com"
        assert client.rate_limiter is None


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "GORGIAS_SUBDOMAIN",
        "GORGIAS_EMAIL",
        "GORGIAS_API_KEY",
        "GORGIAS_ACCESS_TOKEN",
        "GORGIAS_REFRESH_TOKEN",
        "GORGIAS_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="missing subdomain"):
        Gorgias(email="a@example.com", api_key="k")
    with pytest.raises(ConfigurationError, match="no credentials"):
        Gorgias(subdomain="acme")
    with pytest.raises(ConfigurationError, match="needs both"):
        Gorgias(subdomain="acme", email="a@example.com")
    with pytest.raises(ConfigurationError, match="invalid subdomain"):
        Gorgias(subdomain="acme.evil.com/", email="a@example.com", api_key="k")
    with pytest.raises(ConfigurationError, match="absolute http"):
        Gorgias(base_url="ftp://acme.gorgias.com", email="a@example.com", api_key="k")
    assert isinstance(ConfigurationError("x"), ValueError)


@pytest.mark.vcr
def test_secrets_stay_out_of_logs_and_errors(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    basic = make_client()
    oauth = make_client(**OAUTH)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(PermissionDeniedError) as exc:
            basic.tickets.get(1, relationships=["custom_fields"])
        page = basic.tags.list(limit=1).first_page()
    assert page.items[0].name == "vip"
    assert "GET /api/tickets/1 -> 403" in caplog.text  # the client's own log line: path, no query
    assert "GET /api/tags -> 200" in caplog.text
    basic_header = base64.b64encode(f"agent@example.com:{API_KEY}".encode()).decode()
    texts = [
        caplog.text,
        repr(basic),
        repr(oauth),
        str(basic.__dict__),
        repr(basic._shared.auth),
        repr(oauth._shared.auth),
        str(exc.value),
        repr(exc.value),
        str(exc.value.headers),
    ]
    for text in texts:
        for secret in [*SECRETS, basic_header]:
            assert secret not in text
    assert repr(basic) == "Gorgias(base_url='https://acme.gorgias.com', auth='basic')"
    assert (
        repr(oauth._shared.auth)
        == "OAuth2Auth(client_id='app-123', access_token=<hidden>, refresh_token=<hidden>)"
    )
