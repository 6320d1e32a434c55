"""The operation case table: loading and checking `tests/operations/cases/<connector>/<resource>.yaml`.

There is one folder of cases per connector of `spec/` (named like the connector's folder). Each case
file is written by hand from the vendor's documentation and documented payloads
(`spec/<connector>/reference/`), independently of the generated client. One entry per tool name:

```yaml
resource: tags
cases:
  get_single_gorgias_tag_by_id:
    summary: One line on what this cassette exercises (copied into the cassette header).
    arguments: {id: 123456}                # flat arguments, as client.invoke() / MCP take them
    exchanges:                             # what the typed resource method sends and receives
      - request:
          method: GET
          url: https://acme.gorgias.com/api/tags/123456     # full URL, query exactly as sent
          json: {...}                      # JSON body (compared as JSON), or
          multipart: [file names]          # multipart upload (matched without the body), or
          raw: {content_type: text/plain, text: "..."}   # raw bytes (or base64:), exact match
        response:
          status: 200
          headers: {X-Gorgias-Account-Api-Call-Limit: 2/40}
          json: {...}                      # or text: "..." or base64: "..." (binary), or nothing
    invoke_exchanges: 1                    # how many of the exchanges client.invoke() replays
                                           # (default: all; lists: 1, invoke returns one page)
    expect:
      typed:  {type: Tag, count: 1, values: {path: value}, equals: ..., base64: ...}
      invoke: {values: {path: value}, equals: ...}
```

Expectation paths are dotted (`0.customer.email`, `result.1.id`); integer segments index lists;
on models a segment falls back to unknown fields kept in `model_extra`. An expected value
`{$datetime: ISO}` requires a parsed `datetime` with exactly that ISO form; `{$type: Name}`
requires an instance of the class `Name`.

`build_cassettes.py` turns the cases into `cassettes/operations/<connector>/<tool>.yaml`;
`test_operations.py`
replays them through the generated client. Neither this module nor the builder imports the client.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CASES_ROOT = HERE / "cases"
CASSETTE_ROOT = REPO_ROOT / "cassettes" / "operations"
SPEC_ROOT = REPO_ROOT / "spec"


def connectors() -> list[str]:
    """Every connector of the project: the folders of `spec/` holding a connector.yaml."""
    return sorted(
        p.name for p in SPEC_ROOT.iterdir() if p.is_dir() and (p / "connector.yaml").is_file()
    )


def cases_dir(connector: str) -> Path:
    return CASES_ROOT / connector


def cassette_dir(connector: str) -> Path:
    return CASSETTE_ROOT / connector


CASE_KEYS = {"summary", "arguments", "exchanges", "invoke_exchanges", "expect"}
REQUEST_KEYS = {"method", "url", "json", "multipart", "raw"}
RESPONSE_KEYS = {"status", "headers", "json", "text", "base64"}
EXPECT_KEYS = {"type", "count", "values", "equals", "base64"}


class CaseError(ValueError):
    """A malformed case file (reported with the file and tool)."""


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    json: Any = None
    has_json: bool = False
    multipart: tuple[str, ...] | None = None
    raw: bytes | None = None
    raw_content_type: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def query(self) -> list[tuple[str, str]]:
        """Decoded query pairs, sorted (the order of parameters carries no meaning)."""
        return sorted(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    json: Any = None
    has_json: bool = False
    text: str | None = None
    content: bytes | None = None

    def body_bytes(self) -> bytes:
        if self.has_json:
            return json.dumps(self.json, ensure_ascii=False).encode()
        if self.text is not None:
            return self.text.encode()
        return self.content or b""


@dataclass(frozen=True)
class Exchange:
    request: Request
    response: Response


@dataclass(frozen=True)
class Case:
    connector: str
    tool: str
    resource: str
    file: Path
    summary: str
    arguments: dict[str, Any]
    exchanges: tuple[Exchange, ...]
    invoke_exchanges: int
    expect_typed: dict[str, Any] = field(default_factory=dict)
    expect_invoke: dict[str, Any] = field(default_factory=dict)

    @property
    def multipart(self) -> bool:
        return any(ex.request.multipart is not None for ex in self.exchanges)

    @property
    def all_exchanges(self) -> tuple[Exchange, ...]:
        """What one test run sends, in order: the typed call, then client.invoke()."""
        return self.exchanges + self.exchanges[: self.invoke_exchanges]

    @property
    def cassette(self) -> Path:
        return cassette_dir(self.connector) / f"{self.tool}.yaml"


def _fail(path: Path, tool: str, message: str) -> CaseError:
    return CaseError(f"{path.relative_to(REPO_ROOT)}: {tool}: {message}")


def _request(path: Path, tool: str, raw: Any) -> Request:
    if not isinstance(raw, dict) or set(raw) - REQUEST_KEYS or not {"method", "url"} <= set(raw):
        raise _fail(path, tool, f"request needs method and url, may have json/multipart: {raw!r}")
    url = str(raw["url"])
    if not url.startswith("https://"):
        raise _fail(path, tool, f"request url must be an absolute https URL: {url}")
    multipart = raw.get("multipart")
    body = raw.get("raw")
    content: bytes | None = None
    if body is not None:
        if not isinstance(body, dict) or "content_type" not in body or len(body) != 2:
            raise _fail(path, tool, f"raw needs content_type and text or base64: {body!r}")
        content = (
            base64.b64decode(body["base64"]) if "base64" in body else str(body["text"]).encode()
        )
    if sum(key in raw for key in ("json", "multipart", "raw")) > 1:
        raise _fail(path, tool, "a request has one body: json, multipart or raw")
    return Request(
        method=str(raw["method"]).upper(),
        url=url,
        json=raw.get("json"),
        has_json="json" in raw,
        multipart=tuple(multipart) if multipart is not None else None,
        raw=content,
        raw_content_type=str(body["content_type"]) if body is not None else None,
    )


def _response(path: Path, tool: str, raw: Any) -> Response:
    if not isinstance(raw, dict) or set(raw) - RESPONSE_KEYS or "status" not in raw:
        raise _fail(
            path, tool, f"response needs status, may have headers/json/text/base64: {raw!r}"
        )
    bodies = [k for k in ("json", "text", "base64") if k in raw]
    if len(bodies) > 1:
        raise _fail(path, tool, f"response has more than one body: {bodies}")
    headers = {str(k): str(v) for k, v in (raw.get("headers") or {}).items()}
    return Response(
        status=int(raw["status"]),
        headers=headers,
        json=raw.get("json"),
        has_json="json" in raw,
        text=raw.get("text"),
        content=base64.b64decode(raw["base64"]) if "base64" in raw else None,
    )


def _expect(path: Path, tool: str, raw: Any, which: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - EXPECT_KEYS:
        raise _fail(path, tool, f"expect.{which} may only have {sorted(EXPECT_KEYS)}: {raw!r}")
    return raw


def _load_file(connector: str, path: Path) -> dict[str, Case]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CaseError(f"{path.relative_to(REPO_ROOT)}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or "resource" not in data or "cases" not in data:
        raise CaseError(f"{path}: needs `resource:` and `cases:`")
    resource = str(data["resource"])
    out: dict[str, Case] = {}
    for tool, raw in (data["cases"] or {}).items():
        if not isinstance(raw, dict) or set(raw) - CASE_KEYS:
            raise _fail(path, tool, f"case keys must be among {sorted(CASE_KEYS)}")
        if not raw.get("summary") or not raw.get("exchanges") or "expect" not in raw:
            raise _fail(path, tool, "needs summary, exchanges and expect")
        exchanges = tuple(
            Exchange(
                _request(path, tool, ex.get("request")), _response(path, tool, ex.get("response"))
            )
            for ex in raw["exchanges"]
        )
        count = int(raw.get("invoke_exchanges", len(exchanges)))
        if not 1 <= count <= len(exchanges):
            raise _fail(
                path, tool, "invoke_exchanges must be between 1 and the number of exchanges"
            )
        expect = raw["expect"] or {}
        if set(expect) - {"typed", "invoke"}:
            raise _fail(path, tool, "expect has only `typed` and `invoke`")
        out[tool] = Case(
            connector=connector,
            tool=tool,
            resource=resource,
            file=path,
            summary=" ".join(str(raw["summary"]).split()),
            arguments=dict(raw.get("arguments") or {}),
            exchanges=exchanges,
            invoke_exchanges=count,
            expect_typed=_expect(path, tool, expect.get("typed"), "typed"),
            expect_invoke=_expect(path, tool, expect.get("invoke"), "invoke"),
        )
    return out


@cache
def load_cases(connector: str) -> dict[str, Case]:
    """Every case of every file of one connector, keyed by tool name (a tool in two files is an
    error)."""
    cases: dict[str, Case] = {}
    for path in sorted(cases_dir(connector).glob("*.yaml")):
        for tool, case in _load_file(connector, path).items():
            if tool in cases:
                raise CaseError(f"{tool} is in both {cases[tool].file.name} and {path.name}")
            cases[tool] = case
    return cases
