"""Downloads fetch only the locations the definition declares for them: not another API path of
the account host, not an undeclared host; redirects are re-checked hop by hop (credentials only
to a declared location on the account host), bounded, and the content streams to disk in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import gorgias
from gorgias import APIConnectionError, InvalidArgumentsError
from gorgias._operations import OPERATIONS

from .conftest import Recorder

HOST = "https://acme.gorgias.com"
ATTACHMENT = f"{HOST}/api/attachment/download/8f14e45f/invoice-1042.pdf"
API_PATHS = [
    "/api/users",
    "/api/integrations",
    "/api/account",
    "/api/tickets?limit=1",
    "/api/users/0",
]


@pytest.mark.parametrize(
    "url",
    [
        *(HOST + path for path in API_PATHS),
        f"{HOST}/api/attachment/download/8f14e45f",  # one segment short
        f"{HOST}/api/attachment/download/a/b/c",  # one segment too many
        f"{HOST}/api/attachment/download/%2E%2E/users",  # encoded dot segment
        f"{HOST}/api/users/download/x/..%2F..%2F..%2Fusers",  # encoded slashes: more segments
        "https://other.gorgias.com/api/attachment/download/8f14e45f/a.pdf",  # another account
        "https://cdn.gorgias.io/8f14e45f/a.pdf",  # a host the definition does not declare
        "https://[::1",  # malformed: a typed error, not httpx.InvalidURL
    ],
)
def test_attachment_download_fetches_only_declared_locations(
    mock_client: Any, recorder: Recorder, url: str
) -> None:
    client = mock_client(lambda r: httpx.Response(200, json={"secret": "data"}))
    with pytest.raises(InvalidArgumentsError) as exc:
        client.attachments.download(url)
    assert list(exc.value.errors) == ["attachment_url"]
    assert isinstance(exc.value, ValueError)
    with pytest.raises(InvalidArgumentsError):
        client.invoke("gorgias_attachments_download", {"attachment_url": url})
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("url", "authorized"),
    [
        (ATTACHMENT, True),
        (f"{HOST}/api/public_attachment/download/8f14e45f/a.png", True),
        ("https://uploads.gorgias.io/8f14e45f/package-damaged.png", False),
    ],
)
def test_declared_locations_are_fetched_with_credentials_only_on_the_account_host(
    mock_client: Any, recorder: Recorder, url: str, authorized: bool
) -> None:
    client = mock_client(lambda r: httpx.Response(200, content=b"%PDF"))
    assert client.attachments.download(url) == b"%PDF"
    assert str(recorder.requests[0].url) == url
    assert ("Authorization" in recorder.requests[0].headers) is authorized


def _redirect_to(
    location: str, final: bytes = b"file"
) -> Callable[[httpx.Request], httpx.Response]:
    """The first request answers 307 to `location`; every other request answers `final`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if "/download/" in request.url.path:
            return httpx.Response(307, headers={"Location": location})
        return httpx.Response(200, content=final)

    return handler


CALLS: dict[str, Callable[[Any], Any]] = {
    "attachments.download": lambda c: c.attachments.download(ATTACHMENT),
    "files.download": lambda c: c.files.download("attachment", "8f14e45f", "invoice-1042.pdf"),
    "invoke attachments": lambda c: c.invoke(
        "gorgias_attachments_download", {"attachment_url": ATTACHMENT}
    ),
    "invoke files": lambda c: c.invoke(
        "gorgias_files_download",
        {"file_type": "attachment", "domain_hash": "8f14e45f", "resource_name": "invoice-1042.pdf"},
    ),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
@pytest.mark.parametrize(
    "location", ["/api/users", f"{HOST}/api/account", "https://evil.example/x"]
)
def test_redirects_never_take_credentials_to_an_undeclared_location(
    mock_client: Any, recorder: Recorder, call: str, location: str
) -> None:
    client = mock_client(_redirect_to(location))
    CALLS[call](client)
    first, second = recorder.requests
    assert first.headers["Authorization"].startswith("Basic ")
    assert second.url == httpx.URL(HOST).join(location)
    assert "Authorization" not in second.headers


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_redirect_to_a_declared_location_keeps_credentials(
    mock_client: Any, recorder: Recorder, call: str
) -> None:
    target = f"{HOST}/api/attachment/download/8f14e45f/renamed.pdf"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("invoice-1042.pdf"):
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, content=b"file")

    CALLS[call](mock_client(handler))
    assert [str(r.url) for r in recorder.requests][1] == target
    assert recorder.requests[1].headers["Authorization"].startswith("Basic ")


def test_redirect_loops_are_bounded(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(lambda r: httpx.Response(302, headers={"Location": ATTACHMENT}))
    with pytest.raises(APIConnectionError, match="redirects"):
        client.attachments.download(ATTACHMENT)
    assert len(recorder.requests) == 6  # the request and five redirect hops


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://acme.gorgias.com/x"])
def test_redirect_to_a_non_http_url_is_a_typed_error(
    mock_client: Any, recorder: Recorder, location: str
) -> None:
    client = mock_client(lambda r: httpx.Response(307, headers={"Location": location}))
    with pytest.raises(APIConnectionError, match="redirect"):
        client.attachments.download(ATTACHMENT)
    assert len(recorder.requests) == 1


def test_json_operations_do_not_follow_redirects(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(lambda r: httpx.Response(302, headers={"Location": "/api/users"}, json={}))
    client.invoke("get_single_gorgias_account_by_id", {})
    assert [r.url.path for r in recorder.requests] == ["/api/account"]


def test_every_download_declares_its_locations() -> None:
    downloads = [op for op in OPERATIONS.values() if op.envelope == "binary"]
    assert {op.tool for op in downloads} == {
        "gorgias_attachments_download",
        "gorgias_files_download",
    }
    for op in downloads:
        assert op.download_locations
        assert all(loc.host or loc.path for loc in op.download_locations)


# --- streaming ---------------------------------------------------------------------------------

CHUNK = b"x" * 65536
CHUNKS = 16


def test_download_to_a_file_is_written_while_it_arrives(mock_client: Any, tmp_path: Path) -> None:
    """Each chunk is on disk before the next one is produced: the body is never held whole."""
    target = tmp_path / "big.bin"
    seen_on_disk: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(CHUNKS):
            seen_on_disk.append(target.stat().st_size if target.exists() else 0)
            yield CHUNK

    client = mock_client(lambda r: httpx.Response(200, content=body()))
    assert client.attachments.download(ATTACHMENT, to=target) == target
    assert target.stat().st_size == CHUNKS * len(CHUNK)
    assert seen_on_disk[1:] == [i * len(CHUNK) for i in range(1, CHUNKS)]


async def test_async_download_to_a_file_is_written_while_it_arrives(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    seen_on_disk: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for _ in range(CHUNKS):
            seen_on_disk.append(target.stat().st_size if target.exists() else 0)
            yield CHUNK

    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=body()))
    async with gorgias.AsyncGorgias(
        base_url=HOST,
        email="me@example.com",
        api_key="k",
        rate_limit=False,
        http_client=httpx.AsyncClient(transport=transport),
    ) as client:
        assert await client.files.download("attachment", "h", "big.bin", to=target) == target
    assert target.stat().st_size == CHUNKS * len(CHUNK)
    assert seen_on_disk[1:] == [i * len(CHUNK) for i in range(1, CHUNKS)]
