"""The CLI twins of the admin routes, run as subprocesses on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from connector_gateway.cli import main

SECRET_KEY = "cli-test-secret-key-of-more-than-32-chars"


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_SECRET_KEY"] = SECRET_KEY
    env["GATEWAY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    env["GATEWAY_PUBLIC_URL"] = "https://gw.example.com"

    def run(*args: str, expect: int = 0, **extra_env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "connector_gateway.cli", *args],
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == expect, (args, result.stdout, result.stderr)
        if expect:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr  # one line, no traceback
            assert lines[0].startswith("connector-gateway: error: ")
            assert "Traceback" not in result.stderr
        return result

    run.env = env  # type: ignore[attr-defined]
    return run


@pytest.fixture
def inproc(cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Like `cli`, but calling the console script's `main` in this process (fast)."""
    for key in [k for k in os.environ if k.startswith("GATEWAY_")]:
        monkeypatch.delenv(key)
    for key, value in cli.env.items():
        if key.startswith("GATEWAY_"):
            monkeypatch.setenv(key, value)

    def run(*args: str, expect: int = 0, **extra_env: str) -> subprocess.CompletedProcess[str]:
        with monkeypatch.context() as patch:
            for key, value in extra_env.items():
                patch.setenv(key, value)
            code = main(list(args))
        out, err = capsys.readouterr()
        assert code == expect, (args, out, err)
        if expect:
            assert err.count("\n") == 1 and err.startswith("connector-gateway: error: "), err
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


def test_accounts_servers_tokens_and_audit(inproc: Any, tmp_path: Path) -> None:
    cli = inproc
    secret = "sk-cli-0123456789abcdef"
    added = json.loads(
        cli(
            "accounts",
            "add",
            "--connector",
            "gorgias",
            "--credential",
            "email=agent@example.com",
            "--credential",
            f"api_key={secret}",
            "--base-url",
            "http://127.0.0.1:9",
            "--name",
            "Acme",
        ).stdout
    )
    assert added["id"].startswith("acc_") and added["name"] == "Acme"
    from_json = json.loads(
        cli(
            "accounts",
            "add",
            "--connector",
            "zendesk",
            "--credentials-json",
            json.dumps({"subdomain": "acme", "email": "a@example.com", "api_token": secret}),
        ).stdout
    )
    listed = json.loads(cli("accounts", "list").stdout)
    assert [a["id"] for a in listed] == [added["id"], from_json["id"]]
    assert secret not in json.dumps(listed)

    created = cli(
        "servers",
        "create",
        added["id"],
        "--read-only",
        "--expires-in",
        "1h",
        "--methods",
        "read",
        "--exclude-tools",
        "list_all_gorgias_tickets",
    )
    server_id, url = created.stdout.split()
    assert server_id.startswith("srv_")
    assert url.startswith("https://gw.example.com/mcp/gwmcp_")
    servers = json.loads(cli("servers", "list", "--account-id", added["id"]).stdout)
    assert [s["id"] for s in servers] == [server_id]
    assert servers[0]["read_only"] is True
    assert servers[0]["exclude_tools"] == ["list_all_gorgias_tickets"]
    expires = dt.datetime.fromisoformat(servers[0]["expires_at"])
    assert dt.timedelta(minutes=58) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    assert url.rsplit("/", 1)[1] not in json.dumps(servers)
    assert cli("servers", "revoke", server_id).stdout.strip() == f"revoked {server_id}"
    assert json.loads(cli("servers", "list").stdout)[0]["revoked_at"] is not None

    token_id, token = cli(
        "api-tokens", "create", "--name", "ci", "--accounts", added["id"], "--scopes", "proxy,mcp"
    ).stdout.split()
    assert token.startswith("gwtok_")
    tokens = json.loads(cli("api-tokens", "list").stdout)
    assert tokens[0]["scopes"] == ["proxy", "mcp"] and token not in json.dumps(tokens)
    cli("api-tokens", "revoke", token_id)
    assert json.loads(cli("api-tokens", "list").stdout)[0]["revoked_at"] is not None

    assert cli("accounts", "remove", from_json["id"]).stdout.strip() == f"removed {from_json['id']}"

    records = json.loads(cli("audit").stdout)
    actions = [r["action"] for r in records]
    assert actions == [
        "cli accounts add",
        "cli accounts add",
        "cli servers create",
        "cli servers revoke",
        "cli api-tokens create",
        "cli api-tokens revoke",
        "cli accounts remove",
    ]
    assert all(r["caller"]["kind"] == "cli" and r["kind"] == "admin" for r in records)
    assert records[0]["account_id"] == added["id"]
    assert records[2]["server_id"] == server_id
    dump = json.dumps(records)
    assert secret not in dump and token not in dump and url not in dump
    lines = cli("audit", "--jsonl", "--account-id", added["id"]).stdout.splitlines()
    assert [json.loads(line)["action"] for line in lines] == [
        "cli accounts add",
        "cli servers create",
        "cli servers revoke",
    ]
    since = records[-1]["time"]
    assert [r["action"] for r in json.loads(cli("audit", "--since", since).stdout)] == [
        "cli accounts remove"
    ]
    # the database never holds the secret in clear
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))
    assert secret.encode() not in raw and token.encode() not in raw


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ("accounts", "add", "--connector", "nope", "--credential", "a=b"),
            "unknown connector 'nope' (installed: gorgias, zendesk)",
        ),
        (
            ("accounts", "add", "--connector", "gorgias", "--credential", "emial=x"),
            "unknown credential fields for gorgias: emial",
        ),
        (
            ("accounts", "add", "--connector", "gorgias", "--credentials-json", "{bad"),
            "--credentials-json is not valid JSON",
        ),
        (
            ("accounts", "add", "--connector", "gorgias", "--credential", "novalue"),
            "--credential takes KEY=VALUE",
        ),
        (("accounts", "remove", "acc_missing"), "no account acc_missing"),
        (("servers", "create", "acc_missing"), "no account acc_missing"),
        (("servers", "revoke", "srv_missing"), "no MCP server srv_missing"),
        (("api-tokens", "create", "--scopes", "admin"), "unknown scope(s) admin"),
        (("api-tokens", "revoke", "tok_missing"), "no API token tok_missing"),
        (("audit", "--since", "yesterday"), "not an ISO-8601 date-time"),
        (("serve", "--workers", "2"), "need a shared Redis"),
        (("accounts", "list", "--database-url", "mysql://x"), "sqlite:/// or postgresql://"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    inproc: Any, args: tuple[str, ...], needle: str
) -> None:
    assert needle in inproc(*args, expect=2).stderr


def test_the_console_script_twins_in_subprocesses(cli: Any, tmp_path: Path) -> None:
    account = json.loads(
        cli(
            "accounts",
            "add",
            "--connector",
            "gorgias",
            "--credential",
            "email=a@example.com",
            "--credential",
            "api_key=sk-sub-secret",
            "--credential",
            "subdomain=acme",
        ).stdout
    )
    _server_id, url = cli(
        "servers", "create", account["id"], "--read-only", "--expires-in", "1h"
    ).stdout.split()
    assert url.startswith("https://gw.example.com/mcp/gwmcp_")
    lines = cli("audit", "--jsonl").stdout.splitlines()
    assert [json.loads(line)["action"] for line in lines] == [
        "cli accounts add",
        "cli servers create",
    ]
    assert "sk-sub-secret" not in "".join(lines)
    result = cli("accounts", "remove", "acc_missing", expect=2)
    assert result.stderr == "connector-gateway: error: no account acc_missing\n"


def test_server_scope_errors_and_missing_secret_key(inproc: Any) -> None:
    cli = inproc
    account = json.loads(
        cli(
            "accounts",
            "add",
            "--connector",
            "gorgias",
            "--credential",
            "email=a@example.com",
            "--credential",
            "api_key=k",
            "--credential",
            "subdomain=acme",
        ).stdout
    )
    result = cli("servers", "create", account["id"], "--tools", "list_all_gorgias_tickes", expect=2)
    assert "did you mean list_all_gorgias_tickets" in result.stderr
    result = cli(
        "servers", "create", account["id"], "--expires-at", "2001-01-01T00:00:00Z", expect=2
    )
    assert "expires_at must be in the future" in result.stderr
    result = cli(
        "accounts",
        "add",
        "--connector",
        "gorgias",
        "--credential",
        "api_key=k",
        "--credential",
        "email=a@example.com",
        "--credential",
        "subdomain=acme",
        expect=2,
        GATEWAY_SECRET_KEY="",
    )
    assert "GATEWAY_SECRET_KEY is not set" in result.stderr


def test_migrate_and_database_url_option(inproc: Any, tmp_path: Path) -> None:
    cli = inproc
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert "revision head" in cli("migrate", "--database-url", other).stdout
    assert (tmp_path / "other.db").exists()
    cli(
        "accounts",
        "add",
        "--database-url",
        other,
        "--connector",
        "gorgias",
        "--credential",
        "email=a@example.com",
        "--credential",
        "api_key=k",
        "--base-url",
        "http://127.0.0.1:9",
    )
    assert len(json.loads(cli("accounts", "list", "--database-url", other).stdout)) == 1
    assert json.loads(cli("accounts", "list").stdout) == []


def test_servers_create_public_url_option(inproc: Any) -> None:
    account = json.loads(
        inproc(
            "accounts", "add", "--connector", "gorgias", "--base-url", "http://127.0.0.1:9",
            "--credential", "email=a@example.com", "--credential", "api_key=k",
        ).stdout
    )  # fmt: skip
    out = inproc("servers", "create", account["id"], "--public-url", "http://127.0.0.1:18800/")
    assert out.stdout.split()[1].startswith("http://127.0.0.1:18800/mcp/gwmcp_")


def test_every_command_the_readme_shows_parses() -> None:
    """The README's Gateway section only shows commands and options that exist."""
    import re
    import shlex

    from connector_gateway.cli import _parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## Gateway\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip().rstrip("&").strip()
            if line.startswith("connector-gateway "):
                commands.append(shlex.split(line)[1:])
    assert len(commands) >= 4
    for argv in commands:
        _parser().parse_args(argv)  # exits (fails the test) on an unknown command or option


def test_serve_refuses_a_bad_secret_key_before_starting(inproc: Any) -> None:
    result = inproc("serve", expect=2, GATEWAY_SECRET_KEY="short")
    assert "GATEWAY_SECRET_KEY must be a Fernet key or a string of at least 32" in result.stderr
    result = inproc("serve", expect=2, GATEWAY_SECRET_KEY="")
    assert "GATEWAY_SECRET_KEY is not set" in result.stderr
