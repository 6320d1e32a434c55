"""`<import name>-mcp` / `python -m <import name>.mcp`: start the MCP server (stdio by default)."""

from __future__ import annotations

import sys

from .._spec import DISTRIBUTION, IMPORT_NAME


def main(argv: list[str] | None = None) -> int:
    try:
        from .server import main as run
    except ImportError as exc:
        print(
            f"{IMPORT_NAME}-mcp needs the MCP extra: pip install '{DISTRIBUTION}[mcp]' ({exc})",
            file=sys.stderr,
        )
        return 1
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
