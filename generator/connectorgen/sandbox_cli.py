"""`connectorgen sandbox [options]`: start the local fake API generated into `generated/python`.

The sandbox is generated code shipped in the client package (`<package>.sandbox`, behind the
package's `sandbox` extra), so this command only imports and runs it: the same server as
`python -m <package>.sandbox`. Options are the sandbox's own (`connectorgen sandbox --help`).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .pipeline import DEFAULT_OUTPUT, REPO_ROOT

DEFAULT_PACKAGE = "gorgias"


def _package_name() -> str:
    """Import name of the generated package (from the definition, without re-parsing when possible)."""
    python_dir = DEFAULT_OUTPUT / "python"
    if python_dir.is_dir():
        found = sorted(p.parent.parent.name for p in python_dir.glob("*/sandbox/__init__.py"))
        if len(found) == 1:
            return found[0]
    return DEFAULT_PACKAGE


def _import_sandbox(package: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"{package}.sandbox")
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        generated = DEFAULT_OUTPUT / "python"
        if (
            missing in (package, f"{package}.sandbox")
            and (generated / package / "sandbox").is_dir()
        ):
            # generated but not installed: use it from the output folder
            sys.path.insert(0, str(generated))
            importlib.invalidate_caches()
            return importlib.import_module(f"{package}.sandbox")
        raise


def run_sandbox(argv: list[str]) -> int:
    argv = list(argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    package = _package_name()
    try:
        module = _import_sandbox(package)
    except ModuleNotFoundError as exc:
        generated = DEFAULT_OUTPUT / "python"
        if exc.name in (package, f"{package}.sandbox"):
            print(
                f"connectorgen sandbox: the generated package `{package}` was not found.\n"
                f'  run `connectorgen generate`, then `pip install -e "{_rel(generated)}[sandbox]"`',
                file=sys.stderr,
            )
        else:
            print(
                f"connectorgen sandbox: missing dependency `{exc.name}`.\n"
                f'  install the sandbox extra: pip install -e "{_rel(generated)}[sandbox]"',
                file=sys.stderr,
            )
        return 1
    except ImportError as exc:
        print(f"connectorgen sandbox: {exc}", file=sys.stderr)
        return 1
    try:
        return int(module.main(argv, prog="connectorgen sandbox") or 0)
    except SystemExit as exc:  # argparse --help / usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except KeyboardInterrupt:
        return 130


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        try:
            return str(path.relative_to(REPO_ROOT))
        except ValueError:
            return str(path)
