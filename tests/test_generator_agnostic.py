"""The generator knows no connector: no tracked file under generator/ names one.

For every connector of the project (each folder of spec/ with a connector.yaml), every file git
tracks under generator/ is searched, case-insensitively, for the connector's name, its package
names (import name, client class, distribution), its environment-variable prefix and the hosts of its
base URL, OAuth endpoints and download domains. Behaviour specific to a connector belongs in its
definition, never in the generator.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT

SPEC = REPO_ROOT / "spec"
CONNECTORS = sorted(p for p in SPEC.iterdir() if (p / "connector.yaml").is_file())
#: Shorter words are too common to stand for a connector (and no connector name is this short).
MIN_TERM = 4
#: Placeholder hosts every test and example uses; they name no connector.
NEUTRAL_HOSTS = {"example.com", "example.org", "example.net", "localhost", "127.0.0.1"}


def _hosts(url: str) -> set[str]:
    """`https://{sub}.api.acme.com:8443/x` -> {"api.acme.com", "acme.com"} (templated labels dropped)."""
    host = re.sub(r"^[a-z]+://", "", url).split("/", 1)[0].split(":", 1)[0]
    labels = [label for label in host.split(".") if label and "{" not in label]
    out = {".".join(labels[i:]) for i in range(len(labels) - 1)}
    return {h for h in out if h not in NEUTRAL_HOSTS}


def connector_terms(folder: Path) -> set[str]:
    """Every word or host that would tie generator code to this connector (lower case)."""
    data = YAML(typ="safe").load((folder / "connector.yaml").read_text(encoding="utf-8"))
    terms = {str(data["connector"]), folder.name}
    package = data.get("package") or {}
    for key in ("import_name", "client_class", "distribution"):
        if package.get(key):
            terms.add(str(package[key]))
    prefix = package.get("env_prefix") or f"{str(data['connector']).upper()}_"
    terms.add(str(prefix))
    server = data.get("server") or {}
    terms |= _hosts(str(server.get("base_url", "")))
    for domain in server.get("download_domains") or ():
        terms |= _hosts(f"https://{domain}") | ({str(domain)} - NEUTRAL_HOSTS)
    for scheme in (data.get("auth") or {}).values():
        for key in ("authorize_url", "token_url"):
            if isinstance(scheme, dict) and scheme.get(key):
                terms |= _hosts(str(scheme[key]))
    return {t.lower() for t in terms if len(t) >= MIN_TERM}


def tracked_generator_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "generator"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [REPO_ROOT / name for name in out.split("\0") if name]


def hits(terms: set[str], files: list[Path]) -> list[str]:
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.I)
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            match = pattern.search(line)
            if match:
                where = path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path
                found.append(f"{where}:{number}: {match.group(0)!r}: {line.strip()[:140]}")
    return found


def test_there_are_connectors_and_tracked_generator_files() -> None:
    assert CONNECTORS, "no connector folder under spec/"
    files = tracked_generator_files()
    assert any(p.name == "compiler.py" for p in files)


def test_terms_cover_name_prefix_and_hosts(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "connector.yaml").write_text(
        "connector: acme\n"
        "package: {import_name: acme_desk, client_class: AcmeDesk, env_prefix: ACMEDESK_}\n"
        "server:\n"
        '  base_url: "https://{subdomain}.acmedesk.io/api"\n'
        "  download_domains: [acmecdn.net, example.com]\n"
        "auth:\n"
        "  oauth: {token_url: 'https://login.acmeauth.com/token'}\n"
    )
    terms = connector_terms(folder)
    assert {"acme", "acme_desk", "acmedesk", "acmedesk_", "acmedesk.io", "acmecdn.net"} <= terms
    assert "acmeauth.com" in terms and "example.com" not in terms
    sample = tmp_path / "x.py"
    sample.write_text("ok = 1\nURL = 'https://cdn.ACMECDN.net/f'\n")
    assert hits(terms, [sample]) == [f"{sample}:2: 'ACMECDN.net': URL = 'https://cdn.ACMECDN.net/f'"]


@pytest.mark.parametrize("folder", CONNECTORS, ids=[p.name for p in CONNECTORS])
def test_generator_names_no_connector(folder: Path) -> None:
    terms = connector_terms(folder)
    found = hits(terms, tracked_generator_files())
    assert not found, (
        f"generator/ names the {folder.name} connector ({len(found)} lines; move the fact into "
        f"spec/{folder.name}/):\n" + "\n".join(found)
    )
