"""Fixtures for the MCP server tests: the generated tools file, a fake Gorgias, server processes.

The server under test is the generated one (`generated/gorgias/python/gorgias/mcp`), started as a
subprocess (`python -m gorgias.mcp`) and driven with the `mcp` SDK's own client. It talks to a
loopback fake of Gorgias (`fake_gorgias.py`) through `GORGIAS_BASE_URL`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GORGIAS_SPEC

from .fake_gorgias import FakeGorgias, documented_routes

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATED = REPO_ROOT / "generated" / "gorgias"
GENERATED_PYTHON = GENERATED / "python"

#: Credentials the server under test gets; the key must never show up in a tool result.
API_KEY = "sk-test-0123456789abcdef"
EMAIL = "agent@example.com"
HTTP_TOKEN = "test-token-6f1c0a7e9b2d4c38"


def python_path() -> str:
    """PYTHONPATH that makes the generated package importable in a server subprocess."""
    parts = [str(GENERATED_PYTHON)] if (GENERATED_PYTHON / "gorgias").is_dir() else []
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


@pytest.fixture(scope="session")
def connector() -> Any:
    from connectorgen.pipeline import build

    return build(GORGIAS_SPEC)


@pytest.fixture(scope="session")
def tools_document(connector: Any) -> dict[str, Any]:
    """The tools file as the emitter writes it for the current definition (what the server ships)."""
    from connectorgen.emitters.mcp import tools_document as build_document

    return json.loads(json.dumps(build_document(connector)))


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeGorgias]:
    fake = FakeGorgias().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_server: FakeGorgias) -> FakeGorgias:
    """The module's fake Gorgias with only the documented routes and no recorded request."""
    fake_server.clear()
    documented_routes(fake_server)
    return fake_server


def server_env(base_url: str, **extra: str) -> dict[str, str]:
    env = {
        "PYTHONPATH": python_path(),
        "GORGIAS_SUBDOMAIN": "acme",
        "GORGIAS_EMAIL": EMAIL,
        "GORGIAS_API_KEY": API_KEY,
        "GORGIAS_BASE_URL": base_url,
    }
    env.update(extra)
    return env


@asynccontextmanager
async def stdio_session(*args: str, env: dict[str, str] | None = None, mode: str = "auto") -> Any:
    """An `mcp.Client` connected over stdio to `python -m gorgias.mcp ARGS`."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "gorgias.mcp", *args],
        env=env or server_env("http://127.0.0.1:9"),
    )
    async with Client(params, mode=mode) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_http_server(
    *args: str, env: dict[str, str], timeout: float = 20.0
) -> tuple[subprocess.Popen[str], str]:
    """Start `python -m gorgias.mcp --http` and wait until its port accepts connections."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gorgias.mcp", "--http", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("HTTP server did not start in time")


def stop_process(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
