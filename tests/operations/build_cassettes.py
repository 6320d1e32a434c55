"""Build the operation cassettes from the hand-written case table (run by hand, output committed).

    python -m tests.operations.build_cassettes                  # (re)write every cassette
    python -m tests.operations.build_cassettes --connector X    # only this connector's
    python -m tests.operations.build_cassettes TOOL ...         # only these tools
    python -m tests.operations.build_cassettes --check          # exit 1 when one is stale/missing
    python -m tests.operations.build_cassettes --force          # also overwrite re-recorded ones

Each case in `tests/operations/cases/<connector>/<resource>.yaml` becomes
`cassettes/operations/<connector>/<tool>.yaml`: a vcrpy cassette whose interactions are the case's exchanges in the order a test run sends them (the
typed resource method first, then `client.invoke()`, which for lists reads only the first page).
JSON request bodies carry `Content-Type: application/json` so vcrpy compares them as JSON;
multipart uploads are matched without their body (the test checks the parts itself).

A cassette without the builder's header line was re-recorded against a real account
(`cassettes/README.md`); it is left alone unless `--force` is given.
This script reads only the case files (and each connector's title in spec/<connector>/connector.yaml):
it never imports the generated client.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):  # run as a script: make `tests.operations` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.operations.casebook import (
    CASES_ROOT,
    REPO_ROOT,
    SPEC_ROOT,
    Case,
    Exchange,
    cassette_dir,
    connectors,
    load_cases,
)

HEADER = "# Built by tests/operations/build_cassettes.py"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.upper()
    except ValueError:
        return "UNKNOWN"


def _interaction(exchange: Exchange) -> dict[str, Any]:
    req, res = exchange.request, exchange.response
    req_headers: dict[str, list[str]] = {}
    body: str = ""
    if req.has_json:
        body = json.dumps(req.json, separators=(",", ":"), ensure_ascii=False)
        req_headers["Content-Type"] = ["application/json"]
    elif req.multipart is not None:
        req_headers["Content-Type"] = ["multipart/form-data"]
    elif req.raw is not None:
        req_headers["Content-Type"] = [req.raw_content_type or "application/octet-stream"]
        body = req.raw.decode("utf-8")
    res_headers = {k: [v] for k, v in res.headers.items()}
    res_body: Any = ""
    if res.has_json:
        res_headers.setdefault("Content-Type", ["application/json"])
        res_body = json.dumps(res.json, indent=2, ensure_ascii=False) + "\n"
    elif res.text is not None:
        res_body = res.text
    elif res.content is not None:
        res_body = res.content
    return {
        "request": {"body": body, "headers": req_headers, "method": req.method, "uri": req.url},
        "response": {
            "status": {"code": res.status, "message": _reason(res.status)},
            "headers": res_headers,
            "body": {"string": res_body},
        },
    }


def _title(connector: str) -> str:
    """The vendor's name as its definition spells it (`title:`), for the cassette header."""
    path = SPEC_ROOT / connector / "connector.yaml"
    if not path.is_file():  # cases written ahead of their definition
        return connector
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return str(data.get("title") or connector) if isinstance(data, dict) else connector


def render(case: Case) -> str:
    """The cassette text of one case (deterministic: the same case gives the same bytes)."""
    source = case.file.relative_to(REPO_ROOT).as_posix()
    lines = [
        f"{HEADER} from {source} -- do not edit:",
        f"# change the case and rebuild. Bodies are hand-written from {_title(case.connector)}'s "
        "documented payloads",
        "# (see cassettes/README.md), not recorded from a live account.",
    ]
    lines += textwrap.wrap(
        f"{case.tool}: {case.summary}", width=98, initial_indent="# ", subsequent_indent="#   "
    )
    typed, invoked = len(case.exchanges), case.invoke_exchanges
    lines.append(
        f"# Interactions: {typed} for the typed method, then {invoked} for client.invoke()."
    )
    document = {"interactions": [_interaction(ex) for ex in case.all_exchanges], "version": 1}
    text = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2
    )
    return "\n".join(lines) + "\n" + text


def is_built(path: Path) -> bool:
    """True when the cassette at `path` was written by this builder (not re-recorded)."""
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.readline().startswith(HEADER)
    except OSError:
        return False


def stale(cases: dict[str, Case]) -> list[str]:
    """Tools whose built cassette is missing or differs from what the case renders."""
    out = []
    for tool, case in sorted(cases.items()):
        path = case.cassette
        if path.exists() and not is_built(path):
            continue  # re-recorded against a real account: not ours to compare
        if not path.exists() or path.read_text(encoding="utf-8") != render(case):
            out.append(tool)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tools", nargs="*", help="only these tools (default: every case)")
    parser.add_argument(
        "--connector", action="append", help="only this connector's cases (repeatable)"
    )
    parser.add_argument("--check", action="store_true", help="report stale cassettes, write none")
    parser.add_argument("--force", action="store_true", help="overwrite re-recorded cassettes too")
    options = parser.parse_args(argv)
    known = sorted(
        set(connectors())
        | {p.name for p in CASES_ROOT.iterdir() if p.is_dir() and any(p.glob("*.yaml"))}
    )
    wrong = [c for c in options.connector or () if c not in known]
    if wrong:
        parser.error(f"no connector {', '.join(wrong)} under spec/ (known: {', '.join(known)})")
    status = 0
    selected_tools = set(options.tools)
    found: set[str] = set()
    for connector in options.connector or known:
        cases = load_cases(connector)
        tools = [t for t in sorted(cases) if not selected_tools or t in selected_tools]
        found.update(tools)
        if selected_tools and not tools:
            continue
        status |= _run(
            connector, {t: cases[t] for t in tools}, options, everything=not selected_tools
        )
    unknown = sorted(selected_tools - found)
    if unknown:
        parser.error(f"no case for: {', '.join(unknown)}")
    return status


def _run(
    connector: str, selected: dict[str, Case], options: argparse.Namespace, *, everything: bool
) -> int:
    folder = cassette_dir(connector)
    rel = folder.relative_to(REPO_ROOT).as_posix()
    if options.check:
        bad = stale(selected)
        for tool in bad:
            print(f"stale or missing: {rel}/{tool}.yaml")
        return 1 if bad else 0
    folder.mkdir(parents=True, exist_ok=True)
    written = kept = 0
    for case in selected.values():
        path = case.cassette
        if path.exists() and not is_built(path) and not options.force:
            print(f"kept re-recorded cassette {path.relative_to(REPO_ROOT)} (use --force)")
            kept += 1
            continue
        text = render(case)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written += 1
    if everything:
        cases = load_cases(connector)
        for orphan in sorted(p.stem for p in folder.glob("*.yaml") if p.stem not in cases):
            print(f"warning: {rel}/{orphan}.yaml has no case (delete it?)")
    print(
        f"{connector}: {len(selected)} cases: {written} cassettes written, {kept} re-recorded kept"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
