"""Files and URL safety: multipart upload, downloads through the 307 redirect (bytes, file,
invoke), credentials only for the account host, and path parameters that cannot escape."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from gorgias import InvalidArgumentsError, models

from .conftest import Recorder

PNG = base64.b64decode(
    "iVBORw0KGgoAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/"
)
ATTACHMENT_URL = "https://acme.gorgias.com/api/attachment/download/8f14e45f/package-damaged.png"
SIGNED_HOST = "storage.googleapis.com"
NO_BODY_MATCH = ["method", "scheme", "host", "port", "path", "query"]


@pytest.mark.vcr(match_on=NO_BODY_MATCH)
def test_upload_multipart(make_client: Any, recorder: Recorder, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"hello world")
    client = make_client()

    files = client.files.upload(
        files=[("package-damaged.png", PNG, "image/png"), notes], type="attachment"
    )

    assert [type(f) for f in files] == [models.File, models.File]
    assert [(f.name, f.size, f.content_type) for f in files] == [
        ("package-damaged.png", "784554", "image/png"),
        ("notes.txt", 11, "text/plain"),
    ]
    assert files[0].url == "https://uploads.gorgias.io/8f14e45f/package-damaged.png"
    request = recorder.requests[0]
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=connectorgen")
    boundary = content_type.split("boundary=", 1)[1].encode()
    body = request.read()
    parts = body.split(b"--" + boundary)
    assert len(parts) == 4 and parts[-1] == b"--\r\n"
    assert (
        b'Content-Disposition: form-data; name="package-damaged.png"; filename="package-damaged.png"'
        in parts[1]
    )
    assert b"Content-Type: image/png" in parts[1] and PNG in parts[1]
    assert (
        b'name="notes.txt"; filename="notes.txt"' in parts[2]
        and b"\r\n\r\nhello world\r\n" in parts[2]
    )
    # the boundary depends on the content only: the same upload is the same request
    from gorgias._base import prepare
    from gorgias._operations import OPERATIONS

    prepared = prepare(
        OPERATIONS["create_a_gorgias_file"],
        {"files": [("package-damaged.png", PNG, "image/png"), notes], "type": "attachment"},
        trusted=client._trusted,
        deep=True,
    )
    assert prepared.headers["Content-Type"] == content_type


@pytest.mark.vcr
def test_download_follows_redirect(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    content = client.files.download("attachment", "8f14e45f", "package-damaged.png")
    assert content == PNG
    assert [r.url.host for r in recorder.requests] == ["acme.gorgias.com", SIGNED_HOST]
    assert recorder.requests[0].headers["Authorization"].startswith("Basic ")
    assert "Authorization" not in recorder.requests[1].headers  # never sent to the storage host


@pytest.mark.vcr("test_download_follows_redirect.yaml")
def test_attachment_download_to_file(make_client: Any, recorder: Recorder, tmp_path: Path) -> None:
    client = make_client()
    target = tmp_path / "out.png"
    written = client.attachments.download(ATTACHMENT_URL, to=target)
    assert written == target
    assert target.read_bytes() == PNG
    assert "Authorization" not in recorder.requests[1].headers


@pytest.mark.vcr("test_download_follows_redirect.yaml")
async def test_async_download(make_async_client: Any) -> None:
    async with make_async_client() as client:
        assert await client.attachments.download(ATTACHMENT_URL) == PNG


@pytest.mark.vcr("test_download_follows_redirect.yaml")
def test_invoke_download(make_client: Any) -> None:
    client = make_client()
    result = client.invoke("gorgias_attachments_download", {"attachment_url": ATTACHMENT_URL})
    assert result == {
        "content_type": "image/png",
        "size": 72,
        "content_base64": base64.b64encode(PNG).decode(),
        "url": "https://storage.googleapis.com/gorgias-attachments/8f14e45f/package-damaged.png"
        "?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=300&X-Goog-Signature=0a1b2c3d",
    }


@pytest.mark.vcr
def test_download_from_cdn_host(make_client: Any, recorder: Recorder) -> None:
    client = make_client()
    assert (
        client.attachments.download("https://uploads.gorgias.io/8f14e45f/notes.txt")
        == b"hello world"
    )
    assert "Authorization" not in recorder.requests[0].headers


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/steal",
        "https://gorgias.com.evil.example/x",
        "http://uploads.gorgias.io/x",  # other hosts only over https
        "file:///etc/passwd",
        "ftp://acme.gorgias.com/x",
        "/api/account",
        "",
    ],
)
def test_download_rejects_untrusted_urls(mock_client: Any, recorder: Recorder, url: str) -> None:
    client = mock_client(lambda r: httpx.Response(200, content=b"x"))
    with pytest.raises(InvalidArgumentsError) as exc:
        client.attachments.download(url)
    assert list(exc.value.errors) == ["attachment_url"]
    with pytest.raises(InvalidArgumentsError):
        client.invoke("gorgias_attachments_download", {"attachment_url": url})
    assert recorder.requests == []


def test_trusted_hosts_can_be_extended(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(
        lambda r: httpx.Response(200, content=b"ok"), trusted_hosts=["files.example.com"]
    )
    assert client.attachments.download("https://cdn.files.example.com/a.txt") == b"ok"
    assert "Authorization" not in recorder.requests[0].headers


@pytest.mark.parametrize("bad", ["1/../../account", "1", True, 1.5, None])
def test_integer_path_params_are_type_checked(
    mock_client: Any, recorder: Recorder, bad: Any
) -> None:
    client = mock_client(lambda r: httpx.Response(200, json={}))
    with pytest.raises(InvalidArgumentsError) as exc:
        client.tickets.get(bad)
    assert set(exc.value.errors) == {"id"}
    with pytest.raises(InvalidArgumentsError):
        client.invoke("get_single_gorgias_ticket_by_id", {"id": bad})
    assert recorder.requests == []
    assert isinstance(exc.value, ValueError)


def test_string_path_params_are_encoded(mock_client: Any, recorder: Recorder) -> None:
    client = mock_client(lambda r: httpx.Response(200, content=b"data"))
    assert client.files.download("attachment", "../../account", "a b?c#d.png") == b"data"
    assert (
        recorder.requests[0].url.raw_path
        == b"/api/attachment/download/..%2F..%2Faccount/a%20b%3Fc%23d.png"
    )
    assert recorder.requests[0].url.host == "acme.gorgias.com"
    for bad in ("..", ".", ""):
        with pytest.raises(InvalidArgumentsError):
            client.files.download("attachment", bad, "x.png")
    assert len(recorder.requests) == 1
