"""Access filters cannot be bypassed through a download tool: whatever filter is on, a download
tool fetches only its declared file locations, so it cannot read `/api/users`, `/api/integrations`
or `/api/account` (neither by URL argument nor through a redirect the server answers)."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import httpx
import pytest

from .conftest import GENERATED_PYTHON, server_env, stdio_session
from .fake_gorgias import FakeGorgias

HOST = "https://acme.gorgias.com"
SECRET = "users-and-integrations-secret"
FORBIDDEN_PATHS = [
    "/api/users",
    "/api/integrations",
    "/api/account",
    "/api/users/0",
    "/api/tickets",
]
DOWNLOAD_TOOLS = ["gorgias_attachments_download", "gorgias_files_download"]

#: Every access filter the server offers, alone and combined as in the issue.
FILTERS: dict[str, dict[str, Any]] = {
    "read-only+tags tickets": {"read_only": True, "tags": frozenset({"tickets"})},
    "read-only": {"read_only": True},
    "tags files": {"tags": frozenset({"files"})},
    "methods read": {"methods": frozenset({"read"})},
    "methods custom": {"methods": frozenset({"custom"})},
    "tools": {"tools": frozenset(DOWNLOAD_TOOLS)},
    "exclude users": {
        "exclude_tools": frozenset({"list_all_gorgias_users", "get_single_gorgias_account_by_id"})
    },
}


@pytest.fixture(scope="module")
def server() -> Any:
    if str(GENERATED_PYTHON) not in sys.path and (GENERATED_PYTHON / "gorgias").is_dir():
        sys.path.insert(0, str(GENERATED_PYTHON))
    return importlib.import_module("gorgias.mcp.server")


class FakeApi:
    """Answers like Gorgias would: 401 without credentials, the secret list otherwise; every file
    download answers 307 to `redirect` (an API path, to try the redirect route)."""

    def __init__(self, redirect: str) -> None:
        self.redirect = redirect
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "/download/" in request.url.path or request.url.host == "uploads.gorgias.io":
            return httpx.Response(307, headers={"Location": self.redirect})
        if "Authorization" not in request.headers:
            return httpx.Response(401, json={"error": {"msg": "Unauthorized."}})
        return httpx.Response(200, json={"data": [{"secret": SECRET}]})

    def authorized_paths(self) -> list[str]:
        return [r.url.path for r in self.requests if "Authorization" in r.headers]


def _runner(server: Any, api: FakeApi, tool_filter: dict[str, Any]) -> Any:
    from gorgias import AsyncGorgias

    def client() -> Any:
        return AsyncGorgias(
            base_url=HOST,
            email="agent@example.com",
            api_key="sk-test",
            rate_limit=False,
            max_retries=0,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(api)),
        )

    return server.ToolRunner(
        server.load_tools(), server.ToolFilter(**tool_filter), client_factory=client
    )


def _attacks(tool: str) -> list[dict[str, Any]]:
    """Arguments aiming a download tool at other API endpoints."""
    if tool == "gorgias_attachments_download":
        return [{"attachment_url": HOST + path} for path in FORBIDDEN_PATHS] + [
            {"attachment_url": f"{HOST}/api/attachment/download/%2E%2E/%2E%2E/users"},
            {"attachment_url": "https://other.gorgias.com/api/users"},
        ]
    return [
        {"file_type": "users", "domain_hash": "..", "resource_name": "x"},
        {"file_type": "attachment", "domain_hash": "a/../../../users", "resource_name": "."},
    ]


def _legit(tool: str) -> dict[str, Any]:
    if tool == "gorgias_attachments_download":
        return {"attachment_url": f"{HOST}/api/attachment/download/8f14e45f/invoice-1042.pdf"}
    return {
        "file_type": "attachment",
        "domain_hash": "8f14e45f",
        "resource_name": "invoice-1042.pdf",
    }


@pytest.mark.parametrize("name", list(FILTERS))
async def test_every_filter_survives_every_download_tool(server: Any, name: str) -> None:
    api = FakeApi(redirect="/api/users")
    runner = _runner(server, api, FILTERS[name])
    enabled = [tool for tool in DOWNLOAD_TOOLS if tool in runner.enabled]
    assert enabled, f"filter {name} should leave a download tool to attack"
    try:
        for tool in enabled:
            for arguments in _attacks(tool):
                result = await runner.call(tool, arguments)
                assert result.is_error, (tool, arguments)
                assert SECRET not in json.dumps(result.model_dump(mode="json"))
            # a legitimate file URL whose server redirects to an API path: followed without
            # credentials, so the API refuses it and nothing secret comes back
            result = await runner.call(tool, _legit(tool))
            assert result.is_error
            assert "401" in result.content[0].text
            assert SECRET not in json.dumps(result.model_dump(mode="json"))
    finally:
        await runner.aclose()
    assert all("/download/" in path for path in api.authorized_paths()), api.authorized_paths()
    assert not [
        r for r in api.requests if r.url.path in FORBIDDEN_PATHS and "Authorization" in r.headers
    ]


async def test_refused_urls_are_tool_errors_that_name_the_argument(server: Any) -> None:
    api = FakeApi(redirect="/api/users")
    runner = _runner(server, api, FILTERS["read-only+tags tickets"])
    try:
        result = await runner.call(
            "gorgias_attachments_download", {"attachment_url": f"{HOST}/api/users"}
        )
    finally:
        await runner.aclose()
    assert result.is_error
    text = result.content[0].text
    assert (
        "attachment_url" in text
        and "not a download location" in text
        and "nothing was sent" in text
    )
    assert api.requests == []


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
async def test_issue_scenario_read_only_tickets_server_over_stdio(fake: FakeGorgias) -> None:
    """`gorgias-mcp --read-only --tags tickets` used to answer these through the download tool."""
    async with stdio_session(
        "--read-only", "--tags", "tickets", env=server_env(fake.base_url)
    ) as client:
        results = [
            await client.call_tool(
                "gorgias_attachments_download", {"attachment_url": fake.base_url + path}
            )
            for path in ("/api/users", "/api/integrations", "/api/account")
        ]
    for result in results:
        assert result.is_error
        assert "not a download location" in result.content[0].text
    assert fake.requests == []
