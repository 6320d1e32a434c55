"""A lighter dispatch of the common stateless MCP requests, with the official SDK's own pieces.

In stateless mode the SDK's `StreamableHTTPSessionManager` answers every POST by building a
`StreamableHTTPServerTransport`, opening its memory streams, starting a task for a
`JSONRPCDispatcher` read loop, routing the request through those streams and back, then
terminating it all: about a quarter of a gateway worker's CPU per `tools/call` in a profile.

For the requests an MCP client sends in a loop (`tools/call`, `tools/list`, `ping`) in JSON
response mode, `answer` does the same exchange in the request's own task with the SDK's
single-exchange driver `mcp.server.runner.serve_one` (the `ServerRunner` kernel: method
validation, typed params, the server's middleware and handlers, result serialisation), a born-ready
`Connection` (what the stateless path builds), the SDK's JSON-RPC models for the envelope and
`handler_exception_to_error_data` for errors, exactly as the SDK's dispatcher maps them.
Everything else (initialize, notifications, batches, other versions or methods, a body that does
not parse, a missing Accept) goes to the SDK's manager unchanged, with the body replayed, so the
SDK keeps answering every edge case its own way.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

logger = logging.getLogger("connector_gateway.mcp")

#: Methods answered here; all others go through the SDK's transport.
FAST_METHODS = frozenset({"tools/call", "tools/list", "ping"})

try:  # the pieces of the SDK used; when a release moves them, everything goes the SDK's way
    from mcp.server._streamable_http_modern import _SingleExchangeDispatchContext
    from mcp.server.connection import Connection
    from mcp.server.runner import serve_one
    from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, check_accept_headers
    from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
    from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
    from mcp.shared.message import ServerMessageMetadata
    from mcp.shared.transport_context import TransportContext
    from mcp_types import DEFAULT_NEGOTIATED_VERSION, ErrorData, JSONRPCError, JSONRPCResponse
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the installed SDK
    AVAILABLE = False


class TooLarge(Exception):
    """The request body is over the limit."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body (at most `limit` bytes, else TooLarge)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, then defers to the original (disconnects)."""
    sent = False

    async def receiving() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receiving


def _version(scope: Scope) -> str | None:
    """The legacy protocol version this request is served at, or None when the SDK decides."""
    header = MCP_PROTOCOL_VERSION_HEADER.lower().encode("ascii")
    version: str | None = None
    for key, value in scope["headers"]:
        if key == header:
            version = value.decode("latin-1")
        elif key == MCP_SESSION_ID_HEADER.lower().encode("ascii"):
            return None  # no sessions here: the SDK answers it
    if version is None:
        return str(DEFAULT_NEGOTIATED_VERSION)
    return version if version in HANDSHAKE_PROTOCOL_VERSIONS else None


def _request(body: bytes) -> dict[str, Any] | None:
    """The JSON-RPC request of a body, when it is one this module answers."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not (
        isinstance(message, dict)
        and message.get("jsonrpc") == "2.0"
        and message.get("method") in FAST_METHODS
        and isinstance(message.get("id"), str | int)
        and not isinstance(message.get("id"), bool)
        and isinstance(message.get("params", {}), dict | None)
        and set(message) <= {"jsonrpc", "id", "method", "params"}
    ):
        return None
    return message


async def answer(
    server: Any, lifespan_state: Any, body: bytes, scope: Scope, receive: Receive, send: Send
) -> bool:
    """Answer the request when it is a fast one (True), else leave it to the SDK (False)."""
    if not AVAILABLE:
        return False
    version = _version(scope)
    if version is None:
        return False
    request = Request(scope, receive)
    content_type = request.headers.get("content-type", "").split(";")[0]
    if "application/json" not in [part.strip() for part in content_type.split(",")]:
        return False
    if not check_accept_headers(request)[0]:
        return False
    message = _request(body)
    if message is None:
        return False
    request_id = message["id"]
    method = message["method"]
    params = message.get("params")
    dctx = _SingleExchangeDispatchContext(
        transport=TransportContext(kind="streamable-http", can_send_request=False),
        request_id=request_id,
        message_metadata=ServerMessageMetadata(request_context=request, can_send_request=False),
    )
    connection = Connection.from_envelope(version, None, None)
    reply: JSONRPCResponse | JSONRPCError
    try:
        result = await serve_one(
            server, dctx, method, params, connection=connection, lifespan_state=lifespan_state
        )
    except Exception as exc:
        error = handler_exception_to_error_data(exc)
        if error is None:
            logger.exception("MCP handler for %r raised", method)
            error = ErrorData(code=0, message=str(exc))  # what the SDK's dispatcher sends
        reply = JSONRPCError(jsonrpc="2.0", id=request_id, error=error)
    else:
        reply = JSONRPCResponse(jsonrpc="2.0", id=request_id, result=result)
    await Response(
        reply.model_dump_json(by_alias=True, exclude_unset=True),
        headers={"Content-Type": "application/json"},
    )(scope, receive, send)
    return True
