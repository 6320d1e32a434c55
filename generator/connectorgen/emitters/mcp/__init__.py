"""mcp emitter."""

from __future__ import annotations

from ... import ir


def emit(connector: ir.Connector) -> dict[str, str | bytes]:
    return {}
