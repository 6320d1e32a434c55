"""`connectorgen` command line: validate, generate (--check), rules, sandbox.

Exit codes: 0 success, 1 invalid definition or stale output, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .diagnostics import render_all
from .pipeline import (
    DEFAULT_DEFINITION,
    DEFAULT_OUTPUT,
    blame_generated_code,
    generator_failure,
    validate,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connectorgen",
        description="Validate connector definitions and compile them into a client, MCP tools, OpenAPI and docs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_validate = sub.add_parser("validate", help="check a definition and report every problem")
    p_validate.add_argument("path", nargs="?", type=Path, default=DEFAULT_DEFINITION,
                            help="connector folder or its connector.yaml (default: the bundled Gorgias definition)")

    p_generate = sub.add_parser("generate", help="write every output into the output folder")
    p_generate.add_argument("path", nargs="?", type=Path, default=DEFAULT_DEFINITION)
    p_generate.add_argument("--output", "-o", type=Path, default=DEFAULT_OUTPUT,
                            help="output folder (default: generated/ of this repository)")
    p_generate.add_argument("--check", action="store_true",
                            help="write nothing; exit 1 and list stale files if the output is out of date")
    p_generate.add_argument("--force", action="store_true", help="regenerate even when nothing changed")

    sub.add_parser("rules", help="list the semantic rules the validator applies")

    # Listed for --help only: main() hands `sandbox ...` arguments to the sandbox's own parser.
    sub.add_parser("sandbox", help="serve a local fake of the API on 127.0.0.1 (see `connectorgen sandbox --help`)")
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
    started = time.perf_counter()
    if args.command == "generate" and not (args.check or args.force):
        from .emitters import up_to_date

        count = up_to_date(args.output, args.path)
        if count is not None:
            print(f"nothing changed; {count} files already up to date ({time.perf_counter() - started:.2f}s)")
            return 0
    connector, diagnostics = validate(args.path)
    if diagnostics:
        print(render_all(diagnostics), file=sys.stderr)
    if connector is None:
        return 1
    if args.command == "validate":
        print(
            f"{args.path}: valid — {len(connector.resources)} resources, {len(connector.operations)} operations, "
            f"{len(connector.schemas)} schemas ({time.perf_counter() - started:.2f}s)"
        )
        return 0

    from .emitters import GeneratedCodeError, generate_outputs

    try:
        result = generate_outputs(connector, args.output, check=args.check, force=args.force, definition=args.path)
    except GeneratedCodeError as exc:
        print(render_all([blame_generated_code(args.path, exc)]), file=sys.stderr)
        return 1
    except Exception as exc:  # a generator bug is reported like a definition problem, never as a traceback
        print(render_all([generator_failure(args.path, exc)]), file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    if args.check:
        if result.stale:
            print(f"generated output is out of date ({len(result.stale)} file(s)):", file=sys.stderr)
            for name in result.stale:
                print(f"  {name}", file=sys.stderr)
            print("run `connectorgen generate` and commit the result", file=sys.stderr)
            return 1
        print(f"generated output is up to date ({result.total} files, {elapsed:.2f}s)")
        return 0
    if result.skipped:
        print(f"nothing changed; {result.total} files already up to date ({elapsed:.2f}s)")
    else:
        print(f"wrote {len(result.written)} of {result.total} files, removed {len(result.removed)} "
              f"into {args.output} ({elapsed:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
