"""A tiny Gorgias stand-in on 127.0.0.1 for MCP server tests.

The MCP server runs in its own process, so VCR cassettes (which patch the HTTP library inside
the test process) cannot answer its requests. This server listens on a loopback port instead; the
server under test is pointed at it with `GORGIAS_BASE_URL`. Responses are the documented payloads
from `spec/gorgias/reference/examples`, and every request is recorded for assertions.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

EXAMPLES = Path(__file__).resolve().parents[2] / "spec" / "gorgias" / "reference" / "examples"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class FakeGorgias:
    """Routes are `(METHOD, path regex) -> Reply`; later `route()` calls win over earlier ones."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._routes: list[tuple[str, re.Pattern[str], Reply]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                request = Request(
                    method=self.command,
                    path=url.path,
                    query=parse_qs(url.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(request)
                reply = fake.match(request.method, request.path)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(
        self, method: str, path: str, status: int = 200, body: Any = None, **headers: str
    ) -> None:
        with self._lock:
            self._routes.insert(0, (method, re.compile(f"^{path}$"), Reply(status, body, headers)))

    def match(self, method: str, path: str) -> Reply:
        with self._lock:
            for route_method, pattern, reply in self._routes:
                if route_method == method and pattern.match(path):
                    return reply
        return Reply(404, {"error": {"msg": f"no fake route for {method} {path}"}})

    def clear(self) -> None:
        """Forget every route and every recorded request."""
        with self._lock:
            self.requests.clear()
            self._routes.clear()

    def start(self) -> FakeGorgias:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def documented_routes(fake: FakeGorgias) -> None:
    """The payloads documented in the reference examples, on the paths that answer them."""
    tag = example("tag_get.json")
    fake.route("GET", "/api/account", body=example("account_get.json"))
    fake.route("GET", "/api/tags", body=example("tags_list.json"))
    fake.route("GET", r"/api/tags/\d+", body=tag)
    fake.route(
        "POST",
        "/api/tags",
        status=201,
        body={**tag, "name": "vip", "description": "Very important"},
    )
    fake.route("DELETE", r"/api/tags/\d+", status=204)
    fake.route("GET", r"/api/users/\d+", body=example("user_get.json"))
    fake.route("GET", r"/api/teams/\d+", body=example("team_get.json"))
    fake.route(
        "POST", "/api/tickets", status=400, body=example("error_400_legacy-doc-example.json")
    )
