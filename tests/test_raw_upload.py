"""Raw-bytes request bodies (`content_type: application/octet-stream`): Zendesk's upload.

The client takes the file as bytes, a path, a binary file object or a (name, content[, media
type]) tuple and sends its bytes as the whole body with the file's media type (the
`content_type_argument`, else the tuple's type or the file name's extension, else
application/octet-stream); MCP tools take the content base64-encoded; the sandbox stores the file
and answers the upload described by the response schema.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from zendesk import AsyncZendesk, InvalidArgumentsError, Zendesk, models
from zendesk.mcp.server import ToolRunner, load_tools

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

ANSWER = {"upload": {"token": "tok123", "expires_at": "2023-09-21T23:30:19Z", "attachments": [],
                     "attachment": {"id": 9, "file_name": "a.png", "content_type": "image/png", "size": 4}}}


def _recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(201, json=ANSWER)

    return seen, httpx.MockTransport(handler)


def _client(transport: httpx.MockTransport) -> Zendesk:
    return Zendesk(subdomain="acme", email="me@example.com", api_token="t", rate_limit=False, max_retries=0,
                   http_client=httpx.Client(transport=transport))


def test_bytes_paths_files_and_tuples_are_sent_raw_with_their_media_type(tmp_path: Path) -> None:
    seen, transport = _recording()
    client = _client(transport)
    picture = tmp_path / "logo.png"
    picture.write_bytes(b"\x89PNG")
    upload = client.uploads.create(filename="logo.png", file=picture)
    assert isinstance(upload, models.Upload) and upload.token == "tok123"
    client.uploads.create(filename="notes.txt", file=b"hello")   # the type from `filename`
    with picture.open("rb") as handle:
        client.uploads.create(filename="logo.png", file=handle, token="tok123")
    client.uploads.create(filename="r.md", file=("r.md", b"# hi", "text/markdown"))
    client.uploads.create(filename="r.md", file=("r.md", b"# hi", "text/markdown"), content_type="text/plain")
    client.uploads.create(filename="blob", file=b"\x00\x01")
    got = [(r.url.path, dict(r.url.params), r.headers["content-type"], r.content) for r in seen]
    assert got == [
        ("/api/v2/uploads", {"filename": "logo.png"}, "image/png", b"\x89PNG"),
        ("/api/v2/uploads", {"filename": "notes.txt"}, "text/plain", b"hello"),
        ("/api/v2/uploads", {"filename": "logo.png", "token": "tok123"}, "image/png", b"\x89PNG"),
        ("/api/v2/uploads", {"filename": "r.md"}, "text/markdown", b"# hi"),
        ("/api/v2/uploads", {"filename": "r.md"}, "text/plain", b"# hi"),
        ("/api/v2/uploads", {"filename": "blob"}, "application/octet-stream", b"\x00\x01"),
    ]
    assert all(r.headers["content-length"] == str(len(r.content)) for r in seen)


def test_invoke_and_async_send_the_same_raw_body() -> None:
    seen, transport = _recording()
    result = _client(transport).invoke("create_a_zendesk_upload",
                                       {"filename": "a.png", "file": b"\x89PNG", "content_type": "image/png"})
    assert result["token"] == "tok123" and result["attachment"]["size"] == 4

    async def run() -> models.Upload:
        async with AsyncZendesk(subdomain="acme", email="me@example.com", api_token="t", rate_limit=False,
                                http_client=httpx.AsyncClient(transport=transport)) as client:
            return await client.uploads.create(filename="a.png", file=b"\x89PNG", content_type="image/png")

    assert asyncio.run(run()).attachment is not None
    assert [(r.headers["content-type"], r.content) for r in seen] == [("image/png", b"\x89PNG")] * 2


def test_a_value_that_is_no_file_is_refused_before_sending() -> None:
    seen, transport = _recording()
    client = _client(transport)
    for bad in ({"file": "not bytes"}, {"file": 12}):
        try:
            client.invoke("create_a_zendesk_upload", {"filename": "a.txt", **bad})
        except InvalidArgumentsError as exc:
            assert list(exc.errors) == ["file"]
        else:
            raise AssertionError(f"{bad} was accepted")
    assert seen == []


def test_the_mcp_tool_takes_the_content_base64_encoded() -> None:
    seen, transport = _recording()
    tools = load_tools()
    assert tools["create_a_zendesk_upload"].base64_arguments == {"file"}
    schema = tools["create_a_zendesk_upload"].tool.input_schema
    assert schema["properties"]["file"]["contentEncoding"] == "base64"
    assert set(schema["required"]) == {"filename", "file"}

    def factory() -> AsyncZendesk:
        return AsyncZendesk(subdomain="acme", email="me@example.com", api_token="t", rate_limit=False,
                            http_client=httpx.AsyncClient(transport=transport))

    async def run() -> Any:
        runner = ToolRunner(tools, client_factory=factory)
        try:
            # no content_type: the media type comes from the file name
            return await runner.call("create_a_zendesk_upload", {
                "filename": "a.png", "file": base64.b64encode(b"\x89PNG").decode()})
        finally:
            await runner.aclose()

    result = asyncio.run(run())
    assert not result.is_error, result.content
    assert "tok123" in json.dumps(result.structured_content)
    assert [(r.headers["content-type"], r.content) for r in seen] == [("image/png", b"\x89PNG")]


def test_the_sandbox_stores_the_upload_and_answers_it() -> None:
    from zendesk.sandbox import serve_in_thread

    handle = serve_in_thread(rate_limit="off", seed=1)
    try:
        client = Zendesk(**handle.client_kwargs(), rate_limit=False)
        upload = client.uploads.create(filename="notes.md", file=("notes.md", b"# Notes\n", "text/markdown"))
        assert upload.token and upload.attachment is not None
        assert (upload.attachment.file_name, upload.attachment.content_type, upload.attachment.size) == (
            "notes.md", "text/markdown", 8)
        assert upload.attachments and upload.attachments[0].file_name == "notes.md"
        assert upload.model_invalid_fields == {}
        assert httpx.get(str(upload.attachment.content_url)).content == b"# Notes\n"
        empty = httpx.post(handle.base_url + "/api/v2/uploads?filename=x.txt", content=b"",
                           auth=(handle.client_kwargs()["email"] + "/token", handle.client_kwargs()["api_token"]))
        assert empty.status_code in (400, 422)
    finally:
        handle.stop()
