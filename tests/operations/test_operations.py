"""Every operation of every connector, replayed from its cassette through the generated client.

The test is parametrized over the connectors of `spec/` and the operations of each compiled
definition (`connectorgen.pipeline.build(spec/<connector>)`), not over the case files: an operation
added to `spec/` without a case and a cassette fails here. The client is the connector's generated
package (imported by its import name), on the cassette account (`https://acme.<vendor host>`). For
each operation it

1. calls the typed resource method (`client.<resource>.<method>(...)`; lists are iterated to the
   end, following `next_cursor` through every recorded page) and checks the parsed result;
2. calls `client.invoke(tool, arguments)` (lists: the first page only) and checks the JSON result;
3. checks that the client sent exactly the requests of the case, in order (method, URL, decoded
   query, JSON body; multipart: the file names), and that every recorded interaction was played.

vcrpy matches on method, scheme, host, port, path, query and body (tests/conftest.py) and never
replays an interaction twice, so a wrong or extra request fails. Responses are validated strictly.
Cases: tests/operations/cases/<connector>/*.yaml; cassettes:
cassettes/operations/<connector>/<tool>.yaml (built by tests/operations/build_cassettes.py).
"""

from __future__ import annotations

import base64
import enum
import importlib
import itertools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import BaseModel

from .build_cassettes import is_built, render, stale
from .casebook import Case, load_cases
from .conftest import (
    CONNECTORS,
    FAST,
    Recorder,
    cassette_base_url,
    cassette_credentials,
    client_class,
    package,
)
from .conftest import connector as _connector_ir

NO_BODY_MATCH = ["method", "scheme", "host", "port", "path", "query"]


def _params() -> list[Any]:
    """(connector, tool) of every operation. There are no expected failures: every case passes."""
    params = []
    for name in CONNECTORS:
        cases = load_cases(name)
        for op in _connector_ir(name).operations:
            marks = [pytest.mark.vcr, pytest.mark.default_cassette(f"{name}/{op.tool}")]
            case = cases.get(op.tool)
            if case is not None and case.multipart:
                marks[0] = pytest.mark.vcr(match_on=NO_BODY_MATCH)
            params.append(pytest.param(name, op.tool, marks=marks, id=op.tool))
    return params


# --- reading results -------------------------------------------------------------------------


def dig(value: Any, path: str) -> Any:
    """Follow a dotted path through lists, dicts and models (unknown fields via model_extra)."""
    if path == "":
        return value
    for segment in path.split("."):
        if isinstance(value, list | tuple):
            value = value[int(segment)]
        elif isinstance(value, Mapping):
            value = value[segment]
        elif isinstance(value, BaseModel):
            fields = type(value).model_fields
            # a field, or a field renamed for Python (`from` is `from_`)
            name = next((n for n in (segment, segment + "_") if n in fields), None)
            if name is not None:
                value = getattr(value, name)
            elif value.model_extra and segment in value.model_extra:
                value = value.model_extra[segment]
            else:
                raise KeyError(f"{type(value).__name__} has no field or extra {segment!r}")
        else:
            raise KeyError(f"cannot read {segment!r} of a {type(value).__name__}")
    return value


def plain(value: Any) -> Any:
    """JSON-like view of a parsed value, for comparison with the case's YAML."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def check_value(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, Mapping) and set(expected) == {"$datetime"}:
        assert isinstance(actual, datetime), f"{where}: expected a datetime, got {actual!r}"
        assert actual.isoformat() == expected["$datetime"], where
        return
    if isinstance(expected, Mapping) and set(expected) == {"$type"}:
        assert type(actual).__name__ == expected["$type"], f"{where}: {type(actual).__name__}"
        return
    assert plain(actual) == expected, f"{where}: {plain(actual)!r} != {expected!r}"


def check(result: Any, expect: Mapping[str, Any], label: str, models: Any) -> None:
    """Check a result against `expect` (type, count, equals, base64, values); `models` is the
    connector's generated `models` module."""
    if "type" in expect:
        wanted = expect["type"]
        items = (
            result if isinstance(result, list) and wanted not in ("list", "NoneType") else [result]
        )
        for i, item in enumerate(items):
            name = type(item).__name__
            assert name == wanted, f"{label}[{i}] is a {name}, expected {wanted}"
            if isinstance(item, BaseModel):
                assert isinstance(item, getattr(models, wanted)), f"{label}[{i}]"
    if "count" in expect:
        assert len(result) == expect["count"], f"{label}: {len(result)} items"
    if "equals" in expect:
        check_value(result, expect["equals"], label)
    if "base64" in expect:
        assert result == base64.b64decode(expect["base64"]), f"{label}: bytes differ"
    for path, expected in (expect.get("values") or {}).items():
        check_value(dig(result, str(path)), expected, f"{label}.{path}")


# --- calling ---------------------------------------------------------------------------------


def arguments(case: Case) -> dict[str, Any]:
    """The case's flat arguments, with `{$file: {name, content_type, text|base64}}` as files."""

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping) and set(value) == {"$file"}:
            spec = value["$file"]
            content = (
                base64.b64decode(spec["base64"]) if "base64" in spec else spec["text"].encode()
            )
            return (spec["name"], content, spec.get("content_type", "application/octet-stream"))
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {k: convert(v) for k, v in case.arguments.items()}


def call_typed(
    name: str, client: Any, op: Any, args: dict[str, Any], *, two_pages: bool = False
) -> Any:
    """`client.<resource>.<method>(*path_args, **keyword_args)`; pagers are drained (or read
    for two pages at most)."""
    resource = next(r for r in _connector_ir(name).resources if r.name == op.resource)
    method = getattr(getattr(client, resource.client_attribute), op.method_name)
    positional = [args[a.name] for a in op.arguments if a.location == "path"]
    keywords = {
        a.python_name: args[a.name] for a in op.arguments if a.location != "path" and a.name in args
    }
    result = method(*positional, **keywords)
    pagination = importlib.import_module(f"{package(name).__name__}._pagination")
    if isinstance(result, pagination.SyncPager):
        if two_pages:  # a real account may have thousands of items
            return [item for page in itertools.islice(result.pages(), 2) for item in page]
        return list(result)
    return result


def sent(request: Any) -> tuple[str, str, str, list[tuple[str, str]]]:
    url = request.url
    query = sorted(parse_qsl(url.query.decode(), keep_blank_values=True))
    return request.method, f"{url.scheme}://{url.netloc.decode()}", url.path, query


def check_requests(recorder: Recorder, case: Case) -> None:
    expected = [ex.request for ex in case.all_exchanges]
    got = [sent(r) for r in recorder.requests]
    want = [(r.method, r.origin, r.path, r.query) for r in expected]
    assert got == want, "the client did not send the case's requests"
    for request, wanted in zip(recorder.requests, expected, strict=True):
        body = request.read()
        if wanted.has_json:
            assert request.headers["Content-Type"] == "application/json"
            assert json.loads(body) == wanted.json
        elif wanted.raw is not None:
            assert request.headers["Content-Type"] == wanted.raw_content_type
            assert body == wanted.raw, f"raw body of {request.method} {request.url}"
        elif wanted.multipart is not None:
            assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
            for name in wanted.multipart:
                assert f'filename="{name}"'.encode() in body, f"{name} not in the upload"
        else:
            assert body == b"", f"unexpected body on {request.method} {request.url}"


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("connector", "tool"), _params())
def test_operation(
    connector: str, tool: str, make_client: Any, recorder: Recorder, vcr: Any, live: bool
) -> None:
    name = connector
    op = _connector_ir(name).operation(tool)
    case = load_cases(name).get(tool)
    if case is None:
        pytest.fail(
            f"{tool} has no case: add it to tests/operations/cases/{name}/{op.resource}.yaml "
            f"and run python -m tests.operations.build_cassettes --connector {name}"
        )
    assert case.resource == op.resource, f"{tool} belongs in cases/{name}/{op.resource}.yaml"
    if not live:
        assert case.cassette.exists(), f"missing cassette {case.cassette}: run the builder"
    # Real traffic (being recorded now, or re-recorded earlier): the hand-written values do not
    # apply, and a real list may be long, so only two pages are read.
    real = live or not is_built(case.cassette)
    client = make_client(name)
    args = arguments(case)
    models = package(name).models

    typed = call_typed(name, client, op, args, two_pages=real)
    invoked = client.invoke(tool, args)

    if real:
        check_shape(typed, invoked, case, models)
        return
    check(typed, case.expect_typed, "typed", models)
    check(invoked, case.expect_invoke, "invoke", models)
    check_requests(recorder, case)
    assert vcr.all_played, f"{vcr.play_count} of {len(vcr.data)} interactions played"


@pytest.mark.parametrize(("connector", "tool"), _params())
async def test_operation_async_invoke(connector: str, tool: str, vcr: Any, live: bool) -> None:
    """`Async<Client>.invoke` sends the case's request and returns the same checked result."""
    name = connector
    if live:
        pytest.skip("re-recording drives the sync client only")
    case = load_cases(name).get(tool)
    if case is None or not is_built(case.cassette):
        pytest.skip("no hand-written case for this operation (test_operation reports it)")
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        client = client_class(name, asynchronous=True)(
            base_url=cassette_base_url(name), http_client=http, strict_response_validation=True,
            **cassette_credentials(name), **FAST,
        )
        invoked = await client.invoke(tool, arguments(case))
    check(invoked, case.expect_invoke, "invoke", package(name).models)
    expected = [ex.request for ex in case.exchanges[: case.invoke_exchanges]]
    assert [
        (r.method, r.url.path, sorted(parse_qsl(r.url.query.decode(), keep_blank_values=True)))
        for r in sent
    ] == [(e.method, e.path, e.query) for e in expected]


def check_shape(typed: Any, invoked: Any, case: Case, models: Any) -> None:
    """What holds for real data too: the parsed types and the shape of the invoke() result."""
    if "type" in case.expect_typed:
        check(typed, {"type": case.expect_typed["type"]}, "typed", models)
    if isinstance(typed, list):
        assert isinstance(invoked, dict) and isinstance(invoked.get("result"), list)


@pytest.mark.parametrize("connector", CONNECTORS)
def test_cassettes_are_built_from_the_current_cases(connector: str) -> None:
    """A case edited without re-running the builder leaves a stale cassette."""
    assert stale(load_cases(connector)) == [], (
        f"run: python -m tests.operations.build_cassettes --connector {connector}"
    )


@pytest.mark.parametrize("connector", CONNECTORS)
def test_builder_is_deterministic(connector: str) -> None:
    case = next(iter(load_cases(connector).values()))
    assert render(case) == render(case)
