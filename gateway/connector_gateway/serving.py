"""uvicorn for `connector-gateway serve`, with TCP_NODELAY on every worker's connections.

With `--workers N` uvicorn binds the listening socket in the supervisor (`Config.bind_socket`)
with `proto` left at 0; accepted sockets inherit it, and asyncio only sets TCP_NODELAY on sockets
that say `IPPROTO_TCP`. Nagle's algorithm then holds each response's body until the client's
delayed ACK: about 40 ms added to every keep-alive request after the first (uvicorn issue #3149,
Linux). The socket is re-wrapped here with `IPPROTO_TCP` before it is handed to the workers;
a single worker is run by `uvicorn.run`, which is not affected.
"""

from __future__ import annotations

import contextlib
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


def with_tcp_proto(sock: socket.socket) -> socket.socket:
    """The same listening socket, its Python object saying IPPROTO_TCP (so asyncio sets
    TCP_NODELAY on the connections it accepts)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    return sock


class _Config(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        return with_tcp_proto(super().bind_socket())


def run_server(
    app: str,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    timeout_graceful_shutdown: int = 5,
) -> None:
    """`uvicorn.run(app, factory=True, ...)`, its multi-worker path with the socket fixed."""
    if workers <= 1:
        uvicorn.run(
            app,
            factory=True,
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=timeout_graceful_shutdown,
        )
        return
    config = _Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
    sock = config.bind_socket()
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()
