"""`connector-gateway serve --workers N` shares a listening socket whose connections get
TCP_NODELAY (found by bench/bench_gateway.py: uvicorn's own socket has proto 0, so asyncio left
Nagle's algorithm on and every response of a multi-worker gateway waited ~40 ms for the
client's delayed ACK)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import uvicorn.supervisors
from connector_gateway import cli

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


def test_workers_share_a_tcp_socket_so_connections_get_nodelay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    class FakeMultiprocess:
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            seen["config"], seen["sockets"] = config, sockets

        def run(self) -> None:
            listener = seen["sockets"][0]
            seen["inheritable"] = listener.get_inheritable()  # the workers get it
            listener.listen(1)
            with socket.create_connection(listener.getsockname()[:2], timeout=5):
                accepted, _ = listener.accept()
                seen["nodelay"] = _nodelay_as_asyncio_sets_it(accepted)
                accepted.close()
            listener.close()

    monkeypatch.setattr(uvicorn.supervisors, "Multiprocess", FakeMultiprocess)
    cli._serve_workers(2, {"factory": True, "host": "127.0.0.1", "port": 0, "log_level": "error"})
    assert seen["config"].workers == 2
    (listener,) = seen["sockets"]
    assert listener.proto == socket.IPPROTO_TCP
    assert seen["inheritable"]
    assert seen["nodelay"] == 1


def _nodelay_as_asyncio_sets_it(sock: socket.socket) -> int:
    """What asyncio's transports do to an accepted socket (base_events._set_nodelay)."""
    from asyncio import base_events

    base_events._set_nodelay(sock)  # type: ignore[attr-defined]
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
