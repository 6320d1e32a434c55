"""`connector-gateway serve --workers N`: the listening socket handed to uvicorn's workers says
IPPROTO_TCP, so asyncio sets TCP_NODELAY on each accepted connection (without it, Nagle's
algorithm and the client's delayed ACK add ~40 ms to every keep-alive request: uvicorn #3149)."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn
from connector_gateway.serving import _Config, with_tcp_proto

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])


async def _accepted_nodelay(sock: socket.socket) -> tuple[int, int]:
    """(proto, TCP_NODELAY) of a connection accepted by asyncio on that listening socket."""
    seen: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()

    class Report(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.set_result(
                (accepted.proto, accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            )
            transport.close()

    server = await asyncio.get_running_loop().create_server(Report, sock=sock)
    async with server:
        port = sock.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        result = await asyncio.wait_for(seen, 5)
        writer.close()
    return result


async def test_uvicorns_own_socket_loses_nodelay_ours_keeps_it() -> None:
    plain = uvicorn.Config("x:y", host="127.0.0.1", port=0).bind_socket()
    assert plain.proto == 0
    assert await _accepted_nodelay(plain) == (0, 0)  # the bug this module works around

    fixed = _Config("x:y", host="127.0.0.1", port=0, workers=2).bind_socket()
    assert fixed.proto == socket.IPPROTO_TCP
    proto, nodelay = await _accepted_nodelay(fixed)
    assert proto == socket.IPPROTO_TCP and nodelay != 0


def test_with_tcp_proto_keeps_the_bound_socket() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    address = sock.getsockname()
    fixed = with_tcp_proto(sock)
    try:
        assert fixed.getsockname() == address and fixed.proto == socket.IPPROTO_TCP
        assert with_tcp_proto(fixed) is fixed
    finally:
        fixed.close()
