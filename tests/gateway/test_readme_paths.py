"""The README's newcomer path, run as written.

The `bash` block of "A newcomer's path" is executed line by line (its exports in bash, then
`connector-gateway serve` as a subprocess on SQLite in a fresh folder, the other commands as they
stand), with three substitutions only: a free port for the gateway (`GATEWAY_PORT`), a sandbox
served in a thread on a free port instead of `python -m gorgias.sandbox --port 8400`, and the ids
and URL the previous commands printed. Then the README's Python snippet (the official `mcp` client)
runs against the printed URL.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.gateway.conftest import GatewayProcess, free_port, wait_until_serving

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1", "localhost", "::1"])

SANDBOX_URL = "http://127.0.0.1:8400"
PLACEHOLDER_URL = "http://127.0.0.1:8800/mcp/gwmcp_..."


def _section(title: str) -> str:
    """The README's section with this heading, up to the next heading of the same level."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(title)
    level = title.split(" ", 1)[0]
    end = readme.find(f"\n{level} ", start + len(title))
    return readme[start : end if end != -1 else len(readme)]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _commands(bash: str) -> list[str]:
    """The block's command lines (continuations joined, comments kept for shlex to drop)."""
    return [line.strip() for line in bash.replace("\\\n", " ").splitlines() if line.strip()]


@pytest.fixture
def sandbox() -> Iterator[Any]:
    import gorgias.sandbox

    handle = (
        gorgias.sandbox.serve_in_thread()
    )  # the README's credentials: sandbox@example.com / sandbox
    try:
        yield handle
    finally:
        handle.stop()


def test_newcomers_path(tmp_path: Path, sandbox: Any) -> None:
    section = _section("### A newcomer's path")
    (bash,) = _blocks(section, "bash")
    (snippet,) = _blocks(section, "python")
    commands = _commands(bash)
    exports = [c for c in commands if c.startswith("export ")]
    assert [c.split("=")[0] for c in exports] == [
        "export GATEWAY_SECRET_KEY",
        "export GATEWAY_ADMIN_TOKEN",
    ]
    bin_dir = str(Path(sys.executable).parent)  # connector-gateway and python of this venv
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GATEWAY_", "GORGIAS_"))
    }
    base_env["PATH"] = bin_dir + os.pathsep + base_env.get("PATH", "")
    printed = subprocess.run(
        ["bash", "-c", "\n".join([*exports, "env"])],
        env=base_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    env = dict(base_env)
    for line in printed.splitlines():
        key, _, value = line.partition("=")
        if key.startswith("GATEWAY_"):
            env[key] = value
    assert len(env["GATEWAY_SECRET_KEY"]) >= 32 and len(env["GATEWAY_ADMIN_TOKEN"]) >= 32
    port = free_port()
    env["GATEWAY_PORT"] = str(port)
    env["PYTHONUNBUFFERED"] = "1"

    rest = [c for c in commands if not c.startswith("export ")]
    assert shlex.split(rest[0], comments=True) == ["connector-gateway", "serve", "&"]
    assert shlex.split(rest[1], comments=True) == [
        "python", "-m", "gorgias.sandbox", "--port", "8400", "&",
    ]  # fmt: skip
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["connector-gateway", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(proc, f"http://127.0.0.1:{port}", port, env, log_path)
    try:
        wait_until_serving(gateway.url, env["GATEWAY_ADMIN_TOKEN"], proc, log_path)
        assert (tmp_path / "gateway.db").exists()  # SQLite, ./gateway.db by default

        def run(command: str) -> str:
            argv = shlex.split(command, comments=True)
            argv = [arg.replace(SANDBOX_URL, sandbox.base_url) for arg in argv]
            done = subprocess.run(
                argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, f"{argv[:3]}: {done.stdout} {done.stderr}"
            return done.stdout

        add, create = rest[2:]
        assert add.startswith("connector-gateway accounts add --connector gorgias")
        account = json.loads(run(add))
        assert account["connector"] == "gorgias" and account["base_url"] == sandbox.base_url
        assert "sandbox" not in json.dumps({k: v for k, v in account.items() if k != "name"})
        assert create.startswith(
            "connector-gateway servers create ACCOUNT_ID --read-only --expires-in 1h"
        )
        server_id, url = run(create.replace("ACCOUNT_ID", account["id"])).split()
        assert server_id.startswith("srv_")
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/mcp/gwmcp_[A-Za-z0-9_-]{{43}}", url)

        assert PLACEHOLDER_URL in snippet
        client = subprocess.run(
            [sys.executable, "-c", snippet.replace(PLACEHOLDER_URL, url)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert client.returncode == 0, client.stderr[-3000:]
        names_line, text = client.stdout.split("\n", 1)
        names = eval(names_line, {})  # the snippet prints a list of tool names
        assert len(names) == 5 and all(isinstance(n, str) for n in names)
        assert text.startswith("2 items")  # the summary of a page of two tickets

        # the server is read-only and expires in an hour; the call is in the audit
        admin = {"Authorization": f"Bearer {env['GATEWAY_ADMIN_TOKEN']}"}
        (record,) = httpx.get(f"{gateway.url}/admin/mcp-servers", headers=admin).json()
        assert record["id"] == server_id and record["read_only"] is True and record["active"]
        assert "url" not in record  # the URL is shown once, at creation
        audit = httpx.get(f"{gateway.url}/admin/audit", headers=admin, params={"kind": "mcp"})
        assert [(r["action"], r["status"], r["server_id"]) for r in audit.json()] == [
            ("list_all_gorgias_tickets", "ok", server_id)
        ]
        assert url.rsplit("/", 1)[1] not in gateway.log()  # the URL token is never logged
    finally:
        gateway.stop()
