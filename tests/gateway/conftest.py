"""Base fixtures of the gateway tests (real SQLite files, real sandboxes, real processes).

- `settings`: a fresh SQLite file, random secret key and admin token; the schema is migrated.
- `gateway_app` / `gateway`: the app with its lifespan running, and an httpx client on it
  (ASGI transport; upstream calls go to a thread sandbox on loopback or to `base_transport`).
- `admin_headers`: Authorization for the admin routes.
- `gorgias_sandbox` / `zendesk_sandbox`: sandboxes served on 127.0.0.1 in a thread (module scope);
  `add_sandbox_account(client, headers, sandbox, connector)` connects an account to one.
- `gateway_process`: a factory starting `connector-gateway serve` as a subprocess.

Tests that open loopback sockets mark themselves with
`pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from connector_gateway.app import create_app
from connector_gateway.config import Settings
from connector_gateway.db import migrate

LOOPBACK = ["127.0.0.1", "localhost", "::1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def secret_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def admin_token() -> str:
    return "adm_" + secrets.token_urlsafe(24)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
def settings(database_url: str, secret_key: str, admin_token: str) -> Settings:
    migrate(database_url)
    return Settings(
        database_url=database_url,
        secret_key=secret_key,
        admin_token=admin_token,
        public_url="http://127.0.0.1:8800",
    )


@pytest.fixture
def admin_headers(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@contextlib.asynccontextmanager
async def running_app(settings: Settings, **kwargs: Any) -> AsyncIterator[Any]:
    """The gateway app with its lifespan entered (store, budget, upstream, MCP host)."""
    app = create_app(settings, **kwargs)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: Any, settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=settings.base_url, timeout=30
    )


@pytest.fixture
async def gateway_app(settings: Settings) -> AsyncIterator[Any]:
    async with running_app(settings) as app:
        yield app


@pytest.fixture
async def gateway(gateway_app: Any, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(gateway_app, settings) as client:
        yield client


def _sandbox(connector: str) -> Iterator[Any]:
    module = __import__(f"{connector}.sandbox", fromlist=["serve_in_thread"])
    # a distinctive API key, so secrets tests can look for it in the database, logs and audit
    handle = module.serve_in_thread(
        seed=1, rate_limit="off", api_key="sbxkey-" + secrets.token_hex(12)
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def gorgias_sandbox() -> Iterator[Any]:
    yield from _sandbox("gorgias")


@pytest.fixture(scope="module")
def zendesk_sandbox() -> Iterator[Any]:
    yield from _sandbox("zendesk")


def sandbox_credentials(sandbox: Any) -> tuple[dict[str, Any], str]:
    """(credentials, base_url) of a sandbox handle, as an account takes them."""
    kwargs = dict(sandbox.client_kwargs())
    base_url = kwargs.pop("base_url")
    return kwargs, base_url


async def add_sandbox_account(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    sandbox: Any,
    connector: str = "gorgias",
    name: str | None = None,
) -> dict[str, Any]:
    credentials, base_url = sandbox_credentials(sandbox)
    response = await client.post(
        "/admin/accounts",
        headers=dict(headers),
        json={
            "connector": connector,
            "credentials": credentials,
            "base_url": base_url,
            "name": name or f"{connector} sandbox",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class GatewayProcess:
    """`connector-gateway serve` running as a subprocess (stdout+stderr captured to a file)."""

    proc: subprocess.Popen[bytes]
    url: str
    port: int
    env: dict[str, str]
    log_path: Path
    args: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """uvicorn worker processes (children of the serve process), or [its own pid]."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            pids = [int(p) for p in children.read_text().split()]
        except OSError:
            pids = []
        workers = []
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:  # not the resource tracker
                workers.append(pid)
        return workers or [self.proc.pid]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        """kill -9 the serve process (and its workers)."""
        for pid in self.worker_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)


def wait_until_serving(
    url: str, admin_token: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"connector-gateway serve exited with {proc.returncode}:\n"
                + log_path.read_text(errors="replace")[-3000:]
            )
        try:
            response = httpx.get(
                f"{url}/admin/accounts",
                headers={"Authorization": f"Bearer {admin_token}"},
                timeout=2,
            )
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(
        "connector-gateway serve did not answer in time:\n"
        + log_path.read_text(errors="replace")[-3000:]
    )


@pytest.fixture
def gateway_process(
    tmp_path: Path, secret_key: str, admin_token: str
) -> Iterator[Callable[..., GatewayProcess]]:
    """start(database_url=None, redis_url=None, workers=1, port=None, env=None, args=()) ->
    GatewayProcess, already answering. Every process started is stopped at the end."""
    started: list[GatewayProcess] = []

    def start(
        database_url: str | None = None,
        redis_url: str | None = None,
        workers: int = 1,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        log_level: str = "info",
    ) -> GatewayProcess:
        port = port or free_port()
        url = f"http://127.0.0.1:{port}"
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")
        }
        environment.update(
            {
                "GATEWAY_SECRET_KEY": secret_key,
                "GATEWAY_ADMIN_TOKEN": admin_token,
                "GATEWAY_DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'gateway.db'}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if redis_url:
            environment["GATEWAY_REDIS_URL"] = redis_url
        environment.update(env or {})
        command = [
            sys.executable,
            "-m",
            "connector_gateway.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            log_level,
            *args,
        ]
        log_path = tmp_path / f"gateway-{port}-{len(started)}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        process = GatewayProcess(proc, url, port, environment, log_path, command)
        started.append(process)
        wait_until_serving(url, admin_token, proc, log_path)
        return process

    yield start
    for process in started:
        process.stop()
