"""MCP server of this package's API (install the package's `mcp` extra).

Run it as `<import name>-mcp` or `python -m <import name>.mcp`; see the `server` module beside this
file for the options. The tool definitions are in `tools.json` beside this file.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ToolFilter", "ToolRunner", "build_server", "load_tools", "main"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import <package>.mcp` works without the `mcp` SDK installed.
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
