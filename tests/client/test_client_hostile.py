"""The client under hostile responses: every attack ends in a typed error or a bounded stop,
never a bare exception, a hang or unbounded memory. Each test runs on the sync and async twins.

Responses come from `httpx.MockTransport`; bodies are streamed chunk by chunk (`Chunks`) so that
httpx does not read them before the client does, as with a real socket.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import json
import logging
import math
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest

import gorgias
from gorgias import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    GorgiasError,
    InvalidArgumentsError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
)
from gorgias._base import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRY_WAIT,
)
from tests.conftest import CASSETTE_BASE_URL, CASSETTE_EMAIL

from .conftest import API_KEY, FAST

MODES = pytest.mark.parametrize("mode", ["sync", "async"])
ATTACHMENT = f"{CASSETTE_BASE_URL}/api/attachment/download/8f14e45f/invoice-1042.pdf"
MiB = 1024 * 1024
Handler = Callable[[httpx.Request], httpx.Response]


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body handed over in chunks, optionally with a pause before each one."""

    def __init__(self, parts: Iterator[bytes] | list[bytes], pause: float = 0.0) -> None:
        self.parts = parts
        self.pause = pause

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if self.pause:
                time.sleep(self.pause)
            yield part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if self.pause:
                await asyncio.sleep(self.pause)
            yield part


def pieces(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """1 MiB of gzip that inflates to 1 GiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(MiB)
    out = [compressor.compress(zeros) for _ in range(1024)]
    out.append(compressor.flush())
    return b"".join(out)


def call(mode: str, handler: Handler, action: Callable[[Any], Any], **options: Any) -> Any:
    """Run `action(client)` on a fresh sync or async client answering from `handler`."""
    settings: dict[str, Any] = {
        "base_url": CASSETTE_BASE_URL,
        "email": CASSETTE_EMAIL,
        "api_key": API_KEY,
        "rate_limit": False,
        **FAST,
        **options,
    }
    transport = httpx.MockTransport(handler)
    if mode == "sync":
        with (
            httpx.Client(transport=transport) as http,
            gorgias.Gorgias(http_client=http, **settings) as client,
        ):
            return action(client)

    async def run() -> Any:
        async with (
            httpx.AsyncClient(transport=transport) as http,
            gorgias.AsyncGorgias(http_client=http, **settings) as client,
        ):
            result = action(client)
            return await result if inspect.isawaitable(result) else result

    return asyncio.run(run())


def collect(pager: Any) -> Any:
    """Every item of a sync or async pager (a coroutine for the async one)."""
    if isinstance(pager, gorgias.AsyncPager):

        async def gather() -> list[Any]:
            return [item async for item in pager]

        return gather()
    return list(pager)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every delay the client sleeps (sync and async), recorded instead of slept."""
    slept: list[float] = []

    def fake_sleep(delay: float) -> None:
        slept.append(delay)

    async def fake_async_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(gorgias._client.time, "sleep", fake_sleep)
    monkeypatch.setattr(gorgias._client.asyncio, "sleep", fake_async_sleep)
    return slept


def throttled_then_ok(
    retry_after: str | None, status: int = 429
) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            headers = {"Retry-after": retry_after} if retry_after is not None else {}
            return httpx.Response(
                status, json={"error": {"msg": "Too many requests."}}, headers=headers
            )
        return httpx.Response(200, json={"id": 1, "name": "vip"})

    return handler, seen


# --- Retry-After ---------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "-1", "-0.5", "soon", "1e999", ""])
def test_unusable_retry_after_falls_back_to_backoff(
    mode: str, value: str, sleeps: list[float]
) -> None:
    handler, seen = throttled_then_ok(value)
    tag = call(mode, handler, lambda c: c.tags.get(1))
    assert tag.name == "vip"
    assert len(seen) == 2
    # Backoff with full jitter: in (0, retry_max_delay]; never nan, never the capped header value.
    assert len(sleeps) == 1
    assert math.isfinite(sleeps[0]) and 0 < sleeps[0] <= FAST["retry_max_delay"]


@MODES
def test_http_date_retry_after_is_honoured(mode: str, sleeps: list[float]) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    handler, seen = throttled_then_ok(format_datetime(when, usegmt=True))
    call(mode, handler, lambda c: c.tags.get(1), max_retry_after=60)
    assert len(seen) == 2
    assert 25 < sleeps[0] <= 30


@MODES
def test_numeric_retry_after_is_honoured_up_to_max_retry_after(
    mode: str, sleeps: list[float]
) -> None:
    handler, _ = throttled_then_ok("12.5")
    call(mode, handler, lambda c: c.tags.get(1), max_retry_after=60)
    assert sleeps == [12.5]


# --- total retry wait ----------------------------------------------------------------------------


@MODES
def test_retry_wait_budget_raises_rate_limit_error(mode: str, sleeps: list[float]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            429, json={"error": {"msg": "Too many requests."}}, headers={"Retry-after": "30"}
        )

    with pytest.raises(RateLimitError) as exc:
        call(
            mode,
            handler,
            lambda c: c.tags.get(1),
            max_retries=10,
            max_retry_after=60,
            max_retry_wait=45,
        )
    assert sleeps == [30.0]  # the second 30 s wait would pass the 45 s budget
    assert len(seen) == 2
    assert exc.value.retry_after == 30.0
    assert exc.value.status_code == 429


@MODES
def test_retry_wait_budget_without_retry_after_reports_the_backoff(
    mode: str, sleeps: list[float]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": {"msg": "Too many requests."}})

    with pytest.raises(RateLimitError) as exc:
        call(
            mode,
            handler,
            lambda c: c.tags.get(1),
            max_retries=10,
            retry_initial_delay=5.0,
            retry_max_delay=5.0,
            max_retry_wait=0.0,
        )
    assert sleeps == []
    assert exc.value.retry_after is not None and 0 < exc.value.retry_after <= 5.0


def test_documented_defaults() -> None:
    assert (
        60.0,
        32 * MiB,
        10_000,
        None,
    ) == (DEFAULT_MAX_RETRY_WAIT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_PAGES, DEFAULT_DEADLINE)
    client = gorgias.Gorgias(base_url=CASSETTE_BASE_URL, email=CASSETTE_EMAIL, api_key=API_KEY)
    assert client.retry.max_retry_wait == 60.0
    assert (client.max_response_bytes, client.max_pages, client.deadline) == (
        32 * MiB,
        10_000,
        None,
    )
    tuned = client.with_options(
        max_retry_wait=5, max_response_bytes=1024, max_pages=3, deadline=2.5
    )
    assert (
        tuned.retry.max_retry_wait,
        tuned.max_response_bytes,
        tuned.max_pages,
        tuned.deadline,
    ) == (5, 1024, 3, 2.5)
    assert (client.retry.max_retry_wait, client.max_response_bytes) == (60.0, 32 * MiB)
    client.close()
    readme = (Path(gorgias.__file__).parents[1] / "README.md").read_text()
    for option in ("max_retry_wait", "max_response_bytes", "max_pages", "deadline"):
        assert f"`{option}`" in readme
        assert option in (gorgias.Gorgias.__init__.__doc__ or "")
        assert option in (gorgias.AsyncGorgias.__init__.__doc__ or "")


# --- memory --------------------------------------------------------------------------------------


@MODES
def test_gzip_bomb_is_a_typed_error_with_bounded_memory(mode: str) -> None:
    bomb = gzip_bomb()
    assert len(bomb) <= 1.1 * MiB

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=Chunks(pieces(bomb)))

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(ResponseTooLargeError) as exc:
            call(mode, handler, lambda c: c.tickets.get(1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert isinstance(exc.value, APIResponseValidationError) and isinstance(exc.value, GorgiasError)
    assert exc.value.limit == DEFAULT_MAX_RESPONSE_BYTES
    assert (exc.value.method, exc.value.path) == ("GET", "/api/tickets/1")
    assert "max_response_bytes" in str(exc.value)


@MODES
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", None])
def test_compressed_bodies_still_decode(mode: str, encoding: str | None) -> None:
    body = json.dumps({"id": 7, "name": "vip " * 100_000}).encode()  # several decode pieces
    if encoding == "gzip":
        data = gzip.compress(body)
    elif encoding == "deflate":
        data = zlib.compress(body)
    elif encoding == "raw-deflate":
        squeezer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = squeezer.compress(body) + squeezer.flush()
    else:
        data = body
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = "deflate" if encoding == "raw-deflate" else encoding

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=Chunks(pieces(data, 1000)))

    tag = call(mode, handler, lambda c: c.tags.get(7))
    assert tag.id == 7 and len(tag.name) == 400_000


@MODES
def test_max_response_bytes_is_configurable_and_error_bodies_are_cut_not_raised(mode: str) -> None:
    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Chunks([b'{"id": 1, "name": "', b"x" * 5000, b'"}']))

    with pytest.raises(ResponseTooLargeError) as exc:
        call(mode, big, lambda c: c.tags.get(1), max_response_bytes=1024)
    assert exc.value.limit == 1024

    assert call(mode, big, lambda c: c.tags.get(1), max_response_bytes=10_000).name == "x" * 5000

    def huge_error(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, stream=Chunks([b"oops " * 2000]))

    with pytest.raises(BadRequestError) as bad:
        call(mode, huge_error, lambda c: c.tags.get(1), max_response_bytes=1024)
    assert bad.value.message.startswith("oops oops")
    assert len(bad.value.message) <= 500


@MODES
def test_download_into_memory_is_bounded(mode: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"Content-Type": "application/pdf"},
            stream=Chunks(pieces(bytes(4096), 512)),
        )

    with pytest.raises(ResponseTooLargeError):
        call(mode, handler, lambda c: c.attachments.download(ATTACHMENT), max_response_bytes=1000)
    assert call(mode, handler, lambda c: c.attachments.download(ATTACHMENT)) == bytes(4096)


@MODES
def test_download_to_a_file_streams_decoded_pieces(mode: str, tmp_path: Path) -> None:
    size = 48 * MiB
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    packed = (
        b"".join(compressor.compress(bytes(MiB)) for _ in range(size // MiB)) + compressor.flush()
    )

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=Chunks([packed]))

    target = tmp_path / "file.bin"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = call(mode, handler, lambda c: c.attachments.download(ATTACHMENT, to=target))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result == target
    assert target.stat().st_size == size
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


# --- typed errors --------------------------------------------------------------------------------

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def json_response(content: bytes, status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={"Content-Type": "application/json"}, stream=Chunks([content])
        )

    return handler


@MODES
@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.request("GET", "/api/account"),
        lambda c: c.tickets.get(1),
        lambda c: c.tickets.list().first_page(),
        lambda c: c.invoke("list_all_gorgias_tickets", {}),
    ],
    ids=["request", "object", "page", "invoke"],
)
def test_deeply_nested_json_is_a_typed_error(mode: str, action: Callable[[Any], Any]) -> None:
    with pytest.raises(APIResponseValidationError) as exc:
        call(mode, json_response(DEEP_JSON), action)
    assert "nested too deeply" in str(exc.value)
    assert isinstance(exc.value.__cause__, RecursionError)


@MODES
def test_deeply_nested_error_body_still_gives_the_status_error(mode: str) -> None:
    deep_fields = (
        b'{"error": {"msg": "bad", "data": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}}"
    )
    for body in (DEEP_JSON, deep_fields):
        with pytest.raises(BadRequestError) as exc:
            call(mode, json_response(body, 400), lambda c: c.tags.get(1))
        assert exc.value.status_code == 400


@MODES
def test_invalid_json_from_request_is_a_typed_error(mode: str) -> None:
    with pytest.raises(APIResponseValidationError) as exc:
        call(mode, json_response(b'{"id": 1,'), lambda c: c.request("GET", "/api/account"))
    assert isinstance(exc.value.__cause__, json.JSONDecodeError)
    assert (exc.value.method, exc.value.path, exc.value.status_code) == ("GET", "/api/account", 200)


@MODES
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, deflate"])
def test_undecodable_body_is_a_typed_error(mode: str, encoding: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        return httpx.Response(
            200, headers=headers, stream=Chunks([b"this is not compressed at all"])
        )

    with pytest.raises(APIResponseValidationError) as exc:
        call(mode, handler, lambda c: c.tags.get(1))
    assert f"not valid {encoding} data" in str(exc.value)
    assert exc.value.__cause__ is not None
    if encoding == "gzip, deflate":  # decoded by httpx
        assert isinstance(exc.value.__cause__, httpx.DecodingError)


@MODES
def test_endless_redirects_are_a_typed_error(mode: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": ATTACHMENT})

    with pytest.raises(APIConnectionError) as exc:
        call(mode, handler, lambda c: c.attachments.download(ATTACHMENT))
    assert "redirect" in str(exc.value)


@MODES
@pytest.mark.parametrize(
    ("action", "field"),
    [
        (lambda c: c.request("GET", "/api/account", headers={"X-Note": "café"}), "header X-Note"),
        (
            lambda c: c.tags.get(1, request_options={"extra_headers": {"X-Trace": "ünïcode"}}),
            "header X-Trace",
        ),
        (lambda c: c.request("GET", "/api/acc\x00ount"), "url"),
    ],
    ids=["header", "extra-header", "url"],
)
def test_unsendable_requests_are_invalid_arguments(
    mode: str, action: Callable[[Any], Any], field: str
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with pytest.raises(InvalidArgumentsError) as exc:
        call(mode, handler, action)
    assert list(exc.value.errors) == [field]
    assert isinstance(exc.value.__cause__, UnicodeEncodeError | httpx.InvalidURL)
    assert sent == []


@MODES
def test_non_ascii_credentials_are_a_configuration_error_that_hides_them(mode: str) -> None:
    token = "secret-tøken-123"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    with pytest.raises(ConfigurationError) as exc:
        call(mode, handler, lambda c: c.tags.get(1), email=None, api_key=None, access_token=token)
    assert token not in str(exc.value) and "tøken" not in repr(exc.value)
    assert exc.value.__cause__ is None and exc.value.__context__ is None


# --- auto-pagination -----------------------------------------------------------------------------


def pages_handler(
    make_page: Callable[[int, httpx.Request], dict[str, Any]], cap: int = 200
) -> tuple[Handler, list[httpx.Request]]:
    """Answers page `n` (1-based) with `make_page(n, request)`; fails loudly past `cap` requests."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) > cap:
            raise AssertionError(f"more than {cap} page requests")
        return httpx.Response(200, json=make_page(len(seen), request))

    return handler, seen


@MODES
def test_empty_pages_with_fresh_cursors_stop(mode: str) -> None:
    handler, seen = pages_handler(lambda n, r: {"data": [], "meta": {"next_cursor": f"fresh-{n}"}})
    assert call(mode, handler, lambda c: collect(c.tickets.list())) == []
    assert len(seen) == 1


@MODES
def test_page_cap_stops_fresh_cursors(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    handler, seen = pages_handler(
        lambda n, r: {"data": [{"id": n}], "meta": {"next_cursor": f"fresh-{n}"}}
    )
    with caplog.at_level(logging.WARNING, logger="gorgias"):
        tickets = call(mode, handler, lambda c: collect(c.tickets.list()), max_pages=5)
    assert [t.id for t in tickets] == [1, 2, 3, 4, 5]
    assert len(seen) == 5
    assert "max_pages=5" in caplog.text


@MODES
def test_page_cap_applies_to_pages_and_dicts(mode: str) -> None:
    handler, seen = pages_handler(
        lambda n, r: {"data": [{"id": n}], "meta": {"next_cursor": f"fresh-{n}"}}
    )

    def walk(client: Any) -> Any:
        pager = client.tickets.list()
        if isinstance(pager, gorgias.AsyncPager):

            async def gather() -> tuple[int, list[Any]]:
                pages = [p async for p in pager.pages()]
                return len(pages), [d async for d in pager.dicts()]

            return gather()
        return len(list(pager.pages())), list(pager.dicts())

    count, dicts = call(mode, handler, walk, max_pages=3)
    assert count == 3 and [d["id"] for d in dicts] == [4, 5, 6]  # the second walk's pages
    assert len(seen) == 6


@MODES
def test_repeating_cursor_stops(mode: str) -> None:
    cursors = {1: "A", 2: "B", 3: "A"}
    handler, seen = pages_handler(
        lambda n, r: {"data": [{"id": n}], "meta": {"next_cursor": cursors.get(n)}}
    )
    tickets = call(mode, handler, lambda c: collect(c.tickets.list()))
    assert [t.id for t in tickets] == [1, 2, 3]
    assert [r.url.params.get("cursor") for r in seen] == [None, "A", "B"]


@MODES
def test_cursor_pointing_back_at_the_start_stops(mode: str) -> None:
    handler, seen = pages_handler(lambda n, r: {"data": [{"id": n}], "meta": {"next_cursor": "S"}})
    tickets = call(mode, handler, lambda c: collect(c.tickets.list(cursor="S")))
    assert [t.id for t in tickets] == [1]
    assert len(seen) == 1


# --- deadline ------------------------------------------------------------------------------------


@MODES
def test_deadline_stops_a_slow_drip_body(mode: str) -> None:
    def drip() -> Iterator[bytes]:
        yield b'{"id": 1'
        for _ in range(200):  # 10 s at most, so the old client fails rather than hangs
            yield b" "

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": "application/json"}, stream=Chunks(drip(), pause=0.05)
        )

    started = time.monotonic()
    with pytest.raises(APITimeoutError) as exc:
        call(mode, handler, lambda c: c.tags.get(1), deadline=0.4)
    assert time.monotonic() - started < 2.0
    assert "deadline of 0.4 s exceeded" in str(exc.value)
    assert (exc.value.method, exc.value.path) == ("GET", "/api/tags/1")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections (in the kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@MODES
@pytest.mark.parametrize("where", ["client", "request_options"])
@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_deadline_covers_attempts_and_retries(mode: str, where: str, silent_server: str) -> None:
    options: dict[str, Any] = {"deadline": 0.5} if where == "client" else {}
    per_call = {"request_options": {"deadline": 0.5}} if where == "request_options" else {}
    settings: dict[str, Any] = {
        "base_url": silent_server,
        "email": CASSETTE_EMAIL,
        "api_key": API_KEY,
        "rate_limit": False,
        "timeout": 30.0,
        "max_retries": 50,
        "retry_initial_delay": 0.01,
        "retry_max_delay": 0.01,
        **options,
    }
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as exc:
        if mode == "sync":
            with gorgias.Gorgias(**settings) as client:
                client.tags.get(1, **per_call)
        else:

            async def run() -> None:
                async with gorgias.AsyncGorgias(**settings) as client:
                    await client.tags.get(1, **per_call)

            asyncio.run(run())
    assert time.monotonic() - started < 3.0
    assert "deadline of 0.5 s exceeded" in str(exc.value)
    assert isinstance(exc.value.__cause__, httpx.TimeoutException)


@MODES
def test_retry_waits_never_outlive_the_deadline(mode: str, sleeps: list[float]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, headers={"Retry-after": "5"})

    with pytest.raises(ServerError):
        call(mode, handler, lambda c: c.tags.get(1), deadline=3.0, max_retry_after=60)
    assert sleeps == [] and len(seen) == 1


@MODES
def test_rate_limiter_wait_past_the_deadline_is_a_timeout(mode: str, sleeps: list[float]) -> None:
    limiter = gorgias.RateLimiter(1, 100.0)
    limiter.reserve()  # the only slot is taken: the next one is 100 s away

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": 1, "name": "vip"})

    with pytest.raises(APITimeoutError) as exc:
        call(mode, handler, lambda c: c.tags.get(1), rate_limit=limiter, deadline=1.0)
    assert "rate limiter" in str(exc.value)
    assert sleeps == []


@MODES
@pytest.mark.parametrize(("status", "error"), [(200, AuthenticationError), (400, BadRequestError)])
def test_deeply_nested_token_answer_is_a_typed_error(mode: str, status: int, error: type) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return json_response(DEEP_JSON, status)(request)
        return httpx.Response(200, json={"id": 1, "name": "vip"})

    with pytest.raises(error) as exc:
        call(
            mode,
            handler,
            lambda c: c.tags.get(1),
            email=None,
            api_key=None,
            access_token="old-token",
            refresh_token="refresh-token",
            token_expires_at=0.0,
        )
    assert "old-token" not in str(exc.value) and "refresh-token" not in str(exc.value)


class BrokenStream(Chunks):
    """A body whose connection drops after the first chunk."""

    def __iter__(self) -> Iterator[bytes]:
        yield b"first part"
        raise httpx.ReadError("connection reset")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"first part"
        raise httpx.ReadError("connection reset")


@MODES
def test_connection_dropped_mid_body_is_a_typed_error(mode: str, tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, stream=BrokenStream([]))

    with pytest.raises(APIConnectionError) as exc:
        call(mode, handler, lambda c: c.attachments.download(ATTACHMENT, to=tmp_path / "f"))
    assert isinstance(exc.value.__cause__, httpx.ReadError)
    assert "connection failed: ReadError" in str(exc.value)

    seen.clear()
    with pytest.raises(APIConnectionError) as exc:
        call(mode, handler, lambda c: c.tags.get(1), max_retries=2)
    assert len(seen) == 3  # a GET whose body broke is retried like any connection failure
    assert isinstance(exc.value.__cause__, httpx.ReadError)


def test_malformed_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as exc:
        gorgias.Gorgias(base_url="https://[::1", email=CASSETTE_EMAIL, api_key=API_KEY)
    assert "base_url is not a valid URL" in str(exc.value)
    assert isinstance(exc.value.__cause__, httpx.InvalidURL)


@MODES
def test_unified_pagers_stop_on_empty_pages_and_at_the_page_cap(mode: str) -> None:
    def unified_tickets(client: Any) -> Any:
        return collect_unified(client.unified.ticketing.tickets.list())

    empty, seen = pages_handler(lambda n, r: {"data": [], "meta": {"next_cursor": f"fresh-{n}"}})
    assert call(mode, empty, unified_tickets) == []
    assert len(seen) == 1

    endless, seen = pages_handler(
        lambda n, r: {"data": [{"id": n}], "meta": {"next_cursor": f"fresh-{n}"}}
    )
    tickets = call(mode, endless, unified_tickets, max_pages=4)
    assert [t.id for t in tickets] == ["1", "2", "3", "4"]
    assert len(seen) == 4


def collect_unified(pager: Any) -> Any:
    """Every record of a sync or async unified pager (a coroutine for the async one)."""
    if inspect.isasyncgenfunction(type(pager).pages):

        async def gather() -> list[Any]:
            return [record async for record in pager]

        return gather()
    return list(pager)
