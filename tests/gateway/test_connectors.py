"""connectors.discover() and the Connector facade over the installed generated packages."""

from __future__ import annotations

import httpx
import pytest
from connector_gateway.connectors import CredentialsError, discover

GORGIAS_BASIC = {"subdomain": "acme", "email": "me@example.com", "api_key": "k-secret-1"}
ZENDESK_BASIC = {"subdomain": "acme", "email": "me@example.com", "api_token": "t-secret-1"}


@pytest.fixture(scope="module")
def connectors():
    return discover()


def test_discovers_both_generated_connectors(connectors) -> None:
    assert {"gorgias", "zendesk"} <= set(connectors)
    assert list(connectors) == sorted(connectors)
    gorgias, zendesk = connectors["gorgias"], connectors["zendesk"]
    assert (gorgias.title, zendesk.title) == ("Gorgias", "Zendesk Support")
    assert gorgias.client_class.__name__ == "AsyncGorgias"
    assert zendesk.client_class.__name__ == "AsyncZendesk"
    assert gorgias.mcp_server_module.__name__ == "gorgias.mcp.server"
    assert hasattr(gorgias.mcp_server_module, "build_server")
    assert gorgias.sandbox_module.__name__ == "gorgias.sandbox"
    assert zendesk.unified_module is not None


def test_credential_fields_come_from_the_constructor_and_spec(connectors) -> None:
    fields = {f["name"]: f for f in connectors["gorgias"].credential_fields}
    assert list(fields) == [
        "subdomain",
        "email",
        "api_key",
        "access_token",
        "refresh_token",
        "client_id",
        "client_secret",
        "token_expires_at",
    ]
    assert {n for n, f in fields.items() if f["secret"]} == {
        "api_key",
        "access_token",
        "refresh_token",
        "client_secret",
    }
    assert fields["api_key"]["description"] == "REST API key created by that user."
    zendesk = {f["name"]: f for f in connectors["zendesk"].credential_fields}
    assert zendesk["api_token"]["secret"] is True
    assert zendesk["plan"]["choices"] == [
        "enterprise",
        "enterprise_plus",
        "growth",
        "high_volume",
        "professional",
        "team",
    ]


@pytest.mark.parametrize(
    ("credentials", "base_url", "message"),
    [
        (
            {},
            None,
            "missing credentials for gorgias: give email and api_key (basic), or access_token (oauth2), or refresh_token (oauth2)",
        ),
        (
            {"subdomain": "acme", "email": "me@example.com"},
            None,
            "missing credential fields for gorgias (basic): api_key",
        ),
        (
            {"email": "me@example.com", "api_key": "k-secret-1"},
            None,
            "missing credential field subdomain (or give base_url) for gorgias",
        ),
        (
            {**GORGIAS_BASIC, "api_token": "k-secret-2", "password": "p-secret-3"},
            None,
            "unknown credential fields for gorgias: api_token, password",
        ),
        (
            {**GORGIAS_BASIC, "access_token": "a-secret-4"},
            None,
            "credentials mix the fields of several auth schemes (basic, oauth2)",
        ),
        (
            {**GORGIAS_BASIC, "subdomain": "evil.com/x"},
            None,
            "credential field subdomain does not match",
        ),
        ({**GORGIAS_BASIC, "api_key": 12345}, None, "credential field api_key must be a string"),
        (
            {**GORGIAS_BASIC, "api_key": " k-secret-1\n"},
            None,
            "credential field api_key must be a non-empty string",
        ),
        (GORGIAS_BASIC, "ftp://example.com", "base_url must be an absolute http(s) URL"),
        ("k-secret-1", None, "credentials must be a JSON object"),
    ],
)
def test_credential_validation_names_fields_never_values(
    connectors, credentials, base_url, message
) -> None:
    with pytest.raises(CredentialsError) as caught:
        connectors["gorgias"].check_credentials(credentials, base_url)
    text = str(caught.value)
    assert text.startswith(message)
    for secret in ("k-secret", "a-secret", "p-secret", "12345", "evil.com"):
        assert secret not in text


def test_valid_credentials(connectors) -> None:
    gorgias, zendesk = connectors["gorgias"], connectors["zendesk"]
    gorgias.check_credentials(GORGIAS_BASIC, None)
    gorgias.check_credentials({"email": "me@example.com", "api_key": "k"}, "http://127.0.0.1:9")
    gorgias.check_credentials(
        {"subdomain": "acme", "access_token": "a", "token_expires_at": 1e9}, None
    )
    zendesk.check_credentials({**ZENDESK_BASIC, "plan": "enterprise"}, None)
    with pytest.raises(CredentialsError, match="plan must be one of: enterprise, "):
        zendesk.check_credentials({**ZENDESK_BASIC, "plan": "gold"}, None)
    with pytest.raises(CredentialsError, match="unknown credential fields for gorgias: plan"):
        gorgias.check_credentials({**GORGIAS_BASIC, "plan": "team"}, None)


def test_declared_rate_limits_per_auth_scheme_and_plan(connectors) -> None:
    gorgias, zendesk = connectors["gorgias"], connectors["zendesk"]
    assert gorgias.rate_limit(GORGIAS_BASIC) == (40, 20.0)
    assert gorgias.rate_limit_kind(GORGIAS_BASIC) == "leaky_bucket"
    assert gorgias.rate_limit({"subdomain": "acme", "access_token": "a"}) == (80, 20.0)
    assert zendesk.rate_limit(ZENDESK_BASIC) == (200, 60.0)  # default plan: team
    assert zendesk.rate_limit({**ZENDESK_BASIC, "plan": "enterprise"}) == (700, 60.0)
    assert zendesk.rate_limit({"access_token": "a", "plan": "high_volume"}) == (2500, 60.0)
    assert zendesk.rate_limit_kind(ZENDESK_BASIC) == "fixed_window"


def test_oauth_info(connectors) -> None:
    oauth = connectors["zendesk"].oauth
    assert oauth is not None
    assert oauth.authorize_url == "https://{subdomain}.zendesk.com/oauth/authorizations/new"
    assert oauth.token_path == "/oauth/tokens"
    assert oauth.encoding in ("form", "json")
    assert "tickets:read" in oauth.scopes
    assert connectors["gorgias"].oauth.offline_scope == "offline"


async def test_create_client_uses_the_given_http_client_without_pacing(connectors) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 7, "name": "Acme"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = connectors["gorgias"].create_client(
            GORGIAS_BASIC, "http://127.0.0.1:9", http_client=http
        )
        assert type(client).__name__ == "AsyncGorgias"
        assert client._shared.limiter is None  # the gateway paces, not the client
        assert await client.request("GET", "/api/account") == {"id": 7, "name": "Acme"}
        await client.aclose()
    assert str(seen[0].url) == "http://127.0.0.1:9/api/account"
    assert seen[0].headers["authorization"].startswith("Basic ")
    assert "k-secret-1" not in repr(client)
    with pytest.raises(CredentialsError):
        connectors["gorgias"].create_client({}, None, http_client=http)


async def test_client_never_takes_its_host_from_the_gateway_environment(
    connectors, monkeypatch
) -> None:
    monkeypatch.setenv("GORGIAS_BASE_URL", "http://127.0.0.1:9/elsewhere")
    monkeypatch.setenv("GORGIAS_SUBDOMAIN", "other")
    gorgias = connectors["gorgias"]
    async with httpx.AsyncClient() as http:
        client = gorgias.create_client(GORGIAS_BASIC, None, http_client=http)
        assert client.base_url == "https://acme.gorgias.com"
        given = gorgias.create_client(GORGIAS_BASIC, "http://127.0.0.1:8400/", http_client=http)
        assert given.base_url == "http://127.0.0.1:8400"
    assert gorgias.base_url_for(GORGIAS_BASIC) == "https://acme.gorgias.com"
    assert gorgias.base_url_for({"access_token": "a"}, "http://h:1") == "http://h:1"
