"""`connectorgen sandbox [CONNECTOR] [options]`: start a connector's local fake API.

The sandbox is generated code shipped in the connector's client package
(`generated/<connector>/python`, `<package>.sandbox`, behind the package's `sandbox` extra), so this
command only imports and runs it: the same server as `python -m <package>.sandbox`. CONNECTOR may
be left out when the project has one connector. Options are the sandbox's own
(`connectorgen sandbox CONNECTOR --help`).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from . import layout


def _generated_python(connector: str) -> Path:
    return layout.project_root() / layout.GENERATED_DIR / connector / "python"


def _connectors() -> list[str]:
    """The connectors of the project: its spec folders, and the output folders generated so far."""
    root = layout.project_root()
    names = {p.name for p in layout.connector_folders(root / layout.SPEC_DIR)}
    names |= {p.parent.name for p in (root / layout.GENERATED_DIR).glob("*/python") if p.is_dir()}
    return sorted(names)


def _package_name(connector: str) -> str:
    """Import name of the connector's generated package (read from its output, else the connector name)."""
    python_dir = _generated_python(connector)
    if python_dir.is_dir():
        found = sorted(p.parent.parent.name for p in python_dir.glob("*/sandbox/__init__.py"))
        if len(found) == 1:
            return found[0]
    return connector.replace("-", "_")


def _import_sandbox(package: str, generated: Path):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"{package}.sandbox")
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
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
    connectors = _connectors()
    if argv[:1] and not argv[0].startswith("-"):
        connector, argv = argv[0], argv[1:]
        if connector not in connectors:
            print(f"connectorgen sandbox: no connector '{connector}' (connectors: {', '.join(connectors) or 'none'})",
                  file=sys.stderr)
            return 2
    elif len(connectors) == 1:
        connector = connectors[0]
    else:
        print(f"connectorgen sandbox: name the connector to serve: connectorgen sandbox CONNECTOR [options] "
              f"(connectors: {', '.join(connectors) or 'none'})", file=sys.stderr)
        return 2
    generated = _generated_python(connector)
    package = _package_name(connector)
    try:
        module = _import_sandbox(package, generated)
    except ModuleNotFoundError as exc:
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
        return int(module.main(argv, prog=f"connectorgen sandbox {connector}") or 0)
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
            return str(path.relative_to(layout.project_root()))
        except ValueError:
            return str(path)
