"""`connectorgen` command line: validate, generate (--check), rules, sandbox.

`validate` and `generate` take a connector folder (or its connector.yaml), or a folder of
connectors; with no argument, every connector of the project's `spec/` (see `connectorgen.layout`).
Exit codes: 0 success, 1 invalid definition or stale output, 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import layout
from .diagnostics import render_all

# The pipeline (jsonschema, the compiler, the emitters) is imported when a definition is really
# read: a no-change `generate` only hashes files and stays well under its 0.3 s budget.


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connectorgen",
        description="Validate connector definitions and compile them into a client, MCP tools, OpenAPI and docs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_validate = sub.add_parser("validate", help="check a definition and report every problem")
    p_validate.add_argument("path", nargs="?", type=Path, default=None,
                            help="connector folder, its connector.yaml, or a folder of connectors "
                                 "(default: every connector under the project's spec/)")

    p_generate = sub.add_parser("generate", help="write every output into the output folder")
    p_generate.add_argument("path", nargs="?", type=Path, default=None,
                            help="connector folder, its connector.yaml, or a folder of connectors "
                                 "(default: every connector under the project's spec/)")
    p_generate.add_argument("--output", "-o", type=Path, default=None,
                            help="output folder of the one connector given (default: generated/<connector>); "
                                 "for several connectors, the folder holding one folder per connector "
                                 "(default: generated/)")
    p_generate.add_argument("--check", action="store_true",
                            help="write nothing; exit 1 and list stale files if the output is out of date")
    p_generate.add_argument("--force", action="store_true", help="regenerate even when nothing changed")

    sub.add_parser("rules", help="list the semantic rules the validator applies")

    # Listed for --help only: main() hands `sandbox ...` arguments to the sandbox's own parser.
    sub.add_parser("sandbox", help="serve a connector's local fake of its API on 127.0.0.1 "
                                   "(`connectorgen sandbox [CONNECTOR] --help`)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sandbox"]:
        # passed through untouched: argparse REMAINDER would not capture leading --options
        from .sandbox_cli import run_sandbox

        return run_sandbox(argv[1:])
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 2
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "rules":
        from .rules import RULES
        from .unified import MAPPING_RULES

        for rule in RULES.values():
            print(f"{rule.id:28} {rule.summary}")
        print("\nunified mapping rules (unified_mappings/):")
        for rule_id, summary in MAPPING_RULES.items():
            print(f"{rule_id:28} {summary}")
        return 0
    connectors, spec_root = _targets(args.path)
    if not connectors:
        print(f"connectorgen: no connector (a folder with a {layout.CONNECTOR_FILE}) under {spec_root}", file=sys.stderr)
        return 2
    several = spec_root is not None
    if several:
        output_root = getattr(args, "output", None) or layout.generated_root(spec_root)
    code = 0
    for definition in connectors:
        if several:
            output = output_root / layout.connector_folder(definition).name
        else:
            output = getattr(args, "output", None) or layout.output_folder(definition)
        code = max(code, _run_one(args, definition, output, prefix=f"{definition.name}: " if several else ""))
    if several and args.command == "generate" and code == 0:
        code = _requirements(args, connectors, output_root, spec_root)
    return code


def _targets(path: Path | None) -> tuple[list[Path], Path | None]:
    """The connector folders a command handles, and the folder of connectors when it handles them all."""
    if path is not None and layout.is_connector(path):
        return [path], None
    spec_root = path if path is not None else layout.default_spec_root()
    return layout.connector_folders(spec_root), spec_root


def _requirements(args: argparse.Namespace, connectors: list[Path], output_root: Path, spec_root: Path) -> int:
    """`generated/requirements.txt`, listing every connector's package; checked by `--check`."""
    project = spec_root.resolve().parent
    paths = []
    for definition in connectors:
        package = (output_root / layout.connector_folder(definition).name / "python").resolve()
        paths.append(Path(os.path.relpath(package, project)).as_posix())
    text = layout.requirements_text(paths)
    target = output_root / layout.REQUIREMENTS
    current = target.read_text() if target.is_file() else None
    if current == text:
        return 0
    if args.check:
        print(f"generated output is out of date: {target}", file=sys.stderr)
        print("run `connectorgen generate` and commit the result", file=sys.stderr)
        return 1
    output_root.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"wrote {target}")
    return 0


def _run_one(args: argparse.Namespace, definition: Path, output: Path, prefix: str = "") -> int:
    started = time.perf_counter()
    if args.command == "generate" and not (args.check or args.force):
        from .emitters import up_to_date

        count = up_to_date(output, definition)
        if count is not None:
            print(f"{prefix}nothing changed; {count} files already up to date ({time.perf_counter() - started:.2f}s)")
            return 0
    from .pipeline import blame_generated_code, generator_failure, validate

    connector, diagnostics = validate(definition)
    if diagnostics:
        print(render_all(diagnostics), file=sys.stderr)
    if connector is None:
        return 1
    if args.command == "validate":
        print(
            f"{definition}: valid — {len(connector.resources)} resources, {len(connector.operations)} operations, "
            f"{len(connector.schemas)} schemas ({time.perf_counter() - started:.2f}s)"
        )
        return 0

    from .emitters import MANIFEST, GeneratedCodeError, generate_outputs

    marks = (*output.glob(f"*/{MANIFEST}"), *(p.parent for p in output.glob("*/python/pyproject.toml")))
    others = sorted({p.parent.name for p in marks}) if not args.check else []
    if others:
        # the folder of every connector's output, not this connector's: generating would delete theirs
        print(f"connectorgen: {output} holds the output of other connectors ({', '.join(others)}); "
              f"give this connector's own folder, e.g. -o {output / layout.connector_folder(definition).name}",
              file=sys.stderr)
        return 2
    try:
        result = generate_outputs(connector, output, check=args.check, force=args.force, definition=definition)
    except GeneratedCodeError as exc:
        print(render_all([blame_generated_code(definition, exc)]), file=sys.stderr)
        return 1
    except Exception as exc:  # a generator bug is reported like a definition problem, never as a traceback
        print(render_all([generator_failure(definition, exc)]), file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    if args.check:
        if result.stale:
            print(f"{prefix}generated output is out of date ({len(result.stale)} file(s)):", file=sys.stderr)
            for name in result.stale:
                print(f"  {name}", file=sys.stderr)
            print("run `connectorgen generate` and commit the result", file=sys.stderr)
            return 1
        print(f"{prefix}generated output is up to date ({result.total} files, {elapsed:.2f}s)")
        return 0
    if result.skipped:
        print(f"{prefix}nothing changed; {result.total} files already up to date ({elapsed:.2f}s)")
    else:
        print(f"{prefix}wrote {len(result.written)} of {result.total} files, removed {len(result.removed)} "
              f"into {output} ({elapsed:.2f}s)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
